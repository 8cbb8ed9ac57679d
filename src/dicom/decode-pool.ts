/**
 * A pool of worker threads that decode DICOM slices straight into a shared Int16 volume: each job reads one
 * file, decodes one frame and writes its modality values at the job's offset (src/dicom/slice-decode.ts), so
 * compressed series (JPEG-LS, JPEG lossless, JPEG 2000, whose WASM/JS decoders run at 6–40 frames/s on one
 * core) scale with the cores.
 *
 * Why not the kernel pool (src/imaging/parallel.ts): kernels are synchronous chunk functions and that pool
 * blocks the calling thread on Atomics.wait; decoding is asynchronous (WASM codecs load lazily) and the
 * caller must stay responsive (progress, abort). The start-up follows the same pattern: workers do not
 * inherit tsx's hooks, so they start from the plain-JS `decode-worker.mjs`, which registers tsx first.
 *
 * Bounded failure: a job that fails comes back as its SrError (code, message naming the file); a worker that
 * dies (crash, out of memory) fails the file it was decoding with DICOM_WORKER_FAILED; a worker that makes no
 * progress for `frameTimeoutMs` is terminated and fails its file with DICOM_DECODE_TIMEOUT. The pool never
 * waits on a dead worker, and replaces it on the next run. Idle workers are unref'ed (they never keep the
 * process alive); workers with jobs in flight are ref'ed so an awaited run cannot be cut short by exit.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../core/errors.ts';
import { ERROR_CATALOGUE, SrError } from '../core/errors.ts';
import type { FromWorker, ToWorker } from './decode-worker-loop.ts';
import type { SliceJob } from './slice-decode.ts';

const MAX_THREADS = 16;
/** Jobs queued per worker: one decoding, one waiting, so a worker never idles while the main thread is busy. */
const DEPTH = 2;
const STARTUP_TIMEOUT_MS = 60_000;
export const DEFAULT_FRAME_TIMEOUT_MS = 120_000;

/** Default decode thread count: env SR_DECODE_THREADS if set, else os.availableParallelism() (capped at 16). */
export function decodeThreads(): number {
  const env = process.env['SR_DECODE_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1) return Math.min(n, MAX_THREADS);
  }
  return Math.max(1, Math.min(MAX_THREADS, os.availableParallelism()));
}

interface Pending {
  readonly job: SliceJob;
  readonly resolve: (clamped: number) => void;
  readonly reject: (e: SrError) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly ready: Promise<void>;
  /** Jobs sent and not answered, in the order the worker runs them. */
  readonly inFlight: Map<number, Pending>;
  dead: boolean;
  watchdog: NodeJS.Timeout | undefined;
  timeoutMs: number;
}

const pool: PoolWorker[] = [];
let nextId = 1;

function workerFailure(w: PoolWorker, code: ErrorCode, why: string): void {
  if (w.dead) return;
  w.dead = true;
  if (w.watchdog) clearTimeout(w.watchdog);
  const i = pool.indexOf(w);
  if (i >= 0) pool.splice(i, 1);
  const pending = [...w.inFlight.values()];
  w.inFlight.clear();
  // The oldest job is the one the worker was running; the others were only queued behind it.
  pending.forEach((p, k) => {
    const source = p.job.path;
    p.reject(k === 0
      ? new SrError(code, `${source}: ${why}`, { details: { source, frame: p.job.frameIndex } })
      : new SrError('DICOM_WORKER_FAILED', `${source}: not decoded, its worker ended (${why})`, { details: { source, frame: p.job.frameIndex } }));
  });
  void w.worker.terminate();
}

function armWatchdog(w: PoolWorker): void {
  if (w.watchdog) clearTimeout(w.watchdog);
  w.watchdog = undefined;
  if (w.inFlight.size === 0 || w.dead) return;
  w.watchdog = setTimeout(() => {
    workerFailure(w, 'DICOM_DECODE_TIMEOUT', `decoding made no progress for ${w.timeoutMs} ms; the worker was stopped`);
  }, w.timeoutMs);
}

function settleIdle(w: PoolWorker): void {
  if (w.inFlight.size === 0 && !w.dead) w.worker.unref();
}

function startWorker(): PoolWorker {
  const worker = new Worker(new URL('./decode-worker.mjs', import.meta.url));
  worker.unref();
  let readyResolve!: () => void;
  let readyReject!: (e: SrError) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  const w: PoolWorker = { worker, ready, inFlight: new Map(), dead: false, watchdog: undefined, timeoutMs: DEFAULT_FRAME_TIMEOUT_MS };
  const startTimer = setTimeout(() => {
    readyReject(new SrError('DICOM_WORKER_FAILED', `decode worker did not start within ${STARTUP_TIMEOUT_MS} ms`));
    workerFailure(w, 'DICOM_WORKER_FAILED', 'worker did not start');
  }, STARTUP_TIMEOUT_MS);
  startTimer.unref();
  worker.on('message', (msg: FromWorker) => {
    switch (msg.type) {
      case 'ready':
        clearTimeout(startTimer);
        readyResolve();
        return;
      case 'start-error':
        clearTimeout(startTimer);
        readyReject(new SrError('DICOM_WORKER_FAILED', `decode worker failed to start: ${msg.error}`));
        workerFailure(w, 'DICOM_WORKER_FAILED', `worker failed to start: ${msg.error}`);
        return;
      case 'done':
      case 'error': {
        const p = w.inFlight.get(msg.id);
        if (!p) return; // a job of a run that has already failed or been aborted
        w.inFlight.delete(msg.id);
        armWatchdog(w);
        settleIdle(w);
        if (msg.type === 'done') p.resolve(msg.clamped);
        else {
          const code: ErrorCode = msg.code in ERROR_CATALOGUE ? (msg.code as ErrorCode) : 'DICOM_DECODE_FAILED';
          p.reject(new SrError(code, msg.message, { details: msg.details }));
        }
        return;
      }
    }
  });
  worker.on('error', (e) => {
    clearTimeout(startTimer);
    readyReject(new SrError('DICOM_WORKER_FAILED', `decode worker failed: ${e.message}`, { cause: e }));
    workerFailure(w, 'DICOM_WORKER_FAILED', `decode worker failed: ${e.message}`);
  });
  worker.on('exit', (exitCode) => {
    clearTimeout(startTimer);
    readyReject(new SrError('DICOM_WORKER_FAILED', `decode worker exited with code ${exitCode} while starting`));
    workerFailure(w, 'DICOM_WORKER_FAILED', `decode worker exited with code ${exitCode}`);
  });
  return w;
}

/**
 * Starts (or reuses) `n` workers and waits until they are ready. Returns the ready ones; throws
 * DICOM_WORKER_FAILED when none could start.
 */
async function readyWorkers(n: number): Promise<PoolWorker[]> {
  while (pool.length < n) pool.push(startWorker());
  const candidates = pool.slice(0, n);
  const results = await Promise.allSettled(candidates.map((w) => w.ready));
  const ok = candidates.filter((w, i) => results[i]?.status === 'fulfilled' && !w.dead);
  if (ok.length === 0) {
    const first = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw first?.reason instanceof SrError ? first.reason : new SrError('DICOM_WORKER_FAILED', 'no decode worker could start');
  }
  return ok;
}

/** Starts `threads` decode workers ahead of time (a worker costs ~0.2–1 s to start). Returns the pool size. */
export async function startDecodePool(threads: number = decodeThreads()): Promise<number> {
  await readyWorkers(Math.max(1, Math.min(MAX_THREADS, threads)));
  return pool.length;
}

/** Terminates the pool's workers (they are unref'ed, so this is only needed to free them early). */
export async function shutdownDecodePool(): Promise<void> {
  const workers = pool.splice(0, pool.length);
  await Promise.all(workers.map(async (w) => {
    w.dead = true;
    if (w.watchdog) clearTimeout(w.watchdog);
    for (const p of w.inFlight.values()) p.reject(new SrError('DICOM_WORKER_FAILED', `${p.job.path}: decode pool shut down`, { details: { source: p.job.path } }));
    w.inFlight.clear();
    await w.worker.terminate();
  }));
}

/** Number of decode workers currently started (for benchmarks and tests). */
export function decodePoolSize(): number {
  return pool.length;
}

/** Test hook: the next decode job each worker receives makes it exit, as a crash would. */
export function crashDecodeWorkersForTest(): void {
  for (const w of pool) w.worker.postMessage({ type: 'crash-next' } satisfies ToWorker);
}

export interface DecodeRunOptions {
  readonly threads: number;
  readonly signal?: AbortSignal;
  /** Called after each decoded job. */
  readonly onDone?: () => void;
  readonly frameTimeoutMs?: number;
}

export interface DecodeRunResult {
  readonly clamped: number;
  /** Workers that took part. */
  readonly threads: number;
}

/**
 * Decodes jobs[i] into `out` at bases[i] on the pool. `out` must be backed by a SharedArrayBuffer. Rejects with
 * the first failure (an SrError naming the file); jobs of a failed run still running are left to finish and
 * their answers dropped.
 */
export async function decodeSlicesOnWorkers(
  jobs: readonly SliceJob[], bases: readonly number[], out: Int16Array, options: DecodeRunOptions,
): Promise<DecodeRunResult> {
  if (!(out.buffer instanceof SharedArrayBuffer)) throw new TypeError('decodeSlicesOnWorkers: out must be backed by a SharedArrayBuffer');
  if (jobs.length === 0) return { clamped: 0, threads: 0 };
  const timeoutMs = options.frameTimeoutMs ?? DEFAULT_FRAME_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new TypeError(`frameTimeoutMs must be positive, got ${timeoutMs}`);
  const workers = await readyWorkers(Math.max(1, Math.min(MAX_THREADS, options.threads, jobs.length)));
  if (options.signal?.aborted) throw options.signal.reason instanceof Error ? options.signal.reason : new Error('aborted');
  return new Promise<DecodeRunResult>((resolve, reject) => {
    let next = 0;
    let done = 0;
    let clamped = 0;
    let settled = false;
    const mine = new Map<number, PoolWorker>();
    const finish = (error: unknown): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      // Forget this run's outstanding jobs: late answers are dropped, the workers go back to idle.
      for (const [id, w] of mine) {
        w.inFlight.delete(id);
        armWatchdog(w);
        settleIdle(w);
      }
      mine.clear();
      if (error === undefined) resolve({ clamped, threads: workers.length });
      else reject(error);
    };
    const onAbort = (): void => finish(options.signal?.reason instanceof Error ? options.signal.reason : new Error('aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const pump = (w: PoolWorker): void => {
      while (!settled && !w.dead && w.inFlight.size < DEPTH && next < jobs.length) {
        const k = next++;
        const job = jobs[k] as SliceJob;
        const id = nextId++;
        w.timeoutMs = timeoutMs;
        w.inFlight.set(id, {
          job,
          resolve: (c) => {
            mine.delete(id);
            clamped += c;
            done++;
            try {
              options.onDone?.();
            } catch (e) {
              finish(e);
              return;
            }
            if (done === jobs.length) finish(undefined);
            else pump(w);
          },
          reject: (e) => {
            mine.delete(id);
            finish(e);
          },
        });
        mine.set(id, w);
        w.worker.ref();
        if (w.inFlight.size === 1) armWatchdog(w);
        w.worker.postMessage({ type: 'decode', id, job, base: bases[k] as number, out } satisfies ToWorker);
      }
    };
    for (const w of workers) pump(w);
  });
}
