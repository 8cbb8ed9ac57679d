/**
 * Per-slice body of hessianEigenvalues(): central-difference Hessian (mm) of the smoothed image and its
 * eigenvalues in closed form, ordered by magnitude. Runs on the calling thread or on kernel workers.
 */
import type { Vec3 } from './volume.ts';

export interface HessianParams {
  /** Smoothed image on the sub-grid `subDims` whose voxel (0,0,0) is voxel `start` of the full grid. */
  g: Float32Array;
  subDims: Vec3;
  spacing: Vec3;
  start: Vec3;
  end: Vec3;
  dims: Vec3;
  mask: Uint8Array | null;
  scale: number;
  l1: Float32Array;
  l2: Float32Array;
  l3: Float32Array;
}

function byMagnitude(a: number, b: number, c: number, out: Float64Array): void {
  let x = a, y = b, z = c, t: number;
  if (Math.abs(x) > Math.abs(y)) { t = x; x = y; y = t; }
  if (Math.abs(y) > Math.abs(z)) { t = y; y = z; z = t; }
  if (Math.abs(x) > Math.abs(y)) { t = x; x = y; y = t; }
  out[0] = x; out[1] = y; out[2] = z;
}

/** Eigenvalues of [[a,b,c],[b,d,e],[c,e,f]] (closed form, trigonometric), ordered by magnitude into out. */
export function eigenvalues3(a: number, b: number, c: number, d: number, e: number, f: number, out: Float64Array): void {
  const p1 = b * b + c * c + e * e;
  if (p1 === 0) {
    byMagnitude(a, d, f, out);
    return;
  }
  const q = (a + d + f) / 3;
  const aq = a - q, dq = d - q, fq = f - q;
  const p = Math.sqrt((aq * aq + dq * dq + fq * fq + 2 * p1) / 6);
  if (p === 0) {
    byMagnitude(q, q, q, out);
    return;
  }
  const ip = 1 / p;
  const detB = ip * ip * ip * (aq * (dq * fq - e * e) - b * (b * fq - e * c) + c * (b * e - dq * c));
  const r = detB / 2;
  const phi = r <= -1 ? Math.PI / 3 : r >= 1 ? 0 : Math.acos(r) / 3;
  const e1 = q + 2 * p * Math.cos(phi);
  const e3 = q + 2 * p * Math.cos(phi + (2 * Math.PI) / 3);
  byMagnitude(e1, 3 * q - e1 - e3, e3, out);
}

/** Central-difference Hessian (mm) of g at (i, j, k), edges replicated, into out[0..5]. */
export function hessianFd(g: Float32Array, dims: Vec3, spacing: Vec3, i: number, j: number, k: number, out: Float64Array): void {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const v = i + j * nx + k * plane;
  const im = i > 0 ? -1 : 0, ip = i < nx - 1 ? 1 : 0;
  const jm = j > 0 ? -nx : 0, jp = j < ny - 1 ? nx : 0;
  const km = k > 0 ? -plane : 0, kp = k < nz - 1 ? plane : 0;
  const c = g[v] as number;
  const [sx, sy, sz] = spacing;
  out[0] = ((g[v + ip] as number) - 2 * c + (g[v + im] as number)) / (sx * sx);
  out[3] = ((g[v + jp] as number) - 2 * c + (g[v + jm] as number)) / (sy * sy);
  out[5] = ((g[v + kp] as number) - 2 * c + (g[v + km] as number)) / (sz * sz);
  out[1] = ((g[v + ip + jp] as number) - (g[v + ip + jm] as number) - (g[v + im + jp] as number) + (g[v + im + jm] as number)) / (4 * sx * sy);
  out[2] = ((g[v + ip + kp] as number) - (g[v + ip + km] as number) - (g[v + im + kp] as number) + (g[v + im + km] as number)) / (4 * sx * sz);
  out[4] = ((g[v + jp + kp] as number) - (g[v + jp + km] as number) - (g[v + jm + kp] as number) + (g[v + jm + km] as number)) / (4 * sy * sz);
}

/** Chunk c = slice start[2] + c of the full grid. */
export function hessianChunk(p: HessianParams, c: number): void {
  const { g, subDims, spacing, start, end, dims, mask, scale, l1, l2, l3 } = p;
  const k = start[2] + c;
  const h = new Float64Array(6);
  const ev = new Float64Array(3);
  const [nx, ny] = dims;
  for (let j = start[1]; j < end[1]; j++) {
    for (let i = start[0]; i < end[0]; i++) {
      const v = i + j * nx + k * nx * ny;
      if (mask && mask[v] === 0) continue;
      hessianFd(g, subDims, spacing, i - start[0], j - start[1], c, h);
      eigenvalues3(h[0] as number, h[1] as number, h[2] as number, h[3] as number, h[4] as number, h[5] as number, ev);
      l1[v] = (ev[0] as number) * scale;
      l2[v] = (ev[1] as number) * scale;
      l3[v] = (ev[2] as number) * scale;
    }
  }
}
