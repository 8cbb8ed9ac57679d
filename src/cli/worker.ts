/**
 * `secondreader worker`: analysis jobs only. Scale-out: from the shared PostgreSQL queue, on any machine. Embedded:
 * from the SQLite queue of a data folder on this machine; `serve` starts one such worker as its child and
 * supervises it. A worker started with an IPC channel (by `serve`) stops when that channel closes, i.e. when the
 * server is gone, however it died: an orphan must not keep taking jobs.
 */
import { createLogger } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import { redactConfig, startWorker } from '../server/index.ts';
import { flag, parse } from './args.ts';
import type { CliDeps } from './io.ts';
import { COMMON_OPTIONS, configFrom, untilStopped } from './serve.ts';

export const WORKER_HELP = `Usage: secondreader worker [--data DIR] [--database postgres://...] [--concurrency N] [--config FILE]

Runs analysis jobs only. With --database postgres://..., from the PostgreSQL queue that
"serve --database postgres://..." fills: start as many as the hardware allows, on any machine that sees
the shared data folder (blobs). Without it, from the embedded (SQLite) queue of --data on this machine:
"serve" already runs one such worker itself (--workers), more can be started beside it.

Options:
      --database URL       postgres://user@host/db (scale-out)              [default sqlite]
      --data DIR           the data folder shared with the server           [default ./secondreader-data]
      --concurrency N      jobs run in parallel in this process             [default 1]
      --config FILE        JSON config file (same as serve)
  -h, --help               show this help
Stops cleanly on SIGTERM or Ctrl-C: running jobs get 30 s to finish, then go back to the queue.`;

/** Aborts when the supervising server's IPC channel closes (only for a worker started with one). */
function parentGone(): AbortSignal {
  const ac = new AbortController();
  if (process.channel) {
    // The channel must not keep the worker alive once it has stopped.
    process.channel.unref();
    process.once('disconnect', () => ac.abort());
    // A dead server also closes our stdout/stderr pipes: a write error means the same, not a crash.
    for (const s of [process.stdout, process.stderr]) s.on('error', () => ac.abort());
  }
  return ac.signal;
}

export async function workerCommand(args: readonly string[], deps: CliDeps, signal?: AbortSignal): Promise<number> {
  const { values } = parse(args, { ...COMMON_OPTIONS, concurrency: { type: 'string' } }, false);
  if (flag(values, 'help')) {
    deps.stdout.write(WORKER_HELP + '\n');
    return 0;
  }
  const config = configFrom(values, deps);
  const log = deps.log ?? createLogger({ level: config.logLevel, write: (line) => deps.stderr.write(line + '\n') });
  const concurrency = Math.max(1, config.workers);
  const orphaned = parentGone();
  const worker = await startWorker({ config, registry: createRegistry(deps.analyses ?? []), log, concurrency });
  const from = config.queue === 'postgres' ? redactConfig(config).database : `the embedded queue in ${config.dataDir}`;
  deps.stdout.write(`SecondReader worker running ${concurrency} job(s) at a time from ${from}\n`);
  const why = await untilStopped(signal ? AbortSignal.any([signal, orphaned]) : orphaned);
  log.info('stopping', { signal: orphaned.aborted ? 'server gone' : why });
  await worker.close();
  return 0;
}
