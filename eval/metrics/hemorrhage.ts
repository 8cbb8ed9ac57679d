/**
 * Head-CT haemorrhage metrics, per case and per bleed.
 *
 * - Case level: a case is called positive when the analysis says so (`hasHemorrhage`); accuracy,
 *   sensitivity, specificity, and the false-positive cases among bleed-free cases.
 * - Bleed level: a true bleed counts as detected when ANY found bleed's centre lies inside or near it. Bleeds
 *   are not spheres: an intraventricular bleed in both lateral ventricles is one true bleed (one centre, between
 *   the ventricles) that an analysis rightly reports as two components, one per ventricle, each centre ≈ 10–20 mm
 *   from the true one; a crescent's centre lies off its own voxels. So "near" is: inside the truth's extent box
 *   grown by NEAR_MM when the truth carries one (`extentMm`), else within the true bleed's radius (diameter / 2,
 *   its equivalent-sphere diameter when no diameter is given) + NEAR_MM of its centre. Every found bleed that
 *   touches a true one belongs to it (no double-detection penalty). Per-bleed type accuracy: the type of the
 *   most probable matching found bleed (the larger on a tie).
 * - Dominant type, per case: what a radiologist triages on. The case's dominant found type (the analysis's
 *   `measurements.hemorrhageType`) vs the type of the largest true bleed, over bleed cases called positive.
 * - Volume: per true-positive case, total found volume vs total true volume (%), with the ABC/2 estimate's
 *   error on the same cases beside it, so the segmentation is judged against the bedside method.
 * - Midline shift: absolute error (mm) on cases where both truth and analysis give one.
 */
import type { Vec3 } from '../../src/imaging/index.ts';
import { confusionMatrix, type ConfusionMatrix } from './nodules.ts';
import { isHit } from './match.ts';
import { equivalentDiameterMm, summarizeErrors, type ErrorSummary } from './stats.ts';

export interface BleedTruth {
  readonly id: string;
  readonly type: string;
  readonly volumeMl: number;
  readonly centerMm: Vec3;
  readonly diameterMm?: number;
  /** Axis-aligned LPS bounding box of the bleed's voxels, when the truth knows it. */
  readonly extentMm?: { readonly minMm: Vec3; readonly maxMm: Vec3 };
}

/** How far (mm) outside a true bleed a found centre may lie and still count as on it. */
export const NEAR_MM = 5;

export interface HeadCaseTruth {
  readonly caseId: string;
  readonly hasHemorrhage: boolean;
  readonly bleeds: readonly BleedTruth[];
  readonly midlineShiftMm?: number;
}

export interface BleedFound {
  readonly id?: string;
  readonly centerMm: Vec3;
  readonly probability: number;
  readonly type?: string;
  readonly volumeMl?: number;
}

export interface HeadCasePrediction {
  readonly caseId: string;
  readonly hasHemorrhage: boolean;
  readonly bleeds: readonly BleedFound[];
  /** Total segmented volume; the sum of the bleeds' volumes when absent. */
  readonly totalVolumeMl?: number;
  /** ABC/2 estimate of the total, when the analysis gives one. */
  readonly abc2VolumeMl?: number;
  readonly midlineShiftMm?: number;
  /** The case's dominant bleed type as the analysis reports it (e.g. measurements.hemorrhageType). */
  readonly dominantType?: string;
}

export interface HeadCaseRow {
  readonly caseId: string;
  readonly truthPositive: boolean;
  readonly predictedPositive: boolean;
  readonly truthVolumeMl: number;
  readonly foundVolumeMl: number | undefined;
  readonly volumeErrorPct: number | undefined;
  readonly abc2VolumeMl: number | undefined;
  readonly abc2ErrorPct: number | undefined;
  readonly midlineShiftErrorMm: number | undefined;
  readonly bleedsTrue: number;
  readonly bleedsMatched: number;
  /** Type of the largest true bleed; undefined without a bleed. */
  readonly truthType: string | undefined;
  /** The analysis's dominant type; undefined when it gives none. */
  readonly foundType: string | undefined;
}

export interface HemorrhageMetrics {
  readonly cases: number;
  readonly positives: number;
  readonly negatives: number;
  readonly accuracy: number;
  readonly sensitivity: number;
  readonly specificity: number;
  /** Bleed-free cases the analysis called positive. */
  readonly falsePositiveCases: readonly string[];
  readonly missedCases: readonly string[];
  readonly bleedSensitivity: number;
  readonly volumeErrorPct: ErrorSummary;
  readonly abc2ErrorPct: ErrorSummary;
  readonly midlineShiftAbsErrorMm: ErrorSummary;
  /** Per true bleed: type of its best matching found bleed (rows truth, columns found). */
  readonly typeConfusion: ConfusionMatrix;
  /** Per case: dominant found type vs the largest true bleed's type, over bleed cases called positive. */
  readonly caseTypeConfusion: ConfusionMatrix;
  readonly perCase: readonly HeadCaseRow[];
}

function bleedDiameter(b: BleedTruth): number {
  return b.diameterMm ?? equivalentDiameterMm(b.volumeMl * 1000);
}

/** Whether a found centre lies inside or within NEAR_MM of a true bleed (see the header). */
export function isOnBleed(b: BleedTruth, centerMm: Vec3): boolean {
  if (b.extentMm) {
    const { minMm, maxMm } = b.extentMm;
    let d2 = 0;
    for (let a = 0; a < 3; a++) {
      const lo = Math.min(minMm[a] as number, maxMm[a] as number), hi = Math.max(minMm[a] as number, maxMm[a] as number);
      const c = centerMm[a] as number;
      const out = c < lo ? lo - c : c > hi ? c - hi : 0;
      d2 += out * out;
    }
    return d2 <= NEAR_MM * NEAR_MM;
  }
  return isHit({ centerMm: b.centerMm, diameterMm: bleedDiameter(b) + 2 * NEAR_MM }, centerMm);
}

export function computeHemorrhageMetrics(truth: readonly HeadCaseTruth[], predictions: readonly HeadCasePrediction[]): HemorrhageMetrics {
  const byCase = new Map(predictions.map((p) => [p.caseId, p]));
  const perCase: HeadCaseRow[] = [];
  const types: { truth: string; found: string }[] = [];
  const caseTypes: { truth: string; found: string }[] = [];
  let tp = 0, tn = 0, bleedsTrue = 0, bleedsMatched = 0;
  const fpCases: string[] = [];
  const missed: string[] = [];
  for (const t of truth) {
    // A case the analysis produced nothing for counts as called negative.
    const p = byCase.get(t.caseId) ?? { caseId: t.caseId, hasHemorrhage: false, bleeds: [] };
    if (t.hasHemorrhage && p.hasHemorrhage) tp++;
    else if (!t.hasHemorrhage && !p.hasHemorrhage) tn++;
    else if (p.hasHemorrhage) fpCases.push(t.caseId);
    else missed.push(t.caseId);

    let matched = 0;
    for (const b of t.bleeds) {
      const hits = p.bleeds.filter((f) => isOnBleed(b, f.centerMm)).sort((x, y) => y.probability - x.probability || (y.volumeMl ?? 0) - (x.volumeMl ?? 0));
      const best = hits[0];
      if (!best) continue;
      matched++;
      if (best.type !== undefined) types.push({ truth: b.type, found: best.type });
    }
    bleedsTrue += t.bleeds.length;
    bleedsMatched += matched;
    const largest = t.bleeds.reduce<BleedTruth | undefined>((a, b) => (a === undefined || b.volumeMl > a.volumeMl ? b : a), undefined);
    const truthType = t.hasHemorrhage ? largest?.type : undefined;
    const foundType = p.hasHemorrhage ? p.dominantType : undefined;
    if (truthType !== undefined && foundType !== undefined) caseTypes.push({ truth: truthType, found: foundType });

    const truthVolumeMl = t.bleeds.reduce((a, b) => a + b.volumeMl, 0);
    const summed = p.bleeds.some((b) => b.volumeMl !== undefined) ? p.bleeds.reduce((a, b) => a + (b.volumeMl ?? 0), 0) : undefined;
    const foundVolumeMl = p.totalVolumeMl ?? summed;
    const both = t.hasHemorrhage && p.hasHemorrhage && truthVolumeMl > 0;
    const pct = (v: number | undefined) => (both && v !== undefined ? (100 * (v - truthVolumeMl)) / truthVolumeMl : undefined);
    perCase.push({
      caseId: t.caseId, truthPositive: t.hasHemorrhage, predictedPositive: p.hasHemorrhage,
      truthVolumeMl, foundVolumeMl, volumeErrorPct: pct(foundVolumeMl),
      abc2VolumeMl: p.abc2VolumeMl, abc2ErrorPct: pct(p.abc2VolumeMl),
      midlineShiftErrorMm: t.midlineShiftMm !== undefined && p.midlineShiftMm !== undefined ? Math.abs(p.midlineShiftMm - t.midlineShiftMm) : undefined,
      bleedsTrue: t.bleeds.length, bleedsMatched: matched, truthType, foundType,
    });
  }
  const positives = truth.filter((t) => t.hasHemorrhage).length;
  const negatives = truth.length - positives;
  return {
    cases: truth.length,
    positives,
    negatives,
    accuracy: truth.length === 0 ? NaN : (tp + tn) / truth.length,
    sensitivity: positives === 0 ? NaN : tp / positives,
    specificity: negatives === 0 ? NaN : tn / negatives,
    falsePositiveCases: fpCases,
    missedCases: missed,
    bleedSensitivity: bleedsTrue === 0 ? NaN : bleedsMatched / bleedsTrue,
    volumeErrorPct: summarizeErrors(perCase.map((r) => r.volumeErrorPct ?? NaN)),
    abc2ErrorPct: summarizeErrors(perCase.map((r) => r.abc2ErrorPct ?? NaN)),
    midlineShiftAbsErrorMm: summarizeErrors(perCase.map((r) => r.midlineShiftErrorMm ?? NaN)),
    typeConfusion: confusionMatrix(types),
    caseTypeConfusion: confusionMatrix(caseTypes),
    perCase,
  };
}
