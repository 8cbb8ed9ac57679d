/**
 * The audit trail: an append-only, hash-chained table in the index database (SQLite or PostgreSQL).
 *
 * Tamper evidence: row n stores hash_n = sha256(hash_{n-1} ‖ canonical JSON of its event ‖ n), hash_0 being 64
 * zeros. Changing, inserting or deleting a row in the middle breaks the chain at that row, which
 * `verifyAuditChain` reports. Removing the newest rows leaves a valid shorter chain: the head (seq + hash) that
 * `secondreader audit verify` prints is what an operator records elsewhere to detect that (docs/audit.md).
 * Append-only: this code has no UPDATE or DELETE of the table, and triggers refuse both in the database.
 * Appends are serialized across processes — PostgreSQL: pg_advisory_xact_lock in the insert transaction;
 * SQLite: the write transaction (BEGIN IMMEDIATE) — so two writers never take the same seq or prev hash.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SrError } from '../../core/index.ts';
import type { Logger } from '../../core/index.ts';
import type { SqlDb, SqlExec, SqlRow, SqlValue } from '../../archive/db.ts';
import type { AuditEvent, AuditOutcome, AuditSink } from './types.ts';

export const GENESIS_HASH = '0'.repeat(64);
const TABLE = 'sr_audit';
/** Advisory lock key of the appends (any constant; per schema, as search_path names the table). */
const LOCK_NAME = 'sr-audit-append';

/** One stored event. */
export interface AuditRecord {
  readonly seq: number;
  /** ISO-8601 UTC. */
  readonly at: string;
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly actor: string | null;
  readonly actorRole: string | null;
  readonly source: string;
  readonly object: string;
  readonly studyInstanceUid: string | null;
  readonly patientId: string | null;
  readonly details: Readonly<Record<string, unknown>> | null;
  readonly prevHash: string;
  readonly hash: string;
}

export type ChainVerification =
  | { readonly ok: true; readonly count: number; readonly headSeq: number; readonly headHash: string }
  | { readonly ok: false; readonly count: number; readonly brokenSeq: number; readonly reason: string };

export interface AuditFilter {
  readonly actor?: string;
  readonly action?: string;
  readonly outcome?: AuditOutcome;
  readonly studyInstanceUid?: string;
  /** Inclusive ISO-8601 bounds on `at`. */
  readonly from?: string;
  readonly to?: string;
  readonly limit?: number;
  readonly offset?: number;
}

/** Creates the table, its index and the append-only triggers (idempotent; safe for processes starting together). */
export async function migrateAudit(db: SqlDb): Promise<void> {
  const t = db.dialect.text;
  const create = `CREATE TABLE IF NOT EXISTS ${TABLE} (
    seq ${db.dialect.bigint} PRIMARY KEY, at ${t} NOT NULL,
    action ${t} NOT NULL, outcome ${t} NOT NULL, actor ${t}, actor_role ${t}, source ${t} NOT NULL, object ${t} NOT NULL,
    study_uid ${t}, patient_id ${t}, details ${t},
    prev_hash ${t} NOT NULL, hash ${t} NOT NULL)`;
  const indexes = [
    `CREATE INDEX IF NOT EXISTS ${TABLE}_at ON ${TABLE} (at)`,
    `CREATE INDEX IF NOT EXISTS ${TABLE}_actor ON ${TABLE} (actor, seq)`,
    `CREATE INDEX IF NOT EXISTS ${TABLE}_study ON ${TABLE} (study_uid, seq)`,
  ];
  if (db.dialect.name === 'sqlite') {
    await db.tx(async (q) => {
      await q.run(create);
      for (const i of indexes) await q.run(i);
      for (const op of ['UPDATE', 'DELETE']) {
        await q.run(`CREATE TRIGGER IF NOT EXISTS ${TABLE}_no_${op.toLowerCase()} BEFORE ${op} ON ${TABLE}
          BEGIN SELECT RAISE(ABORT, '${TABLE} is append-only'); END`);
      }
    });
    return;
  }
  await db.tx(async (q) => {
    await q.all('SELECT pg_advisory_xact_lock(hashtext(?))', ['sr-audit-migrate']);
    await q.run(create);
    for (const i of indexes) await q.run(i);
    await q.run(`CREATE OR REPLACE FUNCTION ${TABLE}_refuse() RETURNS trigger LANGUAGE plpgsql AS
      'BEGIN RAISE EXCEPTION ''${TABLE} is append-only (% refused)'', TG_OP; END'`);
    await q.run(`CREATE OR REPLACE TRIGGER ${TABLE}_no_change BEFORE UPDATE OR DELETE ON ${TABLE}
      FOR EACH ROW EXECUTE FUNCTION ${TABLE}_refuse()`);
    await q.run(`CREATE OR REPLACE TRIGGER ${TABLE}_no_truncate BEFORE TRUNCATE ON ${TABLE}
      FOR EACH STATEMENT EXECUTE FUNCTION ${TABLE}_refuse()`);
  });
}

/** JSON with object keys sorted at every level: the same event always hashes the same. */
export function canonicalJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
  return JSON.stringify(v);
}

type Hashed = Omit<AuditRecord, 'seq' | 'prevHash' | 'hash'>;

function hashedFields(r: Hashed): Record<string, unknown> {
  return {
    at: r.at, action: r.action, outcome: r.outcome, actor: r.actor, actorRole: r.actorRole, source: r.source, object: r.object,
    studyInstanceUid: r.studyInstanceUid, patientId: r.patientId, details: r.details,
  };
}

export function chainHash(prevHash: string, r: Hashed, seq: number): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(hashedFields(r))).update(String(seq)).digest('hex');
}

function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function toRecord(row: SqlRow): AuditRecord {
  let details: Record<string, unknown> | null = null;
  const raw = str(row['details']);
  if (raw !== null) {
    try {
      details = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      details = { unparsable: raw }; // a row altered by hand: the chain check reports it
    }
  }
  return {
    seq: Number(row['seq']), at: String(row['at']), action: String(row['action']), outcome: String(row['outcome']) as AuditOutcome,
    actor: str(row['actor']), actorRole: str(row['actor_role']), source: String(row['source']), object: String(row['object']),
    studyInstanceUid: str(row['study_uid']), patientId: str(row['patient_id']), details,
    prevHash: String(row['prev_hash']), hash: String(row['hash']),
  };
}

async function lockAppends(db: SqlDb, q: SqlExec): Promise<void> {
  // SQLite: tx() is BEGIN IMMEDIATE, which already holds the database's one write lock.
  if (db.dialect.name === 'postgres') await q.all('SELECT pg_advisory_xact_lock(hashtext(?))', [LOCK_NAME]);
}

/** A head recorded earlier (seq + hash, as `audit verify` prints it) and kept outside the database. */
export interface AuditAnchor {
  readonly seq: number;
  readonly hash: string;
}

/** Parses "SEQ:HASH" (HASH: 64 hex digits); undefined when malformed. */
export function parseAuditAnchor(s: string): AuditAnchor | undefined {
  const m = /^(\d{1,15}):([0-9a-fA-F]{64})$/.exec(s.trim());
  return m?.[1] && m[2] && Number(m[1]) >= 1 ? { seq: Number(m[1]), hash: m[2].toLowerCase() } : undefined;
}

/**
 * Walks the chain from the start; the first row whose seq, prev hash or hash does not follow is reported. With an
 * anchor, the chain must also still hold that row with that hash: removing the newest rows (which leaves a valid
 * shorter chain) or rewriting the whole chain after the anchor is then reported at the anchor's seq.
 */
export async function verifyAuditChain(db: SqlDb, pageSize = 1000, anchor?: AuditAnchor): Promise<ChainVerification> {
  let prevHash = GENESIS_HASH;
  let expected = 1;
  let count = 0;
  for (;;) {
    const rows = await db.all(`SELECT * FROM ${TABLE} WHERE seq >= ? ORDER BY seq LIMIT ?`, [expected, pageSize]);
    for (const row of rows) {
      const r = toRecord(row);
      if (r.seq !== expected) return { ok: false, count, brokenSeq: expected, reason: `row ${expected} is missing (next is ${r.seq})` };
      if (r.prevHash !== prevHash) return { ok: false, count, brokenSeq: r.seq, reason: 'prev_hash does not match the hash of the row before' };
      if (chainHash(prevHash, r, r.seq) !== r.hash) return { ok: false, count, brokenSeq: r.seq, reason: 'content does not match its hash' };
      if (anchor && r.seq === anchor.seq && r.hash !== anchor.hash) return { ok: false, count, brokenSeq: r.seq, reason: 'its hash differs from the expected head' };
      prevHash = r.hash;
      expected++;
      count++;
    }
    if (rows.length < pageSize) break;
  }
  if (anchor && anchor.seq > count) {
    return { ok: false, count, brokenSeq: anchor.seq, reason: `the expected head is missing: the chain ends at seq ${count} (truncated)` };
  }
  return { ok: true, count, headSeq: expected - 1, headHash: prevHash };
}

export interface AuditTrailOptions {
  readonly log: Logger;
  readonly now?: () => Date;
}

export class AuditTrail implements AuditSink {
  readonly #db: SqlDb;
  readonly #log: Logger;
  readonly #now: () => Date;
  #secret: Promise<Buffer> | undefined;

  private constructor(db: SqlDb, o: AuditTrailOptions) {
    this.#db = db;
    this.#log = o.log;
    this.#now = o.now ?? (() => new Date());
  }

  /** Migrates (creates the table and triggers) and returns the trail. The caller owns and closes `db`. */
  static async open(db: SqlDb, o: AuditTrailOptions): Promise<AuditTrail> {
    await migrateAudit(db);
    return new AuditTrail(db, o);
  }

  /** AuditSink: appends; never throws on the caller's path (a failure is logged at error level). */
  async record(event: AuditEvent): Promise<void> {
    try {
      await this.append(event);
    } catch (e) {
      this.#log.error('audit event could not be recorded', { action: event.action, object: event.object, error: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Appends one event and returns the stored row; throws SrError on database failure. */
  async append(event: AuditEvent): Promise<AuditRecord> {
    const body: Hashed = {
      at: this.#now().toISOString(), action: event.action, outcome: event.outcome, actor: event.actor, actorRole: event.actorRole ?? null,
      source: event.source, object: event.object, studyInstanceUid: event.studyInstanceUid ?? null, patientId: event.patientId ?? null,
      // Round-tripped through JSON so that what is hashed is exactly what is stored and read back.
      details: event.details === undefined ? null : (JSON.parse(canonicalJson(event.details)) as Record<string, unknown>),
    };
    const db = this.#db;
    return db.tx(async (q) => {
      await lockAppends(db, q);
      const head = (await q.all(`SELECT seq, hash FROM ${TABLE} ORDER BY seq DESC LIMIT 1`))[0];
      const seq = head ? Number(head['seq']) + 1 : 1;
      const prevHash = head ? String(head['hash']) : GENESIS_HASH;
      const hash = chainHash(prevHash, body, seq);
      const values: SqlValue[] = [
        seq, body.at, body.action, body.outcome, body.actor, body.actorRole, body.source, body.object, body.studyInstanceUid, body.patientId,
        body.details === null ? null : canonicalJson(body.details), prevHash, hash,
      ];
      await q.run(`INSERT INTO ${TABLE} (seq, at, action, outcome, actor, actor_role, source, object, study_uid, patient_id, details, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, values);
      return { ...body, seq, prevHash, hash };
    });
  }

  /** Newest first. */
  async list(f: AuditFilter = {}): Promise<AuditRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const eq = (col: string, v: string | undefined) => {
      if (v !== undefined) {
        where.push(`${col} = ?`);
        params.push(v);
      }
    };
    eq('actor', f.actor);
    eq('action', f.action);
    eq('outcome', f.outcome);
    eq('study_uid', f.studyInstanceUid);
    if (f.from !== undefined) {
      where.push('at >= ?');
      params.push(f.from);
    }
    if (f.to !== undefined) {
      where.push('at <= ?');
      params.push(f.to);
    }
    const limit = Math.min(Math.max(f.limit ?? 100, 1), 1000);
    const offset = Math.max(f.offset ?? 0, 0);
    const sql = `SELECT * FROM ${TABLE}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ? OFFSET ?`;
    return (await this.#db.all(sql, [...params, limit, offset])).map(toRecord);
  }

  /** Every row in seq order, a page at a time (exports of any size in bounded memory). */
  async *rows(pageSize = 1000): AsyncGenerator<AuditRecord> {
    let after = 0;
    for (;;) {
      const rows = (await this.#db.all(`SELECT * FROM ${TABLE} WHERE seq > ? ORDER BY seq LIMIT ?`, [after, pageSize])).map(toRecord);
      for (const r of rows) yield r;
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return;
      after = last.seq;
    }
  }

  /** Verifies the chain; with an anchor, also that it still holds that row unchanged (see verifyAuditChain). */
  verify(anchor?: AuditAnchor): Promise<ChainVerification> {
    return verifyAuditChain(this.#db, 1000, anchor);
  }

  /** The de-identification site secret stored beside the trail (see `siteSecret`); read once per process. */
  deidSecret(): Promise<Buffer> {
    this.#secret ??= siteSecret(this.#db).catch((e: unknown) => {
      this.#secret = undefined;
      throw e;
    });
    return this.#secret;
  }
}

const CSV_COLUMNS = ['seq', 'at', 'action', 'outcome', 'actor', 'actorRole', 'source', 'object', 'studyInstanceUid', 'patientId', 'details', 'prevHash', 'hash'] as const;

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'object' ? canonicalJson(v) : String(v);
  // Quote always; a leading = + - @ is prefixed with ' so a spreadsheet does not run it as a formula.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return `"${safe.replaceAll('"', '""')}"`;
}

export type ExportFormat = 'jsonl' | 'csv';

export function isExportFormat(v: unknown): v is ExportFormat {
  return v === 'jsonl' || v === 'csv';
}

/** The export, a line at a time: JSON Lines (one record per line) or CSV with a header row. */
export async function* exportLines(trail: Pick<AuditTrail, 'rows'>, format: ExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const r of trail.rows()) {
    yield format === 'jsonl' ? `${canonicalJson(r)}\n` : `${CSV_COLUMNS.map((c) => csvCell(r[c])).join(',')}\r\n`;
  }
}

export function chainBrokenError(v: Extract<ChainVerification, { ok: false }>): SrError {
  return new SrError('AUDIT_CHAIN_BROKEN', `audit trail chain broken at seq ${v.brokenSeq}: ${v.reason}`, { details: { brokenSeq: v.brokenSeq, reason: v.reason } });
}

/**
 * The site secret of de-identification (pseudonyms, UIDs, date shifts), kept in the index database so that every
 * process of a deployment, and every restart, uses the same one: consistent pseudonyms need exactly that. Created
 * at first use (32 random bytes); INSERT … ON CONFLICT DO NOTHING lets two processes race safely. Anyone who can
 * read the index database can read it — as they can read the identified data it protects.
 */
export async function siteSecret(db: SqlDb, name = 'deidentification'): Promise<Buffer> {
  const t = db.dialect.text;
  await db.run(`CREATE TABLE IF NOT EXISTS sr_site_secrets (name ${t} PRIMARY KEY, value ${t} NOT NULL, created_at ${t} NOT NULL)`);
  await db.run('INSERT INTO sr_site_secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING', [name, randomBytes(32).toString('hex'), new Date().toISOString()]);
  const row = (await db.all('SELECT value FROM sr_site_secrets WHERE name = ?', [name]))[0];
  if (!row) throw new SrError('CONFIG_INVALID', `site secret ${name} could not be created`);
  return Buffer.from(String(row['value']), 'hex');
}
