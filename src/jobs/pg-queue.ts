/**
 * Scale-out job queue: our jobs table in PostgreSQL holds state, progress, errors and idempotency (the API lists
 * it); pg-boss@10 delivers "run job X" messages to `secondreader worker` processes on any machine (see
 * docs/adr/0005-job-queue.md). pg-boss polls (at least every 500 ms); a NOTIFY sent in the enqueue transaction
 * wakes listening workers at once, and a cancel NOTIFY aborts the running handler without waiting for the 1 s
 * row poll, which stays as the fallback when a notification is missed.
 */
import pg from 'pg';
import PgBoss from 'pg-boss';
import { SrError, toSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { startAttempt, type AttemptStore } from './attempt.ts';
import { AttemptSet } from './attempt-set.ts';
import { normalizeSpec, resolveTuning, startingWorker, type QueueTuning } from './policy.ts';
import { assertSchemaName, PgJobStore, type Deliver } from './pg-store.ts';
import type { JobHandler, JobQueue, WorkerHandle } from './types.ts';

export interface PgJobQueueOptions extends QueueTuning {
  readonly connectionString: string;
  /** Schema of our jobs table. Default 'secondreader'. */
  readonly schema?: string;
  /** Schema pg-boss creates and owns. Default `<schema>_pgboss`. */
  readonly bossSchema?: string;
  /** pg-boss queue name. Default 'sr-analysis'. */
  readonly queueName?: string;
  /** LISTEN/NOTIFY wake-ups for workers and cancels (default true); false leaves pg-boss polling alone. */
  readonly notify?: boolean;
  readonly log: Logger;
}

interface Pool {
  readonly attempts: AttemptSet;
  readonly bossWorkerIds: string[];
  stop(timeoutMs?: number): Promise<void>;
}

interface DeliveryMessage {
  jobId?: unknown;
}

export async function createPgJobQueue(options: PgJobQueueOptions): Promise<JobQueue> {
  const { log } = options;
  const tuning = resolveTuning(options, 1000);
  const schema = assertSchemaName(options.schema ?? 'secondreader');
  const bossSchema = assertSchemaName(options.bossSchema ?? `${schema}_pgboss`);
  const queueName = options.queueName ?? 'sr-analysis';
  const channel = `sr_jobs_${schema}`;
  // pg-boss refuses a polling interval under 500 ms.
  const pollingIntervalSeconds = Math.max(0.5, tuning.pollIntervalMs / 1000);

  const pool = new pg.Pool({ connectionString: options.connectionString, max: 5, application_name: 'secondreader-jobs' });
  pool.on('error', (e) => log.warn('jobs database connection error', { error: e.message }));
  const boss = new PgBoss({ connectionString: options.connectionString, schema: bossSchema, max: 3, schedule: false, supervise: true, application_name: 'secondreader-pgboss' });
  boss.on('error', (e) => log.warn('pg-boss error', { error: e.message }));

  const deliver: Deliver = async (client, jobId, delayMs, timeoutMs) => {
    const sendOptions: PgBoss.SendOptions = {
      db: { executeSql: (text, values) => client.query(text, values) },
      // Delivery retries cover a process that died between fetching the message and claiming the row; the job's
      // own retries are ours (a conditional claim makes a second delivery harmless).
      retryLimit: 3,
      retryDelay: 1,
      // pg-boss fails a message whose handler outlives this; it must outlive our own timeout.
      expireInSeconds: Math.min(23 * 3600, Math.ceil(timeoutMs / 1000) + Math.ceil(tuning.abortGraceMs / 1000) + 60),
    };
    if (delayMs > 0) sendOptions.startAfter = delayMs / 1000;
    const id = await boss.send(queueName, { jobId }, sendOptions);
    if (id === null) throw new SrError('JOB_QUEUE_UNAVAILABLE', `pg-boss did not accept the message for job ${jobId}`);
    if (delayMs === 0) await client.query('SELECT pg_notify($1, $2)', [channel, 'queued']);
  };
  const store = new PgJobStore(pool, schema, deliver);

  try {
    await PgJobStore.install(pool, schema);
    await boss.start();
    await boss.createQueue(queueName);
    const r = await store.recoverLost(tuning.lostAfterMs);
    if (r.requeued + r.failed > 0) log.warn('recovered jobs whose worker disappeared', r);
  } catch (e) {
    await boss.stop({ graceful: false, wait: true }).catch((err: unknown) => log.warn('pg-boss stop failed', { error: String(err) }));
    await pool.end().catch((err: unknown) => log.warn('pool end failed', { error: String(err) }));
    throw toSrError(e, 'JOB_QUEUE_UNAVAILABLE', 'Could not open the PostgreSQL job queue');
  }

  const pools = new Set<Pool>();
  let closed = false;
  let listener: pg.Client | null = null;
  // The first startWorkers opens the listener; later ones share it.
  let listening: Promise<void> | null = null;

  const wakeLocal = (): void => {
    for (const p of pools) for (const id of p.bossWorkerIds) boss.notifyWorker(id);
  };
  const abortLocal = (id: string): void => {
    for (const p of pools) p.attempts.abort(id, 'cancel');
  };

  async function listen(): Promise<void> {
    const c = new pg.Client({ connectionString: options.connectionString, application_name: 'secondreader-jobs-listen' });
    c.on('error', (e) => log.warn('job notification listener failed; polling until it reconnects', { error: e.message }));
    c.on('end', () => {
      if (listener === c) listener = null;
      // A database restart drops the LISTEN connection; workers keep polling meanwhile.
      if (!closed && pools.size > 0) {
        setTimeout(() => {
          if (!closed && listener === null && pools.size > 0) listen().catch((e: unknown) => log.warn('job notification listener reconnect failed', { error: String(e) }));
        }, 5_000).unref();
      }
    });
    c.on('notification', (n) => {
      if (n.payload === 'queued') wakeLocal();
      else if (n.payload?.startsWith('cancel:')) abortLocal(n.payload.slice(7));
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
    } catch (e) {
      await c.end().catch(() => undefined);
      throw e;
    }
    if (closed) {
      await c.end();
      return;
    }
    listener = c;
  }

  const guard = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    if (closed) throw new SrError('JOB_QUEUE_UNAVAILABLE', 'Job queue is closed');
    try {
      return await fn();
    } catch (e) {
      throw toSrError(e, 'JOB_QUEUE_UNAVAILABLE', `Job queue: ${what} failed`);
    }
  };

  const attemptStore: AttemptStore = store;

  function startWorkers(handler: JobHandler, opts: { concurrency: number; workerName?: string }): WorkerHandle {
    const { worker, owner } = startingWorker(closed, opts);
    const attempts = new AttemptSet();
    let stopping = false;
    let stopped = false;

    const onMessage = async (messages: PgBoss.Job<DeliveryMessage>[]): Promise<void> => {
      for (const msg of messages) {
        // pg-boss fails the message and delivers it again, to a worker that is not stopping.
        if (stopped) throw new SrError('JOB_QUEUE_UNAVAILABLE', 'Worker stopped');
        const jobId = msg.data.jobId;
        if (typeof jobId !== 'string') {
          log.warn('ignoring a malformed job message', { messageId: msg.id });
          continue;
        }
        const claimed = await store.claim(jobId, worker, owner);
        // Not claimable: cancelled, already run, or a second delivery of one we (or another process) claimed.
        if (claimed === undefined) continue;
        if (stopped) {
          await store.finish(claimed.lease, { kind: 'requeue' });
          continue;
        }
        const attempt = startAttempt({ job: claimed.record, lease: claimed.lease, retryDelayMs: claimed.retryDelayMs, handler, store: attemptStore, timings: tuning, log });
        attempts.add(attempt);
        await attempt.done;
      }
    };

    const bossWorkerIds: string[] = [];
    // One pg-boss worker per slot, each fetching one message: a long analysis never holds back a batch.
    const started = (async () => {
      if (options.notify !== false) {
        listening ??= listen().catch((e: unknown) => log.warn('job notification listener unavailable; polling only', { error: String(e) }));
        await listening;
      }
      for (let i = 0; i < opts.concurrency && !stopping; i++) {
        bossWorkerIds.push(await boss.work<DeliveryMessage>(queueName, { batchSize: 1, pollingIntervalSeconds }, onMessage));
      }
    })().catch((e: unknown) => log.error('job workers could not start', { error: String(e) }));

    const reaper = setInterval(() => {
      store
        .recoverLost(tuning.lostAfterMs)
        .then((r) => {
          if (r.requeued + r.failed > 0) log.warn('recovered jobs whose worker disappeared', r);
        })
        .catch((e: unknown) => log.warn('lost-job recovery failed', { error: String(e) }));
    }, Math.max(1000, tuning.lostAfterMs / 2));

    const pool: Pool = {
      attempts,
      bossWorkerIds,
      async stop(timeoutMs = tuning.stopTimeoutMs) {
        if (stopping) return;
        stopping = true;
        clearInterval(reaper);
        await started;
        for (const id of bossWorkerIds) await boss.offWork({ id });
        await attempts.drain(timeoutMs);
        stopped = true;
        pools.delete(pool);
      },
    };
    pools.add(pool);
    return { stop: () => pool.stop() };
  }

  return {
    backend: 'postgres',
    async enqueue(spec) {
      const n = normalizeSpec(spec, tuning.defaults);
      const r = await guard('enqueue', () => store.enqueue(n));
      if (r.replaced !== null) {
        abortLocal(r.replaced);
        await pool.query('SELECT pg_notify($1, $2)', [channel, `cancel:${r.replaced}`]).catch((e: unknown) => log.warn('cancel notify failed', { error: String(e) }));
      }
      if (r.created) log.info('job queued', { jobId: r.record.id, analysisId: n.analysisId, seriesInstanceUid: n.seriesInstanceUid, replaced: r.replaced });
      return r.record;
    },
    get: (id) => guard('get', () => store.get(id)),
    list: (filter) => guard('list', () => store.list(filter)),
    async cancel(id) {
      const r = await guard('cancel', () => store.cancel(id));
      if (r?.state === 'running') {
        abortLocal(id);
        await pool.query('SELECT pg_notify($1, $2)', [channel, `cancel:${id}`]).catch((e: unknown) => log.warn('cancel notify failed', { error: String(e) }));
      }
      return r;
    },
    startWorkers,
    async close() {
      if (closed) return;
      await Promise.all([...pools].map((p) => p.stop()));
      closed = true;
      const l = listener as pg.Client | null;
      if (l !== null) await l.end().catch((e: unknown) => log.warn('listener close failed', { error: String(e) }));
      await boss.stop({ graceful: false, wait: true });
      await pool.end();
    },
  };
}
