import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { CT_SMALL, EMRI_J2K, MR_SMALL, QA_FILES, QA_SERIES, QA_STUDY, STOW_TYPE, type TestServer, multipartBody, startTestServer, value } from './test-support.ts';

const CT_STUDY = '1.3.6.1.4.1.5962.1.2.1.20040119072730.12322';

describe('QIDO-RS', () => {
  let s: TestServer;
  const get = async (url: string, headers: Record<string, string> = {}) => s.app.inject({ method: 'GET', url: `/dicom-web${url}`, headers });
  const uids = (body: unknown[], tag: string) => body.map((x) => value(x, tag));
  before(async () => {
    s = await startTestServer();
    const files = await Promise.all([...QA_FILES, CT_SMALL, MR_SMALL, EMRI_J2K].map((f) => readFile(f)));
    const r = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: multipartBody(files) });
    assert.equal(r.statusCode, 200, r.body);
  });
  after(async () => { await s.close(); });

  it('searches studies by keyword and by tag, with DICOM JSON PN and counts', async () => {
    const r = await get('/studies?PatientName=stc*');
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^application\/dicom\+json/);
    const body = r.json() as unknown[];
    assert.deepEqual(uids(body, '0020000D'), [QA_STUDY]);
    assert.deepEqual(value(body[0], '00100010'), { Alphabetic: 'stc_test' });
    assert.equal((body[0] as Record<string, { vr: string }>)['00100010']?.vr, 'PN');
    assert.equal(value(body[0], '00201208'), 9, 'NumberOfStudyRelatedInstances');
    assert.equal(value(body[0], '00080061'), 'MR', 'ModalitiesInStudy');
    assert.match(String(value(body[0], '00081190')), /\/dicom-web\/studies\/1\.3\.12/);
    const byTag = await get('/studies?00100010=compressedsamples%5Ect1');
    assert.deepEqual(uids(byTag.json(), '0020000D'), [CT_STUDY], 'tag key, case-insensitive name');
    const all = await get('/studies');
    assert.equal((all.json() as unknown[]).length, 4);
    const uidList = await get(`/studies?StudyInstanceUID=${QA_STUDY}\\${CT_STUDY}`);
    assert.equal((uidList.json() as unknown[]).length, 2);
  });

  it('no match is 200 with an empty array (PS3.18 after CP-2473)', async () => {
    const r = await get('/studies?PatientID=nobody');
    assert.equal(r.statusCode, 200);
    assert.deepEqual(r.json(), []);
  });

  it('searches series and instances at every resource path', async () => {
    const series = await get(`/studies/${QA_STUDY}/series`);
    assert.deepEqual(uids(series.json(), '0020000E'), [QA_SERIES]);
    assert.equal(value(series.json()[0], '00201209'), 9, 'NumberOfSeriesRelatedInstances');
    assert.equal((await get('/series?Modality=CT')).json().length, 1);
    const inst = await get(`/studies/${QA_STUDY}/series/${QA_SERIES}/instances`);
    assert.equal(inst.json().length, 9);
    assert.match(String(value(inst.json()[0], '00081190')), /\/series\/.+\/instances\//);
    assert.equal((await get(`/studies/${QA_STUDY}/instances`)).json().length, 9);
    assert.equal((await get('/instances')).json().length, 12);
    const j2k = await get('/instances?NumberOfFrames=10');
    assert.equal(j2k.json().length, 1);
    assert.equal(value(j2k.json()[0], '00083002'), '1.2.840.10008.1.2.4.90', 'AvailableTransferSyntaxUID');
  });

  it('pages with limit and offset, and warns when more results exist', async () => {
    const all = uids((await get(`/studies/${QA_STUDY}/instances`)).json(), '00080018');
    const page = await get(`/studies/${QA_STUDY}/instances?limit=3&offset=2`);
    assert.deepEqual(uids(page.json(), '00080018'), all.slice(2, 5));
    assert.match(String(page.headers['warning']), /^299 .*additional results/);
    const last = await get(`/studies/${QA_STUDY}/instances?limit=3&offset=6`);
    assert.equal(last.json().length, 3);
    assert.equal(last.headers['warning'], undefined);
    assert.deepEqual((await get('/studies?limit=0')).json(), []);
  });

  it('includefield adds attributes from the stored instance, by keyword, tag or all', async () => {
    const r = await get(`/studies?StudyInstanceUID=${QA_STUDY}&includefield=InstitutionName&includefield=00180087`);
    assert.equal(value(r.json()[0], '00080080'), 'USC');
    assert.equal(value(r.json()[0], '00180087'), 3, 'MagneticFieldStrength (DS) as a number');
    const plain = await get(`/studies?StudyInstanceUID=${QA_STUDY}`);
    assert.equal((plain.json()[0] as Record<string, unknown>)['00080080'], undefined);
    const all = await get(`/studies/${CT_STUDY}/instances?includefield=all`);
    const attrs = all.json()[0] as Record<string, { vr: string }>;
    assert.equal(attrs['00180050']?.vr, 'DS', 'SliceThickness from the file');
    assert.equal(attrs['7FE00010'], undefined, 'no pixel data in QIDO');
  });

  it('fuzzymatching is accepted, ignored, and says so in a Warning header', async () => {
    const r = await get('/studies?PatientName=stc*&fuzzymatching=true');
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['warning']), /fuzzymatching parameter is not supported/);
  });

  it('rejects unknown parameters and bad values with 400 and a clear message; JSON only (406 otherwise)', async () => {
    for (const q of ['?PatientNam=x', '?limit=-1', '?limit=abc', '?offset=1.5', '?fuzzymatching=maybe', '?includefield=Nonsense', '?00100010.00100020=x']) {
      const r = await get(`/studies${q}`);
      assert.equal(r.statusCode, 400, q);
      assert.equal(r.json().code, 'HTTP_BAD_REQUEST', q);
    }
    assert.match((await get('/studies?PatientNam=x')).json().message, /unknown query parameter "PatientNam"/);
    assert.equal((await get('/studies?StudyDate=2020-2021-2022')).statusCode, 400);
    assert.equal((await get('/studies', { accept: 'application/dicom+xml' })).statusCode, 406);
    assert.equal((await get('/studies', { accept: 'application/json' })).statusCode, 200);
    assert.equal((await get('/studies/bad!uid/series')).statusCode, 400);
  });
});
