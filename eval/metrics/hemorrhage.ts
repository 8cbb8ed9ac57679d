/**
 * Head-CT haemorrhage metrics, per case and per bleed.
 *
 * - Case level: a case is called positive when the analysis says so (`hasHemorrhage`); accuracy,
 *   sensitivity, specificity, and the false-positive cases among bleed-free cases.
 * - Bleed level: a found bleed matches a true one by the LUNA16 centre-within-radius rule, the radius
 *   being the true bleed's diameter / 2 (its equivalent-sphere diameter when no diameter is given);
 *   type accuracy over matched bleeds.
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
}

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
  readonly typeConfusion: ConfusionMatrix;
  readonly perCase: readonly HeadCaseRow[];
}

function bleedDiameter(b: BleedTruth): number {
  return b.diameterMm ?? equivalentDiameterMm(b.volumeMl * 1000);
}

export function computeHemorrhageMetrics(truth: readonly HeadCaseTruth[], predictions: readonly HeadCasePrediction[]): HemorrhageMetrics {
  const byCase = new Map(predictions.map((p) => [p.caseId, p]));
  const perCase: HeadCaseRow[] = [];
  const types: { truth: string; found: string }[] = [];
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
      const d = bleedDiameter(b);
      const hits = p.bleeds.filter((f) => isHit({ centerMm: b.centerMm, diameterMm: d }, f.centerMm)).sort((x, y) => y.probability - x.probability);
      const best = hits[0];
      if (!best) continue;
      matched++;
      if (best.type !== undefined) types.push({ truth: b.type, found: best.type });
    }
    bleedsTrue += t.bleeds.length;
    bleedsMatched += matched;

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
      bleedsTrue: t.bleeds.length, bleedsMatched: matched,
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
    perCase,
  };
}
