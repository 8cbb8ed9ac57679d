/**
 * The report draft of a study: the AI findings the radiologist accepted (with their edits applied), what was
 * rejected, what is still undecided, the impression, and the provenance (analysis + version, the assistive
 * disclaimer). Signing freezes this object; the PDF is rendered from it.
 */
import { ASSISTIVE_DISCLAIMER, GENERATOR } from '../../core/index.ts';
import type { ResultRecord, QueryRow } from '../../archive/index.ts';
import { findingsOf } from './triage.ts';
import type { DecisionRecord, MeasurementRecord, ReportRecord } from './store.ts';

export interface DraftFinding {
  readonly resultId: string;
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly findingId: string;
  readonly kind: string;
  readonly probability: number | null;
  readonly centerMm: readonly number[] | null;
  readonly measurements: Readonly<Record<string, unknown>>;
  readonly reasons: readonly string[];
  readonly decision: DecisionRecord['decision'] | null;
  readonly decidedBy: string | null;
  readonly decidedAt: string | null;
  readonly comment: string | null;
}

export interface ReportDraft {
  readonly studyInstanceUid: string;
  readonly patientName: string | null;
  readonly patientId: string | null;
  readonly studyDate: string | null;
  readonly accessionNumber: string | null;
  readonly studyDescription: string | null;
  readonly status: 'draft' | 'signed';
  readonly impression: string;
  /** Proposed from the accepted findings when the radiologist has written none. */
  readonly suggestedImpression: string;
  readonly accepted: readonly DraftFinding[];
  readonly rejected: readonly DraftFinding[];
  readonly undecided: readonly DraftFinding[];
  readonly analyses: readonly { readonly id: string; readonly version: string }[];
  /** Length measurements the radiologist made in the viewer (who and when), in the order made. */
  readonly measurements: readonly MeasurementRecord[];
  readonly signedBy: string | null;
  readonly signedAt: string | null;
  readonly disclaimer: string;
}

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function str(row: QueryRow | undefined, k: string): string | null {
  const v = row?.[k];
  return v === null || v === undefined ? null : String(v);
}

/** The measurements a finding shows: its `measurements` object plus the common top-level numbers. */
export function findingMeasurements(f: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(f)) {
    if (typeof v === 'number' && k !== 'probability' && k !== 'label') out[k] = v;
  }
  for (const [k, v] of Object.entries(rec(f['measurements']))) out[k] = v;
  return out;
}

function describe(f: DraftFinding): string {
  const m = f.measurements;
  const num = (k: string, unit: string): string | null => (typeof m[k] === 'number' ? `${Number(m[k]).toFixed(1)} ${unit}` : null);
  const size = num('meanDiameterMm', 'mm') ?? num('diameterMm', 'mm') ?? num('volumeMl', 'mL') ?? null;
  return `${f.kind}${size ? ` ${size}` : ''}${f.decision === 'edit' ? ' (measurement edited)' : ''}`;
}

export function buildDraft(o: {
  study: QueryRow | undefined; studyInstanceUid: string; results: readonly ResultRecord[]; decisions: readonly DecisionRecord[]; report: ReportRecord | undefined;
  measurements?: readonly MeasurementRecord[] | undefined;
}): ReportDraft {
  const byKey = new Map(o.decisions.map((d) => [`${d.resultId}|${d.findingId}`, d]));
  const all: DraftFinding[] = [];
  for (const r of o.results) {
    if (r.status !== 'ok') continue;
    for (const f of findingsOf(r)) {
      const id = String(f['id'] ?? '');
      const d = byKey.get(`${r.id}|${id}`);
      const edit = d?.decision === 'edit' ? d.edit : null;
      const center = Array.isArray(f['centerMm']) ? (f['centerMm'] as unknown[]).map(Number) : null;
      all.push({
        resultId: r.id, analysisId: r.analysisId, analysisVersion: r.analysisVersion, findingId: id,
        kind: edit?.kind ?? String(f['kind'] ?? 'finding'),
        probability: typeof f['probability'] === 'number' ? f['probability'] : null,
        centerMm: center,
        measurements: { ...findingMeasurements(f), ...(edit?.measurements ?? {}) },
        reasons: Array.isArray(f['reasons']) ? (f['reasons'] as unknown[]).map(String) : [],
        decision: d?.decision ?? null, decidedBy: d?.username ?? null, decidedAt: d?.decidedAt ?? null, comment: edit?.comment ?? null,
      });
    }
  }
  const accepted = all.filter((f) => f.decision === 'accept' || f.decision === 'edit');
  const suggested = accepted.length === 0
    ? 'No AI finding confirmed.'
    : accepted.map((f, i) => `${i + 1}. ${describe(f)}.`).join('\n');
  const analyses = [...new Map(o.results.map((r) => [`${r.analysisId}@${r.analysisVersion}`, { id: r.analysisId, version: r.analysisVersion }])).values()];
  return {
    studyInstanceUid: o.studyInstanceUid,
    patientName: str(o.study, 'PatientName'), patientId: str(o.study, 'PatientID'), studyDate: str(o.study, 'StudyDate'),
    accessionNumber: str(o.study, 'AccessionNumber'), studyDescription: str(o.study, 'StudyDescription'),
    status: o.report?.status ?? 'draft',
    impression: o.report?.impression ?? '',
    suggestedImpression: suggested,
    accepted, rejected: all.filter((f) => f.decision === 'reject'), undecided: all.filter((f) => f.decision === null),
    analyses,
    measurements: o.measurements ?? [],
    signedBy: o.report?.signedBy ?? null, signedAt: o.report?.signedAt ?? null,
    disclaimer: `${ASSISTIVE_DISCLAIMER} Drafted by ${GENERATOR.name} ${GENERATOR.version}.`,
  };
}
