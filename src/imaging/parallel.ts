/**
 * A small synchronous worker pool for the kernels. A kernel splits its work into independent chunks (slices,
 * rows); the calling thread and the pool's workers take chunks from a shared atomic counter until none are left,
 * and the calling thread blocks on `Atomics.wait` until every worker has finished. Kernels therefore keep a
 * synchronous signature whether they run on one thread or many.
 *
 * Traps this design avoids:
 * - The calling thread cannot process events while it waits, so workers report through shared memory
 *   (an Int32Array control block) and `receiveMessageOnPort`, never through 'message' events.
 * - Workers do not inherit tsx's module hooks: they start from the plain-JS `kernel-worker.mjs`, which registers
 *   tsx and then imports the TypeScript task table.
 * - Idle workers are unref'ed, so the pool never keeps the process alive; `shutdownKernelPool()` ends them.
 */
import os from 'node:os';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { SrError } from '../core/errors.ts';
import { runTaskChunk } from './kernel-tasks.ts';
import type { TaskName, TaskParams } from './kernel-tasks.ts';
import { invalid } from './kernel-options.ts';

/** Below this many voxels a kernel runs on the calling thread: starting work on workers costs more than it saves. */
export const PARALLEL_MIN_VOXELS = 2_000_000;
const MAX_THREADS = 16;
const STARTUP_TIMEOUT_MS = 60_000;

// Control block layout (Int32Array over a SharedArrayBuffer).
const NEXT = 0;
const DONE = 1;
const FAILED = 2;

interface PoolWorker {
  worker: Worker;
  port: MessagePort;
}

const pool: PoolWorker[] = [];

/** Default thread count: env SR_KERNEL_THREADS if set, else os.availableParallelism() capped at 8. */
export function kernelThreads(): number {
  const env = process.env['SR_KERNEL_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1) return Math.min(n, MAX_THREADS);
  }
  return Math.max(1, Math.min(8, os.availableParallelism()));
}

/** Threads a kernel will use for a volume of `voxels` voxels given the caller's `threads` option. */
export function resolveThreads(threads: number | undefined, voxels: number): number {
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw invalid(`threads must be a positive integer, got ${threads}`);
  }
  if (voxels < PARALLEL_MIN_VOXELS) return 1;
  return Math.min(threads ?? kernelThreads(), MAX_THREADS);
}

let startFailure: SrError | undefined;

/**
 * Grows the pool to n workers, starting the missing ones together. Blocking is safe: workers load on their own
 * threads and report through a shared status word (0 starting, 1 ready, 2 failed).
 */
function ensureWorkers(n: number): void {
  if (pool.length >= n || startFailure) return;
  const starting: (PoolWorker & { status: Int32Array })[] = [];
  while (pool.length + starting.length < n) {
    const status = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./kernel-worker.mjs', import.meta.url), {
      workerData: { status, port: port2 },
      transferList: [port2],
    });
    worker.unref();
    port1.unref();
    starting.push({ worker, port: port1, status });
  }
  const deadline = Date.now() + STARTUP_TIMEOUT_MS;
  for (const w of starting) {
    const result = Atomics.wait(w.status, 0, 0, Math.max(1, deadline - Date.now()));
    if (result !== 'timed-out' && Atomics.load(w.status, 0) === 1) {
      pool.push({ worker: w.worker, port: w.port });
      continue;
    }
    const msg = receiveMessageOnPort(w.port)?.message as { error?: string } | undefined;
    void w.worker.terminate();
    startFailure ??= new SrError('KERNEL_WORKER_FAILED', `kernel worker failed to start: ${msg?.error ?? result}`);
  }
}

/**
 * Runs chunks 0..nChunks-1 of a task on `threads` threads (the caller included) and returns when all are done.
 * Typed arrays in `params` must be backed by SharedArrayBuffers when threads > 1 (see `shareArray`).
 */
export function runChunks<N extends TaskName>(task: N, params: TaskParams<N>, nChunks: number, threads: number): void {
  const wanted = Math.max(0, Math.min(threads, nChunks) - 1);
  // A pool that cannot start degrades to fewer threads (the calling thread always works); startKernelPool reports it.
  if (wanted > 0) ensureWorkers(wanted);
  const nWorkers = Math.min(wanted, pool.length);
  if (nWorkers === 0) {
    for (let c = 0; c < nChunks; c++) runTaskChunk(task, params, c);
    return;
  }
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  for (let w = 0; w < nWorkers; w++) {
    const pw = pool[w] as PoolWorker;
    while (receiveMessageOnPort(pw.port) !== undefined); // drop a report left over from an earlier failure
    pw.port.postMessage({ task, params, ctl, nChunks });
  }
  let localError: unknown;
  try {
    for (let c = Atomics.add(ctl, NEXT, 1); c < nChunks; c = Atomics.add(ctl, NEXT, 1)) {
      runTaskChunk(task, params, c);
    }
  } catch (e) {
    localError = e;
    // Make the workers stop taking chunks.
    Atomics.store(ctl, NEXT, nChunks);
  }
  for (let done = Atomics.load(ctl, DONE); done < nWorkers; done = Atomics.load(ctl, DONE)) {
    Atomics.wait(ctl, DONE, done, 1000);
  }
  if (localError !== undefined) throw localError;
  if (Atomics.load(ctl, FAILED) !== 0) {
    let message = 'unknown error';
    for (let w = 0; w < nWorkers; w++) {
      const pw = pool[w];
      const m = pw && receiveMessageOnPort(pw.port);
      const error = (m?.message as { error?: string } | undefined)?.error;
      if (error !== undefined) message = error;
    }
    throw new SrError('KERNEL_WORKER_FAILED', `kernel task ${task} failed in a worker: ${message}`);
  }
}

/**
 * Starts the workers a `threads`-thread kernel needs (default kernelThreads()) ahead of time, so the first
 * large kernel call does not pay for their start-up (~0.1–0.5 s each). Returns the pool size.
 */
export function startKernelPool(threads: number = kernelThreads()): number {
  ensureWorkers(resolveThreads(threads, PARALLEL_MIN_VOXELS) - 1);
  if (startFailure) throw startFailure;
  return pool.length;
}

/** Terminates the pool's workers (they are unref'ed, so this is only needed to free them early). */
export async function shutdownKernelPool(): Promise<void> {
  const workers = pool.splice(0, pool.length);
  await Promise.all(workers.map(async (w) => {
    w.port.close();
    await w.worker.terminate();
  }));
}

/** Number of workers currently started (for benchmarks and tests). */
export function kernelPoolSize(): number {
  return pool.length;
}
