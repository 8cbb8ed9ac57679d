/**
 * Archive → engine → archive: routing rules, a stored series as an engine input, and the job handler, which loads
 * the series from the archive, runs that one analysis with the same runner as the CLI, and stores the result
 * (findings document + label map + key images) back in the archive, then its DICOM objects (src/outputs: key
 * image SC series + findings SR) as archive instances, and records their C-STORE deliveries where configured (durable,
 * in the archive index; src/outputs forward-queue sends them). The stable-series poller that queues the jobs is in
 * stable-poller.ts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ERROR_CATALOGUE, safeFileStem, SrError, toSrError } from '../core/index.ts';
import type { ErrorCode, Logger } from '../core/index.ts';
import type { Archive, InstanceOrigin, ResultRecord, SeriesStableEvent } from '../archive/index.ts';
import { scanPaths } from '../dicom/index.ts';
import { comparePriorCandidates, createRegistry, priorEligibility, priorFactsOf, priorResultFrom, runAnalyses, seriesInputs } from '../engine/index.ts';
import type { AnalysisManifest, AnalysisRegistry, AnalysisResultJson, Finding, LabelMapSink, PriorSeries, PriorSeriesFacts, SeriesHeader, SeriesInput } from '../engine/index.ts';
import { encodeNifti, lpsToIjk } from '../imaging/index.ts';
import type { JobHandler } from '../jobs/index.ts';
import { buildResultObjects, destinationLabel, destinationsFor, outputSeries, OUTPUTS_ATTACHMENT, renderKeyImages } from '../outputs/index.ts';
import type { ForwardDestination, ForwardQueue, KeyImageFinding, OutputObject, OutputProvenance, RenderedKeyImage, ResultSegmentation } from '../outputs/index.ts';
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

/** Where the server's prior lookup stops looking (studies of the patient before the current one; series per study). */
export const PRIOR_LOOKUP_LIMITS = { studies: 10, seriesPerStudy: 12 } as const;

/** The prior lookup's choice, recorded in the result's `measurements.priorLookup` (the viewer and report show it). */
export type PriorLookupJson =
  | {
    found: true; studyInstanceUid: string; seriesInstanceUid: string; studyDate: string | null; studyTime: string | null;
    /** The stored result of the same analysis on the prior that was offered for reuse (null: none, the prior is analysed). */
    storedResultId: string | null;
  }
  | { found: false; code: 'PRIOR_NOT_FOUND'; reason: string };

export interface PriorLookup {
  readonly json: PriorLookupJson;
  /** The prior offered as ctx.prior (with its stored result when there is one). */
  readonly prior?: PriorSeries;
  cleanup(): Promise<void>;
}

/**
 * For an analysis that declares `prior`: the most recent earlier study of the same patient (src/engine/prior.ts
 * rules) with a series the analysis accepts, from the archive's query API (STUDY level by PatientID and StudyDate,
 * newest first), each candidate series' header read back to check IssuerOfPatientID, PatientID and `accepts`.
 * Never throws for a missing or unreadable prior: the current series is analysed without one.
 */
export async function findPrior(archive: Archive, m: AnalysisManifest, header: SeriesHeader, log: Logger): Promise<PriorLookup> {
  const none = (reason: string): PriorLookup => {
    log.info('no prior for follow-up', { code: 'PRIOR_NOT_FOUND', analysis: m.id, series: header.seriesInstanceUid, reason });
    return { json: { found: false, code: 'PRIOR_NOT_FOUND', reason }, cleanup: async () => undefined };
  };
  const request = m.prior ?? {};
  const current = priorFactsOf(header);
  if (!current.patientId) return none('the current series has no PatientID');
  if (!current.studyDate) return none('the current series has no StudyDate');
  // PatientID is matched exactly below (a wildcard in it widens the query, never the choice).
  const studies = (await archive.query({ level: 'STUDY', match: { PatientID: current.patientId, StudyDate: `-${current.studyDate}` }, limit: 100 }))
    .filter((r) => r['PatientID'] === current.patientId && r['StudyInstanceUID'] !== current.studyInstanceUid)
    .filter((r) => priorEligibility(current, { ...current, studyInstanceUid: String(r['StudyInstanceUID']), studyDate: (r['StudyDate'] as string | null) ?? undefined, studyTime: (r['StudyTime'] as string | null) ?? undefined }, request).ok)
    .slice(0, PRIOR_LOOKUP_LIMITS.studies);
  let examined = 0;
  const skipped: string[] = [];
  for (const study of studies) {
    const studyUid = String(study['StudyInstanceUID']);
    const series = (await archive.listSeries({ studyInstanceUid: studyUid }))
      .filter((s) => m.modalities.includes(s.modality) && ((request.sameModality ?? true) ? s.modality === current.modality : true))
      .slice(0, PRIOR_LOOKUP_LIMITS.seriesPerStudy);
    const accepted: { facts: PriorSeriesFacts; loaded: ArchivedSeries }[] = [];
    for (const s of series) {
      examined++;
      let loaded: ArchivedSeries;
      try {
        loaded = await loadArchivedSeries(archive, s.seriesInstanceUid);
      } catch (e) {
        skipped.push(`${s.seriesInstanceUid}: ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      const facts = priorFactsOf(loaded.input.header);
      const eligible = priorEligibility(current, facts, request);
      let why = eligible.ok ? undefined : eligible.reason;
      if (!why) {
        try {
          const d = m.accepts(loaded.input.header);
          if (!d.accept) why = `not accepted: ${d.reason}`;
        } catch (e) {
          why = `accepts threw: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
      if (why) {
        skipped.push(`${s.seriesInstanceUid}: ${why}`);
        await loaded.cleanup();
      } else {
        accepted.push({ facts, loaded });
      }
    }
    if (accepted.length === 0) continue;
    accepted.sort((a, b) => comparePriorCandidates(current)(a.facts, b.facts));
    const [best, ...rest] = accepted;
    for (const r of rest) await r.loaded.cleanup();
    if (!best) continue;
    const result = priorResultFrom(await archive.listResults({ seriesInstanceUid: best.facts.seriesInstanceUid, analysisId: m.id }), m, best.facts.seriesInstanceUid);
    const json: PriorLookupJson = {
      found: true, studyInstanceUid: best.facts.studyInstanceUid, seriesInstanceUid: best.facts.seriesInstanceUid,
      studyDate: best.facts.studyDate ?? null, studyTime: best.facts.studyTime ?? null, storedResultId: result?.resultId ?? null,
    };
    log.info('prior found for follow-up', { analysis: m.id, series: header.seriesInstanceUid, priorStudy: json.studyInstanceUid, priorSeries: json.seriesInstanceUid, priorStudyDate: json.studyDate, storedResult: json.storedResultId });
    const input = best.loaded.input;
    const prior: PriorSeries = { header: input.header, loadVolume: (signal) => input.loadVolume(signal), ...(result ? { result } : {}) };
    return { json, prior, cleanup: best.loaded.cleanup };
  }
  if (studies.length === 0) return none(`no earlier study of PatientID ${current.patientId} in the archive`);
  return none(`${studies.length} earlier stud${studies.length === 1 ? 'y' : 'ies'} of the patient, ${examined} series examined, none usable${skipped.length ? `: ${skipped.slice(0, 3).join('; ')}` : ''}`);
}

/** `accepts` for the prior lookup only; a throw is the runner's to report (it records the failure). */
function acceptsQuietly(m: AnalysisManifest, h: SeriesHeader): boolean {
  try {
    return m.accepts(h).accept;
  } catch {
    return false;
  }
}

const DEFAULT_WINDOW = { center: 40, width: 400 };
export const LABEL_MAP_ATTACHMENT = 'labels.nii.gz';

/** What the sink keeps for the DICOM outputs: the rendered key images and where the volume's slices came from. */
interface SinkOutputs {
  keyImages: RenderedKeyImage[];
  /** The label mask, for the DICOM SEG. */
  segmentation?: ResultSegmentation;
  sliceSopInstanceUids?: readonly string[];
  volumeNotes?: readonly string[];
}

function findingSummary(f: Finding): string | undefined {
  const d = f['diameterMm'];
  const v = f['volumeMl'];
  if (typeof d === 'number') return `${d.toFixed(1)} MM`;
  if (typeof v === 'number') return `${v.toFixed(1)} ML`;
  return undefined;
}

/** Label map and key images into an attachments map (names are flat: the archive stores them as blobs). */
function attachmentSink(into: Record<string, Uint8Array>, outputs: SinkOutputs): LabelMapSink {
  return async (target, labelMap, context) => {
    into[LABEL_MAP_ATTACHMENT] = gzipSync(encodeNifti(labelMap.mask, { description: `${target.analysis} ${target.version} labels` }), { level: 6 });
    const keyImages: Record<string, string> = {};
    const window = context.displayWindow ?? DEFAULT_WINDOW;
    const keyFindings: KeyImageFinding[] = [];
    for (const f of context.findings) {
      if (f.label === undefined) continue;
      const k = lpsToIjk(context.volume, f.centerMm)[2];
      const name = `key-${safeFileStem(f.id)}.png`;
      into[name] = renderSlicePng(context.volume, { k, window, overlay: labelMap.mask });
      keyImages[f.id] = name;
      const summary = findingSummary(f);
      keyFindings.push({ id: f.id, kind: f.kind, probability: f.probability, label: f.label, k, ...(summary ? { summary } : {}) });
    }
    // Rendered now, while the volume is in memory; the DICOM objects need the result id, known once it is stored.
    outputs.keyImages = renderKeyImages({ analysisId: target.analysis, analysisVersion: target.version, volume: context.volume, mask: labelMap.mask, window, findings: keyFindings });
    outputs.segmentation = { mask: labelMap.mask, labels: labelMap.labels };
    if (context.sliceSopInstanceUids) outputs.sliceSopInstanceUids = context.sliceSopInstanceUids;
    if (context.volumeNotes) outputs.volumeNotes = context.volumeNotes;
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(labelMap.labels)) labels[k] = v;
    return { path: LABEL_MAP_ATTACHMENT, format: 'nifti-1+gzip', labels, ...(Object.keys(keyImages).length > 0 ? { keyImages } : {}) };
  };
}

/**
 * outputs.json: the result's DICOM objects and a build error if there was one. Their forwarding state lives in the
 * archive's deliveries (the API joins it in as `outputs.forwarding`), not here: several workers write it.
 */
export interface OutputsManifest {
  objects: { name: string; kind: string; sopClassUid: string; seriesInstanceUid: string; sopInstanceUid: string }[];
  error: { code: ErrorCode; message: string } | null;
}

/** Forwarding as the job handler uses it: where each analysis's results go, and the queue that records and sends them. */
export interface ResultForwarding {
  readonly destinations: readonly ForwardDestination[];
  readonly queue: ForwardQueue;
}

export interface JobHandlerOptions {
  readonly archive: Archive;
  readonly registry: AnalysisRegistry;
  readonly log: Logger;
  /** Sends each result's DICOM objects to the destinations configured for its analysis (after it is stored). */
  readonly forwarding?: ResultForwarding;
  /** Calling AE recorded as the origin of the stored result objects. */
  readonly aeTitle?: string;
}

function errorCode(code: string | undefined): ErrorCode {
  return code !== undefined && Object.hasOwn(ERROR_CATALOGUE, code) ? (code as ErrorCode) : 'ANALYSIS_FAILED';
}

/**
 * Result objects into the archive as instances (QIDO/WADO/C-FIND see them). Their UIDs are fixed per result, so
 * a re-run replaces them in place; an output series that held objects this run does not make (fewer findings)
 * is deleted first, so nothing stale stays beside the new ones.
 */
export async function storeOutputObjects(archive: Archive, objects: readonly OutputObject[], series: readonly string[], origin: InstanceOrigin): Promise<void> {
  for (const uid of series) {
    const keep = new Set(objects.filter((o) => o.seriesInstanceUid === uid).map((o) => o.sopInstanceUid));
    const existing = await archive.listInstances({ seriesInstanceUid: uid });
    if (existing.some((i) => !keep.has(i.sopInstanceUid))) await archive.deleteSeries(uid);
  }
  for (const o of objects) await archive.storeInstance({ bytes: o.bytes }, origin);
}

function manifestBytes(m: OutputsManifest): Uint8Array {
  return Buffer.from(`${JSON.stringify(m, null, 1)}\n`);
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
    const sinkOutputs: SinkOutputs = { keyImages: [] };
    let summary;
    let lookup: PriorLookup | undefined;
    try {
      // An analysis that compares (manifest `prior`) gets the patient's most recent earlier series as ctx.prior.
      if (m.prior && m.modalities.includes(input.header.modality) && acceptsQuietly(m, input.header)) {
        ctx.progress(0, 'looking up a prior study');
        lookup = await findPrior(o.archive, m, input.header, o.log);
      }
      const prior = lookup?.prior;
      const run = prior ? { ...m, run: (c: Parameters<AnalysisManifest['run']>[0]) => m.run({ ...c, prior }) } : m;
      summary = await runAnalyses({
        registry: createRegistry([run]),
        series: [input],
        log: o.log,
        signal: ctx.signal,
        timeoutMs: job.timeoutMs,
        saveLabelMap: attachmentSink(attachments, sinkOutputs),
        // The queue spaces the progress writes (a database write in scale-out).
        onProgress: (e) => ctx.progress(e.fraction, e.message),
      });
    } finally {
      await cleanup();
      await lookup?.cleanup();
    }
    const first = summary.document.analyses[0];
    // The prior choice is recorded beside the analysis's own measurements (the provenance schema is closed).
    const r = first && lookup && first.status === 'ok' ? { ...first, measurements: { ...first.measurements, priorLookup: lookup.json } } : first;
    if (!r) throw new SrError('ANALYSIS_FAILED', `${m.id} produced no result for ${job.seriesInstanceUid}`);
    if (r.status === 'failed') {
      throw new SrError(errorCode(r.error?.code), r.error?.message ?? r.reason ?? 'analysis failed', { details: { analysis: m.id, series: job.seriesInstanceUid } });
    }
    const manifest: OutputsManifest = { objects: [], error: null };
    const stored = await o.archive.putResult({
      analysisId: m.id, analysisVersion: m.version, studyInstanceUid: job.studyInstanceUid, seriesInstanceUid: job.seriesInstanceUid,
      status: r.status, document: r, attachments: { ...attachments, [OUTPUTS_ATTACHMENT]: manifestBytes(manifest) }, jobId: job.id,
    });
    o.log.info('result stored', { job: job.id, result: stored.id, analysis: m.id, series: job.seriesInstanceUid, status: r.status, findings: r.findings.length });
    await publishOutputs(o, { stored, result: r, header: input.header, sink: sinkOutputs, manifest });
    return { resultId: stored.id };
  };
}

/**
 * After the result is stored: its DICOM objects into the archive, then their deliveries recorded (superseding those
 * of a previous run's objects). Objects that cannot be built or stored do not fail the result: the failure is
 * recorded in outputs.json with its code (the API shows it). Deliveries that cannot be recorded (the index is
 * unavailable) fail the job, so its retry records them: once the job has succeeded, they are durable.
 */
async function publishOutputs(
  o: JobHandlerOptions,
  x: { stored: ResultRecord; result: AnalysisResultJson; header: SeriesHeader; sink: SinkOutputs; manifest: OutputsManifest },
): Promise<void> {
  const { stored, result: r, manifest } = x;
  const provenance: OutputProvenance = { resultId: stored.id, analysisId: stored.analysisId, analysisVersion: stored.analysisVersion, createdAt: r.provenance.startedAt };
  let objects: OutputObject[] = [];
  try {
    objects = buildResultObjects({
      provenance,
      source: {
        attributes: x.header.attributes, studyInstanceUid: stored.studyInstanceUid, seriesInstanceUid: stored.seriesInstanceUid,
        ...(x.sink.sliceSopInstanceUids ? { sliceSopInstanceUids: x.sink.sliceSopInstanceUids } : {}),
        ...(x.sink.volumeNotes ? { volumeNotes: x.sink.volumeNotes } : {}),
      },
      result: { status: r.status, findings: r.findings, measurements: r.measurements, ...(r.reason !== undefined ? { reason: r.reason } : {}) },
      keyImages: x.sink.keyImages,
      ...(x.sink.segmentation ? { segmentation: x.sink.segmentation } : {}),
    });
    const series = outputSeries(provenance);
    await storeOutputObjects(o.archive, objects, [series.keyImages, series.segmentation, series.report], { via: 'result', ...(o.aeTitle ? { sourceAe: o.aeTitle } : {}) });
    manifest.objects = objects.map((b) => ({ name: b.name, kind: b.kind, sopClassUid: b.sopClassUid, seriesInstanceUid: b.seriesInstanceUid, sopInstanceUid: b.sopInstanceUid }));
  } catch (e) {
    const err = toSrError(e, 'OUTPUT_BUILD_FAILED', `DICOM objects of result ${stored.id} could not be built or stored`);
    manifest.error = { code: err.code, message: err.message };
    o.log.error('result DICOM objects not stored; the findings result stands', { result: stored.id, code: err.code, error: err.message });
    objects = [];
  }
  try {
    await o.archive.putResultAttachment(stored.id, OUTPUTS_ATTACHMENT, manifestBytes(manifest));
  } catch (e) {
    o.log.error('outputs.json could not be written', { result: stored.id, error: e instanceof Error ? e.message : String(e) });
  }
  const sopInstanceUids = objects.map((b) => b.sopInstanceUid);
  if (o.forwarding) {
    await o.forwarding.queue.enqueue({ key: stored.id, destinations: destinationsFor(o.forwarding.destinations, stored.analysisId), sopInstanceUids });
  } else if ((await o.archive.listDeliveries({ resultId: stored.id })).length > 0) {
    // Forwarding configured off since the last run: the old objects' deliveries go (nothing would send them).
    await o.archive.replaceDeliveries(stored.id, []);
  }
}

/** Fails start-up when a forward destination names an analysis this server does not have (a typo would never send). */
export function checkForwardDestinations(destinations: readonly ForwardDestination[], registry: AnalysisRegistry): void {
  const known = new Set(registry.analyses.map((a) => a.id));
  const problems = destinations.flatMap((d) => (Array.isArray(d.analyses) ? d.analyses.filter((id) => !known.has(id)).map((id) => `forward ${destinationLabel(d)}: unknown analysis "${id}"`) : []));
  if (problems.length > 0) {
    throw new SrError('CONFIG_INVALID', `invalid configuration:\n  ${problems.join('\n  ')} (registered: ${[...known].join(', ')})`, { details: { problems } });
  }
}
