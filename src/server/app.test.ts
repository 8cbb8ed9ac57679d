import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import type { JobRecord, WorkerHandle } from '../jobs/index.ts';
import { createApp } from './app.ts';
import { createJobHandler } from './engine-wiring.ts';
import { startStablePoller } from './stable-poller.ts';
import { openApiDocument } from './openapi.ts';
import { ingestTiny, openTestParts, quickAnalysis, signIn, waitFor } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

type Json = Record<string, unknown>;

describe('/api/v1 on a real SQLite archive and queue', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let workers: WorkerHandle | undefined;
  const quick = quickAnalysis();
  const slow = quickAnalysis({ id: 'slow-test', hold: true });
  const registry = createRegistry([quick, slow]);
  let seriesA = '';
  let studyA = '';
  let seriesB = '';
  let headers: Record<string, string> = {};

  const get = async (url: string) => {
    const r = await app.inject({ method: 'GET', url, headers });
    return { status: r.statusCode, body: r.headers['content-type']?.toString().startsWith('application/json') ? (r.json() as Json) : {}, raw: r.rawPayload, type: r.headers['content-type'] };
  };
  const post = async (url: string, payload?: unknown) => {
    const r = await app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Json }) });
    return { status: r.statusCode, body: r.json() as Json };
  };

  before(async () => {
    parts = await openTestParts();
    const a = await ingestTiny(parts, 'a');
    const b = await ingestTiny(parts, 'b');
    seriesA = a.SeriesInstanceUID;
    studyA = a.StudyInstanceUID;
    seriesB = b.SeriesInstanceUID;
    app = await createApp({ archive: parts.archive, queue: parts.queue, registry, log: silentLogger, auth: parts.auth, dicom: { aeTitle: 'SECONDREADER', port: 11112 } });
    headers = await signIn(app, parts.auth, 'radiologist');
  });
  after(async () => {
    slow.held.release();
    await workers?.stop();
    await app?.close();
    await parts?.close();
  });

  test('GET /health answers ok with the backends', async () => {
    const r = await get('/api/v1/health');
    assert.equal(r.status, 200);
    assert.equal(r.body['status'], 'ok');
    assert.equal(r.body['archive'], 'sqlite');
    assert.equal(r.body['queue'], 'sqlite');
    assert.deepEqual(r.body['dicom'], { aeTitle: 'SECONDREADER', port: 11112 });
  });

  test('GET /studies lists, filters and pages; bad paging and unknown keys are HTTP_BAD_REQUEST', async () => {
    const all = await get('/api/v1/studies');
    assert.equal(all.status, 200);
    assert.equal((all.body['items'] as Json[]).length, 2);
    assert.equal(all.body['limit'], 100);
    const one = await get('/api/v1/studies?PatientID=P-a');
    assert.deepEqual((one.body['items'] as Json[]).map((s) => s['StudyInstanceUID']), [studyA]);
    const wildcard = await get('/api/v1/studies?PatientID=P-*&limit=1&offset=1');
    assert.equal((wildcard.body['items'] as Json[]).length, 1);
    for (const q of ['limit=0', 'limit=abc', 'offset=-1', 'Bogus=1']) {
      const bad = await get(`/api/v1/studies?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal(bad.body['code'], 'HTTP_BAD_REQUEST', q);
    }
  });

  test('GET /studies/{uid}, /studies/{uid}/series and /series/{uid}; unknown → 404 NOT_FOUND', async () => {
    const s = await get(`/api/v1/studies/${studyA}`);
    assert.equal(s.status, 200);
    assert.equal(s.body['PatientID'], 'P-a');
    const list = await get(`/api/v1/studies/${studyA}/series`);
    assert.equal(list.status, 200);
    assert.deepEqual((list.body['items'] as Json[]).map((x) => x['seriesInstanceUid']), [seriesA]);
    const one = await get(`/api/v1/series/${seriesA}`);
    assert.equal(one.status, 200);
    assert.equal(one.body['instanceCount'], 6);
    assert.equal(one.body['modality'], 'CT');
    for (const url of ['/api/v1/studies/1.2.3', '/api/v1/studies/1.2.3/series', '/api/v1/series/1.2.3', '/api/v1/nothing-here']) {
      const r = await get(url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body['code'], 'NOT_FOUND', url);
    }
    const long = await get(`/api/v1/series/${'1'.repeat(65)}`);
    assert.equal(long.status, 400);
  });

  test('GET /analyses is the catalogue', async () => {
    const r = await get('/api/v1/analyses');
    assert.equal(r.status, 200);
    const items = r.body['items'] as Json[];
    assert.deepEqual(items.map((a) => a['id']), ['quick-test', 'slow-test']);
    assert.deepEqual(Object.keys(items[0] ?? {}).sort(), ['id', 'intendedUse', 'modalities', 'resources', 'steps', 'title', 'version']);
  });

  test('POST /analyses/{id}/run validates, queues a job, and GET /jobs shows it; cancel works once', async () => {
    assert.equal((await post('/api/v1/analyses/nope/run', { seriesInstanceUid: seriesA })).body['code'], 'NOT_FOUND');
    assert.equal((await post('/api/v1/analyses/slow-test/run', { seriesInstanceUid: '9.9.9' })).status, 404);
    const missing = await post('/api/v1/analyses/slow-test/run', {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body['code'], 'HTTP_BAD_REQUEST');
    assert.equal((await post('/api/v1/analyses/slow-test/run', { seriesInstanceUid: seriesA, extra: 1 })).status, 400);

    const run = await post('/api/v1/analyses/slow-test/run', { seriesInstanceUid: seriesA });
    assert.equal(run.status, 202);
    assert.equal(run.body['state'], 'queued');
    assert.equal(run.body['trigger'], 'manual');
    const id = String(run.body['id']);
    const again = await post('/api/v1/analyses/slow-test/run', { seriesInstanceUid: seriesA });
    assert.equal(again.body['id'], id, 'an active job is returned, not duplicated');

    const one = await get(`/api/v1/jobs/${id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body['analysisId'], 'slow-test');
    const listed = await get(`/api/v1/jobs?series=${seriesA}&analysis=slow-test&state=queued`);
    assert.deepEqual((listed.body['items'] as Json[]).map((j) => j['id']), [id]);
    assert.equal((await get('/api/v1/jobs?state=bogus')).status, 400);
    const none = await get('/api/v1/jobs/does-not-exist');
    assert.equal(none.status, 404);
    assert.equal(none.body['code'], 'JOB_NOT_FOUND');

    const cancelled = await post(`/api/v1/jobs/${id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body['state'], 'cancelled');
    const twice = await post(`/api/v1/jobs/${id}/cancel`);
    assert.equal(twice.status, 409);
    assert.equal(twice.body['code'], 'JOB_INVALID_STATE');
    assert.equal((await post('/api/v1/jobs/does-not-exist/cancel')).body['code'], 'JOB_NOT_FOUND');
  });

  test('stable series → auto jobs → results with findings and attachments; a running job can be cancelled', async () => {
    const handler = createJobHandler({ archive: parts.archive, registry, log: silentLogger });
    workers = parts.queue.startWorkers(handler, { concurrency: 2 });
    const poller = startStablePoller({ archive: parts.archive, queue: parts.queue, registry, rules: [{ analyses: ['quick-test'] }], quietSeconds: 0, jobTimeoutMs: 60_000, log: silentLogger, intervalMs: 100 });
    try {
      const results = await waitFor('two quick-test results', async () => {
        const r = await get('/api/v1/results?analysis=quick-test');
        const items = r.body['items'] as Json[];
        return items.length === 2 ? items : undefined;
      });
      // The handler stores the result before the queue marks its job succeeded: wait for both.
      const jobs = await waitFor('two quick-test jobs finished', async () => {
        const items = (await get('/api/v1/jobs?analysis=quick-test')).body['items'] as JobRecord[];
        return items.length === 2 && items.every((j) => j.state !== 'running' && j.state !== 'queued') ? items : undefined;
      });
      assert.deepEqual(jobs.map((j) => [j.trigger, j.state]), [['auto', 'succeeded'], ['auto', 'succeeded']]);
      const forA = results.find((r) => r['seriesInstanceUid'] === seriesA) as Json;
      assert.equal(forA['status'], 'ok');
      assert.equal(forA['studyInstanceUid'], studyA);
      const doc = forA['document'] as { findings: Json[]; labelMap: { path: string; keyImages: Record<string, string> } };
      assert.equal(doc.findings.length, 1);
      assert.equal(doc.labelMap.path, 'labels.nii.gz');
      const names = (forA['attachments'] as { name: string; url: string }[]).map((a) => a.name);
      assert.deepEqual(names, ['key-f1.png', 'labels.nii.gz', 'outputs.json']);

      const byId = await get(`/api/v1/results/${String(forA['id'])}`);
      assert.equal(byId.status, 200);
      // `outputs` is filled in after the result row is stored (the objects need its id): compare it once the job is done.
      assert.deepEqual({ ...byId.body, outputs: null }, { ...forA, outputs: null });
      const outputs = byId.body['outputs'] as { objects: Json[]; error: unknown };
      assert.deepEqual(outputs.objects.map((o) => o['kind']).sort(), ['key-image', 'report', 'segmentation'], 'its DICOM objects (SC key image + SEG + SR) are listed');
      assert.equal(outputs.error, null);
      const filtered = await get(`/api/v1/results?study=${studyA}&series=${seriesA}`);
      assert.equal((filtered.body['items'] as Json[]).length, 1);

      const png = await get(`/api/v1/results/${String(forA['id'])}/attachments/key-f1.png`);
      assert.equal(png.status, 200);
      assert.equal(png.type, 'image/png');
      assert.deepEqual([...png.raw.subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
      const nii = await get(`/api/v1/results/${String(forA['id'])}/attachments/labels.nii.gz`);
      assert.equal(nii.type, 'application/gzip');
      assert.equal(gunzipSync(nii.raw).readInt32LE(0), 348, 'a NIfTI-1 header');
      assert.equal((await get(`/api/v1/results/${String(forA['id'])}/attachments/other.png`)).body['code'], 'NOT_FOUND');
      assert.equal((await get('/api/v1/results/no-such-result')).status, 404);
      assert.equal((await get('/api/v1/results/no-such-result/attachments/x.png')).status, 404);

      // A held analysis: running, then cancelled through the API; its slot frees and no result is stored.
      const run = await post('/api/v1/analyses/slow-test/run', { seriesInstanceUid: seriesB });
      const id = String(run.body['id']);
      await slow.held.started;
      await waitFor('running', async () => ((await get(`/api/v1/jobs/${id}`)).body['state'] === 'running' ? true : undefined));
      const c = await post(`/api/v1/jobs/${id}/cancel`);
      assert.equal(c.status, 200);
      const end = await waitFor('cancelled', async () => {
        const j = (await get(`/api/v1/jobs/${id}`)).body;
        return j['state'] === 'cancelled' ? j : undefined;
      });
      assert.equal(end['resultId'], null);
      assert.equal(((await get('/api/v1/results?analysis=slow-test')).body['items'] as Json[]).length, 0);
    } finally {
      await poller.stop();
    }
  });

  test('GET /api/v1/openapi.json serves the generated document', async () => {
    const r = await get('/api/v1/openapi.json');
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, JSON.parse(JSON.stringify(openApiDocument())));
  });
});
