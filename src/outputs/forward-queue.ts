/**
 * Forwarding result objects to C-STORE destinations (a PACS), as a step of its own after the result is stored:
 * queued in this process, retried with exponential backoff, never failing the analysis result. Each (result,
 * destination) delivery reports its state through `onStatus` (the wiring writes it next to the result, where
 * the API shows it); a destination that stays down ends `failed` with a coded error, and is logged.
 *
 * Only the instances not yet acknowledged are sent again on a retry. A newer delivery of the same (result,
 * destination) — the analysis was re-run — supersedes a pending one. Deliveries pending when the process stops
 * are reported failed (not silently dropped); re-running the analysis sends them again.
 */
import { SrError, toSrError } from '../core/index.ts';
import type { ErrorCode, Logger } from '../core/index.ts';

export interface ForwardDestination {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
  /** Analysis ids whose results go there; absent or '*' = every analysis. */
  readonly analyses?: readonly string[] | '*';
}

export interface ForwardFile {
  readonly sopInstanceUid: string;
  readonly bytes: Uint8Array;
}

export interface SendOutcome {
  readonly sopInstanceUid: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** Sends files in one association; one outcome per file. Throws when no association could be made. */
export type ForwardSender = (destination: ForwardDestination, files: readonly ForwardFile[]) => Promise<readonly SendOutcome[]>;

export type ForwardState = 'queued' | 'retrying' | 'sent' | 'failed';

export interface ForwardStatus {
  /** AE@host:port */
  readonly destination: string;
  readonly state: ForwardState;
  readonly attempts: number;
  readonly sent: number;
  readonly total: number;
  readonly error: { readonly code: ErrorCode; readonly message: string } | null;
  readonly nextAttemptAt: string | null;
  readonly updatedAt: string;
}

export interface ForwardTask {
  /** The result id: a newer task with the same key and destination supersedes a pending one. */
  readonly key: string;
  readonly destination: ForwardDestination;
  readonly files: readonly ForwardFile[];
  readonly onStatus?: (status: ForwardStatus) => Promise<void> | void;
}

export interface ForwardQueueOptions {
  readonly send: ForwardSender;
  readonly log: Logger;
  /** Attempts per delivery, the first included. Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubles per attempt up to `maxRetryDelayMs`. Default 30 s. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
}

export interface ForwardQueue {
  enqueue(task: ForwardTask): void;
  /** Deliveries queued, in flight or waiting for a retry. */
  readonly pending: number;
  /** Resolves when nothing is pending (tests, orderly shutdown). */
  idle(): Promise<void>;
  /** Stops retrying: in-flight sends finish, waiting ones are reported failed. */
  stop(): Promise<void>;
}

export function destinationLabel(d: ForwardDestination): string {
  return `${d.aeTitle}@${d.host}:${d.port}`;
}

/** The destinations configured for an analysis's results. */
export function destinationsFor(destinations: readonly ForwardDestination[], analysisId: string): ForwardDestination[] {
  return destinations.filter((d) => d.analyses === undefined || d.analyses === '*' || d.analyses.includes(analysisId));
}

interface Delivery {
  readonly task: ForwardTask;
  readonly label: string;
  remaining: ForwardFile[];
  attempts: number;
  timer: NodeJS.Timeout | undefined;
  superseded: boolean;
}

export function createForwardQueue(o: ForwardQueueOptions): ForwardQueue {
  const maxAttempts = Math.max(1, o.maxAttempts ?? 5);
  const baseDelay = o.retryDelayMs ?? 30_000;
  const maxDelay = o.maxRetryDelayMs ?? 15 * 60_000;
  const active = new Map<string, Delivery>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  const idleWaiters: (() => void)[] = [];

  const settle = (id: string, d: Delivery): void => {
    if (active.get(id) === d) active.delete(id);
    if (active.size === 0) for (const w of idleWaiters.splice(0)) w();
  };

  const report = async (d: Delivery, state: ForwardState, error: ForwardStatus['error'], nextAttemptAt: Date | null): Promise<void> => {
    if (d.superseded) return;
    const status: ForwardStatus = {
      destination: d.label, state, attempts: d.attempts, sent: d.task.files.length - d.remaining.length, total: d.task.files.length,
      error, nextAttemptAt: nextAttemptAt?.toISOString() ?? null, updatedAt: new Date().toISOString(),
    };
    try {
      await d.task.onStatus?.(status);
    } catch (e) {
      o.log.error('forward: status could not be recorded', { result: d.task.key, to: d.label, error: e instanceof Error ? e.message : String(e) });
    }
  };

  const attempt = async (id: string, d: Delivery): Promise<void> => {
    d.timer = undefined;
    if (d.superseded) return;
    d.attempts++;
    let error: SrError | undefined;
    try {
      const outcomes = await o.send(d.task.destination, d.remaining);
      const failed = new Set(outcomes.filter((r) => !r.ok).map((r) => r.sopInstanceUid));
      const unanswered = d.remaining.filter((f) => !outcomes.some((r) => r.sopInstanceUid === f.sopInstanceUid));
      d.remaining = d.remaining.filter((f) => failed.has(f.sopInstanceUid) || unanswered.includes(f));
      if (d.remaining.length > 0) {
        const first = outcomes.find((r) => !r.ok)?.error ?? 'no response';
        error = new SrError('DIMSE_OPERATION_FAILED', `${d.label} did not store ${d.remaining.length} of ${d.task.files.length} objects: ${first}`);
      }
    } catch (e) {
      error = toSrError(e, 'OUTPUT_FORWARD_FAILED', `forward to ${d.label} failed`);
    }
    if (d.superseded) return;
    if (!error) {
      o.log.info('result objects forwarded', { result: d.task.key, to: d.label, instances: d.task.files.length, attempts: d.attempts });
      await report(d, 'sent', null, null);
      settle(id, d);
      return;
    }
    const coded = { code: error.code, message: error.message };
    if (d.attempts >= maxAttempts || stopped) {
      o.log.error('forward failed; giving up', { result: d.task.key, to: d.label, attempts: d.attempts, code: error.code, error: error.message });
      await report(d, 'failed', coded, null);
      settle(id, d);
      return;
    }
    const delay = Math.min(maxDelay, baseDelay * 2 ** (d.attempts - 1));
    o.log.warn('forward failed; will retry', { result: d.task.key, to: d.label, attempts: d.attempts, retryInMs: delay, code: error.code, error: error.message });
    await report(d, 'retrying', coded, new Date(Date.now() + delay));
    if (d.superseded || stopped) {
      if (!d.superseded) await report(d, 'failed', coded, null);
      settle(id, d);
      return;
    }
    d.timer = setTimeout(() => run(id, d), delay);
  };

  const run = (id: string, d: Delivery): void => {
    const p = attempt(id, d).catch((e: unknown) => {
      o.log.error('forward: unexpected failure', { result: d.task.key, to: d.label, error: e instanceof Error ? e.message : String(e) });
      settle(id, d);
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };

  return {
    enqueue(task) {
      if (stopped) throw new SrError('OUTPUT_FORWARD_FAILED', 'the forward queue is stopped');
      const label = destinationLabel(task.destination);
      const id = `${task.key}|${label}`;
      const previous = active.get(id);
      if (previous) {
        previous.superseded = true;
        if (previous.timer) clearTimeout(previous.timer);
      }
      const d: Delivery = { task, label, remaining: [...task.files], attempts: 0, timer: undefined, superseded: false };
      active.set(id, d);
      void report(d, 'queued', null, null);
      run(id, d);
    },
    get pending() {
      return active.size;
    },
    idle() {
      return active.size === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
    async stop() {
      stopped = true;
      const waiting = [...active.entries()].filter(([, d]) => d.timer !== undefined);
      for (const [id, d] of waiting) {
        clearTimeout(d.timer);
        d.timer = undefined;
        o.log.error('forward abandoned at shutdown; re-run the analysis to send it again', { result: d.task.key, to: d.label, attempts: d.attempts });
        await report(d, 'failed', { code: 'OUTPUT_FORWARD_FAILED', message: `not sent to ${d.label}: the worker stopped while waiting to retry (${d.attempts} attempts); re-run the analysis to send again` }, null);
        settle(id, d);
      }
      await Promise.all([...inFlight]);
    },
  };
}
