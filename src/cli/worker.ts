/** `secondreader worker`: analysis jobs only, from the shared PostgreSQL queue (scale-out). */
import { createLogger, SrError } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import { redactConfig, startWorker } from '../server/index.ts';
import { flag, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';
import { COMMON_OPTIONS, configFrom, untilStopped } from './serve.ts';

export const WORKER_HELP = `Usage: secondreader worker --database postgres://... [--data DIR] [--concurrency N] [--config FILE]

Runs analysis jobs only, from the PostgreSQL queue that "serve --database postgres://..." fills. Start as
many as the hardware allows, on any machine that sees the shared data folder (blobs).

Options:
      --database URL       postgres://user@host/db                          [required]
      --data DIR           the data folder shared with the server (blobs)   [default ./secondreader-data]
      --concurrency N      jobs run in parallel in this process             [default 1]
      --config FILE        JSON config file (same as serve)
  -h, --help               show this help`;

export async function workerCommand(args: readonly string[], deps: CliDeps, signal?: AbortSignal): Promise<number> {
  const { values } = parse(args, { ...COMMON_OPTIONS, concurrency: { type: 'string' } }, false);
  if (flag(values, 'help')) {
    deps.stdout.write(WORKER_HELP + '\n');
    return 0;
  }
  if (stringOpt(values, 'database') === undefined && !deps.env['SECONDREADER_DATABASE']) throw new SrError('USAGE', 'worker needs --database postgres://...');
  const config = configFrom(values, deps);
  const log = deps.log ?? createLogger({ level: config.logLevel, write: (line) => deps.stderr.write(line + '\n') });
  const worker = await startWorker({ config, registry: createRegistry(deps.analyses ?? []), log, concurrency: Math.max(1, config.workers) });
  deps.stdout.write(`SecondReader worker running ${Math.max(1, config.workers)} job(s) at a time from ${redactConfig(config).database}\n`);
  const why = await untilStopped(signal);
  log.info('stopping', { signal: why });
  await worker.close();
  return 0;
}
