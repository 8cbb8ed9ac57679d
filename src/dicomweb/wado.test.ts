import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { parseDicom } from '../dicom/index.ts';
import { nativeBytes } from './wado.ts';
import {
  CT_SMALL, EMRI_J2K, QA_FILES, QA_SERIES, QA_STUDY, STOW_TYPE, type TestServer, multipartBody, splitMultipart, startTestServer,
} from './test-support.ts';

interface Stored { readonly bytes: Buffer; readonly study: string; readonly series: string; readonly sop: string; readonly ts: string }

function pngInfo(png: Buffer): { width: number; height: number; channels: number; pixels: number } {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const channels = png[25] === 2 ? 3 : 1;
  const idat: Buffer[] = [];
  for (let p = 8; p < png.length;) {
    const len = png.readUInt32BE(p);
    if (png.toString('latin1', p + 4, p + 8) === 'IDAT') idat.push(png.subarray(p + 8, p + 8 + len));
    p += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, (width * channels + 1) * height, 'IDAT inflates to the declared size');
  return { width, height, channels, pixels: raw.length };
}

describe('WADO-RS', () => {
  let s: TestServer;
  const byFile = new Map<string, Stored>();
  const get = (url: string, accept?: string) => s.app.inject({ method: 'GET', url: `/dicom-web${url}`, headers: accept ? { accept } : {} });
  const inst = (f: string) => {
    const x = byFile.get(f);
    assert.ok(x);
    return { ...x, path: `/studies/${x.study}/series/${x.series}/instances/${x.sop}` };
  };
  before(async () => {
    s = await startTestServer();
    const files = [...QA_FILES, CT_SMALL, EMRI_J2K];
    const bytes = await Promise.all(files.map((f) => readFile(f)));
    const r = await s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: multipartBody(bytes) });
    assert.equal(r.statusCode, 200, r.body);
    files.forEach((f, i) => {
      const b = bytes[i] as Buffer;
      const ds = parseDicom(b, f, { headerOnly: true, fileSize: b.length });
      byFile.set(f, { bytes: b, study: String(ds.dataset['StudyInstanceUID']), series: String(ds.dataset['SeriesInstanceUID']), sop: String(ds.dataset['SOPInstanceUID']), ts: ds.transferSyntaxUID });
    });
  });
  after(async () => { await s.close(); });

  it('retrieves an instance byte-identical to what was stored, multipart or single part', async () => {
    const x = inst(CT_SMALL);
    const r = await get(x.path);
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^multipart\/related; type="application\/dicom"; boundary=/);
    const parts = splitMultipart(r.rawPayload, String(r.headers['content-type']));
    assert.equal(parts.length, 1);
    assert.ok(parts[0]?.body.equals(x.bytes), 'byte-identical');
    assert.equal(parts[0]?.headers['content-type'], `application/dicom; transfer-syntax=${x.ts}`);
    const single = await get(x.path, 'application/dicom');
    assert.equal(single.statusCode, 200);
    assert.ok(single.rawPayload.equals(x.bytes));
  });

  it('retrieves a series and a study: every instance, each byte-identical, stored transfer syntaxes kept with transfer-syntax=*', async () => {
    const r = await get(`/studies/${QA_STUDY}/series/${QA_SERIES}`, 'multipart/related; type="application/dicom"; transfer-syntax=*');
    assert.equal(r.statusCode, 200);
    const parts = splitMultipart(r.rawPayload, String(r.headers['content-type']));
    assert.equal(parts.length, 9);
    const originals = QA_FILES.map((f) => inst(f).bytes);
    for (const p of parts) assert.ok(originals.some((o) => o.equals(p.body)), 'each part is one of the stored files');
    assert.equal(new Set(parts.map((p) => p.headers['content-type'])).size > 3, true, 'several transfer syntaxes');
    const study = await get(`/studies/${QA_STUDY}`);
    assert.equal(splitMultipart(study.rawPayload, String(study.headers['content-type'])).length, 9);
  });

  it('406 when only a transfer syntax we do not hold is acceptable, or a media type we do not make', async () => {
    const jpeg = inst(QA_FILES[4] as string); // JPEG lossless process 14
    const r = await get(jpeg.path, 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.1');
    assert.equal(r.statusCode, 406);
    assert.equal(r.json().code, 'HTTP_NOT_ACCEPTABLE');
    const ok = await get(jpeg.path, `multipart/related; type="application/dicom"; transfer-syntax=${jpeg.ts}`);
    assert.equal(ok.statusCode, 200);
    assert.equal((await get(jpeg.path, 'image/jpeg')).statusCode, 406);
    assert.equal((await get(`/studies/${QA_STUDY}`, 'application/dicom')).statusCode, 406, 'single part only for one instance');
    assert.equal((await get(`${jpeg.path}/metadata`, 'application/dicom+xml')).statusCode, 406);
    assert.equal((await get(`${jpeg.path}/frames/1`, 'multipart/related; type="image/jls"')).statusCode, 406);
    assert.equal((await get(`${jpeg.path}/rendered`, 'image/jpeg')).statusCode, 406);
  });

  it('metadata is DICOM JSON without bulk data, with a BulkDataURI that resolves to the pixels', async () => {
    const x = inst(CT_SMALL);
    const r = await get(`/studies/${x.study}/metadata`);
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /^application\/dicom\+json/);
    const [md] = r.json() as Array<Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>>;
    assert.ok(md);
    assert.deepEqual(md['00100010'], { vr: 'PN', Value: [{ Alphabetic: 'CompressedSamples^CT1' }] });
    assert.deepEqual(md['00280010'], { vr: 'US', Value: [128] });
    assert.equal(md['00281052']?.vr, 'DS');
    assert.equal(typeof md['00281052']?.Value?.[0], 'number');
    assert.equal(md['7FE00010']?.vr, 'OW');
    const uri = md['7FE00010']?.BulkDataURI;
    assert.ok(uri && !md['7FE00010']?.InlineBinary);
    const bulk = await s.app.inject({ method: 'GET', url: new URL(uri).pathname });
    assert.equal(bulk.statusCode, 200);
    const frames = splitMultipart(bulk.rawPayload, String(bulk.headers['content-type']));
    assert.equal(frames[0]?.body.length, 128 * 128 * 2);
    const series = await get(`/studies/${QA_STUDY}/series/${QA_SERIES}/metadata`);
    assert.equal(series.json().length, 9);
  });

  it('frames of compressed instances equal our decoder output (JPEG lossless, JPEG 2000 multi-frame)', async () => {
    for (const [f, list] of [[QA_FILES[4] as string, [1]], [EMRI_J2K, [2, 10, 5]]] as const) {
      const x = inst(f);
      const r = await get(`${x.path}/frames/${list.join(',')}`);
      assert.equal(r.statusCode, 200, r.body.slice(0, 300));
      assert.match(String(r.headers['content-type']), /^multipart\/related; type="application\/octet-stream"/);
      const parts = splitMultipart(r.rawPayload, String(r.headers['content-type']));
      assert.equal(parts.length, list.length);
      const file = parseDicom(x.bytes, f);
      for (const [i, n] of list.entries()) {
        const expected = Buffer.from(nativeBytes(await file.decodeFrame(n - 1), file.pixel!));
        assert.ok(parts[i]?.body.equals(expected), `${f} frame ${n}`);
      }
    }
  });

  it('rendered and thumbnail are decodable PNGs of the right size', async () => {
    const x = inst(CT_SMALL);
    const r = await get(`${x.path}/rendered?window=40,400,linear`);
    assert.equal(r.statusCode, 200);
    assert.equal(r.headers['content-type'], 'image/png');
    assert.deepEqual(pngInfo(r.rawPayload), { width: 128, height: 128, channels: 1, pixels: 129 * 128 });
    const vp = await get(`${x.path}/rendered?viewport=64,32`);
    assert.equal(pngInfo(vp.rawPayload).height, 32);
    const j2k = inst(EMRI_J2K);
    const frame = await get(`${j2k.path}/frames/3/rendered`);
    assert.equal(frame.statusCode, 200);
    assert.equal(pngInfo(frame.rawPayload).width, 64);
    const thumb = await get(`/studies/${QA_STUDY}/thumbnail`);
    assert.equal(thumb.statusCode, 200);
    const t = pngInfo(thumb.rawPayload);
    assert.ok(t.width <= 128 && t.height <= 128 && Math.max(t.width, t.height) === 128, `${t.width}×${t.height}`);
    // Different windows give different pictures: the window parameter is applied.
    const narrow = await get(`${x.path}/rendered?window=40,10`);
    assert.ok(!narrow.rawPayload.equals(r.rawPayload));
    assert.equal((await get(`${x.path}/rendered?window=40,0`)).statusCode, 400);
    assert.equal((await get(`${x.path}/rendered?bogus=1`)).statusCode, 400);
  });

  it('404 for what is not there, 400 for bad frame lists, JSON errors throughout', async () => {
    const x = inst(CT_SMALL);
    for (const url of ['/studies/1.2.3', `/studies/${x.study}/series/1.2.3`, `/studies/${QA_STUDY}/series/${x.series}/instances/${x.sop}`, `/studies/1.2.3/metadata`, '/no/such/route']) {
      const r = await get(url);
      assert.equal(r.statusCode, 404, url);
      assert.equal(r.json().code, 'NOT_FOUND', url);
    }
    const out = await get(`${x.path}/frames/2`);
    assert.equal(out.statusCode, 400);
    assert.equal(out.json().code, 'DICOM_FRAME_OUT_OF_RANGE');
    for (const list of ['0', 'a', '1,,2', '-1']) assert.equal((await get(`${x.path}/frames/${list}`)).statusCode, 400, list);
  });
});
