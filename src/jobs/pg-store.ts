/**
 * The jobs table in PostgreSQL (scale-out back end): same columns as the SQLite one, plus the delivery hook. Every
 * transition to 'queued' sends one pg-boss message in the SAME transaction (`deliver`), so a queued row always has
 * a message on its way and a message never points at a row that was rolled back. Every other transition is one
 * conditional UPDATE: a message delivered twice, or to two processes, claims the row once.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { SrError } from '../core/errors.ts';
import type { AttemptEnd, HeartbeatResult, Lease } from './attempt.ts';
import { listWindow, rowToRecord, type JobRow, type NormalizedSpec } from './policy.ts';
import type { JobQueue, JobRecord } from './types.ts';

export type ListFilter = Parameters<JobQueue['list']>[0];
/** Sends the delivery message for job `jobId` on `client` (inside the caller's transaction). */
export type Deliver = (client: pg.PoolClient, jobId: string, delayMs: number, timeoutMs: number) => Promise<void>;

const IDENT = /^[a-z_][a-z0-9_]{0,39}$/;

export function assertSchemaName(schema: string): string {
  if (!IDENT.test(schema)) {
    throw new SrError('CONFIG_INVALID', 'PostgreSQL schema names must match [a-z_][a-z0-9_]{0,39}', { details: { schema } });
  }
  return schema;
}

function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.jobs (
  seq bigserial NOT NULL,
  id text PRIMARY KEY,
  analysis_id text NOT NULL,
  analysis_version text NOT NULL,
  study_instance_uid text NOT NULL,
  series_instance_uid text NOT NULL,
  trigger text NOT NULL,
  state text NOT NULL,
  progress double precision NOT NULL DEFAULT 0,
  progress_message text,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL,
  retry_delay_ms integer NOT NULL,
  timeout_ms integer NOT NULL,
  error_code text,
  error_message text,
  result_id text,
  worker text,
  owner text,
  run_token text,
  cancel_requested boolean NOT NULL DEFAULT false,
  run_after timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_active_key ON ${s}.jobs (analysis_id, analysis_version, series_instance_uid)
  WHERE state IN ('queued', 'running');
CREATE INDEX IF NOT EXISTS jobs_seq ON ${s}.jobs (seq);
CREATE INDEX IF NOT EXISTS jobs_running ON ${s}.jobs (heartbeat_at) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_series ON ${s}.jobs (series_instance_uid, seq);
`;
}

export class PgJobStore {
  private readonly t: string;

  constructor(
    private readonly pool: pg.Pool,
    schema: string,
    private readonly deliver: Deliver,
  ) {
    this.t = `${assertSchemaName(schema)}.jobs`;
  }

  /** Creates schema and table; several processes starting at once serialise on an advisory lock. */
  static async install(pool: pg.Pool, schema: string): Promise<void> {
    assertSchemaName(schema);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`secondreader.jobs.${schema}`]);
      await c.query(ddl(schema));
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = await this.pool.query<JobRow>(`SELECT * FROM ${this.t} WHERE id = $1`, [id]);
    const row = r.rows[0];
    return row === undefined ? undefined : rowToRecord(row);
  }

  async enqueue(spec: NormalizedSpec): Promise<{ record: JobRecord; created: boolean; replaced: string | null }> {
    return this.tx(async (c) => {
      // Serialises enqueues of one key across processes; the partial unique index is the backstop.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${this.t}|${spec.analysisId}|${spec.analysisVersion}|${spec.seriesInstanceUid}`]);
      const active = await c.query<JobRow>(
        `SELECT * FROM ${this.t} WHERE analysis_id = $1 AND analysis_version = $2 AND series_instance_uid = $3 AND state IN ('queued','running')`,
        [spec.analysisId, spec.analysisVersion, spec.seriesInstanceUid],
      );
      const old = active.rows[0];
      if (old !== undefined && !spec.force) return { record: rowToRecord(old), created: false, replaced: null };
      if (old !== undefined) {
        await c.query(`UPDATE ${this.t} SET state = 'cancelled', cancel_requested = true, finished_at = now() WHERE id = $1`, [old.id]);
      }
      const id = randomUUID();
      const ins = await c.query<JobRow>(
        `INSERT INTO ${this.t} (id, analysis_id, analysis_version, study_instance_uid, series_instance_uid, trigger, state,
           max_attempts, retry_delay_ms, timeout_ms)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9) RETURNING *`,
        [id, spec.analysisId, spec.analysisVersion, spec.studyInstanceUid, spec.seriesInstanceUid, spec.trigger, spec.maxAttempts, spec.retryDelayMs, spec.timeoutMs],
      );
      await this.deliver(c, id, 0, spec.timeoutMs);
      return { record: rowToRecord(ins.rows[0] as JobRow), created: true, replaced: old?.id ?? null };
    });
  }

  async list(filter: ListFilter): Promise<JobRecord[]> {
    const { limit, offset } = listWindow(filter);
    const where: string[] = [];
    const params: (string | number)[] = [];
    const add = (column: string, value: string | undefined): void => {
      if (value === undefined) return;
      params.push(value);
      where.push(`${column} = $${params.length}`);
    };
    add('state', filter.state);
    add('series_instance_uid', filter.seriesInstanceUid);
    add('analysis_id', filter.analysisId);
    params.push(limit, offset);
    const sql = `SELECT * FROM ${this.t} ${where.length ? 'WHERE ' + where.join(' AND ') : ''}
      ORDER BY seq DESC LIMIT $${params.length - 1} OFFSET $${params.length}`;
    return (await this.pool.query<JobRow>(sql, params)).rows.map(rowToRecord);
  }

  async cancel(id: string): Promise<JobRecord | undefined> {
    // One statement for both cases; the queued job's message is left to arrive and find nothing to claim.
    await this.pool.query(
      `UPDATE ${this.t} SET cancel_requested = true,
         state = CASE WHEN state = 'queued' THEN 'cancelled' ELSE state END,
         finished_at = CASE WHEN state = 'queued' THEN now() ELSE finished_at END
       WHERE id = $1 AND state IN ('queued', 'running')`,
      [id],
    );
    return this.get(id);
  }

  async claim(id: string, worker: string, owner: string): Promise<{ record: JobRecord; lease: Lease; retryDelayMs: number } | undefined> {
    const runToken = randomUUID();
    const r = await this.pool.query<JobRow>(
      `UPDATE ${this.t} SET state = 'running', attempts = attempts + 1, worker = $2, owner = $3, run_token = $4,
         started_at = now(), heartbeat_at = now(), finished_at = NULL, progress = 0, progress_message = NULL
       WHERE id = $1 AND state = 'queued' AND NOT cancel_requested
       RETURNING *`,
      [id, worker, owner, runToken],
    );
    const row = r.rows[0];
    if (row === undefined) return undefined;
    return { record: rowToRecord(row), lease: { id, runToken }, retryDelayMs: Number(row.retry_delay_ms) };
  }

  async heartbeat(lease: Lease): Promise<HeartbeatResult> {
    const r = await this.pool.query<{ cancel_requested: boolean }>(
      `UPDATE ${this.t} SET heartbeat_at = now() WHERE id = $1 AND run_token = $2 AND state = 'running' RETURNING cancel_requested`,
      [lease.id, lease.runToken],
    );
    const row = r.rows[0];
    if (row === undefined) return 'lost';
    return row.cancel_requested ? 'cancel-requested' : 'owned';
  }

  async progress(lease: Lease, fraction: number, message: string | null): Promise<void> {
    await this.pool.query(`UPDATE ${this.t} SET progress = $3, progress_message = $4 WHERE id = $1 AND run_token = $2 AND state = 'running'`, [
      lease.id,
      lease.runToken,
      fraction,
      message,
    ]);
  }

  async finish(lease: Lease, end: AttemptEnd): Promise<void> {
    const cond = `WHERE id = $1 AND run_token = $2 AND state = 'running'`;
    const key = [lease.id, lease.runToken];
    switch (end.kind) {
      case 'succeeded':
        await this.pool.query(`UPDATE ${this.t} SET state = 'succeeded', progress = 1, result_id = $3, error_code = NULL, error_message = NULL, finished_at = now() ${cond}`, [...key, end.resultId]);
        return;
      case 'failed':
        await this.pool.query(`UPDATE ${this.t} SET state = 'failed', error_code = $3, error_message = $4, finished_at = now() ${cond}`, [...key, end.error.code, end.error.message]);
        return;
      case 'cancelled':
        await this.pool.query(`UPDATE ${this.t} SET state = 'cancelled', finished_at = now() ${cond}`, key);
        return;
      case 'retry':
      case 'requeue': {
        const delayMs = end.kind === 'retry' ? end.delayMs : 0;
        await this.tx(async (c) => {
          const r =
            end.kind === 'retry'
              ? await c.query<{ timeout_ms: number }>(
                  `UPDATE ${this.t} SET state = 'queued', error_code = $3, error_message = $4, run_after = now() + $5 * interval '1 millisecond' ${cond} RETURNING timeout_ms`,
                  [...key, end.error.code, end.error.message, delayMs],
                )
              : await c.query<{ timeout_ms: number }>(`UPDATE ${this.t} SET state = 'queued', attempts = attempts - 1, run_after = now() ${cond} RETURNING timeout_ms`, key);
          const row = r.rows[0];
          if (row !== undefined) await this.deliver(c, lease.id, delayMs, Number(row.timeout_ms));
        });
        return;
      }
    }
  }

  /**
   * Running rows whose heartbeat is older than `lostAfterMs` (database clock: workers on several machines need
   * not agree on the time) go back to queued, attempt counted, with a new message; or fail with JOB_LOST.
   */
  async recoverLost(lostAfterMs: number): Promise<{ requeued: number; failed: number }> {
    return this.tx(async (c) => {
      const r = await c.query<{ id: string; state: string; timeout_ms: number }>(
        `UPDATE ${this.t} SET
           state = CASE WHEN cancel_requested THEN 'cancelled' WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
           error_code = CASE WHEN cancel_requested THEN error_code ELSE 'JOB_LOST' END,
           error_message = CASE WHEN cancel_requested THEN error_message ELSE 'Worker ' || COALESCE(owner, '?') || ' disappeared while running the job' END,
           finished_at = CASE WHEN cancel_requested OR attempts >= max_attempts THEN now() ELSE NULL END,
           run_after = now()
         WHERE state = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < now() - $1 * interval '1 millisecond')
         RETURNING id, state, timeout_ms`,
        [lostAfterMs],
      );
      let requeued = 0;
      let failed = 0;
      for (const row of r.rows) {
        if (row.state === 'queued') {
          requeued++;
          await this.deliver(c, row.id, 0, Number(row.timeout_ms));
        } else if (row.state === 'failed') failed++;
      }
      return { requeued, failed };
    });
  }
}
