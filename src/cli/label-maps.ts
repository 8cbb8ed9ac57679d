/** Label maps of `analyze`: DIR/<analysis>/<SeriesInstanceUID>.labels.nii.gz, referenced from findings.json. */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SrError } from '../core/index.ts';
import type { LabelMapSink } from '../engine/index.ts';
import { writeNifti } from '../imaging/index.ts';

/** A UID is digits and dots; anything else (non-conforming archives) must not escape the folder. */
export function safeFileStem(uid: string): string {
  const s = uid.replace(/[^0-9A-Za-z._-]/g, '_').replace(/^\.+/, '_');
  return s.length > 0 ? s.slice(0, 128) : 'series';
}

export function niftiLabelMapSink(outDir: string): LabelMapSink {
  return async (target, labelMap) => {
    const rel = `${target.analysis}/${safeFileStem(target.seriesInstanceUid)}.labels.nii.gz`;
    const path = join(outDir, ...rel.split('/'));
    try {
      await mkdir(join(outDir, target.analysis), { recursive: true });
    } catch (e) {
      throw new SrError('IO_ERROR', `cannot create ${join(outDir, target.analysis)}`, { cause: e });
    }
    await writeNifti(path, labelMap.mask, { description: `${target.analysis} ${target.version} labels` });
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(labelMap.labels)) labels[k] = v;
    return { path: rel, format: 'nifti-1+gzip', labels };
  };
}
