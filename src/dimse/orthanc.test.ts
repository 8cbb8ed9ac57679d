/**
 * Our SCU and SCP against a real PACS: a private Orthanc 1.10 (test/support/orthanc.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../core/log.ts';
import { freePort, startOrthanc } from '../../test/support/orthanc.ts';
import type { RunningOrthanc } from '../../test/support/orthanc.ts';
import { echo, find, move, startDimseServer, storeInstances } from './index.ts';
import type { DimsePeer, DimseServer } from './index.ts';
import { CONFORMANCE_DIR, openTempArchive, runTool, writeSmallCtSeries } from './testing.ts';
import type { TempArchive } from './testing.ts';

let ta: TempArchive;
let server: DimseServer;
let orthanc: RunningOrthanc;
let work: string;
let pacs: DimsePeer;
const host = '127.0.0.1';

before(async () => {
  ta = await openTempArchive();
  work = await mkdtemp(join(tmpdir(), 'sr-dimse-orthanc-'));
  const orthancDicomPort = await freePort();
  server = await startDimseServer({
    archive: ta.archive,
    log: silentLogger,
    config: { port: 0, tempDir: join(ta.dir, 'incoming'), peers: [{ aeTitle: 'ORTHANC', host, port: orthancDicomPort }, { aeTitle: 'MOVESCU', host, port: 1 }] },
  });
  orthanc = await startOrthanc({ aet: 'ORTHANC', dicomPort: orthancDicomPort, storageDir: join(work, 'orthanc'), modalities: { sr: { aeTitle: 'SECONDREADER', port: server.port } } });
  pacs = { aeTitle: 'ORTHANC', host, port: orthanc.dicomPort };
});

after(async () => {
  await orthanc?.stop();
  await server?.close();
  await ta?.close();
  await rm(work, { recursive: true, force: true });
});

test('our SCU against Orthanc: echo, store (uncompressed and JPEG 2000), find, move back to our SCP', async () => {
  await echo(pacs);
  const series = await writeSmallCtSeries(join(work, 'a'), 4, { patient: { PatientName: 'ROE^JANE', PatientID: 'PID-7' }, study: { StudyDate: '20231201' } });
  const results = await storeInstances(pacs, [...series.files, join(CONFORMANCE_DIR, 'JPEG2000.dcm')]);
  assert.deepEqual(results.map((r) => r.status), [0, 0, 0, 0, 0], JSON.stringify(results));
  const instances = (await orthanc.rest('/instances')) as string[];
  assert.equal(instances.length, 5);

  const studies = await find(pacs, 'STUDY', { PatientID: 'PID-7', StudyInstanceUID: '', PatientName: '', StudyDate: '20231101-20231231' });
  assert.equal(studies.length, 1);
  assert.equal(studies[0]?.['StudyInstanceUID'], series.StudyInstanceUID);
  assert.equal(studies[0]?.['PatientName'], 'ROE^JANE');

  const moved = await move(pacs, 'SECONDREADER', 'SERIES', { StudyInstanceUID: series.StudyInstanceUID, SeriesInstanceUID: series.SeriesInstanceUID });
  assert.equal(moved.completed, 4);
  assert.equal(moved.failed, 0);
  const inArchive = await ta.archive.listInstances({ seriesInstanceUid: series.SeriesInstanceUID });
  assert.equal(inArchive.length, 4);
  assert.equal(inArchive[0]?.origin.sourceAe, 'ORTHANC');
});

test('movescu → our SCP → Orthanc (sub-association stores archive instances as stored)', async () => {
  const series = await writeSmallCtSeries(join(work, 'b'), 3, { patient: { PatientName: 'POE^EDGAR', PatientID: 'PID-8' } });
  const ours: DimsePeer = { aeTitle: 'SECONDREADER', host, port: server.port };
  const stored = await storeInstances(ours, series.files, { callingAe: 'ORTHANC' });
  assert.ok(stored.every((r) => r.ok), JSON.stringify(stored));
  const r = await runTool('movescu', ['-S', '-aet', 'MOVESCU', '-aec', 'SECONDREADER', '-aem', 'ORTHANC', host, String(server.port), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${series.StudyInstanceUID}`]);
  assert.equal(r.code, 0, r.stderr);
  const found = (await orthanc.rest('/tools/find', { body: { Level: 'Instance', Query: { StudyInstanceUID: series.StudyInstanceUID } } })) as string[];
  assert.equal(found.length, 3);
});
