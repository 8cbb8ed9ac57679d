/**
 * First-stage candidate score: a model (boosted trees, model-first-stage.ts) on features the candidate stage
 * already has (blob strength and scale, source, Hessian eigenvalue ratios at the candidate's scale, local
 * attenuation, how much of the neighbourhood is lung) and the shell descriptor (features.ts: attenuation quantiles
 * on spheres of 1–7 mm, which tell a small nodule on a vessel from a vessel junction). It costs tens of
 * microseconds per candidate and decides which candidates get the costly per-nodule segmentation (pipeline.ts);
 * the rest keep this probability. Tubes (vessels) have λ1 ≈ 0 and fall to the bottom here, so they never reach the
 * fine segmentation.
 */
import type { Int16Volume, MaskVolume } from '../../imaging/index.ts';
import { hessianAt } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { modelProbability } from './classify.ts';
import type { CandidateModel } from './logistic-model.ts';
import { FIRST_STAGE_MODEL } from './model-first-stage.ts';
import { SHELL_FEATURES, shellDescriptor } from './features.ts';
import { SrError } from '../../core/errors.ts';

export const FIRST_STAGE_FEATURES = [
  'logBlob', 'logSigma', 'logRadius', 'isBlob', 'isSolidCore', 'isSubSolidBlob', 'hessRatio12', 'hessRatio13', 'logHessMag', 'centreHu', 'ringHu', 'lungFraction',
  ...SHELL_FEATURES,
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
    ...shellDescriptor(iso, c.ijk),
  ];
}

export function firstStageProbability(x: readonly number[], model: CandidateModel = FIRST_STAGE_MODEL): number {
  if (model.features.length !== FIRST_STAGE_FEATURES.length || model.features.some((f, i) => f !== FIRST_STAGE_FEATURES[i])) {
    throw new SrError('ANALYSIS_FAILED', 'first-stage model features do not match FIRST_STAGE_FEATURES; retrain with train.ts --stage 1');
  }
  return modelProbability(model, x);
}
