/**
 * Separable correlation engine behind gaussian() and gaussianDerivative(). Plain typed-array code that runs the
 * same on the calling thread and in workers (see kernel-tasks.ts). Borders replicate the edge voxel.
 *
 * Passes, chosen so that every inner loop walks contiguous memory and only one full-size buffer exists:
 *  1. along k, slice by slice: dst[k] = Σ_t wz[t]·src[k + t − rz]   (row-wise axpy over whole rows)
 *  2. in place, slice by slice: along j (row-wise axpy into a slice scratch), then along i (padded line buffer).
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

let sliceScratch = new Float32Array(0);
let lineScratch = new Float32Array(0);

function clamp(v: number, hi: number): number {
  return v < 0 ? 0 : v > hi ? hi : v;
}

/** Pass 1 for output slice k. */
export function convolveZChunk(p: SeparableParams, k: number): void {
  const { src, dst, nx, ny, nz, wz } = p;
  const plane = nx * ny;
  const r = (wz.length - 1) >> 1;
  const out = k * plane;
  if (wz.length === 1 && wz[0] === 1) {
    for (let v = 0; v < plane; v++) dst[out + v] = src[out + v] as number;
    return;
  }
  const offsets = new Int32Array(wz.length);
  for (let t = 0; t < wz.length; t++) offsets[t] = clamp(k + t - r, nz - 1) * plane;
  const wc = wz[r] as number;
  for (let j = 0; j < ny; j++) {
    const row = j * nx;
    const o = out + row;
    const sc = (offsets[r] as number) + row;
    for (let i = 0; i < nx; i++) dst[o + i] = wc * (src[sc + i] as number);
    // Taps are taken in ± pairs: half as many read–modify–write sweeps over the output row.
    for (let t = 1; t <= r; t++) {
      const wm = wz[r - t] as number;
      const wp = wz[r + t] as number;
      const sm = (offsets[r - t] as number) + row;
      const sp = (offsets[r + t] as number) + row;
      for (let i = 0; i < nx; i++) dst[o + i] = (dst[o + i] as number) + wm * (src[sm + i] as number) + wp * (src[sp + i] as number);
    }
  }
}

/** Pass 2 for slice k, in place in dst. */
export function convolveXYChunk(p: SeparableParams, k: number): void {
  const { dst, nx, ny, wx, wy } = p;
  const plane = nx * ny;
  const base = k * plane;
  const identityY = wy.length === 1 && wy[0] === 1;
  const identityX = wx.length === 1 && wx[0] === 1;
  if (identityX && identityY) return;
  if (sliceScratch.length < plane) sliceScratch = new Float32Array(plane);
  const tmp = sliceScratch;
  if (identityY) {
    for (let v = 0; v < plane; v++) tmp[v] = dst[base + v] as number;
  } else {
    const r = (wy.length - 1) >> 1;
    const wc = wy[r] as number;
    for (let j = 0; j < ny; j++) {
      const o = j * nx;
      const sc = base + j * nx;
      for (let i = 0; i < nx; i++) tmp[o + i] = wc * (dst[sc + i] as number);
      for (let t = 1; t <= r; t++) {
        const wm = wy[r - t] as number;
        const wp = wy[r + t] as number;
        const sm = base + clamp(j - t, ny - 1) * nx;
        const sp = base + clamp(j + t, ny - 1) * nx;
        for (let i = 0; i < nx; i++) tmp[o + i] = (tmp[o + i] as number) + wm * (dst[sm + i] as number) + wp * (dst[sp + i] as number);
      }
    }
  }
  if (identityX) {
    for (let v = 0; v < plane; v++) dst[base + v] = tmp[v] as number;
    return;
  }
  const r = (wx.length - 1) >> 1;
  if (lineScratch.length < nx + 2 * r) lineScratch = new Float32Array(nx + 2 * r);
  const line = lineScratch;
  for (let j = 0; j < ny; j++) {
    const o = j * nx;
    const first = tmp[o] as number;
    const last = tmp[o + nx - 1] as number;
    for (let t = 0; t < r; t++) {
      line[t] = first;
      line[r + nx + t] = last;
    }
    for (let i = 0; i < nx; i++) line[r + i] = tmp[o + i] as number;
    const d = base + o;
    const wc = wx[r] as number;
    for (let i = 0; i < nx; i++) dst[d + i] = wc * (line[r + i] as number);
    // Shifted axpy sweeps rather than a short tap loop per voxel: long contiguous inner loops run faster in V8.
    for (let t = 1; t <= r; t++) {
      const wm = wx[r - t] as number;
      const wp = wx[r + t] as number;
      const lm = r - t;
      const lp = r + t;
      for (let i = 0; i < nx; i++) dst[d + i] = (dst[d + i] as number) + wm * (line[lm + i] as number) + wp * (line[lp + i] as number);
    }
  }
}
