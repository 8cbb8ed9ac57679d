/**
 * Brock University / PanCan probability of malignancy of a lung nodule — the FULL model with spiculation
 * ("model 2b") of McWilliams A, et al. "Probability of Cancer in Pulmonary Nodules Detected on First
 * Screening CT." N Engl J Med 2013;369:910–919, Supplementary Appendix (logistic-regression coefficients).
 *
 *   logit = 0.0287·(age − 62) + 0.6011·female + 0.2961·family history + 0.2953·emphysema
 *           − 5.3854·((size/10)^−0.5 − 1.58113883) − 0.1276·non-solid + 0.377·part-solid
 *           + 0.6581·upper lobe − 0.0824·(nodule count − 4) + 0.7729·spiculation − 6.7892
 *   p = 1 / (1 + e^−logit)
 *
 * The centring (age 62, size 4 mm since 1.58113883 = (4/10)^−0.5, four nodules) makes the constant the
 * logit of the reference nodule. Worked example (tested): 62-year-old man, 10 mm solid spiculated
 * upper-lobe nodule, one nodule, no family history or emphysema → 12.1 %.
 *
 * Choices (docs/clinical-sources.md): nodule size is the nodule's maximum diameter in mm as measured in
 * PanCan; family history, emphysema, upper lobe and spiculation may be unknown (null/undefined) — they are
 * then set to "absent", listed in `assumptions`, and `probabilityIfUnknownsPresent` gives the upper bound.
 * Age, sex, size, type and count are required. Inputs outside the development cohort (age 50–75, size
 * 1–30 mm) are computed but flagged in `warnings` (extrapolation).
 */
import { invalid, optionalBoolean, requireInteger, requireNonNegative, requireOneOf } from './validate.ts';

export type BrockNoduleType = 'solid' | 'part-solid' | 'non-solid';

export interface BrockInput {
  ageYears: number;
  sex: 'male' | 'female';
  familyHistoryLungCancer?: boolean | null;
  /** Emphysema on the CT. */
  emphysema?: boolean | null;
  /** Maximum nodule diameter in mm. */
  noduleSizeMm: number;
  /** 'non-solid' = pure ground-glass; 'ground-glass' is accepted as a synonym. */
  noduleType: BrockNoduleType | 'ground-glass';
  upperLobe?: boolean | null;
  /** Number of nodules on the scan (≥ 1). */
  noduleCount: number;
  spiculation?: boolean | null;
}

export interface BrockAssumption {
  input: 'familyHistoryLungCancer' | 'emphysema' | 'upperLobe' | 'spiculation';
  assumed: false;
  note: string;
}

export interface BrockResult {
  model: 'PanCan full model with spiculation (McWilliams 2013, model 2b)';
  /** Probability of malignancy, 0..1. */
  probability: number;
  logit: number;
  assumptions: BrockAssumption[];
  /** Probability if every unknown binary input were present (equals `probability` when none is unknown). */
  probabilityIfUnknownsPresent: number;
  warnings: string[];
}

/** Coefficients of the full model with spiculation (Supplementary Appendix, McWilliams et al. 2013). */
export const BROCK_FULL_MODEL = {
  age: 0.0287, ageCentre: 62,
  female: 0.6011,
  familyHistory: 0.2961,
  emphysema: 0.2953,
  size: -5.3854, sizeCentre: 1.58113883,
  nonSolid: -0.1276,
  partSolid: 0.377,
  upperLobe: 0.6581,
  noduleCount: -0.0824, countCentre: 4,
  spiculation: 0.7729,
  constant: -6.7892,
} as const;

const logistic = (x: number): number => 1 / (1 + Math.exp(-x));

const BINARY = ['familyHistoryLungCancer', 'emphysema', 'upperLobe', 'spiculation'] as const;

export function brockProbability(input: BrockInput): BrockResult {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object', input);
  const c = BROCK_FULL_MODEL;
  const age = requireNonNegative('ageYears', input.ageYears, true);
  if (age > 120) throw invalid('ageYears', 'must be ≤ 120', age);
  const sex = requireOneOf('sex', input.sex, ['male', 'female'] as const);
  const size = requireNonNegative('noduleSizeMm', input.noduleSizeMm, true);
  const type = requireOneOf('noduleType', input.noduleType, ['solid', 'part-solid', 'non-solid', 'ground-glass'] as const);
  const count = requireInteger('noduleCount', input.noduleCount, 1);

  const assumptions: BrockAssumption[] = [];
  const known: Record<(typeof BINARY)[number], boolean | undefined> = {
    familyHistoryLungCancer: optionalBoolean('familyHistoryLungCancer', input.familyHistoryLungCancer),
    emphysema: optionalBoolean('emphysema', input.emphysema),
    upperLobe: optionalBoolean('upperLobe', input.upperLobe),
    spiculation: optionalBoolean('spiculation', input.spiculation),
  };
  for (const k of BINARY) {
    if (known[k] === undefined) assumptions.push({ input: k, assumed: false, note: `${k} unknown: assumed absent` });
  }

  const fixed = c.age * (age - c.ageCentre) +
    (sex === 'female' ? c.female : 0) +
    c.size * ((size / 10) ** -0.5 - c.sizeCentre) +
    (type === 'non-solid' || type === 'ground-glass' ? c.nonSolid : type === 'part-solid' ? c.partSolid : 0) +
    c.noduleCount * (count - c.countCentre) +
    c.constant;
  const binary = (unknownAs: boolean): number => {
    const v = (k: (typeof BINARY)[number]): boolean => known[k] ?? unknownAs;
    return (v('familyHistoryLungCancer') ? c.familyHistory : 0) + (v('emphysema') ? c.emphysema : 0) +
      (v('upperLobe') ? c.upperLobe : 0) + (v('spiculation') ? c.spiculation : 0);
  };
  const logit = fixed + binary(false);

  const warnings: string[] = [];
  if (age < 50 || age > 75) warnings.push(`age ${age} outside the PanCan development cohort (50–75 years): extrapolation`);
  if (size < 1 || size > 30) warnings.push(`nodule size ${size} mm outside 1–30 mm: extrapolation`);
  return {
    model: 'PanCan full model with spiculation (McWilliams 2013, model 2b)',
    probability: logistic(logit),
    logit,
    assumptions,
    probabilityIfUnknownsPresent: logistic(fixed + binary(true)),
    warnings,
  };
}
