/**
 * Live updates for the web app (Server-Sent Events on GET /api/v1/review/events): job state and progress changes,
 * new studies, new or re-run results, report drafts and sign-offs.
 *
 * One hub per archive watches the index database and the job queue with a few cheap aggregate queries once a
 * second — only while at least one browser listens — and fans the changes out to every open stream; routes of this
 * process also publish at once (a sign-off needs no second to show). Watching the shared database, not in-process
 * calls, means a change made by another server or worker process (scale-out) reaches the browser too.
 */
import type { ServerResponse } from 'node:http';
import type { SqlDb } from '../../archive/db.ts';
import type { JobQueue, JobRecord } from '../../jobs/index.ts';
import type { Logger } from '../../core/index.ts';

export type ReviewEvent =
  | { readonly type: 'job'; readonly jobId: string; readonly studyInstanceUid: string; readonly analysisId: string; readonly state: string; readonly progress: number }
  | { readonly type: 'studies'; readonly count: number }
  | { readonly type: 'results'; readonly count: number }
  | { readonly type: 'report'; readonly studyInstanceUid: string; readonly status: 'draft' | 'signed' }
  | { readonly type: 'review'; readonly studyInstanceUid: string };

export type ReviewListener = (ev: ReviewEvent) => void;

/** How often the hub looks for changes while someone listens. */
export const EVENTS_POLL_MS = 1000;
const ACTIVE_JOB_WINDOW = 500;

export class ReviewEventHub {
  private readonly listeners = new Set<ReviewListener>();
  private readonly streams = new Set<ServerResponse>();
  private timer: NodeJS.Timeout | null = null;
  private ticking = false;
  private last: { studies: string; results: string; reportsAt: string; jobs: Map<string, JobRecord> } | null = null;

  constructor(private readonly db: SqlDb, private readonly queue: JobQueue, private readonly log: Logger, private readonly pollMs = EVENTS_POLL_MS) {}

  subscribe(fn: ReviewListener): () => void {
    this.listeners.add(fn);
    if (!this.timer) {
      this.timer = setInterval(() => void this.tick(), this.pollMs);
      this.timer.unref();
      void this.tick();
    }
    return () => {
      this.listeners.delete(fn);
      if (this.listeners.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
        this.last = null;
      }
    };
  }

  publish(ev: ReviewEvent): void {
    for (const fn of this.listeners) {
      try {
        fn(ev);
      } catch (e) {
        this.log.warn('review event listener failed', { error: e instanceof Error ? e.message : String(e) });
      }
    }
  }

  /** Open SSE responses, ended when the server closes (a streaming response never becomes idle on its own). */
  track(res: ServerResponse): () => void {
    this.streams.add(res);
    return () => this.streams.delete(res);
  }

  endStreams(): void {
    for (const res of this.streams) res.end();
    this.streams.clear();
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /** One look at the database and the queue; the first look after subscribing only records the state. */
  async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      const [st, rs, rp, running, queued] = await Promise.all([
        this.db.all('SELECT COUNT(*) AS n, MAX(created_at) AS m FROM studies'),
        this.db.all('SELECT COUNT(*) AS n, MAX(created_at) AS m FROM results'),
        this.db.all('SELECT MAX(COALESCE(signed_at, updated_at)) AS m FROM review_reports'),
        this.queue.list({ state: 'running', limit: ACTIVE_JOB_WINDOW }),
        this.queue.list({ state: 'queued', limit: ACTIVE_JOB_WINDOW }),
      ]);
      const key = (rows: readonly Record<string, unknown>[]): string => `${String(rows[0]?.['n'] ?? 0)}|${String(rows[0]?.['m'] ?? '')}`;
      const now = { studies: key(st), results: key(rs), reportsAt: String(rp[0]?.['m'] ?? ''), jobs: new Map([...running, ...queued].map((j) => [j.id, j])) };
      const prev = this.last;
      this.last = now;
      if (!prev) return;
      if (now.studies !== prev.studies) this.publish({ type: 'studies', count: Number(st[0]?.['n'] ?? 0) });
      if (now.results !== prev.results) this.publish({ type: 'results', count: Number(rs[0]?.['n'] ?? 0) });
      if (now.reportsAt !== prev.reportsAt) {
        const changed = await this.db.all('SELECT study_uid, status FROM review_reports WHERE COALESCE(signed_at, updated_at) > ? ORDER BY study_uid LIMIT 100', [prev.reportsAt]);
        for (const r of changed) this.publish({ type: 'report', studyInstanceUid: String(r['study_uid']), status: r['status'] === 'signed' ? 'signed' : 'draft' });
      }
      for (const j of now.jobs.values()) {
        const p = prev.jobs.get(j.id);
        if (!p || p.state !== j.state || p.progress !== j.progress) this.publish(jobEvent(j));
      }
      // Jobs that left the active set ended (succeeded, failed, cancelled): their final state.
      const ended = [...prev.jobs.keys()].filter((id) => !now.jobs.has(id)).slice(0, 100);
      for (const j of await Promise.all(ended.map((id) => this.queue.get(id)))) if (j) this.publish(jobEvent(j));
    } catch (e) {
      this.log.warn('review events: change check failed', { error: e instanceof Error ? e.message : String(e) });
    } finally {
      this.ticking = false;
    }
  }
}

function jobEvent(j: JobRecord): ReviewEvent {
  return { type: 'job', jobId: j.id, studyInstanceUid: j.studyInstanceUid, analysisId: j.analysisId, state: j.state, progress: j.progress };
}

const hubs = new WeakMap<SqlDb, ReviewEventHub>();

export function reviewEventHub(db: SqlDb, queue: JobQueue, log: Logger): ReviewEventHub {
  let h = hubs.get(db);
  if (!h) {
    h = new ReviewEventHub(db, queue, log);
    hubs.set(db, h);
  }
  return h;
}

/** Ends the open event streams of the hub of `db`, if any (server shutdown). */
export function endReviewStreams(db: SqlDb | undefined): void {
  if (db) hubs.get(db)?.endStreams();
}

/** One SSE frame. */
export function sseFrame(ev: ReviewEvent): string {
  return `event: ${ev.type}\ndata: ${JSON.stringify(ev)}\n\n`;
}
