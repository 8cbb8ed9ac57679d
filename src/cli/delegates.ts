/**
 * `eval` and `bench` belong to eval/ and bench/; the CLI only hands them their arguments. Both are loaded on
 * demand, so `inspect` and `analyze` never pay for them.
 */
import { flag, parse } from './args.ts';
import type { CliDeps } from './io.ts';

export const BENCH_HELP = `Usage: secondreader bench [section...]

Prints speed and memory figures for this machine (bench/run.ts). Sections: decode, kernels, chest, head
(default: all). Figures are for people to read; no test asserts a timing.

Options:
  -h, --help    show this help`;

/** eval/index.ts `runEval(argv, io)` parses its own options, prints its report and returns the exit code. */
export async function evalCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { runEval } = await import('../../eval/index.ts');
  return runEval(args, { stdout: deps.stdout, stderr: deps.stderr, cwd: deps.cwd, ...(deps.analyses ? { analyses: deps.analyses } : {}) });
}

/** bench/run.ts default-exports `runBench(sections)`; it takes no flags, so help and flags are handled here. */
export async function benchCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(args, { help: { type: 'boolean', short: 'h' } });
  if (flag(values, 'help')) {
    deps.stdout.write(BENCH_HELP + '\n');
    return 0;
  }
  const { default: runBench } = await import('../../bench/run.ts');
  return runBench(positionals);
}
