/**
 * The archive factory: embedded (SQLite index + files under one data folder) or scale-out (PostgreSQL index +
 * a blob folder shared by every process). Opening migrates the schema and runs the recovery pass.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { toSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { FsBlobStore } from './blob-store.ts';
import { openPostgres, openSqlite, type SqlDb } from './db.ts';
import { IngestJournal, replayJournals, type JournalRecord, type ReplayReport } from './journal.ts';
import { recoverArchive, type RecoveryOptions, type RecoveryReport } from './recovery.ts';
import { migrate } from './schema.ts';
import { SqlArchive } from './sql-archive.ts';

interface CommonConfig {
  /** Start-up recovery; false skips it (tests of recovery itself, read-only tools). */
  readonly recovery?: RecoveryOptions | false;
}

export type ArchiveConfig =
  | (CommonConfig & { readonly backend: 'sqlite'; readonly dataDir: string })
  | (CommonConfig & { readonly backend: 'postgres'; readonly connectionString: string; readonly schema?: string; readonly blobDir: string });

export interface OpenedArchive extends SqlArchive {
  readonly recovery: RecoveryReport | undefined;
  /** Embedded: journal records replayed at open (an unclean stop before them). */
  readonly journalReplay: ReplayReport | undefined;
}

/**
 * One journal record at start-up (journal.ts): the row and blob it describes are made to exist, byte-identical
 * and durable. Its row and intact blob may already be there (then only synced); otherwise it is stored again the
 * strict way (this archive has no journal attached yet).
 */
async function replayRecord(archive: SqlArchive, blobs: FsBlobStore, record: JournalRecord, bytes: Buffer): Promise<void> {
  const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const row = await archive.getInstance(record.sopInstanceUid);
  if (row && row.sha256 === record.sha256 && row.blobKey === record.key) {
    let intact = false;
    try {
      intact = createHash('sha256').update(await readFile(blobs.pathOf(record.key))).digest('hex') === record.sha256;
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
    if (intact) await blobs.syncKey(record.key);
    else await blobs.put(record.key, { bytes: u8 });
    return;
  }
  await archive.storeInstance({ bytes: u8 }, record.origin);
}

export async function openArchive(config: ArchiveConfig, log: Logger): Promise<OpenedArchive> {
  const blobDir = config.backend === 'sqlite' ? join(config.dataDir, 'blobs') : config.blobDir;
  try {
    await mkdir(blobDir, { recursive: true });
  } catch (e) {
    throw toSrError(e, 'ARCHIVE_UNAVAILABLE', `could not create the blob folder ${blobDir}`, { blobDir });
  }
  const db: SqlDb = config.backend === 'sqlite'
    ? openSqlite(join(config.dataDir, 'index.sqlite'))
    : await openPostgres(config.connectionString, config.schema ?? 'secondreader');
  try {
    await migrate(db);
    const blobs = new FsBlobStore(blobDir);
    const archive = new SqlArchive(db, blobs, log);
    let journalReplay: ReplayReport | undefined;
    if (config.backend === 'sqlite') {
      // Before recovery: replayed instances get their rows, so recovery does not take their blobs for orphans.
      const base = join(config.dataDir, 'journal');
      journalReplay = await replayJournals(base, log, (r, b) => replayRecord(archive, blobs, r, b), () => db.sync());
      archive.attachJournal(new IngestJournal(base, { log, syncIndex: () => db.sync(), syncBlob: (k) => blobs.syncFile(k), syncFolders: (k) => blobs.syncFolders(k) }), blobs);
    }
    const recovery = config.recovery === false ? undefined : await recoverArchive(db, blobs, log, config.recovery ?? {});
    log.info('archive opened', { backend: db.dialect.name, blobDir, recovery, journalReplay });
    return Object.assign(archive, { recovery, journalReplay });
  } catch (e) {
    await db.close().catch((closeErr: unknown) => closeErr);
    throw toSrError(e, 'ARCHIVE_UNAVAILABLE', 'could not open the archive');
  }
}
