/**
 * The `secondreader` command. `main` never calls process.exit: it returns the exit code (bin/ sets it), so the
 * whole CLI runs in-process in tests. Exit codes: 0 ok, 1 an analysis (or the run) failed, 2 bad input/usage.
 */
import { isSrError, createLogger, GENERATOR } from '../core/index.ts';
import type { ErrorCode } from '../core/index.ts';
import { ANALYSES } from '../analyses/index.ts';
import { analyzeCommand, ANALYZE_HELP } from './analyze.ts';
import { benchCommand, evalCommand } from './delegates.ts';
import { demoCommand } from './demo.ts';
import { inspectCommand } from './inspect.ts';
import type { CliDeps } from './io.ts';
import { phantomCommand } from './phantom.ts';

export type { CliDeps, OutputStream } from './io.ts';
export { ANALYZE_HELP };

export const MAIN_HELP = `Usage: secondreader <command> [options]

AI-assisted reading of CT studies. Results are AI-assisted; not a diagnosis; they require physician
confirmation.

Commands:
  demo                        generate a synthetic chest CT and analyse it (start here)
  inspect <path...>           list patients, studies and series found, with problems
  analyze <path...> --out DIR run every registered analysis, write DIR/findings.json
  phantom chest|head --out DIR   write synthetic CT studies with ground truth
  serve [--data DIR] [--http-port P] [--dicom-port P] [--database URL]
                              run the server: DICOM receiver, DICOMweb, REST API, workers
  worker --database postgres://...   run analysis jobs for a PostgreSQL-backed server
  deidentify <path...> --out DIR   PS3.15 de-identified copies (research data sets)
  audit verify|export         check or export the audit trail of a server's index
  eval ...                    accuracy evaluation (eval/)
  bench ...                   benchmarks (bench/)

Options:
  -h, --help      show help (also after a command: secondreader analyze --help)
  -v, --version   print the version
Exit codes: 0 ok, 1 an analysis failed, 2 bad input or usage.`;

/** Codes that mean the user asked for something impossible (exit 2) rather than something failing (exit 1). */
const INPUT_ERRORS: readonly ErrorCode[] = ['USAGE', 'NOT_FOUND', 'PHANTOM_INVALID_OPTIONS', 'CONFIG_INVALID'];

function defaultDeps(): CliDeps {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}

export async function main(argv: readonly string[], overrides: Partial<CliDeps> = {}): Promise<number> {
  const deps: CliDeps = { ...defaultDeps(), analyses: ANALYSES, ...overrides };
  const [command, ...rest] = argv;
  // Ctrl-C ends the run cleanly: running analyses are cancelled and findings.json still gets written.
  const ac = new AbortController();
  const onSigint = () => ac.abort();
  const ownsProcess = overrides.stdout === undefined;
  if (ownsProcess) process.once('SIGINT', onSigint);
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '-h':
      case '--help':
        deps.stdout.write(MAIN_HELP + '\n');
        return command === undefined ? 2 : 0;
      case '-v':
      case '--version':
      case 'version':
        deps.stdout.write(`${GENERATOR.name} ${GENERATOR.version}\n`);
        return 0;
      case 'inspect':
        return await inspectCommand(rest, deps);
      case 'analyze':
        return await analyzeCommand(rest, withLog(deps), ac.signal);
      case 'demo':
        return await demoCommand(rest, withLog(deps), ac.signal);
      // Loaded on demand: the server's dependencies (fastify, pg, DIMSE) are not the file commands' start-up cost.
      case 'serve':
        return await (await import('./serve.ts')).serveCommand(rest, deps, ac.signal);
      case 'worker':
        return await (await import('./worker.ts')).workerCommand(rest, deps, ac.signal);
      case 'phantom':
        return await phantomCommand(rest, deps);
      case 'eval':
        return await evalCommand(rest, deps);
      case 'bench':
        return await benchCommand(rest, deps);
      case 'deidentify':
        return await (await import('./deidentify.ts')).deidentifyCommand(rest, deps);
      case 'audit':
        return await (await import('./audit.ts')).auditCommand(rest, deps);
      default:
        deps.stderr.write(`secondreader: unknown command ${JSON.stringify(command)}\n\n${MAIN_HELP}\n`);
        return 2;
    }
  } catch (e) {
    if (isSrError(e)) {
      deps.stderr.write(`secondreader: ${e.code}: ${e.message}\n`);
      if (e.code === 'USAGE') deps.stderr.write(`Run "secondreader ${command ?? ''} --help" for usage.\n`);
      return INPUT_ERRORS.includes(e.code) ? 2 : 1;
    }
    deps.stderr.write(`secondreader: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  } finally {
    if (ownsProcess) process.removeListener('SIGINT', onSigint);
  }
}

/** Analyses log warnings (JSON lines on stderr); quiet below warn so progress stays readable. */
function withLog(deps: CliDeps): CliDeps {
  if (deps.log) return deps;
  return { ...deps, log: createLogger({ level: deps.env['SECONDREADER_LOG'] === 'debug' ? 'debug' : 'warn', write: (line) => deps.stderr.write(line + '\n') }) };
}
