/** Thresholding and voxel-wise mask logic. Masks are Uint8 volumes, 1 inside and 0 outside. */
import type { MaskVolume, Volume } from './volume.ts';
import { lpsToIjk, withData } from './volume.ts';
import { assertMask, assertSameDims, invalid } from './kernel-options.ts';

export interface ThresholdOptions {
  /** Inclusive lower bound (default −Infinity). */
  low?: number;
  /** Inclusive upper bound (default +Infinity). */
  high?: number;
}

/** 1 where low ≤ value ≤ high. */
export function threshold(vol: Volume, opts: ThresholdOptions): MaskVolume {
  const low = opts.low ?? -Infinity;
  const high = opts.high ?? Infinity;
  if (Number.isNaN(low) || Number.isNaN(high) || low > high) throw invalid(`threshold: need low ≤ high, got ${low}..${high}`);
  const src = vol.data;
  const out = new Uint8Array(src.length);
  for (let v = 0; v < src.length; v++) {
    const x = src[v] as number;
    out[v] = x >= low && x <= high ? 1 : 0;
  }
  return withData(vol, out);
}

function binary(a: MaskVolume, b: MaskVolume, what: string, op: (x: number, y: number) => number): MaskVolume {
  assertMask(a, what);
  assertMask(b, what);
  assertSameDims(a, b, what);
  const out = new Uint8Array(a.data.length);
  for (let v = 0; v < out.length; v++) out[v] = op(a.data[v] as number, b.data[v] as number);
  return withData(a, out);
}

export function maskAnd(a: MaskVolume, b: MaskVolume): MaskVolume {
  return binary(a, b, 'maskAnd', (x, y) => (x !== 0 && y !== 0 ? 1 : 0));
}

export function maskOr(a: MaskVolume, b: MaskVolume): MaskVolume {
  return binary(a, b, 'maskOr', (x, y) => (x !== 0 || y !== 0 ? 1 : 0));
}

export function maskNot(a: MaskVolume): MaskVolume {
  assertMask(a, 'maskNot');
  const out = new Uint8Array(a.data.length);
  for (let v = 0; v < out.length; v++) out[v] = a.data[v] === 0 ? 1 : 0;
  return withData(a, out);
}

/** Number of non-zero voxels. */
export function maskCount(a: MaskVolume): number {
  assertMask(a, 'maskCount');
  let n = 0;
  for (let v = 0; v < a.data.length; v++) if (a.data[v] !== 0) n++;
  return n;
}

/** Whether a patient LPS point (mm) falls in a non-zero voxel of `mask` (its nearest voxel); false outside the grid. */
export function insideMask(mask: MaskVolume, lps: readonly number[]): boolean {
  const q = lpsToIjk(mask, lps);
  const i = Math.round(q[0]), j = Math.round(q[1]), k = Math.round(q[2]);
  const [nx, ny, nz] = mask.dims;
  if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return false;
  return mask.data[i + j * nx + k * nx * ny] !== 0;
}
