/**
 * A separate worker process for the job-queue tests: opens the queue given as JSON in argv[2], runs workers, and
 * appends "<jobId> <workerName> <epoch ms>\n" to `executionsFile` each time its handler starts (O_APPEND: lines from several
 * processes never interleave). 'record' handlers succeed after a short pause; 'hang' handlers wait for their
 * abort signal (the test kills the process). Prints "ready" once its workers are started.
 */
import { appendFileSync } from 'node:fs';
import { silentLogger } from '../../core/log.ts';
import { createPgJobQueue } from '../pg-queue.ts';
import type { QueueTuning } from '../policy.ts';
import { createSqliteJobQueue } from '../sqlite-queue.ts';
import type { JobQueue } from '../types.ts';

export interface WorkerFixtureConfig {
  readonly backend: { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string; schema: string; notify?: boolean };
  readonly mode: 'record' | 'hang';
  readonly concurrency: number;
  readonly workerName: string;
  readonly executionsFile: string;
  readonly tuning: QueueTuning;
}

const arg = process.argv[2];
if (arg === undefined) throw new Error('usage: worker-process.ts <json config>');
const cfg = JSON.parse(arg) as WorkerFixtureConfig;
const b = cfg.backend;
const queue: JobQueue =
  b.kind === 'sqlite'
    ? createSqliteJobQueue({ db: b.path, log: silentLogger, ...cfg.tuning })
    : await createPgJobQueue({ connectionString: b.connectionString, schema: b.schema, notify: b.notify ?? true, log: silentLogger, ...cfg.tuning });

const workers = queue.startWorkers(
  async ({ job, signal }) => {
    appendFileSync(cfg.executionsFile, `${job.id} ${cfg.workerName} ${Date.now()}\n`);
    if (cfg.mode === 'hang') {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      throw signal.reason;
    }
    await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 30));
    return { resultId: `result-${job.id}` };
  },
  { concurrency: cfg.concurrency, workerName: cfg.workerName },
);
process.on('SIGTERM', () => {
  void workers
    .stop()
    .then(() => queue.close())
    .then(() => process.exit(0));
});
process.stdout.write('ready\n');
