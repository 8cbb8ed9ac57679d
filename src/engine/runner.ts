/**
 * The runner: for every series, ask every registered analysis whether it accepts it; load the volume once for the
 * analyses that do; run each with an AbortSignal and a timeout; turn every outcome — ok, skipped, thrown, timed
 * out, malformed — into one findings.json result. It never throws for an analysis's fault and never exits the
 * process, so a server can call it in-process exactly as the CLI does.
 */
import { performance } from 'node:perf_hooks';
import { SrError, toSrError, silentLogger, GENERATOR, ASSISTIVE_DISCLAIMER } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { analysisResultProblems, FINDINGS_SCHEMA_VERSION, toJsonValue } from './findings.ts';
import type { AnalysisResultJson, FindingsDocument, LabelMapJson, RunErrorJson, SeriesSummaryJson, TimingsJson } from './findings.ts';
import type { AnalysisRegistry } from './registry.ts';
import { ANALYSIS_API_VERSION } from './types.ts';
import type { AcceptDecision, AnalysisContext, AnalysisManifest, AnalysisOutput, Finding, LabelMap, SeriesHeader, SeriesVolume } from './types.ts';
import type { Int16Volume } from '../imaging/volume.ts';

/** A series as the engine sees it: the header now, the pixels on demand. Built by the caller (CLI, server). */
export interface SeriesInput {
  readonly header: SeriesHeader;
  /** Decodes the series into a volume. Called at most once per run, only if some analysis accepts the series. */
  loadVolume(signal: AbortSignal): Promise<SeriesVolume>;
}

export interface ProgressEvent {
  /** Overall fraction 0..1 of the whole run. */
  readonly fraction: number;
  readonly phase: 'load' | 'analysis' | 'done';
  readonly message: string;
  readonly analysis?: string;
  readonly seriesInstanceUid?: string;
  readonly step?: string;
}

export interface LabelMapTarget {
  readonly analysis: string;
  readonly version: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/** What a sink may use beside the mask: the analysed volume and findings, to draw key images. */
export interface LabelMapContext {
  readonly volume: Int16Volume;
  readonly findings: readonly Finding[];
  readonly displayWindow: { readonly center: number; readonly width: number } | undefined;
  /** SOPInstanceUID of the source of each k slice (references from derived DICOM objects). */
  readonly sliceSopInstanceUids?: readonly string[];
  /** How the volume was built (resampled for tilt...), so derived images can say where their pixels come from. */
  readonly volumeNotes?: readonly string[];
}

/** Stores a label map somewhere (a NIfTI next to findings.json, a blob store...) and says where. */
export type LabelMapSink = (target: LabelMapTarget, labelMap: LabelMap, context: LabelMapContext) => Promise<LabelMapJson>;

export interface RunOptions {
  readonly registry: AnalysisRegistry;
  readonly series: readonly SeriesInput[];
  readonly log?: Logger;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Per (analysis, series) run, in ms. Default 15 minutes. */
  readonly timeoutMs?: number;
  /** Cancels the whole run: pending and running analyses end as failed/ANALYSIS_CANCELLED. */
  readonly signal?: AbortSignal;
  /** Without a sink, label maps returned by analyses are not stored (and not referenced). */
  readonly saveLabelMap?: LabelMapSink;
}

export interface RunSummary {
  readonly document: FindingsDocument;
  readonly counts: { readonly ok: number; readonly skipped: number; readonly failed: number };
}

export const DEFAULT_TIMEOUT_MS = 15 * 60 * 1000;

type Decision = { kind: 'accept'; ms: number } | { kind: 'skip'; reason: string; ms: number } | { kind: 'fail'; error: SrError; ms: number };

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function decide(manifest: AnalysisManifest, header: SeriesHeader): Decision {
  const t0 = performance.now();
  // The engine applies the declared modalities itself, so an analysis never sees a modality it did not ask for.
  if (!manifest.modalities.includes(header.modality)) {
    return { kind: 'skip', reason: `modality ${header.modality || '(none)'} is not one of ${manifest.modalities.join(', ')}`, ms: performance.now() - t0 };
  }
  let d: AcceptDecision;
  try {
    d = manifest.accepts(header);
  } catch (e) {
    return { kind: 'fail', error: toSrError(e, 'ANALYSIS_FAILED', `${manifest.id}.accepts threw`), ms: performance.now() - t0 };
  }
  const ms = performance.now() - t0;
  if (typeof d !== 'object' || d === null || typeof d.accept !== 'boolean') {
    return { kind: 'fail', error: new SrError('ANALYSIS_FAILED', `${manifest.id}.accepts returned ${JSON.stringify(d)}, not an AcceptDecision`), ms };
  }
  if (d.accept) return { kind: 'accept', ms };
  return { kind: 'skip', reason: typeof d.reason === 'string' && d.reason.trim() ? d.reason : 'not accepted (no reason given)', ms };
}

/**
 * Runs `manifest.run` racing an abort: the timeout or the caller's cancel rejects at once with a coded error, and
 * the signal tells a cooperative analysis to stop. A synchronous loop that never yields cannot be interrupted in
 * this thread; that needs a worker (the jobs layer), not a longer timeout.
 */
async function runWithTimeout(
  manifest: AnalysisManifest,
  ctxBase: Omit<AnalysisContext, 'signal'>,
  timeoutMs: number,
  outer: AbortSignal | undefined,
  log: Logger,
): Promise<AnalysisOutput> {
  const ac = new AbortController();
  const onOuter = () => ac.abort(new SrError('ANALYSIS_CANCELLED', `${manifest.id} cancelled`));
  if (outer?.aborted) onOuter();
  outer?.addEventListener('abort', onOuter, { once: true });
  const timer = setTimeout(
    () => ac.abort(new SrError('ANALYSIS_TIMEOUT', `${manifest.id} did not finish within ${timeoutMs} ms`, { details: { timeoutMs } })),
    timeoutMs,
  );
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(ac.signal.reason);
    if (ac.signal.aborted) onAbort();
    else ac.signal.addEventListener('abort', onAbort, { once: true });
  });
  const running = Promise.resolve().then(() => manifest.run({ ...ctxBase, signal: ac.signal }));
  // If the abort wins the race, the run's eventual rejection must not surface as an unhandled rejection.
  running.catch((e: unknown) => log.debug('analysis settled after abort', { analysis: manifest.id, error: String(e) }));
  try {
    return await Promise.race([running, aborted]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
    if (onAbort) ac.signal.removeEventListener('abort', onAbort);
  }
}

/** Engine-side checks the schema cannot express. Throws OUTPUT_INVALID. */
function checkOutput(manifest: AnalysisManifest, out: AnalysisOutput, volume: SeriesVolume): void {
  const fail = (msg: string) => {
    throw new SrError('OUTPUT_INVALID', `${manifest.id}: ${msg}`);
  };
  if (typeof out !== 'object' || out === null) fail('run() returned no AnalysisOutput');
  if (!Array.isArray(out.findings)) fail('findings is not an array');
  if (typeof out.measurements !== 'object' || out.measurements === null) fail('measurements is not an object');
  const ids = new Set<string>();
  for (const f of out.findings) {
    if (ids.has(f.id)) fail(`finding id ${f.id} is not unique`);
    ids.add(f.id);
    if (!Array.isArray(f.centerMm) || f.centerMm.length !== 3 || !f.centerMm.every(Number.isFinite)) fail(`finding ${f.id}: centerMm must be 3 finite LPS mm`);
    if (!(f.probability >= 0 && f.probability <= 1)) fail(`finding ${f.id}: probability must be in 0..1`);
    if (f.label !== undefined && !(out.labelMap && String(f.label) in out.labelMap.labels)) fail(`finding ${f.id}: label ${f.label} is not in the label map`);
  }
  if (out.labelMap) {
    const m = out.labelMap.mask;
    const v = volume.volume;
    if (m.dims.some((d, i) => d !== v.dims[i])) fail(`label map dims ${m.dims.join('×')} ≠ volume dims ${v.dims.join('×')}`);
  }
}

function steps(out: AnalysisOutput | undefined, measured: Record<string, number>): Record<string, number> | undefined {
  const given = out?.stepTimesMs;
  const src = given && Object.keys(given).length > 0 ? given : measured;
  const entries = Object.entries(src).filter(([, v]) => Number.isFinite(v) && v >= 0);
  return entries.length > 0 ? Object.fromEntries(entries.map(([k, v]) => [k, round(v)])) : undefined;
}

export async function runAnalyses(options: RunOptions): Promise<RunSummary> {
  const log = options.log ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { registry, onProgress } = options;
  const results: AnalysisResultJson[] = [];

  const base = (m: AnalysisManifest, h: SeriesHeader) => ({
    analysis: m.id,
    version: m.version,
    title: m.title,
    studyInstanceUid: h.studyInstanceUid,
    seriesInstanceUid: h.seriesInstanceUid,
  });
  const provenance = (m: AnalysisManifest, h: SeriesHeader, startedAt: Date, timingsMs: TimingsJson, notes?: readonly string[]) => ({
    analysis: { id: m.id, version: m.version, apiVersion: ANALYSIS_API_VERSION },
    engine: { name: GENERATOR.name, version: GENERATOR.version },
    inputSeriesInstanceUid: h.seriesInstanceUid,
    startedAt: startedAt.toISOString(),
    timingsMs,
    ...(notes && notes.length > 0 ? { volumeNotes: [...notes] } : {}),
  });
  const failed = (m: AnalysisManifest, h: SeriesHeader, e: SrError, startedAt: Date, timingsMs: TimingsJson, notes?: readonly string[]): AnalysisResultJson => ({
    ...base(m, h),
    status: 'failed',
    reason: `${e.code}: ${e.message}`,
    findings: [],
    measurements: {},
    error: { code: e.code, message: e.message, ...(Object.keys(e.details).length > 0 ? { details: toJsonValue(e.details) as Record<string, unknown> } : {}) },
    provenance: provenance(m, h, startedAt, timingsMs, notes),
  });

  // Header decisions first: cheap, and they fix the total amount of work for the progress bar.
  const plan = options.series.map((s) => ({
    input: s,
    decisions: registry.analyses.map((m) => ({ manifest: m, decision: decide(m, s.header), at: new Date() })),
  }));
  const loads = plan.filter((p) => p.decisions.some((d) => d.decision.kind === 'accept')).length;
  const runs = plan.reduce((n, p) => n + p.decisions.filter((d) => d.decision.kind === 'accept').length, 0);
  const units = Math.max(1, loads + runs);
  let done = 0;
  const emit = (e: Omit<ProgressEvent, 'fraction'>, within = 0) => {
    onProgress?.({ ...e, fraction: Math.min(1, (done + Math.min(1, Math.max(0, within))) / units) });
  };

  for (const { input, decisions } of plan) {
    const h = input.header;
    const accepted = decisions.filter((d) => d.decision.kind === 'accept');
    // Results of a series are listed in registry order, whatever order they finish in.
    const slots = new Map<string, AnalysisResultJson>();
    const put = (r: AnalysisResultJson) => slots.set(r.analysis, r);
    const flush = () => {
      for (const { manifest } of decisions) {
        const r = slots.get(manifest.id);
        if (r) results.push(r);
      }
    };
    for (const { manifest: m, decision: d, at } of decisions) {
      if (d.kind === 'skip') {
        log.debug('analysis skipped series', { analysis: m.id, series: h.seriesInstanceUid, reason: d.reason });
        put({ ...base(m, h), status: 'skipped', reason: d.reason, findings: [], measurements: {}, provenance: provenance(m, h, at, { accept: round(d.ms), total: round(d.ms) }) });
      } else if (d.kind === 'fail') {
        log.warn('analysis accepts() failed', { analysis: m.id, series: h.seriesInstanceUid, code: d.error.code, error: d.error.message });
        put(failed(m, h, d.error, at, { accept: round(d.ms), total: round(d.ms) }));
      }
    }
    if (accepted.length === 0) {
      flush();
      continue;
    }

    // One volume per series, shared by all its analyses, dropped before the next series is decoded.
    let volume: SeriesVolume | undefined;
    let loadError: SrError | undefined;
    const loadStart = performance.now();
    emit({ phase: 'load', message: `loading series ${h.seriesInstanceUid} (${h.instanceCount} instances)`, seriesInstanceUid: h.seriesInstanceUid });
    try {
      if (options.signal?.aborted) throw new SrError('ANALYSIS_CANCELLED', 'run cancelled before the series was loaded');
      volume = await input.loadVolume(options.signal ?? new AbortController().signal);
    } catch (e) {
      loadError = toSrError(e, 'SERIES_INCONSISTENT', `series ${h.seriesInstanceUid} could not be loaded`);
      log.warn('series could not be loaded', { series: h.seriesInstanceUid, code: loadError.code, error: loadError.message });
    }
    const loadMs = performance.now() - loadStart;
    done += 1;

    for (const { manifest: m, decision: d, at } of accepted) {
      const acceptMs = d.ms;
      if (!volume) {
        const e = loadError ?? new SrError('SERIES_EMPTY', 'no volume');
        put(failed(m, h, e, at, { accept: round(acceptMs), load: round(loadMs), total: round(acceptMs + loadMs) }));
        done += 1;
        continue;
      }
      const vol = volume;
      const startedAt = new Date();
      const t0 = performance.now();
      const measured: Record<string, number> = {};
      let currentStep: string | undefined;
      let stepStart = t0;
      const progress = (step: string, fraction: number) => {
        const now = performance.now();
        if (step !== currentStep) {
          if (currentStep !== undefined) measured[currentStep] = (measured[currentStep] ?? 0) + (now - stepStart);
          currentStep = step;
          stepStart = now;
        }
        emit({ phase: 'analysis', message: `${m.id}: ${step}`, analysis: m.id, seriesInstanceUid: h.seriesInstanceUid, step }, Number.isFinite(fraction) ? fraction : 0);
      };
      emit({ phase: 'analysis', message: `${m.id}: start`, analysis: m.id, seriesInstanceUid: h.seriesInstanceUid });
      let out: AnalysisOutput | undefined;
      let error: SrError | undefined;
      try {
        out = await runWithTimeout(m, { header: h, series: vol, log, progress }, timeoutMs, options.signal, log);
        checkOutput(m, out, vol);
      } catch (e) {
        error = toSrError(e, 'ANALYSIS_FAILED', `${m.id} failed`);
      }
      const runMs = performance.now() - t0;
      if (currentStep !== undefined) measured[currentStep] = (measured[currentStep] ?? 0) + (performance.now() - stepStart);
      const timings = (): TimingsJson => {
        const s = steps(out, measured);
        return { accept: round(acceptMs), load: round(loadMs), run: round(runMs), total: round(acceptMs + loadMs + runMs), ...(s ? { steps: s } : {}) };
      };

      let result: AnalysisResultJson;
      if (error || !out) {
        const e = error ?? new SrError('ANALYSIS_FAILED', 'no output');
        log.warn('analysis failed', { analysis: m.id, series: h.seriesInstanceUid, code: e.code, error: e.message });
        result = failed(m, h, e, startedAt, timings(), vol.notes);
      } else if (out.skipped) {
        result = {
          ...base(m, h),
          status: 'skipped',
          reason: out.skipped.reason.trim() || 'skipped by the analysis (no reason given)',
          findings: [],
          measurements: out.measurements ?? {},
          provenance: provenance(m, h, startedAt, timings(), vol.notes),
        };
      } else {
        let labelMap: LabelMapJson | undefined;
        let saveError: SrError | undefined;
        if (out.labelMap && options.saveLabelMap) {
          try {
            labelMap = await options.saveLabelMap({ analysis: m.id, version: m.version, studyInstanceUid: h.studyInstanceUid, seriesInstanceUid: h.seriesInstanceUid }, out.labelMap, {
              volume: vol.volume,
              findings: out.findings,
              displayWindow: m.displayWindow,
              sliceSopInstanceUids: vol.sliceSopInstanceUids,
              volumeNotes: vol.notes,
            });
          } catch (e) {
            saveError = toSrError(e, 'IO_ERROR', `label map of ${m.id} could not be stored`);
          }
        }
        result = saveError
          ? failed(m, h, saveError, startedAt, timings(), vol.notes)
          : {
              ...base(m, h),
              status: 'ok',
              findings: out.findings.map((f) => ({ ...f, centerMm: [f.centerMm[0], f.centerMm[1], f.centerMm[2]] as const })),
              measurements: out.measurements,
              ...(labelMap ? { labelMap } : {}),
              provenance: provenance(m, h, startedAt, timings(), vol.notes),
            };
      }
      // What the analysis returned must fit the public schema; if not, the analysis failed, not the run.
      const problems = analysisResultProblems(result);
      if (problems.length > 0) {
        const e = new SrError('OUTPUT_INVALID', `${m.id} output does not match docs/findings.schema.json: ${problems.join('; ')}`, { details: { problems } });
        log.warn('analysis output invalid', { analysis: m.id, series: h.seriesInstanceUid, problems });
        result = failed(m, h, e, startedAt, timings(), vol.notes);
      }
      put(result);
      done += 1;
      emit({ phase: 'analysis', message: `${m.id}: ${result.status}`, analysis: m.id, seriesInstanceUid: h.seriesInstanceUid });
    }
    volume = undefined;
    flush();
  }

  const errors: RunErrorJson[] = [];
  for (const r of results) {
    if (r.status === 'failed' && r.error) errors.push({ code: r.error.code, message: r.error.message, analysis: r.analysis, seriesInstanceUid: r.seriesInstanceUid });
  }
  const series: SeriesSummaryJson[] = options.series.map(({ header: h }) => ({
    studyInstanceUid: h.studyInstanceUid,
    seriesInstanceUid: h.seriesInstanceUid,
    modality: h.modality,
    ...(h.seriesDescription ? { seriesDescription: h.seriesDescription } : {}),
    instanceCount: h.instanceCount,
  }));
  const document: FindingsDocument = {
    schemaVersion: FINDINGS_SCHEMA_VERSION,
    generator: { name: GENERATOR.name, version: GENERATOR.version },
    disclaimer: ASSISTIVE_DISCLAIMER,
    createdAt: new Date().toISOString(),
    series,
    analyses: results,
    errors,
  };
  const count = (s: string) => results.filter((r) => r.status === s).length;
  onProgress?.({ phase: 'done', fraction: 1, message: `done: ${count('ok')} ok, ${count('skipped')} skipped, ${count('failed')} failed` });
  return { document, counts: { ok: count('ok'), skipped: count('skipped'), failed: count('failed') } };
}
