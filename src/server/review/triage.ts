/**
 * What the worklist shows of a study's AI work: status (queued / running with progress / done / failed / none)
 * and triage (critical first). Pure functions over the archive's results and the queue's jobs.
 */
import type { ResultRecord } from '../../archive/index.ts';
import type { JobRecord } from '../../jobs/index.ts';

export type AiStatus = 'none' | 'queued' | 'running' | 'done' | 'failed';

export interface Triage {
  readonly critical: boolean;
  /** Why, in words (e.g. "hemorrhage (subdural)", "Lung-RADS 4B"). */
  readonly reasons: readonly string[];
}

/**
 * Lung-RADS v2022 (ACR Lung-RADS v2022 summary table): categories 4B and 4X are "very suspicious" — the ones a
 * screening programme treats as needing prompt work-up. 4A and below are not triaged as critical.
 */
const CRITICAL_LUNG_RADS = new Set(['4B', '4X']);

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

export function findingsOf(r: ResultRecord): Record<string, unknown>[] {
  const f = record(r.document)['findings'];
  return Array.isArray(f) ? f.map(record) : [];
}

export function triageOf(results: readonly ResultRecord[]): Triage {
  const reasons: string[] = [];
  for (const r of results) {
    if (r.status !== 'ok') continue;
    const m = record(record(r.document)['measurements']);
    for (const f of findingsOf(r)) {
      if (f['kind'] === 'hemorrhage') reasons.push(`hemorrhage${typeof f['type'] === 'string' ? ` (${f['type']})` : ''}`);
    }
    if (m['massEffect'] === true) reasons.push(`midline shift ${String(m['midlineShiftMm'])} mm`);
    const cat = record(m['lungRads'])['category'];
    if (typeof cat === 'string' && CRITICAL_LUNG_RADS.has(cat.toUpperCase())) reasons.push(`Lung-RADS ${cat}`);
  }
  return { critical: reasons.length > 0, reasons: [...new Set(reasons)] };
}

export interface StatusSummary {
  readonly status: AiStatus;
  /** 0..1 while running (mean of the running jobs). */
  readonly progress: number | null;
  readonly message: string | null;
}

/** Jobs newest first (queue order). A series whose newest job is active shows that; else results decide. */
export function statusOf(jobs: readonly JobRecord[], results: readonly ResultRecord[]): StatusSummary {
  const newest = new Map<string, JobRecord>();
  for (const j of jobs) {
    const key = `${j.analysisId}|${j.seriesInstanceUid}`;
    if (!newest.has(key)) newest.set(key, j);
  }
  const latest = [...newest.values()];
  const running = latest.filter((j) => j.state === 'running');
  if (running.length > 0) {
    const progress = running.reduce((a, j) => a + j.progress, 0) / running.length;
    return { status: 'running', progress: Math.round(progress * 100) / 100, message: running[0]?.progressMessage ?? null };
  }
  if (latest.some((j) => j.state === 'queued')) return { status: 'queued', progress: null, message: null };
  const failed = latest.filter((j) => j.state === 'failed');
  if (failed.length > 0 && results.filter((r) => r.status === 'ok').length === 0) return { status: 'failed', progress: null, message: failed[0]?.error?.message ?? null };
  if (results.length > 0) return { status: 'done', progress: null, message: null };
  return { status: 'none', progress: null, message: null };
}
