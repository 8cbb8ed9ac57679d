/**
 * `secondreader analyze <path...> --out DIR`: every registered analysis on every series it accepts → findings.json,
 * plus per result its DICOM objects (SEG, TID 1500 SR, key image Secondary Captures; src/outputs).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import { safeFileStem, SrError, silentLogger, toSrError } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { scanPaths } from '../dicom/index.ts';
import { createRegistry, FINDINGS_FILE_NAME, runAnalyses, seriesInputs, writeFindingsFile } from '../engine/index.ts';
import type { AnalysisRegistry, AnalysisResultJson, FindingsDocument, LabelMapSink, RunSummary, SeriesInput } from '../engine/index.ts';
import { lpsToIjk } from '../imaging/index.ts';
import { buildResultObjects, renderKeyImages } from '../outputs/index.ts';
import type { RenderedKeyImage, ResultSegmentation } from '../outputs/index.ts';
import { flag, numberOpt, parse, stringOpt } from './args.ts';
import type { CliDeps } from './io.ts';
import { niftiLabelMapSink } from './label-maps.ts';
import { createProgressReporter } from './progress.ts';
import type { ProgressReporter } from './progress.ts';

export const ANALYZE_HELP = `Usage: secondreader analyze <path...> --out DIR [options]

Finds the studies and series in DICOM files and folders (recursively), asks every registered analysis
whether it accepts each series (and why not), runs those that do, and writes DIR/findings.json
(schema: docs/findings.schema.json) plus label masks as DIR/<analysis>/<SeriesInstanceUID>.labels.nii.gz
and, per result, DICOM objects in the source study: DIR/<analysis>/<SeriesInstanceUID>.seg.dcm (DICOM SEG, one
segment per finding), .sr.dcm (Comprehensive 3D SR, TID 1500 measurement report) and key images
DIR/<analysis>/<SeriesInstanceUID>/key-image-<finding>.dcm (docs/outputs.md). Progress goes to stderr.
Results are AI-assisted; not a diagnosis; they require physician confirmation.

Options:
  -o, --out DIR        output folder (created if missing)                       [required]
      --timeout SEC    per analysis and series, in seconds                       [default 900]
      --only ID[,ID]   run only these analyses (the others are not listed)
      --prior PATH     a prior study of the same patient (DICOM folder): analyses that compare (follow-up)
                       get its series as ctx.prior (chest-ct-nodules: registration, nodule pairing, VDT)
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
  /** DICOM files/folders of a prior study: each analysis is offered the prior series it accepts (ctx.prior). */
  readonly priorPaths?: readonly string[];
}

export interface AnalyzeResult extends RunSummary {
  readonly findingsPath: string;
  /** Series found but not analyzable at all (only localizers, SR, SEG...). */
  readonly ignoredSeries: number;
  readonly unreadableFiles: number;
  /** DICOM objects written, relative to the output folder. */
  readonly dicomFiles: readonly string[];
  /** Results whose DICOM objects could not be built or written (the findings stand). */
  readonly dicomErrors: readonly { readonly analysis: string; readonly seriesInstanceUid: string; readonly code: string; readonly message: string }[];
}

/** What the label map sink keeps for a result's DICOM objects. */
interface CapturedOutputs {
  readonly segmentation: ResultSegmentation;
  readonly keyImages: readonly RenderedKeyImage[];
  readonly sliceSopInstanceUids?: readonly string[];
  readonly volumeNotes?: readonly string[];
}

/** Without a window from the analysis: a soft-tissue CT window (as the label-map PNGs). */
const DEFAULT_WINDOW = { center: 40, width: 400 };

const resultKey = (analysis: string, seriesInstanceUid: string) => `${analysis}\u0000${seriesInstanceUid}`;

/** Wraps a sink: also keeps the mask and renders the key images, for the DICOM objects written after the run. */
function capturingSink(inner: LabelMapSink, into: Map<string, CapturedOutputs>): LabelMapSink {
  return async (target, labelMap, context) => {
    const json = await inner(target, labelMap, context);
    const window = context.displayWindow ?? DEFAULT_WINDOW;
    const findings = context.findings.flatMap((f) => (f.label === undefined ? [] : [{ id: f.id, kind: f.kind, probability: f.probability, label: f.label, k: lpsToIjk(context.volume, f.centerMm)[2] }]));
    into.set(resultKey(target.analysis, target.seriesInstanceUid), {
      segmentation: { mask: labelMap.mask, labels: labelMap.labels },
      keyImages: renderKeyImages({ analysisId: target.analysis, analysisVersion: target.version, volume: context.volume, mask: labelMap.mask, window, findings }),
      ...(context.sliceSopInstanceUids ? { sliceSopInstanceUids: context.sliceSopInstanceUids } : {}),
      ...(context.volumeNotes ? { volumeNotes: context.volumeNotes } : {}),
    });
    return json;
  };
}

/** The DICOM objects of one ok result into DIR/<analysis>/; returns their paths relative to DIR. */
async function writeResultObjects(outDir: string, r: AnalysisResultJson, input: SeriesInput, captured: CapturedOutputs | undefined): Promise<string[]> {
  const objects = buildResultObjects({
    // No archive here: the result id is the (analysis, version, series) triple, so a re-run writes the same UIDs.
    provenance: { resultId: `${r.analysis}@${r.version}/${r.seriesInstanceUid}`, analysisId: r.analysis, analysisVersion: r.version, createdAt: r.provenance.startedAt },
    source: {
      attributes: input.header.attributes, studyInstanceUid: input.header.studyInstanceUid, seriesInstanceUid: input.header.seriesInstanceUid,
      ...(captured?.sliceSopInstanceUids ? { sliceSopInstanceUids: captured.sliceSopInstanceUids } : {}),
      ...(captured?.volumeNotes ? { volumeNotes: captured.volumeNotes } : {}),
    },
    result: { status: r.status, findings: r.findings, measurements: r.measurements, ...(r.reason !== undefined ? { reason: r.reason } : {}) },
    keyImages: captured?.keyImages ?? [],
    ...(captured ? { segmentation: captured.segmentation } : {}),
  });
  const stem = safeFileStem(r.seriesInstanceUid);
  const written: string[] = [];
  for (const o of objects) {
    const rel = o.kind === 'key-image' ? `${r.analysis}/${stem}/${o.name}` : `${r.analysis}/${stem}.${o.kind === 'segmentation' ? 'seg' : 'sr'}.dcm`;
    const path = join(outDir, ...rel.split('/'));
    try {
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, o.bytes);
    } catch (e) {
      throw new SrError('IO_ERROR', `cannot write ${path}`, { cause: e });
    }
    written.push(rel);
  }
  return written;
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
  const captured = new Map<string, CapturedOutputs>();
  const summary = await runAnalyses({
    registry: options.priorPaths?.length ? await withPriorSeries(options.registry, options.priorPaths) : options.registry,
    series: inputs,
    log: options.log ?? silentLogger,
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    saveLabelMap: capturingSink(niftiLabelMapSink(outDir), captured),
    onProgress: (e) => {
      fraction = e.fraction;
      progress?.update('analyze', e.fraction, e.message);
    },
  });
  progress?.done();
  const findingsPath = await writeFindingsFile(join(outDir, FINDINGS_FILE_NAME), summary.document);
  await (await import('../report/index.ts')).writeHumanOutputs({ outDir, paths: options.paths, document: summary.document, log: options.log ?? silentLogger }); // report.html/.pdf + fhir.json (docs/report.md)
  const dicomFiles: string[] = [];
  const dicomErrors: AnalyzeResult['dicomErrors'][number][] = [];
  for (const r of summary.document.analyses) {
    const input = inputs.find((i) => i.header.seriesInstanceUid === r.seriesInstanceUid);
    if (r.status !== 'ok' || !input) continue;
    const key = resultKey(r.analysis, r.seriesInstanceUid);
    try {
      dicomFiles.push(...(await writeResultObjects(outDir, r, input, captured.get(key))));
    } catch (e) {
      const err = toSrError(e, 'OUTPUT_BUILD_FAILED', `DICOM objects of ${r.analysis} on ${r.seriesInstanceUid} could not be written`);
      dicomErrors.push({ analysis: r.analysis, seriesInstanceUid: r.seriesInstanceUid, code: err.code, message: err.message });
    }
    captured.delete(key);
  }
  return { ...summary, findingsPath, ignoredSeries: ignored.length, unreadableFiles: scan.problems.length, dicomFiles, dicomErrors };
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
    prior: { type: 'string' },
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
    ...(stringOpt(values, 'prior') !== undefined ? { priorPaths: [resolve(deps.cwd, stringOpt(values, 'prior') as string)] } : {}),
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
    if (result.dicomFiles.length > 0) deps.stdout.write(`${result.dicomFiles.length} DICOM object(s) (SEG, SR, key images) → ${resolve(deps.cwd, out)}\n`);
  }
  for (const e of result.dicomErrors) deps.stderr.write(`secondreader: DICOM objects of ${e.analysis} on ${e.seriesInstanceUid} not written: ${e.code}: ${e.message}\n`);
  for (const e of result.document.errors) deps.stderr.write(`secondreader: ${e.analysis} on ${e.seriesInstanceUid} failed: ${e.code}: ${e.message}\n`);
  return result.counts.failed > 0 ? 1 : 0;
}

/**
 * --prior: the prior study's series, offered to each analysis as `ctx.prior` (the accepted one with the most
 * images). Generic: the engine and the CLI do not know what an analysis does with it.
 */
async function withPriorSeries(registry: AnalysisRegistry, paths: readonly string[]): Promise<AnalysisRegistry> {
  const { inputs } = seriesInputs(await scanPaths(paths));
  if (inputs.length === 0) throw new SrError('NOT_FOUND', `--prior: no DICOM image series found in ${paths.join(', ')}`);
  return createRegistry(registry.analyses.map((m) => {
    const prior = inputs
      .filter((s) => m.modalities.includes(s.header.modality) && m.accepts(s.header).accept)
      .sort((a, b) => b.header.instanceCount - a.header.instanceCount)[0];
    return prior ? { ...m, run: (ctx: Parameters<typeof m.run>[0]) => m.run({ ...ctx, prior }) } : m;
  }));
}
