/**
 * Compatibility re-exports only: the series source moved to src/engine (seriesInputs) and the scan to src/dicom.
 * bench/chest.ts, bench/head.ts and two analysis tests still import this path; delete it once they import the
 * module indexes. No code lives here.
 */
export { seriesInputs } from '../engine/index.ts';
export type { SeriesInputs } from '../engine/index.ts';
export { scanPaths, summarizeScan, formatScanSummary } from '../dicom/index.ts';
export type { ScanResult, ScanSummary, SeriesSummary, StackSummary } from '../dicom/index.ts';
