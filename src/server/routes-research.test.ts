/**
 * The research export and the audit routes in-process (fastify inject) on a real SQLite archive: a researcher gets
 * a ZIP of de-identified instances (nothing of the patient's identifiers or UIDs left, pixels unchanged), clinical
 * roles do not; every read of patient data lands in the audit trail, which admins (only) list, export and verify.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import { parseDicom } from '../dicom/parse.ts';
import { createApp } from './app.ts';
import { AuditTrail } from './audit/index.ts';
import type { AuditRecord } from './audit/index.ts';
import { ingestTiny, openTestParts, signIn, waitFor } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

/** Entries of a ZIP of stored (uncompressed) entries, read from the central directory. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(end >= 0, 'no end of central directory');
  const count = zip.readUInt16LE(end + 10);
  let p = zip.readUInt32LE(end + 16);
  const out = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(p), 0x02014b50);
    const size = zip.readUInt32LE(p + 24);
    const nameLen = zip.readUInt16LE(p + 28);
    const local = zip.readUInt32LE(p + 42);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    const dataAt = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    out.set(name, zip.subarray(dataAt, dataAt + size));
    p += 46 + nameLen;
  }
  return out;
}

describe('research export and audit routes', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let trail: AuditTrail;
  let study = '';
  let originals: { sop: string[]; patientId: string; accession: string } = { sop: [], patientId: '', accession: '' };

  before(async () => {
    parts = await openTestParts();
    const a = await ingestTiny(parts, 'rx');
    study = a.StudyInstanceUID;
    originals = { sop: (await parts.archive.listInstances({ studyInstanceUid: study })).map((i) => i.sopInstanceUid), patientId: 'P-rx', accession: 'A-rx' };
    trail = await AuditTrail.open(parts.archive.db, { log: silentLogger });
    app = await createApp({ archive: parts.archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger, auth: parts.auth, audit: trail, webRoot: false });
  });
  after(async () => {
    await app?.close();
    await parts?.close();
  });

  test('a researcher gets de-identified instances as a ZIP; pixels unchanged', async () => {
    const headers = await signIn(app, parts.auth, 'researcher');
    const r = await app.inject({ method: 'POST', url: '/api/v1/research/exports', headers, payload: { studyInstanceUids: [study] } });
    assert.equal(r.statusCode, 200, r.body);
    assert.match(String(r.headers['content-type']), /application\/zip/);
    const files = unzip(r.rawPayload);
    const manifest = JSON.parse(files.get('manifest.json')?.toString() ?? '{}') as { instancesWritten: number; instancesRefused: Record<string, number> };
    assert.equal(manifest.instancesWritten, originals.sop.length);
    const dcm = [...files.keys()].filter((n) => n.endsWith('.dcm'));
    assert.equal(dcm.length, originals.sop.length);
    const text = r.rawPayload.toString('latin1');
    for (const identifier of [study, originals.patientId, originals.accession, 'Test^rx', ...originals.sop]) assert.ok(!text.includes(identifier), `${identifier} left in the export`);
    // Pixels: the decoded frames of the exported instances are those of the originals (matched by InstanceNumber).
    const byNumber = new Map<number, Int16Array | Uint16Array | Float32Array | Uint8Array>();
    for (const sop of originals.sop) {
      const f = parseDicom(await parts.archive.readInstance(sop), sop);
      byNumber.set(Number(f.dataset['InstanceNumber']), (await f.decodeFrame(0)).data as Int16Array);
    }
    for (const name of dcm) {
      // A fresh copy: src/dicom's frame decoder misreads views at an odd byteOffset (reported to the integrator).
      const out = parseDicom(new Uint8Array(files.get(name) ?? Buffer.alloc(0)), name);
      assert.equal(out.dataset['PatientIdentityRemoved'], 'YES');
      assert.match(String(out.dataset['StudyInstanceUID']), /^2\.25\./);
      const original = byNumber.get(Number(out.dataset['InstanceNumber']));
      assert.ok(original);
      assert.deepEqual(Array.from((await out.decodeFrame(0)).data), Array.from(original));
    }
    // Same secret (stored in the index), same study → the same pseudonymous UIDs in a second export.
    const again = unzip((await app.inject({ method: 'POST', url: '/api/v1/research/exports', headers, payload: { studyInstanceUids: [study] } })).rawPayload);
    assert.deepEqual([...again.keys()].sort(), [...files.keys()].sort());
  });

  test('clinical roles may not use the research export; unknown studies are 404', async () => {
    const radiologist = await signIn(app, parts.auth, 'radiologist');
    const denied = await app.inject({ method: 'POST', url: '/api/v1/research/exports', headers: radiologist, payload: { studyInstanceUids: [study] } });
    assert.equal(denied.statusCode, 403);
    const researcher = await signIn(app, parts.auth, 'researcher');
    const missing = await app.inject({ method: 'POST', url: '/api/v1/research/exports', headers: researcher, payload: { studyInstanceUids: ['1.2.3.404'] } });
    assert.equal(missing.statusCode, 404);
  });

  test('reads of patient data are audited with user, role, route, status and study; admins list, verify and export', async () => {
    const radiologist = await signIn(app, parts.auth, 'radiologist');
    const r = await app.inject({ method: 'GET', url: `/api/v1/studies/${study}`, headers: radiologist });
    assert.equal(r.statusCode, 200);
    const admin = await signIn(app, parts.auth, 'admin');
    const found = await waitFor('the audit event of the read', async () => {
      const list = await app.inject({ method: 'GET', url: `/api/v1/audit?actor=test-radiologist&studyInstanceUid=${study}`, headers: admin });
      assert.equal(list.statusCode, 200, list.body);
      const items = list.json<{ items: AuditRecord[] }>().items;
      return items.find((e) => e.action === 'read') ?? undefined;
    });
    assert.equal(found.actorRole, 'radiologist');
    assert.equal(found.outcome, 'success');
    assert.equal(found.object, `GET /api/v1/studies/${study}`);
    assert.equal((found.details as { status?: number } | null)?.status, 200);
    // The research export itself is recorded (action export) with the original study UIDs.
    const exports = await app.inject({ method: 'GET', url: '/api/v1/audit?action=export', headers: admin });
    assert.ok(exports.json<{ items: AuditRecord[] }>().items.some((e) => JSON.stringify(e.details).includes(study)));
    // Non-patient routes are not recorded as reads.
    await app.inject({ method: 'GET', url: '/api/v1/health' });
    const health = await app.inject({ method: 'GET', url: '/api/v1/audit?limit=1000', headers: admin });
    assert.ok(!health.json<{ items: AuditRecord[] }>().items.some((e) => e.object.includes('/health')));

    const verify = await app.inject({ method: 'GET', url: '/api/v1/audit/verify', headers: admin });
    assert.equal(verify.statusCode, 200);
    assert.equal(verify.json<{ ok: boolean }>().ok, true);
    const csv = await app.inject({ method: 'GET', url: '/api/v1/audit/export?format=csv', headers: admin });
    assert.equal(csv.statusCode, 200);
    assert.match(String(csv.headers['content-type']), /text\/csv/);
    assert.ok(csv.body.startsWith('seq,at,action'));
    const jsonl = await app.inject({ method: 'GET', url: '/api/v1/audit/export', headers: admin });
    const lines = jsonl.body.trim().split('\n').map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));
  });

  test('the audit routes are for admins only', async () => {
    for (const role of ['radiologist', 'researcher', 'technologist'] as const) {
      const headers = await signIn(app, parts.auth, role);
      for (const url of ['/api/v1/audit', '/api/v1/audit/verify', '/api/v1/audit/export']) {
        assert.equal((await app.inject({ method: 'GET', url, headers })).statusCode, 403, `${role} ${url}`);
      }
    }
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/audit' })).statusCode, 401);
  });
});
