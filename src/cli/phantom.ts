/** `secondreader phantom chest|head --out DIR`: synthetic CT studies with known truth (eval/phantoms). */
import { resolve } from 'node:path';
import { SrError } from '../core/index.ts';
import { flag, intOpt, numberOpt, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';
import { createProgressReporter } from './progress.ts';
import type { ProgressReporter } from './progress.ts';

export const PHANTOM_HELP = `Usage: secondreader phantom chest|head --out DIR [--cases N] [--seed S] [--slice-thickness MM]

Writes synthetic CT studies (DICOM) with their ground truth, for evaluation and demos. The same seed
gives the same cases.

Options:
  -o, --out DIR     output folder                                           [required]
      --cases N     number of cases (1..1000)                               [default 1]
      --seed S      random seed (integer)                                   [default 1]
      --slice-thickness MM   reconstructed slice thickness    [default: drawn per case]
  -h, --help        show this help`;

export type PhantomKind = 'chest' | 'head';

export interface PhantomRequest {
  readonly kind: PhantomKind;
  readonly outDir: string;
  readonly cases: number;
  readonly seed: number;
  /** Reconstructed slice thickness (mm); default: drawn per case by the phantom. */
  readonly sliceThicknessMm?: number;
  /** Chest only: exactly this many nodules per case; default: drawn per case (0–6). */
  readonly noduleCount?: number;
  readonly progress?: ProgressReporter;
}

export interface PhantomCase {
  /** Folder of the case (truth.json inside). */
  readonly dir: string;
  /** Folder of its DICOM series. */
  readonly dicomDir: string;
}

/** Calls the phantom writers of eval/phantoms (loaded on demand: inspect/analyze never pay for them). */
export async function writePhantoms(req: PhantomRequest): Promise<PhantomCase[]> {
  const { progress } = req;
  let cases: PhantomCase[];
  if (req.kind === 'chest') {
    const { writeChestPhantomCases } = await import('../../eval/phantoms/chest.ts');
    cases = await writeChestPhantomCases(req.outDir, {
      seed: req.seed,
      cases: req.cases,
      ...(req.sliceThicknessMm !== undefined ? { sliceThicknessMm: req.sliceThicknessMm } : {}),
      ...(req.noduleCount !== undefined ? { noduleCount: req.noduleCount } : {}),
      onProgress: (p) => progress?.update('phantom', (p.case - (p.stage === 'done' ? 0 : 1)) / p.cases, `chest ${p.caseId}: ${p.stage === 'start' ? 'generating' : 'written'}`),
    });
  } else {
    const t = req.sliceThicknessMm;
    if (t !== undefined && t !== 2.5 && t !== 5) throw new SrError('PHANTOM_INVALID_OPTIONS', `the head phantom is reconstructed at 2.5 or 5 mm, not ${t} mm`);
    const { writeHeadPhantomCases } = await import('../../eval/phantoms/head.ts');
    cases = await writeHeadPhantomCases(req.outDir, {
      seed: req.seed,
      cases: req.cases,
      ...(t !== undefined ? { base: { sliceThicknessMm: t } } : {}),
      onProgress: (done, total, caseId) => progress?.update('phantom', done / total, `head ${caseId}: written`),
    });
  }
  progress?.done();
  return cases;
}

export async function phantomCommand(args: readonly string[], deps: CliDeps): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string', short: 'o' },
    cases: { type: 'string' },
    seed: { type: 'string' },
    'slice-thickness': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (flag(values, 'help')) {
    deps.stdout.write(PHANTOM_HELP + '\n');
    return 0;
  }
  const [kind, ...rest] = positionals;
  if (kind !== 'chest' && kind !== 'head') throw new SrError('USAGE', `phantom needs a kind: chest or head${kind ? `, got ${JSON.stringify(kind)}` : ''}`);
  if (rest.length > 0) throw new SrError('USAGE', `unexpected argument ${JSON.stringify(rest[0])}`);
  const out = stringOpt(values, 'out');
  if (!out) throw new SrError('USAGE', 'phantom needs --out DIR');
  const outDir = resolve(deps.cwd, out);
  const cases = intOpt(values, 'cases', 1, 1, 1000);
  const seed = intOpt(values, 'seed', 1, 0, 2 ** 31 - 1);
  const thickness = stringOpt(values, 'slice-thickness') === undefined ? undefined : numberOpt(values, 'slice-thickness', 1);
  if (thickness !== undefined && thickness > 10) throw new SrError('USAGE', '--slice-thickness must be at most 10 mm');
  const written = await writePhantoms({
    kind, outDir, cases, seed, progress: createProgressReporter(deps.stderr), ...(thickness !== undefined ? { sliceThicknessMm: thickness } : {}),
  });
  for (const c of written) deps.stdout.write(`${c.dicomDir}\n`);
  deps.stdout.write(`wrote ${written.length} ${kind} phantom case(s) (seed ${seed}) with truth.json to ${outDir}\n`);
  return 0;
}
