/**
 * storeInstance: parse + validate, blob first (fsynced, renamed), then the index rows in one transaction. An
 * instance is acknowledged (the promise resolves) only after both, so a crash before the commit leaves at most a
 * blob without a row, which was never acknowledged (recovery removes it, see recovery.ts).
 *
 * Concurrency: many stores of one series run at once (a DIMSE association, parallel STOW parts, several
 * processes on PostgreSQL). Patient/study/series rows are upserted with ON CONFLICT; the instance row is
 * inserted with ON CONFLICT DO NOTHING and, when it already exists, re-read under FOR UPDATE (PostgreSQL) so
 * two stores of the same SOP Instance UID agree on which is `stored` and which is `duplicate`/`replaced`.
 */
import type { Logger } from '../core/log.ts';
import type { SqlDb, SqlExec, SqlRow } from './db.ts';
import type { GroupCommit } from './group-commit.ts';
import type { BlobStore, InstanceOrigin, InstanceRecord, InstanceSource, StoreOutcome } from './types.ts';
import { parseInstanceBytes, parseInstanceDigested, parseInstanceFile, type IndexedHeader, type ParsedInstance } from './header.ts';
import { unlink } from 'node:fs/promises';
import { SrError, toSrError } from '../core/errors.ts';
import type { FsBlobStore } from './blob-store.ts';
import { JOURNAL_MAX_INSTANCE_BYTES } from './journal.ts';
import type { IngestJournal, JournalTicket } from './journal.ts';

export function instanceKey(h: Pick<IndexedHeader, 'StudyInstanceUID' | 'SeriesInstanceUID' | 'SOPInstanceUID'>): string {
  return `instances/${h.StudyInstanceUID}/${h.SeriesInstanceUID}/${h.SOPInstanceUID}.dcm`;
}

export function nameNorm(name: string | null): string | null {
  return name === null ? null : name.toUpperCase();
}

export const INSTANCE_COLUMNS =
  'sop_uid, series_uid, study_uid, patient_id, sop_class_uid, instance_number, n_rows, n_columns, number_of_frames, ' +
  'transfer_syntax_uid, size_bytes, sha256, blob_key, received_at, origin_via, origin_ae, origin_address';

function numOrNull(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

function strOrUndef(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function instanceFromRow(r: SqlRow): InstanceRecord {
  const ae = strOrUndef(r['origin_ae']);
  const addr = strOrUndef(r['origin_address']);
  return {
    sopInstanceUid: String(r['sop_uid']),
    sopClassUid: String(r['sop_class_uid']),
    seriesInstanceUid: String(r['series_uid']),
    studyInstanceUid: String(r['study_uid']),
    patientId: String(r['patient_id']),
    transferSyntaxUid: String(r['transfer_syntax_uid']),
    instanceNumber: numOrNull(r['instance_number']),
    numberOfFrames: Number(r['number_of_frames']),
    rows: numOrNull(r['n_rows']),
    columns: numOrNull(r['n_columns']),
    sizeBytes: Number(r['size_bytes']),
    sha256: String(r['sha256']),
    blobKey: String(r['blob_key']),
    receivedAt: String(r['received_at']),
    origin: {
      via: String(r['origin_via']) as InstanceOrigin['via'],
      ...(ae !== undefined ? { sourceAe: ae } : {}),
      ...(addr !== undefined ? { remoteAddress: addr } : {}),
    },
  };
}

/** `added`: 1 when this store inserted the instance row (counted in its series by the same statement), else 0. */
async function upsertParents(q: SqlExec, h: IndexedHeader, now: string, sourceAe: string | null, added: 0 | 1): Promise<void> {
  // The first instance of a patient/study names it; later ones only fill attributes still empty.
  await q.run(
    `INSERT INTO patients (patient_id, patient_name, patient_name_norm, patient_birth_date, patient_sex, created_at)
     VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (patient_id) DO UPDATE SET
       patient_name = COALESCE(patients.patient_name, excluded.patient_name),
       patient_name_norm = COALESCE(patients.patient_name_norm, excluded.patient_name_norm),
       patient_birth_date = COALESCE(patients.patient_birth_date, excluded.patient_birth_date),
       patient_sex = COALESCE(patients.patient_sex, excluded.patient_sex)
     WHERE (patients.patient_name IS NULL AND excluded.patient_name IS NOT NULL)
       OR (patients.patient_birth_date IS NULL AND excluded.patient_birth_date IS NOT NULL)
       OR (patients.patient_sex IS NULL AND excluded.patient_sex IS NOT NULL)`,
    [h.PatientID, h.PatientName, nameNorm(h.PatientName), h.PatientBirthDate, h.PatientSex, now],
  );
  await q.run(
    `INSERT INTO studies (study_uid, patient_id, patient_name, patient_name_norm, patient_birth_date, patient_sex, study_date,
       study_time, accession_number, referring_physician_name, study_description, study_id, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (study_uid) DO UPDATE SET
       study_description = COALESCE(studies.study_description, excluded.study_description),
       accession_number = COALESCE(studies.accession_number, excluded.accession_number),
       study_date = COALESCE(studies.study_date, excluded.study_date),
       study_time = COALESCE(studies.study_time, excluded.study_time)
     WHERE (studies.study_description IS NULL AND excluded.study_description IS NOT NULL)
       OR (studies.accession_number IS NULL AND excluded.accession_number IS NOT NULL)
       OR (studies.study_date IS NULL AND excluded.study_date IS NOT NULL)
       OR (studies.study_time IS NULL AND excluded.study_time IS NOT NULL)`,
    [h.StudyInstanceUID, h.PatientID, h.PatientName, nameNorm(h.PatientName), h.PatientBirthDate, h.PatientSex, h.StudyDate,
      h.StudyTime, h.AccessionNumber, h.ReferringPhysicianName, h.StudyDescription, h.StudyID, now],
  );
  // A new instance makes the series "unstable" again: the stable event is for its current content.
  await q.run(
    `INSERT INTO series (series_uid, study_uid, modality, series_number, series_description, body_part_examined,
       pps_start_date, pps_start_time, instance_count, first_received_at, last_received_at, stable_at, source_ae)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
     ON CONFLICT (series_uid) DO UPDATE SET last_received_at = excluded.last_received_at, stable_at = NULL,
       source_ae = COALESCE(excluded.source_ae, series.source_ae), instance_count = series.instance_count + excluded.instance_count`,
    [h.SeriesInstanceUID, h.StudyInstanceUID, h.Modality, h.SeriesNumber, h.SeriesDescription, h.BodyPartExamined,
      h.PerformedProcedureStepStartDate, h.PerformedProcedureStepStartTime, added, now, now, sourceAe],
  );
}

function instanceParams(p: ParsedInstance, key: string, now: string, origin: InstanceOrigin): Array<string | number | null> {
  const h = p.header;
  return [h.SOPInstanceUID, h.SeriesInstanceUID, h.StudyInstanceUID, h.PatientID, h.SOPClassUID, h.InstanceNumber, h.Rows,
    h.Columns, h.NumberOfFrames, h.TransferSyntaxUID, p.sizeBytes, p.sha256, key, now, origin.via, origin.sourceAe ?? null,
    origin.remoteAddress ?? null];
}

export interface StoreDeps {
  readonly db: SqlDb;
  readonly blobs: BlobStore;
  readonly log: Logger;
  /** Serializes stores of one SOP Instance UID in this process, so blob order and row order agree. */
  readonly locks: KeyedLock;
  /** SQLite: index writes of concurrent stores share one commit (group-commit.ts). */
  readonly commits?: GroupCommit;
  /** Embedded archive: new instances take one durable write, a journal append (journal.ts, ADR 0007). */
  readonly journal?: { readonly log: IngestJournal; readonly blobs: FsBlobStore };
}

type TxRunner = <T>(fn: (q: SqlExec) => Promise<T>, options?: { readonly sync?: boolean }) => Promise<T>;

/** The bytes the journal appends (in memory already, or kept by the DIMSE writer); undefined: not journaled. */
function journalPayload(source: InstanceSource): readonly Uint8Array[] | undefined {
  if ('bytes' in source) return source.bytes.byteLength <= JOURNAL_MAX_INSTANCE_BYTES ? [source.bytes] : undefined;
  const d = source.digest;
  return d?.chunks && d.written && d.sizeBytes <= JOURNAL_MAX_INSTANCE_BYTES ? d.chunks : undefined;
}

/**
 * The journal append and the unsynced move of the blob into place, at once; resolves when both are done (the
 * record durable). On failure nothing stays: the placed blob (no row, never acknowledged) or the temp file.
 */
async function stageJournaled(
  j: NonNullable<StoreDeps['journal']>, key: string, parsed: ParsedInstance, source: InstanceSource, origin: InstanceOrigin, payload: readonly Uint8Array[],
): Promise<JournalTicket> {
  const record = { key, sopInstanceUid: parsed.header.SOPInstanceUID, sha256: parsed.sha256, sizeBytes: parsed.sizeBytes, origin };
  const [appended, placed] = await Promise.allSettled([j.log.append(record, payload), j.blobs.place(key, source)]);
  if (appended.status === 'fulfilled' && placed.status === 'fulfilled') return appended.value;
  if (appended.status === 'fulfilled') appended.value.release();
  if (placed.status === 'fulfilled') await j.blobs.delete(key).catch((e: unknown) => e);
  else if ('tempFile' in source) await unlink(source.tempFile).catch((e: unknown) => e);
  const e: unknown = appended.status === 'rejected' ? appended.reason : placed.status === 'rejected' ? placed.reason : undefined;
  if (e instanceof SrError) throw e;
  const code = (e as { code?: unknown }).code;
  throw toSrError(e, code === 'ENOSPC' || code === 'EDQUOT' ? 'ARCHIVE_STORAGE_FULL' : 'IO_ERROR', 'could not journal the instance', { key });
}

export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.catch((e: unknown) => e);
    this.tails.set(key, tail);
    try {
      return await p;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export async function storeInstance(deps: StoreDeps, source: InstanceSource, origin: InstanceOrigin): Promise<StoreOutcome> {
  const gc = deps.commits;
  if (!gc) return storeOne(deps, source, origin, (fn, o) => deps.db.tx(fn, o));
  gc.begin();
  let reached = false;
  try {
    return await storeOne(deps, source, origin, (fn, o) => {
      reached = true;
      return gc.tx(fn, o);
    });
  } finally {
    if (!reached) gc.end();
  }
}

async function storeOne(deps: StoreDeps, source: InstanceSource, origin: InstanceOrigin, tx: TxRunner): Promise<StoreOutcome> {
  const label = 'bytes' in source ? `${origin.via} instance` : source.tempFile;
  let parsed: ParsedInstance;
  try {
    parsed = 'bytes' in source
      ? parseInstanceBytes(source.bytes, label)
      : source.digest ? await parseInstanceDigested(source.tempFile, source.digest) : await parseInstanceFile(source.tempFile);
  } catch (e) {
    // Rejected input never stays behind: the caller's temp file is ours once handed over.
    if ('tempFile' in source) await unlink(source.tempFile).catch((unlinkErr: unknown) => unlinkErr);
    throw e;
  }
  return deps.locks.run(parsed.header.SOPInstanceUID, () => storeParsed(deps, parsed, source, origin, tx));
}

async function storeParsed(deps: StoreDeps, parsed: ParsedInstance, source: InstanceSource, origin: InstanceOrigin, tx: TxRunner): Promise<StoreOutcome> {
  const { db, blobs, log } = deps;
  const h = parsed.header;
  const key = instanceKey(h);
  const existing = await db.all(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE sop_uid = ?`, [h.SOPInstanceUID]);
  const before = existing[0];
  if (before && before['sha256'] === parsed.sha256 && before['blob_key'] === key && (await blobs.exists(key))) {
    if ('tempFile' in source) await unlink(source.tempFile).catch((unlinkErr: unknown) => unlinkErr);
    return { status: 'duplicate', instance: instanceFromRow(before) };
  }
  const j = deps.journal;
  const payload = j && before === undefined ? journalPayload(source) : undefined;
  let ticket: JournalTicket | undefined;
  if (j && payload) {
    // No row (nothing acknowledged at `key`, and this process alone stores instances): one durable write, the
    // journal record; the blob is placed and the row committed unsynced beside it (journal.ts).
    ticket = await stageJournaled(j, key, parsed, source, origin, payload);
  } else {
    // A row exists (replacement): no journal record of this UID may be replayed over what follows, so the journal
    // is emptied first (rare: the same SOP Instance UID sent again with other bytes).
    if (j && before !== undefined) await j.log.flush();
    // No row: nothing acknowledged lives at `key`, so the blob store may overlap its syncs (types.ts PutOptions).
    // Only where this process is the one storing instances (embedded SQLite; same-UID stores serialized by `locks`):
    // on a shared PostgreSQL another process may commit and acknowledge the same UID after our lookup.
    await blobs.put(key, source, { fresh: before === undefined && db.dialect.name === 'sqlite' });
  }
  const now = new Date().toISOString();
  const sourceAe = origin.sourceAe ?? null;
  let outcome: { status: 'stored' | 'duplicate' | 'replaced'; oldKey: string | null };
  try {
    outcome = await tx(async (q) => {
      const params = instanceParams(parsed, key, now, origin);
      // The instance row first: whether it is new decides the series count, set by the series upsert itself.
      const inserted = await q.all(
        `INSERT INTO instances (${INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (sop_uid) DO NOTHING RETURNING sop_uid`,
        params,
      );
      await upsertParents(q, h, now, sourceAe, inserted.length === 1 ? 1 : 0);
      if (inserted.length === 1) return { status: 'stored' as const, oldKey: null };
      const lock = db.dialect.name === 'postgres' ? ' FOR UPDATE' : '';
      const prev = (await q.all(`SELECT series_uid, sha256, blob_key FROM instances WHERE sop_uid = ?${lock}`, [h.SOPInstanceUID]))[0];
      if (prev && prev['sha256'] === parsed.sha256 && prev['blob_key'] === key) {
        // A concurrent store of the same bytes won: same content, nothing to change.
        return { status: 'duplicate' as const, oldKey: null };
      }
      await q.run(
        `UPDATE instances SET series_uid = ?, study_uid = ?, patient_id = ?, sop_class_uid = ?, instance_number = ?, n_rows = ?,
           n_columns = ?, number_of_frames = ?, transfer_syntax_uid = ?, size_bytes = ?, sha256 = ?, blob_key = ?, received_at = ?,
           origin_via = ?, origin_ae = ?, origin_address = ? WHERE sop_uid = ?`,
        [...params.slice(1), h.SOPInstanceUID],
      );
      const prevSeries = prev ? String(prev['series_uid']) : null;
      if (prevSeries !== h.SeriesInstanceUID) {
        await q.run('UPDATE series SET instance_count = instance_count + 1 WHERE series_uid = ?', [h.SeriesInstanceUID]);
        if (prevSeries !== null) await q.run('UPDATE series SET instance_count = instance_count - 1 WHERE series_uid = ?', [prevSeries]);
      }
      return { status: 'replaced' as const, oldKey: prev && prev['blob_key'] !== key ? String(prev['blob_key']) : null };
    }, ticket ? { sync: false } : undefined);
  } catch (e) {
    if (ticket) {
      ticket.release();
      await blobs.delete(key).catch((delErr: unknown) => delErr); // placed by us, no row: never acknowledged
    }
    throw e;
  }
  // Acknowledged once we return: the blob and its folder are synced in the background, then the record goes.
  // A DIMSE temp file is synced through its writer's open handle (types.ts TempFileDigest.sync), no re-open.
  ticket?.materialize(key, 'tempFile' in source ? source.digest?.sync : undefined);
  if (outcome.oldKey !== null) await blobs.delete(outcome.oldKey);
  if (outcome.status === 'replaced') {
    log.warn('instance replaced by different bytes with the same SOP Instance UID', {
      sopInstanceUid: h.SOPInstanceUID, seriesInstanceUid: h.SeriesInstanceUID, via: origin.via, sourceAe,
    });
  }
  if (outcome.status !== 'duplicate') {
    // The row is what this store just wrote (stored or replaced): no need to read it back.
    const params = instanceParams(parsed, key, now, origin);
    const row: SqlRow = Object.fromEntries(INSTANCE_COLUMNS.split(', ').map((c, i) => [c, params[i] ?? null]));
    return { status: outcome.status, instance: instanceFromRow(row) };
  }
  const row = (await db.all(`SELECT ${INSTANCE_COLUMNS} FROM instances WHERE sop_uid = ?`, [h.SOPInstanceUID]))[0];
  if (!row) throw new SrError('ARCHIVE_CONFLICT', `instance ${h.SOPInstanceUID} was deleted while it was being stored`);
  return { status: outcome.status, instance: instanceFromRow(row) };
}
