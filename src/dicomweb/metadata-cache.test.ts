import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import type { InstanceRecord } from '../archive/types.ts';
import { silentLogger } from '../core/log.ts';
import { codecFor, parseDicom } from '../dicom/index.ts';
import { type DicomWebContext, instanceUrl, readHeader } from './context.ts';
import { type DicomJson, datasetToJson, setAttribute, sortJson } from './dicom-json.ts';
import { type CachedMetadata, MetadataCache, configureMetadataCache, mapBounded, metadataCacheFor, renderMetadata, versionOf } from './metadata-cache.ts';
import { CT_SMALL, EMRI_J2K, MR_SMALL, QA_FILES, QA_SERIES, QA_STUDY, STOW_TYPE, type TestServer, multipartBody, startTestServer } from './test-support.ts';

const text = (s: string): CachedMetadata => ({ pieces: [s] });

function rec(sop: string, sha256: string): InstanceRecord {
  return {
    sopInstanceUid: sop, sopClassUid: '1.2', seriesInstanceUid: '1.3', studyInstanceUid: '1.4', patientId: 'P', transferSyntaxUid: '1.2.840.10008.1.2.1',
    instanceNumber: 1, numberOfFrames: 1, rows: 1, columns: 1, sizeBytes: 100, sha256, blobKey: `k/${sop}`, receivedAt: '2026-01-01T00:00:00Z',
    origin: { via: 'import' } as InstanceRecord['origin'],
  };
}

describe('MetadataCache', () => {
  it('evicts the least recently used entries once the size bound is passed, and never keeps what cannot fit', () => {
    const one = 'x'.repeat(1000);
    const c = new MetadataCache({ maxBytes: 7000 }); // each entry ≈ 2 KB of UTF-16 plus overhead: three fit
    for (const sop of ['1', '2', '3']) c.set(sop, 'v', text(one));
    assert.equal(c.stats().entries, 3);
    assert.ok(c.get('1', 'v')); // 1 is now the most recently used
    c.set('4', 'v', text(one));
    assert.equal(c.get('2', 'v'), undefined, 'the least recently used went first');
    assert.ok(c.get('1', 'v') && c.get('3', 'v') && c.get('4', 'v'));
    assert.ok(c.stats().bytes <= 7000);
    assert.equal(c.stats().evictions, 1);
    c.set('5', 'v', text('y'.repeat(10_000)));
    assert.equal(c.get('5', 'v'), undefined, 'larger than the whole cache');
    const off = new MetadataCache({ maxBytes: 0 });
    off.set('1', 'v', text('a'));
    assert.equal(off.stats().entries, 0);
  });

  it('an entry read from another version of the instance is dropped, not served', () => {
    const c = new MetadataCache();
    c.set('1.2.3', versionOf(rec('1.2.3', 'aa')), text('old'));
    assert.equal(c.get('1.2.3', versionOf(rec('1.2.3', 'bb'))), undefined);
    assert.equal(c.get('1.2.3', versionOf(rec('1.2.3', 'aa'))), undefined, 'dropped on the mismatching lookup');
    assert.equal(c.stats().bytes, 0);
  });

  it('concurrent fetches of one instance version share one load; a failed load is not cached', async () => {
    const c = new MetadataCache();
    let loads = 0;
    const load = async (): Promise<CachedMetadata> => { loads++; await new Promise((r) => setImmediate(r)); return text('{}'); };
    const r = rec('1.2.9', 'cc');
    await Promise.all([c.fetch(r, load), c.fetch(r, load), c.fetch(r, load)]);
    assert.equal(loads, 1);
    await c.fetch(r, load);
    assert.equal(loads, 1);
    assert.equal(c.stats().hits, 1);
    const bad = rec('1.2.10', 'dd');
    await assert.rejects(c.fetch(bad, () => Promise.reject(new Error('boom'))), /boom/);
    assert.equal(await c.fetch(bad, load).then(() => loads), 2, 'loaded again after the failure');
  });

  it('renders the service root JSON-escaped where it was left open', () => {
    const m: CachedMetadata = { pieces: ['{"a":"', '/x"}'] };
    assert.equal(renderMetadata(m, 'http://h"q/dw'), JSON.stringify({ a: 'http://h"q/dw/x' }));
  });

  it('mapBounded keeps order and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapBounded(Array.from({ length: 20 }, (_, i) => i), 3, async (x) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return x * 2;
    });
    assert.deepEqual(out, Array.from({ length: 20 }, (_, i) => i * 2));
    assert.equal(peak, 3);
  });
});

/** The metadata response as wado.ts built it before the cache: every header read whole-chunked, JSON built anew. */
async function reference(ctx: DicomWebContext, list: readonly InstanceRecord[], root: string): Promise<string> {
  const out: DicomJson[] = [];
  for (const r of list) {
    const head = await readHeader(ctx, r);
    const url = instanceUrl(root, r.studyInstanceUid, r.seriesInstanceUid, r.sopInstanceUid);
    const json = datasetToJson(head.dataset, { signed: head.pixel?.PixelRepresentation === 1 });
    if (head.pixel) {
      const frames = Array.from({ length: head.frameCount }, (_, i) => i + 1).join(',');
      json['7FE00010'] = { vr: codecFor(head.transferSyntaxUID) === 'native' && head.pixel.BitsAllocated > 8 ? 'OW' : 'OB', BulkDataURI: `${url}/frames/${frames}` };
    }
    if (json['00080005']) setAttribute(json, 'SpecificCharacterSet', 'ISO_IR 192');
    setAttribute(json, 'AvailableTransferSyntaxUID', r.transferSyntaxUid);
    out.push(sortJson(json));
  }
  return JSON.stringify(out);
}

describe('WADO-RS metadata through the cache', () => {
  let s: TestServer;
  let ctx: DicomWebContext;
  const uids = new Map<string, { study: string; series: string; sop: string }>();
  const get = (url: string, host = 'localhost') => s.app.inject({ method: 'GET', url: `/dicom-web${url}`, headers: { host } });
  const stow = (parts: Uint8Array[]) => s.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': STOW_TYPE }, payload: multipartBody(parts) });

  before(async () => {
    s = await startTestServer();
    ctx = { archive: s.archive, log: silentLogger, maxUploadBytes: 1 << 26, prefix: '/dicom-web' };
    const files = [...QA_FILES, CT_SMALL, MR_SMALL, EMRI_J2K];
    const bytes = await Promise.all(files.map((f) => readFile(f)));
    const r = await stow(bytes);
    assert.equal(r.statusCode, 200, r.body);
    files.forEach((f, i) => {
      const ds = parseDicom(bytes[i] as Buffer, f, { headerOnly: true }).dataset;
      uids.set(f, { study: String(ds['StudyInstanceUID']), series: String(ds['SeriesInstanceUID']), sop: String(ds['SOPInstanceUID']) });
    });
  });
  after(async () => { await s.close(); });

  it('cold, warm and uncached responses are byte-identical to the uncached reference, for any service root', async () => {
    const cache = configureMetadataCache(s.archive, { maxBytes: 16 * 1024 * 1024 });
    const paths: Array<[string, InstanceRecord[]]> = [[`/studies/${QA_STUDY}/series/${QA_SERIES}/metadata`, await s.archive.listInstances({ seriesInstanceUid: QA_SERIES })]];
    for (const f of [CT_SMALL, MR_SMALL, EMRI_J2K]) {
      const u = uids.get(f);
      assert.ok(u);
      paths.push([`/studies/${u.study}/metadata`, await s.archive.listInstances({ studyInstanceUid: u.study })]);
      paths.push([`/studies/${u.study}/series/${u.series}/instances/${u.sop}/metadata`, await s.archive.listInstances({ studyInstanceUid: u.study })]);
    }
    for (const [url, list] of paths) {
      const cold = await get(url);
      assert.equal(cold.statusCode, 200, url);
      const hitsBefore = cache.stats().hits;
      const warm = await get(url);
      assert.ok(cache.stats().hits > hitsBefore, `${url}: the second response came from the cache`);
      const other = await get(url, 'viewer.example:8443');
      assert.match(other.body, /http:\/\/viewer\.example:8443\/dicom-web\/studies\//, 'BulkDataURI follows the request');
      assert.ok(cold.rawPayload.equals(warm.rawPayload), url);
      assert.ok(cold.body === await reference(ctx, list, 'http://localhost/dicom-web'), `${url}: cold equals the reference`);
      assert.ok(other.body === await reference(ctx, list, 'http://viewer.example:8443/dicom-web'), `${url}: other root equals the reference`);
    }
    configureMetadataCache(s.archive, { maxBytes: 0 });
    for (const [url] of paths) {
      const uncached = await get(url);
      configureMetadataCache(s.archive, { maxBytes: 16 * 1024 * 1024 });
      const cached1 = await get(url);
      const cached2 = await get(url);
      assert.ok(uncached.rawPayload.equals(cached1.rawPayload) && cached1.rawPayload.equals(cached2.rawPayload), url);
      configureMetadataCache(s.archive, { maxBytes: 0 });
    }
    assert.equal(metadataCacheFor(s.archive).stats().entries, 0, 'a 0-byte cache keeps nothing');
    configureMetadataCache(s.archive, { maxBytes: 16 * 1024 * 1024 });
  });

  it('an instance re-stored with changed attributes under the same SOP Instance UID is served fresh', async () => {
    const u = uids.get(CT_SMALL);
    assert.ok(u);
    const url = `/studies/${u.study}/series/${u.series}/metadata`;
    const name = (body: string) => (JSON.parse(body) as Array<Record<string, { Value?: Array<{ Alphabetic?: string }> }>>)[0]?.['00100010']?.Value?.[0]?.Alphabetic;
    const cache = metadataCacheFor(s.archive);
    assert.equal(name((await get(url)).body), 'CompressedSamples^CT1');
    const hits = cache.stats().hits;
    assert.equal(name((await get(url)).body), 'CompressedSamples^CT1');
    assert.ok(cache.stats().hits > hits, 'cached');
    const original = await readFile(CT_SMALL);
    const at = original.indexOf('CompressedSamples^CT1');
    assert.ok(at > 0);
    const changed = Buffer.from(original);
    changed.write('ResentSamples^CT1XXXX', at, 'latin1'); // same length: the file stays well formed
    const r = await stow([changed]);
    assert.equal(r.statusCode, 200, r.body);
    const fresh = await get(url);
    assert.equal(name(fresh.body), 'ResentSamples^CT1XXXX');
    const list = await s.archive.listInstances({ seriesInstanceUid: u.series });
    assert.ok(fresh.body === await reference(ctx, list, 'http://localhost/dicom-web'), 'the fresh response equals the reference');
  });

  it('one instance\'s metadata warms the rest of its series in the background', async () => {
    const cache = configureMetadataCache(s.archive, { maxBytes: 16 * 1024 * 1024 });
    const first = await s.archive.listInstances({ seriesInstanceUid: QA_SERIES });
    const one = first[0];
    assert.ok(one);
    assert.equal((await get(`/studies/${QA_STUDY}/series/${QA_SERIES}/instances/${one.sopInstanceUid}/metadata`)).statusCode, 200);
    for (let i = 0; i < 500 && cache.stats().entries < first.length; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(cache.stats().entries, first.length);
    const misses = cache.stats().misses;
    assert.equal((await get(`/studies/${QA_STUDY}/series/${QA_SERIES}/metadata`)).statusCode, 200);
    assert.equal(cache.stats().misses, misses, 'the series request found every instance cached');
  });
});
