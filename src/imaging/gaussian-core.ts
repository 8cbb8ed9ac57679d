/**
 * Separable correlation engine behind gaussian() and gaussianDerivative(). Plain typed-array code that runs the
 * same on the calling thread and in workers (see kernel-tasks.ts). Borders replicate the edge voxel.
 *
 * One chunk is one output slice k, computed row by row so that everything but the input and the output stays in
 * L1/L2 cache (a whole 512×512 Float32 slice is 1 MiB, more than a core's L2):
 *  1. along k: z-row j = Σ_t wz[t]·src[row j of slice k + t − rz], converted from the input type on the fly, into a
 *     ring of 2·ry + 1 rows (each z-row is computed once);
 *  2. along j: the y-row = Σ_t wy[t]·ring[j + t − ry], written into a line padded by rx replicated voxels;
 *  3. along i: dst row = Σ_t wx[t]·line[i + t].
 * Each step accumulates up to three ± tap pairs per sweep in registers (one store per output voxel and sweep)
 * instead of one read–modify–write sweep per tap pair. Arithmetic is in double, stored as Float32 after each step.
 */
import type { VoxelArray } from './volume.ts';

export interface SeparableParams {
  src: VoxelArray;
  dst: Float32Array;
  nx: number;
  ny: number;
  nz: number;
  /** Correlation weights per axis, length 2r+1; index t is offset t − r. */
  wx: Float64Array;
  wy: Float64Array;
  wz: Float64Array;
}

/** Taps accumulated per sweep: centre + 3 pairs keeps the weights and the accumulator in registers. */
const PAIRS_PER_SWEEP = 3;

let ring = new Float32Array(0);
let line = new Float32Array(0);
let offsets = new Int32Array(0);

function clamp(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}

/**
 * out[o + i] = Σ_{t} w[t]·inp[offs[t] + i] for i < n, taps taken as the centre then ± pairs, PAIRS_PER_SWEEP a sweep.
 * The Float32 and the generic-input versions are separate functions on purpose: V8 specialises a loop for the
 * array types it has seen, and the y/x steps always see Float32Array.
 */
function correlateF32(inp: Float32Array, offs: Int32Array, w: Float64Array, out: Float32Array, o: number, n: number): void {
  const r = (w.length - 1) >> 1;
  const c = offs[r] as number, w0 = w[r] as number;
  const first = Math.min(r, PAIRS_PER_SWEEP);
  if (first === 0) {
    for (let i = 0; i < n; i++) out[o + i] = w0 * (inp[c + i] as number);
  } else if (first === 1) {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    for (let i = 0; i < n; i++) out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number);
  } else if (first === 2) {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    const m2 = offs[r - 2] as number, p2 = offs[r + 2] as number, a2 = w[r - 2] as number, b2 = w[r + 2] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number);
    }
  } else {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    const m2 = offs[r - 2] as number, p2 = offs[r + 2] as number, a2 = w[r - 2] as number, b2 = w[r + 2] as number;
    const m3 = offs[r - 3] as number, p3 = offs[r + 3] as number, a3 = w[r - 3] as number, b3 = w[r + 3] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number)
        + a3 * (inp[m3 + i] as number) + b3 * (inp[p3 + i] as number);
    }
  }
  for (let t = first + 1; t <= r; t += PAIRS_PER_SWEEP) {
    const k = Math.min(r - t + 1, PAIRS_PER_SWEEP);
    const m1 = offs[r - t] as number, p1 = offs[r + t] as number, a1 = w[r - t] as number, b1 = w[r + t] as number;
    if (k === 1) {
      for (let i = 0; i < n; i++) out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number);
      continue;
    }
    const m2 = offs[r - t - 1] as number, p2 = offs[r + t + 1] as number, a2 = w[r - t - 1] as number, b2 = w[r + t + 1] as number;
    if (k === 2) {
      for (let i = 0; i < n; i++) {
        out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
          + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number);
      }
      continue;
    }
    const m3 = offs[r - t - 2] as number, p3 = offs[r + t + 2] as number, a3 = w[r - t - 2] as number, b3 = w[r + t + 2] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number)
        + a3 * (inp[m3 + i] as number) + b3 * (inp[p3 + i] as number);
    }
  }
}

/** correlateF32 for any input type (the z step reads the source volume directly, converting as it goes). */
function correlateAny(inp: VoxelArray, offs: Int32Array, w: Float64Array, out: Float32Array, o: number, n: number): void {
  const r = (w.length - 1) >> 1;
  const c = offs[r] as number, w0 = w[r] as number;
  const first = Math.min(r, PAIRS_PER_SWEEP);
  if (first === 0) {
    for (let i = 0; i < n; i++) out[o + i] = w0 * (inp[c + i] as number);
  } else if (first === 1) {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    for (let i = 0; i < n; i++) out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number);
  } else if (first === 2) {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    const m2 = offs[r - 2] as number, p2 = offs[r + 2] as number, a2 = w[r - 2] as number, b2 = w[r + 2] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number);
    }
  } else {
    const m1 = offs[r - 1] as number, p1 = offs[r + 1] as number, a1 = w[r - 1] as number, b1 = w[r + 1] as number;
    const m2 = offs[r - 2] as number, p2 = offs[r + 2] as number, a2 = w[r - 2] as number, b2 = w[r + 2] as number;
    const m3 = offs[r - 3] as number, p3 = offs[r + 3] as number, a3 = w[r - 3] as number, b3 = w[r + 3] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = w0 * (inp[c + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number)
        + a3 * (inp[m3 + i] as number) + b3 * (inp[p3 + i] as number);
    }
  }
  for (let t = first + 1; t <= r; t += PAIRS_PER_SWEEP) {
    const k = Math.min(r - t + 1, PAIRS_PER_SWEEP);
    const m1 = offs[r - t] as number, p1 = offs[r + t] as number, a1 = w[r - t] as number, b1 = w[r + t] as number;
    if (k === 1) {
      for (let i = 0; i < n; i++) out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number);
      continue;
    }
    const m2 = offs[r - t - 1] as number, p2 = offs[r + t + 1] as number, a2 = w[r - t - 1] as number, b2 = w[r + t + 1] as number;
    if (k === 2) {
      for (let i = 0; i < n; i++) {
        out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
          + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number);
      }
      continue;
    }
    const m3 = offs[r - t - 2] as number, p3 = offs[r + t + 2] as number, a3 = w[r - t - 2] as number, b3 = w[r + t + 2] as number;
    for (let i = 0; i < n; i++) {
      out[o + i] = (out[o + i] as number) + a1 * (inp[m1 + i] as number) + b1 * (inp[p1 + i] as number)
        + a2 * (inp[m2 + i] as number) + b2 * (inp[p2 + i] as number)
        + a3 * (inp[m3 + i] as number) + b3 * (inp[p3 + i] as number);
    }
  }
}

function ensureOffsets(n: number): Int32Array {
  if (offsets.length < n) offsets = new Int32Array(Math.max(n, 64));
  return offsets;
}

/** The z step alone for output slice k (dst[k] = Σ wz·src along k); a building block kept for tests of the pool. */
export function convolveZChunk(p: SeparableParams, k: number): void {
  const { src, dst, nx, ny, nz, wz } = p;
  const plane = nx * ny;
  const rz = (wz.length - 1) >> 1;
  const offs = ensureOffsets(wz.length);
  for (let j = 0; j < ny; j++) {
    for (let t = 0; t < wz.length; t++) offs[t] = clamp(k + t - rz, nz - 1) * plane + j * nx;
    correlateAny(src, offs, wz, dst, k * plane + j * nx, nx);
  }
}

/** All three steps for output slice k, written once into dst. */
export function convolveSliceChunk(p: SeparableParams, k: number): void {
  const { src, dst, nx, ny, nz, wx, wy, wz } = p;
  const plane = nx * ny;
  const rx = (wx.length - 1) >> 1, ry = (wy.length - 1) >> 1, rz = (wz.length - 1) >> 1;
  const ringRows = Math.min(2 * ry + 1, ny);
  if (ring.length < ringRows * nx) ring = new Float32Array(ringRows * nx);
  if (line.length < nx + 2 * rx) line = new Float32Array(nx + 2 * rx);
  const offs = ensureOffsets(Math.max(wx.length, wy.length, wz.length));
  const zr = ring, ln = line;
  const base = k * plane;
  let computed = 0; // z-rows 0..computed-1 are done; row jj lives at ring slot jj % ringRows
  for (let j = 0; j < ny; j++) {
    const need = Math.min(j + ry, ny - 1);
    for (; computed <= need; computed++) {
      for (let t = 0; t < wz.length; t++) offs[t] = clamp(k + t - rz, nz - 1) * plane + computed * nx;
      correlateAny(src, offs, wz, zr, (computed % ringRows) * nx, nx);
    }
    for (let t = 0; t < wy.length; t++) offs[t] = (clamp(j + t - ry, ny - 1) % ringRows) * nx;
    correlateF32(zr, offs, wy, ln, rx, nx);
    const firstV = ln[rx] as number, lastV = ln[rx + nx - 1] as number;
    for (let t = 0; t < rx; t++) {
      ln[t] = firstV;
      ln[rx + nx + t] = lastV;
    }
    for (let t = 0; t < wx.length; t++) offs[t] = t;
    correlateF32(ln, offs, wx, dst, base + j * nx, nx);
  }
}
