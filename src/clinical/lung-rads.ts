/**
 * Lung-RADS® v2022 (American College of Radiology, "Lung-RADS® v2022", released November 2022; assessment
 * categories table + notes) for one lung-cancer-screening low-dose CT.
 *
 * Sizes are the mean of the long and short axis measured on lung windows, rounded to one decimal (v2022
 * note on size); thresholds are applied to that rounded value, so 5.95 mm → 6.0 mm → the "≥ 6 mm" row.
 * Growth is an increase in mean diameter > 1.5 mm within 12 months (v2022 note on growth); the caller says
 * whether a nodule is new / growing / stable — `lungRadsGrowthStatus` in growth.ts derives it from two
 * measurements.
 *
 * Interpretation choices (each tested in lung-rads.test.ts, listed in docs/clinical-sources.md):
 *  - Category 0 (exam-level incompleteness, or a finding flagged inflammatory/infectious) overrides the
 *    exam category: the exam cannot be finalised; per-finding categories are still reported.
 *  - New part-solid nodule: total < 6 mm → 3 is applied before the solid-component rows (as at baseline,
 *    the total size decides first).
 *  - Growing GGN ≥ 30 mm (> 1.5 mm in 12 months) is not listed in the table; we assign 3 (as "new").
 *  - "Slowly growing" (growth over several screens that never exceeds 1.5 mm in 12 months): GGN → 2 as
 *    the table says; solid and part-solid nodules → the "growing" rows (v2022 regards slow growth of solid
 *    tissue as suspicious — the conservative reading).
 *  - Part-solid nodule whose ground-glass part alone grew: baseline size thresholds are applied to the new
 *    size (note: thresholds apply to nodules "that grow and reach a higher size category").
 *  - Stable/decreased follow-up needs the prior category (stepped management: 4A → 3, 3 → 2, 2 → 2);
 *    a stable 4B/4X stays 4B/4X unless proven benign (→ 2). Stable GGNs are 2 whatever the prior.
 *  - Thin-walled unilocular cysts are not atypical cysts: they do not raise the category (reported as 1).
 *  - Exam ties are broken by the larger solid component, then by the larger mean diameter.
 */
import { invalid, optionalBoolean, requireNonNegative, requireOneOf, roundTo } from './validate.ts';

export type LungRadsCategory = '0' | '1' | '2' | '3' | '4A' | '4B' | '4X';
export type LungRadsNoduleType = 'solid' | 'part-solid' | 'ground-glass' | 'calcified' | 'fat-containing';
export type LungRadsStatus = 'baseline' | 'new' | 'growing' | 'slowly-growing' | 'stable' | 'decreased';

interface FindingCommon {
  id?: string;
  /** Additional features or imaging findings that increase the suspicion of lung cancer (→ 4X for 3/4). */
  suspiciousFeatures?: boolean;
  /** Category given to this finding on the previous exam; required for stable/decreased follow-up. */
  priorCategory?: LungRadsCategory;
  /** A 4B/4X finding proven benign after diagnostic work-up (→ 2). */
  provenBenign?: boolean;
}

export interface LungRadsNoduleInput extends FindingCommon {
  kind?: 'nodule';
  /** 'calcified' = benign pattern (complete, central, popcorn, concentric rings); both it and fat → 1. */
  type: LungRadsNoduleType;
  /** Mean diameter (long + short axis)/2 in mm; not needed for calcified / fat-containing. */
  meanDiameterMm?: number;
  /** Mean diameter of the solid component (part-solid only). */
  solidComponentMm?: number;
  status?: LungRadsStatus;
  /** For part-solid 'growing': which part grew (default 'solid' = new or growing solid component). */
  growthComponent?: 'solid' | 'ground-glass';
  /** Juxtapleural (incl. perifissural) solid nodule with smooth margins, oval/lentiform/triangular shape. */
  juxtapleuralBenign?: boolean;
  /** Findings suggestive of an inflammatory or infectious process (→ 0, 1–3 month LDCT). */
  inflammatoryOrInfectious?: boolean;
}

export interface LungRadsAirwayInput extends FindingCommon {
  kind: 'airway';
  level: 'subsegmental' | 'segmental-or-proximal';
  /** 'stable' or 'growing' means persisting at the follow-up CT. */
  status: 'baseline' | 'new' | 'stable' | 'growing';
}

export interface LungRadsCystInput extends FindingCommon {
  kind: 'cyst';
  /** Thick = wall ≥ 2 mm or irregular / nodular wall. */
  wall: 'thin' | 'thick';
  multilocular: boolean;
  status: 'baseline' | 'new' | 'follow-up';
  /** Changes since the prior exam (status 'follow-up'). */
  cysticComponentGrowing?: boolean;
  becameMultilocular?: boolean;
  wallThickeningOrNodularityGrowing?: boolean;
  increasedLoculation?: boolean;
  newOrIncreasedOpacity?: boolean;
}

export type LungRadsFinding = LungRadsNoduleInput | LungRadsAirwayInput | LungRadsCystInput;

export interface LungRadsExamInput {
  findings: readonly LungRadsFinding[];
  /** Exam-level reasons for category 0. */
  incomplete?: 'comparison-pending' | 'lungs-not-evaluable' | 'inflammatory-infectious';
  /** Modifier S: clinically significant or potentially significant non-lung-cancer findings. */
  significantOtherFindings?: boolean;
}

export interface MalignancyProbability {
  text: string;
  /** Bounds in 0..1; null where the category has no estimate (0) or the range is open. */
  min: number | null;
  max: number | null;
}

export interface LungRadsFindingResult {
  index: number;
  id?: string;
  category: LungRadsCategory;
  /** Which v2022 row produced the category. */
  rule: string;
  roundedMeanDiameterMm?: number;
  roundedSolidComponentMm?: number;
}

export interface LungRadsResult {
  category: LungRadsCategory;
  /** Category with the S modifier appended when present, e.g. "4A S". */
  label: string;
  sModifier: boolean;
  descriptor: string;
  /** Index into `findings` of the finding that sets the exam category, or null. */
  drivingIndex: number | null;
  drivingId?: string;
  management: string;
  probabilityOfMalignancy: MalignancyProbability;
  findings: LungRadsFindingResult[];
  notes: string[];
}

const RANK: Record<LungRadsCategory, number> = { '0': -1, '1': 1, '2': 2, '3': 3, '4A': 4, '4B': 5, '4X': 6 };
const CATEGORIES = Object.keys(RANK) as LungRadsCategory[];

const DESCRIPTOR: Record<LungRadsCategory, string> = {
  '0': 'Incomplete', '1': 'Negative', '2': 'Benign appearance or behavior', '3': 'Probably benign',
  '4A': 'Suspicious', '4B': 'Very suspicious', '4X': 'Very suspicious',
};

/** v2022 "Probability of malignancy" column. */
export const LUNG_RADS_MALIGNANCY: Record<LungRadsCategory, MalignancyProbability> = {
  '0': { text: 'n/a', min: null, max: null },
  '1': { text: '<1%', min: 0, max: 0.01 },
  '2': { text: '<1%', min: 0, max: 0.01 },
  '3': { text: '1–2%', min: 0.01, max: 0.02 },
  '4A': { text: '5–15%', min: 0.05, max: 0.15 },
  '4B': { text: '>15%', min: 0.15, max: null },
  '4X': { text: '>15%', min: 0.15, max: null },
};

const PET_CLAUSE = 'PET/CT may be considered if there is a ≥ 8 mm (≥ 268 mm³) solid nodule or solid component';
const WORKUP_4B = 'Diagnostic chest CT with or without contrast; PET/CT may be considered if there is a ≥ 8 mm (≥ 268 mm³) ' +
  'solid nodule or solid component; tissue sampling; and/or referral for further clinical evaluation. ' +
  'Management depends on clinical evaluation, patient preference, and risk of malignancy';

const STATUSES: readonly LungRadsStatus[] = ['baseline', 'new', 'growing', 'slowly-growing', 'stable', 'decreased'];

interface Scored { category: LungRadsCategory; rule: string; d?: number; s?: number }

/** Stepped management (v2022): a 4A stable at 3 months → 3; a 3 stable at 6 months → 2. */
function stepped(f: FindingCommon, index: number, allow4A: boolean): Scored {
  const prior = f.priorCategory;
  if (prior === undefined) throw invalid(`findings[${index}].priorCategory`, 'is required for a stable/decreased finding (stepped management)');
  requireOneOf(`findings[${index}].priorCategory`, prior, CATEGORIES);
  switch (prior) {
    case '0': throw invalid(`findings[${index}].priorCategory`, 'a finding persisting after category 0 must be re-categorised as baseline or new', prior);
    case '1': case '2': return { category: '2', rule: 'stable finding previously category 2' };
    case '3': return { category: '2', rule: 'category 3 finding stable or decreased at follow-up → 2' };
    case '4A':
      if (!allow4A) throw invalid(`findings[${index}].priorCategory`, 'airway nodules do not step down from 4A', prior);
      return { category: '3', rule: 'category 4A finding stable or decreased at 3-month follow-up → 3' };
    case '4B': case '4X':
      return f.provenBenign === true
        ? { category: '2', rule: `category ${prior} finding proven benign after work-up → 2` }
        : { category: prior, rule: `category ${prior} finding stable, not proven benign: stays ${prior}` };
  }
}

function scoreNodule(n: LungRadsNoduleInput, i: number): Scored {
  const type = requireOneOf(`findings[${i}].type`, n.type, ['solid', 'part-solid', 'ground-glass', 'calcified', 'fat-containing'] as const);
  if (type === 'calcified') return { category: '1', rule: 'benign pattern of calcification' };
  if (type === 'fat-containing') return { category: '1', rule: 'fat-containing nodule' };
  const status = requireOneOf(`findings[${i}].status`, n.status, STATUSES);
  const d = roundTo(requireNonNegative(`findings[${i}].meanDiameterMm`, n.meanDiameterMm, true), 1);
  if (optionalBoolean(`findings[${i}].inflammatoryOrInfectious`, n.inflammatoryOrInfectious) === true) {
    return { category: '0', rule: 'findings suggestive of an inflammatory or infectious process', d };
  }
  if (type === 'solid') {
    if (n.juxtapleuralBenign === true && (status === 'baseline' || status === 'new') && d < 10) {
      return { category: '2', rule: 'juxtapleural solid nodule < 10 mm with benign features', d, s: d };
    }
    const r = (category: LungRadsCategory, rule: string): Scored => ({ category, rule: `solid ${rule}`, d, s: d });
    switch (status) {
      case 'baseline':
        if (d < 6) return r('2', '< 6 mm at baseline');
        if (d < 8) return r('3', '≥ 6 to < 8 mm at baseline');
        if (d < 15) return r('4A', '≥ 8 to < 15 mm at baseline');
        return r('4B', '≥ 15 mm at baseline');
      case 'new':
        if (d < 4) return r('2', 'new < 4 mm');
        if (d < 6) return r('3', 'new 4 to < 6 mm');
        if (d < 8) return r('4A', 'new 6 to < 8 mm');
        return r('4B', 'new ≥ 8 mm');
      case 'growing': case 'slowly-growing':
        return d < 8 ? r('4A', 'growing < 8 mm') : r('4B', 'growing ≥ 8 mm');
      case 'stable': case 'decreased':
        return { ...stepped(n, i, true), d, s: d };
    }
  }
  if (type === 'part-solid') {
    const s = roundTo(requireNonNegative(`findings[${i}].solidComponentMm`, n.solidComponentMm, true), 1);
    if (s > d) throw invalid(`findings[${i}].solidComponentMm`, 'exceeds the total mean diameter', n.solidComponentMm);
    const r = (category: LungRadsCategory, rule: string): Scored => ({ category, rule: `part-solid ${rule}`, d, s });
    const baseline = (): Scored => {
      if (d < 6) return r('2', 'total < 6 mm at baseline');
      if (s < 6) return r('3', 'total ≥ 6 mm with solid component < 6 mm');
      if (s < 8) return r('4A', 'solid component ≥ 6 to < 8 mm');
      return r('4B', 'solid component ≥ 8 mm');
    };
    const grownSolid = (what: string): Scored =>
      s < 4 ? r('4A', `${what} < 4 mm solid component`) : r('4B', `${what} ≥ 4 mm solid component`);
    switch (status) {
      case 'baseline': return baseline();
      case 'new': return d < 6 ? r('3', 'new, total < 6 mm') : grownSolid('new,');
      case 'growing': case 'slowly-growing':
        if (n.growthComponent === 'ground-glass') {
          const b = baseline();
          return { ...b, rule: `${b.rule} (ground-glass component grew; size thresholds re-applied)` };
        }
        return grownSolid('new or growing');
      case 'stable': case 'decreased':
        return { ...stepped(n, i, true), d, s };
    }
  }
  // ground-glass
  const r = (category: LungRadsCategory, rule: string): Scored => ({ category, rule: `non-solid (GGN) ${rule}`, d });
  switch (status) {
    case 'baseline': case 'new': case 'growing':
      return d < 30 ? r('2', `< 30 mm, ${status}`) : r('3', `≥ 30 mm, ${status}`);
    case 'slowly-growing': case 'stable': case 'decreased':
      return r('2', `${d < 30 ? '< 30' : '≥ 30'} mm, ${status}`);
  }
}

function scoreAirway(a: LungRadsAirwayInput, i: number): Scored {
  const level = requireOneOf(`findings[${i}].level`, a.level, ['subsegmental', 'segmental-or-proximal'] as const);
  const status = requireOneOf(`findings[${i}].status`, a.status, ['baseline', 'new', 'stable', 'growing'] as const);
  if (level === 'subsegmental') {
    if (status === 'growing') {
      throw invalid(`findings[${i}].status`, 'Lung-RADS v2022 lists subsegmental airway nodules only at baseline, new or stable', status);
    }
    return { category: '2', rule: `subsegmental airway nodule, ${status}` };
  }
  return status === 'baseline' || status === 'new'
    ? { category: '4A', rule: `segmental or more proximal airway nodule, ${status}` }
    : { category: '4B', rule: `segmental or more proximal airway nodule, ${status} at follow-up` };
}

function scoreCyst(c: LungRadsCystInput, i: number): Scored {
  const wall = requireOneOf(`findings[${i}].wall`, c.wall, ['thin', 'thick'] as const);
  const status = requireOneOf(`findings[${i}].status`, c.status, ['baseline', 'new', 'follow-up'] as const);
  if (typeof c.multilocular !== 'boolean') throw invalid(`findings[${i}].multilocular`, 'must be a boolean', c.multilocular);
  const multi = c.multilocular;
  const thick = wall === 'thick';
  const r = (category: LungRadsCategory, rule: string): Scored => ({ category, rule: `atypical pulmonary cyst: ${rule}` });
  if ((thick || multi) && c.wallThickeningOrNodularityGrowing === true) return r('4B', 'growing wall thickness/nodularity');
  if (multi && c.cysticComponentGrowing === true) return r('4B', 'growing multilocular cyst');
  if (multi && (c.increasedLoculation === true || c.newOrIncreasedOpacity === true)) {
    return r('4B', 'multilocular cyst with increased loculation or new/increased opacity');
  }
  if (c.becameMultilocular === true) return r('4A', 'thin- or thick-walled cyst that becomes multilocular');
  if (status !== 'follow-up' && (thick || multi)) return r('4A', `${thick ? 'thick-walled' : 'multilocular'} cyst, ${status}`);
  if (thick && c.cysticComponentGrowing === true) return r('3', 'growing cystic component of a thick-walled cyst');
  if (!thick && !multi) return { category: '1', rule: 'thin-walled unilocular cyst: not an atypical cyst, not categorised' };
  return stepped(c, i, true);
}

function scoreFinding(f: LungRadsFinding, i: number): Scored {
  if (typeof f !== 'object' || f === null) throw invalid(`findings[${i}]`, 'must be an object', f);
  let s: Scored;
  if (f.kind === 'airway') s = scoreAirway(f, i);
  else if (f.kind === 'cyst') s = scoreCyst(f, i);
  else if (f.kind === undefined || f.kind === 'nodule') s = scoreNodule(f, i);
  else throw invalid(`findings[${i}].kind`, 'must be nodule, airway or cyst', (f as { kind: unknown }).kind);
  // 4X: "category 3 or 4 nodules with additional features or imaging findings that increase the suspicion".
  if (f.suspiciousFeatures === true && (s.category === '3' || s.category === '4A' || s.category === '4B')) {
    return { ...s, category: '4X', rule: `${s.rule}; additional suspicious features → 4X` };
  }
  return s;
}

function managementFor(category: LungRadsCategory, driving: { finding: LungRadsFinding; scored: Scored } | null,
  incomplete: LungRadsExamInput['incomplete']): string {
  const solidMm = driving?.scored.s ?? 0;
  const airway = driving?.finding.kind === 'airway';
  switch (category) {
    case '0':
      if (incomplete === 'comparison-pending') return 'Comparison to prior chest CT examination(s) is needed';
      if (incomplete === 'lungs-not-evaluable') return 'Additional lung cancer screening CT imaging is needed';
      return '1–3 month LDCT';
    case '1': case '2': return '12-month screening LDCT';
    case '3': return '6-month LDCT';
    case '4A': return solidMm >= 8 ? `3-month LDCT; ${PET_CLAUSE}` : '3-month LDCT';
    case '4B':
      if (airway) return 'Referral for further clinical evaluation (bronchoscopy)';
      return WORKUP_4B;
    case '4X': return WORKUP_4B;
  }
}

/** Lung-RADS v2022 category of one screening exam (the highest category of its findings). */
export function lungRadsCategory(input: LungRadsExamInput): LungRadsResult {
  if (typeof input !== 'object' || input === null || !Array.isArray(input.findings)) {
    throw invalid('findings', 'must be an array');
  }
  if (input.incomplete !== undefined) {
    requireOneOf('incomplete', input.incomplete, ['comparison-pending', 'lungs-not-evaluable', 'inflammatory-infectious'] as const);
  }
  const sModifier = optionalBoolean('significantOtherFindings', input.significantOtherFindings) === true;
  const scored = input.findings.map((f, i) => ({ finding: f, scored: scoreFinding(f, i), index: i }));
  const notes: string[] = [];

  let driving: (typeof scored)[number] | null = null;
  for (const x of scored) {
    if (driving === null) { driving = x; continue; }
    const a = x.scored; const b = driving.scored;
    const better = a.category === '0' ? b.category !== '0'
      : b.category !== '0' && (RANK[a.category] > RANK[b.category] ||
        (RANK[a.category] === RANK[b.category] && ((a.s ?? 0) > (b.s ?? 0) ||
          ((a.s ?? 0) === (b.s ?? 0) && (a.d ?? 0) > (b.d ?? 0)))));
    if (better) driving = x;
  }
  let category: LungRadsCategory = driving?.scored.category ?? '1';
  if (input.incomplete !== undefined) {
    category = '0';
    notes.push(`Exam incomplete (${input.incomplete}): category 0 overrides the finding categories`);
  } else if (category === '0') {
    notes.push('A finding suggests an inflammatory or infectious process: category 0 overrides the other findings');
  }
  for (const x of scored) {
    if (x.finding.suspiciousFeatures === true && x.scored.category !== '4X') {
      notes.push(`findings[${x.index}]: suspicious features noted, but 4X applies only to category 3 or 4 findings`);
    }
  }
  const drivingForExam = input.incomplete !== undefined ? null : driving;
  const findings: LungRadsFindingResult[] = scored.map((x) => ({
    index: x.index,
    ...(x.finding.id !== undefined ? { id: x.finding.id } : {}),
    category: x.scored.category,
    rule: x.scored.rule,
    ...(x.scored.d !== undefined ? { roundedMeanDiameterMm: x.scored.d } : {}),
    ...(x.finding.kind !== 'airway' && x.finding.kind !== 'cyst' && x.finding.type === 'part-solid' && x.scored.s !== undefined
      ? { roundedSolidComponentMm: x.scored.s } : {}),
  }));
  return {
    category,
    label: sModifier ? `${category} S` : category,
    sModifier,
    descriptor: DESCRIPTOR[category],
    drivingIndex: drivingForExam?.index ?? null,
    ...(drivingForExam?.finding.id !== undefined ? { drivingId: drivingForExam.finding.id } : {}),
    management: managementFor(category, drivingForExam, input.incomplete),
    probabilityOfMalignancy: LUNG_RADS_MALIGNANCY[category],
    findings,
    notes,
  };
}
