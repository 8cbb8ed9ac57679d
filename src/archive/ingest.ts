/**
 * ingestFolder: imports existing DICOM files (the demo study, a folder a user points at) into the archive. The
 * files are read, never moved. Non-DICOM files are skipped and reported, never fatal.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSrError, toSrError } from '../core/errors.ts';
import type { Archive, InstanceOrigin } from './types.ts';

export interface IngestSummary {
  readonly stored: number;
  readonly duplicate: number;
  readonly replaced: number;
  readonly failed: ReadonlyArray<{ readonly path: string; readonly code: string; readonly message: string }>;
}

async function listFiles(path: string, out: string[]): Promise<void> {
  const st = await stat(path);
  if (st.isFile()) {
    out.push(path);
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of (await readdir(path)).sort()) {
    if (name.startsWith('.')) continue;
    await listFiles(join(path, name), out);
  }
}

export async function ingestFolder(
  archive: Archive,
  paths: readonly string[],
  options: { origin?: InstanceOrigin; concurrency?: number } = {},
): Promise<IngestSummary> {
  const files: string[] = [];
  for (const p of paths) {
    try {
      await listFiles(p, files);
    } catch (e) {
      throw toSrError(e, (e as { code?: unknown }).code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `could not list ${p}`, { path: p });
    }
  }
  const origin = options.origin ?? { via: 'import' as const };
  const counts = { stored: 0, duplicate: 0, replaced: 0 };
  const failed: Array<{ path: string; code: string; message: string }> = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const path = files[next++] as string;
      try {
        const b = await readFile(path);
        const r = await archive.storeInstance({ bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) }, origin);
        counts[r.status]++;
      } catch (e) {
        if (!isSrError(e) || e.code === 'ARCHIVE_UNAVAILABLE' || e.code === 'ARCHIVE_STORAGE_FULL') throw e;
        failed.push({ path, code: e.code, message: e.message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return { ...counts, failed };
}
