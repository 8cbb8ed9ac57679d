/**
 * Result → DICOM objects → archive → forwarded to a real PACS (a private Orthanc), through the job handler the
 * workers run; a destination that is down fails only its delivery, with a coded error the API shows; a delivery
 * pending when the worker stops is sent by the next worker once the destination is up.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { openArchive } from '../archive/index.ts';
import { storeInstances } from '../dimse/index.ts';
import { createRegistry } from '../engine/index.ts';
import { createForwardQueue, outputSeries } from '../outputs/index.ts';
import type { ForwardDestination, ForwardQueue } from '../outputs/index.ts';
import { freePort, startOrthanc } from '../../test/support/orthanc.ts';
import type { RunningOrthanc } from '../../test/support/orthanc.ts';
import { createApp } from './app.ts';
import { AuthService } from './auth/service.ts';
import { DEFAULT_CONFIG } from './config.ts';
import { createJobHandler, storeOutputObjects } from './engine-wiring.ts';
import { resultForwarding } from './runtime.ts';
import { ingestTiny, openTestParts, quickAnalysis, signIn } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

let parts: TestServerParts;
let orthanc: RunningOrthanc;
let queue: ForwardQueue;
let pacs: ForwardDestination;
let down: ForwardDestination;

before(async () => {
  parts = await openTestParts();
  orthanc = await startOrthanc({ aet: 'ORTHANC', storageDir: join(parts.dir, 'orthanc') });
  pacs = { aeTitle: 'ORTHANC', host: '127.0.0.1', port: orthanc.dicomPort };
  down = { aeTitle: 'DOWN', host: '127.0.0.1', port: await freePort(), analyses: ['quick-test'] };
  queue = createForwardQueue({
    store: parts.archive, log: silentLogger, maxAttempts: 2, retryDelayMs: 20, pollMs: 20,
    send: async (dest, files) => (await storeInstances(dest, files.map((f) => ({ bytes: f.bytes })), { callingAe: 'SECONDREADER' }))
      .map((r) => ({ sopInstanceUid: r.sopInstanceUid ?? r.source, ok: r.ok, ...(r.error !== undefined ? { error: r.error } : {}) })),
  });
});

after(async () => {
  await queue?.stop();
  await orthanc?.stop();
  await parts?.close();
});

type Json = Record<string, unknown>;

test('a stored result gets its SC + SR in the archive (QIDO-visible), forwarded to Orthanc; a dead destination fails alone; a re-run replaces', async () => {
  const series = await ingestTiny(parts, 'fwd');
  const analysis = quickAnalysis({ id: 'quick-test' });
  const registry = createRegistry([analysis]);
  const handler = createJobHandler({ archive: parts.archive, registry, log: silentLogger, aeTitle: 'SECONDREADER', forwarding: { destinations: [pacs, down, { ...pacs, aeTitle: 'OTHER', analyses: ['not-this-one'] }], queue } });
  const run = async () => {
    const job = await parts.queue.enqueue({ analysisId: 'quick-test', analysisVersion: '1.0.0', studyInstanceUid: series.StudyInstanceUID, seriesInstanceUid: series.SeriesInstanceUID, trigger: 'manual', force: true });
    const out = await handler({ job, signal: new AbortController().signal, progress: () => undefined });
    await queue.idle();
    assert.ok(out.resultId);
    return out.resultId;
  };
  const resultId = await run();

  // In the archive, as instances of the source study: the CT series, the key image series and the SR series.
  const rows = await parts.archive.query({ level: 'SERIES', match: { StudyInstanceUID: series.StudyInstanceUID } });
  assert.deepEqual(rows.map((r) => r['Modality']).sort(), ['CT', 'OT', 'SEG', 'SR']);
  const uids = outputSeries({ resultId, analysisId: 'quick-test', analysisVersion: '1.0.0', createdAt: '' });
  const sc = await parts.archive.listInstances({ seriesInstanceUid: uids.keyImages });
  const sr = await parts.archive.listInstances({ seriesInstanceUid: uids.report });
  const segs = await parts.archive.listInstances({ seriesInstanceUid: uids.segmentation });
  assert.equal(segs.length, 1);
  assert.equal(sc.length, 1);
  assert.equal(sr.length, 1);
  assert.equal(sc[0]?.origin.via, 'result');

  // Orthanc received exactly those objects.
  const found = (await orthanc.rest('/tools/find', { body: { Level: 'Instance', Query: { StudyInstanceUID: series.StudyInstanceUID }, Expand: true } })) as { MainDicomTags: Json }[];
  assert.deepEqual(found.map((i) => i.MainDicomTags['SOPInstanceUID']).sort(), [sc[0]?.sopInstanceUid, segs[0]?.sopInstanceUid, sr[0]?.sopInstanceUid].sort());

  // The API shows the objects and each destination's state; the dead one failed with a code, the result stands.
  const app = await createApp({ archive: parts.archive, queue: parts.queue, registry, log: silentLogger, auth: parts.auth });
  try {
    const res = await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}`, headers: await signIn(app, parts.auth, 'radiologist') });
    assert.equal(res.statusCode, 200);
    const body = res.json<Json>();
    assert.equal(body['status'], 'ok');
    const outputs = body['outputs'] as { objects: Json[]; error: unknown; forwarding: Record<string, Json> };
    assert.equal(outputs.error, null);
    assert.deepEqual(outputs.objects.map((o) => o['kind']).sort(), ['key-image', 'report', 'segmentation']);
    assert.deepEqual(Object.keys(outputs.forwarding).sort(), [`DOWN@127.0.0.1:${down.port}`, `ORTHANC@127.0.0.1:${pacs.port}`]);
    const ok = outputs.forwarding[`ORTHANC@127.0.0.1:${pacs.port}`];
    assert.equal(ok?.['state'], 'sent');
    assert.equal(ok?.['sent'], 3);
    const failed = outputs.forwarding[`DOWN@127.0.0.1:${down.port}`];
    assert.equal(failed?.['state'], 'failed');
    assert.equal(failed?.['attempts'], 2);
    assert.match(String((failed?.['error'] as Json | undefined)?.['code']), /^(DIMSE_ASSOCIATION_FAILED|DIMSE_TIMEOUT|OUTPUT_FORWARD_FAILED)$/);
  } finally {
    await app.close();
  }

  // Re-run: same result id, same UIDs; the archive and Orthanc hold the same objects, not a second set.
  assert.equal(await run(), resultId);
  assert.deepEqual((await parts.archive.listInstances({ seriesInstanceUid: uids.keyImages })).map((i) => i.sopInstanceUid), sc.map((i) => i.sopInstanceUid));
  assert.equal((await parts.archive.listInstances({ studyInstanceUid: series.StudyInstanceUID })).length, series.files.length + 3);
  assert.equal(((await orthanc.rest('/instances')) as string[]).length, 3);

  // A run that makes fewer objects (here: the SR only) leaves no stale key image behind.
  const srBytes = await parts.archive.readInstance(sr[0]?.sopInstanceUid ?? '');
  await storeOutputObjects(parts.archive, [{ name: 'report.dcm', kind: 'report', seriesInstanceUid: uids.report, sopInstanceUid: sr[0]?.sopInstanceUid ?? '', sopClassUid: sr[0]?.sopClassUid ?? '', bytes: srBytes }], [uids.keyImages, uids.segmentation, uids.report], { via: 'result' });
  assert.equal((await parts.archive.listInstances({ seriesInstanceUid: uids.keyImages })).length, 0);
  assert.equal((await parts.archive.listInstances({ seriesInstanceUid: uids.segmentation })).length, 0);
  assert.equal((await parts.archive.listInstances({ seriesInstanceUid: uids.report })).length, 1);
});

test('a delivery pending when its worker stops (destination down) is sent after a restart, once the destination is up', { timeout: 60_000 }, async () => {
  const series = await ingestTiny(parts, 'restart');
  const registry = createRegistry([quickAnalysis({ id: 'quick-test' })]);
  const late = { aeTitle: 'LATE', host: '127.0.0.1', port: await freePort() };
  const config = { ...DEFAULT_CONFIG, dataDir: join(parts.dir, 'data'), forward: [late], forwardRetry: { maxAttempts: 5, retryDelaySeconds: 0.05 } };
  // The worker as `serve`/`worker` compose it (runtime.ts), its destination down.
  const first = resultForwarding(config, registry, parts.archive, silentLogger);
  assert.ok(first);
  const handler = createJobHandler({ archive: parts.archive, registry, log: silentLogger, aeTitle: 'SECONDREADER', forwarding: first });
  const job = await parts.queue.enqueue({ analysisId: 'quick-test', analysisVersion: '1.0.0', studyInstanceUid: series.StudyInstanceUID, seriesInstanceUid: series.SeriesInstanceUID, trigger: 'manual', force: true });
  const { resultId } = await handler({ job, signal: new AbortController().signal, progress: () => undefined });
  assert.ok(resultId);
  const deliveries = () => parts.archive.listDeliveries({ resultId });
  while (!(await deliveries()).some((d) => d.state === 'retrying')) await new Promise((r) => setTimeout(r, 20));
  await first.queue.stop();
  const [pending] = await deliveries();
  assert.equal(pending?.state, 'retrying', 'kept pending across the stop, not failed');
  assert.match(String(pending?.error?.code), /^(DIMSE_ASSOCIATION_FAILED|DIMSE_TIMEOUT|OUTPUT_FORWARD_FAILED)$/);

  // The destination comes up; a new worker (its own archive connection, as a restarted process) resumes the delivery.
  const pacs2 = await startOrthanc({ aet: 'LATE', dicomPort: late.port, storageDir: join(parts.dir, 'orthanc-late') });
  const archive2 = await openArchive({ backend: 'sqlite', dataDir: join(parts.dir, 'data'), recovery: false }, silentLogger);
  const second = resultForwarding(config, registry, archive2, silentLogger);
  try {
    assert.ok(second);
    await second.queue.idle();
    const [done] = await archive2.listDeliveries({ resultId });
    assert.deepEqual([done?.state, done?.error, done?.remaining], ['sent', null, []]);
    assert.ok((done?.attempts ?? 0) >= 2);
    const uids = outputSeries({ resultId, analysisId: 'quick-test', analysisVersion: '1.0.0', createdAt: '' });
    const ours = [...(await archive2.listInstances({ seriesInstanceUid: uids.keyImages })), ...(await archive2.listInstances({ seriesInstanceUid: uids.segmentation })), ...(await archive2.listInstances({ seriesInstanceUid: uids.report }))].map((i) => i.sopInstanceUid);
    const found = (await pacs2.rest('/tools/find', { body: { Level: 'Instance', Query: { StudyInstanceUID: series.StudyInstanceUID }, Expand: true } })) as { MainDicomTags: Json }[];
    assert.deepEqual(found.map((i) => i.MainDicomTags['SOPInstanceUID']).sort(), ours.sort());

    // The API reads the state from the store.
    const auth2 = await AuthService.open({ db: archive2.db, log: silentLogger });
    const app = await createApp({ archive: archive2, queue: parts.queue, registry, log: silentLogger, auth: auth2 });
    try {
      const body = (await app.inject({ method: 'GET', url: `/api/v1/results/${resultId}`, headers: await signIn(app, auth2, 'radiologist') })).json<{ outputs: { forwarding: Record<string, Json> } }>();
      assert.deepEqual(Object.keys(body.outputs.forwarding), [`LATE@127.0.0.1:${late.port}`]);
      assert.deepEqual([body.outputs.forwarding[`LATE@127.0.0.1:${late.port}`]?.['state'], body.outputs.forwarding[`LATE@127.0.0.1:${late.port}`]?.['sent']], ['sent', 3]);
    } finally {
      await app.close();
    }
  } finally {
    await second?.queue.stop();
    await archive2.close();
    await pacs2.stop();
  }
});
