/**
 * Interop with a real DICOMweb client: Orthanc's DICOMweb plugin configured with our server as a peer ("sr").
 * Orthanc pushes with STOW-RS, searches with QIDO-RS and pulls with WADO-RS through its /dicom-web/servers/sr/* API.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startOrthanc, type RunningOrthanc } from '../../test/support/orthanc.ts';
import { CT_SMALL, MR_SMALL, QA_FILES, QA_STUDY, type TestServer, startTestServer } from './test-support.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CT_SOP = '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322';

/** Orthanc's QIDO proxy re-renders our DICOM JSON with Value as a scalar for single values: accept both. */
function tagValue(json: unknown, tag: string): unknown {
  const v = (json as Record<string, { Value?: unknown } | undefined>)[tag]?.Value;
  return Array.isArray(v) ? v[0] : v;
}

describe('Orthanc DICOMweb client ↔ our DICOMweb server', { timeout: 180_000 }, () => {
  let s: TestServer;
  let orthanc: RunningOrthanc;
  const files = [CT_SMALL, MR_SMALL, ...QA_FILES.slice(0, 3)];
  let bytes: Buffer[];
  before(async () => {
    s = await startTestServer();
    const port = await new Promise<number>((resolve, reject) => {
      s.app.listen({ host: '127.0.0.1', port: 0 }, (err, address) => (err ? reject(err) : resolve(Number(new URL(address).port))));
    });
    orthanc = await startOrthanc({
      storageDir: join(s.dir, 'orthanc'),
      dicomWeb: true,
      extraConfig: {
        DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false, Servers: { sr: [`http://127.0.0.1:${port}/dicom-web/`] } },
      },
    });
    bytes = await Promise.all(files.map((f) => readFile(f)));
    for (const b of bytes) await orthanc.rest('/instances', { body: new Uint8Array(b) });
  });
  after(async () => {
    await orthanc?.stop();
    await s?.close();
  });

  it('Orthanc STOWs studies to us: every instance arrives byte-identical', async () => {
    const studies = (await orthanc.rest('/studies')) as string[];
    assert.equal(studies.length, 3);
    const res = (await orthanc.rest('/dicom-web/servers/sr/stow', { body: { Resources: studies, Synchronous: true } })) as Record<string, unknown>;
    assert.equal(Number(res['InstancesCount']), files.length);
    const stored = await s.archive.listInstances({});
    assert.equal(stored.length, files.length);
    assert.deepEqual(new Set(stored.map((r) => r.sha256)), new Set(bytes.map(sha)), 'each file as Orthanc received it');
    const ct = await s.archive.getInstance(CT_SOP);
    assert.ok(ct, 'CT_small stored');
    assert.equal(ct.sha256, sha(bytes[0] as Buffer), 'Orthanc sent the file as it received it');
    assert.equal(ct.origin.via, 'stow');
  });

  it('Orthanc QIDOs us: studies by patient name, series of a study', async () => {
    const found = (await orthanc.rest('/dicom-web/servers/sr/qido', { body: { Uri: '/studies', Arguments: { PatientName: 'stc*' } } })) as unknown[];
    assert.equal(found.length, 1);
    assert.equal(tagValue(found[0], '0020000D'), QA_STUDY);
    const series = (await orthanc.rest('/dicom-web/servers/sr/qido', { body: { Uri: `/studies/${QA_STUDY}/series` } })) as unknown[];
    assert.equal(series.length, 1);
    assert.equal(tagValue(series[0], '00080060'), 'MR');
    assert.equal(tagValue(series[0], '00100010'), 'stc_test', 'PN read back by Orthanc');
    // Orthanc 1.10's proxy drops IS values sent as JSON numbers (PS3.18 F.2.3 makes them numbers; Orthanc's own
    // QIDO emits numbers too): NumberOfSeriesRelatedInstances arrives empty there, so it is checked on our side.
    const ours = await s.app.inject({ method: 'GET', url: `/dicom-web/studies/${QA_STUDY}/series` });
    assert.deepEqual((ours.json() as Array<Record<string, { Value?: unknown[] }>>)[0]?.['00201209']?.Value, [3]);
  });

  it('Orthanc GETs an instance from us and retrieves a study into itself (WADO-RS)', async () => {
    const ct = await s.archive.getInstance(CT_SOP);
    assert.ok(ct);
    const body = await orthanc.rest('/dicom-web/servers/sr/get', { body: { Uri: `/studies/${ct.studyInstanceUid}/series/${ct.seriesInstanceUid}/instances/${CT_SOP}/metadata` } });
    assert.equal(tagValue((body as unknown[])[0], '00080018'), CT_SOP);
    // Empty Orthanc, then pull the QA study back from us.
    for (const id of (await orthanc.rest('/studies')) as string[]) await orthanc.rest(`/studies/${id}`, { method: 'DELETE' });
    await orthanc.rest('/dicom-web/servers/sr/retrieve', { body: { Resources: [{ Study: QA_STUDY }], Synchronous: true } });
    const back = (await orthanc.rest('/instances')) as string[];
    assert.equal(back.length, 3);
    const originals = new Set(bytes.slice(2).map(sha));
    for (const id of back) {
      const res = await fetch(`${orthanc.url}/instances/${id}/file`);
      assert.ok(originals.has(sha(new Uint8Array(await res.arrayBuffer()))), 'retrieved file is byte-identical to the original');
    }
  });
});
