/**
 * `secondreader demo`: the first command a newcomer runs. Generates one synthetic chest CT study, analyses it
 * with every registered analysis, and says where findings.json is.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry } from '../engine/index.ts';
import { analyzePaths, formatResults } from './analyze.ts';
import { flag, intOpt, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';
import { writePhantoms } from './phantom.ts';
import { createProgressReporter } from './progress.ts';

export const DEMO_SLICE_THICKNESS_MM = 2.5;
/** A demo study with nothing in it would show nothing: the phantom always holds this many nodules. */
export const DEMO_NODULES = 4;

export const DEMO_HELP = `Usage: secondreader demo [--out DIR] [--seed S]

Writes a synthetic chest CT study (DIR/phantom/case-0001: DICOM + truth.json), runs "analyze" on it and prints where DIR/results/findings.json
is. DIR defaults to ./demo-out, or to $TMPDIR/secondreader-demo when the current folder is not writable.

Options:
  -o, --out DIR   output folder
      --seed S    phantom seed (integer)                                    [default 1]
  -h, --help      show this help`;

function writableDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    // Not writable (read-only checkout, container): the caller falls back to the temp dir.
    return false;
  }
}

export async function demoCommand(args: readonly string[], deps: CliDeps, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, { out: { type: 'string', short: 'o' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, false);
  if (flag(values, 'help') || positionals.length > 0) {
    deps.stdout.write(DEMO_HELP + '\n');
    return 0;
  }
  const seed = intOpt(values, 'seed', 1, 0, 2 ** 31 - 1);
  const explicit = stringOpt(values, 'out');
  let root = resolve(deps.cwd, explicit ?? 'demo-out');
  if (!explicit && !writableDir(root)) root = join(deps.env['TMPDIR'] ?? tmpdir(), 'secondreader-demo');
  const progress = createProgressReporter(deps.stderr);
  // 2.5 mm, a routine chest reconstruction: a third of the slices of a 1 mm series, so the demo stays quick.
  const [written] = await writePhantoms({ kind: 'chest', outDir: join(root, 'phantom'), cases: 1, seed, sliceThicknessMm: DEMO_SLICE_THICKNESS_MM, noduleCount: DEMO_NODULES, progress });
  const dicomDir = written?.dicomDir ?? join(root, 'phantom');
  const result = await analyzePaths({
    paths: [dicomDir],
    outDir: join(root, 'results'),
    registry: createRegistry(deps.analyses ?? []),
    progress,
    ...(deps.log ? { log: deps.log } : {}),
    ...(signal ? { signal } : {}),
  });
  deps.stdout.write(formatResults(result.document) + '\n');
  deps.stdout.write(`\nSynthetic study: ${dicomDir}\nFindings:        ${result.findingsPath}\n`);
  return result.counts.failed > 0 ? 1 : 0;
}
