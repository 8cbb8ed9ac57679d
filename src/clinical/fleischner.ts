/**
 * Fleischner Society 2017 guidelines for incidental pulmonary nodules (MacMahon H, et al. "Guidelines for
 * Management of Incidental Pulmonary Nodules Detected on CT Images: From the Fleischner Society 2017".
 * Radiology 2017;284(1):228–243, Table 1 and its notes).
 *
 * Scope (Table 1 note): adults ≥ 35 years with incidental nodules; not lung-cancer screening, not patients
 * with a known primary cancer, not immunocompromised patients. Out-of-scope inputs give `applicable: false`.
 *
 * Size: average of long and short axis, rounded to the nearest millimetre (Table 1 note), so "6–8 mm" means
 * a rounded 6, 7 or 8 and "> 8 mm" a rounded ≥ 9; 5.5 mm rounds to 6. For multiple nodules the size and
 * type are those of the largest / most suspicious nodule (the table's note: manage by the most suspicious).
 *
 * Interpretation choice — risk 'unknown': the paper defines low and high risk but not "unknown". We give
 * the HIGH-risk recommendation as the primary text (the conservative choice) and return both variants in
 * `byRisk`, so a report can show both. Subsolid rows do not depend on risk.
 */
import { invalid, optionalBoolean, requireNonNegative, requireOneOf, roundTo } from './validate.ts';

export type FleischnerNoduleType = 'solid' | 'part-solid' | 'ground-glass';
export type FleischnerRisk = 'low' | 'high' | 'unknown';

export interface FleischnerInput {
  type: FleischnerNoduleType;
  /** Mean of long and short axis in mm (rounded to the nearest mm here). */
  sizeMm: number;
  multiple: boolean;
  risk: FleischnerRisk;
  /** Solid component mean diameter, part-solid only (flags a persistent solid component ≥ 6 mm). */
  solidComponentMm?: number;
  /** Applicability: the guideline is for adults ≥ 35 years. */
  ageYears?: number;
  lungCancerScreening?: boolean;
  knownPrimaryCancer?: boolean;
  immunocompromised?: boolean;
}

export interface FollowUpInterval {
  /** First follow-up CT window in months after this CT. */
  minMonths: number;
  maxMonths: number;
}

export interface FleischnerRecommendation {
  applicable: boolean;
  /** Why the guideline does not apply (when `applicable` is false). */
  notApplicableReason?: string;
  /** Table row used, e.g. "solid, single, 6–8 mm". */
  row: string;
  roundedSizeMm: number;
  recommendation: string;
  /** First follow-up CT; null when none is routinely recommended. */
  followUp: FollowUpInterval | null;
  /** Whether the first follow-up is optional / "consider" rather than recommended. */
  followUpOptional: boolean;
  /** Risk-dependent rows: the text for each risk level. Absent for rows that do not depend on risk. */
  byRisk?: { low: string; high: string };
  notes: string[];
}

interface Row { text: string; followUp: FollowUpInterval | null; optional: boolean }
const iv = (minMonths: number, maxMonths: number): FollowUpInterval => ({ minMonths, maxMonths });

// Table 1, solid nodules.
const SOLID = {
  single: {
    small: {
      low: { text: 'No routine follow-up', followUp: null, optional: false },
      high: { text: 'Optional CT at 12 months', followUp: iv(12, 12), optional: true },
    },
    mid: {
      low: { text: 'CT at 6–12 months, then consider CT at 18–24 months', followUp: iv(6, 12), optional: false },
      high: { text: 'CT at 6–12 months, then CT at 18–24 months', followUp: iv(6, 12), optional: false },
    },
    large: {
      low: { text: 'Consider CT at 3 months, PET/CT, or tissue sampling', followUp: iv(3, 3), optional: true },
      high: { text: 'Consider CT at 3 months, PET/CT, or tissue sampling', followUp: iv(3, 3), optional: true },
    },
  },
  multiple: {
    small: {
      low: { text: 'No routine follow-up', followUp: null, optional: false },
      high: { text: 'Optional CT at 12 months', followUp: iv(12, 12), optional: true },
    },
    mid: {
      low: { text: 'CT at 3–6 months, then consider CT at 18–24 months', followUp: iv(3, 6), optional: false },
      high: { text: 'CT at 3–6 months, then at 18–24 months', followUp: iv(3, 6), optional: false },
    },
    large: {
      low: { text: 'CT at 3–6 months, then consider CT at 18–24 months', followUp: iv(3, 6), optional: false },
      high: { text: 'CT at 3–6 months, then consider CT at 18–24 months', followUp: iv(3, 6), optional: false },
    },
  },
} as const satisfies Record<string, Record<string, Record<'low' | 'high', Row>>>;

// Table 1, subsolid nodules.
const SUBSOLID = {
  'ground-glass': {
    small: { text: 'No routine follow-up', followUp: null, optional: false },
    large: { text: 'CT at 6–12 months to confirm persistence, then CT every 2 years until 5 years', followUp: iv(6, 12), optional: false },
  },
  'part-solid': {
    small: { text: 'No routine follow-up', followUp: null, optional: false },
    large: {
      text: 'CT at 3–6 months to confirm persistence. If unchanged and solid component remains < 6 mm, annual CT should be performed for 5 years',
      followUp: iv(3, 6), optional: false,
    },
  },
  multiple: {
    small: { text: 'CT at 3–6 months. If stable, consider CT at 2 and 4 years', followUp: iv(3, 6), optional: false },
    large: { text: 'CT at 3–6 months. Subsequent management based on the most suspicious nodule(s)', followUp: iv(3, 6), optional: false },
  },
} as const satisfies Record<string, Record<'small' | 'large', Row>>;

function notApplicable(input: FleischnerInput): string | null {
  const age = input.ageYears;
  if (age !== undefined && requireNonNegative('ageYears', age) < 35) return 'patient younger than 35 years';
  if (optionalBoolean('lungCancerScreening', input.lungCancerScreening) === true) return 'lung cancer screening (use Lung-RADS)';
  if (optionalBoolean('knownPrimaryCancer', input.knownPrimaryCancer) === true) return 'patient with a known primary cancer';
  if (optionalBoolean('immunocompromised', input.immunocompromised) === true) return 'immunocompromised patient';
  return null;
}

/** Fleischner 2017 recommendation for an incidental nodule (or the dominant one of several). */
export function fleischnerRecommendation(input: FleischnerInput): FleischnerRecommendation {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object', input);
  const type = requireOneOf('type', input.type, ['solid', 'part-solid', 'ground-glass'] as const);
  const risk = requireOneOf('risk', input.risk, ['low', 'high', 'unknown'] as const);
  if (typeof input.multiple !== 'boolean') throw invalid('multiple', 'must be a boolean', input.multiple);
  const size = roundTo(requireNonNegative('sizeMm', input.sizeMm, true), 0);
  const solidMm = input.solidComponentMm === undefined ? undefined : requireNonNegative('solidComponentMm', input.solidComponentMm);
  if (solidMm !== undefined && type !== 'part-solid') throw invalid('solidComponentMm', 'only applies to part-solid nodules', solidMm);
  if (solidMm !== undefined && solidMm > input.sizeMm) throw invalid('solidComponentMm', 'exceeds the nodule size', solidMm);
  const notes: string[] = [];
  const count = input.multiple ? 'multiple' : 'single';

  const reason = notApplicable(input);
  if (reason !== null) {
    return {
      applicable: false, notApplicableReason: reason, row: 'not applicable', roundedSizeMm: size,
      recommendation: `Fleischner 2017 guidelines do not apply: ${reason}`, followUp: null, followUpOptional: false, notes,
    };
  }

  if (type === 'solid') {
    const band = size < 6 ? 'small' : size <= 8 ? 'mid' : 'large';
    const label = { small: '< 6 mm', mid: '6–8 mm', large: '> 8 mm' }[band];
    const rows = SOLID[count][band];
    const chosen: Row = risk === 'low' ? rows.low : rows.high;
    if (risk === 'unknown') notes.push('Risk unknown: the high-risk recommendation is given; see byRisk for the low-risk one');
    if (band === 'small' && !input.multiple && risk !== 'low') {
      notes.push('Certain high-risk patients with suspicious nodule morphology, upper lobe location, or both may warrant 12-month follow-up');
    }
    return {
      applicable: true, row: `solid, ${count}, ${label}`, roundedSizeMm: size, recommendation: chosen.text,
      followUp: chosen.followUp, followUpOptional: chosen.optional,
      byRisk: { low: rows.low.text, high: rows.high.text }, notes,
    };
  }

  const band = size < 6 ? 'small' : 'large';
  const label = band === 'small' ? '< 6 mm' : '≥ 6 mm';
  const chosen: Row = input.multiple ? SUBSOLID.multiple[band] : SUBSOLID[type][band];
  if (!input.multiple && band === 'small') {
    notes.push(type === 'ground-glass'
      ? 'In certain suspicious nodules < 6 mm, consider follow-up at 2 and 4 years'
      : 'In practice, part-solid nodules cannot be defined as such until ≥ 6 mm; nodules < 6 mm do not usually require follow-up');
  }
  if (type === 'part-solid' && solidMm !== undefined && roundTo(solidMm, 0) >= 6) {
    notes.push('A persistent part-solid nodule with a solid component ≥ 6 mm should be considered highly suspicious');
  }
  return {
    applicable: true,
    row: `${input.multiple ? 'subsolid' : type === 'ground-glass' ? 'ground-glass' : 'part-solid'}, ${count}, ${label}`,
    roundedSizeMm: size, recommendation: chosen.text, followUp: chosen.followUp, followUpOptional: chosen.optional, notes,
  };
}
