/**
 * One image plane → modality values (stored × RescaleSlope + RescaleIntercept, rounded, clamped to int16)
 * written straight into a volume buffer. Shared by the volume builder's single-thread path and the decode
 * workers, so both produce the same voxels.
 *
 * Speed: a native 16-bit little-endian slice is read into a reused scratch buffer (no per-file allocation),
 * parsed, and converted in one pass from a Uint16 view on the file bytes (mask / sign extension, rescale and
 * clamp fused). Every other frame goes through decodeFrame, then through a loop specialised per array type
 * (a loop over a union of typed arrays is megamorphic and several times slower in V8).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { SrError } from '../core/errors.ts';
import type { VoxelArray } from '../imaging/volume.ts';
import { frameSourceOf, parseDicom } from './parse.ts';
import { nativeWords16 } from './pixel-decode.ts';
import type { DicomFile, PixelDescription } from './types.ts';

const INT16_MIN = -32768;
const INT16_MAX = 32767;
/** Largest file a slice read accepts (a single 2D slice file bigger than this is not a CT slice). */
const MAX_SLICE_FILE_BYTES = 1 << 30;

/** What one slice decode needs: where the frame is, what it must look like, and its rescale. */
export interface SliceJob {
  /** File path (read afresh) — also the name used in errors. */
  readonly path: string;
  readonly frameIndex: number;
  readonly rows: number;
  readonly columns: number;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
}

/** A growable byte buffer reused across slice reads (one per thread). */
export class ScratchBuffer {
  private buf: Buffer = Buffer.allocUnsafeSlow(0);

  /** The first `size` bytes, grown (with headroom) when too small. The content is overwritten by the next read. */
  take(size: number): Buffer {
    if (this.buf.length < size) this.buf = Buffer.allocUnsafeSlow(Math.ceil(size * 1.25));
    return this.buf;
  }
}

function ioError(e: unknown, path: string): SrError {
  const code = (e as { code?: unknown }).code;
  return new SrError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `${path}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
    details: { source: path },
  });
}

/**
 * Reads a whole file into `scratch` synchronously: one open/fstat/read/close, no event-loop round trips
 * (on a worker thread, or for a 0.5 MB slice on the main thread, that is faster than fs/promises).
 */
export function readFileInto(path: string, scratch: ScratchBuffer): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw ioError(e, path);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_SLICE_FILE_BYTES) {
      throw new SrError('DICOM_MALFORMED', `${path}: ${size} bytes is too large for a single-slice file`, { details: { source: path, size } });
    }
    const buf = scratch.take(size);
    let off = 0;
    while (off < size) {
      const r = readSync(fd, buf, off, size - off, off);
      if (r === 0) break; // file shrank while reading: parse what is there (it reports truncation)
      off += r;
    }
    return new Uint8Array(buf.buffer, buf.byteOffset, off);
  } catch (e) {
    if (e instanceof SrError) throw e;
    throw ioError(e, path);
  } finally {
    closeSync(fd);
  }
}

function clampInto(v: number, out: Int16Array, at: number): number {
  if (v < INT16_MIN) { out[at] = INT16_MIN; return 1; }
  if (v > INT16_MAX) { out[at] = INT16_MAX; return 1; }
  out[at] = v;
  return 0;
}

/** Uint16 words as stored (bits above BitsStored not masked) → modality values. Returns the clamp count. */
export function rescaleWords16Into(
  words: Uint16Array, bitsStored: number, signed: boolean, slope: number, intercept: number,
  out: Int16Array, base: number,
): number {
  const n = words.length;
  let clamped = 0;
  const sh = 32 - bitsStored;
  const mask = bitsStored >= 16 ? 0xffff : (1 << bitsStored) - 1;
  if (slope === 1 && Number.isInteger(intercept)) {
    const lo = signed ? -(2 ** (bitsStored - 1)) : 0;
    const hi = signed ? 2 ** (bitsStored - 1) - 1 : mask;
    if (lo + intercept >= INT16_MIN && hi + intercept <= INT16_MAX && n % 2 === 0 && words.byteOffset % 4 === 0 && (out.byteOffset + base * 2) % 4 === 0) {
      rescalePairs(words, signed, sh, mask, intercept, out, base);
      return 0;
    }
    if (signed) {
      for (let i = 0; i < n; i++) {
        const v = (((words[i] as number) << sh) >> sh) + intercept;
        if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
        else out[base + i] = v;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const v = ((words[i] as number) & mask) + intercept;
        if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
        else out[base + i] = v;
      }
    }
    return clamped;
  }
  for (let i = 0; i < n; i++) {
    const w = words[i] as number;
    const s = signed ? (w << sh) >> sh : w & mask;
    const v = Math.round(s * slope + intercept);
    if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
    else out[base + i] = v;
  }
  return clamped;
}

/**
 * Two samples per 32-bit load and store (about twice as fast as one at a time in V8). Only called when no value
 * can leave the int16 range, so each half is computed modulo 2^16 with no clamping.
 */
function rescalePairs(words: Uint16Array, signed: boolean, sh: number, mask: number, intercept: number, out: Int16Array, base: number): void {
  const m = words.length >> 1;
  const src = new Uint32Array(words.buffer, words.byteOffset, m);
  const dst = new Uint32Array(out.buffer, out.byteOffset + base * 2, m);
  if (signed) {
    for (let i = 0; i < m; i++) {
      const x = src[i] as number;
      dst[i] = ((((x << sh) >> sh) + intercept) & 0xffff) | (((((x >>> 16) << sh) >> sh) + intercept) << 16);
    }
  } else {
    for (let i = 0; i < m; i++) {
      const x = src[i] as number;
      dst[i] = (((x & mask) + intercept) & 0xffff) | ((((x >>> 16) & mask) + intercept) << 16);
    }
  }
}

// One loop per array type keeps each loop monomorphic.
function rescaleI16(a: Int16Array, n: number, slope: number, intercept: number, out: Int16Array, base: number): number {
  let clamped = 0;
  const intPath = slope === 1 && Number.isInteger(intercept);
  for (let i = 0; i < n; i++) {
    const v = intPath ? (a[i] as number) + intercept : Math.round((a[i] as number) * slope + intercept);
    if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
    else out[base + i] = v;
  }
  return clamped;
}

function rescaleU16(a: Uint16Array, n: number, slope: number, intercept: number, out: Int16Array, base: number): number {
  let clamped = 0;
  const intPath = slope === 1 && Number.isInteger(intercept);
  for (let i = 0; i < n; i++) {
    const v = intPath ? (a[i] as number) + intercept : Math.round((a[i] as number) * slope + intercept);
    if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
    else out[base + i] = v;
  }
  return clamped;
}

function rescaleAny(a: ArrayLike<number>, n: number, slope: number, intercept: number, out: Int16Array, base: number): number {
  let clamped = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.round((a[i] as number) * slope + intercept);
    if (v < INT16_MIN || v > INT16_MAX) clamped += clampInto(v, out, base + i);
    else out[base + i] = v;
  }
  return clamped;
}

/** Stored values as true numbers: fixes the signedness when the decoded array type disagrees with PixelRepresentation. */
export function storedValues(data: VoxelArray, px: PixelDescription | undefined): VoxelArray {
  if (!px) return data;
  const bits = px.BitsStored;
  if (px.PixelRepresentation === 1 && (data instanceof Uint16Array || data instanceof Uint8Array || data instanceof Uint32Array)) {
    const shift = 32 - bits;
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = ((data[i] as number) << shift) >> shift;
    return out;
  }
  if (px.PixelRepresentation === 0 && (data instanceof Int16Array || data instanceof Int8Array)) {
    const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    const out = new Uint32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = (data[i] as number) & mask;
    return out;
  }
  return data;
}

/** Decoded stored values → modality values in `out` at `base` (n values). Returns the clamp count. */
export function rescaleStoredInto(stored: VoxelArray, n: number, slope: number, intercept: number, out: Int16Array, base: number): number {
  if (stored instanceof Int16Array) return rescaleI16(stored, n, slope, intercept, out, base);
  if (stored instanceof Uint16Array) return rescaleU16(stored, n, slope, intercept, out, base);
  return rescaleAny(stored, n, slope, intercept, out, base);
}

function shapeError(source: string, frameIndex: number, got: string, job: { rows: number; columns: number }): SrError {
  return new SrError('SERIES_INCONSISTENT', `${source} frame ${frameIndex} decodes to ${got}, expected ${job.rows}×${job.columns}×1`, { details: { source } });
}

/**
 * Decodes frame `job.frameIndex` of an already parsed file into `out` at `base`. Uses the zero-copy path
 * when the file came from parseDicom and the frame is native 16-bit LE. Returns the clamp count.
 * Throws SERIES_INCONSISTENT when the frame's shape is not the stack's, DICOM_* from decoding.
 */
export async function decodeFileSliceInto(
  file: DicomFile, job: Omit<SliceJob, 'path'>, out: Int16Array, base: number,
): Promise<number> {
  const n = job.rows * job.columns;
  const src = frameSourceOf(file);
  const desc = file.pixel;
  if (src && desc && desc.Rows === job.rows && desc.Columns === job.columns && desc.SamplesPerPixel === 1) {
    const w = nativeWords16(src, job.frameIndex);
    if (w) return rescaleWords16Into(w.words, w.bitsStored, w.signed, job.rescaleSlope, job.rescaleIntercept, out, base);
  }
  const frame = await file.decodeFrame(job.frameIndex);
  if (frame.rows !== job.rows || frame.columns !== job.columns || frame.samplesPerPixel !== 1 || frame.data.length < n) {
    throw shapeError(file.source, job.frameIndex, `${frame.rows}×${frame.columns}×${frame.samplesPerPixel}`, job);
  }
  return rescaleStoredInto(storedValues(frame.data, file.pixel), n, job.rescaleSlope, job.rescaleIntercept, out, base);
}

/** Reads `job.path` afresh (into `scratch`), parses it and decodes the frame into `out` at `base`. Returns the clamp count. */
export async function decodeSliceFromPath(job: SliceJob, out: Int16Array, base: number, scratch: ScratchBuffer): Promise<number> {
  const bytes = readFileInto(job.path, scratch);
  const file = parseDicom(bytes, job.path);
  return decodeFileSliceInto(file, job, out, base);
}
