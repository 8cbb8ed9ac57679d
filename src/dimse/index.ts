/**
 * DICOM networking (DIMSE) on dcmjs-dimse: the SCP that feeds the archive (C-ECHO, C-STORE, C-FIND, C-MOVE,
 * C-GET) and the SCU operations used to forward results and to talk to a PACS. Conformance: docs/dimse.md.
 */
export { startDimseServer } from './scp.ts';
export type { DimseServer, DimseServerDeps } from './scp.ts';
export { echo, find, move, storeInstances, isWarningStatus } from './scu.ts';
export type { MoveResult, QueryModel, ScuOptions, StoreOptions, StoreResult, StoreSource } from './scu.ts';
export { DEFAULT_AE_TITLE, resolveServerConfig, isAllowed } from './config.ts';
export type { DimseAllowRule, DimsePeer, DimseServerConfig, DimseTimeouts, ResolvedServerConfig } from './config.ts';
export type { DimseTlsConfig } from './tls.ts';
export type { DimseLevel } from './identifier.ts';
export { STATUS as DIMSE_STATUS } from './lib.ts';
export { buildPart10Header, readPart10Info, readPart10InfoFromFile } from './part10.ts';
export type { Part10Info } from './part10.ts';
