/**
 * First-stage candidate score: a logistic model on features the candidate stage already has (blob strength and
 * scale, source, Hessian eigenvalue ratios at the candidate's scale, local attenuation, how much of the
 * neighbourhood is lung). It costs microseconds per candidate and decides which candidates get the costly
 * per-nodule segmentation (pipeline.ts); the rest keep this probability. Tubes (vessels) have λ1 ≈ 0 and fall
 * to the bottom here, so they never reach the fine segmentation.
 */
import type { Int16Volume, MaskVolume } from '../../imaging/index.ts';
import { hessianAt } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { sigmoid, logit } from './classify.ts';
import type { LogisticModel } from './logistic-model.ts';
import { FIRST_STAGE_MODEL } from './model-first-stage.ts';
import { SUBSOLID_QUOTA_MODEL } from './model-subsolid-quota.ts';
import { SrError } from '../../core/errors.ts';

export const FIRST_STAGE_FEATURES = [
  'logBlob', 'logSigma', 'logRadius', 'isBlob', 'isSolidCore', 'isSubSolidBlob', 'hessRatio12', 'hessRatio13', 'logHessMag', 'centreHu', 'ringHu', 'lungFraction',
] as const;

/** Mean of `iso` over the voxels whose distance from `c` (voxels) lies in [r0, r1], sampled with `step`. */
function shellMean(iso: Int16Volume, c: readonly number[], r0: number, r1: number, step: number, lung?: MaskVolume): { mean: number; lungFraction: number } {
  const [nx, ny, nz] = iso.dims;
  const R = Math.ceil(r1);
  let sum = 0, n = 0, inLung = 0;
  for (let dk = -R; dk <= R; dk += step) for (let dj = -R; dj <= R; dj += step) for (let di = -R; di <= R; di += step) {
    const d = Math.sqrt(di * di + dj * dj + dk * dk);
    if (d < r0 || d > r1) continue;
    const i = (c[0] as number) + di, j = (c[1] as number) + dj, k = (c[2] as number) + dk;
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    const v = i + j * nx + k * nx * ny;
    sum += iso.data[v] as number;
    n++;
    if (lung && lung.data[v] !== 0) inLung++;
  }
  return { mean: n > 0 ? sum / n : -1000, lungFraction: n > 0 ? inLung / n : 0 };
}

export function firstStageFeatures(iso: Int16Volume, lung: MaskVolume, c: Candidate): number[] {
  const h = iso.spacing[0];
  const sigmaMm = Math.max(1, Math.min(6, c.sigmaMm || c.radiusMm / 1.7 || 1));
  const e = hessianAt(iso, c.ijk, { sigmaMm, normalize: true, truncate: 2.5 }).eigenvalues;
  const a3 = Math.abs(e[2]) || 1;
  const r = Math.max(1, Math.min(12, c.radiusMm));
  const centre = shellMean(iso, c.ijk, 0, Math.max(1, (0.5 * r) / h), 1);
  // Ring just outside the estimated radius: parenchyma for a nodule, more vessel / wall for the rest.
  const ring = shellMean(iso, c.ijk, (1.3 * r) / h, (1.3 * r + 3) / h, Math.max(1, Math.round(r / (3 * h))), lung);
  return [
    Math.log(1 + Math.max(0, c.blob)),
    Math.log(sigmaMm),
    Math.log(Math.max(1, c.radiusMm)),
    c.source === 'blob' ? 1 : 0,
    c.source === 'solid-core' ? 1 : 0,
    c.source === 'subsolid-blob' ? 1 : 0,
    -e[1] / a3,
    -e[0] / a3,
    Math.log(1 + a3),
    Math.max(-1000, Math.min(300, centre.mean)) / 100,
    Math.max(-1000, Math.min(300, ring.mean)) / 100,
    ring.lungFraction,
  ];
}

/**
 * Features of the sub-solid quota score (pipeline.ts fineOrder): the first-stage features plus the candidate's
 * attenuation at its own scale against the lung around it. Ground glass against the pleura or a vessel scores
 * ≈ 0.01 in the first stage (its ring holds wall or vessel, like the partial-volume rims of both), yet its centre
 * is uniformly at ground-glass attenuation and brighter than the aerated lung of its ring, while a partial-volume
 * rim is a mixture (high spread, a solid share) and a vessel crossing has solid tissue at its centre.
 */
export const SUBSOLID_QUOTA_FEATURES = [
  ...FIRST_STAGE_FEATURES, 'centreSubSolidShare', 'centreSdHu', 'centreOverLungRingHu', 'ringSolidShare', 'centreOverParenchymaHu',
] as const;

/** Whether a candidate competes for the sub-solid quota: a sub-solid source, or a centre at ground-glass attenuation. */
export function isSubSolidCandidate(c: Candidate, x: readonly number[]): boolean {
  const centre = (x[9] as number) * 100;
  return c.source === 'subsolid-blob' || c.source === 'ground-glass-core' || (centre > -800 && centre < -300);
}

/** The five attenuation features of SUBSOLID_QUOTA_FEATURES (after the first-stage ones). */
export function subSolidFeatures(iso: Int16Volume, lung: MaskVolume, c: Candidate): number[] {
  const h = iso.spacing[0];
  const [nx, ny, nz] = iso.dims;
  const r = Math.max(1.5, Math.min(12, c.radiusMm));
  const rc = Math.max(1, (0.6 * r) / h), r0 = (1.3 * r) / h, r1 = (1.3 * r + 3) / h;
  const R = Math.ceil(r1);
  // Sampled like shellMean: ≈ 3 samples per radius, so a 12 mm candidate costs what a 3 mm one does.
  const step = Math.max(1, Math.round(r / (3 * h)));
  let cn = 0, cs = 0, cs2 = 0, cSub = 0, rn = 0, rs = 0, ringSolid = 0, ringAll = 0;
  const parenchyma: number[] = [];
  for (let dk = -R; dk <= R; dk += step) for (let dj = -R; dj <= R; dj += step) for (let di = -R; di <= R; di += step) {
    const d = Math.sqrt(di * di + dj * dj + dk * dk);
    const inCentre = d <= rc, inRing = d >= r0 && d <= r1;
    if (!inCentre && !inRing) continue;
    const i = c.ijk[0] + di, j = c.ijk[1] + dj, k = c.ijk[2] + dk;
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    const v = i + j * nx + k * nx * ny;
    const x = iso.data[v] as number;
    if (inCentre) { cn++; cs += x; cs2 += x * x; if (x >= -800 && x < -300) cSub++; }
    if (inRing) {
      ringAll++;
      if (x >= -300) ringSolid++;
      if (lung.data[v] !== 0 && x < -300) { rn++; rs += x; }
      if (lung.data[v] !== 0 && x < -600) parenchyma.push(x);
    }
  }
  const mean = cn > 0 ? cs / cn : -1000;
  const sd = cn > 0 ? Math.sqrt(Math.max(0, cs2 / cn - mean * mean)) : 0;
  parenchyma.sort((a, b) => a - b);
  const bg = parenchyma.length > 0 ? (parenchyma[parenchyma.length >> 1] as number) : -860;
  const lungRing = rn > 0 ? rs / rn : bg;
  return [cSub / Math.max(1, cn), sd / 100, (mean - lungRing) / 100, ringSolid / Math.max(1, ringAll), (mean - bg) / 100];
}

export function subSolidQuotaScore(x: readonly number[], model: LogisticModel = SUBSOLID_QUOTA_MODEL): number {
  if (model.features.length !== SUBSOLID_QUOTA_FEATURES.length || model.features.some((f, i) => f !== SUBSOLID_QUOTA_FEATURES[i])) {
    throw new SrError('ANALYSIS_FAILED', 'sub-solid quota model features do not match SUBSOLID_QUOTA_FEATURES; retrain with train.ts --stage quota');
  }
  return sigmoid(logit(model, x));
}

export function firstStageProbability(x: readonly number[], model: LogisticModel = FIRST_STAGE_MODEL): number {
  if (model.features.length !== FIRST_STAGE_FEATURES.length || model.features.some((f, i) => f !== FIRST_STAGE_FEATURES[i])) {
    throw new SrError('ANALYSIS_FAILED', 'first-stage model features do not match FIRST_STAGE_FEATURES; retrain with train.ts --stage 1');
  }
  return sigmoid(logit(model, x));
}
