/**
 * RECIST 1.1 (Eisenhauer EA, et al. "New response evaluation criteria in solid tumours: Revised RECIST
 * guideline (version 1.1)." Eur J Cancer 2009;45:228–247; §3.1 measurability, §4.3.1–4.3.2 target and
 * non-target response, §4.4 Table 1 / Table 2 overall response).
 *
 * - Measurable non-nodal lesion: longest diameter ≥ 10 mm on CT with slices ≤ 5 mm; with thicker slices the
 *   minimum is twice the slice thickness (§3.1.1) → minimum = max(10, 2 × slice thickness).
 * - Lymph nodes (short axis): ≥ 15 mm measurable; 10 to < 15 mm pathological but non-measurable; < 10 mm
 *   non-pathological (§3.1.1, §4.3.1).
 * - Target response: CR = all non-nodal targets gone and every nodal target < 10 mm short axis;
 *   PR = ≥ 30 % decrease from the baseline sum; PD = ≥ 20 % increase over the smallest sum on study
 *   (nadir, baseline included) AND ≥ 5 mm absolute increase; SD otherwise (§4.3.1). At most 5 targets,
 *   at most 2 per organ (§4.2).
 * - A target present but too small to measure gets 5 mm; one that has disappeared gets 0 mm (§ Appendix I).
 *
 * Interpretation choice: when the CR condition holds (non-nodal targets 0 mm, all nodes < 10 mm), the
 * target response is CR even if node fluctuations below 10 mm raise the sum by ≥ 20 % and ≥ 5 mm (nodes
 * < 10 mm are normal; RECIST 1.1 update and clarification, Schwartz LH et al., Eur J Cancer 2016;62:132–137).
 */
import { invalid, requireNonNegative, requireOneOf } from './validate.ts';

export type RecistTargetResponse = 'CR' | 'PR' | 'SD' | 'PD';

export interface RecistTargetLesion {
  id?: string;
  /** Organ label, used only to enforce "at most 2 targets per organ". */
  organ?: string;
  nodal: boolean;
  /** Longest diameter (non-nodal) or short axis (nodal) in mm; 0 when the lesion has disappeared. */
  diameterMm: number;
  /** Present but too small to measure: RECIST assigns 5 mm. */
  tooSmallToMeasure?: boolean;
}

export interface RecistTargetInput {
  baselineSumMm: number;
  /** Smallest sum recorded on study so far (baseline included); defaults to the baseline sum. */
  nadirSumMm?: number;
  current: readonly RecistTargetLesion[];
}

export interface RecistTargetResult {
  response: RecistTargetResponse;
  currentSumMm: number;
  /** Signed change from baseline, percent (negative = shrinkage). */
  changeFromBaselinePct: number;
  changeFromNadirPct: number | null;
  changeFromNadirMm: number;
  /** The nadir to carry to the next assessment. */
  nextNadirSumMm: number;
  reason: string;
}

const EPS = 1e-9;
export const RECIST_TOO_SMALL_MM = 5;

function effectiveDiameter(l: RecistTargetLesion, i: number): number {
  if (typeof l !== 'object' || l === null) throw invalid(`current[${i}]`, 'must be an object', l);
  if (typeof l.nodal !== 'boolean') throw invalid(`current[${i}].nodal`, 'must be a boolean', l.nodal);
  if (l.tooSmallToMeasure === true) return RECIST_TOO_SMALL_MM;
  return requireNonNegative(`current[${i}].diameterMm`, l.diameterMm);
}

export function recistTargetResponse(input: RecistTargetInput): RecistTargetResult {
  if (typeof input !== 'object' || input === null || !Array.isArray(input.current)) throw invalid('current', 'must be an array');
  const baseline = requireNonNegative('baselineSumMm', input.baselineSumMm, true);
  const nadir = input.nadirSumMm === undefined ? baseline : requireNonNegative('nadirSumMm', input.nadirSumMm);
  if (nadir > baseline + EPS) throw invalid('nadirSumMm', 'cannot exceed the baseline sum (the nadir includes baseline)', nadir);
  const lesions = input.current;
  if (lesions.length === 0) throw invalid('current', 'needs at least one target lesion', lesions);
  if (lesions.length > 5) throw invalid('current', 'RECIST 1.1 allows at most 5 target lesions', lesions.length);
  const perOrgan = new Map<string, number>();
  for (const l of lesions) {
    if (l.organ === undefined) continue;
    const n = (perOrgan.get(l.organ) ?? 0) + 1;
    if (n > 2) throw invalid('current', `RECIST 1.1 allows at most 2 target lesions per organ (${l.organ})`, l.organ);
    perOrgan.set(l.organ, n);
  }
  const diam = lesions.map(effectiveDiameter);
  const sum = diam.reduce((s, d) => s + d, 0);
  const changeMm = sum - nadir;
  const out = (response: RecistTargetResponse, reason: string): RecistTargetResult => ({
    response, currentSumMm: sum,
    changeFromBaselinePct: ((sum - baseline) / baseline) * 100,
    changeFromNadirPct: nadir > 0 ? (changeMm / nadir) * 100 : null,
    changeFromNadirMm: changeMm,
    nextNadirSumMm: Math.min(nadir, sum),
    reason,
  });
  const cr = lesions.every((l, i) => (l.nodal ? (diam[i] ?? 0) < 10 : diam[i] === 0));
  if (cr) return out('CR', 'all non-nodal targets disappeared and all nodal targets < 10 mm short axis');
  if (changeMm >= 0.2 * nadir - EPS && changeMm >= 5 - EPS) {
    return out('PD', '≥ 20 % and ≥ 5 mm increase of the sum over the nadir');
  }
  if (baseline - sum >= 0.3 * baseline - EPS) return out('PR', '≥ 30 % decrease of the sum from baseline');
  return out('SD', 'neither sufficient shrinkage for PR nor sufficient increase for PD');
}

export type RecistNonTargetResponse = 'CR' | 'non-CR/non-PD' | 'PD' | 'NE';
export type RecistOverallResponse = 'CR' | 'PR' | 'SD' | 'PD' | 'NE' | 'non-CR/non-PD';

/**
 * Overall response at one time point: Table 1 (with target lesions) and Table 2 (non-target only, target
 * 'none') of RECIST 1.1. nonTarget 'none' = the patient had no non-target lesions at baseline.
 */
export function recistOverallResponse(input: {
  target: RecistTargetResponse | 'NE' | 'none';
  nonTarget: RecistNonTargetResponse | 'none';
  newLesions: boolean;
}): RecistOverallResponse {
  const target = requireOneOf('target', input.target, ['CR', 'PR', 'SD', 'PD', 'NE', 'none'] as const);
  const nonTarget = requireOneOf('nonTarget', input.nonTarget, ['CR', 'non-CR/non-PD', 'PD', 'NE', 'none'] as const);
  if (typeof input.newLesions !== 'boolean') throw invalid('newLesions', 'must be a boolean', input.newLesions);
  if (target === 'none' && nonTarget === 'none') throw invalid('target', 'no target and no non-target lesions to assess');
  if (target === 'PD' || nonTarget === 'PD' || input.newLesions) return 'PD';
  if (target === 'none') return nonTarget === 'none' ? 'NE' : nonTarget; // Table 2
  switch (target) {
    case 'CR': return nonTarget === 'CR' || nonTarget === 'none' ? 'CR' : 'PR';
    case 'PR': return 'PR';
    case 'SD': return 'SD';
    case 'NE': return 'NE';
  }
}

export type RecistMeasurability = 'measurable' | 'non-measurable' | 'non-pathological-node';

export interface RecistMeasurabilityResult {
  status: RecistMeasurability;
  /** The threshold applied, mm. */
  minimumMm: number;
}

/** §3.1: measurability of a lesion on CT/MRI. `sizeMm` is the longest diameter, or the short axis for nodes. */
export function recistMeasurability(input: { nodal: boolean; sizeMm: number; sliceThicknessMm: number }): RecistMeasurabilityResult {
  if (typeof input.nodal !== 'boolean') throw invalid('nodal', 'must be a boolean', input.nodal);
  const size = requireNonNegative('sizeMm', input.sizeMm);
  const t = requireNonNegative('sliceThicknessMm', input.sliceThicknessMm, true);
  if (input.nodal) {
    if (size >= 15) return { status: 'measurable', minimumMm: 15 };
    if (size >= 10) return { status: 'non-measurable', minimumMm: 15 };
    return { status: 'non-pathological-node', minimumMm: 15 };
  }
  const minimumMm = Math.max(10, 2 * t);
  return { status: size >= minimumMm ? 'measurable' : 'non-measurable', minimumMm };
}
