/**
 * The archive factory: embedded (SQLite index + files under one data folder) or scale-out (PostgreSQL index +
 * a blob folder shared by every process). Opening migrates the schema and runs the recovery pass.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { toSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { FsBlobStore } from './blob-store.ts';
import { openPostgres, openSqlite, type SqlDb } from './db.ts';
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
    const recovery = config.recovery === false ? undefined : await recoverArchive(db, blobs, log, config.recovery ?? {});
    const archive = new SqlArchive(db, blobs, log);
    log.info('archive opened', { backend: db.dialect.name, blobDir, recovery });
    return Object.assign(archive, { recovery });
  } catch (e) {
    await db.close().catch((closeErr: unknown) => closeErr);
    throw toSrError(e, 'ARCHIVE_UNAVAILABLE', 'could not open the archive');
  }
}
