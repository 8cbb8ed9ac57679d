/**
 * NIfTI-1 single-file (.nii / .nii.gz) read and write, for research users.
 *
 * Coordinates: NIfTI world space is RAS+, our Volume is DICOM LPS, so the first two rows of the affine are
 * negated both ways. The transform is taken from the sform when sform_code > 0, else from the qform when
 * qform_code > 0 (quaternion + qfac), else from pixdim alone (ANALYZE fallback, noted). Voxel order is the
 * same in both worlds (i fastest), so voxels are never reordered.
 *
 * scl_slope/scl_inter (slope 0 = no scaling) are applied on read: integer scaling of integer data stays
 * integer (Int16Array when the result fits, else Int32Array), anything else becomes Float32Array.
 * Writing stores both sform and, when the direction is a rotation, qform (code 1, scanner anatomical); a
 * sheared (gantry-tilt) grid is only representable by the sform, so its qform_code is 0.
 */
import { rename, readFile, writeFile } from 'node:fs/promises';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SrError } from '../core/errors.ts';
import type { Mat3, Vec3, Volume, VoxelArray } from './volume.ts';
import { createVolume, det3 } from './volume.ts';

const HEADER_SIZE = 348;
const VOX_OFFSET = 352;

export const NIFTI_DATATYPE = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
} as const;

export interface NiftiImage {
  readonly volume: Volume;
  /** NIfTI datatype code of the stored voxels. */
  readonly datatype: number;
  /** Which header fields gave the geometry. */
  readonly transform: 'sform' | 'qform' | 'pixdim';
  readonly description: string;
  readonly notes: readonly string[];
}

export interface NiftiWriteOptions {
  readonly description?: string;
}

function invalid(source: string, message: string): SrError {
  return new SrError('NIFTI_INVALID', `${source}: ${message}`, { details: { source } });
}

function readTyped(view: DataView, offset: number, count: number, datatype: number, le: boolean, source: string): VoxelArray {
  const bytesPer: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4 };
  const size = bytesPer[datatype];
  if (size === undefined) throw invalid(source, `unsupported datatype ${datatype}`);
  if (offset + count * size > view.byteLength) throw invalid(source, `voxel data truncated: need ${offset + count * size} bytes, have ${view.byteLength}`);
  switch (datatype) {
    case 2: return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 256: {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt8(offset + i);
      return out;
    }
    case 4: { const o = new Int16Array(count); for (let i = 0; i < count; i++) o[i] = view.getInt16(offset + 2 * i, le); return o; }
    case 512: { const o = new Uint16Array(count); for (let i = 0; i < count; i++) o[i] = view.getUint16(offset + 2 * i, le); return o; }
    case 8: { const o = new Int32Array(count); for (let i = 0; i < count; i++) o[i] = view.getInt32(offset + 4 * i, le); return o; }
    case 768: { const o = new Uint32Array(count); for (let i = 0; i < count; i++) o[i] = view.getUint32(offset + 4 * i, le); return o; }
    case 16: { const o = new Float32Array(count); for (let i = 0; i < count; i++) o[i] = view.getFloat32(offset + 4 * i, le); return o; }
    default: { const o = new Float64Array(count); for (let i = 0; i < count; i++) o[i] = view.getFloat64(offset + 8 * i, le); return o; }
  }
}

function applyScaling(data: VoxelArray, slope: number, inter: number, notes: string[]): VoxelArray {
  if (!Number.isFinite(slope) || slope === 0 || (slope === 1 && inter === 0) || !Number.isFinite(inter)) return data;
  const integerData = !(data instanceof Float32Array || data instanceof Float64Array);
  if (integerData && Number.isInteger(slope) && Number.isInteger(inter)) {
    let min = Infinity, max = -Infinity;
    for (let i = 0; i < data.length; i++) {
      const v = (data[i] as number) * slope + inter;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min >= -32768 && max <= 32767) {
      const o = new Int16Array(data.length);
      for (let i = 0; i < data.length; i++) o[i] = (data[i] as number) * slope + inter;
      notes.push(`scl_slope ${slope} / scl_inter ${inter} applied (Int16)`);
      return o;
    }
    if (min >= -2147483648 && max <= 2147483647) {
      const o = new Int32Array(data.length);
      for (let i = 0; i < data.length; i++) o[i] = (data[i] as number) * slope + inter;
      notes.push(`scl_slope ${slope} / scl_inter ${inter} applied (Int32)`);
      return o;
    }
  }
  const o = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) o[i] = (data[i] as number) * slope + inter;
  notes.push(`scl_slope ${slope} / scl_inter ${inter} applied (Float32)`);
  return o;
}

/** Rotation matrix (row-major) of a NIfTI quaternion (b, c, d); a = sqrt(1 − b² − c² − d²). */
export function quaternionToMatrix(b: number, c: number, d: number): Mat3 {
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  return [
    a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
    2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b),
    2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b,
  ];
}

/** Quaternion (b, c, d) and qfac of a direction matrix; undefined when it is not a rotation (± reflection). */
export function matrixToQuaternion(m: Mat3): { b: number; c: number; d: number; qfac: 1 | -1 } | undefined {
  const det = det3(m);
  const qfac: 1 | -1 = det < 0 ? -1 : 1;
  // NIfTI stores a proper rotation; a reflection is carried by qfac on the third column.
  const r = [...m] as Mat3;
  if (qfac < 0) { r[2] = -r[2]; r[5] = -r[5]; r[8] = -r[8]; }
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += (r[k * 3 + i] as number) * (r[k * 3 + j] as number);
      if (Math.abs(s - (i === j ? 1 : 0)) > 1e-4) return undefined;
    }
  }
  const [r11, r12, r13, r21, r22, r23, r31, r32, r33] = r;
  const trace = r11 + r22 + r33;
  let a: number, b: number, c: number, d: number;
  if (trace > 0) {
    const s = 0.5 / Math.sqrt(trace + 1);
    a = 0.25 / s; b = (r32 - r23) * s; c = (r13 - r31) * s; d = (r21 - r12) * s;
  } else if (r11 > r22 && r11 > r33) {
    const s = 2 * Math.sqrt(1 + r11 - r22 - r33);
    a = (r32 - r23) / s; b = 0.25 * s; c = (r12 + r21) / s; d = (r13 + r31) / s;
  } else if (r22 > r33) {
    const s = 2 * Math.sqrt(1 + r22 - r11 - r33);
    a = (r13 - r31) / s; b = (r12 + r21) / s; c = 0.25 * s; d = (r23 + r32) / s;
  } else {
    const s = 2 * Math.sqrt(1 + r33 - r11 - r22);
    a = (r21 - r12) / s; b = (r13 + r31) / s; c = (r23 + r32) / s; d = 0.25 * s;
  }
  if (a < 0) { b = -b; c = -c; d = -d; }
  return { b, c, d, qfac };
}

/** Parses an uncompressed or gzipped single-file NIfTI-1 image. Throws SrError NIFTI_INVALID. */
export function parseNifti(input: Uint8Array, source = 'nifti'): NiftiImage {
  let bytes = input;
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new SrError('NIFTI_INVALID', `${source}: gzip stream is corrupt`, { cause: e, details: { source } });
    }
  }
  if (bytes.length < HEADER_SIZE) throw invalid(source, `only ${bytes.length} bytes, a NIfTI-1 header has 348`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  if (view.getInt32(0, true) !== HEADER_SIZE) {
    if (view.getInt32(0, false) !== HEADER_SIZE) {
      throw invalid(source, view.getInt32(0, true) === 540 || view.getInt32(0, false) === 540 ? 'NIfTI-2 is not supported' : 'sizeof_hdr is not 348');
    }
    le = false;
  }
  const magic = String.fromCharCode(bytes[344] ?? 0, bytes[345] ?? 0, bytes[346] ?? 0);
  if (magic !== 'n+1') throw invalid(source, magic === 'ni1' ? 'two-file NIfTI (.hdr/.img) is not supported' : `magic "${magic}" is not n+1`);
  const notes: string[] = [];
  const i16 = (o: number) => view.getInt16(o, le);
  const f32 = (o: number) => view.getFloat32(o, le);
  const ndim = i16(40);
  if (ndim < 1 || ndim > 7) throw invalid(source, `dim[0] = ${ndim}`);
  const dim = [1, 2, 3, 4, 5, 6, 7].map((k) => (k <= ndim ? i16(40 + 2 * k) : 1));
  if (dim.some((d) => d < 1)) throw invalid(source, `dim ${dim.join('×')}`);
  if (dim.slice(3).some((d) => d > 1)) throw invalid(source, `${ndim}-D image (${dim.join('×')}): only 3-D volumes are supported`);
  const dims: Vec3 = [dim[0] as number, dim[1] as number, dim[2] as number];
  const datatype = i16(70);
  const pixdim = [0, 1, 2, 3].map((k) => f32(76 + 4 * k));
  const voxOffset = Math.floor(f32(108));
  const unitCode = (bytes[123] ?? 0) & 0x07;
  const unitScale = unitCode === 1 ? 1000 : unitCode === 3 ? 0.001 : 1;
  if (unitCode === 0) notes.push('xyzt_units unknown: millimetres assumed');
  const qformCode = i16(252);
  const sformCode = i16(254);
  const description = new TextDecoder('latin1').decode(bytes.subarray(148, 228)).replace(/\0.*$/s, '').trim();

  // RAS affine columns (rows x, y, z; columns i, j, k, translation).
  let ras: number[][];
  let transform: NiftiImage['transform'];
  if (sformCode > 0) {
    transform = 'sform';
    ras = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => f32(280 + 16 * r + 4 * c)));
  } else if (qformCode > 0) {
    transform = 'qform';
    const rot = quaternionToMatrix(f32(256), f32(260), f32(264));
    const qfac = (pixdim[0] ?? 1) < 0 ? -1 : 1;
    const s = [pixdim[1] ?? 1, pixdim[2] ?? 1, qfac * (pixdim[3] ?? 1)];
    const off = [f32(268), f32(272), f32(276)];
    ras = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (rot[r * 3 + c] as number) * (s[c] as number)).concat([off[r] as number]));
  } else {
    transform = 'pixdim';
    notes.push('no sform or qform: geometry from pixdim only (orientation unknown, RAS axes assumed)');
    ras = [0, 1, 2].map((r) => [0, 1, 2].map((c) => (r === c ? Math.abs(pixdim[c + 1] ?? 1) || 1 : 0)).concat([0]));
  }
  // RAS → LPS: negate x and y rows; then scale to millimetres.
  // `+ 0` turns the -0 of negated zeros into 0, so matrices compare cleanly.
  const lps = ras.map((row, r) => row.map((x) => (r < 2 ? -x : x) * unitScale + 0));
  const spacing = [0, 1, 2].map((c) => Math.hypot(lps[0]?.[c] ?? 0, lps[1]?.[c] ?? 0, lps[2]?.[c] ?? 0)) as Vec3;
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) throw invalid(source, `degenerate ${transform} (zero voxel size)`);
  const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => (lps[r]?.[c] ?? 0) / (spacing[c] as number))) as Mat3;
  if (Math.abs(det3(direction)) < 1e-6) throw invalid(source, `singular ${transform}`);
  const origin: Vec3 = [lps[0]?.[3] ?? 0, lps[1]?.[3] ?? 0, lps[2]?.[3] ?? 0];

  const offset = voxOffset >= HEADER_SIZE ? voxOffset : VOX_OFFSET;
  const count = dims[0] * dims[1] * dims[2];
  const raw = readTyped(view, offset, count, datatype, le, source);
  const data = applyScaling(raw, f32(112), f32(116), notes);
  return { volume: createVolume(data, { dims, spacing, origin, direction }), datatype, transform, description, notes };
}

export async function readNifti(path: string): Promise<NiftiImage> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as { code?: unknown }).code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR';
    throw new SrError(code, `cannot read ${path}`, { cause: e, details: { source: path } });
  }
  return parseNifti(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

function datatypeOf(data: VoxelArray): { code: number; bits: number } {
  if (data instanceof Int16Array) return { code: NIFTI_DATATYPE.int16, bits: 16 };
  if (data instanceof Uint8Array) return { code: NIFTI_DATATYPE.uint8, bits: 8 };
  if (data instanceof Float32Array) return { code: NIFTI_DATATYPE.float32, bits: 32 };
  if (data instanceof Int32Array) return { code: NIFTI_DATATYPE.int32, bits: 32 };
  if (data instanceof Uint16Array) return { code: NIFTI_DATATYPE.uint16, bits: 16 };
  if (data instanceof Uint32Array) return { code: NIFTI_DATATYPE.uint32, bits: 32 };
  return { code: NIFTI_DATATYPE.float64, bits: 64 };
}

/** Encodes a volume as an uncompressed single-file NIfTI-1 image (little endian). */
export function encodeNifti(volume: Volume, options: NiftiWriteOptions = {}): Uint8Array {
  const { code, bits } = datatypeOf(volume.data);
  const dataBytes = volume.data.length * (bits / 8);
  const out = new Uint8Array(VOX_OFFSET + dataBytes);
  const view = new DataView(out.buffer);
  view.setInt32(0, HEADER_SIZE, true);
  view.setInt16(40, 3, true);
  volume.dims.forEach((d, k) => view.setInt16(42 + 2 * k, d, true));
  for (let k = 4; k <= 7; k++) view.setInt16(40 + 2 * k, 1, true);
  view.setInt16(70, code, true);
  view.setInt16(72, bits, true);
  const dir = volume.direction;
  const sp = volume.spacing;
  const quat = matrixToQuaternion(
    // The qform rotation is in RAS: negate the first two rows of the LPS direction.
    [-dir[0], -dir[1], -dir[2], -dir[3], -dir[4], -dir[5], dir[6], dir[7], dir[8]],
  );
  const pixdim = [quat?.qfac ?? 1, sp[0], sp[1], sp[2], 1, 1, 1, 1];
  pixdim.forEach((p, k) => view.setFloat32(76 + 4 * k, p, true));
  view.setFloat32(108, VOX_OFFSET, true);
  view.setFloat32(112, 1, true);
  view.setFloat32(116, 0, true);
  out[123] = 2; // NIFTI_UNITS_MM
  const desc = (options.description ?? 'SecondReader').slice(0, 79);
  for (let i = 0; i < desc.length; i++) out[148 + i] = desc.charCodeAt(i) & 0x7f;
  const o = volume.origin;
  if (quat) {
    view.setInt16(252, 1, true);
    view.setFloat32(256, quat.b, true);
    view.setFloat32(260, quat.c, true);
    view.setFloat32(264, quat.d, true);
    view.setFloat32(268, -o[0], true);
    view.setFloat32(272, -o[1], true);
    view.setFloat32(276, o[2], true);
  }
  view.setInt16(254, 1, true);
  for (let r = 0; r < 3; r++) {
    const sign = r < 2 ? -1 : 1;
    for (let c = 0; c < 3; c++) view.setFloat32(280 + 16 * r + 4 * c, sign * (dir[r * 3 + c] as number) * (sp[c] as number), true);
    view.setFloat32(280 + 16 * r + 12, sign * (o[r] as number), true);
  }
  out[344] = 0x6e; out[345] = 0x2b; out[346] = 0x31; out[347] = 0; // "n+1\0"
  out.set(new Uint8Array(volume.data.buffer, volume.data.byteOffset, dataBytes), VOX_OFFSET);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new SrError('IO_ERROR', 'big-endian hosts are not supported for NIfTI writing');
  return out;
}

/** Writes .nii, or gzipped .nii.gz when the path ends in .gz; atomic (temp file + rename). */
export async function writeNifti(path: string, volume: Volume, options: NiftiWriteOptions = {}): Promise<void> {
  const raw = encodeNifti(volume, options);
  const bytes = path.endsWith('.gz') ? gzipSync(raw, { level: 6 }) : raw;
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    throw new SrError('IO_ERROR', `cannot write ${path}`, { cause: e, details: { path } });
  }
}
