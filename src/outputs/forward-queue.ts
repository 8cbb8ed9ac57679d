/**
 * Forwarding result objects to C-STORE destinations (a PACS), as a step of its own after the result is stored,
 * never failing the analysis result. Each (result, destination) delivery is a row of a durable store (the archive
 * index: `DeliveryStore` is the shape of its delivery methods, so this module knows no archive): it survives a
 * restart or crash, as an acknowledged instance does, and any number of worker processes share the store.
 *
 * A worker claims due deliveries with a lease (renewed while it sends), so one worker at a time sends a delivery;
 * the claim of a worker that died expires and another takes the delivery over. An attempt reads the objects not
 * yet acknowledged from the archive, sends them in one association and records the outcome: sent, retrying with
 * exponential backoff, or failed with a coded error once `maxAttempts` are used. Recording a new delivery of the
 * same (result, destination) — the analysis was re-run — supersedes a pending one (store generation).
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { isSrError, SrError, toSrError } from '../core/index.ts';
import type { ErrorCode, Logger } from '../core/index.ts';
import type { DeliveryOutcome, DeliveryRecord, DeliveryState } from '../archive/types.ts';

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

export type ForwardState = DeliveryState;

interface CodedError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** A delivery's state as the API shows it (`outputs.forwarding[destination]`). */
export interface ForwardStatus {
  /** AE@host:port */
  readonly destination: string;
  readonly state: ForwardState;
  readonly attempts: number;
  readonly sent: number;
  readonly total: number;
  readonly error: CodedError | null;
  readonly nextAttemptAt: string | null;
  readonly updatedAt: string;
}

/** A stored delivery: the archive's record (src/archive/types.ts), creation time aside. */
export type ForwardDelivery = Omit<DeliveryRecord, 'createdAt'>;

export interface ForwardClaim extends ForwardDelivery {
  readonly claimToken: string;
}

export type ForwardOutcome = DeliveryOutcome;

export interface ForwardDeliveryInput {
  readonly destination: string;
  readonly target: { readonly aeTitle: string; readonly host: string; readonly port: number };
  readonly sopInstanceUids: readonly string[];
  readonly maxAttempts: number;
}

/** The durable side: the archive's delivery methods, and its instances (the objects' bytes). */
export interface DeliveryStore {
  replaceDeliveries(resultId: string, deliveries: readonly ForwardDeliveryInput[]): Promise<readonly ForwardDelivery[]>;
  listDeliveries(filter: { resultId?: string; pending?: boolean }): Promise<readonly ForwardDelivery[]>;
  claimDeliveries(o: { owner: string; leaseMs: number; limit: number }): Promise<readonly ForwardClaim[]>;
  renewDeliveryClaim(claim: Pick<ForwardClaim, 'id' | 'claimToken'>, leaseMs: number): Promise<boolean>;
  finishDeliveryAttempt(claim: Pick<ForwardClaim, 'id' | 'claimToken' | 'generation'>, outcome: ForwardOutcome): Promise<boolean>;
  readInstance(sopInstanceUid: string): Promise<Uint8Array>;
}

export interface ForwardQueueOptions {
  readonly store: DeliveryStore;
  readonly send: ForwardSender;
  readonly log: Logger;
  /** Attempts per delivery, the first included (recorded with each new delivery). Default 5. */
  readonly maxAttempts?: number;
  /** Delay before the first retry; doubles per attempt up to `maxRetryDelayMs`. Default 30 s. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** How long a claim holds without renewal (renewed every third of it while sending). Default 120 s. */
  readonly leaseMs?: number;
  /** How often the store is polled for due deliveries (retries, other processes' results). Default 2 s. */
  readonly pollMs?: number;
  /** Deliveries this process sends at once. Default 4. */
  readonly concurrency?: number;
  /** Claim owner, for the logs and the row (default host:pid:random). */
  readonly owner?: string;
}

export interface ForwardTask {
  /** The result id. */
  readonly key: string;
  /** Where its objects go now; an earlier delivery to a destination not listed is removed. */
  readonly destinations: readonly ForwardDestination[];
  /** The result's DICOM objects, as archive instances. */
  readonly sopInstanceUids: readonly string[];
}

export interface ForwardQueue {
  /** Records the result's deliveries (durable when it resolves) and wakes the senders. */
  enqueue(task: ForwardTask): Promise<void>;
  /** Attempts running in this process. */
  readonly inFlight: number;
  /** Resolves when no delivery is pending in the store nor in flight here (tests). */
  idle(): Promise<void>;
  /** Stops claiming; attempts in flight finish and record their outcome. Pending deliveries stay in the store. */
  stop(): Promise<void>;
}

export function destinationLabel(d: Pick<ForwardDestination, 'aeTitle' | 'host' | 'port'>): string {
  return `${d.aeTitle}@${d.host}:${d.port}`;
}

/** The destinations configured for an analysis's results. */
export function destinationsFor(destinations: readonly ForwardDestination[], analysisId: string): ForwardDestination[] {
  return destinations.filter((d) => d.analyses === undefined || d.analyses === '*' || d.analyses.includes(analysisId));
}

/** A stored delivery as the API shows it. */
export function forwardStatus(d: ForwardDelivery): ForwardStatus {
  return {
    destination: d.destination, state: d.state, attempts: d.attempts, sent: d.sopInstanceUids.length - d.remaining.length, total: d.sopInstanceUids.length,
    error: d.error, nextAttemptAt: d.nextAttemptAt, updatedAt: d.updatedAt,
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function createForwardQueue(o: ForwardQueueOptions): ForwardQueue {
  const maxAttempts = Math.max(1, o.maxAttempts ?? 5);
  const baseDelay = o.retryDelayMs ?? 30_000;
  const maxDelay = o.maxRetryDelayMs ?? 15 * 60_000;
  const leaseMs = o.leaseMs ?? 120_000;
  const pollMs = o.pollMs ?? 2000;
  const concurrency = Math.max(1, o.concurrency ?? 4);
  const owner = o.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const { store, log } = o;
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let ticking = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    const at = Date.now() + Math.max(0, delayMs);
    if (timer !== undefined && timerAt <= at) return;
    clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = undefined;
      timerAt = Infinity;
      void tick();
    }, Math.max(0, delayMs));
    timer.unref();
  };

  /** One attempt of a claimed delivery; its outcome goes to the store, which releases the claim. */
  const attempt = async (c: ForwardClaim): Promise<void> => {
    const ctx = { result: c.resultId, to: c.destination, attempt: c.attempts };
    let finished = false;
    const renew = setInterval(() => {
      store.renewDeliveryClaim(c, leaseMs).then((held) => {
        if (!held && !finished) log.warn('forward: claim lost during an attempt (superseded or expired)', ctx);
      }, (e: unknown) => log.warn('forward: claim not renewed', { ...ctx, error: message(e) }));
    }, Math.max(10, Math.floor(leaseMs / 3)));
    renew.unref();
    try {
      const outcome = await run(c);
      finished = true;
      const recorded = await store.finishDeliveryAttempt(c, outcome);
      if (!recorded) log.info('forward: outcome dropped, the delivery was superseded or taken over meanwhile', { ...ctx, state: outcome.state });
      else if (outcome.state === 'sent') log.info('result objects forwarded', { ...ctx, instances: c.sopInstanceUids.length });
      else if (outcome.state === 'failed') log.error('forward failed; giving up', { ...ctx, code: outcome.error?.code, error: outcome.error?.message });
      else log.warn('forward failed; will retry', { ...ctx, nextAttemptAt: outcome.nextAttemptAt, code: outcome.error?.code, error: outcome.error?.message });
      if (recorded && outcome.nextAttemptAt !== null) schedule(Date.parse(outcome.nextAttemptAt) - Date.now());
    } finally {
      clearInterval(renew);
    }
  };

  const run = async (c: ForwardClaim): Promise<ForwardOutcome> => {
    const failed = (error: CodedError, remaining: readonly string[]): ForwardOutcome => ({ state: 'failed', remaining, error, nextAttemptAt: null });
    if (c.attempts > c.maxAttempts) {
      // The claim counts an attempt before sending: the last one was cut short (the worker died or lost its claim).
      return failed({ code: 'OUTPUT_FORWARD_FAILED', message: `not sent to ${c.destination}: ${c.maxAttempts} attempts used, the last one did not finish` }, c.remaining);
    }
    let remaining = [...c.remaining];
    let error: SrError | undefined;
    try {
      const files: ForwardFile[] = [];
      for (const uid of remaining) files.push({ sopInstanceUid: uid, bytes: await store.readInstance(uid) });
      const outcomes = await o.send({ aeTitle: c.target.aeTitle, host: c.target.host, port: c.target.port }, files);
      const acked = new Set(outcomes.filter((r) => r.ok).map((r) => r.sopInstanceUid));
      remaining = remaining.filter((uid) => !acked.has(uid));
      if (remaining.length > 0) {
        const first = outcomes.find((r) => !r.ok)?.error ?? 'no response';
        error = new SrError('DIMSE_OPERATION_FAILED', `${c.destination} did not store ${remaining.length} of ${c.sopInstanceUids.length} objects: ${first}`);
      }
    } catch (e) {
      // An object gone from the archive will not come back by retrying (a re-run records a new delivery).
      if (isSrError(e) && e.code === 'NOT_FOUND') return failed({ code: e.code, message: e.message }, remaining);
      error = toSrError(e, 'OUTPUT_FORWARD_FAILED', `forward to ${c.destination} failed`);
    }
    if (!error) return { state: 'sent', remaining: [], error: null, nextAttemptAt: null };
    const coded = { code: error.code, message: error.message };
    if (c.attempts >= c.maxAttempts) return failed(coded, remaining);
    const delay = Math.min(maxDelay, baseDelay * 2 ** (c.attempts - 1));
    return { state: 'retrying', remaining, error: coded, nextAttemptAt: new Date(Date.now() + delay).toISOString() };
  };

  const launch = (c: ForwardClaim): void => {
    const p = attempt(c).catch((e: unknown) => {
      // The outcome could not be recorded (store unavailable): the claim expires and the attempt is made again.
      log.error('forward: attempt not recorded; retried once its claim expires', { result: c.resultId, to: c.destination, error: message(e) });
    });
    inFlight.add(p);
    void p.finally(() => {
      inFlight.delete(p);
      void tick();
    });
  };

  let claiming: Promise<void> = Promise.resolve();
  const tick = async (): Promise<void> => {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    let done = (): void => undefined;
    claiming = new Promise((r) => (done = r));
    try {
      const free = concurrency - inFlight.size;
      if (free > 0) for (const c of await store.claimDeliveries({ owner, leaseMs, limit: free })) launch(c);
    } catch (e) {
      log.error('forward: deliveries could not be claimed', { error: message(e) });
    } finally {
      ticking = false;
      done();
    }
    if (again) {
      again = false;
      void tick();
    } else schedule(pollMs);
  };

  // Starting is resuming: whatever a stopped or crashed worker left pending is due (or becomes due) now.
  schedule(0);

  return {
    async enqueue(task) {
      if (stopped) throw new SrError('OUTPUT_FORWARD_FAILED', 'the forward queue is stopped');
      const seen = new Set<string>();
      const deliveries: ForwardDeliveryInput[] = [];
      for (const d of task.destinations) {
        const label = destinationLabel(d);
        if (seen.has(label)) continue;
        seen.add(label);
        deliveries.push({ destination: label, target: { aeTitle: d.aeTitle, host: d.host, port: d.port }, sopInstanceUids: task.sopInstanceUids, maxAttempts });
      }
      await store.replaceDeliveries(task.key, task.sopInstanceUids.length > 0 ? deliveries : []);
      void tick();
    },
    get inFlight() {
      return inFlight.size;
    },
    async idle() {
      for (;;) {
        if (inFlight.size === 0 && !ticking && (stopped || (await store.listDeliveries({ pending: true })).length === 0)) {
          if (inFlight.size === 0) return;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      // A claim made as we stopped is launched (not left held until its lease expires), then awaited.
      await claiming;
      await Promise.all([...inFlight]);
    },
  };
}
