export * from './types.ts';
export { openArchive } from './open.ts';
export type { ArchiveConfig, OpenedArchive } from './open.ts';
export { ingestFolder } from './ingest.ts';
export type { IngestSummary } from './ingest.ts';
export type { RecoveryReport, RecoveryOptions } from './recovery.ts';
export { FsBlobStore } from './blob-store.ts';
export { queryKeys } from './query.ts';
