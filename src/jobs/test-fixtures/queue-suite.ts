/**
 * The one test suite both JobQueue back ends must pass. Each test gets a fresh, empty store from the harness
 * (SQLite: a new file; PostgreSQL: a new schema for our table and pg-boss's), and everything it opens or spawns is
 * closed in `finally`. Waits are polls with generous deadlines; no assertion depends on how fast the machine is.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { SrError, isSrError } from '../../core/errors.ts';
import type { QueueTuning } from '../policy.ts';
import type { JobHandler, JobQueue, JobRecord, JobSpec, JobState } from '../types.ts';
import type { WorkerFixtureConfig } from './worker-process.ts';

export interface Backend {
  open(tuning?: QueueTuning): Promise<JobQueue>;
  readonly fixture: WorkerFixtureConfig['backend'];
  dispose(): Promise<void>;
}

export interface QueueHarness {
  readonly name: string;
  create(): Promise<Backend>;
}

/** Fast timings for tests: the production defaults are seconds to minutes. */
export const TEST_TUNING: QueueTuning = { pollIntervalMs: 100, heartbeatMs: 150, progressIntervalMs: 100, stopTimeoutMs: 5_000, abortGraceMs: 2_000 };
const TEST_TIMEOUT = 90_000;

let seriesCounter = 0;
function spec(over: Partial<JobSpec> = {}): JobSpec {
  seriesCounter++;
  return {
    analysisId: 'test-analysis',
    analysisVersion: '1.0.0',
    studyInstanceUid: '1.2.826.0.1.3680043.10.1',
    seriesInstanceUid: `1.2.826.0.1.3680043.10.1.${process.pid}.${Date.now()}.${seriesCounter}`,
    trigger: 'manual',
    retryDelayMs: 50,
    ...over,
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function waitState(q: JobQueue, id: string, state: JobState, timeoutMs?: number): Promise<JobRecord> {
  return waitFor(`job ${id} → ${state}`, async () => {
    const r = await q.get(id);
    return r?.state === state ? r : undefined;
  }, timeoutMs);
}

/** Resolves with the abort reason once `signal` aborts, then the handler rethrows it as a cooperative one does. */
function untilAborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

interface Ctx {
  readonly backend: Backend;
  open(tuning?: QueueTuning): Promise<JobQueue>;
  spawnWorker(cfg: Omit<WorkerFixtureConfig, 'backend' | 'executionsFile' | 'tuning'> & { tuning?: QueueTuning }): Promise<ChildProcess>;
  readonly executionsFile: string;
}

const FIXTURE = join(import.meta.dirname, 'worker-process.ts');

function withBackend(harness: QueueHarness, fn: (ctx: Ctx) => Promise<void>): () => Promise<void> {
  return async () => {
    const backend = await harness.create();
    const queues: JobQueue[] = [];
    const children: ChildProcess[] = [];
    const dir = mkdtempSync(join(tmpdir(), 'sr-jobs-exec-'));
    const executionsFile = join(dir, 'executions.txt');
    try {
      await fn({
        backend,
        executionsFile,
        async open(tuning) {
          const q = await backend.open({ ...TEST_TUNING, ...tuning });
          queues.push(q);
          return q;
        },
        async spawnWorker(cfg) {
          const full: WorkerFixtureConfig = { ...cfg, backend: backend.fixture, executionsFile, tuning: { ...TEST_TUNING, ...cfg.tuning } };
          const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(full)], { stdio: ['ignore', 'pipe', 'pipe'] });
          children.push(child);
          let stderr = '';
          child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
          await new Promise<void>((resolve, reject) => {
            child.stdout?.on('data', (d: Buffer) => {
              if (d.toString().includes('ready')) resolve();
            });
            child.once('exit', (code) => reject(new Error(`worker process exited (${code}) before ready: ${stderr}`)));
          });
          return child;
        },
      });
    } finally {
      for (const c of children) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await new Promise((r) => c.once('exit', r));
        }
      }
      for (const q of queues) await q.close();
      await backend.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function executions(file: string): string[][] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split(' '));
}

async function killAndWait(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

export function defineJobQueueSuite(harness: QueueHarness): void {
  const t = (name: string, fn: (ctx: Ctx) => Promise<void>): void => {
    test(name, { timeout: TEST_TIMEOUT }, withBackend(harness, fn));
  };

  describe(`JobQueue contract (${harness.name})`, () => {
    t('enqueue → run → succeeded, with result id, final progress 1 and the default worker name', async ({ open }) => {
      const q = await open();
      const seen: JobRecord[] = [];
      q.startWorkers(async ({ job }) => {
        seen.push(job);
        return { resultId: `r-${job.id}` };
      }, { concurrency: 1 });
      const queued = await q.enqueue(spec());
      assert.equal(queued.state, 'queued');
      assert.equal(queued.attempts, 0);
      const done = await waitState(q, queued.id, 'succeeded');
      assert.equal(done.resultId, `r-${queued.id}`);
      assert.equal(done.progress, 1);
      assert.equal(done.attempts, 1);
      assert.equal(done.error, null);
      assert.equal(done.worker, `${hostname()}:${process.pid}`);
      assert.ok(done.startedAt !== null && done.finishedAt !== null && done.finishedAt >= done.startedAt);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]?.state, 'running');
    });

    t('progress is visible from outside while running; the last value of a burst lands', async ({ open }) => {
      const q = await open();
      const observer = await open();
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      q.startWorkers(async ({ progress }) => {
        for (let i = 1; i <= 50; i++) progress(i / 100, i === 50 ? 'halfway' : `step ${i}`);
        await gate;
        return { resultId: null };
      }, { concurrency: 1 });
      const job = await q.enqueue(spec());
      const mid = await waitFor('progress 0.5 seen by another queue instance', async () => {
        const r = await observer.get(job.id);
        return r?.progressMessage === 'halfway' ? r : undefined;
      });
      assert.equal(mid.state, 'running');
      assert.equal(mid.progress, 0.5);
      release();
      const done = await waitState(q, job.id, 'succeeded');
      assert.equal(done.progress, 1);
    });

    t('a transient failure is retried after the backoff delay, then succeeds', async ({ open }) => {
      const q = await open();
      const times: number[] = [];
      q.startWorkers(async ({ job }) => {
        times.push(Date.now());
        if (job.attempts === 1) throw new SrError('ARCHIVE_UNAVAILABLE', 'database briefly away');
        return { resultId: 'ok' };
      }, { concurrency: 1 });
      const job = await q.enqueue(spec({ retryDelayMs: 300, maxAttempts: 3 }));
      const done = await waitState(q, job.id, 'succeeded');
      assert.equal(done.attempts, 2);
      assert.equal(done.error, null);
      assert.equal(times.length, 2);
      assert.ok((times[1] ?? 0) - (times[0] ?? 0) >= 280, `retry came after ${(times[1] ?? 0) - (times[0] ?? 0)} ms`);
    });

    t('retries back off exponentially and the job fails after maxAttempts', async ({ open }) => {
      const q = await open();
      const times: number[] = [];
      q.startWorkers(async () => {
        times.push(Date.now());
        throw new Error('flaky');
      }, { concurrency: 1 });
      const job = await q.enqueue(spec({ retryDelayMs: 200, maxAttempts: 3 }));
      const done = await waitState(q, job.id, 'failed');
      assert.equal(done.attempts, 3);
      assert.equal(done.error?.code, 'ANALYSIS_FAILED');
      assert.equal(times.length, 3);
      const [a = 0, b = 0, c = 0] = times;
      assert.ok(b - a >= 180, `first gap ${b - a} ms`);
      assert.ok(c - b >= 380, `second gap ${c - b} ms (2× the first delay)`);
    });

    t('a permanent error (DICOM_MALFORMED) fails at once, without retry', async ({ open }) => {
      const q = await open();
      let calls = 0;
      q.startWorkers(async () => {
        calls++;
        throw new SrError('DICOM_MALFORMED', 'bad file');
      }, { concurrency: 1 });
      const job = await q.enqueue(spec({ maxAttempts: 3 }));
      const done = await waitState(q, job.id, 'failed');
      assert.equal(done.error?.code, 'DICOM_MALFORMED');
      assert.equal(done.attempts, 1);
      assert.equal(calls, 1);
    });

    t('a handler that returns no { resultId } fails with OUTPUT_INVALID, not retried', async ({ open }) => {
      const q = await open();
      // A plain-JS handler can return anything; the cast stands in for one.
      q.startWorkers((async () => undefined) as unknown as JobHandler, { concurrency: 1 });
      const job = await q.enqueue(spec({ maxAttempts: 3 }));
      const done = await waitState(q, job.id, 'failed');
      assert.equal(done.error?.code, 'OUTPUT_INVALID');
      assert.equal(done.attempts, 1);
    });

    t('a job over its timeout has its signal aborted and fails with ANALYSIS_TIMEOUT', async ({ open }) => {
      const q = await open();
      const reasons: unknown[] = [];
      q.startWorkers(async ({ signal }) => {
        const reason = await untilAborted(signal);
        reasons.push(reason);
        throw reason;
      }, { concurrency: 1 });
      const job = await q.enqueue(spec({ timeoutMs: 300, maxAttempts: 3 }));
      const done = await waitState(q, job.id, 'failed');
      assert.equal(done.error?.code, 'ANALYSIS_TIMEOUT');
      assert.equal(done.attempts, 1);
      assert.ok(isSrError(reasons[0], 'ANALYSIS_TIMEOUT'));
    });

    t('cancelling a queued job: cancelled at once and never run', async ({ open }) => {
      const q = await open();
      const a = await q.enqueue(spec());
      const cancelled = await q.cancel(a.id);
      assert.equal(cancelled?.state, 'cancelled');
      assert.equal(await q.cancel('no-such-job'), undefined);
      const ran: string[] = [];
      q.startWorkers(async ({ job }) => {
        ran.push(job.id);
        return { resultId: null };
      }, { concurrency: 1 });
      const b = await q.enqueue(spec());
      await waitState(q, b.id, 'succeeded');
      assert.deepEqual(ran, [b.id]);
      assert.equal((await q.get(a.id))?.state, 'cancelled');
    });

    t('cancelling a running job from another queue instance aborts its signal; it ends cancelled', async ({ open }) => {
      const q = await open();
      const api = await open();
      const reasons: unknown[] = [];
      q.startWorkers(async ({ signal }) => {
        const reason = await untilAborted(signal);
        reasons.push(reason);
        throw reason;
      }, { concurrency: 1 });
      const job = await q.enqueue(spec({ maxAttempts: 3 }));
      await waitState(api, job.id, 'running');
      const r = await api.cancel(job.id);
      assert.ok(r?.state === 'running' || r?.state === 'cancelled');
      const done = await waitState(api, job.id, 'cancelled');
      assert.equal(done.attempts, 1);
      assert.ok(isSrError(reasons[0], 'ANALYSIS_CANCELLED'));
    });

    t('enqueue is idempotent per (analysis, version, series) while active', async ({ open }) => {
      const q = await open();
      const s = spec();
      const a = await q.enqueue(s);
      const b = await q.enqueue({ ...s, trigger: 'auto' });
      assert.equal(b.id, a.id);
      const other = await q.enqueue({ ...s, analysisVersion: '1.1.0' });
      assert.notEqual(other.id, a.id);
      assert.equal((await q.list({ seriesInstanceUid: s.seriesInstanceUid })).length, 2);
      // Once finished, the same key queues a new job (a re-run replaces results, never duplicates them).
      q.startWorkers(async () => ({ resultId: null }), { concurrency: 2 });
      await waitState(q, a.id, 'succeeded');
      const again = await q.enqueue(s);
      assert.notEqual(again.id, a.id);
    });

    t('force re-run cancels the active job (queued or running) and queues a new one', async ({ open }) => {
      const q = await open();
      const s = spec();
      const a = await q.enqueue(s);
      const b = await q.enqueue({ ...s, force: true });
      assert.notEqual(b.id, a.id);
      assert.equal(b.state, 'queued');
      assert.equal((await q.get(a.id))?.state, 'cancelled');
      const reasons = new Map<string, unknown>();
      q.startWorkers(async ({ job, signal }) => {
        if (job.id === b.id) {
          const reason = await untilAborted(signal);
          reasons.set(job.id, reason);
          throw reason;
        }
        return { resultId: `r-${job.id}` };
      }, { concurrency: 2 });
      await waitState(q, b.id, 'running');
      const c = await q.enqueue({ ...s, force: true });
      assert.notEqual(c.id, b.id);
      await waitFor('running job aborted by the forced re-run', async () => reasons.has(b.id));
      assert.ok(isSrError(reasons.get(b.id), 'ANALYSIS_CANCELLED'));
      const done = await waitState(q, c.id, 'succeeded');
      assert.equal(done.resultId, `r-${c.id}`);
      assert.equal((await q.get(b.id))?.state, 'cancelled');
      assert.equal((await q.get(a.id))?.attempts, 0);
    });

    t('graceful close mid-job hands it back to the queue; reopened, it completes', async ({ open }) => {
      const first = await open({ stopTimeoutMs: 300 });
      const reasons: unknown[] = [];
      first.startWorkers(async ({ signal }) => {
        const reason = await untilAborted(signal);
        reasons.push(reason);
        throw reason;
      }, { concurrency: 1 });
      const job = await first.enqueue(spec({ maxAttempts: 1 }));
      await waitState(first, job.id, 'running');
      await first.close();
      assert.ok(isSrError(reasons[0], 'JOB_QUEUE_UNAVAILABLE'));
      const second = await open();
      const back = await second.get(job.id);
      assert.equal(back?.state, 'queued');
      assert.equal(back?.attempts, 0, 'an attempt cut short by shutdown does not count');
      second.startWorkers(async () => ({ resultId: 'after-restart' }), { concurrency: 1 });
      const done = await waitState(second, job.id, 'succeeded');
      assert.equal(done.resultId, 'after-restart');
      assert.equal(done.attempts, 1);
    });

    t('a worker process killed mid-job: on reopen its jobs are requeued (attempt counted) or fail JOB_LOST', async ({ open, spawnWorker }) => {
      const api = await open();
      const retryable = await api.enqueue(spec({ maxAttempts: 3 }));
      const lastChance = await api.enqueue(spec({ maxAttempts: 1 }));
      const child = await spawnWorker({ mode: 'hang', concurrency: 2, workerName: 'doomed' });
      await waitState(api, retryable.id, 'running');
      const running = await waitState(api, lastChance.id, 'running');
      assert.equal(running.worker, 'doomed');
      await killAndWait(child);
      const revived = await open({ lostAfterMs: 1_500 });
      revived.startWorkers(async () => ({ resultId: 'revived' }), { concurrency: 2 });
      const done = await waitState(revived, retryable.id, 'succeeded');
      assert.equal(done.attempts, 2);
      assert.equal(done.error, null);
      const lost = await waitState(revived, lastChance.id, 'failed');
      assert.equal(lost.error?.code, 'JOB_LOST');
      assert.equal(lost.attempts, 1);
    });

    t('concurrency N is respected', async ({ open }) => {
      const q = await open();
      let inFlight = 0;
      let max = 0;
      q.startWorkers(async () => {
        inFlight++;
        max = Math.max(max, inFlight);
        // Each handler holds its slot until three run together (or 5 s pass), so a limit of 3 is reached but
        // never exceeded if the pool is right.
        const until = Date.now() + 5_000;
        while (inFlight < 3 && Date.now() < until) await sleep(10);
        await sleep(50);
        inFlight--;
        return { resultId: null };
      }, { concurrency: 3 });
      const jobs = await Promise.all(Array.from({ length: 6 }, () => q.enqueue(spec())));
      for (const j of jobs) await waitState(q, j.id, 'succeeded');
      assert.equal(max, 3);
    });

    t('list filters by state, series and analysis, newest first, with limit/offset; bad input is JOB_INVALID_SPEC', async ({ open }) => {
      const q = await open();
      const a = await q.enqueue(spec({ analysisId: 'list-a' }));
      const b = await q.enqueue(spec({ analysisId: 'list-b' }));
      const c = await q.enqueue(spec({ analysisId: 'list-a' }));
      await q.cancel(b.id);
      assert.deepEqual((await q.list({})).map((r) => r.id), [c.id, b.id, a.id]);
      assert.deepEqual((await q.list({ analysisId: 'list-a' })).map((r) => r.id), [c.id, a.id]);
      assert.deepEqual((await q.list({ state: 'cancelled' })).map((r) => r.id), [b.id]);
      assert.deepEqual((await q.list({ seriesInstanceUid: a.seriesInstanceUid })).map((r) => r.id), [a.id]);
      assert.deepEqual((await q.list({ limit: 1, offset: 1 })).map((r) => r.id), [b.id]);
      await assert.rejects(q.list({ limit: 0 }), (e) => isSrError(e, 'JOB_INVALID_SPEC'));
      await assert.rejects(q.enqueue({ ...spec(), seriesInstanceUid: '' }), (e) => isSrError(e, 'JOB_INVALID_SPEC'));
      await assert.rejects(q.enqueue(spec({ maxAttempts: 0 })), (e) => isSrError(e, 'JOB_INVALID_SPEC'));
      assert.equal(await q.get('missing'), undefined);
    });

    t('two worker processes share one queue: 30 jobs, each run exactly once, none lost', async ({ open, spawnWorker, executionsFile }) => {
      const api = await open();
      await Promise.all([spawnWorker({ mode: 'record', concurrency: 3, workerName: 'w1' }), spawnWorker({ mode: 'record', concurrency: 3, workerName: 'w2' })]);
      const jobs = await Promise.all(Array.from({ length: 30 }, () => api.enqueue(spec())));
      await waitFor('30 jobs succeeded', async () => (await api.list({ state: 'succeeded', limit: 100 })).length === 30, 60_000);
      const runs = executions(executionsFile);
      const perJob = new Map<string, number>();
      for (const [id] of runs) perJob.set(id ?? '', (perJob.get(id ?? '') ?? 0) + 1);
      assert.equal(runs.length, 30, 'executions');
      for (const j of jobs) assert.equal(perJob.get(j.id), 1, `job ${j.id} ran ${perJob.get(j.id) ?? 0} times`);
      const byWorker = new Set(runs.map((r) => r[1]));
      assert.deepEqual([...byWorker].sort(), ['w1', 'w2'], 'both processes took jobs');
      for (const j of jobs) {
        const r = await api.get(j.id);
        assert.equal(r?.resultId, `result-${j.id}`);
        assert.equal(r?.attempts, 1);
      }
    });
  });
}
