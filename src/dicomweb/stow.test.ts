import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { BOUNDARY, CT_SMALL, MR_SMALL, QA_FILES, QA_STUDY, STOW_TYPE, type TestServer, multipartBody, startTestServer, value } from './test-support.ts';

const SQ_REFERENCED = '00081199';
const SQ_FAILED = '00081198';

function items(json: unknown, tag: string): unknown[] {
  return ((json as Record<string, { Value?: unknown[] }>)[tag]?.Value ?? []);
}

describe('STOW-RS', () => {
  let s: TestServer;
  let qa: Buffer[];
  let ct: Buffer;
  let mr: Buffer;
  before(async () => {
    s = await startTestServer({ maxUploadBytes: 4 * 1024 * 1024 });
    qa = await Promise.all(QA_FILES.map((f) => readFile(f)));
    ct = await readFile(CT_SMALL);
    mr = await readFile(MR_SMALL);
  });
  after(async () => { await s.close(); });

  it('stores a multi-part request of real files in nine transfer syntaxes: 200, each instance referenced', async () => {
    const r = await s.app.inject({ method: 'POST', url: `/dicom-web/studies/${QA_STUDY}`, headers: { 'content-type': STOW_TYPE, accept: 'application/dicom+json' }, payload: multipartBody(qa) });
    assert.equal(r.statusCode, 200, r.body);
    assert.match(String(r.headers['content-type']), /^application\/dicom\+json/);
    const json = r.json();
    const refs = items(json, SQ_REFERENCED);
    assert.equal(refs.length, 9);
    assert.equal(items(json, SQ_FAILED).length, 0);
    assert.match(String(value(json, '00081190')), new RegExp(`/dicom-web/studies/${QA_STUDY.replace(/\./g, '\\.')}$`));
    for (const ref of refs) {
      const sop = String(value(ref, '00081155'));
      assert.ok(await s.archive.getInstance(sop), `${sop} is in the archive`);
      assert.match(String(value(ref, '00081190')), new RegExp(`/instances/${sop.replace(/\./g, '\\.')}$`));
    }
    const list = await s.archive.listInstances({ studyInstanceUid: QA_STUDY });
    assert.equal(list.length, 9);
    assert.equal(s.stored.length, 9, 'onStored called once per stored instance');
  });

  it('rejects an instance of another study than the URL names (0xA900) and stores the rest: 202', async () => {
    const r = await s.app.inject({ method: 'POST', url: `/dicom-web/studies/${QA_STUDY}`, headers: { 'content-type': STOW_TYPE }, payload: multipartBody([ct, qa[0] as Buffer]) });
    assert.equal(r.statusCode, 202, r.body);
    const failed = items(r.json(), SQ_FAILED);
    assert.equal(failed.length, 1);
    assert.equal(value(failed[0], '00081197'), 0xa900);
    assert.equal(value(failed[0], '00081155'), '1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322');
    assert.equal(items(r.json(), SQ_REFERENCED).length, 1);
    assert.equal(await s.archive.getInstance('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'), undefined);
  });

  it('answers 409 when every part fails; a non-DICOM part is 0xC000', async () => {
    const r = await s.app.inject({
      method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE },
      payload: multipartBody([Buffer.from('this is not DICOM at all, just text'), { type: 'text/plain', body: Buffer.from('x') }]),
    });
    assert.equal(r.statusCode, 409, r.body);
    const failed = items(r.json(), SQ_FAILED);
    assert.deepEqual(failed.map((f) => value(f, '00081197')), [0xc000, 0xc000]);
  });

  it('a truncated body: 400 HTTP_BODY_TRUNCATED, complete parts stored and reported, the cut part not stored', async () => {
    const whole = multipartBody([ct, mr], false);
    const cut = whole.subarray(0, whole.length - mr.length / 2);
    const r = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: cut });
    assert.equal(r.statusCode, 400, r.body);
    const err = r.json();
    assert.equal(err.code, 'HTTP_BODY_TRUNCATED');
    const refs = items(err.details.storeResponse, SQ_REFERENCED);
    assert.deepEqual(refs.map((x) => value(x, '00081155')), ['1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322']);
    assert.ok(await s.archive.getInstance('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'));
    assert.equal(await s.archive.getInstance('1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457'), undefined);
  });

  it('an oversize body: 413 from Content-Length before reading, and 413 mid-stream without one', async () => {
    const big = multipartBody([Buffer.alloc(5 * 1024 * 1024)]);
    const r = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: big });
    assert.equal(r.statusCode, 413);
    assert.equal(r.json().code, 'HTTP_PAYLOAD_TOO_LARGE');
    // A streamed body (no Content-Length): complete parts before the limit are stored and reported.
    const streamed = Readable.from([multipartBody([mr], false), Buffer.from(`--${BOUNDARY}\r\n\r\n`), Buffer.alloc(5 * 1024 * 1024)]);
    const r2 = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: streamed });
    assert.equal(r2.statusCode, 413, r2.body);
    assert.equal(r2.json().code, 'HTTP_PAYLOAD_TOO_LARGE');
    assert.equal(items(r2.json().details.storeResponse, SQ_REFERENCED).length, 1);
  });

  it('wrong media types: 415; no boundary or no parts: 400; unacceptable response type: 406', async () => {
    const post = (headers: Record<string, string>, payload: string | Buffer = 'x') => s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers, payload });
    const r1 = await post({ 'content-type': 'application/json' }, '{}');
    assert.equal(r1.statusCode, 415);
    assert.equal(r1.json().code, 'HTTP_UNSUPPORTED_MEDIA_TYPE');
    assert.equal((await post({ 'content-type': 'multipart/related; type="application/dicom+json"; boundary=a' })).statusCode, 415);
    assert.equal((await post({ 'content-type': 'multipart/related; type="application/dicom"' })).json().code, 'HTTP_BAD_REQUEST');
    assert.equal((await post({ 'content-type': STOW_TYPE }, multipartBody([]))).statusCode, 400);
    assert.equal((await post({ 'content-type': STOW_TYPE, accept: 'application/dicom+xml' }, multipartBody([mr]))).statusCode, 406);
    assert.equal((await s.app.inject({ method: 'POST', url: '/dicom-web/studies/not-a-uid', headers: { 'content-type': STOW_TYPE }, payload: multipartBody([mr]) })).statusCode, 400);
  });

  it('survives hostile parts: random bytes, cut DICOM, a DICOM preamble with nothing after it', async () => {
    const junk = [Buffer.from(Array.from({ length: 4000 }, (_, i) => (i * 7919) & 0xff)), ct.subarray(0, 700), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')])];
    const r = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: multipartBody(junk) });
    assert.equal(r.statusCode, 409, r.body);
    assert.equal(items(r.json(), SQ_FAILED).length, 3);
    const ok = await s.app.inject({ method: 'GET', url: '/dicom-web/studies' });
    assert.equal(ok.statusCode, 200, 'still serving');
  });
});
