/**
 * The clinical report as data: a pure function from the study header, the analysis results (findings.json
 * contract, src/engine/findings.ts), key images and the physician's review to what the report says. Renderers
 * (report-html.ts, FHIR in fhir.ts) only present this model, so the HTML, the PDF and the FHIR bundle cannot
 * disagree about which findings were reported or which category the exam got.
 *
 * Review: a rejected finding is left out (only counted); an edited one shows the edited values with the AI value
 * beside them, and the Lung-RADS category is recomputed from the reported nodules (src/clinical), so a rejected
 * driving nodule no longer drives the exam category.
 */
import { ASSISTIVE_DISCLAIMER, GENERATOR } from '../core/index.ts';
import { fleischnerRecommendation, lungRadsCategory, LUNG_RADS_MALIGNANCY } from '../clinical/index.ts';
import type { FleischnerNoduleType, LungRadsCategory, LungRadsNoduleInput, LungRadsNoduleType, LungRadsStatus } from '../clinical/index.ts';
import type { AnalysisResultJson, FindingJson } from '../engine/findings.ts';
import { shownByFollowUp } from '../engine/findings.ts';

export interface ReportPatient {
  readonly name?: string | undefined;
  /** Ideographic component of PatientName (e.g. 王^小东), when the study has one. */
  readonly ideographicName?: string | undefined;
  readonly id?: string | undefined;
  readonly birthDate?: string | undefined;
  readonly sex?: string | undefined;
  readonly age?: string | undefined;
}

export interface ReportStudy {
  readonly studyInstanceUid: string;
  readonly accessionNumber?: string | undefined;
  readonly studyDate?: string | undefined;
  readonly studyTime?: string | undefined;
  readonly description?: string | undefined;
  readonly referringPhysician?: string | undefined;
  readonly institution?: string | undefined;
  readonly specificCharacterSet?: string | undefined;
}

export interface ReportResultInput {
  /** Archive result id, when the result is stored. */
  readonly resultId?: string | undefined;
  readonly result: AnalysisResultJson;
  /** Finding id → key image (PNG data: URI), e.g. from renderFindingCropPng + pngDataUri. */
  readonly keyImages?: Readonly<Record<string, string>> | undefined;
}

export type ReviewDecisionKind = 'accepted' | 'rejected' | 'edited';

export interface ReviewDecision {
  /** Analysis of the finding; may be left out when finding ids are unique in the report. */
  readonly analysisId?: string;
  readonly findingId: string;
  readonly decision: ReviewDecisionKind;
  readonly by: string;
  /** ISO 8601. */
  readonly at: string;
  /** Edited measurement values by name (e.g. meanDiameterMm, volumeMl, noduleType). */
  readonly edits?: Readonly<Record<string, number | string>>;
  readonly comment?: string;
}

export interface PriorComparisonItem {
  readonly findingId?: string;
  readonly description: string;
  readonly prior?: string;
  readonly current?: string;
  readonly change?: string;
}

export interface PriorComparisonInput {
  readonly priorStudyInstanceUid?: string;
  readonly priorStudyDate?: string;
  readonly summary?: string;
  readonly items: readonly PriorComparisonItem[];
}

export interface ReportSignature {
  readonly by: string;
  /** ISO 8601. */
  readonly at: string;
}

export interface ClinicalReportInput {
  readonly patient: ReportPatient;
  readonly study: ReportStudy;
  readonly results: readonly ReportResultInput[];
  readonly review?: readonly ReviewDecision[] | undefined;
  /** The physician's impression; replaces the generated one (which is still listed below it). */
  readonly impression?: string | undefined;
  readonly signature?: ReportSignature | undefined;
  readonly priorComparison?: PriorComparisonInput | undefined;
  /** ISO 8601; default: now. */
  readonly generatedAt?: string | undefined;
}

export type MeasurementValue = number | string | boolean;

export interface ReportMeasurement {
  /** Name as in findings.json (meanDiameterMm, volumeMl...); the renderer translates it. */
  readonly key: string;
  readonly value: MeasurementValue;
  readonly unit?: string;
  /** Set when the physician edited it: the AI's value. */
  readonly aiValue?: MeasurementValue | null;
}

export interface ReportFinding {
  readonly analysisId: string;
  readonly findingId: string;
  readonly kind: string;
  readonly probability: number;
  readonly centerMm: readonly [number, number, number];
  /** Coded type (solid, subdural...), edited value when edited. */
  readonly type?: string;
  /** Set when the physician edited the type: the AI's type. */
  readonly aiType?: string | null;
  /** Location words as coded values (left, upper, juxtapleural...). */
  readonly location: readonly string[];
  readonly measurements: readonly ReportMeasurement[];
  /** Lung-RADS v2022 category of this nodule (recomputed from the reported values). */
  readonly lungRads?: LungRadsCategory;
  readonly brockProbability?: number;
  readonly keyImage?: string;
  /** Follow-up against a prior (chest-ct-nodules with a prior): the finding's status and the prior's values. */
  readonly followUp?: FindingFollowUp;
  readonly review: { readonly decision: 'accepted' | 'edited'; readonly by: string; readonly at: string; readonly comment?: string } | null;
}

export interface FindingFollowUp {
  /** new | grown | stable | shrunk (followup.ts FollowUpStatus). */
  readonly status: string;
  readonly priorFindingId?: string;
  /** Lung-RADS v2022 growth status (growing, slowly-growing, stable, decreased). */
  readonly lungRadsGrowth?: string;
  readonly priorType?: string;
  readonly priorMeanDiameterMm?: number;
  readonly diameterChangeMm?: number;
  readonly volumeChangePercent?: number;
  readonly vdtDays?: number | null;
}

export type ImpressionItem =
  | { readonly kind: 'lung-rads'; readonly analysisId: string; readonly category: LungRadsCategory; readonly drivingFindingId: string | null; readonly malignancy: string }
  | { readonly kind: 'triage'; readonly analysisId: string; readonly priority: 'critical' | 'routine'; readonly hemorrhage: boolean; readonly massEffect: boolean; readonly volumeMl: number | null; readonly midlineShiftMm: number | null }
  | { readonly kind: 'findings'; readonly analysisId: string; readonly count: number }
  | { readonly kind: 'skipped'; readonly analysisId: string; readonly reason: string };

export type Guideline = 'lung-rads-v2022' | 'fleischner-2017';

export interface Recommendation {
  readonly analysisId: string;
  readonly guideline: Guideline;
  /** The guideline's own words (English, as src/clinical returns them). */
  readonly text: string;
  /** Lung-RADS category the text belongs to (for the translated text). */
  readonly category?: LungRadsCategory;
  readonly findingId?: string | null;
  readonly applicable: boolean;
  readonly citation: string;
}

export interface ReportAlgorithm {
  readonly analysisId: string;
  readonly title?: string;
  readonly version: string;
  readonly engine: string;
  readonly resultId?: string;
  readonly startedAt: string;
  readonly status: string;
}

export interface ClinicalReport {
  readonly status: 'draft' | 'final';
  readonly generatedAt: string;
  readonly patient: ReportPatient;
  readonly study: ReportStudy;
  readonly impression: { readonly override?: string; readonly items: readonly ImpressionItem[] };
  readonly findings: readonly ReportFinding[];
  /** Findings the physician rejected (left out of the report). */
  readonly rejectedCount: number;
  readonly studyMeasurements: readonly { readonly analysisId: string; readonly items: readonly ReportMeasurement[] }[];
  readonly recommendations: readonly Recommendation[];
  readonly priorComparison?: PriorComparisonInput;
  readonly algorithms: readonly ReportAlgorithm[];
  readonly disclaimer: string;
  readonly signature?: ReportSignature;
}

/** American College of Radiology, Lung-RADS v2022 (released Nov 2022), assessment categories table, "Management" column. */
export const LUNG_RADS_CITATION = 'American College of Radiology. Lung CT Screening Reporting & Data System (Lung-RADS) v2022, assessment categories (Management).';
/** MacMahon H et al., Radiology 2017;284(1):228–243, Table 1 (solid and subsolid nodules). */
export const FLEISCHNER_CITATION = 'MacMahon H, et al. Guidelines for Management of Incidental Pulmonary Nodules Detected on CT Images: From the Fleischner Society 2017. Radiology 2017;284(1):228–243, Table 1.';

const UNITS: readonly [RegExp, string][] = [[/Mm3$/, 'mm³'], [/Mm$/, 'mm'], [/Ml$/, 'mL'], [/Hu$/, 'HU']];

export function unitOf(key: string): string | undefined {
  return UNITS.find(([re]) => re.test(key))?.[1];
}

/** Per-finding measurements shown, in this order, when present (chest: findings[].measurements; head: top level). */
const FINDING_KEYS = [
  'meanDiameterMm', 'longAxisMm', 'shortAxisMm', 'solidComponentMeanDiameterMm', 'maxDiameter3dMm', 'volumeMm3', 'volumeMl', 'abc2VolumeMl', 'thicknessMm', 'meanHu',
] as const;
/** Study measurements shown, when present. */
const STUDY_KEYS = ['hemorrhageVolumeMl', 'abc2VolumeMl', 'hemorrhageType', 'midlineShiftMm', 'midlineShiftTowards', 'massEffect', 'nodulesAboveDisplayThreshold', 'lungVolumeMl', 'emphysemaIndexLaa950'] as const;

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function scalar(v: unknown): MeasurementValue | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  return undefined;
}

/** Findings that are reported: labelled ones (the analysis displayed them), those at/above its display threshold, and sub-threshold ones a follow-up comparison shows (shownByFollowUp). */
function reported(r: AnalysisResultJson, f: FindingJson): boolean {
  if (f.label !== undefined || shownByFollowUp(f)) return true;
  const th = r.measurements['displayThreshold'];
  return f.probability >= (typeof th === 'number' ? th : 0.5);
}

function reviewOf(review: readonly ReviewDecision[] | undefined, analysisId: string, findingId: string): ReviewDecision | undefined {
  // The last decision wins: a finding accepted, then edited, is edited.
  const all = (review ?? []).filter((d) => d.findingId === findingId && (d.analysisId === undefined || d.analysisId === analysisId));
  return all[all.length - 1];
}

function findingType(f: FindingJson): string | undefined {
  for (const k of ['noduleType', 'bleedType', 'type']) {
    const v = f[k];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

function findingLocation(f: FindingJson): string[] {
  const loc = record(f['location']);
  if (!loc) return [];
  const out: string[] = [];
  for (const k of ['side', 'zone', 'centralPeripheral']) if (typeof loc[k] === 'string') out.push(loc[k]);
  if (loc['juxtapleural'] === true) out.push('juxtapleural');
  return out;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function findingFollowUp(f: FindingJson): FindingFollowUp | undefined {
  const status = f['status'];
  if (typeof status !== 'string') return undefined;
  const prior = record(f['prior']);
  const priorType = prior?.['noduleType'];
  const priorMean = num(record(prior?.['measurements'])?.['meanDiameterMm']);
  const growth = f['lungRadsGrowth'];
  const vdt = f['vdtDays'];
  const change = num(f['diameterChangeMm']);
  const volume = num(f['volumeChangePercent']);
  return {
    status,
    ...(typeof f['priorFindingId'] === 'string' ? { priorFindingId: f['priorFindingId'] } : {}),
    ...(typeof growth === 'string' ? { lungRadsGrowth: growth } : {}),
    ...(typeof priorType === 'string' ? { priorType } : {}),
    ...(priorMean !== undefined ? { priorMeanDiameterMm: priorMean } : {}),
    ...(change !== undefined ? { diameterChangeMm: change } : {}),
    ...(volume !== undefined ? { volumeChangePercent: volume } : {}),
    ...(typeof vdt === 'number' || vdt === null ? { vdtDays: vdt } : {}),
  };
}

function buildFinding(r: AnalysisResultJson, f: FindingJson, input: ReportResultInput, d: ReviewDecision | undefined): ReportFinding {
  const nested = record(f['measurements']) ?? {};
  const edits = d?.decision === 'edited' ? (d.edits ?? {}) : {};
  const measurements: ReportMeasurement[] = [];
  for (const key of FINDING_KEYS) {
    const ai = scalar(nested[key] ?? f[key]);
    const edited = Object.hasOwn(edits, key) ? scalar(edits[key]) : undefined;
    if (ai === undefined && edited === undefined) continue;
    const unit = unitOf(key);
    measurements.push({ key, value: (edited ?? ai) as MeasurementValue, ...(unit ? { unit } : {}), ...(edited !== undefined && edited !== ai ? { aiValue: ai ?? null } : {}) });
  }
  const aiType = findingType(f);
  const editedType = typeof edits['noduleType'] === 'string' ? edits['noduleType'] : typeof edits['type'] === 'string' ? edits['type'] : undefined;
  const type = editedType ?? aiType;
  const brock = record(record(record(r.measurements['brock'])?.['perNodule'])?.[f.id])?.['probability'];
  const key = input.keyImages?.[f.id];
  const followUp = findingFollowUp(f);
  return {
    analysisId: r.analysis, findingId: f.id, kind: f.kind, probability: f.probability, centerMm: f.centerMm,
    ...(type !== undefined ? { type } : {}),
    ...(editedType !== undefined && editedType !== aiType ? { aiType: aiType ?? null } : {}),
    location: findingLocation(f),
    measurements,
    ...(typeof brock === 'number' ? { brockProbability: brock } : {}),
    ...(key !== undefined ? { keyImage: key } : {}),
    ...(followUp ? { followUp } : {}),
    review: d && d.decision !== 'rejected' ? { decision: d.decision, by: d.by, at: d.at, ...(d.comment ? { comment: d.comment } : {}) } : null,
  };
}

const LUNG_RADS_TYPES: readonly LungRadsNoduleType[] = ['solid', 'part-solid', 'ground-glass', 'calcified', 'fat-containing'];

function measured(f: ReportFinding, key: string): number | undefined {
  const v = f.measurements.find((m) => m.key === key)?.value;
  return typeof v === 'number' ? v : undefined;
}

/** Baseline category of the prior nodule (stepped management of stable/decreased nodules needs it). */
function priorCategory(fu: FindingFollowUp): LungRadsCategory | undefined {
  const type = LUNG_RADS_TYPES.find((x) => x === fu.priorType);
  // A part-solid prior needs its solid component, which the follow-up fields do not carry: not scored.
  if (!type || type === 'part-solid' || (fu.priorMeanDiameterMm === undefined && type !== 'calcified')) return undefined;
  const input: LungRadsNoduleInput = { type, status: 'baseline', ...(fu.priorMeanDiameterMm !== undefined ? { meanDiameterMm: fu.priorMeanDiameterMm } : {}) };
  return lungRadsCategory({ findings: [input] }).findings[0]?.category;
}

/**
 * Lung-RADS input of a reported nodule, from its (possibly edited) values; undefined when it cannot be scored.
 * Status as the follow-up analysis set it (followup.ts: new, or the v2022 growth status with the prior's baseline
 * category for stable/decreased); baseline without a prior.
 */
function lungRadsInput(f: ReportFinding): LungRadsNoduleInput | undefined {
  const type = LUNG_RADS_TYPES.find((x) => x === f.type);
  const mean = measured(f, 'meanDiameterMm') ?? measured(f, 'diameterMm');
  if (!type || (mean === undefined && type !== 'calcified' && type !== 'fat-containing')) return undefined;
  const solid = Math.min(measured(f, 'solidComponentMeanDiameterMm') ?? 0, mean ?? 0);
  // v2022 scores a part-solid nodule by its solid component: without one measured (e.g. a type edited to
  // part-solid) it cannot be scored.
  if (type === 'part-solid' && !(solid > 0)) return undefined;
  let status: LungRadsStatus = 'baseline';
  let prior: LungRadsCategory | undefined;
  const fu = f.followUp;
  if (fu?.status === 'new') status = 'new';
  else if (fu?.lungRadsGrowth === 'growing' || fu?.lungRadsGrowth === 'slowly-growing') status = fu.lungRadsGrowth;
  else if (fu && (fu.lungRadsGrowth === 'stable' || fu.lungRadsGrowth === 'decreased' || fu.status === 'stable')) {
    prior = priorCategory(fu);
    if (prior !== undefined) status = fu.lungRadsGrowth === 'decreased' ? 'decreased' : 'stable';
  }
  return {
    id: f.findingId, type, status,
    ...(prior !== undefined ? { priorCategory: prior } : {}),
    ...(mean !== undefined ? { meanDiameterMm: mean } : {}),
    ...(type === 'part-solid' ? { solidComponentMm: solid } : {}),
  };
}

interface ChestOutcome {
  readonly impression: ImpressionItem;
  readonly recommendations: Recommendation[];
  readonly categories: Map<string, LungRadsCategory>;
}

/** Chest: the exam's Lung-RADS category and Fleischner text, recomputed from the reported nodules (src/clinical). */
function chest(r: AnalysisResultJson, findings: readonly ReportFinding[], changedByReview: boolean, ageYears: number | undefined): ChestOutcome {
  const nodules = findings.filter((f) => f.kind === 'lung-nodule');
  const inputs = nodules.map(lungRadsInput).filter((x): x is LungRadsNoduleInput => x !== undefined);
  const categories = new Map<string, LungRadsCategory>();
  const recommendations: Recommendation[] = [];
  let impression: ImpressionItem;
  let lr: ReturnType<typeof lungRadsCategory> | undefined;
  try {
    lr = inputs.length > 0 ? lungRadsCategory({ findings: inputs }) : undefined;
  } catch {
    // Values the calculator refuses (e.g. an edit to 0 mm): the exam is reported without a category, not dropped.
    lr = undefined;
  }
  if (lr) {
    for (const x of lr.findings) if (x.id !== undefined) categories.set(x.id, x.category);
    impression = { kind: 'lung-rads', analysisId: r.analysis, category: lr.category, drivingFindingId: lr.drivingId ?? null, malignancy: lr.probabilityOfMalignancy.text };
    recommendations.push({ analysisId: r.analysis, guideline: 'lung-rads-v2022', text: lr.management, category: lr.category, findingId: lr.drivingId ?? null, applicable: true, citation: LUNG_RADS_CITATION });
  } else if (nodules.length > 0) {
    // Nodules reported that cannot be scored from the reported values: no category is claimed.
    impression = { kind: 'findings', analysisId: r.analysis, count: nodules.length };
  } else {
    // No nodule reported: Lung-RADS 1 (v2022: "no lung nodules"), 12-month screening LDCT.
    impression = { kind: 'lung-rads', analysisId: r.analysis, category: '1', drivingFindingId: null, malignancy: LUNG_RADS_MALIGNANCY['1'].text };
    recommendations.push({ analysisId: r.analysis, guideline: 'lung-rads-v2022', text: '12-month screening LDCT', category: '1', findingId: null, applicable: true, citation: LUNG_RADS_CITATION });
  }
  const stored = record(r.measurements['fleischner']);
  const nonCalc = nodules.filter((f) => f.type === 'solid' || f.type === 'part-solid' || f.type === 'ground-glass');
  if (!changedByReview && stored && typeof stored['recommendation'] === 'string') {
    recommendations.push({
      analysisId: r.analysis, guideline: 'fleischner-2017', text: stored['recommendation'], findingId: typeof stored['findingId'] === 'string' ? stored['findingId'] : null,
      applicable: stored['applicable'] !== false, citation: FLEISCHNER_CITATION,
    });
  } else if (nonCalc.length > 0) {
    // Same choice as the analysis (src/analyses/chest-ct-nodules/report.ts): largest solid part, then size.
    const solidPart = (f: ReportFinding) => (f.type === 'solid' ? (measured(f, 'meanDiameterMm') ?? 0) : (measured(f, 'solidComponentMeanDiameterMm') ?? 0));
    const top = nonCalc.slice().sort((a, b) => solidPart(b) * 100 + (measured(b, 'meanDiameterMm') ?? 0) - (solidPart(a) * 100 + (measured(a, 'meanDiameterMm') ?? 0)))[0] as ReportFinding;
    let fr: ReturnType<typeof fleischnerRecommendation> | undefined;
    try {
      fr = fleischnerRecommendation({
        type: top.type as FleischnerNoduleType, sizeMm: measured(top, 'meanDiameterMm') ?? 0, multiple: nonCalc.length > 1, risk: 'unknown',
        ...(top.type === 'part-solid' ? { solidComponentMm: measured(top, 'solidComponentMeanDiameterMm') ?? 0 } : {}),
        ...(ageYears !== undefined ? { ageYears } : {}),
      });
    } catch {
      fr = undefined; // refused inputs (see above): no Fleischner line rather than no report
    }
    if (fr) recommendations.push({ analysisId: r.analysis, guideline: 'fleischner-2017', text: fr.recommendation, findingId: top.findingId, applicable: fr.applicable, citation: FLEISCHNER_CITATION });
  }
  return { impression, recommendations, categories };
}

function head(r: AnalysisResultJson, findings: readonly ReportFinding[]): ImpressionItem {
  const m = r.measurements;
  const bleeds = findings.filter((f) => f.kind === 'hemorrhage');
  const massEffect = m['massEffect'] === true;
  const volume = bleeds.reduce((a, f) => a + (measured(f, 'volumeMl') ?? 0), 0);
  const shift = typeof m['midlineShiftMm'] === 'number' ? m['midlineShiftMm'] : null;
  // As the analysis decides it (head-ct-hemorrhage manifest): any bleed or mass effect → critical; here over the
  // bleeds the physician kept.
  return {
    kind: 'triage', analysisId: r.analysis, priority: bleeds.length > 0 || massEffect ? 'critical' : 'routine', hemorrhage: bleeds.length > 0, massEffect,
    volumeMl: bleeds.length > 0 ? Math.round(volume * 100) / 100 : null, midlineShiftMm: shift,
  };
}

function studyMeasurements(r: AnalysisResultJson): ReportMeasurement[] {
  const out: ReportMeasurement[] = [];
  for (const key of STUDY_KEYS) {
    let v = r.measurements[key];
    if (key === 'lungVolumeMl') v = record(v)?.['total'];
    const s = scalar(v);
    if (s === undefined) continue;
    const unit = unitOf(key);
    out.push({ key, value: s, ...(unit ? { unit } : {}) });
  }
  return out;
}

function fmt1(v: number | undefined): string | undefined {
  return v === undefined ? undefined : `${Math.round(v * 10) / 10} mm`;
}

/** The comparison section from a follow-up analysis (measurements.followUp.compared), when the caller gave none. */
function priorFromFollowUp(results: readonly ReportResultInput[], findings: readonly ReportFinding[]): PriorComparisonInput | undefined {
  for (const { result: r } of results) {
    const fu = record(r.measurements['followUp']);
    if (r.status !== 'ok' || fu?.['compared'] !== true) continue;
    const prior = record(fu['prior']);
    const items: PriorComparisonItem[] = [];
    for (const f of findings.filter((x) => x.analysisId === r.analysis && x.followUp)) {
      const u = f.followUp as FindingFollowUp;
      const change = [
        u.status, u.diameterChangeMm !== undefined ? `${u.diameterChangeMm >= 0 ? '+' : ''}${u.diameterChangeMm} mm` : undefined,
        u.volumeChangePercent !== undefined ? `volume ${u.volumeChangePercent >= 0 ? '+' : ''}${u.volumeChangePercent} %` : undefined,
        typeof u.vdtDays === 'number' ? `VDT ${u.vdtDays} d` : undefined,
      ].filter((x): x is string => x !== undefined).join(', ');
      const cur = fmt1(measured(f, 'meanDiameterMm'));
      const before = fmt1(u.priorMeanDiameterMm);
      items.push({ findingId: f.findingId, description: `${f.type ?? f.kind}${u.priorFindingId ? ` (prior ${u.priorFindingId})` : ''}`, ...(before ? { prior: before } : {}), ...(cur ? { current: cur } : {}), change });
    }
    for (const f of r.findings.filter((x) => x['status'] === 'resolved')) {
      const p = record(f['prior']);
      const before = fmt1(num(record(p?.['measurements'])?.['meanDiameterMm']));
      items.push({ findingId: f.id, description: `${typeof p?.['noduleType'] === 'string' ? p['noduleType'] : f.kind} (prior ${String(f['priorFindingId'] ?? '')})`, ...(before ? { prior: before } : {}), current: '—', change: 'resolved' });
    }
    const counts = record(fu['counts']);
    const interval = num(fu['intervalDays']);
    const summary = counts
      ? `${interval !== undefined ? `Interval ${Math.round(interval)} days. ` : ''}${Object.entries(counts).map(([k, v]) => `${k} ${String(v)}`).join(', ')}`
      : undefined;
    return {
      ...(typeof prior?.['studyInstanceUid'] === 'string' ? { priorStudyInstanceUid: prior['studyInstanceUid'] } : {}),
      ...(typeof prior?.['studyDate'] === 'string' ? { priorStudyDate: prior['studyDate'] } : {}),
      ...(summary ? { summary } : {}),
      items,
    };
  }
  return undefined;
}

function parseAge(age: string | undefined): number | undefined {
  const m = age ? /^(\d{1,3})Y$/i.exec(age.trim()) : null;
  return m ? Number(m[1]) : undefined;
}

export function buildClinicalReport(input: ClinicalReportInput): ClinicalReport {
  const findings: ReportFinding[] = [];
  const items: ImpressionItem[] = [];
  const recommendations: Recommendation[] = [];
  const measurementsByAnalysis: { analysisId: string; items: ReportMeasurement[] }[] = [];
  let rejectedCount = 0;
  for (const ri of input.results) {
    const r = ri.result;
    if (r.status !== 'ok') {
      items.push({ kind: 'skipped', analysisId: r.analysis, reason: r.reason ?? r.error?.message ?? r.status });
      continue;
    }
    const mine: ReportFinding[] = [];
    let changed = false;
    for (const f of r.findings) {
      if (!reported(r, f)) continue;
      const d = reviewOf(input.review, r.analysis, f.id);
      if (d?.decision === 'rejected') {
        rejectedCount++;
        changed = true;
        continue;
      }
      if (d?.decision === 'edited') changed = true;
      mine.push(buildFinding(r, f, ri, d));
    }
    if (mine.some((f) => f.kind === 'lung-nodule') || r.measurements['lungRads'] !== undefined) {
      const c = chest(r, mine, changed, parseAge(input.patient.age));
      items.push(c.impression);
      recommendations.push(...c.recommendations);
      for (const f of mine) findings.push(c.categories.has(f.findingId) ? { ...f, lungRads: c.categories.get(f.findingId) as LungRadsCategory } : f);
    } else {
      if (mine.some((f) => f.kind === 'hemorrhage') || r.measurements['triagePriority'] !== undefined) items.push(head(r, mine));
      else items.push({ kind: 'findings', analysisId: r.analysis, count: mine.length });
      findings.push(...mine);
    }
    const sm = studyMeasurements(r);
    if (sm.length > 0) measurementsByAnalysis.push({ analysisId: r.analysis, items: sm });
  }
  const algorithms: ReportAlgorithm[] = input.results.map((ri) => ({
    analysisId: ri.result.analysis, version: ri.result.version, engine: `${ri.result.provenance.engine.name} ${ri.result.provenance.engine.version}`,
    startedAt: ri.result.provenance.startedAt, status: ri.result.status,
    ...(ri.result.title ? { title: ri.result.title } : {}), ...(ri.resultId ? { resultId: ri.resultId } : {}),
  }));
  const prior = input.priorComparison ?? priorFromFollowUp(input.results, findings);
  const override = input.impression?.trim();
  return {
    status: input.signature ? 'final' : 'draft',
    generatedAt: input.generatedAt ?? new Date().toISOString(),
    patient: input.patient,
    study: input.study,
    impression: { ...(override ? { override } : {}), items },
    findings,
    rejectedCount,
    studyMeasurements: measurementsByAnalysis,
    recommendations,
    ...(prior ? { priorComparison: prior } : {}),
    algorithms,
    disclaimer: `${ASSISTIVE_DISCLAIMER} (${GENERATOR.name} ${GENERATOR.version})`,
    ...(input.signature ? { signature: input.signature } : {}),
  };
}
