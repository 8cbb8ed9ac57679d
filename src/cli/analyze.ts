/** `secondreader analyze <path...> --out DIR`: every registered analysis on every series it accepts → findings.json. */
import { resolve, join } from 'node:path';
import { SrError, silentLogger } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { scanPaths } from '../dicom/index.ts';
import { createRegistry, FINDINGS_FILE_NAME, runAnalyses, seriesInputs, writeFindingsFile } from '../engine/index.ts';
import type { AnalysisRegistry, FindingsDocument, RunSummary } from '../engine/index.ts';
import { flag, numberOpt, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';
import { niftiLabelMapSink } from './label-maps.ts';
import { createProgressReporter } from './progress.ts';
import type { ProgressReporter } from './progress.ts';

export const ANALYZE_HELP = `Usage: secondreader analyze <path...> --out DIR [options]

Finds the studies and series in DICOM files and folders (recursively), asks every registered analysis
whether it accepts each series (and why not), runs those that do, and writes DIR/findings.json
(schema: docs/findings.schema.json) plus label masks as DIR/<analysis>/<SeriesInstanceUID>.labels.nii.gz.
Progress goes to stderr. Results are AI-assisted; not a diagnosis; they require physician confirmation.

Options:
  -o, --out DIR        output folder (created if missing)                       [required]
      --timeout SEC    per analysis and series, in seconds                       [default 900]
      --only ID[,ID]   run only these analyses (the others are not listed)
      --json           print findings.json on stdout instead of the summary table
  -h, --help           show this help
Exit codes: 0 ok, 1 an analysis failed, 2 no DICOM found / unreadable path / bad usage.`;

export interface AnalyzeOptions {
  readonly paths: readonly string[];
  readonly outDir: string;
  readonly registry: AnalysisRegistry;
  readonly timeoutMs?: number;
  readonly progress?: ProgressReporter;
  readonly log?: Logger;
  readonly signal?: AbortSignal;
}

export interface AnalyzeResult extends RunSummary {
  readonly findingsPath: string;
  /** Series found but not analyzable at all (only localizers, SR, SEG...). */
  readonly ignoredSeries: number;
  readonly unreadableFiles: number;
}

/**
 * Scan → run → write, usable by other commands (demo) and by tests. Throws NOT_FOUND when no DICOM image
 * series is found (the CLI maps it to exit code 2); analysis failures are in the result, not thrown.
 */
export async function analyzePaths(options: AnalyzeOptions): Promise<AnalyzeResult> {
  const { progress } = options;
  const scan = await scanPaths(options.paths, {
    onProgress: (done, total) => progress?.update('scan', done / total, 'reading DICOM headers', `${done}/${total}`),
  });
  progress?.done();
  let fraction = 0;
  const frames = (uid: string, done: number, total: number) => progress?.update('analyze', fraction, `decoding ${uid}`, `${done}/${total} frames`);
  const { inputs, ignored } = seriesInputs(scan, frames);
  if (inputs.length === 0 && ignored.length === 0) {
    throw new SrError('NOT_FOUND', `no DICOM objects found in ${options.paths.join(', ')} (${scan.fileCount} file(s) looked at, ${scan.problems.length} unreadable)`, {
      details: { paths: [...options.paths], files: scan.fileCount },
    });
  }
  const outDir = resolve(options.outDir);
  const summary = await runAnalyses({
    registry: options.registry,
    series: inputs,
    log: options.log ?? silentLogger,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    saveLabelMap: niftiLabelMapSink(outDir),
    onProgress: (e) => {
      fraction = e.fraction;
      progress?.update('analyze', e.fraction, e.message);
    },
  });
  progress?.done();
  const findingsPath = await writeFindingsFile(join(outDir, FINDINGS_FILE_NAME), summary.document);
  return { ...summary, findingsPath, ignoredSeries: ignored.length, unreadableFiles: scan.problems.length };
}

/** One line per (series, analysis) result: status, findings, reason. */
export function formatResults(doc: FindingsDocument): string {
  const lines: string[] = [];
  for (const s of doc.series) {
    lines.push(`Series ${s.seriesInstanceUid} ${s.modality}${s.seriesDescription ? ` "${s.seriesDescription}"` : ''} (${s.instanceCount} images)`);
    const results = doc.analyses.filter((r) => r.seriesInstanceUid === s.seriesInstanceUid);
    if (results.length === 0) lines.push('  (no analysis registered)');
    for (const r of results) {
      const what = r.status === 'ok' ? `${r.findings.length} finding(s)${r.labelMap ? `, labels ${r.labelMap.path}` : ''}` : (r.reason ?? '');
      lines.push(`  ${r.status.padEnd(7)} ${r.analysis}@${r.version}: ${what}`);
    }
  }
  lines.push(doc.disclaimer);
  return lines.join('\n');
}

export async function analyzeCommand(args: readonly string[], deps: CliDeps, signal?: AbortSignal): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string', short: 'o' },
    timeout: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (flag(values, 'help')) {
    deps.stdout.write(ANALYZE_HELP + '\n');
    return 0;
  }
  if (positionals.length === 0) throw new SrError('USAGE', 'analyze needs at least one file or folder');
  const out = stringOpt(values, 'out');
  if (!out) throw new SrError('USAGE', 'analyze needs --out DIR');
  const timeoutMs = numberOpt(values, 'timeout', 900) * 1000;
  let registry = createRegistry(deps.analyses ?? []);
  const only = stringOpt(values, 'only');
  if (only !== undefined) {
    const ids = only.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    const unknown = ids.filter((id) => !registry.get(id));
    if (ids.length === 0 || unknown.length > 0) {
      throw new SrError('USAGE', `--only: unknown analysis ${unknown.join(', ') || '(none given)'}; registered: ${registry.analyses.map((m) => m.id).join(', ') || '(none)'}`);
    }
    registry = createRegistry(registry.analyses.filter((m) => ids.includes(m.id)));
  }
  if (registry.analyses.length === 0) deps.stderr.write('secondreader: no analyses are registered; findings.json will list the series only\n');
  const result = await analyzePaths({
    paths: positionals.map((p) => resolve(deps.cwd, p)),
    outDir: resolve(deps.cwd, out),
    registry,
    timeoutMs,
    progress: createProgressReporter(deps.stderr),
    ...(deps.log ? { log: deps.log } : {}),
    ...(signal ? { signal } : {}),
  });
  if (flag(values, 'json')) {
    deps.stdout.write(JSON.stringify(result.document, null, 2) + '\n');
  } else {
    deps.stdout.write(formatResults(result.document) + '\n');
    const { ok, skipped, failed } = result.counts;
    deps.stdout.write(`${ok} ok, ${skipped} skipped, ${failed} failed → ${result.findingsPath}\n`);
  }
  for (const e of result.document.errors) deps.stderr.write(`secondreader: ${e.analysis} on ${e.seriesInstanceUid} failed: ${e.code}: ${e.message}\n`);
  return result.counts.failed > 0 ? 1 : 0;
}
