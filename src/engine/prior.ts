/**
 * Prior lookup rules, generic (no disease knowledge): which earlier series of the same patient a server offers as
 * `ctx.prior` to an analysis whose manifest declares `prior`. Pure functions over series descriptors; the server
 * (src/server/engine-wiring.ts) queries its archive and calls them.
 *
 * - Same patient: the same non-empty PatientID, and the same IssuerOfPatientID (absent on both counts as the same;
 *   present on one side only does not: a PatientID is only unique within its issuer, PS3.3 C.7.1.1 Patient Module).
 * - Earlier: (StudyDate, StudyTime) strictly before the current study's; never the same study. A study without a
 *   StudyDate is never a prior. `minIntervalDays` (optional) asks for at least that many days between the dates.
 * - Among the series of the most recent such study that the analysis accepts: the same BodyPartExamined first,
 *   then the closest SliceThickness, then the most images.
 */
import type { Finding, PriorRequest, PriorResult, SeriesHeader } from './types.ts';

/** What the rules need of a series (current or candidate). */
export interface PriorSeriesFacts {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly patientId: string | undefined;
  readonly issuerOfPatientId: string | undefined;
  readonly studyDate: string | undefined;
  readonly studyTime: string | undefined;
  readonly modality: string;
  readonly bodyPartExamined: string | undefined;
  readonly sliceThicknessMm: number | undefined;
  readonly instanceCount: number;
}

export type PriorDecision = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Problems of a manifest's `prior` declaration; empty when valid (the registry calls it). */
export function priorRequestProblems(v: unknown): string[] {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return ['prior must be an object { sameModality?, minIntervalDays? }'];
  const r = v as Record<string, unknown>;
  const problems: string[] = [];
  for (const k of Object.keys(r)) if (k !== 'sameModality' && k !== 'minIntervalDays') problems.push(`prior.${k} is not a known prior option (sameModality, minIntervalDays)`);
  if (r['sameModality'] !== undefined && typeof r['sameModality'] !== 'boolean') problems.push('prior.sameModality must be a boolean');
  const d = r['minIntervalDays'];
  if (d !== undefined && !(typeof d === 'number' && Number.isInteger(d) && d >= 0)) problems.push('prior.minIntervalDays must be a non-negative integer');
  return problems;
}

function text(v: unknown): string | undefined {
  const x = Array.isArray(v) ? (v as unknown[])[0] : v;
  if (typeof x !== 'string' && typeof x !== 'number') return undefined;
  const s = String(x).trim();
  return s.length > 0 ? s : undefined;
}

/** The facts of a series from its engine header (attributes of a representative instance). */
export function priorFactsOf(h: SeriesHeader): PriorSeriesFacts {
  const a = h.attributes;
  return {
    studyInstanceUid: h.studyInstanceUid,
    seriesInstanceUid: h.seriesInstanceUid,
    patientId: text(a['PatientID']),
    issuerOfPatientId: text(a['IssuerOfPatientID']),
    studyDate: text(a['StudyDate']),
    studyTime: text(a['StudyTime']),
    modality: h.modality,
    bodyPartExamined: h.bodyPartExamined?.trim().toUpperCase() || undefined,
    sliceThicknessMm: h.sliceThicknessMm,
    instanceCount: h.instanceCount,
  };
}

/** DA as a UTC day number; undefined when not YYYYMMDD (also accepts the old YYYY.MM.DD form). */
export function dicomDay(da: string | undefined): number | undefined {
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da?.trim() ?? '');
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(t) ? Math.round(t / 86_400_000) : undefined;
}

/** TM as seconds since midnight (HH, HHMM, HHMMSS, HHMMSS.FFFFFF, old HH:MM:SS); undefined when absent or invalid. */
export function dicomSeconds(tm: string | undefined): number | undefined {
  const m = /^(\d{2}):?(\d{2})?:?(\d{2})?(\.\d{1,6})?$/.exec(tm?.trim() ?? '');
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0) + Number(m[4] ?? 0);
}

/**
 * Whether `candidate` is strictly earlier than `current`: an earlier StudyDate, or the same StudyDate with both
 * StudyTimes given and the candidate's earlier. Unknown order (a date missing, same date without times) is not earlier.
 */
export function isEarlierStudy(candidate: Pick<PriorSeriesFacts, 'studyDate' | 'studyTime'>, current: Pick<PriorSeriesFacts, 'studyDate' | 'studyTime'>): boolean {
  const d1 = dicomDay(candidate.studyDate), d2 = dicomDay(current.studyDate);
  if (d1 === undefined || d2 === undefined) return false;
  if (d1 !== d2) return d1 < d2;
  const t1 = dicomSeconds(candidate.studyTime), t2 = dicomSeconds(current.studyTime);
  return t1 !== undefined && t2 !== undefined && t1 < t2;
}

/** Whether a candidate series may be offered as the prior of `current` (the analysis's `accepts` is checked apart). */
export function priorEligibility(current: PriorSeriesFacts, candidate: PriorSeriesFacts, request: PriorRequest): PriorDecision {
  if (candidate.studyInstanceUid === current.studyInstanceUid) return { ok: false, reason: 'same study' };
  if (!current.patientId) return { ok: false, reason: 'the current series has no PatientID' };
  if (candidate.patientId !== current.patientId) return { ok: false, reason: 'another PatientID' };
  if ((candidate.issuerOfPatientId ?? '') !== (current.issuerOfPatientId ?? '')) {
    return { ok: false, reason: `IssuerOfPatientID differs (${candidate.issuerOfPatientId ?? '(none)'} vs ${current.issuerOfPatientId ?? '(none)'})` };
  }
  if ((request.sameModality ?? true) && candidate.modality !== current.modality) return { ok: false, reason: `modality ${candidate.modality}, not ${current.modality}` };
  if (!isEarlierStudy(candidate, current)) return { ok: false, reason: `StudyDate/Time ${candidate.studyDate ?? '(none)'} ${candidate.studyTime ?? ''} is not before the current study` };
  const min = request.minIntervalDays ?? 0;
  if (min > 0) {
    const days = (dicomDay(current.studyDate) ?? 0) - (dicomDay(candidate.studyDate) ?? 0);
    if (days < min) return { ok: false, reason: `${days} day(s) before the current study, fewer than ${min}` };
  }
  return { ok: true };
}

/** Sort key among eligible, accepted series: most recent study, same body part, closest thickness, most images. */
export function comparePriorCandidates(current: PriorSeriesFacts): (a: PriorSeriesFacts, b: PriorSeriesFacts) => number {
  const when = (f: PriorSeriesFacts) => (dicomDay(f.studyDate) ?? -Infinity) * 86_400 + (dicomSeconds(f.studyTime) ?? 0);
  const body = (f: PriorSeriesFacts) => (current.bodyPartExamined !== undefined && f.bodyPartExamined === current.bodyPartExamined ? 0 : 1);
  const thick = (f: PriorSeriesFacts) => (current.sliceThicknessMm !== undefined && f.sliceThicknessMm !== undefined ? Math.abs(f.sliceThicknessMm - current.sliceThicknessMm) : Number.MAX_VALUE);
  return (a, b) => when(b) - when(a) || body(a) - body(b) || thick(a) - thick(b) || b.instanceCount - a.instanceCount || (a.seriesInstanceUid < b.seriesInstanceUid ? -1 : 1);
}

/** A stored result as the archive keeps it (ResultRecord's fields the engine needs; the engine does not import the archive). */
export interface StoredResultLike {
  readonly id: string;
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly seriesInstanceUid: string;
  readonly status: string;
  readonly createdAt: string;
  readonly document: unknown;
}

/**
 * The stored result of the SAME analysis id and version on the prior series, as `PriorResult`; undefined when
 * there is none that is usable (another version, not ok, another series, no findings list).
 */
export function priorResultFrom(records: readonly StoredResultLike[], analysis: { readonly id: string; readonly version: string }, seriesInstanceUid: string): PriorResult | undefined {
  for (const r of records) {
    if (r.analysisId !== analysis.id || r.analysisVersion !== analysis.version || r.seriesInstanceUid !== seriesInstanceUid || r.status !== 'ok') continue;
    const doc = r.document as { findings?: unknown; measurements?: unknown; version?: unknown; analysis?: unknown } | null;
    if (!doc || !Array.isArray(doc.findings) || doc.analysis !== analysis.id || doc.version !== analysis.version) continue;
    const measurements = typeof doc.measurements === 'object' && doc.measurements !== null ? (doc.measurements as Record<string, unknown>) : {};
    return { analysisId: r.analysisId, analysisVersion: r.analysisVersion, resultId: r.id, createdAt: r.createdAt, findings: doc.findings as Finding[], measurements };
  }
  return undefined;
}
