/**
 * Per-candidate features for false-positive reduction. Shape (Hessian eigenvalue ratios at the candidate's
 * scale, principal-axis elongation, compactness against the maximum 3D diameter), attachment (how much of the
 * thresholded component the opening cut off: vessels and pleura), intensity (plateau contrast above the
 * parenchyma) and context (pleural contact, the mask running out of its box like a vessel or a fissure does).
 * Mask texture (maskShape) tells the large lobulated sub-solid nodule, which is as non-compact as a vessel, from
 * the vessel: convexity, the share of line-like voxels, centre-vs-rim attenuation, the sub-solid share, and the
 * inscribed and ray radii over the equivalent radius (a tube's inscribed ball is small for its volume). The shell
 * descriptor at the segmentation's peak (attenuation quantiles on spheres of 1–7 mm) describes the neighbourhood
 * without the mask, so a nodule whose mask took in a piece of the vessel it touches is not judged by that mask alone.
 * Every feature is dimensionless or in mm/HU, so they transfer across voxel sizes.
 */
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { eigenvalues3, hessianAt, lpsToIjk, sampleLinear, sphereDirections } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { axialAxes, maxDiameter3D, shapeMoments } from './measure.ts';
import type { AxialAxes, ShapeMoments } from './measure.ts';
import type { NoduleSegmentation } from './segment-nodule.ts';

/** Names of the shell descriptor's values (shellDescriptor): the centre, then per radius (mm) the quantiles (%). */
export const SHELL_FEATURES = [
  'shellCentre', 'shell1q10', 'shell1q30', 'shell1q50', 'shell1q70', 'shell1q90', 'shell2q10', 'shell2q30',
  'shell2q50', 'shell2q70', 'shell2q90', 'shell3q10', 'shell3q30', 'shell3q50', 'shell3q70', 'shell3q90',
  'shell4q10', 'shell4q30', 'shell4q50', 'shell4q70', 'shell4q90', 'shell5q10', 'shell5q30', 'shell5q50',
  'shell5q70', 'shell5q90', 'shell7q10', 'shell7q30', 'shell7q50', 'shell7q70', 'shell7q90',
] as const;

export const FEATURE_NAMES = [
  'logBlob', 'hessRatio12', 'hessRatio13', 'elongation', 'flatness', 'compactness', 'logAttachment', 'touchesBorder',
  'pleuralContact', 'logContrast', 'logDiameter', 'solidFraction', 'subSolid', 'blobSource',
  'convexity', 'tubularShare', 'centreRim', 'subSolidShare', 'inscribedRatio', 'rayRatio', 'compactnessBySize',
  ...SHELL_FEATURES,
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

export interface CandidateMeasures {
  axes: AxialAxes;
  maxDiameterMm: number;
  moments: ShapeMoments;
  equivalentDiameterMm: number;
  /** Hessian eigenvalues at the candidate (|λ1| ≤ |λ2| ≤ |λ3|), γ-normalised. */
  hessian: Vec3;
  /** Texture and shape of the whole mask (maskShape). */
  shape: MaskShape;
  /** Shell descriptor at the point the segmentation was measured from (NoduleSegmentation.centreLps; shellDescriptor). */
  shell: number[];
}

/** Shape and attenuation of a segmentation beyond its moments: what tells a lobulated sub-solid nodule (low
 * compactness, faint) from a vessel segment (low compactness, line-like) or a fissure (flat). */
export interface MaskShape {
  /** Mask voxels / voxels of its 13-direction discrete hull (a k-DOP, ≥ the convex hull): 1 convex, ≪ 1 branched. */
  convexity: number;
  /** Fraction of mask voxels where the smoothed image is line-like at ≈ 1.5 mm (two strong negative curvatures,
   * one weak): vessels and vessel stubs, not the flat interior or the sheet-like rim of a nodule. */
  tubularShare: number;
  /** (inner − outer) mean HU of the mask over the contrast: inner = within half the equivalent radius of the
   * centroid. A nodule is brightest at its centre; a vessel crossing the box is as bright at its ends. */
  centreRim: number;
  /** Fraction of mask voxels below −250 HU (sub-solid attenuation). */
  subSolidShare: number;
}

/** The 13 directions of the discrete hull: axes, face diagonals, body diagonals (one of each ± pair). */
const HULL_DIRS: readonly Vec3[] = [
  [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -1, 0], [1, 0, 1], [1, 0, -1], [0, 1, 1], [0, 1, -1],
  [1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1],
];

/** Linear indices of a mask's voxels, scanning four bytes at a time (local grids are up to 130³ and mostly empty). */
export function maskVoxels(data: Uint8Array): Int32Array {
  const out: number[] = [];
  const words = data.byteOffset % 4 === 0 ? Math.floor(data.length / 4) : 0;
  const w32 = new Uint32Array(data.buffer, data.byteOffset, words);
  for (let w = 0; w < words; w++) {
    if (w32[w] === 0) continue;
    for (let v = 4 * w; v < 4 * w + 4; v++) if (data[v] !== 0) out.push(v);
  }
  for (let v = 4 * words; v < data.length; v++) if (data[v] !== 0) out.push(v);
  return Int32Array.from(out);
}

/**
 * Mask voxels over the voxels of its 13-direction discrete hull (the intersection of the 26 supporting
 * half-spaces of the mask's voxel centres, counted on the same grid). The hull holds the mask, so the ratio is in
 * (0, 1]; it is 1 for a box and ≈ 0.9 for a digital ball, far lower for a branching or curved object.
 */
export function discreteConvexity(mask: Pick<MaskVolume, 'dims' | 'data'>, voxels: Int32Array = maskVoxels(mask.data)): number {
  const [nx, ny] = mask.dims;
  const nd = HULL_DIRS.length;
  const n = voxels.length;
  if (n === 0) return 0;
  const lo = new Float64Array(nd).fill(Infinity), hi = new Float64Array(nd).fill(-Infinity);
  const p = new Float64Array(nd);
  for (let t = 0; t < n; t++) {
    const v = voxels[t] as number;
    const i = v % nx, j = ((v - i) / nx) % ny, k = Math.floor(v / (nx * ny));
    // Projections on HULL_DIRS, unrolled (the hot loop on masses of 10⁵ voxels).
    p[0] = i; p[1] = j; p[2] = k; p[3] = i + j; p[4] = i - j; p[5] = i + k; p[6] = i - k; p[7] = j + k; p[8] = j - k;
    p[9] = i + j + k; p[10] = i + j - k; p[11] = i - j + k; p[12] = -i + j + k;
    for (let d = 0; d < nd; d++) {
      const x = p[d] as number;
      if (x < (lo[d] as number)) lo[d] = x;
      if (x > (hi[d] as number)) hi[d] = x;
    }
  }
  // Row by row: every constraint lo ≤ uᵢ·i + c ≤ hi bounds i to an interval, so a row costs O(directions).
  let hull = 0;
  for (let k = lo[2] as number; k <= (hi[2] as number); k++) for (let j = lo[1] as number; j <= (hi[1] as number); j++) {
    let a = lo[0] as number, b = hi[0] as number;
    for (let d = 3; d < nd && a <= b; d++) {
      const u = HULL_DIRS[d] as Vec3;
      const c = u[1] * j + u[2] * k;
      const l = (lo[d] as number) - c, hgh = (hi[d] as number) - c;
      if (u[0] === 0) { if (l > 0 || hgh < 0) b = a - 1; continue; }
      const [x0, x1] = u[0] > 0 ? [l, hgh] : [-hgh, -l];
      a = Math.max(a, Math.ceil(x0)); b = Math.min(b, Math.floor(x1));
    }
    if (b >= a) hull += b - a + 1;
  }
  return n / hull;
}

/** Second differences of g at step `s` voxels (edges clamped) → eigenvalues ordered by magnitude (into out). */
function hessianEigAtStep(g: Float32Array, dims: Vec3, i: number, j: number, k: number, s: number, out: Float64Array): void {
  const [nx, ny, nz] = dims;
  const at = (a: number, b: number, c: number) => g[Math.min(nx - 1, Math.max(0, a)) + Math.min(ny - 1, Math.max(0, b)) * nx + Math.min(nz - 1, Math.max(0, c)) * nx * ny] as number;
  const c0 = at(i, j, k);
  const s2 = s * s, q = 4 * s * s;
  const hxx = (at(i + s, j, k) - 2 * c0 + at(i - s, j, k)) / s2;
  const hyy = (at(i, j + s, k) - 2 * c0 + at(i, j - s, k)) / s2;
  const hzz = (at(i, j, k + s) - 2 * c0 + at(i, j, k - s)) / s2;
  const hxy = (at(i + s, j + s, k) - at(i + s, j - s, k) - at(i - s, j + s, k) + at(i - s, j - s, k)) / q;
  const hxz = (at(i + s, j, k + s) - at(i + s, j, k - s) - at(i - s, j, k + s) + at(i - s, j, k - s)) / q;
  const hyz = (at(i, j + s, k + s) - at(i, j + s, k - s) - at(i, j - s, k + s) + at(i, j - s, k - s)) / q;
  eigenvalues3(hxx, hxy, hxz, hyy, hyz, hzz, out);
}

/** Samples at most this many mask voxels for the tubular share (a regular stride: cost bounded on masses). */
const TUBULAR_SAMPLES = 600;
/** Scale (mm) of the line test: the radius of the vessels that run into nodules. */
const TUBULAR_STEP_MM = 1.5;

export function maskShape(seg: Pick<NoduleSegmentation, 'mask' | 'smooth' | 'levelHu' | 'bgHu'>): MaskShape {
  const { mask, smooth } = seg;
  const [nx, ny] = mask.dims;
  const plane = nx * ny;
  const h = mask.spacing[0];
  const g = smooth.data;
  const voxels = maskVoxels(mask.data);
  const n = voxels.length;
  if (n === 0) return { convexity: 0, tubularShare: 0, centreRim: 0, subSolidShare: 0 };
  let ci = 0, cj = 0, ck = 0, sub = 0;
  for (let t = 0; t < n; t++) {
    const v = voxels[t] as number;
    ci += v % nx; cj += Math.floor(v / nx) % ny; ck += Math.floor(v / plane);
    if ((g[v] as number) < -250) sub++;
  }
  ci /= n; cj /= n; ck /= n;
  const rEq = Math.cbrt((3 * n) / (4 * Math.PI)); // voxels
  const innerR2 = (0.5 * rEq) ** 2;
  const contrast = Math.max(50, seg.levelHu - seg.bgHu);
  const step = Math.max(1, Math.round(TUBULAR_STEP_MM / h));
  // A line of radius ≈ step with this contrast has curvatures ≈ −contrast/step²; a quarter of that is "strong".
  const strong = (0.25 * contrast) / (step * step); // second differences are per voxel², at step voxels
  const stride = Math.max(1, Math.floor(n / TUBULAR_SAMPLES));
  const eig = new Float64Array(3);
  let inner = 0, nInner = 0, outer = 0, nOuter = 0, tub = 0, nTub = 0;
  for (let t = 0; t < n; t++) {
    const v = voxels[t] as number;
    const i = v % nx, j = Math.floor(v / nx) % ny, k = Math.floor(v / plane);
    if ((i - ci) ** 2 + (j - cj) ** 2 + (k - ck) ** 2 <= innerR2) { inner += g[v] as number; nInner++; } else { outer += g[v] as number; nOuter++; }
    if (t % stride !== 0) continue;
    hessianEigAtStep(g, mask.dims, i, j, k, step, eig);
    const l1 = eig[0] as number, l2 = eig[1] as number, l3 = eig[2] as number;
    nTub++;
    if (l2 < -strong && l3 < 0 && Math.abs(l1) < 0.35 * Math.abs(l2)) tub++;
  }
  const centreRim = nInner > 0 && nOuter > 0 ? (inner / nInner - outer / nOuter) / contrast : 0;
  return { convexity: discreteConvexity(mask, voxels), tubularShare: nTub > 0 ? tub / nTub : 0, centreRim, subSolidShare: sub / n };
}

/** Radii (mm) of the shell descriptor's spheres and the quantiles taken over each. */
const SHELL_RADII_MM = [1, 2, 3, 4, 5, 7] as const;
const SHELL_QUANTILES = [0.1, 0.3, 0.5, 0.7, 0.9] as const;
/** 64 directions spread evenly over the sphere (a Fibonacci lattice). */
const SHELL_DIRS: readonly Vec3[] = sphereDirections(64);

/**
 * Shell descriptor of the neighbourhood of a point (continuous voxel position on an isotropic grid): the HU at the
 * point, then on spheres of 1, 2, 3, 4, 5 and 7 mm the 10/30/50/70/90 % quantiles over 64 directions (HU clipped to
 * −1000…100, /100). Quantiles over directions do not depend on orientation. A nodule is bright in every direction
 * out to its radius, then dark in all but the few directions of an attached vessel; a vessel, or a junction of
 * vessels, is bright only along its branches from its own, smaller, radius on — the distinction the blob filter's
 * Hessian at one scale cannot make for a small nodule on a vessel of similar calibre (2026-12-01, first stage:
 * nodules within the fine budget 382 → 400 of 485 by 5-fold cross-validation, docs/validation.md).
 */
export function shellDescriptor(iso: Int16Volume, at: readonly number[]): number[] {
  const h = iso.spacing[0];
  const [ci, cj, ck] = at as Vec3;
  const [nx, ny, nz] = iso.dims;
  // Beyond the last voxel centre (outside the lung box) reads as air — as the models were trained.
  const at3 = (i: number, j: number, k: number) => (i >= 0 && j >= 0 && k >= 0 && i < nx - 1 && j < ny - 1 && k < nz - 1 ? sampleLinear(iso, i, j, k) : -1000);
  const clip = (x: number) => Math.max(-1000, Math.min(100, x)) / 100;
  const out: number[] = [clip(at3(ci, cj, ck))];
  const vals = new Float64Array(SHELL_DIRS.length);
  for (const rMm of SHELL_RADII_MM) {
    const r = rMm / h;
    SHELL_DIRS.forEach((d, i) => { vals[i] = at3(ci + r * d[0], cj + r * d[1], ck + r * d[2]); });
    vals.sort();
    for (const q of SHELL_QUANTILES) out.push(clip(vals[Math.min(vals.length - 1, Math.floor(q * vals.length))] as number));
  }
  return out;
}

export function measureCandidate(iso: Int16Volume, cand: Candidate, seg: NoduleSegmentation): CandidateMeasures {
  const axes = axialAxes(seg.mask);
  const maxDiameterMm = maxDiameter3D(seg.mask);
  const moments = shapeMoments(seg.mask);
  const equivalentDiameterMm = Math.cbrt((6 * seg.volumeMm3) / Math.PI);
  const sigmaMm = Math.max(1, Math.min(6, seg.rInMm > 0 ? seg.rInMm / 1.5 : cand.sigmaMm || 1));
  const h = hessianAt(iso, cand.ijk, { sigmaMm, normalize: true, truncate: 2.5 });
  return { axes, maxDiameterMm, moments, equivalentDiameterMm, hessian: h.eigenvalues, shape: maskShape(seg), shell: shellDescriptor(iso, lpsToIjk(iso, seg.centreLps)) };
}

/** A radius over the equivalent-sphere radius: ≤ 1 for a sound mask (1 = a ball); above 1 the mask is smaller than
 * its own inscribed ball or rays (a sliver left by the opening), which is no nodule either, so it folds back. */
export function foldRatio(r: number): number {
  return r <= 1 ? r : Math.max(0.5, 2 - r);
}

export function featureVector(cand: Candidate, seg: NoduleSegmentation, m: CandidateMeasures): number[] {
  const [e1, e2, e3] = m.hessian;
  const a3 = Math.abs(e3) || 1;
  // Signed ratios: a bright blob has all three negative (ratios → +1); a tube λ1 ≈ 0; a dark spot is negative.
  const r12 = -e2 / a3;
  const r13 = -e1 / a3;
  const sphereVol = (Math.PI / 6) * Math.max(1e-6, m.maxDiameterMm) ** 3;
  const compactness = Math.min(1.5, seg.volumeMm3 / sphereVol);
  const contrast = Math.max(10, seg.levelHu - seg.bgHu);
  const rEq = Math.max(0.5, m.equivalentDiameterMm / 2);
  return [
    Math.log(1 + Math.max(0, cand.blob)),
    r12,
    r13,
    m.moments.elongation,
    m.moments.flatness,
    compactness,
    Math.log(Math.max(1, seg.attachmentRatio)),
    seg.touchesBorder ? 1 : 0,
    seg.pleuralContact,
    Math.log(contrast),
    Math.log(Math.max(1, m.axes.meanDiameterMm)),
    seg.solidFraction,
    seg.type === 'ground-glass' || seg.type === 'part-solid' ? 1 : 0,
    cand.source === 'blob' ? 1 : 0,
    m.shape.convexity,
    m.shape.tubularShare,
    Math.max(-1, Math.min(1, m.shape.centreRim)),
    m.shape.subSolidShare,
    foldRatio(seg.rInMm / rEq),
    foldRatio(seg.rayRadiusMm / rEq),
    // A linear model cannot say "low compactness is fine when large": a large lobulated nodule is less compact
    // than a small round one, a vessel segment is non-compact at any size.
    compactness * Math.log(Math.max(1, m.axes.meanDiameterMm)),
    ...m.shell,
  ];
}
