/**
 * Targeted re-measurement: look for a nodule at a given place, as a reader does at the registered position of a
 * nodule seen on the other scan of a follow-up pair. The detector of this analysis (pipeline.ts) looks at a fixed
 * budget of candidates per scan, best first-stage score first; a small nodule next to a vessel can rank past that
 * budget, or be merged away, and is then not on the finding list at all. Here the candidate stage runs again on a
 * small box around the place (no budget: every blob maximum there is a candidate), the candidates near the place
 * (best first-stage score first, up to maxTries) get the same fine segmentation, features and second-stage model as in the pipeline, and the best-scoring one
 * whose mask reaches the place is returned with its own probability, calibrated on this scan alone — whether it
 * is shown is the caller's decision (followup.ts).
 */
import type { Int16Volume, Vec3 } from '../../imaging/index.ts';
import { crop, dilate, insideMask, lpsToIjk, resample, resampleToGrid, withData } from '../../imaging/index.ts';
import { detectCandidates } from './candidates.ts';
import { noduleProbability } from './classify.ts';
import { featureVector, measureCandidate } from './features.ts';
import { firstStageFeatures, firstStageProbability } from './first-stage.ts';
import type { LungSegmentation } from './lung-segmentation.ts';
import { isoSpacingFor, noduleCentre, withPriors } from './pipeline.ts';
import type { DetectedNodule } from './pipeline.ts';
import { segmentNodule } from './segment-nodule.ts';

export interface ProbeSeed {
  /** Patient LPS (mm) on the probed scan. */
  readonly lps: Vec3;
  /** Expected radius (mm): half the mean diameter of the nodule on the other scan. */
  readonly radiusMm: number;
}

export interface ProbeOptions {
  /** Context around the seed given to the candidate filters (mm; default 24: ≥ 3σ of the largest blob scale). */
  readonly marginMm?: number;
  /** Candidates (nearest first) segmented per seed (default 3). */
  readonly maxTries?: number;
}

const distMm = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** How far from the seed a candidate or the segmented nodule may lie: registration residual + the nodule's own size. */
export function probeGateMm(radiusMm: number): number {
  return Math.max(4, radiusMm + 2);
}

/**
 * For each seed: the best-scoring nodule found at it (its mask holds the seed, or its centre is within
 * probeGateMm), or null. Deterministic; cost ≈ one candidate box + ≤ maxTries segmentations per seed.
 */
export function probeNodules(vol: Int16Volume, lungs: LungSegmentation, seeds: readonly ProbeSeed[], opts: ProbeOptions = {}): (DetectedNodule | null)[] {
  if (!lungs.box || seeds.length === 0) return seeds.map(() => null);
  const margin = opts.marginMm ?? 24;
  const tries = opts.maxTries ?? 3;
  const isoMm = isoSpacingFor(vol.spacing, lungs.box);
  const lungWide = dilate(lungs.labels, { radiusMm: Math.max(...lungs.labels.spacing) * 1.01 });
  return seeds.map((seed) => {
    const q = lpsToIjk(vol, seed.lps);
    const half = seed.radiusMm + margin;
    const start = [0, 1, 2].map((a) => Math.max(0, Math.floor((q[a] as number) - half / (vol.spacing[a] as number)))) as Vec3;
    const end = [0, 1, 2].map((a) => Math.min(vol.dims[a] as number, Math.ceil((q[a] as number) + half / (vol.spacing[a] as number)) + 1)) as Vec3;
    if (start.some((s, a) => s >= (end[a] as number) - 2)) return null;
    const sub = crop(vol, { start, end });
    const iso = resample(sub, { spacing: isoMm, interpolation: 'linear', fill: -1000 });
    const isoLab = resampleToGrid(lungs.labels, iso, { interpolation: 'nearest', fill: 0 });
    const isoLung = withData(iso, new Uint8Array(isoLab.data.length));
    let lungVoxels = 0;
    for (let v = 0; v < isoLab.data.length; v++) if (isoLab.data[v] !== 0) { isoLung.data[v] = 1; lungVoxels++; }
    if (lungVoxels === 0) return null;
    const gate = probeGateMm(seed.radiusMm);
    // Best first-stage score first, as the pipeline orders them (its blob candidate of a solid nodule segments it
    // better than the sub-solid channel's coarser maximum at the same place).
    const near = detectCandidates(iso, isoLung).candidates
      .filter((c) => distMm(c.lps, seed.lps) <= gate)
      .map((c) => ({ c, p1: firstStageProbability(firstStageFeatures(iso, isoLung, c)) }))
      .sort((a, b) => b.p1 - a.p1)
      .slice(0, tries);
    let best: DetectedNodule | null = null;
    for (const { c, p1: firstStage } of near) {
      const seg = segmentNodule(vol, lungs.labels, c.lps, c.radiusMm, { lungWide });
      if (!seg) continue;
      const centerMm = noduleCentre(seg);
      if (!insideMask(seg.mask, seed.lps) && distMm(centerMm, seed.lps) > gate) continue;
      const measures = measureCandidate(iso, c, seg);
      const features = featureVector(c, seg, measures);
      const n: DetectedNodule = { candidate: c, seg, measures, features, probability: 0, firstStage, stage: 'fine', centerMm };
      n.probability = withPriors(n, noduleProbability(features), lungs.labels);
      // A later (lower first-stage) candidate replaces the kept one only when clearly better.
      if (!best || n.probability > best.probability + 0.01) best = n;
    }
    return best;
  });
}
