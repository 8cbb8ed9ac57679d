/**
 * Integrity checks of a SecondReader data folder, read through the archive's public API with the server stopped:
 * which source instances are present and byte-identical, and whether index and blob folder agree (every row has
 * its blob, every instance blob has its row) with no temp or partial files left anywhere.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { openArchive } from '../src/archive/index.ts';
import type { InstanceRecord } from '../src/archive/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { datasetSha256 } from './ingest-synth.ts';
import type { SourceInstance } from './ingest-synth.ts';

async function walk(dir: string, out: string[]): Promise<string[]> {
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return out;
}

export interface DataDirReport {
  readonly rows: readonly InstanceRecord[];
  /** Files that are temp or partial files: *.sr-tmp, hidden files in the blob folder, anything in incoming/. */
  readonly leftovers: readonly string[];
  /** Index rows whose blob file does not exist. */
  readonly rowsWithoutBlob: readonly string[];
  /** Instance blob files no index row points to. */
  readonly blobsWithoutRow: readonly string[];
  /** SOP Instance UIDs of `expected` that are missing from the index. */
  readonly missing: readonly string[];
  /**
   * SOP Instance UIDs of `expected` whose stored data set differs from the source file's, byte for byte, or whose
   * index sha256 does not match the stored file. (Over DIMSE the file meta group is the receiver's own: PS3.10.)
   */
  readonly different: readonly string[];
}

/** Opens the archive without its recovery pass (to see what the last server run left), checks, closes. */
export async function inspectDataDir(dataDir: string, expected: readonly SourceInstance[]): Promise<DataDirReport> {
  const blobRoot = join(dataDir, 'blobs');
  const files = await walk(dataDir, []);
  const leftovers = files.filter((f) => {
    const rel = relative(dataDir, f);
    const name = rel.split(sep).pop() ?? '';
    return f.endsWith('.sr-tmp') || rel.startsWith(`incoming${sep}`) || (rel.startsWith(`blobs${sep}`) && name.startsWith('.'));
  });
  const archive = await openArchive({ backend: 'sqlite', dataDir, recovery: false }, silentLogger);
  try {
    const rows = await archive.listInstances({});
    const keys = new Set(rows.map((r) => r.blobKey));
    const rowsWithoutBlob = rows.filter((r) => !existsSync(join(blobRoot, ...r.blobKey.split('/')))).map((r) => r.blobKey);
    const blobsWithoutRow = files
      .filter((f) => f.startsWith(join(blobRoot, 'instances') + sep) && !leftovers.includes(f))
      .map((f) => relative(blobRoot, f).split(sep).join('/'))
      .filter((k) => !keys.has(k));
    const missing: string[] = [];
    const different: string[] = [];
    for (const src of expected) {
      const rec = await archive.getInstance(src.sopInstanceUid);
      if (!rec) {
        missing.push(src.sopInstanceUid);
        continue;
      }
      const bytes = await archive.readInstance(src.sopInstanceUid);
      const fileSha = createHash('sha256').update(bytes).digest('hex');
      if (datasetSha256(bytes) !== src.datasetSha256 || rec.sha256 !== fileSha) different.push(src.sopInstanceUid);
    }
    return { rows, leftovers, rowsWithoutBlob, blobsWithoutRow, missing, different };
  } finally {
    await archive.close();
  }
}
