/**
 * Scanned DICOM files → engine inputs: pick the main stack of each series and defer decoding to the engine's
 * `loadVolume`, so a series no analysis wants is never decoded. Shared by the CLI (files and folders) and the
 * server (series read back from the archive).
 */
import { buildSeriesHeader, buildSeriesVolume, mainStack } from '../dicom/index.ts';
import type { ScanResult } from '../dicom/index.ts';
import type { SeriesInput } from './runner.ts';

export interface SeriesInputs {
  readonly inputs: SeriesInput[];
  /** Series with no analyzable stack (only localizers, SR, SEG...), with the reason, for the user. */
  readonly ignored: { readonly seriesInstanceUid: string; readonly modality: string; readonly reason: string }[];
}

/** One engine input per series: its largest analyzable stack. */
export function seriesInputs(scan: ScanResult, onFrames?: (uid: string, done: number, total: number) => void): SeriesInputs {
  const inputs: SeriesInput[] = [];
  const ignored: SeriesInputs['ignored'] = [];
  for (const patient of scan.patients) {
    for (const study of patient.studies) {
      for (const series of study.series) {
        const stack = mainStack(series);
        if (!stack) {
          const why = series.stacks[0]?.excluded ?? series.excludedInstances[0]?.reason ?? 'no image stack';
          ignored.push({ seriesInstanceUid: series.seriesInstanceUid, modality: series.modality, reason: why });
          continue;
        }
        const header = buildSeriesHeader(series, stack);
        inputs.push({
          header,
          loadVolume: (signal) =>
            buildSeriesVolume(stack.frames, { signal, onProgress: (done, total) => onFrames?.(series.seriesInstanceUid, done, total) }),
        });
      }
    }
  }
  return { inputs, ignored };
}
