/**
 * Atomic file writes: a temp file in the target folder, fsync, then rename over the target, so a reader (or a
 * crash) sees the old file or the new one, never half of one. The folder must exist.
 */
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { toSrError } from './errors.ts';

function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`);
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch((unlinkErr: unknown) => unlinkErr); // the temp file may not exist; the first error wins
    throw toSrError(e, 'IO_ERROR', `could not write ${path}`, { path });
  }
}

/** Synchronous twin of writeFileAtomic, for generators that write thousands of small files in a loop. */
export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const tmp = tempPathFor(path);
  try {
    const fd = openSync(tmp, 'wx');
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch (unlinkErr) {
      void unlinkErr; // the temp file may not exist; the first error wins
    }
    throw toSrError(e, 'IO_ERROR', `could not write ${path}`, { path });
  }
}
