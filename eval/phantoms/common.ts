/**
 * Shared building blocks of the synthetic CT phantoms: a seeded PRNG, shapes given by conservative signed
 * distance functions (SDF), partial-volume rasterisation with supersampling, a smooth texture field, the
 * acquisition model (PSF/slice-profile blur + correlated noise) and nodule measurement on the analytic shape.
 *
 * SDF contract: `sdf(p)` has the exact sign of the shape (negative inside) and |sdf(p)| never exceeds the true
 * distance to the surface. That is what lets the rasteriser skip or fill whole blocks and supersample only
 * voxels the surface can cross, and it survives CSG: union = min, intersection = max, a − b = max(a, −b).
 * (An offset `sdf − r` would NOT keep the sign exact for a conservative SDF: build enlarged primitives instead.)
 */
import { SrError } from '../../src/core/index.ts';
import { gaussian, gaussianKernel1D, voxelCount } from '../../src/imaging/index.ts';
import type { Float32Volume, Int16Volume, Mat3, Vec3 } from '../../src/imaging/index.ts';

// ---------------------------------------------------------------- PRNG

/** Seeded xoshiro128** generator; `fork(label)` gives an independent stream so parts of a phantom stay stable. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spare: number | undefined;
  readonly seedLabel: string;

  constructor(seed: number | string) {
    this.seedLabel = String(seed);
    // cyrb128-style string hash → 128-bit state (never all zero).
    let h1 = 1779033703, h2 = 3144134277, h3 = 1013904242, h4 = 2773480762;
    for (let i = 0; i < this.seedLabel.length; i++) {
      const k = this.seedLabel.charCodeAt(i);
      h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
      h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
      h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
      h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
    }
    h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
    h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
    h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
    h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
    this.a = (h1 ^ h2 ^ h3 ^ h4) >>> 0;
    this.b = (h2 ^ h1) >>> 0;
    this.c = (h3 ^ h1) >>> 0;
    this.d = (h4 ^ h1) >>> 0 || 1;
  }

  /** Independent stream derived from this seed and a label. */
  fork(label: string): Rng {
    return new Rng(`${this.seedLabel}/${label}`);
  }

  /** Uniform in [0, 1). */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return r / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new SrError('PHANTOM_INVALID_OPTIONS', 'pick from an empty list');
    return items[Math.min(items.length - 1, Math.floor(this.next() * items.length))] as T;
  }

  /** Standard normal (Box–Muller, pairs cached). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const m = Math.sqrt(-2 * Math.log(u));
    this.spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  }

  /** Log-uniform in [lo, hi]: small values as common as large ones per octave, like nodule sizes. */
  logUniform(lo: number, hi: number): number {
    return Math.exp(this.uniform(Math.log(lo), Math.log(hi)));
  }

  /** A unit vector uniformly on the sphere. */
  unitVector(): Vec3 {
    const z = this.uniform(-1, 1);
    const t = this.uniform(0, 2 * Math.PI);
    const r = Math.sqrt(1 - z * z);
    return [r * Math.cos(t), r * Math.sin(t), z];
  }

  /** A random rotation matrix (columns = rotated axes). */
  rotation(): Mat3 {
    const a = this.unitVector();
    const b0 = this.unitVector();
    const b = normalize(sub(b0, scale(a, dot3(a, b0))));
    if (!Number.isFinite(b[0])) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const c = cross3(a, b);
    return [a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], c[2]];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// ---------------------------------------------------------------- small vector helpers

export function add(a: Vec3, b: Vec3): Vec3 {
  return [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
}
export function sub(a: Vec3, b: Vec3): Vec3 {
  return [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
}
export function scale(a: Vec3, s: number): Vec3 {
  return [a[0] * s, a[1] * s, a[2] * s];
}
export function dot3(a: Vec3, b: Vec3): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
export function cross3(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}
export function len3(a: Vec3): number {
  return Math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
}
export function normalize(a: Vec3): Vec3 {
  const l = len3(a);
  return l > 0 ? [a[0] / l, a[1] / l, a[2] / l] : [NaN, NaN, NaN];
}
/** Rotates `v` by angle (rad) about unit axis `k` (Rodrigues). */
export function rotateAbout(v: Vec3, k: Vec3, angle: number): Vec3 {
  const c = Math.cos(angle), s = Math.sin(angle);
  const kv = cross3(k, v);
  const kd = dot3(k, v) * (1 - c);
  return [v[0] * c + kv[0] * s + k[0] * kd, v[1] * c + kv[1] * s + k[1] * kd, v[2] * c + kv[2] * s + k[2] * kd];
}
/** Any unit vector perpendicular to unit `v`. */
export function perpendicular(v: Vec3): Vec3 {
  const t: Vec3 = Math.abs(v[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  return normalize(cross3(v, t));
}

// ---------------------------------------------------------------- shapes

export interface Box3 {
  readonly min: Vec3;
  readonly max: Vec3;
}

export interface Shape {
  /** Axis-aligned LPS box that contains the shape. */
  readonly bbox: Box3;
  /** Conservative signed distance (mm), negative inside. */
  sdf(x: number, y: number, z: number): number;
  /**
   * Set by z-extrusions: for z0 ≤ z ≤ z1 the sign of sdf does not depend on z, and |sdf| at z = (z0 + z1)/2 bounds
   * the in-plane distance to the boundary. Lets the rasteriser paint the slab's slices from one in-plane map.
   */
  readonly zSlab?: { readonly z0: number; readonly z1: number };
}

function box(min: Vec3, max: Vec3): Box3 {
  return { min, max };
}

export function sphere(c: Vec3, r: number): Shape {
  const [cx, cy, cz] = c;
  return {
    bbox: box([cx - r, cy - r, cz - r], [cx + r, cy + r, cz + r]),
    sdf: (x, y, z) => {
      const dx = x - cx, dy = y - cy, dz = z - cz;
      return Math.sqrt(dx * dx + dy * dy + dz * dz) - r;
    },
  };
}

/**
 * Ellipsoid with semi-axes `radii` along the columns of `rot` (default axis-aligned). Inside, SDF = (q − 1)·min(radii)
 * with q the ellipsoidal "radius" ((1/min radius)-Lipschitz, so it never overestimates the depth).
 */
export function ellipsoid(c: Vec3, radii: Vec3, rot?: Mat3): Shape {
  const [cx, cy, cz] = c;
  const [ra, rb, rc] = radii;
  const m = rot ?? ([1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3);
  const rmin = Math.min(ra, rb, rc);
  // Half-extent along each LPS axis of a rotated ellipsoid: sqrt(Σ_k (R[row,k]·r_k)²).
  const ext = [0, 1, 2].map((row) => Math.hypot(m[row * 3]! * ra, m[row * 3 + 1]! * rb, m[row * 3 + 2]! * rc)) as Vec3;
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = m;
  return {
    bbox: box([cx - ext[0], cy - ext[1], cz - ext[2]], [cx + ext[0], cy + ext[1], cz + ext[2]]),
    sdf: (x, y, z) => {
      const dx = x - cx, dy = y - cy, dz = z - cz;
      const u = (m0 * dx + m3 * dy + m6 * dz) / ra;
      const v = (m1 * dx + m4 * dy + m7 * dz) / rb;
      const w = (m2 * dx + m5 * dy + m8 * dz) / rc;
      const q = Math.sqrt(u * u + v * v + w * w);
      if (q <= 1) return (q - 1) * rmin;
      // Outside, q is convex: q(s) ≥ q(p) + ∇q·(s − p) gives dist ≥ (q − 1)/|∇q|, a much tighter bound.
      const g = Math.sqrt((u * u) / (ra * ra) + (v * v) / (rb * rb) + (w * w) / (rc * rc)) / q;
      return (q - 1) / g;
    },
  };
}

/** Elliptic cylinder along z between z0 and z1, centred (cx, cy), semi-axes ax, ay. */
export function ellipticCylinderZ(cx: number, cy: number, ax: number, ay: number, z0: number, z1: number): Shape {
  const rmin = Math.min(ax, ay);
  const zc = (z0 + z1) / 2, hz = (z1 - z0) / 2;
  return {
    bbox: box([cx - ax, cy - ay, z0], [cx + ax, cy + ay, z1]),
    zSlab: { z0, z1 },
    sdf: (x, y, z) => {
      const u = (x - cx) / ax, v = (y - cy) / ay;
      const q = Math.sqrt(u * u + v * v);
      // Same bounds as the ellipsoid: Lipschitz inside, convexity (q − 1)/|∇q| outside.
      const radial = q <= 1 ? (q - 1) * rmin : (q - 1) / (Math.sqrt((u * u) / (ax * ax) + (v * v) / (ay * ay)) / q);
      return Math.max(radial, Math.abs(z - zc) - hz);
    },
  };
}

/** Axis-aligned box. */
export function aabb(min: Vec3, max: Vec3): Shape {
  const c: Vec3 = [(min[0] + max[0]) / 2, (min[1] + max[1]) / 2, (min[2] + max[2]) / 2];
  const h: Vec3 = [(max[0] - min[0]) / 2, (max[1] - min[1]) / 2, (max[2] - min[2]) / 2];
  return {
    bbox: box(min, max),
    sdf: (x, y, z) => {
      const qx = Math.abs(x - c[0]) - h[0], qy = Math.abs(y - c[1]) - h[1], qz = Math.abs(z - c[2]) - h[2];
      const ax = qx > 0 ? qx : 0, ay = qy > 0 ? qy : 0, az = qz > 0 ? qz : 0;
      const out = Math.sqrt(ax * ax + ay * ay + az * az);
      return out + Math.min(Math.max(qx, qy, qz), 0);
    },
  };
}

/** Half-space {p : n·p ≤ offset} (n unit), clipped to a large box for its bbox. */
export function halfSpace(n: Vec3, offset: number, within: Box3): Shape {
  const nn = normalize(n);
  return { bbox: within, sdf: (x, y, z) => nn[0] * x + nn[1] * y + nn[2] * z - offset };
}

/** A slab |n·p − offset| ≤ thickness/2 (a fissure), limited to `within`. */
export function slab(n: Vec3, offset: number, thickness: number, within: Box3): Shape {
  const nn = normalize(n);
  return { bbox: within, sdf: (x, y, z) => Math.abs(nn[0] * x + nn[1] * y + nn[2] * z - offset) - thickness / 2 };
}

/**
 * Tube from a (radius ra) to b (radius rb): {p : dist(p, segment) < r(t*)} where t* is the closest point's
 * parameter. The taper term makes the function (1 + |ra − rb|/L)-Lipschitz, hence the division.
 */
export function tube(a: Vec3, b: Vec3, ra: number, rb: number): Shape {
  const d = sub(b, a);
  const l2 = dot3(d, d);
  const L = Math.sqrt(l2);
  const lip = L > 0 ? 1 + Math.abs(ra - rb) / L : 1;
  const r = Math.max(ra, rb);
  const [ax, ay, az] = a;
  const [dx, dy, dz] = d;
  return {
    bbox: box(
      [Math.min(a[0], b[0]) - r, Math.min(a[1], b[1]) - r, Math.min(a[2], b[2]) - r],
      [Math.max(a[0], b[0]) + r, Math.max(a[1], b[1]) + r, Math.max(a[2], b[2]) + r],
    ),
    sdf: (x, y, z) => {
      const px = x - ax, py = y - ay, pz = z - az;
      let t = l2 > 0 ? (px * dx + py * dy + pz * dz) / l2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = px - t * dx, ey = py - t * dy, ez = pz - t * dz;
      return (Math.sqrt(ex * ex + ey * ey + ez * ez) - (ra + (rb - ra) * t)) / lip;
    },
  };
}

export function union(shapes: readonly Shape[]): Shape {
  if (shapes.length === 1 && shapes[0]) return shapes[0];
  const fns = shapes.map((m) => m.sdf);
  const boxes = packBoxes(shapes);
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (const s of shapes) {
    for (let a = 0; a < 3; a++) {
      min[a] = Math.min(min[a]!, s.bbox.min[a]!);
      max[a] = Math.max(max[a]!, s.bbox.max[a]!);
    }
  }
  return {
    bbox: box(min, max),
    sdf: (x, y, z) => {
      // Stopping at the first member that contains the point keeps the bound valid: the partial minimum is
      // negative (sign right) and no deeper than the true union depth.
      let d = Infinity;
      for (let m = 0; m < fns.length; m++) {
        // A member farther (by its box) than the best so far cannot lower the minimum: skip it.
        if (boxDistance(boxes, m, x, y, z) >= d) continue;
        const v = fns[m]!(x, y, z);
        if (v < d) {
          d = v;
          if (d < 0) return d;
        }
      }
      return d;
    },
  };
}

/**
 * Intersection (max). With `earlyExit` it stops at the first member that puts the point outside — cheaper, and
 * still a valid bound, but only worth it when the first member is an accurate SDF (a nodule clipped to a lung).
 */
export function intersection(shapes: readonly Shape[], earlyExit = false): Shape {
  const fns = shapes.map((m) => m.sdf);
  const min: Vec3 = [-Infinity, -Infinity, -Infinity];
  const max: Vec3 = [Infinity, Infinity, Infinity];
  for (const s of shapes) {
    for (let a = 0; a < 3; a++) {
      min[a] = Math.max(min[a]!, s.bbox.min[a]!);
      max[a] = Math.min(max[a]!, s.bbox.max[a]!);
    }
  }
  return {
    bbox: box(min, max),
    sdf: (x, y, z) => {
      let d = -Infinity;
      for (let m = 0; m < fns.length; m++) {
        const v = fns[m]!(x, y, z);
        if (v > d) {
          d = v;
          if (earlyExit && d > 0) return d;
        }
      }
      return d;
    },
  };
}

export function subtract(a: Shape, cut: readonly Shape[]): Shape {
  const first = a.sdf;
  const fns = cut.map((c) => c.sdf);
  const boxes = packBoxes(cut);
  return {
    bbox: a.bbox,
    sdf: (x, y, z) => {
      let d = first(x, y, z);
      for (let m = 0; m < fns.length; m++) {
        // Outside a cut's box by δ: the cut is at least δ away, so −δ is a valid (weaker) stand-in for −sdf.
        const delta = boxDistance(boxes, m, x, y, z);
        if (delta > 0) {
          if (-delta > d) d = -delta;
          continue;
        }
        const v = -fns[m]!(x, y, z);
        if (v > d) d = v;
      }
      return d;
    },
  };
}

function packBoxes(shapes: readonly Shape[]): Float64Array {
  const out = new Float64Array(shapes.length * 6);
  shapes.forEach((s, m) => {
    out.set(s.bbox.min, m * 6);
    out.set(s.bbox.max, m * 6 + 3);
  });
  return out;
}

/** Euclidean distance from a point to box m of a packed list (0 inside). */
function boxDistance(b: Float64Array, m: number, x: number, y: number, z: number): number {
  const o = m * 6;
  const dx = Math.max(b[o]! - x, 0, x - b[o + 3]!);
  const dy = Math.max(b[o + 1]! - y, 0, y - b[o + 4]!);
  const dz = Math.max(b[o + 2]! - z, 0, z - b[o + 5]!);
  return dx === 0 && dy === 0 && dz === 0 ? 0 : Math.sqrt(dx * dx + dy * dy + dz * dz);
}

export function boxesOverlap(a: Box3, b: Box3): boolean {
  return a.min[0] <= b.max[0] && b.min[0] <= a.max[0] && a.min[1] <= b.max[1] && b.min[1] <= a.max[1] && a.min[2] <= b.max[2] && b.min[2] <= a.max[2];
}

// ---------------------------------------------------------------- rasterisation

/** Canvas = a Float32 volume of HU being painted. */
export type Canvas = Float32Volume;

export interface RasterOptions {
  /** HU painted where the shape covers a voxel (a constant or a function of the voxel centre in LPS mm). */
  value: number | ((x: number, y: number, z: number) => number);
  /** Supersamples per axis on voxels the surface can cross (default 3 → 27 samples). */
  supersample?: number;
  /** Called for each voxel with coverage f > 0 (linear index, f in (0, 1]). */
  onCoverage?: (index: number, f: number) => void;
}

export interface RasterStats {
  /** Σ coverage fraction over voxels (× voxel volume = the painted volume). */
  coverageSum: number;
  /** Voxels with coverage ≥ 0.5. */
  voxelsHalf: number;
}

/** Top-level block edge (mm); blocks the surface can cross are halved until they are 2 voxels or less a side. */
const BLOCK_MM = 10;

/** Half the longest diagonal of the parallelepiped a·u + b·v + c·w (|a|,|b|,|c| ≤ 1/2 each). */
function halfDiagonal(u: Vec3, v: Vec3, w: Vec3): number {
  let best = 0;
  for (const [p, q] of [[1, 1], [1, -1], [-1, 1], [-1, -1]] as const) {
    const x = u[0] + p * v[0] + q * w[0], y = u[1] + p * v[1] + q * w[1], z = u[2] + p * v[2] + q * w[2];
    best = Math.max(best, x * x + y * y + z * z);
  }
  return 0.5 * Math.sqrt(best);
}

/**
 * Paints `shape` onto the canvas with partial-volume compositing: v ← v + (value − v)·f, f = covered fraction of
 * the voxel (n³ supersamples on voxels the surface can cross). Only the shape's bounding box is visited, in
 * blocks that are skipped or filled whole when the SDF at their centre proves the surface cannot reach them, and
 * otherwise halved (an octree descent) down to 2-voxel blocks. Every skip/fill decision is exact given the SDF
 * contract, so the coverage is that of plain per-voxel supersampling. A shape with `zSlab` (a z-extrusion) is
 * rasterised once in-plane and repeated over the slices inside its slab when the grid is not tilted.
 */
export function rasterize(canvas: Canvas, shape: Shape, opts: RasterOptions): RasterStats {
  const [nx, ny] = canvas.dims;
  const d = canvas.direction;
  const [sx, sy, sz] = canvas.spacing;
  const ci: Vec3 = [d[0] * sx, d[3] * sx, d[6] * sx];
  const cj: Vec3 = [d[1] * sy, d[4] * sy, d[7] * sy];
  const ck: Vec3 = [d[2] * sz, d[5] * sz, d[8] * sz];
  const [ox, oy, oz] = canvas.origin;
  const range = ijkRange(canvas, shape.bbox);
  const stats: RasterStats = { coverageSum: 0, voxelsHalf: 0 };
  if (!range) return stats;
  const [i0, i1, j0, j1, k0, k1] = range;
  const hv = halfDiagonal(ci, cj, ck); // every supersample lies within hv of its voxel centre
  const n = Math.max(1, Math.round(opts.supersample ?? 3));
  const data = canvas.data;
  const value = opts.value;
  const constant = typeof value === 'number' ? value : 0;
  const fn = typeof value === 'function' ? value : undefined;
  const onCov = opts.onCoverage;
  const sdf = shape.sdf;
  const plane = nx * ny;

  // z-extrusion fast path: slices whose voxels lie wholly inside the slab share one in-plane coverage map.
  let kFast0 = 1, kFast1 = 0;
  const slab = shape.zSlab;
  if (slab && ci[2] === 0 && cj[2] === 0 && ck[0] === 0 && ck[1] === 0 && ck[2] > 0) {
    const zOf = (k: number) => oz + ck[2] * k;
    kFast0 = Math.max(k0, Math.ceil((slab.z0 + 0.5 * ck[2] - oz) / ck[2]));
    kFast1 = Math.min(k1, Math.floor((slab.z1 - 0.5 * ck[2] - oz) / ck[2]));
    while (kFast0 <= kFast1 && zOf(kFast0) - 0.5 * ck[2] < slab.z0) kFast0++;
    while (kFast1 >= kFast0 && zOf(kFast1) + 0.5 * ck[2] > slab.z1) kFast1--;
    if (kFast0 <= kFast1) paintExtruded(kFast0, kFast1, 0.5 * (slab.z0 + slab.z1));
  }

  const offs: number[] = [];
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < n; c++) {
        const fa = (a + 0.5) / n - 0.5, fb = (b + 0.5) / n - 0.5, fc = (c + 0.5) / n - 0.5;
        offs.push(fa * ci[0] + fb * cj[0] + fc * ck[0], fa * ci[1] + fb * cj[1] + fc * ck[1], fa * ci[2] + fb * cj[2] + fc * ck[2]);
      }
    }
  }
  const nSub = n * n * n;

  // Radius (mm) around a block's centre that holds every supersample of its voxels, cached per block shape.
  const radii = new Map<number, number>();
  const blockRadius = (ni: number, nj: number, nk: number): number => {
    const key = (ni * 64 + nj) * 64 + nk;
    let r = radii.get(key);
    if (r === undefined) {
      r = halfDiagonal(scale(ci, ni), scale(cj, nj), scale(ck, nk)) + hv;
      radii.set(key, r);
    }
    return r;
  };

  const paintVoxel = (idx: number, x: number, y: number, z: number, f: number): void => {
    const v = fn ? fn(x, y, z) : constant;
    const old = data[idx]!;
    data[idx] = old + (v - old) * f;
    stats.coverageSum += f;
    if (f >= 0.5) stats.voxelsHalf++;
    if (onCov) onCov(idx, f);
  };

  const visit = (bi: number, ei: number, bj: number, ej: number, bk: number, ek: number): void => {
    const mi = (bi + ei) / 2, mj = (bj + ej) / 2, mk = (bk + ek) / 2;
    const bd = sdf(ox + ci[0] * mi + cj[0] * mj + ck[0] * mk, oy + ci[1] * mi + cj[1] * mj + ck[1] * mk, oz + ci[2] * mi + cj[2] * mj + ck[2] * mk);
    const ni = ei - bi, nj = ej - bj, nk = ek - bk;
    const radius = blockRadius(ni, nj, nk);
    if (bd > radius) return;
    if (bd < -radius) {
      if (!fn && !onCov) {
        // Fully covered block with a constant value: plain row fills.
        const rowLen = ni + 1;
        for (let k = bk; k <= ek; k++) {
          for (let j = bj; j <= ej; j++) {
            const start = k * plane + j * nx + bi;
            data.fill(constant, start, start + rowLen);
          }
        }
        const cells = rowLen * (nj + 1) * (nk + 1);
        stats.coverageSum += cells;
        stats.voxelsHalf += cells;
        return;
      }
      for (let k = bk; k <= ek; k++) {
        for (let j = bj; j <= ej; j++) {
          for (let i = bi; i <= ei; i++) {
            paintVoxel(k * plane + j * nx + i, ox + ci[0] * i + cj[0] * j + ck[0] * k, oy + ci[1] * i + cj[1] * j + ck[1] * k, oz + ci[2] * i + cj[2] * j + ck[2] * k, 1);
          }
        }
      }
      return;
    }
    if (ni > 1 || nj > 1 || nk > 1) {
      // Halve every axis longer than 2 voxels.
      const si = ni > 1 ? (bi + ei) >> 1 : ei, sj = nj > 1 ? (bj + ej) >> 1 : ej, sk = nk > 1 ? (bk + ek) >> 1 : ek;
      for (let k = 0; k < (nk > 1 ? 2 : 1); k++) {
        const ka = k === 0 ? bk : sk + 1, kb = k === 0 ? sk : ek;
        for (let j = 0; j < (nj > 1 ? 2 : 1); j++) {
          const ja = j === 0 ? bj : sj + 1, jb = j === 0 ? sj : ej;
          for (let i = 0; i < (ni > 1 ? 2 : 1); i++) visit(i === 0 ? bi : si + 1, i === 0 ? si : ei, ja, jb, ka, kb);
        }
      }
      return;
    }
    for (let k = bk; k <= ek; k++) {
      for (let j = bj; j <= ej; j++) {
        let idx = k * plane + j * nx + bi;
        let x = ox + ci[0] * bi + cj[0] * j + ck[0] * k;
        let y = oy + ci[1] * bi + cj[1] * j + ck[1] * k;
        let z = oz + ci[2] * bi + cj[2] * j + ck[2] * k;
        for (let i = bi; i <= ei; i++, idx++, x += ci[0], y += ci[1], z += ci[2]) {
          const dv = sdf(x, y, z);
          if (dv > hv) continue;
          let f = 1;
          if (dv >= -hv) {
            let inside = 0;
            for (let s = 0; s < offs.length; s += 3) {
              if (sdf(x + offs[s]!, y + offs[s + 1]!, z + offs[s + 2]!) < 0) inside++;
            }
            if (inside === 0) continue;
            f = inside / nSub;
          }
          paintVoxel(idx, x, y, z, f);
        }
      }
    }
  };

  const [bI, bJ, bK] = [sx, sy, sz].map((sp) => Math.max(2, Math.min(16, Math.round(BLOCK_MM / sp)))) as Vec3; // < 64: blockRadius key
  const kRanges: [number, number][] = kFast0 <= kFast1 ? [[k0, kFast0 - 1], [kFast1 + 1, k1]] : [[k0, k1]];
  for (const [ka, kb] of kRanges) {
    for (let bk = ka; bk <= kb; bk += bK) {
      const ek = Math.min(kb, bk + bK - 1);
      for (let bj = j0; bj <= j1; bj += bJ) {
        const ej = Math.min(j1, bj + bJ - 1);
        for (let bi = i0; bi <= i1; bi += bI) visit(bi, Math.min(i1, bi + bI - 1), bj, ej, bk, ek);
      }
    }
  }
  return stats;

  /** In-plane coverage (n² samples; the sign is z-independent inside the slab) painted on slices ka..kb. */
  function paintExtruded(ka: number, kb: number, zMid: number): void {
    const w = i1 - i0 + 1, h = j1 - j0 + 1;
    const cov = new Float32Array(w * h);
    const offs2: number[] = [];
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const fa = (a + 0.5) / n - 0.5, fb = (b + 0.5) / n - 0.5;
        offs2.push(fa * ci[0] + fb * cj[0], fa * ci[1] + fb * cj[1]);
      }
    }
    const hv2 = halfDiagonal(ci, cj, [0, 0, 0]);
    const visit2 = (bi: number, ei: number, bj: number, ej: number): void => {
      const mi = (bi + ei) / 2, mj = (bj + ej) / 2;
      const bd = sdf(ox + ci[0] * mi + cj[0] * mj, oy + ci[1] * mi + cj[1] * mj, zMid);
      const ni = ei - bi, nj = ej - bj;
      const radius = halfDiagonal(scale(ci, ni), scale(cj, nj), [0, 0, 0]) + hv2;
      if (bd > radius) return;
      if (bd < -radius) {
        for (let j = bj; j <= ej; j++) cov.fill(1, (j - j0) * w + bi - i0, (j - j0) * w + ei - i0 + 1);
        return;
      }
      if (ni > 1 || nj > 1) {
        const si = ni > 1 ? (bi + ei) >> 1 : ei, sj = nj > 1 ? (bj + ej) >> 1 : ej;
        visit2(bi, si, bj, sj);
        if (ni > 1) visit2(si + 1, ei, bj, sj);
        if (nj > 1) {
          visit2(bi, si, sj + 1, ej);
          if (ni > 1) visit2(si + 1, ei, sj + 1, ej);
        }
        return;
      }
      for (let j = bj; j <= ej; j++) {
        for (let i = bi; i <= ei; i++) {
          const x = ox + ci[0] * i + cj[0] * j, y = oy + ci[1] * i + cj[1] * j;
          const dv = sdf(x, y, zMid);
          if (dv > hv2) continue;
          let f = 1;
          if (dv >= -hv2) {
            let inside = 0;
            for (let s = 0; s < offs2.length; s += 2) if (sdf(x + offs2[s]!, y + offs2[s + 1]!, zMid) < 0) inside++;
            f = inside / (n * n);
          }
          cov[(j - j0) * w + i - i0] = f;
        }
      }
    };
    const bs = Math.max(2, Math.min(16, Math.round(BLOCK_MM / Math.max(sx, sy))));
    for (let bj = j0; bj <= j1; bj += bs) for (let bi = i0; bi <= i1; bi += bs) visit2(bi, Math.min(i1, bi + bs - 1), bj, Math.min(j1, bj + bs - 1));
    // Runs per row: [start, end, f] with f = 1 runs merged, so whole slices paint as a few fills.
    const runs: number[] = [];
    const rowStart = new Int32Array(h + 1);
    let sumF = 0, half = 0;
    for (let j = 0; j < h; j++) {
      rowStart[j] = runs.length;
      for (let i = 0; i < w; i++) {
        const f = cov[j * w + i]!;
        if (f <= 0) continue;
        sumF += f;
        if (f >= 0.5) half++;
        if (f === 1) {
          let e = i;
          while (e + 1 < w && cov[j * w + e + 1] === 1) e++;
          sumF += e - i;
          half += e - i;
          runs.push(i + i0, e + i0, 1);
          i = e;
        } else {
          runs.push(i + i0, i + i0, f);
        }
      }
    }
    rowStart[h] = runs.length;
    for (let k = ka; k <= kb; k++) {
      const z = oz + ck[2] * k;
      for (let j = 0; j < h; j++) {
        const rowBase = k * plane + (j + j0) * nx;
        for (let r = rowStart[j]!; r < rowStart[j + 1]!; r += 3) {
          const a = runs[r]!, b = runs[r + 1]!, f = runs[r + 2]!;
          if (f === 1 && !fn && !onCov) {
            data.fill(constant, rowBase + a, rowBase + b + 1);
            continue;
          }
          for (let i = a; i <= b; i++) {
            const idx = rowBase + i;
            const v = fn ? fn(ox + ci[0] * i + cj[0] * (j + j0), oy + ci[1] * i + cj[1] * (j + j0), z) : constant;
            const old = data[idx]!;
            data[idx] = old + (v - old) * f;
            if (onCov) onCov(idx, f);
          }
        }
      }
    }
    const slices = kb - ka + 1;
    stats.coverageSum += sumF * slices;
    stats.voxelsHalf += half * slices;
  }
}

/** Voxel index range [i0,i1,j0,j1,k0,k1] covering an LPS box (all 8 corners mapped), or undefined if outside. */
export function ijkRange(vol: Pick<Float32Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, b: Box3): [number, number, number, number, number, number] | undefined {
  const inv = invertDirection(vol.direction);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const p = [c & 1 ? b.max[0] : b.min[0], c & 2 ? b.max[1] : b.min[1], c & 4 ? b.max[2] : b.min[2]];
    const rel = [p[0]! - vol.origin[0], p[1]! - vol.origin[1], p[2]! - vol.origin[2]];
    for (let a = 0; a < 3; a++) {
      const v = (inv[a * 3]! * rel[0]! + inv[a * 3 + 1]! * rel[1]! + inv[a * 3 + 2]! * rel[2]!) / vol.spacing[a]!;
      lo[a] = Math.min(lo[a]!, v);
      hi[a] = Math.max(hi[a]!, v);
    }
  }
  const out: number[] = [];
  for (let a = 0; a < 3; a++) {
    const n = vol.dims[a]!;
    const from = Math.max(0, Math.floor(lo[a]! - 1));
    const to = Math.min(n - 1, Math.ceil(hi[a]! + 1));
    if (!Number.isFinite(lo[a]!) || from > to) return undefined;
    out.push(from, to);
  }
  return out as [number, number, number, number, number, number];
}

function invertDirection(m: Mat3): Mat3 {
  const det = m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
  const r = 1 / det;
  return [
    (m[4] * m[8] - m[5] * m[7]) * r, (m[2] * m[7] - m[1] * m[8]) * r, (m[1] * m[5] - m[2] * m[4]) * r,
    (m[5] * m[6] - m[3] * m[8]) * r, (m[0] * m[8] - m[2] * m[6]) * r, (m[2] * m[3] - m[0] * m[5]) * r,
    (m[3] * m[7] - m[4] * m[6]) * r, (m[1] * m[6] - m[0] * m[7]) * r, (m[0] * m[4] - m[1] * m[3]) * r,
  ];
}

// ---------------------------------------------------------------- texture

/**
 * Smooth random field: unit-variance normals on a coarse lattice of `cellMm` over `b`, trilinearly
 * interpolated. Cheap per sample, gives the low-frequency mottling of lung parenchyma.
 */
export function textureField(rng: Rng, b: Box3, cellMm: number): (x: number, y: number, z: number) => number {
  const n = [0, 1, 2].map((a) => Math.max(2, Math.ceil((b.max[a]! - b.min[a]!) / cellMm) + 2)) as Vec3;
  const g = new Float32Array(n[0] * n[1] * n[2]);
  for (let i = 0; i < g.length; i++) g[i] = rng.normal();
  const [bx, by, bz] = b.min;
  const inv = 1 / cellMm;
  const [nx, ny, nz] = n;
  return (x, y, z) => {
    let fx = (x - bx) * inv, fy = (y - by) * inv, fz = (z - bz) * inv;
    fx = fx < 0 ? 0 : fx > nx - 1.001 ? nx - 1.001 : fx;
    fy = fy < 0 ? 0 : fy > ny - 1.001 ? ny - 1.001 : fy;
    fz = fz < 0 ? 0 : fz > nz - 1.001 ? nz - 1.001 : fz;
    const i = Math.floor(fx), j = Math.floor(fy), k = Math.floor(fz);
    const u = fx - i, v = fy - j, w = fz - k;
    const o = i + nx * (j + ny * k);
    const sxy = nx * ny;
    const c00 = g[o]! + (g[o + 1]! - g[o]!) * u;
    const c10 = g[o + nx]! + (g[o + nx + 1]! - g[o + nx]!) * u;
    const c01 = g[o + sxy]! + (g[o + sxy + 1]! - g[o + sxy]!) * u;
    const c11 = g[o + sxy + nx]! + (g[o + sxy + nx + 1]! - g[o + sxy + nx]!) * u;
    const c0 = c00 + (c10 - c00) * v;
    const c1 = c01 + (c11 - c01) * v;
    return c0 + (c1 - c0) * w;
  };
}

// ---------------------------------------------------------------- acquisition

export interface AcquisitionOptions {
  /** In-plane PSF of the reconstruction, Gaussian σ in mm (total, including the pixel box). */
  psfSigmaMm: number;
  /** Nominal slice thickness (FWHM of the slice sensitivity profile), mm. */
  sliceThicknessMm: number;
  /** Standard deviation of the image noise after blurring, HU. */
  noiseSigmaHu: number;
  rng: Rng;
  /** Kernel threads for the blur (src/imaging default otherwise). */
  threads?: number;
}

/**
 * Turns the painted HU canvas into a CT-like image: white noise is added first and blurred together with
 * the signal (so the noise is spatially correlated like reconstructed CT noise); its pre-blur σ is scaled by
 * the kernel's noise gain so the final σ equals `noiseSigmaHu`. The supersampled painting already integrates
 * over each voxel (a box profile), so the Gaussian adds only the remaining variance. Returns rounded Int16 HU.
 * The noise is added to `canvas.data` in place (the canvas is scratch afterwards).
 */
export function acquire(canvas: Canvas, opts: AcquisitionOptions): Int16Volume {
  const FWHM_TO_VAR = 1 / (8 * Math.LN2);
  const [sx, sy, sz] = canvas.spacing;
  const varXY = (s: number) => Math.max(0, opts.psfSigmaMm ** 2 - (s * s) / 12);
  const sigma: Vec3 = [
    Math.sqrt(varXY(sx)),
    Math.sqrt(varXY(sy)),
    Math.sqrt(Math.max(0, opts.sliceThicknessMm ** 2 * FWHM_TO_VAR - (sz * sz) / 12) + 0.25 * varXY(sz)),
  ];
  // Noise gain of the separable filter = Π_axes Σ w² (white noise variance after correlation).
  let gain = 1;
  for (let a = 0; a < 3; a++) {
    const w = gaussianKernel1D(sigma[a]! / canvas.spacing[a]!, 0, 3);
    let s2 = 0;
    for (const x of w) s2 += x * x;
    gain *= s2;
  }
  const preSigma = opts.noiseSigmaHu / Math.sqrt(gain);
  addGaussianNoise(canvas.data, preSigma, opts.rng);
  const blurred = gaussian(canvas, { sigmaMm: sigma, ...(opts.threads === undefined ? {} : { threads: opts.threads }) });
  const out = new Int16Array(voxelCount(canvas.dims));
  const src = blurred.data;
  for (let i = 0; i < out.length; i++) {
    // floor(v + ½) is Math.round; the clamp keeps the Int16 store from wrapping.
    const v = Math.floor(src[i]! + 0.5);
    out[i] = v < -32768 ? -32768 : v > 32767 ? 32767 : v;
  }
  return { data: out, dims: [...canvas.dims], spacing: [...canvas.spacing], origin: [...canvas.origin], direction: [...canvas.direction] as Mat3 };
}

const NORMAL_TABLE_BITS = 16;
let normalTable: Float32Array | undefined;

/**
 * 2¹⁶ standard-normal quantiles at (i + ½)/2¹⁶, from a fine numerical integral of the density, then shifted and
 * scaled to exactly zero mean and unit variance. Drawing a uniform index into it gives a normal variate cut off at
 * ±4.3σ — invisible once the noise is blurred (every output voxel sums dozens of independent draws).
 */
function standardNormalTable(): Float32Array {
  if (normalTable) return normalTable;
  const size = 1 << NORMAL_TABLE_BITS;
  const lo = -7, steps = 1 << 18, h = 14 / steps;
  const cdf = new Float64Array(steps + 1);
  let acc = 0;
  const pdf = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
  for (let s = 1; s <= steps; s++) {
    const x0 = lo + (s - 1) * h;
    acc += 0.5 * h * (pdf(x0) + pdf(x0 + h));
    cdf[s] = acc;
  }
  const table = new Float64Array(size);
  let s = 0;
  for (let i = 0; i < size; i++) {
    const p = ((i + 0.5) / size) * acc;
    while (cdf[s + 1]! < p) s++;
    const c0 = cdf[s]!, c1 = cdf[s + 1]!;
    table[i] = lo + (s + (c1 > c0 ? (p - c0) / (c1 - c0) : 0)) * h;
  }
  let mean = 0;
  for (const v of table) mean += v / size;
  let m2 = 0;
  for (const v of table) m2 += ((v - mean) * (v - mean)) / size;
  const k = 1 / Math.sqrt(m2);
  normalTable = Float32Array.from(table, (v) => (v - mean) * k);
  return normalTable;
}

/**
 * Adds N(0, σ²) to every element. Two table lookups per 32-bit xorshift draw keep 10⁸ samples well under a second
 * (Box–Muller's log/sqrt/cos per pair cost several seconds).
 */
export function addGaussianNoise(data: Float32Array, sigma: number, rng: Rng): void {
  if (!(sigma > 0)) return;
  const base = standardNormalTable();
  const table = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) table[i] = base[i]! * sigma;
  let s = (Math.floor(rng.next() * 4294967296) >>> 0) || 0x9e3779b9;
  const n = data.length;
  for (let i = 0; i < n; i += 2) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    // xorshift32's low bits are weak in isolation: mix before splitting the word into two indices.
    let m = Math.imul(s ^ (s >>> 16), 0x45d9f3b);
    m ^= m >>> 16;
    data[i] = data[i]! + table[m & 0xffff]!;
    if (i + 1 < n) data[i + 1] = data[i + 1]! + table[m >>> 16]!;
  }
}

// ---------------------------------------------------------------- measurement of truth shapes

export interface ShapeMeasurement {
  volumeMm3: number;
  /** Diameter of the sphere of the same volume. */
  equivalentDiameterMm: number;
  /** Longest in-plane diameter on the axial (LPS z) plane where it is greatest. */
  longAxisMm: number;
  /** Greatest extent perpendicular to the long axis on that plane. */
  shortAxisMm: number;
  /** (long + short) / 2: the Lung-RADS mean diameter. */
  meanAxialDiameterMm: number;
  /** z (mm) of that axial plane. */
  axialPlaneZMm: number;
  /** Centroid (LPS mm) of the measured shape. */
  centroidMm: Vec3;
}

/**
 * Measures a shape on a fine regular grid over its bbox (step = largest extent / `samples`, default 96):
 * volume by counting cells (blocks the SDF proves all-in or all-out are not sampled cell by cell), axial
 * long/short axes from the convex hull of each z-plane's row extremes (error below one cell).
 */
export function measureShape(shape: Shape, opts: { samples?: number } = {}): ShapeMeasurement {
  const b = shape.bbox;
  const ext = Math.max(b.max[0] - b.min[0], b.max[1] - b.min[1], b.max[2] - b.min[2]);
  const h = ext / (opts.samples ?? 96);
  const [nx, ny, nz] = [0, 1, 2].map((a) => Math.max(1, Math.ceil((b.max[a]! - b.min[a]!) / h))) as Vec3;
  const rowMin = new Int32Array(ny * nz).fill(nx);
  const rowMax = new Int32Array(ny * nz).fill(-1);
  let count = 0;
  let sx = 0, sy = 0, sz = 0;
  const cx = (i: number) => b.min[0] + (i + 0.5) * h;
  const cy = (j: number) => b.min[1] + (j + 0.5) * h;
  const cz = (k: number) => b.min[2] + (k + 0.5) * h;
  // Octree descent over [i0, i1) × [j0, j1) × [k0, k1): a block the SDF proves all-in or all-out is not sampled
  // cell by cell; others are halved down to 2 cells a side. The decisions are exact, so the count is the grid's.
  const visit = (i0: number, i1: number, j0: number, j1: number, k0: number, k1: number): void => {
    const d = shape.sdf(cx((i0 + i1 - 1) / 2), cy((j0 + j1 - 1) / 2), cz((k0 + k1 - 1) / 2));
    const radius = 0.5 * h * Math.hypot(i1 - i0 - 1, j1 - j0 - 1, k1 - k0 - 1);
    if (d > radius) return;
    const whole = d < -radius;
    if (!whole && (i1 - i0 > 2 || j1 - j0 > 2 || k1 - k0 > 2)) {
      const si = i1 - i0 > 2 ? (i0 + i1) >> 1 : i1, sj = j1 - j0 > 2 ? (j0 + j1) >> 1 : j1, sk = k1 - k0 > 2 ? (k0 + k1) >> 1 : k1;
      for (const [ka, kb] of sk < k1 ? [[k0, sk], [sk, k1]] : [[k0, k1]]) {
        for (const [ja, jb] of sj < j1 ? [[j0, sj], [sj, j1]] : [[j0, j1]]) {
          visit(i0, si, ja!, jb!, ka!, kb!);
          if (si < i1) visit(si, i1, ja!, jb!, ka!, kb!);
        }
      }
      return;
    }
    for (let k = k0; k < k1; k++) {
      const z = cz(k);
      for (let j = j0; j < j1; j++) {
        const y = cy(j);
        const row = k * ny + j;
        for (let i = i0; i < i1; i++) {
          const x = cx(i);
          if (!whole && !(shape.sdf(x, y, z) < 0)) continue;
          count++;
          sx += x;
          sy += y;
          sz += z;
          if (i < rowMin[row]!) rowMin[row] = i;
          if (i > rowMax[row]!) rowMax[row] = i;
        }
      }
    }
  };
  const B = 16;
  for (let k0 = 0; k0 < nz; k0 += B) {
    for (let j0 = 0; j0 < ny; j0 += B) {
      for (let i0 = 0; i0 < nx; i0 += B) visit(i0, Math.min(nx, i0 + B), j0, Math.min(ny, j0 + B), k0, Math.min(nz, k0 + B));
    }
  }
  let best = { long: 0, short: 0, z: 0 };
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < nz; k++) {
    xs.length = 0;
    ys.length = 0;
    for (let j = 0; j < ny; j++) {
      const row = k * ny + j;
      if (rowMax[row]! < 0) continue;
      xs.push(cx(rowMin[row]!), cx(rowMax[row]!));
      ys.push(cy(j), cy(j));
    }
    if (xs.length === 0) continue;
    const axes = planeAxes(xs, ys);
    // The extreme cell centres of a fine grid lie within a small fraction of h of the surface: no correction.
    const long = axes.long;
    const short = axes.short;
    if (long > best.long + 1e-9 || (Math.abs(long - best.long) <= 1e-9 && short > best.short)) best = { long, short, z: cz(k) };
  }
  const volumeMm3 = count * h * h * h;
  return {
    volumeMm3,
    equivalentDiameterMm: Math.cbrt((6 * volumeMm3) / Math.PI),
    longAxisMm: best.long,
    shortAxisMm: best.short,
    meanAxialDiameterMm: (best.long + best.short) / 2,
    axialPlaneZMm: best.z,
    centroidMm: count > 0 ? [sx / count, sy / count, sz / count] : [NaN, NaN, NaN],
  };
}

/** Volume (mm³) of a shape by counting a fine grid over its bbox. */
export function measureVolume(shape: Shape, samples = 96): number {
  return measureShape(shape, { samples }).volumeMm3;
}

/** Long axis (max distance between points) and the extent perpendicular to it, via the convex hull. */
function planeAxes(xs: readonly number[], ys: readonly number[]): { long: number; short: number } {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]! || ys[a]! - ys[b]!);
  const crossZ = (o: number, a: number, b: number) => (xs[a]! - xs[o]!) * (ys[b]! - ys[o]!) - (ys[a]! - ys[o]!) * (xs[b]! - xs[o]!);
  const lower: number[] = [];
  for (const p of idx) {
    while (lower.length >= 2 && crossZ(lower[lower.length - 2]!, lower[lower.length - 1]!, p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper: number[] = [];
  for (let t = idx.length - 1; t >= 0; t--) {
    const p = idx[t]!;
    while (upper.length >= 2 && crossZ(upper[upper.length - 2]!, upper[upper.length - 1]!, p) <= 0) upper.pop();
    upper.push(p);
  }
  const hull = lower.slice(0, -1).concat(upper.slice(0, -1));
  if (hull.length === 0) hull.push(idx[0]!);
  let long = 0;
  for (let a = 0; a < hull.length; a++) {
    for (let c = a + 1; c < hull.length; c++) {
      const ex = xs[hull[a]!]! - xs[hull[c]!]!, ey = ys[hull[a]!]! - ys[hull[c]!]!;
      long = Math.max(long, Math.sqrt(ex * ex + ey * ey));
    }
  }
  if (long === 0) return { long: 0, short: 0 };
  // On a grid several chords tie for the longest within a cell or so; a slightly tilted one inflates the
  // perpendicular extent. Take the smallest perpendicular extent among near-longest chords.
  const tol = 0.01 * long + 1e-9;
  let short = Infinity;
  for (let a = 0; a < hull.length; a++) {
    for (let c = a + 1; c < hull.length; c++) {
      const ex = xs[hull[c]!]! - xs[hull[a]!]!, ey = ys[hull[c]!]! - ys[hull[a]!]!;
      const dd = Math.sqrt(ex * ex + ey * ey);
      if (dd < long - tol) continue;
      const px = -ey / dd, py = ex / dd;
      let lo = Infinity, hi = -Infinity;
      for (const p of hull) {
        const t = xs[p]! * px + ys[p]! * py;
        if (t < lo) lo = t;
        if (t > hi) hi = t;
      }
      short = Math.min(short, hi - lo);
    }
  }
  return { long, short };
}
