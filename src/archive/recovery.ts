/**
 * Start-up recovery: reconciles the blob folder with the index after a crash.
 * - Temp files (`*.sr-tmp`) are half-written puts: deleted.
 * - Instance blobs without an index row are removed, not re-indexed: a store resolves only after its row is
 *   committed, so such a blob was never acknowledged (the sender still holds it and will retry), and deleteSeries
 *   removes rows before blobs, so re-indexing would resurrect deleted (possibly privacy-deleted) series.
 * - Index rows whose blob is missing are reported with log.error and kept: deleting them would hide data loss.
 *
 * Files younger than the grace period are left alone: on a shared folder another process may be between its blob
 * write and its commit right now. `instancesGraceMs` applies to everything under `instances/` (temp files included)
 * and defaults to `graceMs`: the embedded server (SQLite) sets it to 0, because there it is the only process that
 * writes instance blobs (DIMSE, STOW, imports all run inside it; workers, supervised or started by hand, write only
 * `results/`), and it recovers before it accepts anything. A grace there would keep the orphan blob of the
 * instance a crash interrupted between its rename and its commit for ten minutes after a restart; that instance
 * was never acknowledged, so it may go at once. `results/` keeps the grace: a hand-started worker may be writing.
 */
import { readdir, stat, unlink } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { Logger } from '../core/log.ts';
import { toSrError } from '../core/errors.ts';
import type { SqlDb } from './db.ts';
import { TEMP_SUFFIX, type FsBlobStore } from './blob-store.ts';

export interface RecoveryOptions {
  /** Default 10 minutes. */
  readonly graceMs?: number;
  /** For files under `instances/`; default `graceMs`. 0 only where no other process can be storing instances. */
  readonly instancesGraceMs?: number;
}

export interface RecoveryReport {
  readonly tempFilesRemoved: number;
  readonly orphanBlobsRemoved: number;
  /** Blob keys of index rows whose blob is missing. */
  readonly missingBlobs: string[];
  readonly blobsScanned: number;
}

interface FileEntry {
  readonly path: string;
  readonly mtimeMs: number;
}

async function walk(dir: string, out: FileEntry[]): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return;
    throw toSrError(e, 'IO_ERROR', `could not list ${dir}`, { dir });
  }
  for (const ent of entries) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await walk(p, out);
    else if (ent.isFile()) {
      try {
        out.push({ path: p, mtimeMs: (await stat(p)).mtimeMs });
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'ENOENT') throw toSrError(e, 'IO_ERROR', `could not stat ${p}`, { path: p });
      }
    }
  }
}

async function removeQuietly(path: string, log: Logger): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code !== 'ENOENT') log.warn('recovery could not remove a file', { path, error: String(e) });
    return false;
  }
}

export async function recoverArchive(db: SqlDb, blobs: FsBlobStore, log: Logger, options: RecoveryOptions = {}): Promise<RecoveryReport> {
  const grace = options.graceMs ?? 10 * 60_000;
  const now = Date.now();
  const otherCutoff = now - grace;
  const instancesCutoff = now - (options.instancesGraceMs ?? grace);
  const instancesPrefix = join(blobs.root, 'instances') + sep;
  const cutoffOf = (path: string): number => (path.startsWith(instancesPrefix) ? instancesCutoff : otherCutoff);
  // Index first, then disk: a row committed after this SELECT had its blob written before, so it is on disk
  // (an orphan candidate within the grace period, never removed), not falsely reported missing.
  const indexed = new Set((await db.all('SELECT blob_key FROM instances')).map((r) => String(r['blob_key'])));
  const files: FileEntry[] = [];
  await walk(blobs.root, files);
  let tempFilesRemoved = 0;
  let orphanBlobsRemoved = 0;
  const onDisk = new Set<string>();
  const orphans: string[] = [];
  for (const f of files) {
    if (f.path.endsWith(TEMP_SUFFIX)) {
      if (f.mtimeMs <= cutoffOf(f.path) && (await removeQuietly(f.path, log))) tempFilesRemoved++;
      continue;
    }
    const key = blobs.keyOf(f.path);
    onDisk.add(key);
    if (key.startsWith('instances/') && !indexed.has(key) && f.mtimeMs <= instancesCutoff) {
      if (await removeQuietly(f.path, log)) {
        orphanBlobsRemoved++;
        orphans.push(key);
      }
    }
  }
  const missingBlobs = [...indexed].filter((k) => !onDisk.has(k));
  if (tempFilesRemoved > 0) log.warn('recovery removed leftover temp files', { count: tempFilesRemoved });
  if (orphanBlobsRemoved > 0) {
    log.warn('recovery removed blobs without index rows (never acknowledged)', { count: orphanBlobsRemoved, keys: orphans.slice(0, 20) });
  }
  if (missingBlobs.length > 0) {
    log.error('index rows whose blob is missing (kept; restore the blobs from backup)', {
      count: missingBlobs.length, keys: missingBlobs.slice(0, 20),
    });
  }
  return { tempFilesRemoved, orphanBlobsRemoved, missingBlobs, blobsScanned: onDisk.size };
}
