import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { isSrError, silentLogger, SrError } from '../core/index.ts';
import type { OpenedArchive } from '../archive/index.ts';
import { openArchive } from '../archive/index.ts';
import { createRegistry } from '../engine/index.ts';
import { isRole, setRequestUser } from './auth/context.ts';
import type { ApiDeps } from './route-def.ts';
import { REVIEW_ROUTES } from './routes-review.ts';
import { ingestTiny, openTestParts } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';
import type { CtSeriesWriteResult } from '../dicom/index.ts';

/**
 * The review API on a bare fastify instance: the signed-in user comes from an `x-test-user: name/role` header
 * (the auth hook's job in the real server), so the tests exercise the routes' own role checks.
 */
async function reviewApp(archive: OpenedArchive, parts: TestServerParts): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.addHook('onRequest', async (req) => {
    const h = req.headers['x-test-user'];
    const [username, role] = typeof h === 'string' ? h.split('/') : [];
    if (username && isRole(role)) setRequestUser(req, { id: `u-${username}`, username, role });
  });
  app.setErrorHandler((err, _req, reply) => {
    const v = (err as { validation?: unknown }).validation;
    const e = isSrError(err) ? err : new SrError(v ? 'HTTP_BAD_REQUEST' : 'HTTP_INTERNAL_ERROR', String(err));
    return reply.code(e.status).send(e.toJSON());
  });
  const deps = { archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger } as Omit<ApiDeps, 'auth'> as ApiDeps;
  await app.register(async (api) => {
    for (const r of REVIEW_ROUTES) api.route({ method: r.method, url: r.url, schema: r.schema, handler: r.handler(deps) });
  }, { prefix: '/api/v1' });
  return app;
}

async function addResult(archive: OpenedArchive, s: CtSeriesWriteResult, analysisId: string, findings: Record<string, unknown>[], measurements: Record<string, unknown>) {
  return archive.putResult({
    analysisId, analysisVersion: '1.0.0', studyInstanceUid: s.StudyInstanceUID, seriesInstanceUid: s.SeriesInstanceUID, status: 'ok',
    document: { analysis: analysisId, version: '1.0.0', status: 'ok', findings, measurements },
  });
}

const RAD = { 'x-test-user': 'dr.wu/radiologist' };

function suite(name: string, open: (parts: TestServerParts) => Promise<OpenedArchive>) {
  describe(`review API (${name})`, () => {
    let parts: TestServerParts;
    let archive: OpenedArchive;
    let app: FastifyInstance;
    let routine: CtSeriesWriteResult;
    let critical: CtSeriesWriteResult;
    let resultId = '';

    before(async () => {
      parts = await openTestParts();
      archive = await open(parts);
      const tinyParts = { ...parts, archive };
      routine = await ingestTiny(tinyParts, 'routine');
      critical = await ingestTiny(tinyParts, 'bleed');
      await addResult(archive, routine, 'chest-ct-nodules', [{ id: 'n1', kind: 'lung-nodule', centerMm: [0, 0, 4], probability: 0.4, measurements: { meanDiameterMm: 5 } }], { lungRads: { category: '2' } });
      const r = await addResult(archive, critical, 'head-ct-hemorrhage', [
        { id: 'bleed-1', kind: 'hemorrhage', type: 'subdural', centerMm: [0, 0, 4], probability: 0.9, volumeMl: 12.5, reasons: ['crescent along the inner table'] },
        { id: 'bleed-2', kind: 'hemorrhage', type: 'intraparenchymal', centerMm: [2, 2, 4], probability: 0.6, volumeMl: 3.2 },
      ], { triagePriority: 'critical', midlineShiftMm: 2, massEffect: false });
      resultId = r.id;
      app = await reviewApp(archive, parts);
    });
    after(async () => {
      await app?.close();
      if (archive !== parts?.archive) {
        await archive?.close();
        await dropSchema();
      }
      await parts?.close();
    });

    it('lists the worklist with the critical study first, filters and searches', async () => {
      const res = await app.inject({ method: 'GET', url: '/api/v1/review/worklist', headers: RAD });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as { items: { studyInstanceUid: string; triage: { critical: boolean; reasons: string[] }; ai: { status: string }; findings: number }[]; total: number };
      assert.equal(body.total, 2);
      assert.equal(body.items[0]?.studyInstanceUid, critical.StudyInstanceUID);
      assert.equal(body.items[0]?.triage.critical, true);
      assert.ok(body.items[0]?.triage.reasons.some((x) => x.includes('subdural')));
      assert.equal(body.items[0]?.ai.status, 'done');
      assert.equal(body.items[0]?.findings, 2);
      assert.equal(body.items[1]?.triage.critical, false);
      const crit = (await app.inject({ method: 'GET', url: '/api/v1/review/worklist?critical=false', headers: RAD })).json() as { items: { studyInstanceUid: string }[] };
      assert.deepEqual(crit.items.map((i) => i.studyInstanceUid), [routine.StudyInstanceUID]);
      const found = (await app.inject({ method: 'GET', url: '/api/v1/review/worklist?q=p-rout', headers: RAD })).json() as { items: { studyInstanceUid: string }[] };
      assert.deepEqual(found.items.map((i) => i.studyInstanceUid), [routine.StudyInstanceUID]);
    });

    it('refuses anonymous callers and non-radiologist decisions', async () => {
      assert.equal((await app.inject({ method: 'GET', url: '/api/v1/review/worklist' })).statusCode, 401);
      const tech = await app.inject({ method: 'POST', url: '/api/v1/review/decisions', headers: { 'x-test-user': 'tech/technologist' }, payload: { resultId, findingId: 'bleed-1', decision: 'accept' } });
      assert.equal(tech.statusCode, 403);
      assert.equal((tech.json() as { code: string }).code, 'FORBIDDEN');
      const stats = await app.inject({ method: 'GET', url: '/api/v1/review/stats/rejections', headers: RAD });
      assert.equal(stats.statusCode, 403);
    });

    it('records decisions, drafts the report, signs and locks it, and counts rejections per site', async () => {
      const unknown = await app.inject({ method: 'POST', url: '/api/v1/review/decisions', headers: RAD, payload: { resultId, findingId: 'nope', decision: 'accept' } });
      assert.equal(unknown.statusCode, 404);
      const acc = await app.inject({ method: 'POST', url: '/api/v1/review/decisions', headers: RAD, payload: { resultId, findingId: 'bleed-1', decision: 'edit', edit: { measurements: { volumeMl: 14 }, comment: 'remeasured' } } });
      assert.equal(acc.statusCode, 200, acc.body);
      assert.equal((acc.json() as { username: string }).username, 'dr.wu');
      const early = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/sign`, headers: RAD });
      assert.equal(early.statusCode, 409);
      assert.equal((early.json() as { code: string }).code, 'REVIEW_INCOMPLETE');
      const rej = await app.inject({ method: 'POST', url: '/api/v1/review/decisions', headers: RAD, payload: { resultId, findingId: 'bleed-2', decision: 'reject' } });
      assert.equal(rej.statusCode, 200);

      const study = (await app.inject({ method: 'GET', url: `/api/v1/review/studies/${critical.StudyInstanceUID}`, headers: RAD })).json() as {
        report: { accepted: { findingId: string; measurements: Record<string, number> }[]; rejected: unknown[]; undecided: unknown[]; status: string; suggestedImpression: string };
        decisions: unknown[]; results: { attachments: unknown[] }[];
      };
      assert.equal(study.report.status, 'draft');
      assert.deepEqual(study.report.accepted.map((f) => f.findingId), ['bleed-1']);
      assert.equal(study.report.accepted[0]?.measurements['volumeMl'], 14);
      assert.equal(study.report.rejected.length, 1);
      assert.equal(study.report.undecided.length, 0);
      assert.match(study.report.suggestedImpression, /hemorrhage/);

      const imp = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/impression`, headers: RAD, payload: { impression: 'Acute subdural haematoma.' } });
      assert.equal(imp.statusCode, 200);
      assert.equal((await app.inject({ method: 'GET', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/report.pdf`, headers: RAD })).statusCode, 404);
      const signed = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/sign`, headers: RAD });
      assert.equal(signed.statusCode, 200, signed.body);
      const s = signed.json() as { status: string; signedBy: string; signedAt: string; impression: string };
      assert.equal(s.status, 'signed');
      assert.equal(s.signedBy, 'dr.wu');
      assert.ok(!Number.isNaN(Date.parse(s.signedAt)));
      const pdf = await app.inject({ method: 'GET', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/report.pdf`, headers: RAD });
      assert.equal(pdf.statusCode, 200);
      assert.equal(pdf.headers['content-type'], 'application/pdf');
      assert.equal(pdf.rawPayload.subarray(0, 5).toString('latin1'), '%PDF-');
      assert.ok(pdf.rawPayload.toString('latin1').includes('Acute subdural haematoma.'));

      const locked = await app.inject({ method: 'POST', url: '/api/v1/review/decisions', headers: RAD, payload: { resultId, findingId: 'bleed-2', decision: 'accept' } });
      assert.equal(locked.statusCode, 409);
      assert.equal((locked.json() as { code: string }).code, 'REVIEW_LOCKED');
      const again = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/sign`, headers: RAD });
      assert.equal(again.statusCode, 409);

      const stats = await app.inject({ method: 'GET', url: '/api/v1/review/stats/rejections', headers: { 'x-test-user': 'root/admin' } });
      assert.equal(stats.statusCode, 200);
      const items = (stats.json() as { items: { site: string; analysisId: string; decided: number; rejected: number; edited: number; rejectionRate: number }[] }).items;
      assert.deepEqual(items, [{ site: 'TESTSCU', analysisId: 'head-ct-hemorrhage', decided: 2, accepted: 0, rejected: 1, edited: 1, rejectionRate: 0.5 }]);
      const wl = (await app.inject({ method: 'GET', url: '/api/v1/review/worklist', headers: RAD })).json() as { items: { studyInstanceUid: string; report: string }[] };
      assert.equal(wl.items.find((i) => i.studyInstanceUid === critical.StudyInstanceUID)?.report, 'signed');
    });
  });
}

suite('sqlite', async (parts) => parts.archive);

const PG = process.env['SECONDREADER_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const PG_SCHEMA = `sr_review_${process.pid}_${Date.now()}`;
async function dropSchema(): Promise<void> {
  const c = new pg.Client({ connectionString: PG });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${PG_SCHEMA}" CASCADE`);
  } finally {
    await c.end();
  }
}
suite('postgres', async (parts) => {
  const schema = PG_SCHEMA;
  return openArchive({ backend: 'postgres', connectionString: PG, schema, blobDir: `${parts.dir}/pg-blobs` }, silentLogger);
});
