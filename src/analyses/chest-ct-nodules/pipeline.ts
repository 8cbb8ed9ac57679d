/**
 * The chest-CT nodule pipeline as plain functions over a Volume (the manifest wraps it for the engine):
 * lung segmentation (coarse grid) → crop to the lung box → isotropic detection grid → candidates with a
 * first-stage score → per-candidate segmentation, measurements and features → classifier probability →
 * de-duplication. Costly filters run only on the cropped isotropic grid or on small boxes around candidates.
 * Budget: a fixed number of distinct candidates get the fine segmentation and the second-stage model; the
 * next ones (by first-stage score) a coarse segmentation and their first-stage probability, capped below the
 * display threshold, so the FROC still reaches 8 FP/scan; candidates inside an object already segmented are
 * skipped (a mass holds dozens of blob maxima).
 */
import type { Box, Int16Volume, MaskVolume, Vec3, Volume } from '../../imaging/index.ts';
import { crop, dilate, ijkToLps, insideMask, lpsToIjk, resample, resampleToGrid, withData } from '../../imaging/index.ts';
import { detectCandidates } from './candidates.ts';
import type { Candidate, CandidateOptions } from './candidates.ts';
import { noduleProbability } from './classify.ts';
import type { CandidateModel } from './logistic-model.ts';
import { featureVector, measureCandidate } from './features.ts';
import { firstStageFeatures, firstStageProbability } from './first-stage.ts';
import type { CandidateMeasures } from './features.ts';
import { segmentLungs } from './lung-segmentation.ts';
import type { LungSegmentation } from './lung-segmentation.ts';
import { denseBeyondLung, segmentNodule } from './segment-nodule.ts';
import type { NoduleSegmentation, TypeRules } from './segment-nodule.ts';
import { retypeKept } from './retype.ts';
import type { RetypePipelineOption } from './retype.ts';

export interface DetectedNodule {
  candidate: Candidate;
  seg: NoduleSegmentation;
  measures: CandidateMeasures;
  features: number[];
  probability: number;
  /** First-stage (candidate-level) probability. */
  firstStage: number;
  /** 'fine': segmented on a fine grid and scored by the second-stage model; 'coarse': a cheap segmentation for
   * the report, probability from the first stage only (capped below the display threshold). */
  stage: 'fine' | 'coarse';
  /** Centroid of the segmentation (LPS mm). */
  centerMm: Vec3;
}

export interface ScoredCandidate {
  candidate: Candidate;
  /** First-stage features and probability. */
  x: number[];
  p1: number;
}

export interface PipelineResult {
  lungs: LungSegmentation;
  /** Every candidate with its first-stage score, best first (training reads these). */
  candidates: ScoredCandidate[];
  nodules: DetectedNodule[];
  candidateCount: number;
  isoSpacingMm: number;
  stepTimesMs: Record<string, number>;
  /** Fraction of lung voxels below −950 HU (emphysema index), on the coarse lung grid. */
  laa950: number;
}

export interface PipelineOptions {
  /** Called between steps; throw to abort. */
  checkpoint?: (step: string, fraction: number) => void;
  /** Candidates (best first-stage score first) given the fine segmentation and the second-stage model. */
  fineCandidates?: number;
  /** Further candidates given a coarse segmentation and reported with their first-stage probability. */
  coarseCandidates?: number;
  /** Candidate-stage options (development: A/B of the blob channel). */
  candidateOptions?: CandidateOptions;
  /** Second-stage model; null ranks by the first stage (train.ts, while the model for a new feature set is fitted). */
  secondStageModel?: CandidateModel | null;
  /** First-stage model (development: A/B against a saved model in froc-tuning.ts); default FIRST_STAGE_MODEL. */
  firstStageModel?: CandidateModel;
  /** Optional type rules for the nodule segmentation (dev tools; the analysis runs the defaults). */
  typeRules?: TypeRules;
  /** The type model applied to the kept fine findings after scoring (retype.ts): their type, mask and
   * measurements, never their probability. Default on; false: off; options: dev tools (type-study.ts). */
  retype?: RetypePipelineOption<DetectedNodule>;
}

/** Coarse-path probabilities stay below this: they were never checked by the second stage. */
export const COARSE_PROBABILITY_CAP = 0.45;

/** Reference-standard floor (LUNA16): segmentations below this mean diameter are down-weighted. */
export const MIN_NODULE_DIAMETER_MM = 3;

/**
 * Distinct candidates given the fine segmentation and the second-stage model (the costly step: ≈ 50 ms each on the
 * bench volume). 90 was tried (froc-tuning.ts --from 13 --to 24 --fine 90, code of c50d860): CPM 0.801 → 0.789, ≥ 4 mm
 * at ≤ 1 FP/scan 82.4 → 82.4 %: the nodules past the first 60 there rank 99–123 (first-stage p ≤ 0.02), so the extra
 * 30 are second-stage false positives only. 80 again with the 0.12.0 first stage (which by 5-fold CV over the 126
 * training scans puts 893 of 1082 nodules in the first 80 of this order and 863 in the first 60; 961 have a candidate),
 * both models retrained on rows made at 80: held-out dense 91..100 CPM 0.864 (60: 0.867), plain 25..44 0.831 (0.831),
 * ≥ 4 mm at ≤ 1 FP/scan equal — the nodules it adds end below the second stage's 8 FP/scan level, so 60 stays.
 */
export const FINE_CANDIDATES = 60;

export const PIPELINE_STEPS = ['lung-segmentation', 'candidates', 'segmentation', 'classification'] as const;

function timer(): () => number {
  const t0 = performance.now();
  return () => performance.now() - t0;
}

export function centroidLps(mask: MaskVolume): Vec3 {
  const [nx, ny, nz] = mask.dims;
  let n = 0, si = 0, sj = 0, sk = 0, v = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
    if (mask.data[v] !== 0) { n++; si += i; sj += j; sk += k; }
  }
  return n > 0 ? ijkToLps(mask, [si / n, sj / n, sk / n]) : ijkToLps(mask, [(nx - 1) / 2, (ny - 1) / 2, (nz - 1) / 2]);
}

const distMm = (a: Vec3, b: Vec3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** Whether a mask voxel lies within `radiusMm` of an LPS point (0: the point's own voxel). */
export function nearMask(mask: MaskVolume, lps: Vec3, radiusMm: number): boolean {
  if (radiusMm <= 0) return insideMask(mask, lps);
  const q = lpsToIjk(mask, lps);
  const [nx, ny] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  const lo = [0, 1, 2].map((a) => Math.max(0, Math.floor((q[a] as number) - radiusMm / (mask.spacing[a] as number))));
  const hi = [0, 1, 2].map((a) => Math.min((mask.dims[a] as number) - 1, Math.ceil((q[a] as number) + radiusMm / (mask.spacing[a] as number))));
  for (let k = lo[2] as number; k <= (hi[2] as number); k++) {
    const dz = (k - (q[2] as number)) * sz;
    for (let j = lo[1] as number; j <= (hi[1] as number); j++) {
      const dy = (j - (q[1] as number)) * sy;
      for (let i = lo[0] as number; i <= (hi[0] as number); i++) {
        const dx = (i - (q[0] as number)) * sx;
        if (mask.data[i + j * nx + k * nx * ny] !== 0 && dx * dx + dy * dy + dz * dz <= radiusMm * radiusMm) return true;
      }
    }
  }
  return false;
}

/** A finding this close to a mass's mask (mm) is part of the mass: its margin, satellite lobes, the collapsed or infiltrated lung at its edge. */
export const MASS_MERGE_MM = 5;

/** A sub-solid finding within LARGE_SOLID_MARGIN_MM of a solid nodule at least LARGE_SOLID_MM across (and larger than
 * it) is that nodule's rim (see runPipeline). 15 mm: Lung-RADS v2022 puts such a solid nodule in 4B whatever lies at
 * its margin. */
export const LARGE_SOLID_MM = 15;
export const LARGE_SOLID_MARGIN_MM = 4;

/** Smallest mean diameter (mm) of a solid mass that is always reportable (see runPipeline). */
export const MASS_MIN_DIAMETER_MM = 30;

/** Probability floor of such a mass (see runPipeline). */
export const MASS_PROBABILITY_FLOOR = 0.9;

/** Radius (mm) of the dense core a mass must be seeded from: ≥ 15 mm of solid tissue across, inside the lung. */
export const MASS_CORE_RADIUS_MM = 7.5;

/**
 * A solid mass (> 3 cm: Fleischner Society glossary, Hansell et al., Radiology 2008) grown from a dense core inside
 * the lung: the mass segmentation (grown inside the pleural envelope), solid type, and a seed that is a solid core
 * ≥ 15 mm across in the lung mask. A faint seed at the lung base or the chest wall that leaks into the liver, the
 * heart or the wall (a 'mass' segmentation from a sub-solid blob on a tuning phantom) does not qualify.
 */
export function isReportableMass(f: Pick<DetectedNodule, 'stage' | 'seg' | 'measures' | 'candidate'>, lungLabels: MaskVolume): boolean {
  return f.stage === 'fine' && f.seg.mass === true && f.seg.type === 'solid' && f.measures.axes.meanDiameterMm >= MASS_MIN_DIAMETER_MM
    && f.candidate.source === 'solid-core' && f.candidate.radiusMm >= MASS_CORE_RADIUS_MM && insideMask(lungLabels, f.candidate.lps);
}

/** Whether the fine order interleaves the blob response with the first-stage score (see fineOrder). */
export const FINE_ORDER_INTERLEAVE_BLOB = false;
/** Share of the fine budget given first to the largest dense cores (see fineOrder). */
export const FINE_ORDER_CORE_SHARE = 0.05;

/** The order in which candidates get the fine segmentation (see runPipeline). */
export function fineOrder(scored: readonly ScoredCandidate[], nFine: number, interleaveBlob = FINE_ORDER_INTERLEAVE_BLOB, coreShare = FINE_ORDER_CORE_SHARE): ScoredCandidate[] {
  const isCore = (c: ScoredCandidate) => c.candidate.source === 'solid-core' || c.candidate.source === 'ground-glass-core';
  const cores = scored.filter(isCore).sort((a, b) => b.candidate.radiusMm - a.candidate.radiusMm).slice(0, coreShare > 0 ? Math.max(1, Math.round(nFine * coreShare)) : 0);
  // Then the first-stage score (optionally interleaved with the blob response, each candidate taken at its better
  // place). With the logistic first stage (0.3.0) the interleave was needed: the blob response ranks ground glass
  // (150–450 HU of contrast) below the solid blobs and the linear score ranked small calcified and juxtapleural
  // nodules low. The boosted-tree first stage (0.4.0) ranks both well, and the interleave and a 25 % core quota
  // then only spend budget: by 5-fold cross-validation over tuning scans (model-study.ts --stage 1: plain 1..5,
  // stress 1..6, dense 1..17; 237 nodules, 214 with a candidate) the first 60 of the order hold 175 nodules with
  // the 0.3.0 logistic score and order, 179 with trees in that order, and 188 with trees, 5 % cores (the masses,
  // whose centres the blob filter cannot see) and the score alone.
  const byScore = [...scored].sort((a, b) => b.p1 - a.p1);
  const byBlob = interleaveBlob ? scored.filter((c) => c.candidate.source === 'blob').sort((a, b) => b.candidate.blob - a.candidate.blob) : [];
  // Calcium candidates (≤ CALCIUM_MAX_CANDIDATES) right after the cores, whatever their first-stage score: they came
  // after the first stage of 0.9.0 was trained (the 0.12.0 first stage has seen them; the order was kept).
  const calcium = scored.filter((c) => c.candidate.source === 'calcium');
  const out: ScoredCandidate[] = [...cores, ...calcium];
  const seen = new Set<ScoredCandidate>(out);
  for (let i = 0; i < scored.length; i++) {
    for (const c of [byScore[i], byBlob[i]]) {
      if (c && !seen.has(c)) { seen.add(c); out.push(c); }
    }
  }
  return out;
}

export function runPipeline(vol: Int16Volume, opts: PipelineOptions = {}): PipelineResult {
  const times: Record<string, number> = {};
  const check = opts.checkpoint ?? (() => undefined);

  check('lung-segmentation', 0);
  let t = timer();
  const lungs = segmentLungs(vol);
  let lowCount = 0, lungCount = 0;
  times['lung-segmentation'] = t();
  if (!lungs.box) return { lungs, candidates: [], nodules: [], candidateCount: 0, isoSpacingMm: 0, stepTimesMs: times, laa950: 0 };

  check('candidates', 0.25);
  t = timer();
  const sub = crop(vol, lungs.box);
  const isoMm = isoSpacingFor(vol.spacing, lungs.box);
  const iso = resample(sub, { spacing: isoMm, interpolation: 'linear', fill: -1000 });
  const isoLab = resampleToGrid(lungs.labels, iso, { interpolation: 'nearest', fill: 0 });
  const isoLung = withData(iso, new Uint8Array(isoLab.data.length));
  for (let v = 0; v < isoLab.data.length; v++) {
    if (isoLab.data[v] === 0) continue;
    isoLung.data[v] = 1;
    lungCount++;
    if ((iso.data[v] as number) <= -950) lowCount++;
  }
  const { candidates } = detectCandidates(iso, isoLung, opts.candidateOptions);
  const scored: ScoredCandidate[] = candidates.map((c) => {
    const x = firstStageFeatures(iso, isoLung, c);
    return { candidate: c, x, p1: firstStageProbability(x, opts.firstStageModel) };
  });
  times['candidates'] = t();

  check('segmentation', 0.5);
  t = timer();
  // Fine-segmentation order: the largest dense cores (large nodules and masses, whose centres the blob filter
  // cannot see), then the first-stage score and the blob response interleaved (fineOrder).
  const nFine = opts.fineCandidates ?? FINE_CANDIDATES;
  const nCoarse = opts.coarseCandidates ?? 40;
  const order = fineOrder(scored, nFine);
  const lungWide = dilate(lungs.labels, { radiusMm: Math.max(...lungs.labels.spacing) * 1.01 });
  const found: DetectedNodule[] = [];
  // A candidate inside a nodule already segmented is the same object (a mass holds dozens of blob maxima):
  // skipping it before the costly step is what keeps the budget for distinct objects.
  const covered = (lps: Vec3) => found.some((f) => insideMask(f.seg.mask, lps));
  const done = new Set<ScoredCandidate>();
  let nFineDone = 0, nCoarseDone = 0;
  const queue: { sc: ScoredCandidate; fine: boolean }[] = [];
  for (const sc of order) queue.push({ sc, fine: true });
  for (const sc of [...scored].sort((a, b) => b.p1 - a.p1)) queue.push({ sc, fine: false });
  for (const { sc, fine } of queue) {
    if (done.has(sc)) continue;
    if (fine ? nFineDone >= nFine : nCoarseDone >= nCoarse) {
      if (fine) continue;
      break;
    }
    const { candidate: c, p1 } = sc;
    if (covered(c.lps)) { done.add(sc); continue; }
    done.add(sc);
    if (fine) nFineDone++; else nCoarseDone++;
    if ((nFineDone + nCoarseDone) % 10 === 0) check('segmentation', 0.5 + (0.4 * (nFineDone + nCoarseDone)) / Math.max(1, nFine + nCoarse));
    const seg = segmentNodule(vol, lungs.labels, c.lps, c.radiusMm, fine ? { lungWide, typeRules: opts.typeRules } : { lungWide, coarse: true, typeRules: opts.typeRules });
    if (!seg) continue;
    const measures = measureCandidate(iso, c, seg);
    const features = featureVector(c, seg, measures);
    found.push({ candidate: c, seg, measures, features, probability: 0, firstStage: p1, stage: fine ? 'fine' : 'coarse', centerMm: noduleCentre(seg) });
  }
  times['segmentation'] = t();

  check('classification', 0.9);
  t = timer();
  for (const f of found) {
    if (f.stage === 'coarse') {
      f.probability = Math.min(COARSE_PROBABILITY_CAP, f.firstStage);
      continue;
    }
    f.probability = withPriors(f, opts.secondStageModel === null ? f.firstStage : noduleProbability(f.features, opts.secondStageModel), lungs.labels);
  }
  found.sort((a, b) => b.probability - a.probability);
  const kept: DetectedNodule[] = [];
  for (const f of found) {
    // A finding at a mass's margin is part of the mass (its lobes, the collapsed or infiltrated lung at its edge):
    // it is reported as the mass, with the higher probability of the two.
    const fMass = isReportableMass(f, lungs.labels);
    const m = kept.findIndex((k) => (isReportableMass(k, lungs.labels) && nearMask(k.seg.mask, f.centerMm, MASS_MERGE_MM)) || (fMass && nearMask(f.seg.mask, k.centerMm, MASS_MERGE_MM)));
    if (m >= 0) {
      const k = kept[m] as DetectedNodule;
      if (fMass && !isReportableMass(k, lungs.labels)) kept[m] = { ...f, probability: Math.max(f.probability, k.probability) };
      continue;
    }
    // A sub-solid finding at the margin of a large solid nodule is its partial-volume rim on the slices above or
    // below (LIDC-IDRI-0003: a 12.4 mm "ground-glass" finding at p 0.77 whose centre lay 14 mm below the centre of
    // the 23 mm nodule, just outside its mask): it is part of that nodule, as a mass's margin is part of the mass.
    if ((f.seg.type === 'ground-glass' || f.seg.type === 'part-solid')
      && kept.some((k) => k.stage === 'fine' && k.seg.type === 'solid' && k.measures.axes.meanDiameterMm >= LARGE_SOLID_MM && k.measures.axes.meanDiameterMm > f.measures.axes.meanDiameterMm && nearMask(k.seg.mask, f.centerMm, LARGE_SOLID_MARGIN_MM))) continue;
    const i = kept.findIndex((k) => insideMask(k.seg.mask, f.centerMm) || insideMask(f.seg.mask, k.centerMm));
    if (i < 0) { kept.push(f); continue; }
    // The same object seen twice: a sub-solid blob on the partial-volume rim of a solid nodule is segmented as a
    // small ground-glass piece of it. The larger segmentation is the object; it keeps the higher probability —
    // when the kept finding lies in its core (the round part around its peak). A larger mask that merely reaches
    // over the kept one leaked onto it from a neighbour (a juxtapleural seed grown over a calcified nodule 9 mm
    // away, tuning seed 19): the kept finding stays, with its own centre.
    const k = kept[i] as DetectedNodule;
    const inCore = distMm(k.centerMm, f.seg.centreLps) <= f.seg.rayRadiusMm;
    if (f.stage === 'fine' && f.seg.volumeMm3 > 2 * k.seg.volumeMm3 && insideMask(f.seg.mask, k.centerMm) && inCore) kept[i] = { ...f, probability: k.probability };
  }
  kept.sort((a, b) => b.probability - a.probability);
  // After scoring and de-duplication: type and measurements only (retype.ts).
  retypeKept(kept, { vol, lungLabels: lungs.labels, lungWide, iso }, opts.retype);
  times['classification'] = t();
  return { lungs, candidates: scored, nodules: kept, candidateCount: candidates.length, isoSpacingMm: isoMm, stepTimesMs: times, laa950: lungCount > 0 ? lowCount / lungCount : 0 };
}

/**
 * Where a nodule is: the mask's centroid, unless the mask runs along an attached vessel and drags it away from the
 * nodule; then the point the segmentation was measured from marks the nodule better (its intensity peak, or for
 * ground glass the centre of its largest ball of ground-glass attenuation: its peak is often the vessel it touches).
 */
export function noduleCentre(seg: NoduleSegmentation): Vec3 {
  const centroid = centroidLps(seg.mask);
  const drift = Math.hypot(centroid[0] - seg.centreLps[0], centroid[1] - seg.centreLps[1], centroid[2] - seg.centreLps[2]);
  return drift <= Math.max(1.5, 0.6 * seg.rInMm) ? centroid : seg.centreLps;
}

/** The second stage's probability `p` of a fine-path nodule with the priors that are not learnt applied. */
export function withPriors(f: Pick<DetectedNodule, 'stage' | 'seg' | 'measures' | 'candidate' | 'centerMm'>, p: number, lungLabels: MaskVolume): number {
  let q = p;
  // Prior, not learnt: a finding cut through its middle by the first or last slice of the scan (partial coverage)
  // cannot be told from a vessel leaving the scanned range — a vessel seen end-on on the outermost slice is a round
  // dot with no continuation, which is what a nodule looks like. The training phantoms hold the whole lung, so the
  // models never saw such a cut and score it as they would a round dot (LIDC-IDRI-0003, 11 slices: 2 vessels on
  // the last slice at 0.56 and 0.60). Kept in the list for the reader, below the display threshold.
  if (cutByScanEdge(lungLabels, f)) q = Math.min(q, COARSE_PROBABILITY_CAP);
  // Prior, not learnt: a calcified finding whose calcium-dense region runs on beyond the lung is a bone at the lung's
  // edge (denseBeyondLung; the phantoms have no bone of 1400 HU against the lung for the model to have learnt from).
  if (denseBeyondLung(f.seg)) q = Math.min(q, COARSE_PROBABILITY_CAP);
  // Prior, not learnt: a sub-solid opacity under 3.5 mm is below what either guideline reports (Fleischner:
  // no follow-up for GGN < 6 mm) and at ~100 HU of contrast it is mostly parenchymal texture or noise; the linear
  // model cannot express "small AND faint", so it is down-weighted here.
  if ((f.seg.type === 'ground-glass' || f.seg.type === 'part-solid') && f.measures.axes.meanDiameterMm < 3.5) q *= 0.2;
  // Prior, not learnt: the reference standard the FROC follows counts nodules from 3 mm (LUNA16, Setio et al.,
  // Med Image Anal 2017: smaller findings are irrelevant), and no segmentation under 3 mm occurs among the training
  // candidates, so the model would extrapolate there (compactness of a 2-voxel object exceeds a sphere's).
  if (f.measures.axes.meanDiameterMm < MIN_NODULE_DIAMETER_MM) q *= 0.2;
  // Prior, not learnt: a solid mass (isReportableMass) is always reportable — Lung-RADS v2022 puts any solid
  // nodule ≥ 15 mm in category 4B — while the second stage, trained on nodules up to ~25 mm, extrapolates there
  // (the IBSI lung cancer, 365 mL, scored 0.02).
  if (isReportableMass(f, lungLabels)) q = Math.max(q, MASS_PROBABILITY_FLOOR);
  return q;
}

/** Whether the first or last slice of the scan cuts a finding through its middle: its centre lies closer to the
 * scanned range's outer face than half its mean diameter (withPriors; the report says so in its reasons). */
export function cutByScanEdge(grid: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, f: Pick<DetectedNodule, 'centerMm' | 'measures'>): boolean {
  return cutByScanEdgeMm(grid, f.centerMm) < 0.5 * f.measures.axes.meanDiameterMm;
}

/** Distance (mm) along the slice axis from `lps` to the nearer outer face of the scanned range (half a slice beyond
 * the first and last slice centres). */
export function cutByScanEdgeMm(grid: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, lps: Vec3): number {
  const k = lpsToIjk(grid, lps)[2];
  const nz = grid.dims[2];
  return Math.max(0, Math.min(k + 0.5, nz - 0.5 - k)) * grid.spacing[2];
}

/** Detection-grid spacing (mm) for the lung box (voxel indices on a grid of `spacing`): 1 mm up to 9 litres of box, else 1.25 mm. */
export function isoSpacingFor(spacing: Vec3, box: Box): number {
  const mm = [0, 1, 2].map((a) => ((box.end[a] as number) - (box.start[a] as number)) * (spacing[a] as number));
  return (mm[0] as number) * (mm[1] as number) * (mm[2] as number) <= 9e6 ? 1.0 : 1.25;
}

/**
 * Paints nodule masks (local grids) into a label volume on `like`'s grid — a new one, or `into` (same grid), where
 * only its unlabelled voxels are painted (what is already there stays).
 */
export function paintLabels(like: Int16Volume, nodules: readonly { seg: NoduleSegmentation; label: number }[], into?: MaskVolume): MaskVolume {
  const out = into ?? withData(like, new Uint8Array(like.data.length));
  const [nx, ny] = like.dims;
  for (const { seg, label } of nodules) {
    const m = seg.mask;
    // Box of the local grid in `like`'s indices.
    const lo: Vec3 = [Infinity, Infinity, Infinity], hi: Vec3 = [-Infinity, -Infinity, -Infinity];
    for (let c = 0; c < 8; c++) {
      const p = ijkToLps(m, [c & 1 ? m.dims[0] - 1 : 0, c & 2 ? m.dims[1] - 1 : 0, c & 4 ? m.dims[2] - 1 : 0]);
      const q = lpsToIjk(like, p);
      for (let a = 0; a < 3; a++) { lo[a] = Math.min(lo[a] as number, q[a] as number); hi[a] = Math.max(hi[a] as number, q[a] as number); }
    }
    const box: Box = {
      start: [0, 1, 2].map((a) => Math.max(0, Math.floor(lo[a] as number))) as Vec3,
      end: [0, 1, 2].map((a) => Math.min(like.dims[a] as number, Math.ceil((hi[a] as number) + 1))) as Vec3,
    };
    if (box.end.some((e, a) => e <= (box.start[a] as number))) continue;
    const grid = {
      dims: [box.end[0] - box.start[0], box.end[1] - box.start[1], box.end[2] - box.start[2]] as Vec3,
      spacing: like.spacing, origin: ijkToLps(like, box.start), direction: like.direction,
    };
    // Linear interpolation of the 0/1 mask then ≥ 0.5: the partial-volume-correct rendering on coarser slices.
    const asFloat = withData(m, Float32Array.from(m.data));
    const r = resampleToGrid(asFloat, grid, { interpolation: 'linear', fill: 0 });
    let v = 0;
    for (let k = 0; k < grid.dims[2]; k++) for (let j = 0; j < grid.dims[1]; j++) for (let i = 0; i < grid.dims[0]; i++, v++) {
      const o = box.start[0] + i + (box.start[1] + j) * nx + (box.start[2] + k) * nx * ny;
      if ((r.data[v] as number) >= 0.5 && (!into || out.data[o] === 0)) out.data[o] = label;
    }
  }
  return out;
}
