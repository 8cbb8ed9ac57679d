/**
 * The review store of an archive: the review tables live in the archive's own index database (SQLite or
 * PostgreSQL), created on first use, so nothing else has to open or pass them around.
 */
import { SrError } from '../../core/index.ts';
import type { Archive } from '../../archive/index.ts';
import type { SqlDb } from '../../archive/db.ts';
import { createReviewStore, migrateReview } from './store.ts';
import type { ReviewStore } from './store.ts';

export * from './store.ts';
export { buildDraft, findingMeasurements } from './draft.ts';
export type { DraftFinding, ReportDraft } from './draft.ts';
export { renderFallbackPdf, reportLines, signedReportPdf } from './pdf.ts';
export { findingsOf, statusOf, triageOf } from './triage.ts';
export type { AiStatus, StatusSummary, Triage } from './triage.ts';
export { refreshTriage, worklistPage, WORKLIST_JOB_WINDOW } from './worklist.ts';
export type { WorklistItem, WorklistPage, WorklistQuery } from './worklist.ts';
export { endReviewStreams, EVENTS_POLL_MS, ReviewEventHub, reviewEventHub, sseFrame } from './events.ts';
export type { ReviewEvent, ReviewListener } from './events.ts';

const stores = new WeakMap<Archive, Promise<ReviewStore>>();

/** The archive's index database, when it has one (SQLite or PostgreSQL archives do). */
export function dbOf(archive: Archive): SqlDb | undefined {
  const db = (archive as Archive & { db?: SqlDb }).db;
  return db && typeof db.tx === 'function' && typeof db.all === 'function' ? db : undefined;
}

export function reviewStoreOf(archive: Archive): Promise<ReviewStore> {
  let p = stores.get(archive);
  if (!p) {
    const db = dbOf(archive);
    if (!db) return Promise.reject(new SrError('ARCHIVE_UNAVAILABLE', 'this archive has no SQL index database to keep the review in'));
    p = migrateReview(db).then(() => createReviewStore(db));
    // A failed migration (database down) is retried on the next request, not cached.
    p.catch(() => stores.delete(archive));
    stores.set(archive, p);
  }
  return p;
}
