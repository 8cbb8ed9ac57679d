/**
 * Group commit for the SQLite index. In WAL mode with synchronous=FULL every COMMIT is one fsync (ADR 0004), and
 * better-sqlite3 runs it on the main thread: N associations storing at once paid N fsyncs in a row, each one
 * blocking the event loop. Here the index writes of stores that reach their commit together share one
 * transaction: each in its own SAVEPOINT (a failing one is rolled back alone and rejects alone), one COMMIT, and
 * every caller resolves only after that COMMIT, so nothing is acknowledged before it is durable.
 *
 * "Together": a batch waits while other stores are still before their commit (`begin()` counts them: parsing,
 * writing the blob), at most `maxWaitMs`. A lone store (one association) commits at once, without waiting.
 */
import type { SqlDb, SqlExec } from './db.ts';

interface Pending {
  readonly fn: (q: SqlExec) => Promise<unknown>;
  /** false: the caller makes it durable otherwise (ingest journal); the batch syncs if any member needs it. */
  readonly sync: boolean;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export class GroupCommit {
  private readonly db: SqlDb;
  private readonly maxWaitMs: number;
  private readonly maxBatch: number;
  private approaching = 0;
  private waiting: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;

  constructor(db: SqlDb, o: { maxWaitMs?: number; maxBatch?: number } = {}) {
    this.db = db;
    this.maxWaitMs = o.maxWaitMs ?? 3;
    this.maxBatch = o.maxBatch ?? 64;
  }

  /** A store has started (it will call tx() or end() later). */
  begin(): void {
    this.approaching++;
  }

  /** A store that began will not call tx() (duplicate, failure). */
  end(): void {
    this.approaching = Math.max(0, this.approaching - 1);
    this.maybeFlush();
  }

  /** Runs `fn` in the next shared transaction; call after begin(), instead of end(). */
  tx<T>(fn: (q: SqlExec) => Promise<T>, options?: { readonly sync?: boolean }): Promise<T> {
    this.approaching = Math.max(0, this.approaching - 1);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ fn, sync: options?.sync !== false, resolve: resolve as (v: unknown) => void, reject });
      if (this.timer === undefined && !this.running) this.timer = setTimeout(() => this.flush(), this.maxWaitMs);
      this.maybeFlush();
    });
  }

  private maybeFlush(): void {
    if (this.running || this.waiting.length === 0) return;
    if (this.approaching === 0 || this.waiting.length >= this.maxBatch) this.flush();
  }

  private flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running || this.waiting.length === 0) return;
    const batch = this.waiting.splice(0, this.maxBatch);
    this.running = true;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    this.db
      .tx(async (q) => {
        const only = batch.length === 1 ? batch[0] : undefined;
        if (only) {
          // One member (one association): no savepoint, its failure rolls the transaction back (and rejects it alone).
          try {
            outcomes.push({ ok: true, value: await only.fn(q) });
          } catch (e) {
            outcomes.push({ ok: false, error: e });
            throw e;
          }
          return;
        }
        for (const p of batch) {
          await q.run('SAVEPOINT sr_store');
          try {
            outcomes.push({ ok: true, value: await p.fn(q) });
            await q.run('RELEASE sr_store');
          } catch (e) {
            await q.run('ROLLBACK TO sr_store');
            await q.run('RELEASE sr_store');
            outcomes.push({ ok: false, error: e });
          }
        }
      }, { sync: batch.some((p) => p.sync) })
      .then(
        () => batch.forEach((p, i) => {
          const o = outcomes[i];
          if (o?.ok) p.resolve(o.value);
          else p.reject(o ? o.error : new Error('group commit: no outcome'));
        }),
        (e: unknown) => batch.forEach((p, i) => {
          const o = outcomes[i];
          p.reject(o && !o.ok ? o.error : e); // the member's own error (a lone member rolled the transaction back)
        }),
      )
      .finally(() => {
        this.running = false;
        if (this.waiting.length > 0) {
          if (this.approaching === 0 || this.waiting.length >= this.maxBatch) this.flush();
          else this.timer ??= setTimeout(() => this.flush(), this.maxWaitMs);
        }
      });
  }
}
