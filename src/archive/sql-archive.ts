/**
 * The one Archive implementation, over either SQL back end (db.ts) and any BlobStore.
 */
import { randomUUID } from 'node:crypto';
import { SrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { SqlDb, SqlRow, SqlValue } from './db.ts';
import { compileQuery, normalizeRow } from './query.ts';
import { INSTANCE_COLUMNS, KeyedLock, instanceFromRow, storeInstance } from './store.ts';
import { checkBlobKey } from './blob-store.ts';
import type { FsBlobStore } from './blob-store.ts';
import type { IngestJournal } from './journal.ts';
import { GroupCommit } from './group-commit.ts';
import { claimDeliveries, finishDeliveryAttempt, listDeliveries, renewDeliveryClaim, replaceDeliveries } from './deliveries.ts';
import type {
  DeliveryClaim, DeliveryInput, DeliveryOutcome, DeliveryRecord,
} from './types.ts';
import type {
  Archive, BlobStore, InstanceOrigin, InstanceRecord, InstanceSource, QueryRequest, QueryRow, ResultInput, ResultRecord,
  SeriesRecord, SeriesStableEvent, StoreOutcome,
} from './types.ts';

const SERIES_COLUMNS =
  'se.series_uid, se.study_uid, st.patient_id, se.modality, se.series_number, se.series_description, se.body_part_examined, ' +
  'se.instance_count, se.first_received_at, se.last_received_at, se.stable_at, se.source_ae';

function strOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

function seriesFromRow(r: SqlRow): SeriesRecord {
  return {
    seriesInstanceUid: String(r['series_uid']),
    studyInstanceUid: String(r['study_uid']),
    patientId: String(r['patient_id'] ?? ''),
    modality: String(r['modality']),
    seriesNumber: r['series_number'] === null || r['series_number'] === undefined ? null : Number(r['series_number']),
    seriesDescription: strOrNull(r['series_description']),
    bodyPartExamined: strOrNull(r['body_part_examined']),
    instanceCount: Number(r['instance_count']),
    firstReceivedAt: String(r['first_received_at']),
    lastReceivedAt: String(r['last_received_at']),
    stableAt: strOrNull(r['stable_at']),
    sourceAe: strOrNull(r['source_ae']),
  };
}

function resultFromRow(r: SqlRow): ResultRecord {
  return {
    id: String(r['id']),
    analysisId: String(r['analysis_id']),
    analysisVersion: String(r['analysis_version']),
    studyInstanceUid: String(r['study_uid']),
    seriesInstanceUid: String(r['series_uid']),
    status: String(r['status']) as ResultRecord['status'],
    document: JSON.parse(String(r['document'])) as unknown,
    attachments: JSON.parse(String(r['attachments'])) as Record<string, string>,
    createdAt: String(r['created_at']),
    jobId: strOrNull(r['job_id']),
  };
}

const RESULT_COLUMNS = 'id, analysis_id, analysis_version, study_uid, series_uid, status, document, attachments, created_at, job_id';

/** Attachment names become blob key segments. */
const ATTACHMENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

export class SqlArchive implements Archive {
  readonly backend: 'sqlite' | 'postgres';
  readonly blobs: BlobStore;
  readonly db: SqlDb;
  private readonly log: Logger;
  private readonly locks = new KeyedLock();
  private readonly commits: GroupCommit | undefined;
  private journal: { readonly log: IngestJournal; readonly blobs: FsBlobStore } | undefined;

  constructor(db: SqlDb, blobs: BlobStore, log: Logger) {
    this.db = db;
    this.backend = db.dialect.name;
    this.blobs = blobs;
    this.log = log;
    // PostgreSQL commits run concurrently on pooled connections; SQLite's one connection serializes them.
    this.commits = db.dialect.name === 'sqlite' ? new GroupCommit(db) : undefined;
  }

  /** Embedded archive, after the start-up replay: new instances go through the ingest journal (journal.ts). */
  attachJournal(journal: IngestJournal, blobs: FsBlobStore): void {
    this.journal = { log: journal, blobs };
  }

  storeInstance(source: InstanceSource, origin: InstanceOrigin): Promise<StoreOutcome> {
    return storeInstance({
      db: this.db, blobs: this.blobs, log: this.log, locks: this.locks,
      ...(this.commits ? { commits: this.commits } : {}), ...(this.journal ? { journal: this.journal } : {}),
    }, source, origin);
  }

  async query(request: QueryRequest): Promise<QueryRow[]> {
    const { sql, params } = compileQuery(request, this.db.dialect);
    return (await this.db.all(sql, params)).map(normalizeRow);
  }

  async getInstance(sopInstanceUid: string): Promise<InstanceRecord | undefined> {
    const r = (await this.db.all(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE sop_uid = ?`, [sopInstanceUid]))[0];
    return r ? instanceFromRow(r) : undefined;
  }

  async listInstances(filter: { studyInstanceUid?: string; seriesInstanceUid?: string }): Promise<InstanceRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    if (filter.seriesInstanceUid !== undefined) {
      where.push('series_uid = ?');
      params.push(filter.seriesInstanceUid);
    }
    if (filter.studyInstanceUid !== undefined) {
      where.push('study_uid = ?');
      params.push(filter.studyInstanceUid);
    }
    const rows = await this.db.all(
      `SELECT ${INSTANCE_COLUMNS} FROM instances${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
       ORDER BY series_uid, instance_number NULLS FIRST, sop_uid`,
      params,
    );
    return rows.map(instanceFromRow);
  }

  async getSeries(seriesInstanceUid: string): Promise<SeriesRecord | undefined> {
    const r = (await this.db.all(
      `SELECT ${SERIES_COLUMNS} FROM series se JOIN studies st ON st.study_uid = se.study_uid WHERE se.series_uid = ?`,
      [seriesInstanceUid],
    ))[0];
    return r ? seriesFromRow(r) : undefined;
  }

  async listSeries(filter: { studyInstanceUid?: string; limit?: number; offset?: number }): Promise<SeriesRecord[]> {
    const params: SqlValue[] = [];
    let sql = `SELECT ${SERIES_COLUMNS} FROM series se JOIN studies st ON st.study_uid = se.study_uid`;
    if (filter.studyInstanceUid !== undefined) {
      sql += ' WHERE se.study_uid = ?';
      params.push(filter.studyInstanceUid);
    }
    sql += ' ORDER BY se.study_uid, se.series_number NULLS FIRST, se.series_uid';
    if (filter.limit !== undefined || filter.offset !== undefined) {
      sql += ' LIMIT ? OFFSET ?';
      params.push(filter.limit ?? Number.MAX_SAFE_INTEGER, filter.offset ?? 0);
    }
    return (await this.db.all(sql, params)).map(seriesFromRow);
  }

  async readInstance(sopInstanceUid: string): Promise<Uint8Array> {
    const inst = await this.getInstance(sopInstanceUid);
    if (!inst) throw new SrError('NOT_FOUND', `instance ${sopInstanceUid} not found`, { details: { sopInstanceUid } });
    return this.blobs.get(inst.blobKey);
  }

  async claimStableSeries(quietMs: number, now: Date = new Date()): Promise<SeriesStableEvent[]> {
    const cutoff = new Date(now.getTime() - quietMs).toISOString();
    // One statement: the row lock (PostgreSQL) / the write lock (SQLite) makes the claim exclusive, and the
    // re-checked WHERE skips series another claimer took first.
    const rows = await this.db.all(
      `UPDATE series SET stable_at = ? WHERE stable_at IS NULL AND last_received_at < ?
       RETURNING series_uid, study_uid, modality, instance_count, source_ae`,
      [now.toISOString(), cutoff],
    );
    return rows.map((r) => ({
      studyInstanceUid: String(r['study_uid']),
      seriesInstanceUid: String(r['series_uid']),
      modality: String(r['modality']),
      instanceCount: Number(r['instance_count']),
      sourceAe: strOrNull(r['source_ae']),
    }));
  }

  async putResult(input: ResultInput): Promise<ResultRecord> {
    const attachments: Record<string, string> = {};
    for (const [name, bytes] of Object.entries(input.attachments ?? {})) {
      if (!ATTACHMENT_NAME.test(name)) {
        throw new SrError('ARCHIVE_INSTANCE_INVALID', `invalid attachment name ${JSON.stringify(name)}`, { details: { name } });
      }
      const key = `results/${input.analysisId}/${input.analysisVersion}/${input.seriesInstanceUid}/${name}`;
      checkBlobKey(key);
      await this.blobs.put(key, { bytes });
      attachments[name] = key;
    }
    const now = new Date().toISOString();
    const before = (await this.db.all(
      'SELECT attachments FROM results WHERE analysis_id = ? AND analysis_version = ? AND series_uid = ?',
      [input.analysisId, input.analysisVersion, input.seriesInstanceUid],
    ))[0];
    // Re-running (analysis, version, series) replaces the row in place: same id, new content.
    const rows = await this.db.all(
      `INSERT INTO results (${RESULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (analysis_id, analysis_version, series_uid) DO UPDATE SET study_uid = excluded.study_uid,
         status = excluded.status, document = excluded.document, attachments = excluded.attachments,
         created_at = excluded.created_at, job_id = excluded.job_id
       RETURNING ${RESULT_COLUMNS}`,
      [randomUUID(), input.analysisId, input.analysisVersion, input.studyInstanceUid, input.seriesInstanceUid, input.status,
        JSON.stringify(input.document ?? null), JSON.stringify(attachments), now, input.jobId ?? null],
    );
    const row = rows[0];
    if (!row) throw new SrError('ARCHIVE_UNAVAILABLE', 'result upsert returned no row');
    if (before) {
      const old = JSON.parse(String(before['attachments'])) as Record<string, string>;
      const keep = new Set(Object.values(attachments));
      for (const key of Object.values(old)) if (!keep.has(key)) await this.blobs.delete(key);
    }
    return resultFromRow(row);
  }

  async getResult(id: string): Promise<ResultRecord | undefined> {
    const r = (await this.db.all(`SELECT ${RESULT_COLUMNS} FROM results WHERE id = ?`, [id]))[0];
    return r ? resultFromRow(r) : undefined;
  }

  async listResults(filter: { studyInstanceUid?: string; seriesInstanceUid?: string; analysisId?: string }): Promise<ResultRecord[]> {
    const where: string[] = [];
    const params: SqlValue[] = [];
    const add = (col: string, v: string | undefined): void => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      params.push(v);
    };
    add('study_uid', filter.studyInstanceUid);
    add('series_uid', filter.seriesInstanceUid);
    add('analysis_id', filter.analysisId);
    const rows = await this.db.all(
      `SELECT ${RESULT_COLUMNS} FROM results${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at, analysis_id, analysis_version, series_uid`,
      params,
    );
    return rows.map(resultFromRow);
  }

  async putResultAttachment(resultId: string, name: string, bytes: Uint8Array): Promise<ResultRecord> {
    if (!ATTACHMENT_NAME.test(name)) throw new SrError('ARCHIVE_INSTANCE_INVALID', `invalid attachment name ${JSON.stringify(name)}`, { details: { name } });
    const current = await this.getResult(resultId);
    if (!current) throw new SrError('NOT_FOUND', `result ${resultId} not found`, { details: { resultId } });
    // The key putResult gives it: a re-run's putResult then overwrites (or removes) this very blob.
    const key = `results/${current.analysisId}/${current.analysisVersion}/${current.seriesInstanceUid}/${name}`;
    checkBlobKey(key);
    await this.blobs.put(key, { bytes });
    if (current.attachments[name] === key) return current;
    // Read and merged in one transaction, so a concurrent attachment of another name is not lost.
    return this.db.tx(async (q) => {
      // PostgreSQL: the row lock holds off a concurrent merge until this one commits (SQLite: BEGIN IMMEDIATE).
      const lock = this.db.dialect.name === 'postgres' ? ' FOR UPDATE' : '';
      const row = (await q.all(`SELECT attachments FROM results WHERE id = ?${lock}`, [resultId]))[0];
      if (!row) throw new SrError('NOT_FOUND', `result ${resultId} not found`, { details: { resultId } });
      const attachments = { ...(JSON.parse(String(row['attachments'])) as Record<string, string>), [name]: key };
      const updated = await q.all(`UPDATE results SET attachments = ? WHERE id = ? RETURNING ${RESULT_COLUMNS}`, [JSON.stringify(attachments), resultId]);
      const r = updated[0];
      if (!r) throw new SrError('ARCHIVE_UNAVAILABLE', 'result attachment update returned no row');
      return resultFromRow(r);
    });
  }

  replaceDeliveries(resultId: string, deliveries: readonly DeliveryInput[], now?: Date): Promise<DeliveryRecord[]> {
    return replaceDeliveries(this.db, resultId, deliveries, now);
  }

  listDeliveries(filter: { resultId?: string; pending?: boolean }): Promise<DeliveryRecord[]> {
    return listDeliveries(this.db, filter);
  }

  claimDeliveries(o: { owner: string; leaseMs: number; limit: number; now?: Date }): Promise<DeliveryClaim[]> {
    return claimDeliveries(this.db, o);
  }

  renewDeliveryClaim(claim: Pick<DeliveryClaim, 'id' | 'claimToken'>, leaseMs: number, now?: Date): Promise<boolean> {
    return renewDeliveryClaim(this.db, claim, leaseMs, now);
  }

  finishDeliveryAttempt(claim: Pick<DeliveryClaim, 'id' | 'claimToken' | 'generation'>, outcome: DeliveryOutcome, now?: Date): Promise<boolean> {
    return finishDeliveryAttempt(this.db, claim, outcome, now);
  }

  async deleteSeries(seriesInstanceUid: string): Promise<number> {
    // Nothing journaled may be replayed after the delete (it would resurrect the series): empty the journal first.
    await this.journal?.log.flush();
    const keys = await this.db.tx(async (q) => {
      const found = await q.all('SELECT study_uid FROM series WHERE series_uid = ?', [seriesInstanceUid]);
      const studyUid = found[0] ? String(found[0]['study_uid']) : undefined;
      const blobs = (await q.all('SELECT blob_key FROM instances WHERE series_uid = ?', [seriesInstanceUid])).map((r) => String(r['blob_key']));
      await q.run('DELETE FROM instances WHERE series_uid = ?', [seriesInstanceUid]);
      await q.run('DELETE FROM series WHERE series_uid = ?', [seriesInstanceUid]);
      if (studyUid !== undefined) {
        const studyRows = await q.all('SELECT patient_id FROM studies WHERE study_uid = ?', [studyUid]);
        await q.run('DELETE FROM studies WHERE study_uid = ? AND NOT EXISTS (SELECT 1 FROM series x WHERE x.study_uid = ?)', [studyUid, studyUid]);
        const pid = studyRows[0] ? String(studyRows[0]['patient_id']) : undefined;
        if (pid !== undefined) {
          await q.run('DELETE FROM patients WHERE patient_id = ? AND NOT EXISTS (SELECT 1 FROM studies x WHERE x.patient_id = ?)', [pid, pid]);
        }
      }
      return blobs;
    });
    // Rows first: a crash here leaves blobs without rows, which recovery removes (never resurrects).
    for (const key of keys) await this.blobs.delete(key);
    if (keys.length > 0) this.log.info('series deleted', { seriesInstanceUid, instances: keys.length });
    return keys.length;
  }

  async close(): Promise<void> {
    try {
      await this.journal?.log.close();
    } catch (e) {
      this.log.error('ingest journal not emptied at close; it is replayed at the next start', { error: e instanceof Error ? e.message : String(e) });
    }
    await this.blobs.close?.();
    await this.db.close();
  }
}
