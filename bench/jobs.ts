/**
 * Job pickup latency: from the moment `enqueue` is called to the moment a handler starts, with the worker idle,
 * on each back end, in the same process and in a separate worker process; PostgreSQL with and without the
 * LISTEN/NOTIFY wake-up (without it, pg-boss's polling interval alone decides). Jobs are enqueued one at a time
 * with a random 0–1000 ms pause, so the enqueue falls at a random phase of the polling cycle.
 *   node --import tsx bench/jobs.ts            (SR_BENCH_JOBS_N=20 jobs per scenario; SR_TEST_PG_URL for PostgreSQL)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { silentLogger } from '../src/core/index.ts';
import { createPgJobQueue, createSqliteJobQueue, type JobQueue, type QueueTuning } from '../src/jobs/index.ts';

const N = Number(process.env.SR_BENCH_JOBS_N ?? 20);
const PG_URL = process.env.SR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const FIXTURE = join(import.meta.dirname, '../src/jobs/test-fixtures/worker-process.ts');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let seq = 0;
const spec = () => ({
  analysisId: 'bench',
  analysisVersion: '1',
  studyInstanceUid: '1.2.3',
  seriesInstanceUid: `1.2.3.${process.pid}.${++seq}`,
  trigger: 'manual' as const,
});

function summary(label: string, ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return `${label.padEnd(58)} median ${q(0.5).toFixed(0).padStart(5)} ms   p90 ${q(0.9).toFixed(0).padStart(5)} ms   max ${(s[s.length - 1] ?? NaN).toFixed(0).padStart(5)} ms`;
}

async function inProcess(q: JobQueue): Promise<number[]> {
  const started = new Map<string, number>();
  const w = q.startWorkers(async ({ job }) => {
    started.set(job.id, Date.now());
    return { resultId: null };
  }, { concurrency: 1 });
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    await sleep(Math.random() * 1000);
    const t0 = Date.now();
    const job = await q.enqueue(spec());
    while (!started.has(job.id)) await sleep(1);
    out.push((started.get(job.id) ?? NaN) - t0);
  }
  await w.stop();
  return out;
}

async function crossProcess(q: JobQueue, backend: object, tuning: QueueTuning): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-bench-jobs-'));
  const executionsFile = join(dir, 'executions.txt');
  const cfg = { backend, mode: 'record', concurrency: 1, workerName: 'bench', executionsFile, tuning };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(cfg)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (c) => reject(new Error(`worker exited ${c}`)));
    });
    await sleep(1500);
    const out: number[] = [];
    for (let i = 0; i < N; i++) {
      await sleep(Math.random() * 1000);
      const t0 = Date.now();
      const job = await q.enqueue(spec());
      for (;;) {
        const line = existsSync(executionsFile) ? readFileSync(executionsFile, 'utf8').split('\n').find((l) => l.startsWith(job.id)) : undefined;
        if (line !== undefined) {
          out.push(Number(line.split(' ')[2]) - t0);
          break;
        }
        await sleep(2);
      }
    }
    return out;
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchJobs(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-bench-jobs-db-'));
  try {
    const path = join(dir, 'jobs.sqlite');
    const q = createSqliteJobQueue({ db: path, log: silentLogger });
    console.log(summary('sqlite, worker in the same process', await inProcess(q)));
    console.log(summary('sqlite, worker in another process (poll 500 ms)', await crossProcess(q, { kind: 'sqlite', path }, {})));
    await q.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const admin = new pg.Pool({ connectionString: PG_URL, max: 1 });
  const scenarios: { label: string; notify: boolean; pollIntervalMs: number }[] = [
    { label: 'postgres, other process, NOTIFY + poll 1000 ms (default)', notify: true, pollIntervalMs: 1000 },
    { label: 'postgres, other process, pg-boss polling only, 1000 ms', notify: false, pollIntervalMs: 1000 },
    { label: 'postgres, other process, pg-boss polling only, 500 ms', notify: false, pollIntervalMs: 500 },
  ];
  try {
    for (const [i, s] of [{ label: 'postgres, worker in the same process (NOTIFY)', notify: true, pollIntervalMs: 1000 }, ...scenarios].entries()) {
      const schema = `sr_bench_${randomBytes(4).toString('hex')}`;
      try {
        const q = await createPgJobQueue({ connectionString: PG_URL, schema, log: silentLogger, notify: s.notify, pollIntervalMs: s.pollIntervalMs });
        const ms = i === 0 ? await inProcess(q) : await crossProcess(q, { kind: 'postgres', connectionString: PG_URL, schema, notify: s.notify }, { pollIntervalMs: s.pollIntervalMs });
        console.log(summary(s.label, ms));
        await q.close();
      } finally {
        await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP SCHEMA IF EXISTS ${schema}_pgboss CASCADE`);
      }
    }
  } finally {
    await admin.end();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`job pickup latency, enqueue() call → handler start, ${N} jobs per line, idle worker`);
  await benchJobs();
}
