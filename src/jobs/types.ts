/**
 * The job contract. A job runs one analysis (id@version) on one series. Two implementations: embedded (SQLite
 * table, in-process workers, survives restart) and scale-out (PostgreSQL: our jobs table for state/progress +
 * pg-boss@10 for delivery to `secondreader worker` processes on any machine). The queue knows no analysis: the
 * handler given to `startWorkers` does the work.
 *
 * Idempotency: at most one queued/running job per (analysisId, analysisVersion, seriesInstanceUid); enqueueing
 * again returns the existing active job (or, with `force`, cancels it and queues a new one). Results of a finished
 * run replace earlier results of the same key (the archive's putResult does that).
 */
import type { ErrorCode } from '../core/errors.ts';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface JobSpec {
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** 'auto' (series stable + routing rule) or 'manual' (API). */
  readonly trigger: 'auto' | 'manual';
  /** Default 3 attempts, exponential backoff from `retryDelayMs` (default 5 s). */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  /** Default: the analysis's own / 15 min. */
  readonly timeoutMs?: number;
  /** Re-run even if an active job exists (it is cancelled). */
  readonly force?: boolean;
}

export interface JobError {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface JobRecord {
  readonly id: string;
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly trigger: 'auto' | 'manual';
  readonly state: JobState;
  /** 0..1 */
  readonly progress: number;
  readonly progressMessage: string | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly timeoutMs: number;
  readonly error: JobError | null;
  /** Archive result id when succeeded. */
  readonly resultId: string | null;
  /** Worker that ran (or runs) it: hostname:pid. */
  readonly worker: string | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** What a worker handler gets: report progress, watch for cancellation/timeout. */
export interface JobContext {
  readonly job: JobRecord;
  readonly signal: AbortSignal;
  progress(fraction: number, message?: string): void;
}

/** Returns the archive result id. Throwing an SrError fails the attempt with its code (retried unless permanent). */
export type JobHandler = (ctx: JobContext) => Promise<{ resultId: string | null }>;

export interface WorkerHandle {
  stop(): Promise<void>;
}

export interface JobQueue {
  readonly backend: 'sqlite' | 'postgres';
  enqueue(spec: JobSpec): Promise<JobRecord>;
  get(id: string): Promise<JobRecord | undefined>;
  list(filter: { state?: JobState; seriesInstanceUid?: string; analysisId?: string; limit?: number; offset?: number }): Promise<JobRecord[]>;
  /** Queued → cancelled at once; running → its signal aborts and it ends cancelled. */
  cancel(id: string): Promise<JobRecord | undefined>;
  /** Runs jobs in this process with `concurrency` parallel handlers until stopped. */
  startWorkers(handler: JobHandler, options: { concurrency: number; workerName?: string }): WorkerHandle;
  close(): Promise<void>;
}
