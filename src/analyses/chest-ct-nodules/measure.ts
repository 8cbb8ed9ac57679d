/**
 * Nodule measurements on a binary mask (Lung-RADS v2022 / Fleischner 2017 conventions):
 * - long axis = the longest in-plane diameter on the axial slice where it is greatest; short axis = the
 *   greatest extent perpendicular to it on that same slice; mean diameter = (long + short) / 2 rounded to 0.1 mm;
 * - maximum 3D diameter; principal-axis elongation.
 * Point sets are voxel centres, so each extent gets one voxel size added back (the hull of centres is one voxel
 * smaller than the object it samples).
 */
import type { MaskVolume, Vec3 } from '../../imaging/index.ts';
import { symmetricEigen3 } from '../../imaging/index.ts';

export interface AxialAxes {
  longAxisMm: number;
  shortAxisMm: number;
  /** (long + short) / 2, rounded to 0.1 mm as Lung-RADS v2022 prescribes. */
  meanDiameterMm: number;
  /** Slice index k of the measurement (greatest long axis; ties: greater short axis). */
  slice: number;
}

/** 2D convex hull (Andrew's monotone chain) of points given as flat [x0, y0, x1, y1, ...]; returns point indices. */
export function convexHull2D(xy: ArrayLike<number>): number[] {
  const n = xy.length / 2;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => (xy[2 * a] as number) - (xy[2 * b] as number) || (xy[2 * a + 1] as number) - (xy[2 * b + 1] as number));
  if (n <= 2) return idx;
  const cross = (o: number, a: number, b: number): number =>
    ((xy[2 * a] as number) - (xy[2 * o] as number)) * ((xy[2 * b + 1] as number) - (xy[2 * o + 1] as number)) -
    ((xy[2 * a + 1] as number) - (xy[2 * o + 1] as number)) * ((xy[2 * b] as number) - (xy[2 * o] as number));
  const lower: number[] = [];
  for (const p of idx) {
    while (lower.length >= 2 && cross(lower[lower.length - 2] as number, lower[lower.length - 1] as number, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: number[] = [];
  for (let t = idx.length - 1; t >= 0; t--) {
    const p = idx[t] as number;
    while (upper.length >= 2 && cross(upper[upper.length - 2] as number, upper[upper.length - 1] as number, p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Longest chord of a 2D point set and its perpendicular extent (both between point centres, no voxel added). */
export function longShortAxes2D(xy: ArrayLike<number>): { long: number; short: number } {
  const hull = convexHull2D(xy);
  if (hull.length === 0) return { long: 0, short: 0 };
  let long = 0, ua = hull[0] as number, ub = hull[0] as number;
  for (let a = 0; a < hull.length; a++) {
    for (let c = a + 1; c < hull.length; c++) {
      const p = hull[a] as number, q = hull[c] as number;
      const d = Math.hypot((xy[2 * p] as number) - (xy[2 * q] as number), (xy[2 * p + 1] as number) - (xy[2 * q + 1] as number));
      if (d > long) { long = d; ua = p; ub = q; }
    }
  }
  if (long === 0) return { long: 0, short: 0 };
  const px = -((xy[2 * ub + 1] as number) - (xy[2 * ua + 1] as number)) / long;
  const py = ((xy[2 * ub] as number) - (xy[2 * ua] as number)) / long;
  let lo = Infinity, hi = -Infinity;
  for (const p of hull) {
    const t = (xy[2 * p] as number) * px + (xy[2 * p + 1] as number) * py;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return { long, short: hi - lo };
}

/**
 * Long/short axis on the axial slice of greatest extent. Assumes the k axis is the axial stacking axis and the
 * in-plane axes are orthogonal (true for axial acquisitions; a tilted grid shears slices, not in-plane distances).
 */
export function axialAxes(mask: MaskVolume): AxialAxes {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy] = mask.spacing;
  const pixel = (sx + sy) / 2;
  let best: AxialAxes = { longAxisMm: 0, shortAxisMm: 0, meanDiameterMm: 0, slice: -1 };
  const xy: number[] = [];
  for (let k = 0; k < nz; k++) {
    xy.length = 0;
    const base = k * nx * ny;
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) if (mask.data[base + j * nx + i] !== 0) xy.push(i * sx, j * sy);
    }
    if (xy.length === 0) continue;
    const a = longShortAxes2D(xy);
    const long = a.long + pixel;
    const short = a.short + pixel;
    if (long > best.longAxisMm + 1e-9 || (Math.abs(long - best.longAxisMm) <= 1e-9 && short > best.shortAxisMm)) {
      best = { longAxisMm: long, shortAxisMm: short, meanDiameterMm: round1((long + short) / 2), slice: k };
    }
  }
  return best;
}

export function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Boundary voxels (a 6-neighbour outside the mask or the grid) as mm coordinates in the grid's index frame. */
function boundaryPoints(mask: MaskVolume): number[] {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  const d = mask.data;
  const pts: number[] = [];
  const plane = nx * ny;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = i + j * nx + k * plane;
        if (d[v] === 0) continue;
        const edge = i === 0 || j === 0 || k === 0 || i === nx - 1 || j === ny - 1 || k === nz - 1 ||
          d[v - 1] === 0 || d[v + 1] === 0 || d[v - nx] === 0 || d[v + nx] === 0 || d[v - plane] === 0 || d[v + plane] === 0;
        if (edge) pts.push(i * sx, j * sy, k * sz);
      }
    }
  }
  return pts;
}

/** Largest distance between two voxels of the mask plus one voxel (mm). O(b²) over boundary voxels, capped by sampling. */
export function maxDiameter3D(mask: MaskVolume, maxPoints = 1200): number {
  const all = boundaryPoints(mask);
  const n = all.length / 3;
  if (n === 0) return 0;
  const step = Math.max(1, Math.ceil(n / maxPoints));
  let best = 0;
  for (let a = 0; a < n; a += step) {
    const ax = all[3 * a] as number, ay = all[3 * a + 1] as number, az = all[3 * a + 2] as number;
    for (let b = a + step; b < n; b += step) {
      const dx = ax - (all[3 * b] as number), dy = ay - (all[3 * b + 1] as number), dz = az - (all[3 * b + 2] as number);
      const d2 = dx * dx + dy * dy + dz * dz;
      if (d2 > best) best = d2;
    }
  }
  const [sx, sy, sz] = mask.spacing;
  return Math.sqrt(best) + (sx + sy + sz) / 3;
}

export interface ShapeMoments {
  voxels: number;
  /** Standard deviations (mm) along the principal axes, largest first. */
  principalSdMm: Vec3;
  /** sd_min / sd_max: 1 for a ball, → 0 for a tube or plate. */
  elongation: number;
  /** sd_mid / sd_max: ≈ 1 for a ball or a plate, small for a tube. */
  flatness: number;
  /** Unit principal axis of greatest extent, in the grid's index frame (mm-scaled). */
  majorAxis: Vec3;
}

/** Second moments of the voxel positions (mm). */
export function shapeMoments(mask: MaskVolume): ShapeMoments {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  let n = 0, mx = 0, my = 0, mz = 0;
  let xx = 0, xy = 0, xz = 0, yy = 0, yz = 0, zz = 0;
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, v++) {
        if (mask.data[v] === 0) continue;
        const x = i * sx, y = j * sy, z = k * sz;
        n++; mx += x; my += y; mz += z;
        xx += x * x; xy += x * y; xz += x * z; yy += y * y; yz += y * z; zz += z * z;
      }
    }
  }
  if (n === 0) return { voxels: 0, principalSdMm: [0, 0, 0], elongation: 0, flatness: 0, majorAxis: [1, 0, 0] };
  mx /= n; my /= n; mz /= n;
  // A voxel is a box, not a point: add its own variance s²/12 so single-voxel-thick objects are not degenerate.
  const cov = [
    xx / n - mx * mx + (sx * sx) / 12, xy / n - mx * my, xz / n - mx * mz,
    yy / n - my * my + (sy * sy) / 12, yz / n - my * mz, zz / n - mz * mz + (sz * sz) / 12,
  ];
  const eig = symmetricEigen3(cov);
  const order = [0, 1, 2].sort((a, b) => (eig.values[b] as number) - (eig.values[a] as number));
  const sd = order.map((o) => Math.sqrt(Math.max(0, eig.values[o] as number))) as Vec3;
  return {
    voxels: n,
    principalSdMm: sd,
    elongation: sd[0] > 0 ? sd[2] / sd[0] : 0,
    flatness: sd[0] > 0 ? sd[1] / sd[0] : 0,
    majorAxis: eig.vectors[order[0] as number] as Vec3,
  };
}
