/** `secondreader serve`: the CLI face of src/server (flags → config → start → wait for a signal → stop). */
import { join, resolve } from 'node:path';
import { createLogger } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import { loadConfig, redactConfig, startServer } from '../server/index.ts';
import type { ServerConfig } from '../server/index.ts';
import { flag, parse, stringOpt } from './args.ts';
import type { OptionSpec, OptionValues } from './args.ts';
import { DEMO_NODULES } from './demo.ts';
import type { CliDeps } from './io.ts';

export const SERVE_HELP = `Usage: secondreader serve [options]

Runs SecondReader as a server: a DICOM receiver (C-STORE/C-FIND/C-MOVE/C-GET), DICOMweb, the REST API,
and analysis workers that analyse every series once it is complete (no image for --stable-seconds). The
workers run in a child process ("secondreader worker") that serve restarts if it dies, so an analysis
never slows down the API or the DICOM receiver.
On first start with an empty archive it loads a synthetic demo chest CT, which is then analysed.
Results are AI-assisted; not a diagnosis; they require physician confirmation.

Options (flags override SECONDREADER_* environment variables, which override the --config file):
      --data DIR           data folder (index, blobs, jobs)                 [default ./secondreader-data]
      --http-host HOST     HTTP address                                     [default 127.0.0.1]
      --http-port PORT     HTTP port (0: any free port)                     [default 8080]
      --dicom-host HOST    DICOM address                                    [default 127.0.0.1]
      --dicom-port PORT    DICOM port (0: any free port)                    [default 11112]
      --ae-title AE        our DICOM AE title                               [default SECONDREADER]
      --database URL       sqlite, or postgres://user@host/db (scale-out)   [default sqlite]
      --workers N          analyses run at a time by the worker process     [default 1]
                           (0: no local workers; "secondreader worker" processes do the work)
      --stable-seconds S   quiet time before a series counts as complete    [default 10]
      --no-demo            do not load the demo study into an empty archive
      --config FILE        JSON config file (routing rules, peers, allow-list, forward: docs/deployment.md;
                           auth: sessions, lock-out, cookie: docs/security.md)
First start (no user yet): creates the user "admin" and prints a one-time password on standard error (it must
be changed at first sign-in), or takes SECONDREADER_ADMIN_PASSWORD (automation). Every route but /health,
/api/v1/openapi.json and login needs a signed-in user (docs/security.md).
  -h, --help               show this help
Stops cleanly on SIGTERM or Ctrl-C (running jobs finish or go back to the queue).`;

export const COMMON_OPTIONS: OptionSpec = {
  data: { type: 'string' },
  database: { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** bin/secondreader.js: the supervised worker is this same command, `secondreader worker`. */
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'secondreader.js');

const SERVE_FLAGS: Readonly<Record<string, keyof ServerConfig>> = {
  data: 'dataDir', 'http-host': 'httpHost', 'http-port': 'httpPort', 'dicom-host': 'dicomHost', 'dicom-port': 'dicomPort',
  'ae-title': 'aeTitle', database: 'database', workers: 'workers', 'stable-seconds': 'stableQuietSeconds', concurrency: 'workers',
};

export function configFrom(values: OptionValues, deps: CliDeps): ServerConfig {
  const flags: Partial<Record<keyof ServerConfig, string | boolean>> = {};
  for (const [name, key] of Object.entries(SERVE_FLAGS)) {
    const v = stringOpt(values, name);
    if (v !== undefined) flags[key] = v;
  }
  if (flag(values, 'no-demo')) flags.demo = false;
  const file = stringOpt(values, 'config');
  return loadConfig({ flags, env: deps.env, cwd: deps.cwd, ...(file ? { file } : {}) });
}

/** Resolves on the first SIGTERM/SIGINT (or when `signal` aborts). */
export function untilStopped(signal: AbortSignal | undefined): Promise<string> {
  return new Promise((resolve) => {
    const done = (why: string) => () => {
      process.removeListener('SIGTERM', onTerm);
      resolve(why);
    };
    const onTerm = done('SIGTERM');
    process.once('SIGTERM', onTerm);
    if (signal?.aborted) onTerm();
    signal?.addEventListener('abort', done('SIGINT'), { once: true });
  });
}

async function writeDemoSeries(dir: string): Promise<string> {
  const { writeChestPhantomCase } = await import('../../eval/phantoms/chest.ts');
  // Half the demo command's resolution: the server's first start stays quick on a small machine.
  const res = await writeChestPhantomCase(dir, {
    seed: 'serve-demo', dims: [256, 256, 112], spacingMm: [1.4, 1.4, 2.5], sliceThicknessMm: 2.5, noduleCount: DEMO_NODULES,
    storage: 'signed', fileNaming: 'ordered', instanceOrder: 'position',
  });
  return res.dicomDir;
}

export async function serveCommand(args: readonly string[], deps: CliDeps, signal?: AbortSignal): Promise<number> {
  const { values } = parse(args, {
    ...COMMON_OPTIONS,
    'http-host': { type: 'string' }, 'http-port': { type: 'string' }, 'dicom-host': { type: 'string' }, 'dicom-port': { type: 'string' },
    'ae-title': { type: 'string' }, workers: { type: 'string' }, 'stable-seconds': { type: 'string' }, 'no-demo': { type: 'boolean' },
  }, false);
  if (flag(values, 'help')) {
    deps.stdout.write(SERVE_HELP + '\n');
    return 0;
  }
  const config = configFrom(values, deps);
  const log = deps.log ?? createLogger({ level: config.logLevel, write: (line) => deps.stderr.write(line + '\n') });
  log.info('starting', { config: redactConfig(config) });
  const file = stringOpt(values, 'config');
  // The child loads the same config: the scalars through SECONDREADER_* (set by startServer), the rest from the same file.
  const workerProcess = { command: process.execPath, args: [BIN, 'worker', ...(file ? ['--config', resolve(deps.cwd, file)] : [])] };
  const server = await startServer({
    config, registry: createRegistry(deps.analyses ?? []), log, writeDemoSeries, workerProcess,
    // First start only (no user yet): the admin password for automation; otherwise a one-time secret is printed.
    adminPassword: deps.env['SECONDREADER_ADMIN_PASSWORD'], announce: (text) => void deps.stderr.write(text),
  });
  deps.stdout.write(
    `SecondReader is serving (results are AI-assisted; not a diagnosis; they require physician confirmation)\n` +
    `  REST API:   ${server.httpUrl}/api/v1   (OpenAPI: ${server.httpUrl}/api/v1/openapi.json)\n` +
    `  DICOMweb:   ${server.httpUrl}/dicom-web\n` +
    `  DICOM SCP:  AE ${server.dicom.aeTitle} on ${server.dicom.host}:${server.dicom.port}\n` +
    `  Data:       ${config.dataDir} (${config.database === 'sqlite' ? 'SQLite' : 'PostgreSQL'}, queue ${config.queue}, ` +
    `${config.workers > 0 ? `${config.workers} analysis slot(s) in a supervised worker process` : 'no local workers'})\n`,
  );
  const why = await untilStopped(signal);
  log.info('stopping', { signal: why });
  await server.close();
  deps.stdout.write('SecondReader stopped\n');
  return 0;
}
