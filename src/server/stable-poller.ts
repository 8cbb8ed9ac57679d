/**
 * Stable series → jobs. A poller claims stable series (no instance for stableQuietSeconds; Orthanc's StableSeries
 * idea) and queues one job per accepting analysis, as the routing rules allow.
 *
 * The claim (archive) and the enqueue (queue) are two stores, so a claimed series can miss its jobs: the queue
 * was unreachable (PostgreSQL restarting, SQLite busy past its timeout), or the process stopped in between. Two
 * nets catch that: a failed series stays in memory and is retried with backoff until its jobs are queued (or the
 * failure is one that will not change, e.g. the series has no image stack); and at start-up a sweep queues the
 * routed analyses of recently stable series that have neither a job nor a result since they became stable.
 */
import { toSrError } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import type { Archive, SeriesRecord, SeriesStableEvent } from '../archive/index.ts';
import type { AnalysisManifest, AnalysisRegistry, SeriesHeader } from '../engine/index.ts';
import { isPermanentError } from '../jobs/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { RoutingRule } from './config.ts';
import { loadArchivedSeries, routeSeries } from './engine-wiring.ts';

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
  /** First retry delay of a series whose jobs could not be queued; doubles per failure up to 5 min. Default 2 s. */
  readonly retryDelayMs?: number;
  /** Start-up sweep over series stable within this window (ms); 0 disables it. Default 24 h. */
  readonly sweepWindowMs?: number;
}

export interface Poller {
  /** Resolves after the tick in progress (if any) has finished. */
  stop(): Promise<void>;
  /** One claim-and-route pass now, plus the due retries (tests, start-up). */
  tick(): Promise<number>;
  /** Series whose jobs could not be queued yet and wait for a retry. */
  readonly pendingRetries: number;
}

export type EnqueueOptions = Omit<StablePollerOptions, 'intervalMs' | 'quietSeconds' | 'retryDelayMs' | 'sweepWindowMs'>;

function decide(m: AnalysisManifest, header: SeriesHeader): { accept: boolean; reason: string } {
  try {
    const d = m.accepts(header);
    return d.accept ? { accept: true, reason: '' } : { accept: false, reason: d.reason };
  } catch (e) {
    return { accept: false, reason: `accepts() threw: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Queues the accepting analyses of one stable series; returns the number of jobs queued. `include` narrows the
 * routed analyses (retries skip those already queued); `onQueued` reports each one queued, so a caller knows
 * what got through before a failure.
 */
export async function enqueueForSeries(
  o: EnqueueOptions, ev: SeriesStableEvent, only?: { include?: (analysisId: string) => boolean; onQueued?: (analysisId: string) => void },
): Promise<number> {
  const candidates = routeSeries(o.rules, o.registry, ev).filter((m) => only?.include?.(m.id) ?? true);
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
    only?.onQueued?.(m.id);
    queued++;
  }
  return queued;
}

function eventOf(s: SeriesRecord): SeriesStableEvent {
  return { studyInstanceUid: s.studyInstanceUid, seriesInstanceUid: s.seriesInstanceUid, modality: s.modality, instanceCount: s.instanceCount, sourceAe: s.sourceAe };
}

/**
 * Routed analyses of series stable within the window that have no job and no result created since the series
 * became stable get their jobs (accepts() still decides). Series no analysis accepts are re-read each start
 * (headers only), which the window bounds.
 */
async function sweep(o: EnqueueOptions, windowMs: number, stopped: () => boolean): Promise<{ checked: number; queued: number }> {
  const since = new Date(Date.now() - windowMs).toISOString();
  let checked = 0;
  let queued = 0;
  const PAGE = 200;
  for (let offset = 0; !stopped(); offset += PAGE) {
    const page = await o.archive.listSeries({ limit: PAGE, offset });
    for (const s of page) {
      if (stopped()) break;
      const stableAt = s.stableAt;
      if (stableAt === null || stableAt < since) continue;
      const routed = routeSeries(o.rules, o.registry, s);
      if (routed.length === 0) continue;
      checked++;
      const jobs = await o.queue.list({ seriesInstanceUid: s.seriesInstanceUid, limit: 1000 });
      const results = await o.archive.listResults({ seriesInstanceUid: s.seriesInstanceUid });
      const covered = new Set([...jobs, ...results].filter((r) => r.createdAt >= stableAt).map((r) => r.analysisId));
      const missing = routed.filter((m) => !covered.has(m.id));
      if (missing.length === 0) continue;
      try {
        queued += await enqueueForSeries(o, eventOf(s), { include: (id) => missing.some((m) => m.id === id) });
      } catch (e) {
        const err = toSrError(e, 'JOB_QUEUE_UNAVAILABLE', 'could not queue jobs for a stable series');
        o.log.error('start-up sweep: series not queued', { series: s.seriesInstanceUid, code: err.code, error: err.message });
      }
    }
    if (page.length < PAGE) break;
  }
  return { checked, queued };
}

interface Pending {
  readonly ev: SeriesStableEvent;
  /** Analyses already queued for this claim: a retry must not queue them twice. */
  readonly done: Set<string>;
  failures: number;
  dueAt: number;
}

const MAX_RETRY_DELAY_MS = 5 * 60_000;

export function startStablePoller(o: StablePollerOptions): Poller {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  let swept = (o.sweepWindowMs ?? 24 * 3600_000) <= 0;
  const pending = new Map<string, Pending>();
  const retryDelay = o.retryDelayMs ?? 2000;

  const route = async (p: Pending): Promise<number> => {
    const uid = p.ev.seriesInstanceUid;
    try {
      const n = await enqueueForSeries(o, p.ev, { include: (id) => !p.done.has(id), onQueued: (id) => p.done.add(id) });
      if (pending.delete(uid)) o.log.info('stable series queued after a retry', { series: uid, failures: p.failures });
      return n;
    } catch (e) {
      const err = toSrError(e, 'JOB_QUEUE_UNAVAILABLE', 'could not queue jobs for a stable series');
      // NOT_FOUND: the series was deleted meanwhile; DICOM_/SERIES_: nothing analysable in it. Neither changes by waiting.
      if (err.code === 'NOT_FOUND' || isPermanentError(err.code)) {
        pending.delete(uid);
        o.log.error('stable series cannot be analysed', { series: uid, code: err.code, error: err.message });
        return 0;
      }
      p.failures++;
      const delayMs = Math.min(MAX_RETRY_DELAY_MS, retryDelay * 2 ** (p.failures - 1));
      p.dueAt = Date.now() + delayMs;
      pending.set(uid, p);
      o.log.error('stable series not queued; retrying', { series: uid, code: err.code, error: err.message, failures: p.failures, retryInMs: delayMs });
      return 0;
    }
  };

  const tick = async (): Promise<number> => {
    if (!swept) {
      swept = true;
      try {
        const r = await sweep(o, o.sweepWindowMs ?? 24 * 3600_000, () => stopped);
        if (r.queued > 0) o.log.warn('start-up sweep queued jobs that a previous run had missed', r);
        else o.log.debug('start-up sweep: nothing missing', r);
      } catch (e) {
        o.log.error('start-up sweep failed', { error: e instanceof Error ? e.message : String(e) });
      }
    }
    let queued = 0;
    for (const ev of await o.archive.claimStableSeries(o.quietSeconds * 1000)) {
      // A new claim (new content) supersedes a retry of the series' previous content.
      pending.delete(ev.seriesInstanceUid);
      queued += await route({ ev, done: new Set(), failures: 0, dueAt: 0 });
    }
    const now = Date.now();
    for (const p of [...pending.values()]) if (!stopped && p.dueAt <= now) queued += await route(p);
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
    get pendingRetries() {
      return pending.size;
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      if (pending.size > 0) {
        o.log.warn('stopping with series whose jobs are not queued yet; the next start-up sweep queues them', { series: [...pending.keys()] });
      }
    },
  };
}
