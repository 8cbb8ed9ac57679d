export type * from './types.ts';
export { createSqliteJobQueue, type SqliteJobQueueOptions } from './sqlite-queue.ts';
export { createPgJobQueue, type PgJobQueueOptions } from './pg-queue.ts';
export { backoffMs, isPermanentError, defaultWorkerName, type QueueTuning } from './policy.ts';
