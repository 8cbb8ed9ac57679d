export * from './types.ts';
export * from './dataset.ts';
export * from './write.ts';
export * from './ct-series-writer.ts';
export { parseDicom, readDicomFile, readDicomHeader, isDicomFileCandidate, LONG_VR } from './parse.ts';
export type { DicomHeader, ParseOptions } from './parse.ts';
export { TS as TRANSFER_SYNTAX, codecFor } from './transfer-syntax.ts';
export { framesOf, imageTypeOf } from './frames.ts';
export type { FrameRef } from './frames.ts';
export { planStack } from './stack-geometry.ts';
export type { StackPlan, StackPlanOptions, PlannedSlice, OutputSlice } from './stack-geometry.ts';
export { buildSeriesVolume, buildVolumeFromPlan, decodeThreadsFor, PARALLEL_MIN_FRAMES } from './volume-builder.ts';
export { decodeThreads, startDecodePool, shutdownDecodePool, decodePoolSize } from './decode-pool.ts';
export type { BuildVolumeOptions } from './volume-builder.ts';
export {
  scanPaths, listFiles, readLazyDicomFile, groupFiles, instanceExclusion, analyzableStacks, mainStack,
  buildSeriesHeader, summarizeScan, formatScanSummary,
} from './series.ts';
export type {
  ScanOptions, ScanResult, FileProblem, ExcludedInstance, ImageStack, SeriesGroup, StudyGroup, PatientGroup, StackRef,
  ScanSummary, SeriesSummary, StackSummary,
} from './series.ts';
export { measureDecodeThroughput } from './decode-throughput.ts';
export type { DecodeThroughput } from './decode-throughput.ts';
export { lookupTag, lookupKeyword, tagHex } from './dictionary.ts';
export type { DictEntry } from './dictionary.ts';
