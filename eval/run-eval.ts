/**
 * `secondreader eval chest|head [--cases N] [--seed S] [--dir DIR] [--real] [--bootstrap B]`
 *
 * Phantom mode: writes N phantom cases (eval/phantoms) as DICOM, runs the target analysis on each case folder
 * through the CLI's own `analyzePaths` (scan → series → engine runner → findings.json), reads the findings
 * back and prints the metrics; DIR/eval-report.json keeps every number.
 *
 * Seeds: tuning and development use phantom seeds < 1000; evaluation uses seeds ≥ 100000 (default 100000),
 * and smaller seeds are refused, so no figure is ever measured on a case the analysis was tuned on.
 *
 * --real: LIDC-IDRI-0003 excerpt with its reader truth and the IBSI CT phantom with its GTV mask (chest), or
 * the real head CT of ct-head-gantry-tilt, in which no bleed is expected (head); FPs per scan are printed as
 * they come out.
 *
 * The analysis is looked up by id in the registry (production: src/analyses); when it is not registered
 * the run stops with "analysis not registered" and exit code 2. Tests inject their own analyses.
 */
import { mkdir, mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SrError, isSrError } from '../src/core/index.ts';
import { createRegistry } from '../src/engine/index.ts';
import type { AnalysisManifest, FindingsDocument, FindingJson } from '../src/engine/index.ts';
import type { Vec3 } from '../src/imaging/index.ts';
import { analyzePaths } from '../src/cli/analyze.ts';
import { chestCasesFromPhantoms, headCasesFromPhantoms, type ChestEvalCase, type HeadEvalCase } from './cases.ts';
import { computeHemorrhageMetrics, type HeadCasePrediction } from './metrics/hemorrhage.ts';
import { computeNoduleMetrics, type NoduleDetection, type NoduleTruth } from './metrics/nodules.ts';
import { distanceMm } from './metrics/match.ts';
import { fmt, formatHemorrhageMetrics, formatNoduleMetrics } from './report.ts';
import { readIbsiCtPhantomTruth } from './truth/ibsi.ts';
import { parseLidcXml } from './truth/lidc-xml.ts';
import { lidcTruth } from './truth/lidc-truth.ts';
import { readSliceGeometries } from './truth/slice-geometry.ts';

export const CHEST_ANALYSIS_ID = 'chest-ct-nodules';
export const HEAD_ANALYSIS_ID = 'head-ct-hemorrhage';
/** Phantom seeds below this are for tuning; evaluation never uses them. */
export const EVAL_SEED_MIN = 100000;

export const EVAL_HELP = `Usage: secondreader eval chest|head|followup [options]

Accuracy evaluation: phantom cases with known truth (default) or real annotated data (--real), run through
the same engine as "analyze", scored with the LUNA16 FROC/CPM rule and measurement errors.

Options:
      --cases N       phantom cases (1..1000)                                   [default 10]
      --seed S        first phantom seed, >= ${EVAL_SEED_MIN} (tuning uses seeds < 1000)       [default ${EVAL_SEED_MIN}]
      --dir DIR       working folder for cases, findings and eval-report.json    [default: a temp folder]
      --real         evaluate on the real data in ../shared/data instead of phantoms
      --bootstrap B   bootstrap resamples for 95% CIs (0 = none)                [default 0]
      --threshold P   operating threshold for the measurement metrics            [default 0]
  -h, --help          show this help
Exit codes: 0 ok, 1 some analysis runs failed, 2 bad usage / analysis not registered / data missing.`;

export interface EvalIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly cwd?: string;
}

/** What the runner needs from the outside, injectable for tests. */
export interface EvalDeps extends EvalIo {
  /** Manifests to look the analysis up in. Default: the production list (src/analyses). */
  readonly analyses?: readonly AnalysisManifest[];
  readonly writeChestCases?: (outDir: string, options: { seed: number; cases: number }) => Promise<unknown>;
  readonly writeHeadCases?: (outDir: string, options: { seed: number; cases: number }) => Promise<unknown>;
  /** Root of the shared data (default ../shared/data next to the repository). */
  readonly dataRoot?: string;
}

export interface EvalOptions {
  readonly target: 'chest' | 'head' | 'followup';
  readonly cases: number;
  readonly seed: number;
  readonly dir: string | undefined;
  readonly real: boolean;
  readonly bootstrap: number;
  readonly threshold: number;
}

const REPO_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');

function intArg(v: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new SrError('USAGE', `--${name} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
}

export function parseEvalArgs(argv: readonly string[]): EvalOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        cases: { type: 'string' }, seed: { type: 'string' }, dir: { type: 'string' }, real: { type: 'boolean' },
        bootstrap: { type: 'string' }, threshold: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new SrError('USAGE', e instanceof Error ? e.message : String(e), { cause: e });
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [target, ...rest] = positionals;
  if (target !== 'chest' && target !== 'head' && target !== 'followup') throw new SrError('USAGE', `eval needs a target: chest, head or followup${target ? `, got ${JSON.stringify(target)}` : ''}`);
  if (rest.length > 0) throw new SrError('USAGE', `unexpected argument ${JSON.stringify(rest[0])}`);
  const seed = intArg(values.seed, 'seed', EVAL_SEED_MIN, 0, 2 ** 31 - 1);
  if (seed < EVAL_SEED_MIN) throw new SrError('USAGE', `--seed must be >= ${EVAL_SEED_MIN}: seeds below are tuning seeds and would leak into the evaluation`);
  const threshold = values.threshold === undefined ? 0 : Number(values.threshold);
  if (!(threshold >= 0 && threshold <= 1)) throw new SrError('USAGE', `--threshold must be in 0..1`);
  return {
    target, seed, real: values.real === true, dir: values.dir, threshold,
    cases: intArg(values.cases, 'cases', 10, 1, 1000),
    bootstrap: intArg(values.bootstrap, 'bootstrap', 0, 0, 100000),
  };
}

/** Findings of `analysisId` for the only series of a case folder, through the CLI's analyze path. */
async function analyzeCase(dicomDir: string, outDir: string, manifest: AnalysisManifest): Promise<{ status: string; findings: readonly FindingJson[]; measurements: Readonly<Record<string, unknown>>; reason?: string }> {
  const result = await analyzePaths({ paths: [dicomDir], outDir, registry: createRegistry([manifest]) });
  const doc: FindingsDocument = result.document;
  const runs = doc.analyses.filter((a) => a.analysis === manifest.id);
  if (runs.length === 0) return { status: 'skipped', findings: [], measurements: {}, reason: 'no series of this case reached the analysis' };
  // A case folder holds one series; if a writer adds more (a localizer), the run with findings wins.
  const ok = runs.find((r) => r.status === 'ok') ?? (runs[0] as (typeof runs)[number]);
  return { status: ok.status, findings: ok.findings, measurements: ok.measurements, ...(ok.reason ? { reason: ok.reason } : {}) };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function field(f: Readonly<Record<string, unknown>>, keys: readonly string[]): unknown {
  const m = f['measurements'];
  for (const k of keys) {
    if (f[k] !== undefined) return f[k];
    if (typeof m === 'object' && m !== null && (m as Record<string, unknown>)[k] !== undefined) return (m as Record<string, unknown>)[k];
  }
  return undefined;
}

/** A finding as a nodule detection: diameterMm, volumeMm3 (or volumeMl), type/noduleType, top level or under measurements. */
export function findingToNodule(caseId: string, f: FindingJson): NoduleDetection {
  const ml = num(field(f, ['volumeMl']));
  const vol = num(field(f, ['volumeMm3'])) ?? (ml !== undefined ? ml * 1000 : undefined);
  const dia = num(field(f, ['diameterMm', 'meanDiameterMm']));
  const type = field(f, ['noduleType', 'type']);
  return {
    caseId, id: f.id, centerMm: [f.centerMm[0], f.centerMm[1], f.centerMm[2]], probability: f.probability,
    ...(dia !== undefined ? { diameterMm: dia } : {}), ...(vol !== undefined ? { volumeMm3: vol } : {}), ...(typeof type === 'string' ? { type } : {}),
  };
}

/** Analysis output of a head case → prediction. hasHemorrhage from measurements, else "any finding". */
export function headPrediction(caseId: string, findings: readonly FindingJson[], measurements: Readonly<Record<string, unknown>>, threshold: number): HeadCasePrediction {
  const kept = findings.filter((f) => f.probability >= threshold);
  const has = measurements['hasHemorrhage'];
  const total = num(measurements['totalVolumeMl']) ?? num(measurements['hemorrhageVolumeMl']);
  const abc2 = num(measurements['abc2VolumeMl']) ?? num(measurements['abc2Ml']);
  const mls = num(measurements['midlineShiftMm']);
  const dominant = measurements['hemorrhageType'] ?? measurements['dominantType'];
  return {
    caseId,
    hasHemorrhage: typeof has === 'boolean' ? has : kept.length > 0,
    bleeds: kept.map((f) => {
      const type = field(f, ['bleedType', 'type']);
      const v = num(field(f, ['volumeMl']));
      return { id: f.id, centerMm: [f.centerMm[0], f.centerMm[1], f.centerMm[2]] as Vec3, probability: f.probability, ...(typeof type === 'string' ? { type } : {}), ...(v !== undefined ? { volumeMl: v } : {}) };
    }),
    ...(total !== undefined ? { totalVolumeMl: total } : {}),
    ...(abc2 !== undefined ? { abc2VolumeMl: abc2 } : {}),
    ...(mls !== undefined ? { midlineShiftMm: mls } : {}),
    ...(typeof dominant === 'string' ? { dominantType: dominant } : {}),
  };
}

interface CaseRun { caseId: string; status: string; reason?: string; findings: number }

async function defaultAnalyses(): Promise<readonly AnalysisManifest[]> {
  const mod = (await import('../src/analyses/index.ts')) as { ANALYSES: readonly AnalysisManifest[] };
  return mod.ANALYSES;
}

async function defaultWriter(kind: 'chest' | 'head'): Promise<(outDir: string, o: { seed: number; cases: number }) => Promise<unknown>> {
  const file = join(REPO_ROOT, 'eval', 'phantoms', `${kind}.ts`);
  const fn = kind === 'chest' ? 'writeChestPhantomCases' : 'writeHeadPhantomCases';
  const mod = existsSync(file) ? ((await import(file)) as Record<string, unknown>) : undefined;
  const write = mod?.[fn];
  if (typeof write !== 'function') throw new SrError('NOT_FOUND', `the ${kind} phantom writer (eval/phantoms/${kind}.ts ${fn}) is not available`);
  return write as (outDir: string, o: { seed: number; cases: number }) => Promise<unknown>;
}

async function findSeriesDir(root: string, predicate: (name: string) => boolean): Promise<string | undefined> {
  const entries = await readdir(root, { withFileTypes: true, recursive: true });
  const hit = entries.find((e) => e.isFile() && predicate(e.name));
  return hit?.parentPath;
}

async function realChestCases(dataRoot: string, notes: string[]): Promise<ChestEvalCase[]> {
  const cases: ChestEvalCase[] = [];
  const lidcRoot = join(dataRoot, 'chest-ct-lidc');
  const lidcDir = existsSync(lidcRoot) ? await findSeriesDir(lidcRoot, (n) => n.endsWith('.xml')) : undefined;
  if (lidcDir) {
    const xmlName = (await readdir(lidcDir)).find((n) => n.endsWith('.xml')) as string;
    const truth = lidcTruth(parseLidcXml(await readFile(join(lidcDir, xmlName), 'utf8')), await readSliceGeometries(lidcDir), { caseId: 'LIDC-IDRI-0003' });
    notes.push(...truth.notes.map((n) => `LIDC-IDRI-0003: ${n}`));
    for (const n of truth.nodules) {
      notes.push(`LIDC-IDRI-0003 ${n.id}: ${n.readers} reader(s), centre [${n.centerMm.map((v) => v.toFixed(1)).join(', ')}] mm, diameter ${n.diameterMm.toFixed(1)} mm (mean axis ${n.meanAxisDiameterMm.toFixed(1)} mm), ${n.relevant ? 'relevant' : 'irrelevant'}`);
    }
    cases.push({ caseId: 'LIDC-IDRI-0003', dicomDir: lidcDir, nodules: [...truth.nodules, ...truth.irrelevantPoints] });
  } else notes.push(`LIDC excerpt not found under ${lidcRoot}`);
  const ibsi = join(dataRoot, 'radiomics-ibsi', 'ibsi_1_ct_radiomics_phantom');
  if (existsSync(ibsi)) {
    const t = await readIbsiCtPhantomTruth(ibsi);
    notes.push(`IBSI CT phantom: GTV ${t.volumeMm3.toFixed(0)} mm³ (${t.voxels} voxels), centre [${t.centerMm.map((v) => v.toFixed(1)).join(', ')}] mm, equivalent diameter ${t.equivalentDiameterMm.toFixed(1)} mm — a lung tumour, larger than any nodule`);
    cases.push({ caseId: 'IBSI-CT-phantom', dicomDir: join(ibsi, 'dicom', 'image'), nodules: [{ id: 'IBSI-GTV', caseId: 'IBSI-CT-phantom', centerMm: t.centerMm, diameterMm: t.equivalentDiameterMm, volumeMm3: t.volumeMm3, type: 'solid' }] });
  } else notes.push(`IBSI CT phantom not found under ${ibsi}`);
  return cases;
}

function realHeadCases(dataRoot: string, notes: string[]): HeadEvalCase[] {
  const dir = join(dataRoot, 'ct-head-gantry-tilt', 'GE-human-head');
  if (!existsSync(dir)) {
    notes.push(`real head CT not found under ${dir}`);
    return [];
  }
  notes.push('GE-human-head: real non-contrast head CT with gantry tilt; no clinical label, no bleed expected — every bleed finding counts as a false positive');
  return [{ caseId: 'GE-human-head', dicomDir: dir, truth: { caseId: 'GE-human-head', hasHemorrhage: false, bleeds: [] } }];
}

/** Runs an evaluation; returns the report object (also written as DIR/eval-report.json) and an exit code. */
export async function evaluate(options: EvalOptions, deps: EvalDeps): Promise<{ exitCode: number; report: Record<string, unknown> }> {
  const out = deps.stdout;
  // Follow-up pairs (prior + current) have their own runner and metrics (eval/metrics/followup-eval.ts).
  if (options.target === 'followup') return (await import('./metrics/followup-eval.ts')).evaluateFollowUp(options, deps);
  const analysisId = options.target === 'chest' ? CHEST_ANALYSIS_ID : HEAD_ANALYSIS_ID;
  const manifests = deps.analyses ?? (await defaultAnalyses());
  const manifest = manifests.find((m) => m.id === analysisId);
  if (!manifest) {
    deps.stderr.write(`analysis not registered: ${analysisId} (registered: ${manifests.map((m) => m.id).join(', ') || 'none'}); nothing to evaluate\n`);
    return { exitCode: 2, report: { error: 'analysis not registered', analysis: analysisId } };
  }
  const dir = options.dir ? resolve(deps.cwd ?? process.cwd(), options.dir) : await mkdtemp(join(tmpdir(), `sr-eval-${options.target}-`));
  await mkdir(dir, { recursive: true });
  const dataRoot = deps.dataRoot ?? resolve(REPO_ROOT, '..', 'shared', 'data');
  const notes: string[] = [];

  let chestCases: ChestEvalCase[] = [];
  let headCases: HeadEvalCase[] = [];
  if (options.real) {
    if (options.target === 'chest') chestCases = await realChestCases(dataRoot, notes);
    else headCases = realHeadCases(dataRoot, notes);
  } else {
    const casesDir = join(dir, 'cases');
    out.write(`writing ${options.cases} ${options.target} phantom case(s), seed ${options.seed}, to ${casesDir}\n`);
    const write = options.target === 'chest' ? (deps.writeChestCases ?? (await defaultWriter('chest'))) : (deps.writeHeadCases ?? (await defaultWriter('head')));
    const written = await write(casesDir, { seed: options.seed, cases: options.cases });
    if (options.target === 'chest') chestCases = chestCasesFromPhantoms(written);
    else headCases = headCasesFromPhantoms(written);
  }
  const all = options.target === 'chest' ? chestCases : headCases;
  if (all.length === 0) {
    deps.stderr.write(`no ${options.target} cases to evaluate${notes.length ? `: ${notes.join('; ')}` : ''}\n`);
    return { exitCode: 2, report: { error: 'no cases', notes } };
  }

  const runs: CaseRun[] = [];
  const detections: NoduleDetection[] = [];
  const predictions: HeadCasePrediction[] = [];
  for (const c of all) {
    const r = await analyzeCase(c.dicomDir, join(dir, 'findings', c.caseId), manifest);
    runs.push({ caseId: c.caseId, status: r.status, findings: r.findings.length, ...(r.reason ? { reason: r.reason } : {}) });
    out.write(`  ${c.caseId}: ${r.status}, ${r.findings.length} finding(s)${r.reason ? ` — ${r.reason}` : ''}\n`);
    if (options.target === 'chest') detections.push(...r.findings.map((f) => findingToNodule(c.caseId, f)));
    else predictions.push(headPrediction(c.caseId, r.findings, r.measurements, options.threshold));
  }
  const failed = runs.filter((r) => r.status === 'failed');

  const report: Record<string, unknown> = {
    target: options.target, analysis: { id: manifest.id, version: manifest.version }, mode: options.real ? 'real' : 'phantom',
    ...(options.real ? {} : { seed: options.seed, cases: options.cases }), runs, notes,
  };
  out.write(`\n${manifest.id}@${manifest.version} on ${all.length} ${options.real ? 'real' : 'phantom'} case(s)${failed.length ? `, ${failed.length} FAILED` : ''}\n\n`);
  if (options.target === 'chest') {
    const truth: NoduleTruth[] = chestCases.flatMap((c) => c.nodules);
    const metrics = computeNoduleMetrics(truth, detections, {
      caseIds: chestCases.map((c) => c.caseId), operatingThreshold: options.threshold,
      ...(options.bootstrap > 0 ? { bootstrap: options.bootstrap, seed: options.seed } : {}),
    });
    out.write(formatNoduleMetrics(metrics) + '\n');
    if (options.real) {
      for (const c of chestCases) {
        const fps = detections.filter((d) => d.caseId === c.caseId && d.probability >= options.threshold && !c.nodules.some((n) => distanceMm(n.centerMm, d.centerMm) < n.diameterMm / 2));
        out.write(`${c.caseId}: ${fps.length} false-positive finding(s) on this scan at threshold ${fmt(options.threshold, 3)}\n`);
      }
    }
    report['metrics'] = { ...metrics, matched: metrics.matched };
  } else {
    const metrics = computeHemorrhageMetrics(headCases.map((c) => c.truth), predictions);
    out.write(formatHemorrhageMetrics(metrics) + '\n');
    if (options.real) {
      for (const p of predictions) out.write(`${p.caseId}: ${p.bleeds.length} bleed finding(s) (all false positives: no bleed expected), called ${p.hasHemorrhage ? 'POSITIVE' : 'negative'}\n`);
    }
    report['metrics'] = metrics;
  }
  if (notes.length > 0) out.write(`\nnotes:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
  const reportPath = join(dir, 'eval-report.json');
  await writeFile(reportPath, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  out.write(`\nreport: ${reportPath}\n`);
  return { exitCode: failed.length > 0 ? 1 : 0, report };
}

/** CLI entry: `secondreader eval ...`. Returns the exit code; prints usage errors instead of throwing them. */
export async function runEval(argv: readonly string[], io?: Partial<EvalDeps>): Promise<number> {
  const deps: EvalDeps = { stdout: io?.stdout ?? process.stdout, stderr: io?.stderr ?? process.stderr, ...io } as EvalDeps;
  try {
    const options = parseEvalArgs(argv);
    if (options === 'help') {
      deps.stdout.write(EVAL_HELP + '\n');
      return 0;
    }
    return (await evaluate(options, deps)).exitCode;
  } catch (e) {
    if (isSrError(e, 'USAGE')) {
      deps.stderr.write(`${e.message}\n\n${EVAL_HELP}\n`);
      return 2;
    }
    if (isSrError(e, 'NOT_FOUND') || isSrError(e, 'TRUTH_INVALID')) {
      deps.stderr.write(`${e.code}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
