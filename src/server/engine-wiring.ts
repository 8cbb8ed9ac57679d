/**
 * Archive → engine → archive: routing rules, a stored series as an engine input, and the job handler, which loads
 * the series from the archive, runs that one analysis with the same runner as the CLI, and stores the result
 * (findings document + label map + key images) back in the archive. The stable-series poller that queues the
 * jobs is in stable-poller.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ERROR_CATALOGUE, safeFileStem, SrError } from '../core/index.ts';
import type { ErrorCode, Logger } from '../core/index.ts';
import type { Archive, SeriesStableEvent } from '../archive/index.ts';
import { scanPaths } from '../dicom/index.ts';
import { createRegistry, runAnalyses, seriesInputs } from '../engine/index.ts';
import type { AnalysisManifest, AnalysisRegistry, LabelMapSink, SeriesInput } from '../engine/index.ts';
import { encodeNifti, lpsToIjk } from '../imaging/index.ts';
import type { JobHandler } from '../jobs/index.ts';
import { renderSlicePng } from '../report/index.ts';
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
