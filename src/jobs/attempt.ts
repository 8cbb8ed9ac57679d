/**
 * One attempt of one job, the same on both back ends: run the handler with an abort signal, throttle its
 * progress writes, watch the row for cancellation (another process may cancel), enforce the timeout, then write
 * the outcome. Every write is conditional on the attempt's lease (job id + run token + state 'running'), so a
 * worker that lost its job (declared lost, force-replaced) can never overwrite what happened since.
 */
import { SrError, type ErrorCode } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { backoffMs, isPermanentError, jobErrorFrom } from './policy.ts';
import type { JobError, JobHandler, JobRecord } from './types.ts';

export interface Lease {
  readonly id: string;
  readonly runToken: string;
}

export type AttemptEnd =
  | { readonly kind: 'succeeded'; readonly resultId: string | null }
  | { readonly kind: 'failed'; readonly error: JobError }
  | { readonly kind: 'cancelled' }
  /** Back to queued after `delayMs`; the attempt counts. */
  | { readonly kind: 'retry'; readonly error: JobError; readonly delayMs: number }
  /** Back to queued at once because this worker is stopping; the attempt does not count (not the job's fault). */
  | { readonly kind: 'requeue' };

export type HeartbeatResult = 'owned' | 'cancel-requested' | 'lost';

/** What an attempt needs from the back end. */
export interface AttemptStore {
  heartbeat(lease: Lease): Promise<HeartbeatResult>;
  progress(lease: Lease, fraction: number, message: string | null): Promise<void>;
  finish(lease: Lease, end: AttemptEnd): Promise<void>;
}

export type AbortKind = 'cancel' | 'timeout' | 'shutdown' | 'lost';

export interface AttemptTimings {
  /** How often the row is polled for cancellation (and the lease's heartbeat refreshed). */
  readonly heartbeatMs: number;
  /** At most one progress write per this interval; the last value always lands. */
  readonly progressIntervalMs: number;
  /** After an abort, how long to wait for a handler that ignores its signal before freeing the slot. */
  readonly abortGraceMs: number;
}

/** A running attempt, as the queue sees it: to cancel it or stop it, and to wait for it. */
export interface RunningAttempt {
  readonly jobId: string;
  abort(kind: AbortKind): void;
  readonly done: Promise<void>;
}

const ABORT_CODES: Record<AbortKind, ErrorCode> = {
  cancel: 'ANALYSIS_CANCELLED',
  timeout: 'ANALYSIS_TIMEOUT',
  shutdown: 'JOB_QUEUE_UNAVAILABLE',
  lost: 'JOB_LOST',
};

function abortReason(kind: AbortKind, job: JobRecord): SrError {
  const text: Record<AbortKind, string> = {
    cancel: `Job ${job.id} was cancelled`,
    timeout: `Job ${job.id} exceeded its timeout of ${job.timeoutMs} ms`,
    shutdown: `Worker stopping; job ${job.id} goes back to the queue`,
    lost: `Job ${job.id} was taken over or replaced while this worker ran it`,
  };
  return new SrError(ABORT_CODES[kind], text[kind], { details: { jobId: job.id } });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Starts the attempt and returns at once; `done` settles after the outcome is written (it never rejects: write
 * failures are logged, and the lost-job recovery takes over such a row later).
 */
export function startAttempt(args: {
  job: JobRecord;
  lease: Lease;
  retryDelayMs: number;
  handler: JobHandler;
  store: AttemptStore;
  timings: AttemptTimings;
  log: Logger;
}): RunningAttempt {
  const { job, lease, store, timings, log } = args;
  const controller = new AbortController();
  let abortKind: AbortKind | null = null;
  const abort = (kind: AbortKind): void => {
    if (abortKind !== null) return;
    abortKind = kind;
    controller.abort(abortReason(kind, job));
  };

  const done = (async () => {
    const timeout = setTimeout(() => abort('timeout'), job.timeoutMs);
    let polling = false;
    const poll = setInterval(() => {
      if (polling) return;
      polling = true;
      store
        .heartbeat(lease)
        .then((r) => {
          if (r === 'cancel-requested') abort('cancel');
          else if (r === 'lost') abort('lost');
        })
        .catch((e: unknown) => log.warn('job heartbeat failed', { jobId: job.id, error: String(e) }))
        .finally(() => {
          polling = false;
        });
    }, timings.heartbeatMs);

    // Progress: the handler calls it synchronously and often; writes are serialised and throttled.
    let finished = false;
    let pending: { fraction: number; message: string | null } | null = null;
    let lastWrite = 0;
    let flushTimer: NodeJS.Timeout | null = null;
    let writes: Promise<void> = Promise.resolve();
    const flush = (): void => {
      flushTimer = null;
      if (pending === null || finished) return;
      const p = pending;
      pending = null;
      lastWrite = Date.now();
      writes = writes
        .then(() => store.progress(lease, p.fraction, p.message))
        .catch((e: unknown) => log.warn('job progress write failed', { jobId: job.id, error: String(e) }));
    };
    const progress = (fraction: number, message?: string): void => {
      if (finished || !Number.isFinite(fraction)) return;
      pending = { fraction: Math.min(1, Math.max(0, fraction)), message: message ?? null };
      const wait = lastWrite + timings.progressIntervalMs - Date.now();
      if (wait <= 0) flush();
      else flushTimer ??= setTimeout(flush, wait);
    };

    // Assigned in callbacks, which TypeScript's narrowing does not follow: hence the cast.
    let outcome = null as Outcome | null;
    const handlerDone = (async () => args.handler({ job, signal: controller.signal, progress }))().then(
      (value: unknown) => {
        outcome = { ok: true, value };
      },
      (e: unknown) => {
        outcome = { ok: false, error: e };
      },
    );
    const aborted = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([handlerDone, aborted]);
    if (outcome === null) {
      // Aborted: a cooperative handler settles within moments; one that ignores its signal keeps running, but
      // its slot is freed and its result discarded (the lease is gone).
      await Promise.race([handlerDone, sleep(timings.abortGraceMs)]);
      if (outcome === null) log.warn('job handler ignored its abort signal', { jobId: job.id, reason: abortKind });
    }
    finished = true;
    clearTimeout(timeout);
    clearInterval(poll);
    if (flushTimer !== null) clearTimeout(flushTimer);
    await writes;

    const end = decideEnd(outcome, abortKind, job, args.retryDelayMs);
    if (end === null) {
      log.warn('job lease lost; outcome discarded', { jobId: job.id });
      return;
    }
    try {
      await store.finish(lease, end);
      const fields = { jobId: job.id, attempt: job.attempts, end: end.kind };
      if (end.kind === 'failed' || end.kind === 'retry') log.warn('job attempt failed', { ...fields, code: end.error.code, message: end.error.message });
      else log.info('job attempt ended', fields);
    } catch (e) {
      log.error('job outcome could not be written; lost-job recovery will pick it up', { jobId: job.id, end: end.kind, error: String(e) });
    }
  })();
  return { jobId: job.id, abort, done };
}

function decideEnd(outcome: Outcome | null, abortKind: AbortKind | null, job: JobRecord, retryDelayMs: number): AttemptEnd | null {
  if (abortKind === 'lost') return null;
  if (outcome?.ok === true) {
    // Handlers written in plain JS (or cast) can return anything; only { resultId: string | null } counts.
    const r: unknown = typeof outcome.value === 'object' && outcome.value !== null ? (outcome.value as { resultId?: unknown }).resultId : undefined;
    if (r !== null && typeof r !== 'string') {
      return { kind: 'failed', error: { code: 'OUTPUT_INVALID', message: 'Job handler did not return { resultId: string | null }' } };
    }
    return { kind: 'succeeded', resultId: r };
  }
  // A handler that rejects because its signal fired: the abort is the cause, not the handler's error.
  if (abortKind === 'cancel') return { kind: 'cancelled' };
  if (abortKind === 'timeout') return { kind: 'failed', error: { code: 'ANALYSIS_TIMEOUT', message: `Job exceeded its timeout of ${job.timeoutMs} ms` } };
  if (abortKind === 'shutdown') return { kind: 'requeue' };
  const error = jobErrorFrom(outcome?.error, 'Analysis handler failed');
  if (isPermanentError(error.code) || job.attempts >= job.maxAttempts) return { kind: 'failed', error };
  return { kind: 'retry', error, delayMs: backoffMs(retryDelayMs, job.attempts) };
}
