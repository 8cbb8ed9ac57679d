import { strict as assert } from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
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
import type { AuditEvent } from './audit/types.ts';
import { pgTestSchema } from '../../test/support/postgres.ts';

/**
 * The review API on a bare fastify instance: the signed-in user comes from an `x-test-user: name/role` header
 * (the auth hook's job in the real server), so the tests exercise the routes' own role checks.
 */
async function reviewApp(archive: OpenedArchive, parts: TestServerParts, audited: AuditEvent[]): Promise<FastifyInstance> {
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
  const audit = { record: async (e: AuditEvent) => void audited.push(e) };
  const deps = { archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger, audit } as Omit<ApiDeps, 'auth'> as ApiDeps;
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
    const audited: AuditEvent[] = [];

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
      app = await reviewApp(archive, parts, audited);
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

    it('pages and filters the worklist in SQL, and re-triages a study whose results change', async () => {
      type Page = { items: { studyInstanceUid: string; ai: { status: string }; triage: { critical: boolean; reasons: string[] } }[]; total: number };
      const get = async (qs: string): Promise<Page> => {
        const res = await app.inject({ method: 'GET', url: `/api/v1/review/worklist?${qs}`, headers: RAD });
        assert.equal(res.statusCode, 200, res.body);
        return res.json() as Page;
      };
      const second = await get('limit=1&offset=1');
      assert.equal(second.total, 2);
      assert.deepEqual(second.items.map((i) => i.studyInstanceUid), [routine.StudyInstanceUID]);
      assert.equal((await get('status=done')).total, 2);
      assert.equal((await get('status=none')).total, 0);
      assert.equal((await get('report=signed')).total, 0);
      assert.equal((await get('q=no-such-patient')).total, 0);
      assert.equal((await get('q=%25')).total, 0, 'a LIKE wildcard in the search is matched literally');
      // A queued job puts its study under "queued" (and out of "done").
      await parts.queue.enqueue({ analysisId: 'chest-ct-nodules', analysisVersion: '1.0.0', studyInstanceUid: routine.StudyInstanceUID, seriesInstanceUid: routine.SeriesInstanceUID, trigger: 'manual' });
      assert.deepEqual((await get('status=queued')).items.map((i) => i.studyInstanceUid), [routine.StudyInstanceUID]);
      assert.deepEqual((await get('status=done')).items.map((i) => i.studyInstanceUid), [critical.StudyInstanceUID]);
      // A re-run whose Lung-RADS is 4B makes the routine study critical (the triage cache follows the results).
      await addResult(archive, routine, 'chest-ct-nodules', [{ id: 'n1', kind: 'lung-nodule', centerMm: [0, 0, 4], probability: 0.9, measurements: { meanDiameterMm: 16 } }], { lungRads: { category: '4B' } });
      const crit = await get('critical=true');
      assert.equal(crit.total, 2);
      assert.ok(crit.items.find((i) => i.studyInstanceUid === routine.StudyInstanceUID)?.triage.reasons.includes('Lung-RADS 4B'));
      await addResult(archive, routine, 'chest-ct-nodules', [{ id: 'n1', kind: 'lung-nodule', centerMm: [0, 0, 4], probability: 0.4, measurements: { meanDiameterMm: 5 } }], { lungRads: { category: '2' } });
      assert.deepEqual((await get('critical=true')).items.map((i) => i.studyInstanceUid), [critical.StudyInstanceUID]);
      for (const j of await parts.queue.list({ state: 'queued' })) await parts.queue.cancel(j.id);
    });

    it('streams live updates as Server-Sent Events over real HTTP, signed-in users only', async () => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const open = (headers: Record<string, string>) => new Promise<http.IncomingMessage>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: '/api/v1/review/events', headers }, resolve).on('error', reject);
      });
      const anon = await open({});
      assert.equal(anon.statusCode, 401);
      anon.resume();
      const res = await open({ ...RAD, accept: 'text/event-stream' });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['content-type']), /^text\/event-stream/);
      let buf = '';
      const waitFor = (re: RegExp) => new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no event matching ${String(re)}; got ${buf}`)), 20000);
        const check = () => {
          const m = re.exec(buf);
          if (m) {
            clearTimeout(timer);
            res.off('data', onData);
            resolve(m[0]);
          }
        };
        const onData = (c: Buffer) => {
          buf += c.toString('utf8');
          check();
        };
        res.on('data', onData);
        check();
      });
      res.setEncoding('utf8');
      await waitFor(/event: hello\n/);
      // This process's own write is published at once ...
      const imp = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${routine.StudyInstanceUID}/impression`, headers: RAD, payload: { impression: 'No acute finding.' } });
      assert.equal(imp.statusCode, 200);
      const ev = await waitFor(/event: report\ndata: (.*)\n\n/);
      assert.ok(ev.includes(routine.StudyInstanceUID));
      // ... and a job another process enqueued is seen by the hub's database watch.
      const job = await parts.queue.enqueue({ analysisId: 'chest-ct-nodules', analysisVersion: '1.0.0', studyInstanceUid: routine.StudyInstanceUID, seriesInstanceUid: routine.SeriesInstanceUID, trigger: 'manual' });
      const jobEv = await waitFor(new RegExp(`event: job\\ndata: [^\\n]*${job.id}[^\\n]*\\n\\n`));
      assert.match(jobEv, /"state":"queued"/);
      await parts.queue.cancel(job.id);
      res.destroy();
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
      const meas = await app.inject({
        method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/measurements`, headers: RAD,
        payload: { seriesInstanceUid: critical.SeriesInstanceUID, lengthMm: 23.4, points: [[0, 0, 4], [23.4, 0, 4]], label: 'haematoma thickness' },
      });
      assert.equal(meas.statusCode, 200, meas.body);
      const mBody = meas.json() as { measurement: { id: string; username: string }; report: { measurements: { lengthMm: number; username: string; label: string }[] } };
      assert.deepEqual(mBody.report.measurements.map((m) => [m.lengthMm, m.username, m.label]), [[23.4, 'dr.wu', 'haematoma thickness']]);
      const extra = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/measurements`, headers: RAD, payload: { lengthMm: 5, points: [[0, 0, 0], [5, 0, 0]] } });
      const extraId = (extra.json() as { measurement: { id: string } }).measurement.id;
      const del = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/measurements/${extraId}/delete`, headers: RAD });
      assert.equal((del.json() as { measurements: unknown[] }).measurements.length, 1);
      const techMeas = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/measurements`, headers: { 'x-test-user': 'tech/technologist' }, payload: { lengthMm: 5, points: [[0, 0, 0], [5, 0, 0]] } });
      assert.equal(techMeas.statusCode, 403);
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
      assert.equal((s as unknown as { measurements: unknown[] }).measurements.length, 1, 'the signed report keeps the measurement');
      const lateMeas = await app.inject({ method: 'POST', url: `/api/v1/review/studies/${critical.StudyInstanceUID}/measurements`, headers: RAD, payload: { lengthMm: 5, points: [[0, 0, 0], [5, 0, 0]] } });
      assert.equal(lateMeas.statusCode, 409);

      // The clinical acts are in the audit trail with their own actions, user, study, finding and decision.
      const reviews = audited.filter((e) => e.action === 'review' && e.studyInstanceUid === critical.StudyInstanceUID);
      const decided = reviews.filter((e) => e.details?.['findingId'] !== undefined).map((e) => [e.actor, e.details?.['findingId'], e.details?.['decision']]);
      assert.deepEqual(decided, [['dr.wu', 'bleed-1', 'edit'], ['dr.wu', 'bleed-2', 'reject']]);
      assert.ok(reviews.some((e) => e.details?.['what'] === 'impression'));
      assert.ok(reviews.some((e) => e.details?.['what'] === 'measurement'));
      const signOff = audited.filter((e) => e.action === 'sign-off');
      assert.equal(signOff.length, 1);
      assert.equal(signOff[0]?.actor, 'dr.wu');
      assert.equal(signOff[0]?.actorRole, 'radiologist');
      assert.equal(signOff[0]?.studyInstanceUid, critical.StudyInstanceUID);
      assert.equal(signOff[0]?.outcome, 'success');

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

const { connection: PG, schema: PG_SCHEMA, drop: dropSchema } = pgTestSchema('sr_review');
suite('postgres', async (parts) => {
  const schema = PG_SCHEMA;
  return openArchive({ backend: 'postgres', connectionString: PG, schema, blobDir: `${parts.dir}/pg-blobs` }, silentLogger);
});
