/**
 * Queue policy shared by both back ends: defaults, which failures are worth retrying, backoff, spec validation,
 * and the row ↔ record mapping. Nothing here touches a database.
 */
import { hostname } from 'node:os';
import { ERROR_CATALOGUE, SrError, toSrError, type ErrorCode } from '../core/errors.ts';
import type { JobError, JobRecord, JobSpec, JobState } from './types.ts';

export const DEFAULT_MAX_ATTEMPTS = 3;
export const DEFAULT_RETRY_DELAY_MS = 5_000;
export const DEFAULT_TIMEOUT_MS = 15 * 60_000;

/**
 * Codes that mean "this input will fail the same way again": retrying wastes a worker for minutes and delays the
 * queue behind it. The data (DICOM_*, SERIES_*, VOLUME_*, NIFTI_*) or the analysis code (MANIFEST_INVALID,
 * OUTPUT_INVALID) would have to change first. ANALYSIS_TIMEOUT is here too: a deterministic analysis on the same
 * series takes as long again, and each retry would hold a worker for another full timeout. ANALYSIS_CANCELLED
 * is a person's decision. Everything else (I/O, archive, DIMSE, a thrown plain Error, JOB_LOST) may be transient.
 */
const PERMANENT_PREFIXES = ['DICOM_', 'SERIES_', 'VOLUME_', 'NIFTI_'] as const;
const PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'MANIFEST_INVALID',
  'OUTPUT_INVALID',
  'ANALYSIS_CANCELLED',
  'ANALYSIS_TIMEOUT',
  'KERNEL_INVALID_ARGUMENT',
  'JOB_INVALID_SPEC',
]);
// Transient exceptions inside the permanent families: a worker thread crash or a slow decode may not repeat.
const TRANSIENT_EXCEPTIONS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['DICOM_WORKER_FAILED', 'DICOM_DECODE_TIMEOUT']);

export function isPermanentError(code: ErrorCode): boolean {
  if (TRANSIENT_EXCEPTIONS.has(code)) return false;
  return PERMANENT_CODES.has(code) || PERMANENT_PREFIXES.some((p) => code.startsWith(p));
}

/** Delay before attempt `attempt + 1`, after `attempt` (1-based) failed: retryDelayMs · 2^(attempt−1). */
export function backoffMs(retryDelayMs: number, attempt: number): number {
  return retryDelayMs * 2 ** Math.max(0, attempt - 1);
}

/** The default worker name: which machine and process ran a job, for the operator reading the job list. */
export function defaultWorkerName(): string {
  return `${hostname()}:${process.pid}`;
}

/** The lease owner is always hostname:pid (the worker name may be customised), so a dead owner can be detected. */
export function ownerId(): string {
  return `${hostname()}:${process.pid}`;
}

/** What both queues check when workers start (the queue is open, concurrency is a positive integer) and who they are. */
export function startingWorker(closed: boolean, opts: { concurrency: number; workerName?: string }): { worker: string; owner: string } {
  if (closed) throw new SrError('JOB_QUEUE_UNAVAILABLE', 'Job queue is closed');
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) {
    throw new SrError('JOB_INVALID_SPEC', 'concurrency must be a positive integer', { details: { concurrency: opts.concurrency } });
  }
  return { worker: opts.workerName ?? defaultWorkerName(), owner: ownerId() };
}

export function jobErrorFrom(e: unknown, fallbackMessage: string): JobError {
  const sr = toSrError(e, 'ANALYSIS_FAILED', fallbackMessage);
  return { code: sr.code, message: sr.message };
}

export interface NormalizedSpec {
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly trigger: 'auto' | 'manual';
  readonly maxAttempts: number;
  readonly retryDelayMs: number;
  readonly timeoutMs: number;
  readonly force: boolean;
}

export interface SpecDefaults {
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  readonly timeoutMs?: number;
}

function requireText(spec: JobSpec, key: 'analysisId' | 'analysisVersion' | 'studyInstanceUid' | 'seriesInstanceUid'): string {
  const v: unknown = spec[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > 256) {
    throw new SrError('JOB_INVALID_SPEC', `${key} must be a non-empty string of at most 256 characters`, { details: { key } });
  }
  return v;
}

function requireInt(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new SrError('JOB_INVALID_SPEC', `${key} must be an integer in [${min}, ${max}]`, { details: { key, value } });
  }
  return value;
}

export function normalizeSpec(spec: JobSpec, defaults: SpecDefaults = {}): NormalizedSpec {
  if (spec.trigger !== 'auto' && spec.trigger !== 'manual') {
    throw new SrError('JOB_INVALID_SPEC', "trigger must be 'auto' or 'manual'", { details: { key: 'trigger' } });
  }
  return {
    analysisId: requireText(spec, 'analysisId'),
    analysisVersion: requireText(spec, 'analysisVersion'),
    studyInstanceUid: requireText(spec, 'studyInstanceUid'),
    seriesInstanceUid: requireText(spec, 'seriesInstanceUid'),
    trigger: spec.trigger,
    maxAttempts: requireInt(spec.maxAttempts ?? defaults.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 'maxAttempts', 1, 100),
    retryDelayMs: requireInt(spec.retryDelayMs ?? defaults.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS, 'retryDelayMs', 0, 24 * 3_600_000),
    // pg-boss refuses message expirations of 24 h or more; a longer analysis is a bug anyway.
    timeoutMs: requireInt(spec.timeoutMs ?? defaults.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs', 1, 20 * 3_600_000),
    force: spec.force === true,
  };
}

/** The stored row, as both back ends name the columns (PostgreSQL gives Dates and booleans; SQLite text and 0/1). */
export interface JobRow {
  id: string;
  analysis_id: string;
  analysis_version: string;
  study_instance_uid: string;
  series_instance_uid: string;
  trigger: string;
  state: string;
  progress: number;
  progress_message: string | null;
  attempts: number;
  max_attempts: number;
  retry_delay_ms: number;
  timeout_ms: number;
  error_code: string | null;
  error_message: string | null;
  result_id: string | null;
  worker: string | null;
  created_at: string | Date;
  started_at: string | Date | null;
  finished_at: string | Date | null;
}

const STATES: ReadonlySet<string> = new Set<JobState>(['queued', 'running', 'succeeded', 'failed', 'cancelled']);

function iso(v: string | Date | null): string | null {
  if (v === null) return null;
  return v instanceof Date ? v.toISOString() : v;
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CATALOGUE, code);
}

export function rowToRecord(row: JobRow): JobRecord {
  if (!STATES.has(row.state)) throw new SrError('JOB_QUEUE_UNAVAILABLE', `Job ${row.id} has unknown state ${row.state}`);
  const code = row.error_code;
  return {
    id: row.id,
    analysisId: row.analysis_id,
    analysisVersion: row.analysis_version,
    studyInstanceUid: row.study_instance_uid,
    seriesInstanceUid: row.series_instance_uid,
    trigger: row.trigger === 'auto' ? 'auto' : 'manual',
    state: row.state as JobState,
    progress: Number(row.progress),
    progressMessage: row.progress_message,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    timeoutMs: Number(row.timeout_ms),
    // A code written by a newer version that this one does not know still shows, as ANALYSIS_FAILED.
    error: code === null ? null : { code: isErrorCode(code) ? code : 'ANALYSIS_FAILED', message: row.error_message ?? '' },
    resultId: row.result_id,
    worker: row.worker,
    createdAt: iso(row.created_at) ?? '',
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
  };
}

export const LIST_DEFAULT_LIMIT = 100;
export const LIST_MAX_LIMIT = 1000;

export function listWindow(filter: { limit?: number; offset?: number }): { limit: number; offset: number } {
  const limit = filter.limit === undefined ? LIST_DEFAULT_LIMIT : Math.trunc(filter.limit);
  const offset = filter.offset === undefined ? 0 : Math.trunc(filter.offset);
  if (!Number.isFinite(limit) || limit < 1 || limit > LIST_MAX_LIMIT) {
    throw new SrError('JOB_INVALID_SPEC', `limit must be in [1, ${LIST_MAX_LIMIT}]`, { details: { limit: filter.limit } });
  }
  if (!Number.isFinite(offset) || offset < 0) {
    throw new SrError('JOB_INVALID_SPEC', 'offset must be ≥ 0', { details: { offset: filter.offset } });
  }
  return { limit, offset };
}

/** Tuning both back ends accept; defaults suit analyses of seconds to minutes. */
export interface QueueTuning {
  /** Defaults for specs that leave maxAttempts / retryDelayMs / timeoutMs out. */
  readonly defaults?: SpecDefaults;
  /** How often an idle worker looks for due jobs (SQLite: the table; PostgreSQL: pg-boss, at least 500 ms). */
  readonly pollIntervalMs?: number;
  /** How often a running job's row is read for cancellation and its heartbeat refreshed. Default 1000. */
  readonly heartbeatMs?: number;
  /** Minimum spacing of progress writes. Default 500. */
  readonly progressIntervalMs?: number;
  /** A running row whose heartbeat is older than this is lost (its worker died). Default 120 s: an analysis that
   *  blocks the event loop must not be declared lost while it is merely busy. */
  readonly lostAfterMs?: number;
  /** Graceful stop: how long to wait for running handlers before requeueing them. Default 30 s. */
  readonly stopTimeoutMs?: number;
  /** After an abort, how long a handler may take to notice before its slot is freed. Default 5 s. */
  readonly abortGraceMs?: number;
}

export interface ResolvedTuning {
  readonly defaults: SpecDefaults;
  readonly pollIntervalMs: number;
  readonly heartbeatMs: number;
  readonly progressIntervalMs: number;
  readonly lostAfterMs: number;
  readonly stopTimeoutMs: number;
  readonly abortGraceMs: number;
}

export function resolveTuning(t: QueueTuning, pollDefaultMs: number): ResolvedTuning {
  return {
    defaults: t.defaults ?? {},
    pollIntervalMs: t.pollIntervalMs ?? pollDefaultMs,
    heartbeatMs: t.heartbeatMs ?? 1000,
    progressIntervalMs: t.progressIntervalMs ?? 500,
    lostAfterMs: t.lostAfterMs ?? 120_000,
    stopTimeoutMs: t.stopTimeoutMs ?? 30_000,
    abortGraceMs: t.abortGraceMs ?? 5_000,
  };
}
