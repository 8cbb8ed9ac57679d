/**
 * Pixel decoding proofs: lossless transfer syntaxes decode bit-exact to their uncompressed twins (and
 * dcm_qa_ts to dcm2niix's NIfTI reference); lossy ones stay within a stated PSNR of their lossless twin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomFile, parseDicom } from './parse.ts';
import type { DecodedFrame } from './types.ts';

const DATA = join(import.meta.dirname, '../../../shared/data/dicom-conformance');
const T = 'pydicom/test_files/';
const P = 'pydicom-data/';

async function frames(rel: string): Promise<DecodedFrame[]> {
  const f = await readDicomFile(join(DATA, rel));
  const out: DecodedFrame[] = [];
  for (let i = 0; i < f.frameCount; i++) out.push(await f.decodeFrame(i));
  return out;
}

function assertSame(a: DecodedFrame[], b: DecodedFrame[], label: string): void {
  assert.equal(a.length, b.length, `${label}: frame count`);
  a.forEach((fa, i) => {
    const fb = b[i] as DecodedFrame;
    assert.equal(fa.data.constructor.name, fb.data.constructor.name, `${label}[${i}] array type`);
    assert.equal(fa.data.length, fb.data.length, `${label}[${i}] length`);
    let diff = 0;
    for (let k = 0; k < fa.data.length; k++) if (fa.data[k] !== fb.data[k]) diff++;
    assert.equal(diff, 0, `${label}[${i}]: ${diff} samples differ`);
  });
}

function psnr(a: DecodedFrame[], b: DecodedFrame[], peak: number): number {
  let se = 0;
  let n = 0;
  a.forEach((fa, i) => {
    const fb = b[i] as DecodedFrame;
    assert.equal(fa.data.length, fb.data.length);
    for (let k = 0; k < fa.data.length; k++) {
      const d = Number(fa.data[k]) - Number(fb.data[k]);
      se += d * d;
      n++;
    }
  });
  return se === 0 ? Infinity : 10 * Math.log10((peak * peak) / (se / n));
}

const LOSSLESS: Array<[string, string]> = [
  // pydicom MR_small in every native / lossless syntax
  ...['RLE', 'jpeg_ls_lossless', 'jp2klossless', 'implicit', 'bigendian', 'expb', 'padded'].map((s): [string, string] => [`${T}MR_small.dcm`, `${T}MR_small_${s}.dcm`]),
  // NEMA WG04 pairs (JPEG 2000 reversible, incl. YBR_RCT colour)
  [`${P}MR2_UNCR.dcm`, `${P}MR2_J2KR.dcm`],
  [`${P}US1_UNCR.dcm`, `${P}US1_J2KR.dcm`],
  [`${P}693_UNCR.dcm`, `${P}693_J2KR.dcm`],
  [`${P}JPEG2000_UNC.dcm`, `${T}JPEG2000.dcm`],
  // multi-frame
  ...['RLE', 'big_endian', 'jpeg_2k_lossless', 'jpeg_ls_lossless'].map((s): [string, string] => [`${P}emri_small.dcm`, `${P}emri_small_${s}.dcm`]),
  ...['deflate', 'expb', 'j2k', 'rle'].map((s): [string, string] => [`${P}liver.dcm`, `${P}liver_${s}.dcm`]),
  ...['deflate', 'j2k', 'rle'].map((s): [string, string] => [`${P}liver_nonbyte_aligned.dcm`, `${P}liver_nonbyte_aligned_${s}.dcm`]),
  [`${T}liver_1frame.dcm`, `${T}liver_expb_1frame.dcm`],
  [`${T}rtdose.dcm`, `${T}rtdose_rle.dcm`],
  [`${T}rtdose.dcm`, `${T}rtdose_expb.dcm`],
  // colour: 8/16/32-bit, big endian, RLE, planar configuration, lossless JPEG / JPEG 2000 twins
  ...['', '_2frame', '_16bit', '_16bit_2frame', '_32bit', '_32bit_2frame'].flatMap((s): Array<[string, string]> => [
    [`${P}SC_rgb${s}.dcm`, `${P}SC_rgb_expb${s}.dcm`],
    [`${P}SC_rgb${s}.dcm`, `${T}SC_rgb_rle${s}.dcm`],
  ]),
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_jpeg_gdcm.dcm`],
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_gdcm_KY.dcm`],
  [`${P}SC_rgb.dcm`, `${P}SC_rgb_gdcm2k_uncompressed.dcm`],
  [`${T}SC_rgb_small_odd.dcm`, `${T}SC_rgb_small_odd_big_endian.dcm`],
  [`${P}color-px.dcm`, `${P}color-pl.dcm`],
  [`${P}JLSL_RGB_ILV0.dcm`, `${P}JLSL_RGB_ILV1.dcm`],
  [`${P}JLSL_RGB_ILV0.dcm`, `${P}JLSL_RGB_ILV2.dcm`],
  [`${P}OBXXXX1A.dcm`, `${P}OBXXXX1A_expb.dcm`],
  [`${P}OBXXXX1A.dcm`, `${P}OBXXXX1A_rle.dcm`],
  [`${P}OBXXXX1A_2frame.dcm`, `${P}OBXXXX1A_rle_2frame.dcm`],
  [`${P}gdcm-US-ALOKA-16.dcm`, `${P}gdcm-US-ALOKA-16_big.dcm`],
  [`${P}SC_ybr_full_uncompressed.dcm`, `${T}SC_ybr_full_422_uncompressed.dcm`],
  // dcm_qa_ts: one image in nine syntaxes (explicit/implicit/big endian, RLE, JPEG lossless SV1, JPEG-LS, JPEG 2000)
  ...[2, 3, 4, 5, 6, 7, 8, 9].map((i): [string, string] => ['dcm_qa_ts/In/1.dcm', `dcm_qa_ts/In/${i}.dcm`]),
];

test('lossless transfer syntaxes decode bit-exact to their uncompressed twins', async () => {
  for (const [a, b] of LOSSLESS) assertSame(await frames(a), await frames(b), `${a} vs ${b}`);
});

/** Minimal NIfTI-1 reader for the dcm2niix references: dims at 40, datatype at 70, vox_offset at 108. */
function readNifti(path: string): { dims: number[]; data: Int16Array | Uint16Array } {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(dv.getInt32(0, true), 348, 'little-endian NIfTI-1');
  const ndim = dv.getInt16(40, true);
  const dims = Array.from({ length: ndim }, (_, i) => dv.getInt16(42 + 2 * i, true));
  const datatype = dv.getInt16(70, true);
  const off = dv.getFloat32(108, true);
  const n = dims.reduce((s, d) => s * d, 1);
  const copy = b.subarray(off, off + n * 2);
  const buf = new Uint8Array(copy).buffer;
  if (datatype === 4) return { dims, data: new Int16Array(buf) };
  if (datatype === 512) return { dims, data: new Uint16Array(buf) };
  throw new Error(`unexpected NIfTI datatype ${datatype}`);
}

test('dcm_qa_ts: every transfer syntax matches dcm2niix reference pixels (Ref/N.nii)', async () => {
  for (let i = 1; i <= 9; i++) {
    const [frame] = await frames(`dcm_qa_ts/In/${i}.dcm`);
    assert.ok(frame, 'frame decoded');
    const ref = readNifti(join(DATA, `dcm_qa_ts/Ref/${i}.nii`));
    // The DICOM is a Siemens mosaic (tiles of nx×ny in a grid); dcm2niix de-mosaics into nx×ny×nz and
    // stores rows bottom-up (NIfTI y is anterior): compare tile z, row ny−1−y with NIfTI (x, y, z).
    const [nx = 0, ny = 0, nz = 0] = ref.dims;
    const tilesPerRow = frame.columns / nx;
    assert.ok(Number.isInteger(tilesPerRow) && tilesPerRow * tilesPerRow >= nz, `mosaic layout ${frame.columns}/${nx}`);
    let diff = 0;
    for (let z = 0; z < nz; z++) {
      for (let y = 0; y < ny; y++) {
        for (let x = 0; x < nx; x++) {
          const m = (Math.floor(z / tilesPerRow) * ny + (ny - 1 - y)) * frame.columns + (z % tilesPerRow) * nx + x;
          if (frame.data[m] !== ref.data[(z * ny + y) * nx + x]) diff++;
        }
      }
    }
    assert.equal(diff, 0, `In/${i}.dcm: ${diff} voxels differ from Ref/${i}.nii`);
  }
});

/** Lossy pairs and the PSNR floor each must reach (peak = 2^BitsStored − 1; measured values in comments). */
const LOSSY: Array<[string, string, number, number]> = [
  [`${P}MR2_UNCR.dcm`, `${P}MR2_J2KI.dcm`, 2 ** 16 - 1, 50], // 57.4 dB (BitsStored 16 → peak 65535)
  [`${P}US1_UNCR.dcm`, `${P}US1_J2KI.dcm`, 255, 33], // 36.6 dB (YBR_ICT → RGB)
  [`${P}693_UNCR.dcm`, `${T}693_J2KI.dcm`, 2 ** 16 - 1, 38], // 42.6 dB
  [`${P}RG3_J2KR.dcm`, `${P}RG3_J2KI.dcm`, 2 ** 16 - 1, 50], // 57.9 dB
  [`${P}HTJ2KLossless_08_RGB.dcm`, `${P}HTJ2K_08_RGB.dcm`, 255, 45], // 51.1 dB
  [`${P}JLSL_RGB_ILV0.dcm`, `${P}JLSN_RGB_ILV0.dcm`, 255, 40], // 42.9 dB (JPEG-LS near-lossless)
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_jls_lossy_line.dcm`, 255, 42], // 47.0 dB
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_jls_lossy_sample.dcm`, 255, 42], // 47.0 dB
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_jpeg_dcmtk.dcm`, 255, 42], // 46.7 dB (JPEG baseline YBR_FULL → RGB)
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_dcmtk_+eb+cy+s2.dcm`, 255, 42], // 46.7 dB (YBR_FULL_422)
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_dcmtk_+eb+cr.dcm`, 255, 50], // 56.5 dB (RGB, no colour transform)
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_dcmtk_+eb+cy+n1.dcm`, 255, 25], // 28.2 dB (aggressive quality)
  [`${P}SC_rgb.dcm`, `${T}SC_rgb_jpeg_lossy_gdcm.dcm`, 255, 25], // 28.3 dB
];

test('lossy transfer syntaxes stay within the stated PSNR of their lossless twin', async () => {
  for (const [a, b, peak, floor] of LOSSY) {
    const fa = await frames(a);
    const fb = await frames(b);
    assert.equal(fa.length, fb.length);
    assert.equal(fa[0]?.data.constructor.name, fb[0]?.data.constructor.name, `${b} array type`);
    const v = psnr(fa, fb, peak);
    assert.ok(v >= floor && Number.isFinite(v), `${b}: PSNR ${v.toFixed(2)} dB < ${floor} dB (or unexpectedly lossless)`);
  }
});

test('JPEG-LS near-lossless files without a twin decode deterministically', async () => {
  for (const rel of [`${T}JPEGLSNearLossless_08.dcm`, `${T}JPEGLSNearLossless_16.dcm`]) {
    const a = await frames(rel);
    const b = await frames(rel);
    assertSame(a, b, rel);
  }
});

test('typed arrays follow BitsAllocated / PixelRepresentation / float pixel data', async () => {
  const cases: Array<[string, string]> = [
    [`${T}MR_small.dcm`, 'Int16Array'],
    [`${P}MR2_UNCR.dcm`, 'Uint16Array'],
    [`${P}SC_rgb.dcm`, 'Uint8Array'],
    [`${P}SC_rgb_32bit.dcm`, 'Uint32Array'],
    [`${T}rtdose.dcm`, 'Uint32Array'],
    [`${P}parametric_map_float.dcm`, 'Float32Array'],
    [`${P}parametric_map_double_float.dcm`, 'Float64Array'],
    [`${P}JLSL_16_15_1_1F.dcm`, 'Int16Array'],
    [`${P}liver.dcm`, 'Uint8Array'],
  ];
  for (const [rel, type] of cases) {
    const [f] = await frames(rel);
    assert.equal(f?.data.constructor.name, type, rel);
  }
});

test('signed data is sign-extended from BitsStored (J2K_pixelrep_mismatch, JLSL_16_15_1)', async () => {
  const [j2k] = await frames(`${T}J2K_pixelrep_mismatch.dcm`);
  assert.ok(j2k && j2k.data instanceof Int16Array, 'Int16Array');
  let min = Infinity;
  for (const v of j2k.data) min = Math.min(min, v);
  assert.ok(min < 0, 'negative values after sign extension');
  assert.equal(min, -2000);
  const [jls] = await frames(`${P}JLSL_16_15_1_1F.dcm`);
  assert.ok(jls, 'frame decoded');
  for (const v of jls.data) assert.ok(v >= -16384 && v <= 16383, `value ${v} within 15-bit signed range`);
});

test('bits above BitsStored are masked and signed values sign-extended in native data', async () => {
  // A tiny hand-built explicit VR LE file: 2×1, BitsAllocated 16, BitsStored 12, signed; garbage in high bits.
  const els: number[] = [];
  const u16 = (v: number): void => { els.push(v & 0xff, (v >> 8) & 0xff); };
  const el = (g: number, e: number, vr: string, val: number[]): void => {
    u16(g); u16(e); els.push(vr.charCodeAt(0), vr.charCodeAt(1)); u16(val.length); els.push(...val);
  };
  const us = (v: number): number[] => [v & 0xff, v >> 8];
  el(0x0028, 0x0002, 'US', us(1));
  el(0x0028, 0x0010, 'US', us(1));
  el(0x0028, 0x0011, 'US', us(2));
  el(0x0028, 0x0100, 'US', us(16));
  el(0x0028, 0x0101, 'US', us(12));
  el(0x0028, 0x0102, 'US', us(11));
  el(0x0028, 0x0103, 'US', us(1));
  u16(0x7fe0); u16(0x0010); els.push(0x4f, 0x57, 0, 0); els.push(4, 0, 0, 0);
  els.push(...us(0xf800), ...us(0x17ff)); // 0x800 → −2048 with junk in bit 15; 0x7ff → 2047 with junk bit 12
  const f = parseDicom(Uint8Array.from(els), 'synthetic');
  const fr = await f.decodeFrame(0);
  assert.ok(fr.data instanceof Int16Array, 'Int16Array');
  assert.deepEqual(Array.from(fr.data), [-2048, 2047]);
});

test('multi-frame: frames decode separately by index; out-of-range index is a coded error', async () => {
  const f = await readDicomFile(join(DATA, `${P}emri_small_jpeg_2k_lossless.dcm`));
  assert.equal(f.frameCount, 10);
  const last = await f.decodeFrame(9);
  const first = await f.decodeFrame(0);
  assert.notDeepEqual(Array.from(first.data.slice(0, 4096)), Array.from(last.data.slice(0, 4096)));
  await assert.rejects(f.decodeFrame(10), { code: 'DICOM_FRAME_OUT_OF_RANGE' });
  await assert.rejects(f.decodeFrame(-1), { code: 'DICOM_FRAME_OUT_OF_RANGE' });
});

test('12-bit JPEG extended decodes like dcmtk (IJG 12-bit) within 1 grey level', { skip: !existsSync('/usr/bin/dcmdjpeg') && 'dcmtk not installed (scripts/setup.sh installs it)' }, async () => {
  // Reference: dcmtk's dcmdjpeg (libijg12) decompresses the same codestream; two IDCT implementations may
  // round differently, so a max difference of 1 stored value is allowed and everything else must match.
  for (const name of ['JPGExtended.dcm', 'JPEG-lossy.dcm']) {
    const src = join(DATA, `${T}${name}`);
    const ref = join(mkdtempSync(join(tmpdir(), 'sr-jpg12-')), 'ref.dcm');
    execFileSync('dcmdjpeg', [src, ref]);
    const ours = await (await readDicomFile(src)).decodeFrame(0);
    const theirs = await (await readDicomFile(ref)).decodeFrame(0);
    assert.equal(ours.data.length, theirs.data.length, `${name}: frame size`);
    let maxDiff = 0;
    for (let i = 0; i < ours.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs((ours.data[i] ?? 0) - (theirs.data[i] ?? 0)));
    assert.ok(maxDiff <= 1, `${name}: max difference to dcmtk ${maxDiff}`);
  }
});
