/**
 * One small SQL interface over both index back ends, so the archive's queries are written once. SQL uses `?`
 * placeholders (rewritten to `$n` for PostgreSQL); everything else that differs between the dialects lives in
 * `Dialect` (DDL types, string aggregation, how a write transaction starts).
 *
 * better-sqlite3 is synchronous and has one connection: an `await` inside a transaction would let another
 * caller's statements run inside it, so every SQLite operation goes through one queue. PostgreSQL uses a pool;
 * each transaction holds one client.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SrError, toSrError } from '../core/errors.ts';
import { SyncCoalescer, fsyncPath } from './fsync.ts';

export type SqlValue = string | number | null;
export type SqlRow = Record<string, unknown>;

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** Column type of sizes (files over 2 GiB). */
  readonly bigint: string;
  /** Column type of text that is matched or ordered: bytewise comparison in both. */
  readonly text: string;
  /** `agg(DISTINCT expr)` as a comma-separated string. */
  distinctList(expr: string): string;
}

export interface SqlExec {
  all(sql: string, params?: readonly SqlValue[]): Promise<SqlRow[]>;
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDb extends SqlExec {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in a write transaction (SQLite: BEGIN IMMEDIATE, so lock upgrades never deadlock). SQLite:
   * `{ sync: false }` resolves at COMMIT, before the WAL is synced (durable against a process crash only); only
   * for writes something else makes durable (the ingest journal, journal.ts). PostgreSQL ignores it.
   */
  tx<T>(fn: (q: SqlExec) => Promise<T>, options?: { readonly sync?: boolean }): Promise<T>;
  /** SQLite: makes every commit so far durable (WAL fdatasync). PostgreSQL: nothing to do (commits are). */
  sync(): Promise<void>;
  close(): Promise<void>;
}

const SQLITE_DIALECT: Dialect = {
  name: 'sqlite',
  bigint: 'INTEGER',
  text: 'TEXT',
  distinctList: (expr) => `group_concat(DISTINCT ${expr})`,
};

const PG_DIALECT: Dialect = {
  name: 'postgres',
  bigint: 'BIGINT',
  text: 'TEXT COLLATE "C"',
  distinctList: (expr) => `string_agg(DISTINCT ${expr}, ',')`,
};

function unavailable(e: unknown, what: string): SrError {
  return toSrError(e, 'ARCHIVE_UNAVAILABLE', what);
}

/**
 * SQLite in WAL mode, every commit fsynced before its promise resolves, so a committed index row survives power
 * loss, as the blob (fsynced before it) does: unsynced commits would only be safe against process crashes, and
 * the recovery pass removes blobs without rows, so an acknowledged instance could vanish (see ADR 0004).
 * The fsync is ours, not SQLite's: with synchronous=FULL better-sqlite3 runs it inside COMMIT on the event loop
 * (2-3 ms during which no association is served). With synchronous=NORMAL SQLite writes the WAL frames without
 * syncing them (and syncs before each checkpoint); we then fsync the WAL file in libuv's thread pool, concurrent
 * commits sharing one fsync (SyncCoalescer), and resolve after it: the same guarantee, off the event loop.
 */
export function openSqlite(path: string): SqlDb {
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 15000');
    db.pragma('foreign_keys = OFF');
  } catch (e) {
    throw unavailable(e, `could not open the SQLite index ${path}`);
  }
  const cache = new Map<string, Database.Statement>();
  const prep = (sql: string): Database.Statement => {
    let s = cache.get(sql);
    if (!s) {
      s = db.prepare(sql);
      cache.set(sql, s);
    }
    return s;
  };
  const guard = <T>(fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(sqliteError(e));
    }
  };
  const exec: SqlExec = {
    all: (sql, params = []) => guard(() => {
      const s = prep(sql);
      return s.reader ? (s.all(...params) as SqlRow[]) : (s.run(...params), []);
    }),
    run: (sql, params = []) => guard(() => prep(sql).run(...params).changes),
  };
  let closed = false;
  const wal = `${path}-wal`;
  // The WAL file lives as long as a connection is open (ours is), so one handle serves every sync: no open and
  // close in the thread pool around each commit's fsync.
  let walHandle: Promise<FileHandle> | undefined;
  const syncWal = async (p: string): Promise<void> => {
    walHandle ??= open(p, 'r');
    let fh: FileHandle;
    try {
      fh = await walHandle;
    } catch (e) {
      walHandle = undefined;
      throw e;
    }
    try {
      // fdatasync, as SQLite itself syncs its WAL: the frames and the file size, not the timestamps.
      await fh.datasync();
    } catch (e) {
      // Closed meanwhile: closing checkpointed the WAL into the database file (synced), the commit is durable.
      if (!closed) throw e;
    }
  };
  const syncer = new SyncCoalescer(syncWal);
  let dirSynced = false;
  // The WAL file may have just been created: its folder entry is synced once too.
  const durable = async (): Promise<void> => {
    try {
      // ENOENT: the last connection closed meanwhile; SQLite checkpointed the WAL into the database (synced)
      // and deleted it, so the commit is already durable.
      await syncer.sync(wal).catch((e: unknown) => {
        if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
      });
      if (!dirSynced) {
        await fsyncPath(dirname(path));
        dirSynced = true;
      }
    } catch (e) {
      throw sqliteError(e);
    }
  };
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = queue.then(fn, fn);
    queue = p.catch((e: unknown) => e);
    return p;
  };
  return {
    dialect: SQLITE_DIALECT,
    // A statement outside tx() that writes commits on its own: durable before it resolves, as in tx().
    all: async (sql, params) => {
      let wrote = false;
      const rows = await enqueue(() => exec.all(sql, params).then((r) => {
        wrote = !prep(sql).readonly; // UPDATE … RETURNING reads and writes
        return r;
      }));
      if (wrote) await durable();
      return rows;
    },
    run: async (sql, params) => {
      const changes = await enqueue(() => exec.run(sql, params));
      if (!prep(sql).readonly) await durable();
      return changes;
    },
    // The queue is released at COMMIT; the caller resolves once the WAL fsync covering it is done.
    tx: async (fn, options) => {
      const r = await enqueue(async () => {
        await guard(() => prep('BEGIN IMMEDIATE').run());
        try {
          const v = await fn(exec);
          prep('COMMIT').run();
          return v;
        } catch (e) {
          if (db.inTransaction) prep('ROLLBACK').run();
          throw sqliteError(e);
        }
      });
      if (options?.sync !== false) await durable();
      return r;
    },
    // Queued behind statements already issued, so it covers every commit made before it was called.
    sync: async () => {
      await enqueue(() => Promise.resolve());
      await durable();
    },
    close: () => enqueue(() => {
      if (!closed) {
        closed = true;
        db.close();
      }
      const h = walHandle;
      walHandle = undefined;
      return h ? h.then((fh) => fh.close()).catch((e: unknown) => e).then(() => undefined) : Promise.resolve();
    }),
  };
}

function sqliteError(e: unknown): SrError {
  if (e instanceof SrError) return e;
  const code = (e as { code?: unknown }).code;
  if (code === 'SQLITE_FULL') return toSrError(e, 'ARCHIVE_STORAGE_FULL', 'SQLite index: disk full');
  return unavailable(e, 'SQLite index error');
}

function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function quoteIdent(id: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(id)) throw new SrError('CONFIG_INVALID', `invalid PostgreSQL schema name ${JSON.stringify(id)}`);
  return `"${id}"`;
}

export async function openPostgres(connectionString: string, schema: string): Promise<SqlDb> {
  const quoted = quoteIdent(schema);
  const pool = new pg.Pool({ connectionString, max: 10, options: `-c search_path=${quoted}` });
  pool.on('error', (e) => void e); // idle-client errors surface on the next query as ARCHIVE_UNAVAILABLE
  try {
    const c = await pool.connect();
    try {
      // Two processes starting together must not both create the schema: serialize on an advisory lock.
      await c.query('SELECT pg_advisory_lock(hashtext($1))', [`sr-archive:${schema}`]);
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoted}`);
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`sr-archive:${schema}`]);
      }
    } finally {
      c.release();
    }
  } catch (e) {
    await pool.end().catch((endErr: unknown) => endErr);
    throw unavailable(e, 'could not connect to PostgreSQL');
  }
  const on = (c: pg.Pool | pg.PoolClient): SqlExec => ({
    all: async (sql, params = []) => {
      try {
        return (await c.query(toPg(sql), params as SqlValue[])).rows as SqlRow[];
      } catch (e) {
        throw pgError(e);
      }
    },
    run: async (sql, params = []) => {
      try {
        return (await c.query(toPg(sql), params as SqlValue[])).rowCount ?? 0;
      } catch (e) {
        throw pgError(e);
      }
    },
  });
  const poolExec = on(pool);
  return {
    dialect: PG_DIALECT,
    all: poolExec.all,
    run: poolExec.run,
    tx: async (fn) => {
      let c: pg.PoolClient;
      try {
        c = await pool.connect();
      } catch (e) {
        throw unavailable(e, 'could not connect to PostgreSQL');
      }
      try {
        await c.query('BEGIN');
        const r = await fn(on(c));
        await c.query('COMMIT');
        return r;
      } catch (e) {
        await c.query('ROLLBACK').catch((rbErr: unknown) => rbErr);
        throw e instanceof SrError ? e : pgError(e);
      } finally {
        c.release();
      }
    },
    sync: () => Promise.resolve(),
    close: () => pool.end(),
  };
}

function pgError(e: unknown): SrError {
  const code = (e as { code?: unknown }).code;
  // Class 08 connection exceptions, 57P0x shutdown: the database is unavailable, not the request wrong.
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P'))) return unavailable(e, 'PostgreSQL unavailable');
  if (e instanceof Error && /ECONNREFUSED|ECONNRESET|terminat/i.test(e.message)) return unavailable(e, 'PostgreSQL unavailable');
  return toSrError(e, 'ARCHIVE_UNAVAILABLE', 'PostgreSQL query failed');
}
