/**
 * De-identifies files and folders (recursively) into an output folder laid out by the new UIDs:
 * OUT/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm. Files that are not DICOM are skipped;
 * DICOM files that cannot be de-identified are reported with their error code and never written.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSrError, writeFileAtomic } from '../core/index.ts';
import { isDicomFileCandidate } from '../dicom/index.ts';
import type { Deidentifier } from './deidentify.ts';

export interface FolderReport {
  readonly written: number;
  readonly skippedNotDicom: number;
  readonly failed: readonly { readonly source: string; readonly code: string; readonly message: string }[];
}

async function* walk(path: string): AsyncGenerator<string> {
  const s = await stat(path);
  if (!s.isDirectory()) {
    yield path;
    return;
  }
  for (const name of (await readdir(path)).sort()) {
    if (name.startsWith('.')) continue;
    yield* walk(join(path, name));
  }
}

export async function deidentifyFolder(inputs: readonly string[], outDir: string, d: Deidentifier, onFile?: (source: string, ok: boolean) => void): Promise<FolderReport> {
  let written = 0;
  let skippedNotDicom = 0;
  const failed: { source: string; code: string; message: string }[] = [];
  for (const input of inputs) {
    for await (const source of walk(input)) {
      if (!(await isDicomFileCandidate(source))) {
        skippedNotDicom++;
        continue;
      }
      try {
        const r = d.deidentify(await readFile(source), source);
        const dir = join(outDir, r.studyInstanceUid, r.seriesInstanceUid);
        await mkdir(dir, { recursive: true });
        await writeFileAtomic(join(dir, `${r.sopInstanceUid}.dcm`), r.bytes);
        written++;
        onFile?.(source, true);
      } catch (e) {
        failed.push({ source, code: isSrError(e) ? e.code : 'DEID_FAILED', message: e instanceof Error ? e.message : String(e) });
        onFile?.(source, false);
      }
    }
  }
  return { written, skippedNotDicom, failed };
}
