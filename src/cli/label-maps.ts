/**
 * Label maps of `analyze`: DIR/<analysis>/<SeriesInstanceUID>.labels.nii.gz, referenced from findings.json, and a
 * PNG key image per labelled finding (DIR/<analysis>/<SeriesInstanceUID>/<finding id>.png): the axial slice
 * through its centre with the label overlaid, so a reader sees at a glance what was marked.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { safeFileStem, SrError } from '../core/index.ts';
import type { LabelMapSink } from '../engine/index.ts';
import { lpsToIjk, writeNifti } from '../imaging/index.ts';
import { renderSlicePng } from '../report/index.ts';

/** Without a window from the analysis: a soft-tissue CT window. */
const DEFAULT_WINDOW = { center: 40, width: 400 };

export function niftiLabelMapSink(outDir: string): LabelMapSink {
  return async (target, labelMap, context) => {
    const stem = safeFileStem(target.seriesInstanceUid);
    const rel = `${target.analysis}/${stem}.labels.nii.gz`;
    const path = join(outDir, ...rel.split('/'));
    const imageDir = join(outDir, target.analysis, stem);
    try {
      await mkdir(imageDir, { recursive: true });
    } catch (e) {
      throw new SrError('IO_ERROR', `cannot create ${imageDir}`, { cause: e });
    }
    await writeNifti(path, labelMap.mask, { description: `${target.analysis} ${target.version} labels` });
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(labelMap.labels)) labels[k] = v;
    const keyImages: Record<string, string> = {};
    for (const f of context.findings) {
      if (f.label === undefined) continue;
      const k = lpsToIjk(context.volume, f.centerMm)[2];
      const png = renderSlicePng(context.volume, { k, window: context.displayWindow ?? DEFAULT_WINDOW, overlay: labelMap.mask });
      const name = `${safeFileStem(f.id)}.png`;
      try {
        await writeFile(join(imageDir, name), png);
      } catch (e) {
        throw new SrError('IO_ERROR', `cannot write key image ${join(imageDir, name)}`, { cause: e });
      }
      keyImages[f.id] = `${target.analysis}/${stem}/${name}`;
    }
    return { path: rel, format: 'nifti-1+gzip', labels, ...(Object.keys(keyImages).length > 0 ? { keyImages } : {}) };
  };
}
