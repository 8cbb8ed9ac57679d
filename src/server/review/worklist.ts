/**
 * The worklist in SQL: filtering (search, AI status, critical, report state), ordering (critical first, unsigned
 * before signed, newest study) and paging run in the archive's index database, so one call costs a bounded number
 * of queries whatever the archive's size:
 *   1. the studies whose results changed since their triage was cached (results grouped by study vs review_triage),
 *      plus cached rows whose results are gone — usually none;
 *   2. only if some changed: their results, 200 studies per query, triaged (triage.ts) and upserted in one transaction;
 *   3. COUNT(*) of the filtered studies; 4. the page itself; 5. the page's modalities.
 * Plus three bounded job-queue reads (running, queued, the newest failed), which may live in another database: the
 * AI status filter becomes `study_uid IN (...)` lists built from them.
 *
 * review_triage caches, per study, what triage needs from the result documents (JSON, not queryable portably):
 * critical, reasons, number of findings, analyses. Its key is (number of results, newest created_at): a re-run
 * rewrites created_at (sql-archive putResult), a deleted result changes the count.
 */
import type { ResultRecord } from '../../archive/index.ts';
import type { SqlDb, SqlRow, SqlValue } from '../../archive/db.ts';
import type { JobQueue, JobRecord } from '../../jobs/index.ts';
import { findingsOf, statusOf, triageOf } from './triage.ts';
import type { AiStatus, StatusSummary, Triage } from './triage.ts';

export interface WorklistQuery {
  readonly q?: string | undefined;
  readonly status?: AiStatus | undefined;
  readonly critical?: boolean | undefined;
  readonly report?: 'none' | 'draft' | 'signed' | undefined;
  readonly limit: number;
  readonly offset: number;
}

export interface WorklistItem {
  readonly studyInstanceUid: string;
  readonly patientName: string;
  readonly patientId: string;
  readonly studyDate: string;
  readonly studyTime: string;
  readonly accessionNumber: string;
  readonly studyDescription: string;
  readonly modalities: string;
  readonly ai: StatusSummary;
  readonly triage: Triage;
  readonly findings: number;
  readonly analyses: readonly string[];
  readonly report: 'none' | 'draft' | 'signed';
}

export interface WorklistPage {
  readonly items: WorklistItem[];
  readonly total: number;
  readonly limit: number;
  readonly offset: number;
}

/** How many jobs of each state the AI-status computation reads (newest first). */
export const WORKLIST_JOB_WINDOW = 1000;
const REFRESH_CHUNK = 200;

export function triageDdl(text: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS review_triage (
      study_uid ${text} PRIMARY KEY,
      results_n INTEGER NOT NULL, results_at ${text} NOT NULL, ok_n INTEGER NOT NULL,
      critical INTEGER NOT NULL, reasons ${text} NOT NULL, findings INTEGER NOT NULL, analyses ${text} NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS review_triage_critical ON review_triage (critical, study_uid)`,
  ];
}

function s(r: SqlRow, k: string): string {
  const v = r[k];
  return v === null || v === undefined ? '' : String(v);
}

function jsonArray(v: unknown): string[] {
  try {
    const a = JSON.parse(typeof v === 'string' ? v : '[]') as unknown;
    return Array.isArray(a) ? a.map(String) : [];
  } catch {
    return [];
  }
}

function resultOf(r: SqlRow): ResultRecord {
  let document: unknown = null;
  try {
    document = JSON.parse(s(r, 'document')) as unknown;
  } catch {
    // A damaged document triages as "no findings" rather than failing the whole worklist.
  }
  return {
    id: s(r, 'id'), analysisId: s(r, 'analysis_id'), analysisVersion: s(r, 'analysis_version'), studyInstanceUid: s(r, 'study_uid'),
    seriesInstanceUid: s(r, 'series_uid'), status: s(r, 'status') as ResultRecord['status'], document, attachments: {},
    createdAt: s(r, 'created_at'), jobId: null,
  };
}

const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** Brings review_triage up to date with the results table (steps 1–2 above). Returns how many studies it re-triaged. */
export async function refreshTriage(db: SqlDb): Promise<number> {
  const stale = (await db.all(
    `SELECT a.study_uid, a.n, a.m FROM (SELECT study_uid, COUNT(*) AS n, MAX(created_at) AS m FROM results GROUP BY study_uid) a
     LEFT JOIN review_triage t ON t.study_uid = a.study_uid
     WHERE t.study_uid IS NULL OR t.results_n <> a.n OR t.results_at <> a.m`,
  )).map((r) => ({ uid: s(r, 'study_uid'), n: Number(r['n']), m: s(r, 'm') }));
  const gone = await db.all('SELECT t.study_uid FROM review_triage t WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.study_uid = t.study_uid)');
  if (gone.length > 0) {
    const uids = gone.map((r) => s(r, 'study_uid'));
    for (let i = 0; i < uids.length; i += 500) {
      const chunk = uids.slice(i, i + 500);
      await db.run(`DELETE FROM review_triage WHERE study_uid IN (${marks(chunk.length)})`, chunk);
    }
  }
  for (let i = 0; i < stale.length; i += REFRESH_CHUNK) {
    const chunk = stale.slice(i, i + REFRESH_CHUNK);
    const rows = await db.all(
      `SELECT id, analysis_id, analysis_version, study_uid, series_uid, status, document, created_at FROM results WHERE study_uid IN (${marks(chunk.length)})`,
      chunk.map((c) => c.uid),
    );
    const byStudy = new Map<string, ResultRecord[]>();
    for (const r of rows) {
      const rec = resultOf(r);
      byStudy.set(rec.studyInstanceUid, [...(byStudy.get(rec.studyInstanceUid) ?? []), rec]);
    }
    const values: SqlValue[] = [];
    for (const c of chunk) {
      const results = byStudy.get(c.uid) ?? [];
      const t = triageOf(results);
      const ok = results.filter((r) => r.status === 'ok');
      values.push(c.uid, c.n, c.m, ok.length, t.critical ? 1 : 0, JSON.stringify(t.reasons),
        ok.reduce((a, r) => a + findingsOf(r).length, 0), JSON.stringify([...new Set(results.map((r) => r.analysisId))].sort()));
    }
    await db.run(
      `INSERT INTO review_triage (study_uid, results_n, results_at, ok_n, critical, reasons, findings, analyses)
       VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
       ON CONFLICT (study_uid) DO UPDATE SET results_n = excluded.results_n, results_at = excluded.results_at, ok_n = excluded.ok_n,
         critical = excluded.critical, reasons = excluded.reasons, findings = excluded.findings, analyses = excluded.analyses`,
      values,
    );
  }
  return stale.length;
}

interface JobView {
  readonly byStudy: Map<string, JobRecord[]>;
  /** Status from the jobs alone (statusOf with no results): running / queued / failed / none. */
  readonly jobStatus: Map<string, StatusSummary>;
}

async function jobView(queue: JobQueue): Promise<JobView> {
  const [running, queued, failed] = await Promise.all((['running', 'queued', 'failed'] as const).map((state) => queue.list({ state, limit: WORKLIST_JOB_WINDOW })));
  const byStudy = new Map<string, JobRecord[]>();
  for (const j of [...(running ?? []), ...(queued ?? []), ...(failed ?? [])]) byStudy.set(j.studyInstanceUid, [...(byStudy.get(j.studyInstanceUid) ?? []), j]);
  const jobStatus = new Map<string, StatusSummary>();
  for (const [uid, jobs] of byStudy) {
    jobs.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    jobStatus.set(uid, statusOf(jobs, []));
  }
  return { byStudy, jobStatus };
}

function inList(col: string, uids: readonly string[], params: SqlValue[], negate = false): string {
  if (uids.length === 0) return negate ? '1 = 1' : '1 = 0';
  params.push(...uids);
  return `${col} ${negate ? 'NOT IN' : 'IN'} (${marks(uids.length)})`;
}

/** Escapes LIKE wildcards with '!' (portable ESCAPE character in SQLite and PostgreSQL). */
function likeContains(needle: string): string {
  return `%${needle.replace(/[!%_]/g, (c) => `!${c}`)}%`;
}

export async function worklistPage(db: SqlDb, queue: JobQueue, q: WorklistQuery): Promise<WorklistPage> {
  const [, jobs] = await Promise.all([refreshTriage(db), jobView(queue)]);
  const where: string[] = [];
  const params: SqlValue[] = [];
  const needle = q.q?.trim().toUpperCase() ?? '';
  if (needle) {
    const cols = ['st.patient_name', 'st.patient_id', 'st.accession_number', 'st.study_description'];
    where.push(`(${cols.map((c) => `UPPER(COALESCE(${c}, '')) LIKE ? ESCAPE '!'`).join(' OR ')})`);
    for (let i = 0; i < cols.length; i++) params.push(likeContains(needle));
  }
  if (q.critical !== undefined) where.push(q.critical ? 'COALESCE(t.critical, 0) = 1' : 'COALESCE(t.critical, 0) = 0');
  if (q.report === 'none') where.push('rr.study_uid IS NULL');
  else if (q.report !== undefined) {
    where.push('rr.status = ?');
    params.push(q.report);
  }
  if (q.status !== undefined) {
    const by = (st: AiStatus): string[] => [...jobs.jobStatus].filter(([, v]) => v.status === st).map(([k]) => k);
    const active = [...by('running'), ...by('queued')];
    const failed = by('failed');
    const results = 'COALESCE(t.results_n, 0)';
    const ok = 'COALESCE(t.ok_n, 0)';
    if (q.status === 'running' || q.status === 'queued') where.push(inList('st.study_uid', by(q.status), params));
    else if (q.status === 'failed') where.push(`${inList('st.study_uid', failed, params)} AND ${ok} = 0`);
    else if (q.status === 'done') {
      where.push(`${inList('st.study_uid', active, params, true)} AND ${results} > 0 AND NOT (${inList('st.study_uid', failed, params)} AND ${ok} = 0)`);
    } else where.push(`${inList('st.study_uid', [...active, ...failed], params, true)} AND ${results} = 0`);
  }
  const from = `studies st LEFT JOIN review_triage t ON t.study_uid = st.study_uid LEFT JOIN review_reports rr ON rr.study_uid = st.study_uid
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}`;
  const total = Number((await db.all(`SELECT COUNT(*) AS n FROM ${from}`, params))[0]?.['n'] ?? 0);
  // NULL dates sort last in both dialects (PostgreSQL would put NULL first in DESC order).
  const rows = await db.all(
    `SELECT st.study_uid, st.patient_name, st.patient_id, st.study_date, st.study_time, st.accession_number, st.study_description,
       COALESCE(t.critical, 0) AS critical, t.reasons, COALESCE(t.findings, 0) AS findings, t.analyses, COALESCE(t.results_n, 0) AS results_n,
       COALESCE(t.ok_n, 0) AS ok_n, rr.status AS report
     FROM ${from}
     ORDER BY COALESCE(t.critical, 0) DESC, CASE WHEN rr.status = 'signed' THEN 1 ELSE 0 END,
       COALESCE(st.study_date, '') DESC, COALESCE(st.study_time, '') DESC, st.study_uid
     LIMIT ? OFFSET ?`,
    [...params, q.limit, q.offset],
  );
  const uids = rows.map((r) => s(r, 'study_uid'));
  const modalities = new Map<string, Set<string>>();
  if (uids.length > 0) {
    for (const r of await db.all(`SELECT DISTINCT study_uid, modality FROM series WHERE study_uid IN (${marks(uids.length)})`, uids)) {
      const set = modalities.get(s(r, 'study_uid')) ?? new Set<string>();
      set.add(s(r, 'modality'));
      modalities.set(s(r, 'study_uid'), set);
    }
  }
  const items = rows.map((r): WorklistItem => {
    const uid = s(r, 'study_uid');
    const resultsN = Number(r['results_n']);
    const okN = Number(r['ok_n']);
    const fromJobs = jobs.jobStatus.get(uid);
    let ai: StatusSummary;
    if (fromJobs && (fromJobs.status === 'running' || fromJobs.status === 'queued')) ai = fromJobs;
    else if (fromJobs?.status === 'failed' && okN === 0) ai = fromJobs;
    else ai = { status: resultsN > 0 ? 'done' : 'none', progress: null, message: null };
    const report = s(r, 'report');
    return {
      studyInstanceUid: uid, patientName: s(r, 'patient_name'), patientId: s(r, 'patient_id'), studyDate: s(r, 'study_date'), studyTime: s(r, 'study_time'),
      accessionNumber: s(r, 'accession_number'), studyDescription: s(r, 'study_description'),
      modalities: [...(modalities.get(uid) ?? [])].sort().join('\\'),
      ai, triage: { critical: Number(r['critical']) === 1, reasons: jsonArray(r['reasons']) }, findings: Number(r['findings']), analyses: jsonArray(r['analyses']),
      report: report === 'signed' ? 'signed' : report === 'draft' ? 'draft' : 'none',
    };
  });
  return { items, total, limit: q.limit, offset: q.offset };
}
