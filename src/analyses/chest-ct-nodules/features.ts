/**
 * Per-candidate features for false-positive reduction. Shape (Hessian eigenvalue ratios at the candidate's
 * scale, principal-axis elongation, compactness against the maximum 3D diameter), attachment (how much of the
 * thresholded component the opening cut off: vessels and pleura), intensity (plateau contrast above the
 * parenchyma) and context (pleural contact, the mask running out of its box like a vessel or a fissure does).
 * Every feature is dimensionless or in mm/HU, so they transfer across voxel sizes.
 */
import type { Int16Volume, Vec3 } from '../../imaging/index.ts';
import { hessianAt } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { axialAxes, maxDiameter3D, shapeMoments } from './measure.ts';
import type { AxialAxes, ShapeMoments } from './measure.ts';
import type { NoduleSegmentation } from './segment-nodule.ts';

export const FEATURE_NAMES = [
  'logBlob', 'hessRatio12', 'hessRatio13', 'elongation', 'flatness', 'compactness', 'logAttachment', 'touchesBorder',
  'pleuralContact', 'logContrast', 'logDiameter', 'solidFraction', 'subSolid', 'blobSource',
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

export interface CandidateMeasures {
  axes: AxialAxes;
  maxDiameterMm: number;
  moments: ShapeMoments;
  equivalentDiameterMm: number;
  /** Hessian eigenvalues at the candidate (|λ1| ≤ |λ2| ≤ |λ3|), γ-normalised. */
  hessian: Vec3;
}

export function measureCandidate(iso: Int16Volume, cand: Candidate, seg: NoduleSegmentation): CandidateMeasures {
  const axes = axialAxes(seg.mask);
  const maxDiameterMm = maxDiameter3D(seg.mask);
  const moments = shapeMoments(seg.mask);
  const equivalentDiameterMm = Math.cbrt((6 * seg.volumeMm3) / Math.PI);
  const sigmaMm = Math.max(1, Math.min(6, seg.rInMm > 0 ? seg.rInMm / 1.5 : cand.sigmaMm || 1));
  const h = hessianAt(iso, cand.ijk, { sigmaMm, normalize: true, truncate: 2.5 });
  return { axes, maxDiameterMm, moments, equivalentDiameterMm, hessian: h.eigenvalues };
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
  ];
}
