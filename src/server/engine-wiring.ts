/**
 * Archive → engine → archive. A poller claims stable series (no instance for stableQuietSeconds; Orthanc's
 * StableSeries idea) and queues one job per accepting analysis, as the routing rules allow; the job handler loads
 * the series from the archive, runs that one analysis with the same runner as the CLI, and stores the result
 * (findings document + label map + key images) back in the archive.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ERROR_CATALOGUE, SrError, toSrError } from '../core/index.ts';
import type { ErrorCode, Logger } from '../core/index.ts';
import type { Archive, SeriesStableEvent } from '../archive/types.ts';
import { createRegistry, runAnalyses } from '../engine/index.ts';
import type { AnalysisManifest, AnalysisRegistry, LabelMapSink, SeriesHeader, SeriesInput } from '../engine/index.ts';
import { encodeNifti, lpsToIjk } from '../imaging/index.ts';
import type { JobHandler, JobQueue } from '../jobs/types.ts';
import { renderSlicePng } from '../report/index.ts';
import { scanPaths, seriesInputs } from '../cli/dicom-source.ts';
import { safeFileStem } from '../cli/label-maps.ts';
import type { RoutingRule } from './config.ts';

/** Analyses (manifests) that the routing rules allow for this series; each still decides with `accepts`. */
export function routeSeries(rules: readonly RoutingRule[], registry: AnalysisRegistry, ev: Pick<SeriesStableEvent, 'modality' | 'sourceAe'>): AnalysisManifest[] {
  const ids = new Set<string>();
  for (const rule of rules) {
    if (rule.modalities && !rule.modalities.includes(ev.modality)) continue;
    if (rule.callingAe && !(ev.sourceAe !== null && rule.callingAe.includes(ev.sourceAe.trim()))) continue;
    for (const m of registry.analyses) if (rule.analyses === '*' || rule.analyses.includes(m.id)) ids.add(m.id);
  }
  return registry.analyses.filter((m) => ids.has(m.id) && m.modalities.includes(ev.modality));
}

export interface ArchivedSeries {
  readonly input: SeriesInput;
  /** Removes temp copies of remote blobs; call when the run is over. */
  cleanup(): Promise<void>;
}

/**
 * A series in the archive as an engine input, through the same scan/stack selection as `analyze`: local blob
 * paths are read in place; blobs without a local path are copied to a temp folder first.
 */
export async function loadArchivedSeries(archive: Archive, seriesInstanceUid: string): Promise<ArchivedSeries> {
  const instances = await archive.listInstances({ seriesInstanceUid });
  if (instances.length === 0) throw new SrError('NOT_FOUND', `series ${seriesInstanceUid} has no instances in the archive`, { details: { seriesInstanceUid } });
  let tmp: string | undefined;
  const cleanup = async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  };
  try {
    const paths: string[] = [];
    for (const inst of instances) {
      const local = archive.blobs.localPath(inst.blobKey);
      if (local) {
        paths.push(local);
        continue;
      }
      tmp ??= await mkdtemp(join(tmpdir(), 'sr-series-'));
      const p = join(tmp, `${safeFileStem(inst.sopInstanceUid)}.dcm`);
      await writeFile(p, await archive.blobs.get(inst.blobKey));
      paths.push(p);
    }
    const scan = await scanPaths(paths);
    const { inputs, ignored } = seriesInputs(scan);
    const input = inputs.find((i) => i.header.seriesInstanceUid === seriesInstanceUid);
    if (!input) {
      const why = ignored.find((i) => i.seriesInstanceUid === seriesInstanceUid)?.reason ?? scan.problems[0]?.message ?? 'no image stack';
      throw new SrError('SERIES_EMPTY', `series ${seriesInstanceUid} has no analysable stack: ${why}`, { details: { seriesInstanceUid, unreadable: scan.problems.length } });
    }
    return { input, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}

export interface StablePollerOptions {
  readonly archive: Archive;
  readonly queue: JobQueue;
  readonly registry: AnalysisRegistry;
  readonly rules: readonly RoutingRule[];
  readonly quietSeconds: number;
  readonly jobTimeoutMs: number;
  readonly log: Logger;
  /** Default 1000 ms. */
  readonly intervalMs?: number;
}

export interface Poller {
  /** Resolves after the tick in progress (if any) has finished. */
  stop(): Promise<void>;
  /** One claim-and-route pass now (tests, start-up). */
  tick(): Promise<number>;
}

function decide(m: AnalysisManifest, header: SeriesHeader): { accept: boolean; reason: string } {
  try {
    const d = m.accepts(header);
    return d.accept ? { accept: true, reason: '' } : { accept: false, reason: d.reason };
  } catch (e) {
    return { accept: false, reason: `accepts() threw: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/** Queues the accepting analyses of one stable series; returns the number of jobs queued. */
export async function enqueueForSeries(o: Omit<StablePollerOptions, 'intervalMs' | 'quietSeconds'>, ev: SeriesStableEvent): Promise<number> {
  const candidates = routeSeries(o.rules, o.registry, ev);
  if (candidates.length === 0) {
    o.log.info('stable series: no analysis routed', { series: ev.seriesInstanceUid, modality: ev.modality, sourceAe: ev.sourceAe });
    return 0;
  }
  const { input, cleanup } = await loadArchivedSeries(o.archive, ev.seriesInstanceUid);
  await cleanup(); // only the header is needed here; the job loads the series again where it runs
  let queued = 0;
  for (const m of candidates) {
    const d = decide(m, input.header);
    if (!d.accept) {
      o.log.info('stable series: analysis does not accept it', { series: ev.seriesInstanceUid, analysis: m.id, reason: d.reason });
      continue;
    }
    const job = await o.queue.enqueue({
      analysisId: m.id, analysisVersion: m.version, studyInstanceUid: ev.studyInstanceUid, seriesInstanceUid: ev.seriesInstanceUid, trigger: 'auto', timeoutMs: o.jobTimeoutMs,
    });
    o.log.debug('job queued', { job: job.id, analysis: m.id, series: ev.seriesInstanceUid, instances: ev.instanceCount });
    queued++;
  }
  return queued;
}

export function startStablePoller(o: StablePollerOptions): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  const tick = async (): Promise<number> => {
    const events = await o.archive.claimStableSeries(o.quietSeconds * 1000);
    let queued = 0;
    for (const ev of events) {
      try {
        queued += await enqueueForSeries(o, ev);
      } catch (e) {
        // The series stays claimed: a new instance (or POST /analyses/{id}/run) brings it back.
        const err = toSrError(e, 'JOB_QUEUE_UNAVAILABLE', 'could not queue jobs for a stable series');
        o.log.error('stable series not queued', { series: ev.seriesInstanceUid, code: err.code, error: err.message });
      }
    }
    return queued;
  };
  const loop = () => {
    if (stopped) return;
    running = tick().catch((e: unknown) => {
      o.log.error('stable-series poll failed', { error: e instanceof Error ? e.message : String(e) });
      return 0;
    });
    void running.then(() => {
      if (!stopped) timer = setTimeout(loop, o.intervalMs ?? 1000);
    });
  };
  timer = setTimeout(loop, 0);
  return {
    tick,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}

const DEFAULT_WINDOW = { center: 40, width: 400 };
export const LABEL_MAP_ATTACHMENT = 'labels.nii.gz';

/** Label map and key images into an attachments map (names are flat: the archive stores them as blobs). */
function attachmentSink(into: Record<string, Uint8Array>): LabelMapSink {
  return async (target, labelMap, context) => {
    into[LABEL_MAP_ATTACHMENT] = gzipSync(encodeNifti(labelMap.mask, { description: `${target.analysis} ${target.version} labels` }), { level: 6 });
    const keyImages: Record<string, string> = {};
    for (const f of context.findings) {
      if (f.label === undefined) continue;
      const k = lpsToIjk(context.volume, f.centerMm)[2];
      const name = `key-${safeFileStem(f.id)}.png`;
      into[name] = renderSlicePng(context.volume, { k, window: context.displayWindow ?? DEFAULT_WINDOW, overlay: labelMap.mask });
      keyImages[f.id] = name;
    }
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(labelMap.labels)) labels[k] = v;
    return { path: LABEL_MAP_ATTACHMENT, format: 'nifti-1+gzip', labels, ...(Object.keys(keyImages).length > 0 ? { keyImages } : {}) };
  };
}

export interface JobHandlerOptions {
  readonly archive: Archive;
  readonly registry: AnalysisRegistry;
  readonly log: Logger;
  /**
   * Sends DICOM result objects (attachments named *.dcm) to the configured destination. The analyses produce no
   * DICOM objects yet (SEG/SR come with the outputs work), so today this is called with nothing to send.
   */
  readonly forward?: (files: readonly { name: string; bytes: Uint8Array }[]) => Promise<void>;
}

function errorCode(code: string | undefined): ErrorCode {
  return code !== undefined && Object.hasOwn(ERROR_CATALOGUE, code) ? (code as ErrorCode) : 'ANALYSIS_FAILED';
}

export function createJobHandler(o: JobHandlerOptions): JobHandler {
  return async (ctx) => {
    const { job } = ctx;
    const m = o.registry.get(job.analysisId);
    if (!m || m.version !== job.analysisVersion) {
      throw new SrError('ANALYSIS_FAILED', `this worker has ${m ? `${m.id}@${m.version}` : `no ${job.analysisId}`}, the job needs ${job.analysisId}@${job.analysisVersion}`, {
        details: { analysisId: job.analysisId, analysisVersion: job.analysisVersion, workerVersion: m?.version ?? null },
      });
    }
    ctx.progress(0, 'loading series headers');
    const { input, cleanup } = await loadArchivedSeries(o.archive, job.seriesInstanceUid);
    const attachments: Record<string, Uint8Array> = {};
    let summary;
    try {
      summary = await runAnalyses({
        registry: createRegistry([m]),
        series: [input],
        log: o.log,
        signal: ctx.signal,
        timeoutMs: job.timeoutMs,
        saveLabelMap: attachmentSink(attachments),
        // The queue spaces the progress writes (a database write in scale-out).
        onProgress: (e) => ctx.progress(e.fraction, e.message),
      });
    } finally {
      await cleanup();
    }
    const r = summary.document.analyses[0];
    if (!r) throw new SrError('ANALYSIS_FAILED', `${m.id} produced no result for ${job.seriesInstanceUid}`);
    if (r.status === 'failed') {
      throw new SrError(errorCode(r.error?.code), r.error?.message ?? r.reason ?? 'analysis failed', { details: { analysis: m.id, series: job.seriesInstanceUid } });
    }
    const stored = await o.archive.putResult({
      analysisId: m.id, analysisVersion: m.version, studyInstanceUid: job.studyInstanceUid, seriesInstanceUid: job.seriesInstanceUid,
      status: r.status, document: r, attachments, jobId: job.id,
    });
    o.log.info('result stored', { job: job.id, result: stored.id, analysis: m.id, series: job.seriesInstanceUid, status: r.status, findings: r.findings.length });
    if (o.forward) {
      const files = Object.entries(attachments).filter(([name]) => name.endsWith('.dcm')).map(([name, bytes]) => ({ name, bytes }));
      if (files.length > 0) await o.forward(files);
      else o.log.info('forward: this result has no DICOM objects to send', { result: stored.id });
    }
    return { resultId: stored.id };
  };
}
