/**
 * The dimmed-solid type rule applied after detection (runPipeline's last step). Detection — the segmentation the
 * second-stage features, the probability and the de-duplication were computed from — is left exactly as it is: the
 * second-stage model was trained on masks made without the rule, and with the rule on during detection a 3.8 mm
 * structure on the real IBSI lung-cancer CT rose to p 0.58 (docs/validation.md, chest-ct-nodules 0.5.0). Here, for
 * each finding that was kept and segmented on the fine path, the type is re-decided from the evidence its
 * segmentation already measured (TypeEvidence, with the radial profile); only where the rule turns part-solid into
 * solid (a small solid nodule whose peak partial volume dimmed below solid attenuation, without a ground-glass
 * plateau around it), the nodule is segmented again at the same seed and radius with the rule on, and its `seg` and
 * `measures` — hence the reported type, diameters, volume and (no) solid component — are replaced. Its probability,
 * features, first-stage score, stage and centre are not touched. A re-segmentation that fails or looks implausible
 * (not solid, a mass, a mask that misses the finding's centre or a peak that moved, a volume the raised threshold
 * cannot explain) leaves the finding as it was.
 */
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { insideMask } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { measureCandidate } from './features.ts';
import type { CandidateMeasures } from './features.ts';
import { decideNoduleType, segmentNodule } from './segment-nodule.ts';
import type { NoduleSegmentation } from './segment-nodule.ts';

/** What the retyping reads and replaces on a finding (structurally pipeline.ts's DetectedNodule). */
export interface RetypeTarget {
  candidate: Candidate;
  seg: NoduleSegmentation;
  measures: CandidateMeasures;
  probability: number;
  stage: 'fine' | 'coarse';
  centerMm: Vec3;
}

/** The volumes runPipeline segmented and measured on. */
export interface RetypeContext {
  /** The scan. */
  vol: Int16Volume;
  /** Lung labels (coarse grid). */
  lungLabels: MaskVolume;
  /** The widened lung mask the fine path segmented with. */
  lungWide: MaskVolume;
  /** The isotropic detection grid (measureCandidate's Hessian). */
  iso: Int16Volume;
}

/** Why a finding the rule re-decided kept its original segmentation. */
export type RetypeRejection = 'no-segmentation' | 'not-solid' | 'mass' | 'centre-outside' | 'peak-moved' | 'volume-ratio';

export interface RetypeEvent<T extends RetypeTarget = RetypeTarget> {
  /** The finding as detection left it. */
  before: T;
  /** The finding after the retyping (the same object as `before` when rejected). */
  after: T;
  /** Set when the re-segmentation was not taken. */
  rejected?: RetypeRejection;
  /** Time of the re-segmentation and measurement (ms). */
  ms: number;
}

export interface RetypeOptions<T extends RetypeTarget = RetypeTarget> {
  /** Only findings at or above this probability are looked at (default RETYPE_MIN_PROBABILITY). */
  minProbability?: number;
  /** Called for every finding the rule re-decided (taken or rejected): dev tools (type-study.ts) and tests. */
  onRetype?: (e: RetypeEvent<T>) => void;
}

export interface RetypeStats {
  /** Findings whose evidence the rule turned part-solid → solid. */
  candidates: number;
  /** Of those, re-segmented and replaced. */
  retyped: number;
  /** Time spent (ms). */
  ms: number;
}

/**
 * Volume of the re-segmentation over the original's: the rule raises the threshold from half way to the
 * ground-glass level to half way to the peak, so the mask can only shrink (the partial-volume weights too, over a
 * larger contrast); ≤ 1.05 leaves room for the voxel grid. The nodules it is for were over-segmented by +155–208 %
 * (unseen seed 690000, docs/validation.md), i.e. a ratio of ≈ 0.3–0.4; below 0.15 the raised threshold kept a
 * fragment (noise at the peak), not the nodule.
 */
export const RETYPE_MIN_VOLUME_RATIO = 0.15;
export const RETYPE_MAX_VOLUME_RATIO = 1.05;
/** The re-segmentation's peak must be the original's (same seed, same search): within this distance (mm). */
export const RETYPE_MAX_PEAK_SHIFT_MM = 1.5;

/**
 * Findings below this probability are not reported (report.ts REPORT_FLOOR, the same value; retype.test.ts checks
 * it), so they are not re-segmented: on tuning seed 1, 4 of the 10 kept fine findings the rule re-decides lie below it.
 * Above it, tuning scans 1..12 and stress 1..6 had 74 such findings (4.1 per scan, ≈ 90 ms each on a loaded machine).
 */
export const RETYPE_MIN_PROBABILITY = 0.005;

/** Whether the dimmed-solid rule changes this segmentation's decision: part-solid by default, solid with the rule. */
export function dimmedSolidChanges(seg: NoduleSegmentation): boolean {
  if (seg.type !== 'part-solid' || seg.mass === true) return false;
  const e = seg.typeEvidence;
  return decideNoduleType(e).type === 'part-solid' && decideNoduleType(e, { dimmedSolid: true }).type === 'solid';
}

/** The re-segmentation with the rule, or why it is not taken. */
export function resegmentDimmedSolid(f: RetypeTarget, ctx: RetypeContext): { seg: NoduleSegmentation } | { rejected: RetypeRejection } {
  const seg = segmentNodule(ctx.vol, ctx.lungLabels, f.candidate.lps, f.candidate.radiusMm, { lungWide: ctx.lungWide, typeRules: { dimmedSolid: true } });
  if (!seg) return { rejected: 'no-segmentation' };
  // Solid, or calcified by its partial-volume mean (segment-nodule.ts refineType: a dimmed small calcified nodule).
  if (seg.type !== 'solid' && seg.type !== 'calcified') return { rejected: 'not-solid' };
  if (seg.mass === true) return { rejected: 'mass' };
  if (!insideMask(seg.mask, f.centerMm)) return { rejected: 'centre-outside' };
  const p = seg.peakLps, q = f.seg.peakLps;
  if (Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]) > RETYPE_MAX_PEAK_SHIFT_MM) return { rejected: 'peak-moved' };
  const ratio = seg.volumeMm3 / Math.max(1e-6, f.seg.volumeMm3);
  if (!(ratio >= RETYPE_MIN_VOLUME_RATIO && ratio <= RETYPE_MAX_VOLUME_RATIO)) return { rejected: 'volume-ratio' };
  return { seg };
}

/**
 * Re-types the kept findings in place (see the file comment): `nodules[i]` is replaced by a copy with the new `seg`
 * and `measures` where the dimmed-solid rule makes a fine-path part-solid finding solid and its re-segmentation is
 * plausible. Order, probabilities and centres are unchanged.
 */
export function retypeDimmedSolid<T extends RetypeTarget>(nodules: T[], ctx: RetypeContext, opts: RetypeOptions<T> = {}): RetypeStats {
  const t0 = performance.now();
  const minP = opts.minProbability ?? RETYPE_MIN_PROBABILITY;
  let candidates = 0, retyped = 0;
  for (let i = 0; i < nodules.length; i++) {
    const f = nodules[i] as T;
    if (f.stage !== 'fine' || f.probability < minP || !dimmedSolidChanges(f.seg)) continue;
    candidates++;
    const t1 = performance.now();
    const r = resegmentDimmedSolid(f, ctx);
    if ('rejected' in r) {
      opts.onRetype?.({ before: f, after: f, rejected: r.rejected, ms: performance.now() - t1 });
      continue;
    }
    const after: T = { ...f, seg: r.seg, measures: measureCandidate(ctx.iso, f.candidate, r.seg) };
    nodules[i] = after;
    retyped++;
    opts.onRetype?.({ before: f, after, ms: performance.now() - t1 });
  }
  return { candidates, retyped, ms: performance.now() - t0 };
}

/** runPipeline's option: `false` off, `true` / undefined on with the defaults, or options (dev tools). */
export type RetypePipelineOption<T extends RetypeTarget = RetypeTarget> = boolean | RetypeOptions<T>;

/** runPipeline's single call: applies the option (on by default) and returns the stats, or null when off. */
export function retypeKept<T extends RetypeTarget>(kept: T[], ctx: RetypeContext, option: RetypePipelineOption<T> | undefined): RetypeStats | null {
  if (option === false) return null;
  return retypeDimmedSolid(kept, ctx, option === true || option === undefined ? {} : option);
}
