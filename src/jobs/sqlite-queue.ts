/**
 * Embedded job queue: the jobs table in SQLite, workers in this process. In-process enqueues wake the workers
 * at once; polling (default 500 ms) covers jobs enqueued by another process sharing the file and due retries.
 * Survives restart: on open, jobs left 'running' by a dead process go back to queued (the attempt counted) or
 * fail with JOB_LOST when no attempts are left.
 */
import Database from 'better-sqlite3';
import { SrError, toSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { startAttempt, type AttemptStore, type AttemptTimings } from './attempt.ts';
import { AttemptSet } from './attempt-set.ts';
import { normalizeSpec, resolveTuning, startingWorker, type QueueTuning } from './policy.ts';
import { SqliteJobStore } from './sqlite-store.ts';
import type { JobHandler, JobQueue, WorkerHandle } from './types.ts';

export interface SqliteJobQueueOptions extends QueueTuning {
  /** A file path (opened and closed by the queue) or an open database (left open on close). */
  readonly db: string | Database.Database;
  readonly log: Logger;
}

interface Pool {
  readonly attempts: AttemptSet;
  stop(timeoutMs?: number): Promise<void>;
}

export function createSqliteJobQueue(options: SqliteJobQueueOptions): JobQueue {
  const { log } = options;
  const tuning = resolveTuning(options, 500);
  const ownsDb = typeof options.db === 'string';
  let db: Database.Database;
  let store: SqliteJobStore;
  try {
    db = typeof options.db === 'string' ? new Database(options.db) : options.db;
    store = new SqliteJobStore(db);
  } catch (e) {
    throw toSrError(e, 'JOB_QUEUE_UNAVAILABLE', 'Could not open the SQLite jobs table');
  }
  const pools = new Set<Pool>();
  const wakers = new Set<() => void>();
  let closed = false;
  const wake = (): void => {
    for (const w of wakers) w();
  };

  // Store errors (SQLITE_BUSY past the busy timeout, disk full) surface as one coded error.
  const guard = <T>(what: string, fn: () => T): T => {
    if (closed) throw new SrError('JOB_QUEUE_UNAVAILABLE', 'Job queue is closed');
    try {
      return fn();
    } catch (e) {
      throw toSrError(e, 'JOB_QUEUE_UNAVAILABLE', `Job queue: ${what} failed`);
    }
  };

  const recover = (): void => {
    const r = store.recoverLost(tuning.lostAfterMs);
    if (r.requeued + r.failed > 0) log.warn('recovered jobs whose worker disappeared', r);
    if (r.requeued > 0) wake();
  };
  guard('recovery', recover);

  const attemptStore: AttemptStore = {
    heartbeat: async (lease) => store.heartbeat(lease),
    progress: async (lease, fraction, message) => store.progress(lease, fraction, message),
    finish: async (lease, end) => {
      store.finish(lease, end);
      if (end.kind === 'requeue') wake();
      // A due retry is picked up by this process at once rather than at the next poll.
      if (end.kind === 'retry') setTimeout(wake, end.delayMs + 5).unref();
    },
  };
  const timings: AttemptTimings = tuning;

  function startWorkers(handler: JobHandler, opts: { concurrency: number; workerName?: string }): WorkerHandle {
    const { worker, owner } = startingWorker(closed, opts);
    const attempts = new AttemptSet();
    let stopping = false;
    const pump = (): void => {
      while (!stopping && !closed && attempts.size < opts.concurrency) {
        let claimed;
        try {
          claimed = store.claimNext(worker, owner);
        } catch (e) {
          log.warn('job claim failed; retrying at the next poll', { error: String(e) });
          return;
        }
        if (claimed === undefined) return;
        const attempt = startAttempt({ job: claimed.record, lease: claimed.lease, retryDelayMs: claimed.retryDelayMs, handler, store: attemptStore, timings, log });
        attempts.add(attempt);
        void attempt.done.then(() => setImmediate(pump));
      }
    };
    const poll = setInterval(pump, tuning.pollIntervalMs);
    const reaper = setInterval(() => {
      try {
        recover();
      } catch (e) {
        log.warn('lost-job recovery failed', { error: String(e) });
      }
    }, Math.max(1000, tuning.lostAfterMs / 2));
    wakers.add(pump);
    const pool: Pool = {
      attempts,
      async stop(timeoutMs = tuning.stopTimeoutMs) {
        if (stopping) return;
        stopping = true;
        clearInterval(poll);
        clearInterval(reaper);
        wakers.delete(pump);
        await attempts.drain(timeoutMs);
        pools.delete(pool);
      },
    };
    pools.add(pool);
    setImmediate(pump);
    return { stop: () => pool.stop() };
  }

  const abortLocal = (id: string): void => {
    for (const p of pools) p.attempts.abort(id, 'cancel');
  };

  return {
    backend: 'sqlite',
    async enqueue(spec) {
      const n = normalizeSpec(spec, tuning.defaults);
      const r = guard('enqueue', () => store.enqueue(n));
      if (r.replaced !== null) abortLocal(r.replaced);
      if (r.created) {
        log.info('job queued', { jobId: r.record.id, analysisId: n.analysisId, seriesInstanceUid: n.seriesInstanceUid, replaced: r.replaced });
        setImmediate(wake);
      }
      return r.record;
    },
    async get(id) {
      return guard('get', () => store.get(id));
    },
    async list(filter) {
      return guard('list', () => store.list(filter));
    },
    async cancel(id) {
      const r = guard('cancel', () => store.cancel(id));
      if (r?.state === 'running') abortLocal(id);
      return r;
    },
    startWorkers,
    async close() {
      if (closed) return;
      await Promise.all([...pools].map((p) => p.stop()));
      closed = true;
      if (ownsDb) db.close();
    },
  };
}
