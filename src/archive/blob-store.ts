/**
 * Filesystem blob store (a local folder, or a shared one for scale-out). Every put is atomic and durable: a temp
 * file in the target folder, fsync, rename over the target, fsync of the folder (POSIX: the rename itself is only
 * durable once the directory is synced). Temp files carry TEMP_SUFFIX so the recovery pass can find leftovers.
 */
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { SrError, toSrError } from '../core/errors.ts';
import type { BlobStore, InstanceSource, PutOptions } from './types.ts';
import { SyncCoalescer } from './fsync.ts';

export const TEMP_SUFFIX = '.sr-tmp';

const KEY_RE = /^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;

/** Keys are relative paths of safe segments: no `..`, no hidden names (those are our temp files). */
export function checkBlobKey(key: string): void {
  if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..' || s.startsWith('.')) || key.endsWith(TEMP_SUFFIX)) {
    throw new SrError('ARCHIVE_INSTANCE_INVALID', `invalid blob key ${JSON.stringify(key)}`, { details: { key } });
  }
}

function ioError(e: unknown, what: string, key: string): SrError {
  const code = (e as { code?: unknown }).code;
  if (code === 'ENOENT') return new SrError('NOT_FOUND', `blob ${key} not found`, { cause: e, details: { key } });
  if (code === 'ENOSPC' || code === 'EDQUOT') return new SrError('ARCHIVE_STORAGE_FULL', `${what}: storage full`, { cause: e, details: { key } });
  return toSrError(e, 'IO_ERROR', what, { key });
}

async function fsyncFile(path: string): Promise<number> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
    return (await fh.stat()).size;
  } finally {
    await fh.close();
  }
}

/** Open folder handles kept for their fsyncs (one per series folder receiving; oldest closed beyond this). */
const MAX_DIR_HANDLES = 64;

export class FsBlobStore implements BlobStore {
  readonly root: string;
  /**
   * Folder fsyncs reuse an open handle (no open + close in the thread pool around each). Nothing removes a blob
   * folder while the archive runs (deletes remove files only), so a handle keeps naming its folder; a folder we
   * create is (re)opened afresh.
   */
  private readonly dirHandles = new Map<string, Promise<FileHandle>>();
  private readonly dirs = new SyncCoalescer((d) => this.syncDir(d));

  constructor(root: string) {
    this.root = root;
  }

  pathOf(key: string): string {
    checkBlobKey(key);
    return join(this.root, ...key.split('/'));
  }

  private async syncDir(dir: string): Promise<void> {
    let h = this.dirHandles.get(dir);
    if (!h) {
      h = open(dir, 'r');
      this.dirHandles.set(dir, h);
      if (this.dirHandles.size > MAX_DIR_HANDLES) {
        const [oldest, oh] = this.dirHandles.entries().next().value as [string, Promise<FileHandle>];
        this.dirHandles.delete(oldest);
        void oh.then((fh) => fh.close()).catch((e: unknown) => e); // waits for a sync in flight on it
      }
    }
    let fh: FileHandle;
    try {
      fh = await h;
    } catch (e) {
      if (this.dirHandles.get(dir) === h) this.dirHandles.delete(dir);
      throw e;
    }
    await fh.sync();
  }

  /**
   * Closes the cached folder handles (waiting for a sync in flight on each). Without it a closed archive leaves up
   * to MAX_DIR_HANDLES FileHandles to the garbage collector, which Node warns about (DEP0137) and will make an error.
   */
  async close(): Promise<void> {
    const handles = [...this.dirHandles.values()];
    this.dirHandles.clear();
    await Promise.all(handles.map((h) => h.then((fh) => fh.close()).catch((e: unknown) => e)));
  }

  /** Forgets the handle of a folder that was just created (a stale one could name a folder removed meanwhile). */
  private forgetDir(dir: string): void {
    const h = this.dirHandles.get(dir);
    if (!h) return;
    this.dirHandles.delete(dir);
    void h.then((fh) => fh.close()).catch((e: unknown) => e);
  }

  tempPathFor(path: string): string {
    return join(dirname(path), `.${basename(path)}.${randomUUID().slice(0, 8)}${TEMP_SUFFIX}`);
  }

  async put(key: string, source: InstanceSource, options: PutOptions = {}): Promise<number> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    const tmp = this.tempPathFor(path);
    try {
      let size: number;
      if ('bytes' in source) {
        await this.inFolder(dir, () => this.writeSynced(tmp, source.bytes));
        size = source.bytes.byteLength;
        await rename(tmp, path);
      } else {
        const digest = source.digest;
        // Nothing acknowledged at `key`: move first, then the file and folder fsyncs at once (both before we
        // resolve, so before the index row and the acknowledgement): one fsync's latency instead of two in a row.
        const overlap = options.fresh === true && digest !== undefined && !digest.synced && digest.sync !== undefined;
        // Otherwise the caller's temp file is synced first (unless its writer did), then moved.
        if (digest?.synced) size = digest.sizeBytes;
        else if (digest?.sync) {
          if (!overlap) await digest.sync();
          size = digest.sizeBytes;
        } else size = await fsyncFile(source.tempFile);
        try {
          await this.inFolder(dir, () => rename(source.tempFile, path));
          if (overlap && digest?.sync) {
            try {
              await Promise.all([digest.sync(), this.dirs.sync(dir)]);
            } catch (syncErr) {
              await unlink(path).catch((unlinkErr: unknown) => unlinkErr); // ours, never acknowledged
              throw syncErr;
            }
            return size;
          }
        } catch (e) {
          // Across filesystems: copy into a synced temp file of the blob folder, then rename.
          if ((e as { code?: unknown }).code !== 'EXDEV') throw e;
          await digest?.sync?.(); // the writer may still be completing the file
          await copyFile(source.tempFile, tmp);
          await fsyncFile(tmp);
          await rename(tmp, path);
          await unlink(source.tempFile);
        }
      }
      await this.dirs.sync(dir);
      return size;
    } catch (e) {
      await unlink(tmp).catch((unlinkErr: unknown) => unlinkErr); // may not exist; the first error wins
      throw ioError(e, `could not store blob ${key}`, key);
    }
  }

  /**
   * Moves an instance into place WITHOUT syncing it (atomic, not durable): only for keys that have no index row
   * and whose bytes the ingest journal makes durable (journal.ts); `syncKey` later. Returns the size.
   */
  async place(key: string, source: InstanceSource): Promise<number> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    const tmp = this.tempPathFor(path);
    try {
      if ('bytes' in source) {
        await this.inFolder(dir, () => writeFile(tmp, source.bytes, { flag: 'wx' }));
        await rename(tmp, path);
        return source.bytes.byteLength;
      }
      await source.digest?.written?.();
      try {
        await this.inFolder(dir, () => rename(source.tempFile, path));
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'EXDEV') throw e;
        await copyFile(source.tempFile, tmp);
        await rename(tmp, path);
        await unlink(source.tempFile);
      }
      return source.digest?.sizeBytes ?? (await stat(path)).size;
    } catch (e) {
      await unlink(tmp).catch((unlinkErr: unknown) => unlinkErr);
      throw ioError(e, `could not store blob ${key}`, key);
    }
  }

  /** fdatasync of a placed blob's file (`syncFolders` for its folder). */
  async syncFile(key: string): Promise<void> {
    const fh = await open(this.pathOf(key), 'r');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  /** fsync of the folders of these blobs, each once (concurrent callers of one folder share a sync). */
  async syncFolders(keys: readonly string[]): Promise<void> {
    await Promise.all([...new Set(keys.map((k) => dirname(this.pathOf(k))))].map((d) => this.dirs.sync(d)));
  }

  /** fdatasync of a placed blob, then of its folder. */
  async syncKey(key: string): Promise<void> {
    await this.syncFile(key);
    await this.syncFolders([key]);
  }

  private async writeSynced(tmp: string, bytes: Uint8Array): Promise<void> {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
  }

  /**
   * Runs `op` (which creates an entry in `dir`); when the folder is missing, creates it first and syncs the
   * parents of every folder created, so the new folders are as durable as the entry (the caller syncs `dir`).
   * The common case, a folder that exists, costs no mkdir.
   */
  private async inFolder<T>(dir: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (e) {
      if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
    }
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      const created: string[] = [];
      for (let d = dir; d.length >= first.length && d !== dirname(d); d = dirname(d)) created.push(d);
      for (const d of created) this.forgetDir(d);
      await Promise.all(created.map((d) => this.dirs.sync(dirname(d))));
    }
    return op();
  }

  async get(key: string): Promise<Uint8Array> {
    try {
      const b = await readFile(this.pathOf(key));
      return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      throw ioError(e, `could not read blob ${key}`, key);
    }
  }

  /** `range.end` is inclusive, as in HTTP Range and fs.createReadStream. */
  stream(key: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : {});
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return;
      throw ioError(e, `could not delete blob ${key}`, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ENOENT') return false;
      throw ioError(e, `could not stat blob ${key}`, key);
    }
  }

  /** The blob key of a path under the root (recovery walks files). */
  keyOf(path: string): string {
    return path.slice(this.root.length + 1).split(sep).join('/');
  }
}
