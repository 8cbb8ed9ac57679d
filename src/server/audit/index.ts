export type { AuditEvent, AuditOutcome, AuditSink } from './types.ts';
export { NO_AUDIT } from './types.ts';
export { AuditTrail, GENESIS_HASH, canonicalJson, chainBrokenError, chainHash, exportLines, isExportFormat, migrateAudit, siteSecret, verifyAuditChain } from './trail.ts';
export type { AuditFilter, AuditRecord, AuditTrailOptions, ChainVerification, ExportFormat } from './trail.ts';
export { registerAuditHook } from './hook.ts';
export type { AuditedRoute, AuditHookOptions } from './hook.ts';
export { openAuditDb } from './open.ts';
export type { AuditDbConfig } from './open.ts';
