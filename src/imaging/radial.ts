/**
 * Radial (star-shaped) regularisation of a mask around a centre: the mask's extent is measured along rays from the
 * centre, and what lies beyond a multiple of the local extent — the extent over the neighbouring directions — is
 * cut. A compact object attached to a thin structure (a nodule on a vessel, a blob on a bridge) keeps its body,
 * whose extent is the same in all neighbouring directions, and loses the attachment, which takes only a few of
 * them: the local quantile over a wide cone is set by the body. The grid may be anisotropic (rays are in mm).
 */
import type { MaskVolume, Vec3 } from './volume.ts';
import { withData } from './volume.ts';

/** `n` directions spread evenly over the unit sphere (a Fibonacci lattice), in a fixed order. */
export function sphereDirections(n: number): Vec3[] {
  return Array.from({ length: n }, (_, i): Vec3 => {
    const z = 1 - (2 * i + 1) / n, r = Math.sqrt(Math.max(0, 1 - z * z)), phi = i * Math.PI * (3 - Math.sqrt(5));
    return [r * Math.cos(phi), r * Math.sin(phi), z];
  });
}

export interface RadialCapOptions {
  /** Rays (default 256). */
  directions?: number;
  /** Half-angle (degrees) of the cone of neighbouring directions (default 60). */
  coneDeg?: number;
  /** Quantile of the ray extents in the cone taken as the local extent (default 0.5). */
  quantile?: number;
  /** A voxel is kept up to `factor` × the local extent + `slackMm` from the centre (default 1.3, one voxel). */
  factor?: number;
  slackMm?: number;
}

export interface RadialCapResult {
  mask: MaskVolume;
  /** Ray extents (mm) along each direction, before the cap, and the cap (mm) per direction. */
  extentMm: Float32Array;
  capMm: Float32Array;
  /** Voxels removed. */
  removed: number;
}

function quantileOf(values: number[], q: number): number {
  const s = values.slice().sort((a, b) => a - b);
  const x = q * (s.length - 1);
  const lo = Math.floor(x), hi = Math.ceil(x);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (x - lo);
}

/**
 * The mask cut to `factor` × its local ray extent around `centre` (continuous voxel indices). Rays march in steps of
 * a quarter of the smallest spacing until they leave the mask (or the grid); a voxel belongs to the direction nearest
 * to it from the centre. The result may fall into pieces: the caller keeps the component it wants.
 */
export function radialCap(mask: MaskVolume, centre: Vec3, opts: RadialCapOptions = {}): RadialCapResult {
  const nDir = opts.directions ?? 256;
  const cosCone = Math.cos(((opts.coneDeg ?? 60) * Math.PI) / 180);
  const q = opts.quantile ?? 0.5, factor = opts.factor ?? 1.3;
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  const slack = opts.slackMm ?? Math.max(sx, sy, sz);
  const dirs = sphereDirections(nDir);
  const step = Math.min(sx, sy, sz) / 4;
  const extent = new Float32Array(nDir);
  dirs.forEach((d, a) => {
    let t = 0;
    for (;; t += step) {
      const i = Math.round(centre[0] + (d[0] * t) / sx), j = Math.round(centre[1] + (d[1] * t) / sy), k = Math.round(centre[2] + (d[2] * t) / sz);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz || mask.data[i + j * nx + k * nx * ny] === 0) break;
    }
    extent[a] = t;
  });
  const cap = new Float32Array(nDir);
  dirs.forEach((d, a) => {
    const near: number[] = [];
    dirs.forEach((e, b) => { if (d[0] * e[0] + d[1] * e[1] + d[2] * e[2] >= cosCone) near.push(extent[b] as number); });
    cap[a] = factor * quantileOf(near, q) + slack;
  });
  let minCap = Infinity;
  for (const c of cap) minCap = Math.min(minCap, c);
  const out = Uint8Array.from(mask.data);
  let removed = 0, v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, v++) {
        if (out[v] === 0) continue;
        const x = (i - centre[0]) * sx, y = (j - centre[1]) * sy, z = (k - centre[2]) * sz;
        const r = Math.hypot(x, y, z);
        if (r <= minCap) continue;
        let best = -Infinity, bestA = 0;
        for (let a = 0; a < nDir; a++) {
          const d = dirs[a] as Vec3;
          const c = d[0] * x + d[1] * y + d[2] * z;
          if (c > best) { best = c; bestA = a; }
        }
        if (r > (cap[bestA] as number)) { out[v] = 0; removed++; }
      }
    }
  }
  return { mask: withData(mask, out), extentMm: extent, capMm: cap, removed };
}
