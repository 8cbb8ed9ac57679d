/**
 * The type of the kept findings, decided again by the type model (type-model.ts) after detection (runPipeline's last
 * step). Detection — the segmentation the second-stage features, the probability and the de-duplication were
 * computed from — is left exactly as it is: the second-stage model was trained on the masks the rules make. Here,
 * for each finding kept on the fine path at or above the report floor, the model reads the evidence its
 * segmentation already measured (TypeEvidence) and the rules' type; where it calls another type, the nodule is
 * segmented again at the same seed and radius as that type (TypeRules.force: the threshold from its ground glass
 * for a sub-solid type, from its plateau — or its peak, when partial volume dimmed it — for a solid one), and its
 * `seg` and `measures` — hence the reported type, diameters, volume and solid component — are replaced. Its
 * probability, features, first-stage score, stage and centre are not touched. A re-segmentation that fails or looks
 * implausible (a mass, a mask that misses the finding's centre or a peak that moved, a volume the changed threshold
 * cannot explain) leaves the finding as it was.
 *
 * Why a model: each rule reads one or two numbers against a hand-set cut (a peak below −250 HU is sub-solid, a halo
 * makes a solid core part-solid…) and the cuts were tuned on a few dozen nodules. On 841 nodules of 103 tuning
 * scans the rules type 79.1 % right, the model 87.8 % cross-validated by scan (with its guards, type-model.ts); end
 * to end on 20 scans a first model had not trained on, 78.5 → 87.3 % (docs/validation.md, chest-ct-nodules 0.10.0).
 */
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { insideMask } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { measureCandidate } from './features.ts';
import type { CandidateMeasures } from './features.ts';
import { CALCIFIED_PV_MAX_MM3, isSubSolid, segmentNodule } from './segment-nodule.ts';
import type { NoduleSegmentation, NoduleType } from './segment-nodule.ts';
import { rankedTypes } from './type-model.ts';
import type { NoduleTypeModel } from './type-model.ts';
import { NODULE_TYPE_MODEL } from './type-model-weights.ts';

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
export type RetypeRejection = 'no-segmentation' | 'type-not-taken' | 'calcified-size' | 'mass' | 'centre-outside' | 'peak-moved' | 'volume-ratio';

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
  /** Called for every finding the model re-decided (taken or rejected): dev tools (type-study.ts) and tests. */
  onRetype?: (e: RetypeEvent<T>) => void;
}

export interface RetypeStats {
  /** Findings the model gave another type than the rules. */
  candidates: number;
  /** Of those, re-segmented and replaced. */
  retyped: number;
  /** Time spent (ms). */
  ms: number;
}

/**
 * Volume of a re-segmentation as solid over a sub-solid segmentation's: the threshold rises from half way to the
 * ground-glass level to half way to the plateau or peak, so the mask can only shrink (the partial-volume weights too,
 * over a larger contrast); ≤ 1.05 leaves room for the voxel grid. Dimmed small solid nodules typed sub-solid were
 * over-segmented by +155–208 % (unseen seed 690000, docs/validation.md), i.e. a ratio of ≈ 0.3–0.4; below 0.15 the
 * raised threshold kept a fragment (noise at the peak), not the nodule.
 */
export const RETYPE_MIN_VOLUME_RATIO = 0.15;
export const RETYPE_MAX_VOLUME_RATIO = 1.05;
/** The re-segmentation's peak must be the original's (same seed, same search): within this distance (mm). */
export const RETYPE_MAX_PEAK_SHIFT_MM = 1.5;

/**
 * Findings below this probability are not reported (report.ts REPORT_FLOOR, the same value; retype.test.ts checks
 * it), so they are not re-segmented. Above it the model re-decided 12.4 findings per tuning scan (dense 29..48, 10
 * nodules each; ≈ 70 ms each).
 */
export const RETYPE_MIN_PROBABILITY = 0.005;

/**
 * Volume of a re-segmentation as sub-solid over a solid segmentation's: the threshold falls from half way to the
 * plateau to half way to the ground glass, so the mask grows over the halo (a 3 mm core in 10 mm of ground glass:
 * ≈ 37×, but the rules find that halo; what the model adds are thin halos). A bound against a mask leaking into
 * vessels and parenchyma at the lower level, not a tuned value: on dense 29..48 the model made no solid → sub-solid
 * change (113 part-solid → solid, 76 ground-glass → part-solid, 14 part-solid → calcified, 13 part-solid → ground-glass).
 */
export const RETYPE_MAX_SUBSOLID_RATIO = 8;

/**
 * The type the model gives a segmentation, or null where it agrees with the rules (or the finding is a mass). A
 * calcified call the rules did not make comes with the model's best other type as `fallback`: calcified is benign
 * (Lung-RADS v2022 category 1), so the model may call it only under 6 mm, where a solid nodule (category 2) is managed
 * the same (type-model.ts calcifiedAllowed) — and the size that decides is the nodule's volume segmented as calcified
 * (retypeByModel), not the rules' mask: a small calcified nodule dimmed by partial volume and typed sub-solid is cut
 * at the ground-glass level, which inflates it.
 */
export function modelTypeChange(seg: NoduleSegmentation, model: NoduleTypeModel = NODULE_TYPE_MODEL): { type: NoduleType; fallback?: NoduleType } | null {
  if (seg.mass === true) return null;
  const ranked = rankedTypes(model, seg.typeEvidence, seg.type);
  const top = ranked[0] ?? seg.type;
  if (top === seg.type) return null;
  return top === 'calcified' ? { type: top, fallback: ranked.find((t) => t !== 'calcified') ?? seg.type } : { type: top };
}

/** The re-segmentation as `type`, or why it is not taken. */
export function resegmentAs(f: RetypeTarget, ctx: RetypeContext, type: NoduleType): { seg: NoduleSegmentation } | { rejected: RetypeRejection } {
  const seg = segmentNodule(ctx.vol, ctx.lungLabels, f.candidate.lps, f.candidate.radiusMm, { lungWide: ctx.lungWide, typeRules: { force: type } });
  if (!seg) return { rejected: 'no-segmentation' };
  if (seg.type !== type) return { rejected: 'type-not-taken' };
  if (seg.mass === true) return { rejected: 'mass' };
  if (!insideMask(seg.mask, f.centerMm)) return { rejected: 'centre-outside' };
  const p = seg.peakLps, q = f.seg.peakLps;
  if (Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]) > RETYPE_MAX_PEAK_SHIFT_MM) return { rejected: 'peak-moved' };
  const ratio = seg.volumeMm3 / Math.max(1e-6, f.seg.volumeMm3);
  const from = isSubSolid(f.seg.type), to = isSubSolid(type);
  // Solid from sub-solid: the threshold rises, the mask shrinks (RETYPE_MIN/MAX_VOLUME_RATIO); sub-solid from solid:
  // it falls, the mask grows; within a family the level, and so the mask, is the same.
  const ok = from && !to ? ratio >= RETYPE_MIN_VOLUME_RATIO && ratio <= RETYPE_MAX_VOLUME_RATIO
    : !from && to ? ratio >= 1 / RETYPE_MAX_VOLUME_RATIO && ratio <= RETYPE_MAX_SUBSOLID_RATIO
    : true;
  if (!ok) return { rejected: 'volume-ratio' };
  return { seg };
}

/**
 * Re-types the kept findings in place by the type model (type-model.ts): where it disagrees with the rules on a
 * fine-path finding at or above the report floor, the finding is segmented again as the model's type and, when that
 * re-segmentation is plausible, `nodules[i]` is replaced by a copy with the new `seg` and `measures`. Order,
 * probabilities and centres are unchanged.
 */
export function retypeByModel<T extends RetypeTarget>(nodules: T[], ctx: RetypeContext, opts: RetypeOptions<T> & { model?: NoduleTypeModel } = {}): RetypeStats {
  const t0 = performance.now();
  const minP = opts.minProbability ?? RETYPE_MIN_PROBABILITY;
  let candidates = 0, retyped = 0;
  for (let i = 0; i < nodules.length; i++) {
    const f = nodules[i] as T;
    if (f.stage !== 'fine' || f.probability < minP) continue;
    const change = modelTypeChange(f.seg, opts.model);
    if (change === null) continue;
    candidates++;
    const t1 = performance.now();
    let r = resegmentAs(f, ctx, change.type);
    // Calcified only where its own segmentation is under 6 mm; else the model's next type.
    if (change.fallback !== undefined && ('rejected' in r || !(r.seg.volumeMm3 < CALCIFIED_PV_MAX_MM3))) {
      r = change.fallback === f.seg.type ? { rejected: 'calcified-size' } : resegmentAs(f, ctx, change.fallback);
    }
    if ('rejected' in r) {
      opts.onRetype?.({ before: f, after: f, rejected: r.rejected, ms: performance.now() - t1 });
      continue;
    }
    const seg: NoduleSegmentation = { ...r.seg, rulesType: f.seg.type };
    const after: T = { ...f, seg, measures: measureCandidate(ctx.iso, f.candidate, seg) };
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
  return retypeByModel(kept, ctx, option === true || option === undefined ? {} : option);
}
