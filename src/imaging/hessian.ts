/**
 * Hessian of the Gaussian-smoothed image and its eigenvalues, for blob (nodule) and tube (vessel) filters.
 * The Hessian is taken by central differences (in mm) of G_σ * f: one Gaussian pass instead of six derivative
 * filters, with a truncation error of order h²/σ² that is small for σ ≥ one voxel.
 */
import type { Float32Volume, MaskVolume, Vec3, Volume } from './volume.ts';
import { createVolume, voxelCount } from './volume.ts';
import type { KernelOptions } from './kernel-options.ts';
import { assertMask, assertSameDims, invalid } from './kernel-options.ts';
import { gaussian } from './gaussian.ts';
import { crop, expandBox, maskBoundingBox } from './crop.ts';
import { allocFloat32, shareArray } from './arrays.ts';
import { resolveThreads, runChunks } from './parallel.ts';
import { hessianFd } from './hessian-core.ts';
import type { HessianParams } from './hessian-core.ts';
import type { Box } from './crop.ts';

export interface HessianOptions extends KernelOptions {
  /** Scale σ in mm (isotropic in patient space). */
  sigmaMm: number;
  /** Gaussian half-width in σ (default 3). */
  truncate?: number;
  /**
   * Multiply by σ² (Lindeberg's γ = 2 scale normalisation) so that responses at different scales compare,
   * e.g. for multi-scale blob or vesselness filters. Default false.
   */
  normalize?: boolean;
  /** Compute only inside this mask (0 elsewhere); the smoothing then covers the mask's bounding box + margin. */
  mask?: MaskVolume;
}

/** Eigenvalues per voxel, ordered by magnitude: |l1| ≤ |l2| ≤ |l3|. Bright blob: all three < 0; bright tube: l2, l3 < 0, l1 ≈ 0; bright plate: l3 < 0. */
export interface HessianEigenvalues {
  l1: Float32Volume;
  l2: Float32Volume;
  l3: Float32Volume;
}

export type HessianAtOptions = Omit<HessianOptions, 'mask'>;

export interface HessianAtResult {
  /** [Hii, Hij, Hik, Hjj, Hjk, Hkk] in intensity/mm² along the volume's axes. */
  hessian: [number, number, number, number, number, number];
  /** Ordered by magnitude, |λ1| ≤ |λ2| ≤ |λ3|. */
  eigenvalues: Vec3;
  /** Unit eigenvectors in patient LPS, matching `eigenvalues`. */
  eigenvectors: [Vec3, Vec3, Vec3];
}

export interface SymmetricEigen {
  values: Vec3;
  vectors: [Vec3, Vec3, Vec3];
}

/** Eigen-decomposition of a symmetric 3×3 matrix [xx, xy, xz, yy, yz, zz] (Jacobi), ordered by |λ|. */
export function symmetricEigen3(h: readonly number[]): SymmetricEigen {
  const m = [
    [h[0] ?? 0, h[1] ?? 0, h[2] ?? 0],
    [h[1] ?? 0, h[3] ?? 0, h[4] ?? 0],
    [h[2] ?? 0, h[4] ?? 0, h[5] ?? 0],
  ] as number[][];
  const vec = [[1, 0, 0], [0, 1, 0], [0, 0, 1]] as number[][];
  const get = (r: number, c: number): number => (m[r] as number[])[c] as number;
  const set = (r: number, c: number, x: number): void => { (m[r] as number[])[c] = x; };
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = get(0, 1) ** 2 + get(0, 2) ** 2 + get(1, 2) ** 2;
    if (off < 1e-30 * (get(0, 0) ** 2 + get(1, 1) ** 2 + get(2, 2) ** 2 + 1e-300)) break;
    for (const [p, q] of [[0, 1], [0, 2], [1, 2]] as [number, number][]) {
      const apq = get(p, q);
      if (apq === 0) continue;
      const theta = (get(q, q) - get(p, p)) / (2 * apq);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const cs = 1 / Math.sqrt(t * t + 1);
      const sn = t * cs;
      for (let k = 0; k < 3; k++) {
        const mkp = get(k, p), mkq = get(k, q);
        set(k, p, cs * mkp - sn * mkq);
        set(k, q, sn * mkp + cs * mkq);
      }
      for (let k = 0; k < 3; k++) {
        const mpk = get(p, k), mqk = get(q, k);
        set(p, k, cs * mpk - sn * mqk);
        set(q, k, sn * mpk + cs * mqk);
      }
      for (let k = 0; k < 3; k++) {
        const row = vec[k] as number[];
        const vkp = row[p] as number, vkq = row[q] as number;
        row[p] = cs * vkp - sn * vkq;
        row[q] = sn * vkp + cs * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((x, y) => Math.abs(get(x, x)) - Math.abs(get(y, y)));
  const column = (c: number): Vec3 => [(vec[0] as number[])[c] as number, (vec[1] as number[])[c] as number, (vec[2] as number[])[c] as number];
  return {
    values: order.map((c) => get(c, c)) as Vec3,
    vectors: order.map(column) as [Vec3, Vec3, Vec3],
  };
}

function checkSigma(sigmaMm: number): void {
  if (typeof sigmaMm !== 'number' || !(sigmaMm > 0) || !Number.isFinite(sigmaMm)) throw invalid(`sigmaMm must be a positive number, got ${String(sigmaMm)}`);
}

function marginMm(sigmaMm: number, truncate: number, vol: Pick<Volume, 'spacing'>): number {
  return truncate * sigmaMm + 2 * Math.max(...vol.spacing);
}

/** Eigenvalues of the Hessian of G_σ * vol at every voxel (or every voxel of `mask`). */
export function hessianEigenvalues(vol: Volume, opts: HessianOptions): HessianEigenvalues {
  checkSigma(opts.sigmaMm);
  const truncate = opts.truncate ?? 3;
  const n = voxelCount(vol.dims);
  const wrap = (data: Float32Array): Float32Volume => createVolume(data, vol);
  let box: Box = { start: [0, 0, 0], end: [...vol.dims] };
  if (opts.mask) {
    assertMask(opts.mask, 'hessianEigenvalues');
    assertSameDims(vol, opts.mask, 'hessianEigenvalues');
    const bb = maskBoundingBox(opts.mask);
    if (!bb) return { l1: wrap(new Float32Array(n)), l2: wrap(new Float32Array(n)), l3: wrap(new Float32Array(n)) };
    box = expandBox(bb, marginMm(opts.sigmaMm, truncate, vol), vol);
  }
  const sub = opts.mask ? crop(vol, box) : vol;
  const g = gaussian(sub, { sigmaMm: opts.sigmaMm, truncate, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) }).data;
  const threads = resolveThreads(opts.threads, voxelCount(sub.dims));
  const shared = threads > 1;
  const out = { l1: allocFloat32(n, shared), l2: allocFloat32(n, shared), l3: allocFloat32(n, shared) };
  const p: HessianParams = {
    g: shared ? shareArray(g) : g,
    subDims: sub.dims,
    spacing: sub.spacing,
    start: box.start,
    end: box.end,
    dims: vol.dims,
    mask: opts.mask ? (shared ? shareArray(opts.mask.data) : opts.mask.data) : null,
    scale: opts.normalize ? opts.sigmaMm * opts.sigmaMm : 1,
    ...out,
  };
  runChunks('hessian', p, box.end[2] - box.start[2], threads);
  return { l1: wrap(p.l1), l2: wrap(p.l2), l3: wrap(p.l3) };
}

/** Hessian, eigenvalues and LPS eigenvectors at one voxel, smoothing only a neighbourhood (for candidates). */
export function hessianAt(vol: Volume, ijk: Vec3, opts: HessianAtOptions): HessianAtResult {
  checkSigma(opts.sigmaMm);
  const truncate = opts.truncate ?? 3;
  const c = ijk.map((x) => Math.round(x)) as Vec3;
  for (let a = 0; a < 3; a++) {
    if ((c[a] as number) < 0 || (c[a] as number) >= (vol.dims[a] as number)) throw invalid(`ijk ${ijk.join(',')} is outside the volume`);
  }
  const box = expandBox({ start: c, end: [c[0] + 1, c[1] + 1, c[2] + 1] }, marginMm(opts.sigmaMm, truncate, vol), vol);
  const sub = crop(vol, box);
  const g = gaussian(sub, { sigmaMm: opts.sigmaMm, truncate, threads: 1 }).data;
  const h = new Float64Array(6);
  hessianFd(g, sub.dims, sub.spacing, c[0] - box.start[0], c[1] - box.start[1], c[2] - box.start[2], h);
  const scale = opts.normalize ? opts.sigmaMm * opts.sigmaMm : 1;
  const hs = Array.from(h, (x) => x * scale) as HessianAtResult['hessian'];
  const eig = symmetricEigen3(hs);
  const d = vol.direction;
  const toLps = (v: Vec3): Vec3 => [
    d[0] * v[0] + d[1] * v[1] + d[2] * v[2],
    d[3] * v[0] + d[4] * v[1] + d[5] * v[2],
    d[6] * v[0] + d[7] * v[1] + d[8] * v[2],
  ];
  return { hessian: hs, eigenvalues: eig.values, eigenvectors: eig.vectors.map(toLps) as [Vec3, Vec3, Vec3] };
}
