/**
 * Part 10 reading: every file of the conformance corpus either parses and decodes all its frames or
 * throws an SrError with a DICOM_* code, within a time bound; seeded truncation/bit-flip fuzzing; the
 * naturalized dataset shape; header-only reading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError } from '../core/errors.ts';
import { parseDicom, readDicomFile, readDicomHeader, isDicomFileCandidate } from './parse.ts';
import { getSequence, getNumbers } from './dataset.ts';
import { seededRandom } from '../core/random.ts';

const DATA = join(import.meta.dirname, '../../../shared/data/dicom-conformance');
const T = join(DATA, 'pydicom/test_files');
const P = join(DATA, 'pydicom-data');

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

/** Parse + decode every frame; returns 'ok' or the error code. Anything not an SrError DICOM_* fails the test. */
async function outcome(bytes: Uint8Array, source: string): Promise<string> {
  try {
    const f = parseDicom(bytes, source);
    for (let i = 0; i < f.frameCount; i++) await f.decodeFrame(i);
    return 'ok';
  } catch (e) {
    assert.ok(isSrError(e), `${source}: threw a non-SrError: ${String(e)}`);
    assert.match(e.code, /^DICOM_/, `${source}: ${e.code}`);
    assert.equal(e.details['source'], source, `${source}: error does not name the file`);
    return e.code;
  }
}

test('whole corpus: each file parses and decodes, or fails with a DICOM_* SrError naming it', { timeout: 180_000 }, async () => {
  const files = walk(DATA);
  assert.ok(files.length > 250, `corpus has ${files.length} files`);
  const counts = new Map<string, number>();
  const started = Date.now();
  for (const file of files) {
    const t0 = Date.now();
    const code = await outcome(new Uint8Array(readFileSync(file)), file);
    counts.set(code, (counts.get(code) ?? 0) + 1);
    assert.ok(Date.now() - t0 < 20_000, `${file} took ${Date.now() - t0} ms`);
  }
  assert.ok(Date.now() - started < 150_000, 'corpus within 150 s');
  // Non-DICOM files (text, JSON, NIfTI, gzip, ICC) are recognised as such.
  assert.ok((counts.get('DICOM_NOT_DICOM') ?? 0) >= 20, 'non-DICOM files recognised');
  assert.ok((counts.get('ok') ?? 0) >= 250, `only ${counts.get('ok')} files decoded`);
});

test('known-bad files give the right code', async () => {
  const expect: Array<[string, string]> = [
    [join(T, 'MR_truncated.dcm'), 'DICOM_TRUNCATED'],
    [join(T, 'rtplan_truncated.dcm'), 'DICOM_TRUNCATED'],
    [join(T, 'zipMR.gz'), 'DICOM_NOT_DICOM'],
    [join(T, 'crayons.icc'), 'DICOM_NOT_DICOM'],
    [join(T, 'README.txt'), 'DICOM_NOT_DICOM'],
    [join(DATA, 'dcm_qa_ts/Ref/1.nii'), 'DICOM_NOT_DICOM'],
    [join(T, 'JPEG2000-embedded-sequence-delimiter.dcm'), 'DICOM_DECODE_FAILED'],
  ];
  for (const [file, code] of expect) assert.equal(await outcome(new Uint8Array(readFileSync(file)), file), code, file);
  await assert.rejects(readDicomFile(join(T, 'does-not-exist.dcm')), { code: 'NOT_FOUND' });
});

test('files without preamble / file meta, with missing transfer syntax, with UN and private sequences', async () => {
  const le = await readDicomFile(join(T, 'ExplVR_LitEndNoMeta.dcm'));
  const be = await readDicomFile(join(T, 'ExplVR_BigEndNoMeta.dcm'));
  assert.equal(le.transferSyntaxUID, '1.2.840.10008.1.2.1');
  assert.equal(be.transferSyntaxUID, '1.2.840.10008.1.2.2');
  assert.deepEqual(le.dataset, be.dataset, 'little and big endian copies read the same');
  assert.ok(Object.keys(le.dataset).length > 5, 'no-meta dataset has elements');
  const nm = await readDicomFile(join(T, 'no_meta_group_length.dcm'));
  assert.deepEqual(Object.keys(nm.dataset), ['ImageType', 'InstanceCreationDate', 'InstanceCreationTime'], 'meta without group length');
  assert.equal(nm.transferSyntaxUID, '1.2.840.10008.1.2');
  const missing = await readDicomFile(join(T, 'meta_missing_tsyntax.dcm'));
  assert.equal(missing.transferSyntaxUID, '1.2.840.10008.1.2');
  const un = await readDicomFile(join(P, 'explicit_VR-UN.dcm'));
  assert.equal(typeof un.dataset['PatientName'], 'object', 'UN element re-read with its dictionary VR');
  const priv = await readDicomFile(join(T, 'priv_SQ.dcm'));
  assert.ok(Object.values(priv.dataset).some((v) => Array.isArray(v) && typeof v[0] === 'object'), 'private sequence kept');
});

test('enhanced CT keeps per-frame and shared functional groups in the naturalized dataset', async () => {
  const f = await readDicomFile(join(P, 'eCT_Supplemental.dcm'));
  assert.equal(f.frameCount, 2);
  const perFrame = getSequence(f.dataset, 'PerFrameFunctionalGroupsSequence');
  assert.equal(perFrame.length, 2);
  const pos = perFrame.map((g) => getNumbers(getSequence(g, 'PlanePositionSequence')[0] ?? {}, 'ImagePositionPatient'));
  assert.ok(pos[0] && pos[1] && pos[0].length === 3 && pos[0][2] !== pos[1][2], 'per-frame positions differ');
  const shared = getSequence(f.dataset, 'SharedFunctionalGroupsSequence')[0];
  assert.ok(shared, 'shared functional groups present');
  const orient = getNumbers(getSequence(shared, 'PlaneOrientationSequence')[0] ?? {}, 'ImageOrientationPatient');
  assert.equal(orient?.length, 6);
  assert.equal(f.dataset['PixelData'], undefined, 'PixelData is not in the dataset');
});

test('naturalized values: numbers, multi-valued strings, PN objects, nested sequences', async () => {
  const f = await readDicomFile(join(T, 'CT_small.dcm'));
  const ds = f.dataset;
  assert.equal(ds['Rows'], 128);
  assert.equal(typeof ds['RescaleIntercept'], 'number');
  assert.deepEqual(getNumbers(ds, 'ImagePositionPatient')?.length, 3);
  assert.ok(Array.isArray(ds['ImageType']), 'multi-valued CS is an array');
  assert.equal(typeof (ds['PatientName'] as Record<string, unknown>)['Alphabetic'], 'string');
  assert.equal(f.pixel?.PixelRepresentation, 1);
  const frame = await f.decodeFrame(0);
  assert.ok(frame.data instanceof Int16Array, 'Int16Array');
  assert.equal(frame.data.length, 128 * 128);
});

test('readDicomHeader gives the same dataset as a full read, without pixel decoding', async () => {
  for (const file of [join(T, 'CT_small.dcm'), join(P, 'eCT_Supplemental.dcm'), join(T, 'image_dfl.dcm'), join(DATA, 'dcm_qa_ts/In/4.dcm')]) {
    const h = await readDicomHeader(file);
    const full = await readDicomFile(file);
    assert.deepEqual(Object.keys(h.dataset), Object.keys(full.dataset), file);
    assert.deepEqual(h.pixel, full.pixel, file);
    assert.equal(h.frameCount, full.frameCount);
  }
  assert.equal(await isDicomFileCandidate(join(T, 'CT_small.dcm')), true);
  assert.equal(await isDicomFileCandidate(join(T, 'ExplVR_LitEndNoMeta.dcm')), true);
  assert.equal(await isDicomFileCandidate(join(T, 'README.txt')), false);
  assert.equal(await isDicomFileCandidate(join(T, 'nope')), false);
});

test('readDicomHeader reports a file cut inside its pixel data as DICOM_TRUNCATED (not at decode time)', async () => {
  const whole = readFileSync(join(T, 'CT_small.dcm'));
  const dir = mkdtempSync(join(tmpdir(), 'sr-trunc-'));
  const cut = join(dir, 'cut.dcm');
  writeFileSync(cut, whole.subarray(0, whole.length - 1000));
  await assert.rejects(readDicomHeader(cut), (e: unknown) => isSrError(e, 'DICOM_TRUNCATED') && e.details['source'] === cut);
  await assert.rejects(readDicomFile(cut), (e: unknown) => isSrError(e, 'DICOM_TRUNCATED'));
});

const rng = seededRandom;

test('fuzz: truncations and byte flips end in success or a DICOM_* SrError, never a hang', { timeout: 120_000 }, async () => {
  const seeds = [
    join(T, 'CT_small.dcm'), join(T, 'MR_small_RLE.dcm'), join(T, 'MR_small_jpeg_ls_lossless.dcm'),
    join(T, 'MR_small_jp2klossless.dcm'), join(T, 'MR_small_bigendian.dcm'), join(T, 'MR_small_implicit.dcm'),
    join(P, 'emri_small_jpeg_2k_lossless.dcm'), join(T, 'SC_rgb_jpeg_dcmtk.dcm'), join(T, 'image_dfl.dcm'),
    join(P, 'JPEG-LL.dcm'), join(P, 'HTJ2K_08_RGB.dcm'), join(P, 'eCT_Supplemental.dcm'), join(T, 'rtplan.dcm'),
  ];
  const rand = rng(20240601);
  for (const file of seeds) {
    const orig = new Uint8Array(readFileSync(file));
    for (let k = 0; k < 6; k++) {
      const cut = orig.slice(0, Math.floor(rand() * orig.length));
      const t0 = Date.now();
      await outcome(cut, `${file}#cut${cut.length}`);
      const flipped = orig.slice();
      const nflips = 1 + Math.floor(rand() * 8);
      for (let j = 0; j < nflips; j++) {
        // Half the flips hit the header, where lengths and tags live.
        const at = rand() < 0.5 ? Math.floor(rand() * Math.min(orig.length, 2048)) : Math.floor(rand() * orig.length);
        flipped[at] = (flipped[at] as number) ^ (1 << Math.floor(rand() * 8));
      }
      await outcome(flipped, `${file}#flip${k}`);
      assert.ok(Date.now() - t0 < 10_000, `${file}: fuzz case ${k} took ${Date.now() - t0} ms`);
    }
  }
});

test('hostile lengths do not allocate: a huge NumberOfFrames / length fails cleanly', async () => {
  const bytes = new Uint8Array(readFileSync(join(T, 'CT_small.dcm')));
  // Set the pixel data length to 0xFFFFFFF0 (far beyond the file).
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = -1;
  for (let i = 132; i + 12 <= bytes.length; i += 2) {
    if (dv.getUint16(i, true) === 0x7fe0 && dv.getUint16(i + 2, true) === 0x0010) at = i;
  }
  assert.ok(at > 0, 'pixel data tag found');
  dv.setUint32(at + 8, 0xfffffff0, true);
  assert.equal(await outcome(bytes, 'hostile'), 'DICOM_TRUNCATED');
});
