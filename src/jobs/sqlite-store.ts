/**
 * The jobs table in SQLite (embedded back end). Synchronous, as better-sqlite3 is; every state change is one
 * conditional UPDATE, so several processes sharing the file (WAL, busy timeout) still run each attempt once.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import type { AttemptEnd, HeartbeatResult, Lease } from './attempt.ts';
import { listWindow, rowToRecord, type JobRow, type NormalizedSpec } from './policy.ts';
import type { JobQueue, JobRecord } from './types.ts';

type Db = BetterSqlite3.Database;
export type ListFilter = Parameters<JobQueue['list']>[0];

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  analysis_id TEXT NOT NULL,
  analysis_version TEXT NOT NULL,
  study_instance_uid TEXT NOT NULL,
  series_instance_uid TEXT NOT NULL,
  trigger TEXT NOT NULL,
  state TEXT NOT NULL,
  progress REAL NOT NULL DEFAULT 0,
  progress_message TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  retry_delay_ms INTEGER NOT NULL,
  timeout_ms INTEGER NOT NULL,
  error_code TEXT,
  error_message TEXT,
  result_id TEXT,
  worker TEXT,
  owner TEXT,
  run_token TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  run_after TEXT NOT NULL,
  heartbeat_at TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
);
-- Idempotency lives in the database, not in a check-then-insert race: one active job per key.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_key ON jobs (analysis_id, analysis_version, series_instance_uid)
  WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (state, run_after, seq);
CREATE INDEX IF NOT EXISTS jobs_series ON jobs (series_instance_uid, seq);
`;

const now = (): string => new Date().toISOString();

/** True only when the owner is a process on this host that no longer exists (never for this very process). */
function ownerIsDead(owner: string | null): boolean {
  if (owner === null) return false;
  const i = owner.lastIndexOf(':');
  const pid = Number(owner.slice(i + 1));
  if (owner.slice(0, i) !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (e) {
    // EPERM: alive, owned by another user.
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class SqliteJobStore {
  constructor(private readonly db: Db) {
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA);
  }

  private row(id: string): JobRow | undefined {
    return this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  get(id: string): JobRecord | undefined {
    const r = this.row(id);
    return r === undefined ? undefined : rowToRecord(r);
  }

  /** Returns the job and whether it is new (a new queued job wakes the workers). */
  enqueue(spec: NormalizedSpec): { record: JobRecord; created: boolean; replaced: string | null } {
    return this.db.transaction(() => {
      const active = this.db
        .prepare("SELECT * FROM jobs WHERE analysis_id = ? AND analysis_version = ? AND series_instance_uid = ? AND state IN ('queued','running')")
        .get(spec.analysisId, spec.analysisVersion, spec.seriesInstanceUid) as JobRow | undefined;
      if (active !== undefined && !spec.force) return { record: rowToRecord(active), created: false, replaced: null };
      const t = now();
      if (active !== undefined) {
        // Force: the old job is cancelled at once so the key is free; a worker still running it sees its lease
        // gone at its next heartbeat, aborts, and writes nothing.
        this.db.prepare("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ?").run(t, active.id);
      }
      const id = randomUUID();
      this.db
        .prepare(
          `INSERT INTO jobs (id, analysis_id, analysis_version, study_instance_uid, series_instance_uid, trigger, state,
             max_attempts, retry_delay_ms, timeout_ms, run_after, created_at)
           VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?)`,
        )
        .run(id, spec.analysisId, spec.analysisVersion, spec.studyInstanceUid, spec.seriesInstanceUid, spec.trigger, spec.maxAttempts, spec.retryDelayMs, spec.timeoutMs, t, t);
      return { record: rowToRecord(this.row(id) as JobRow), created: true, replaced: active?.id ?? null };
    }).immediate();
  }

  list(filter: ListFilter): JobRecord[] {
    const { limit, offset } = listWindow(filter);
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      where.push(`${column} = ?`);
      params.push(value);
    };
    add('state', filter.state);
    add('series_instance_uid', filter.seriesInstanceUid);
    add('analysis_id', filter.analysisId);
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY seq DESC LIMIT ? OFFSET ?`;
    return (this.db.prepare(sql).all(...params, limit, offset) as JobRow[]).map(rowToRecord);
  }

  /** Queued → cancelled now; running → flagged, its worker aborts and writes 'cancelled'. */
  cancel(id: string): JobRecord | undefined {
    this.db.prepare("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = ? WHERE id = ? AND state = 'queued'").run(now(), id);
    this.db.prepare("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND state = 'running'").run(id);
    return this.get(id);
  }

  /** Claims the next due job: one statement, so two pollers (threads or processes) never claim the same row. */
  claimNext(worker: string, owner: string): { record: JobRecord; lease: Lease; retryDelayMs: number } | undefined {
    const t = now();
    const runToken = randomUUID();
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, worker = ?, owner = ?, run_token = ?,
           started_at = ?, heartbeat_at = ?, finished_at = NULL, progress = 0, progress_message = NULL
         WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued' AND cancel_requested = 0 AND run_after <= ?
                      ORDER BY run_after, seq LIMIT 1)
           AND state = 'queued'
         RETURNING *`,
      )
      .get(worker, owner, runToken, t, t, t) as JobRow | undefined;
    if (row === undefined) return undefined;
    return { record: rowToRecord(row), lease: { id: row.id, runToken }, retryDelayMs: row.retry_delay_ms };
  }

  heartbeat(lease: Lease): HeartbeatResult {
    const r = this.db
      .prepare("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND run_token = ? AND state = 'running' RETURNING cancel_requested")
      .get(now(), lease.id, lease.runToken) as { cancel_requested: number } | undefined;
    if (r === undefined) return 'lost';
    return r.cancel_requested ? 'cancel-requested' : 'owned';
  }

  progress(lease: Lease, fraction: number, message: string | null): void {
    this.db.prepare("UPDATE jobs SET progress = ?, progress_message = ? WHERE id = ? AND run_token = ? AND state = 'running'").run(fraction, message, lease.id, lease.runToken);
  }

  finish(lease: Lease, end: AttemptEnd): void {
    const t = now();
    const cond = "WHERE id = ? AND run_token = ? AND state = 'running'";
    const key = [lease.id, lease.runToken];
    switch (end.kind) {
      case 'succeeded':
        this.db.prepare(`UPDATE jobs SET state = 'succeeded', progress = 1, result_id = ?, error_code = NULL, error_message = NULL, finished_at = ? ${cond}`).run(end.resultId, t, ...key);
        return;
      case 'failed':
        this.db.prepare(`UPDATE jobs SET state = 'failed', error_code = ?, error_message = ?, finished_at = ? ${cond}`).run(end.error.code, end.error.message, t, ...key);
        return;
      case 'cancelled':
        this.db.prepare(`UPDATE jobs SET state = 'cancelled', finished_at = ? ${cond}`).run(t, ...key);
        return;
      case 'retry':
        this.db.prepare(`UPDATE jobs SET state = 'queued', error_code = ?, error_message = ?, run_after = ? ${cond}`).run(end.error.code, end.error.message, new Date(Date.now() + end.delayMs).toISOString(), ...key);
        return;
      case 'requeue':
        this.db.prepare(`UPDATE jobs SET state = 'queued', attempts = attempts - 1, run_after = ? ${cond}`).run(t, ...key);
        return;
    }
  }

  /**
   * Running rows whose worker is gone (a process on this host that no longer exists, or a heartbeat older than
   * `lostAfterMs`) go back to queued, the attempt counted, or fail with JOB_LOST when none are left.
   * Returns how many were requeued.
   */
  recoverLost(lostAfterMs: number): { requeued: number; failed: number } {
    const staleBefore = new Date(Date.now() - lostAfterMs).toISOString();
    const running = this.db.prepare("SELECT id, owner, run_token, heartbeat_at FROM jobs WHERE state = 'running'").all() as {
      id: string;
      owner: string | null;
      run_token: string;
      heartbeat_at: string | null;
    }[];
    let requeued = 0;
    let failed = 0;
    const t = now();
    for (const r of running) {
      if (!ownerIsDead(r.owner) && r.heartbeat_at !== null && r.heartbeat_at >= staleBefore) continue;
      const res = this.db
        .prepare(
          `UPDATE jobs SET
             state = CASE WHEN cancel_requested = 1 THEN 'cancelled' WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
             error_code = CASE WHEN cancel_requested = 1 THEN error_code ELSE 'JOB_LOST' END,
             error_message = CASE WHEN cancel_requested = 1 THEN error_message ELSE 'Worker ' || COALESCE(owner, '?') || ' disappeared while running the job' END,
             finished_at = CASE WHEN cancel_requested = 1 OR attempts >= max_attempts THEN ? ELSE NULL END,
             run_after = ?
           WHERE id = ? AND run_token = ? AND state = 'running'
           RETURNING state`,
        )
        .get(t, t, r.id, r.run_token) as { state: string } | undefined;
      if (res?.state === 'queued') requeued++;
      else if (res?.state === 'failed') failed++;
    }
    return { requeued, failed };
  }
}
