import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../core/index.ts';
import { ingestFolder } from '../archive/index.ts';
import { writeCtSeries } from '../dicom/index.ts';
import { createRegistry } from '../engine/index.ts';
import { createVolume } from '../imaging/index.ts';
import type { JobRecord } from '../jobs/index.ts';
import { chromiumAvailable } from '../report/index.ts';
import { fhirSchemaErrors } from '../report/test-helpers.ts';
import { createApp } from './app.ts';
import { createJobHandler } from './engine-wiring.ts';
import { reviewStoreOf } from './review/index.ts';
import { openTestParts, quickAnalysis, signIn } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

const EVIL = 'Evil^<script>alert(1)</script>';

describe('GET /results/:id/report.html, /report.pdf, /fhir', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let resultId = '';
  let studyUid = '';
  const quick = quickAnalysis();

  before(async () => {
    parts = await openTestParts();
    const dims: [number, number, number] = [24, 24, 6];
    const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-1000);
    for (let k = 1; k < 5; k++) for (let j = 8; j < 16; j++) for (let i = 8; i < 16; i++) data[i + dims[0] * (j + dims[1] * k)] = 40;
    const dir = join(parts.dir, 'in');
    const w = await writeCtSeries(createVolume(data, { dims, spacing: [1, 1, 2], origin: [-12, -12, 0] }), {
      outDir: dir, uidSeed: 'report-route-test', patient: { PatientName: EVIL, PatientID: 'P-R' }, study: { AccessionNumber: 'ACC-R' },
    });
    studyUid = w.StudyInstanceUID;
    await ingestFolder(parts.archive, [dir], { origin: { via: 'import' } });
    const handler = createJobHandler({ archive: parts.archive, registry: createRegistry([quick]), log: silentLogger });
    const now = new Date().toISOString();
    const job: JobRecord = {
      id: 'job-report-1', analysisId: quick.id, analysisVersion: quick.version, studyInstanceUid: w.StudyInstanceUID, seriesInstanceUid: w.SeriesInstanceUID,
      trigger: 'manual', state: 'running', progress: 0, progressMessage: null, attempts: 1, maxAttempts: 1, timeoutMs: 60_000, error: null, resultId: null,
      worker: 'test', createdAt: now, startedAt: now, finishedAt: null,
    };
    const r = await handler({ job, signal: new AbortController().signal, progress: () => undefined });
    assert.ok(r.resultId);
    resultId = r.resultId;
    app = await createApp({ archive: parts.archive, queue: parts.queue, registry: createRegistry([quick]), log: silentLogger, auth: parts.auth });
  });
  after(async () => {
    await app?.close();
    await parts?.close();
  });

  test('report.html: self-contained, escaped, with the key-image crop, CSP header; ?lang=zh switches language', async () => {
    const headers = await signIn(app, parts.auth, 'technologist');
    const r = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/report.html`, headers });
    assert.equal(r.statusCode, 200, r.body);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(!r.body.includes('<script>alert(1)</script>'));
    assert.match(r.body, /Evil &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(r.body, /<html lang="en">/);
    assert.match(r.body, /src="data:image\/png;base64,/);
    assert.match(r.body, /class="watermark"/);
    const zh = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/report.html?lang=zh`, headers });
    assert.equal(zh.statusCode, 200);
    assert.match(zh.body, /<html lang="zh-CN">/);
    assert.match(zh.body, /AI辅助影像报告/);
    const bad = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/report.html?lang=fr`, headers });
    assert.equal(bad.statusCode, 400);
  });

  test('access: researchers (no patient data) and anonymous callers are refused; unknown result → 404', async () => {
    const anon = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/fhir` });
    assert.equal(anon.statusCode, 401);
    const researcher = await signIn(app, parts.auth, 'researcher');
    const r = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/fhir`, headers: researcher });
    assert.equal(r.statusCode, 403);
    const headers = await signIn(app, parts.auth, 'radiologist');
    const missing = await app.inject({ method: 'GET', url: '/api/v1/results/nope/report.html', headers });
    assert.equal(missing.statusCode, 404);
  });

  test('fhir: a Bundle, preliminary; after a rejection and sign-off the finding is gone and the report final', async () => {
    const headers = await signIn(app, parts.auth, 'radiologist');
    const before = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/fhir`, headers });
    assert.equal(before.statusCode, 200);
    assert.match(String(before.headers['content-type']), /^application\/fhir\+json/);
    type Bundle = { resourceType: string; entry: { resource: { resourceType: string; status?: string; identifier?: { value: string }[] } }[] };
    const b1 = before.json<Bundle>();
    assert.equal(b1.resourceType, 'Bundle');
    const dr = (b: Bundle) => b.entry.find((e) => e.resource.resourceType === 'DiagnosticReport')?.resource;
    assert.equal(dr(b1)?.status, 'preliminary');
    assert.deepEqual(fhirSchemaErrors(b1), []);
    const findingObs = (b: Bundle) => b.entry.filter((e) => (e.resource.identifier ?? []).some((i) => i.value === `${quick.id}/f1`));
    assert.equal(findingObs(b1).length, 1);
    const store = await reviewStoreOf(parts.archive);
    await store.decide({ studyInstanceUid: studyUid, resultId, analysisId: quick.id, findingId: 'f1', decision: 'reject', site: 'test', user: { id: 'u1', username: 'dr.test', role: 'radiologist' } });
    await store.sign(studyUid, 'dr.test', { report: {}, pdfBlobKey: null });
    const b2 = (await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/fhir`, headers })).json<Bundle>();
    assert.equal(dr(b2)?.status, 'final');
    assert.deepEqual(fhirSchemaErrors(b2), []);
    assert.equal(findingObs(b2).length, 0);
    const html = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/report.html`, headers });
    assert.doesNotMatch(html.body, /class="watermark"/);
    assert.match(html.body, /Signed by: <strong>dr\.test<\/strong>/);
  });

  test('report.pdf is a PDF', { skip: !chromiumAvailable() && 'chromium not installed (scripts/setup.sh)' }, async () => {
    const headers = await signIn(app, parts.auth, 'admin');
    const r = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}/report.pdf`, headers });
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'application/pdf');
    assert.equal(r.rawPayload.subarray(0, 5).toString('latin1'), '%PDF-');
  });
});
