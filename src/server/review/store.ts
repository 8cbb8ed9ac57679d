/**
 * The radiologist's review, stored in the archive's index database (SQLite or PostgreSQL, one SQL text):
 * one current decision per (result, finding) — accept / reject / edit, with who, when and from which site — an
 * append-only log of every decision, and one report per study (impression, draft → signed, who signed and when).
 * A signed report locks the study's review: decisions and impression can no longer change.
 */
import { randomUUID } from 'node:crypto';
import { SrError } from '../../core/index.ts';
import type { SqlDb, SqlExec, SqlRow } from '../../archive/db.ts';
import { triageDdl } from './worklist.ts';

export type Decision = 'accept' | 'reject' | 'edit';
export const DECISIONS: readonly Decision[] = ['accept', 'reject', 'edit'];

/** What an edit changes: the finding's type and/or some of its measurements (mm, mL, HU...). */
export interface FindingEdit {
  readonly kind?: string;
  readonly measurements?: Readonly<Record<string, number>>;
  readonly comment?: string;
}

export interface DecisionInput {
  readonly studyInstanceUid: string;
  readonly resultId: string;
  readonly analysisId: string;
  readonly findingId: string;
  readonly decision: Decision;
  readonly edit?: FindingEdit | undefined;
  readonly site: string;
  readonly user: { readonly id: string; readonly username: string; readonly role: string };
}

export interface DecisionRecord {
  readonly studyInstanceUid: string;
  readonly resultId: string;
  readonly analysisId: string;
  readonly findingId: string;
  readonly decision: Decision;
  readonly edit: FindingEdit | null;
  readonly site: string;
  readonly userId: string;
  readonly username: string;
  readonly decidedAt: string;
}

export interface ReportRecord {
  readonly studyInstanceUid: string;
  readonly status: 'draft' | 'signed';
  readonly impression: string;
  readonly updatedBy: string | null;
  readonly updatedAt: string | null;
  readonly signedBy: string | null;
  readonly signedAt: string | null;
  /** The report as signed (JSON), frozen at sign-off. */
  readonly signedReport: unknown;
  /** Blob key of the signed PDF (archive blob store), when one was produced. */
  readonly pdfBlobKey: string | null;
}

/** A length the radiologist measured: two world points (patient mm, LPS) and their distance. */
export interface MeasurementInput {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid?: string | undefined;
  readonly lengthMm: number;
  readonly points: readonly (readonly number[])[];
  readonly label?: string | undefined;
  readonly user: { readonly id: string; readonly username: string };
}

export interface MeasurementRecord {
  readonly id: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string | null;
  readonly kind: 'length';
  readonly lengthMm: number;
  readonly points: readonly (readonly number[])[];
  readonly label: string | null;
  readonly username: string;
  readonly createdAt: string;
}

export interface RejectionStat {
  readonly site: string;
  readonly analysisId: string;
  readonly decided: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly edited: number;
  /** rejected / decided: the false-positive rate the radiologists reported. */
  readonly rejectionRate: number;
}

function ddl(text: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS review_decisions (
      result_id ${text} NOT NULL, finding_id ${text} NOT NULL,
      study_uid ${text} NOT NULL, analysis_id ${text} NOT NULL,
      decision ${text} NOT NULL, edit ${text}, site ${text} NOT NULL,
      user_id ${text} NOT NULL, username ${text} NOT NULL, decided_at ${text} NOT NULL,
      PRIMARY KEY (result_id, finding_id))`,
    `CREATE TABLE IF NOT EXISTS review_decision_log (
      id ${text} PRIMARY KEY,
      result_id ${text} NOT NULL, finding_id ${text} NOT NULL, study_uid ${text} NOT NULL, analysis_id ${text} NOT NULL,
      decision ${text} NOT NULL, edit ${text}, site ${text} NOT NULL,
      user_id ${text} NOT NULL, username ${text} NOT NULL, user_role ${text} NOT NULL, decided_at ${text} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS review_reports (
      study_uid ${text} PRIMARY KEY,
      status ${text} NOT NULL, impression ${text} NOT NULL,
      updated_by ${text}, updated_at ${text}, signed_by ${text}, signed_at ${text},
      signed_report ${text}, pdf_blob_key ${text})`,
    `CREATE INDEX IF NOT EXISTS review_decisions_study ON review_decisions (study_uid)`,
    `CREATE INDEX IF NOT EXISTS review_decision_log_study ON review_decision_log (study_uid, decided_at)`,
    // Length measurements the radiologist drew (viewer's length tool), kept with the review and listed in the report.
    `CREATE TABLE IF NOT EXISTS review_measurements (
      id ${text} PRIMARY KEY, study_uid ${text} NOT NULL, series_uid ${text}, kind ${text} NOT NULL,
      length_mm ${text} NOT NULL, points ${text} NOT NULL, label ${text},
      user_id ${text} NOT NULL, username ${text} NOT NULL, created_at ${text} NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS review_measurements_study ON review_measurements (study_uid, created_at)`,
    ...triageDdl(text),
  ];
}

/** Creates the review tables if missing (idempotent; two processes on one PostgreSQL schema are serialized). */
export async function migrateReview(db: SqlDb): Promise<void> {
  await db.tx(async (q) => {
    if (db.dialect.name === 'postgres') await q.all('SELECT pg_advisory_xact_lock(hashtext(?))', ['sr-review-migrate']);
    for (const stmt of ddl(db.dialect.text)) await q.run(stmt);
  });
}

function str(r: SqlRow, k: string): string {
  return String(r[k] ?? '');
}
function strOrNull(r: SqlRow, k: string): string | null {
  const v = r[k];
  return v === null || v === undefined ? null : String(v);
}
function parseJson(v: unknown): unknown {
  if (typeof v !== 'string' || v === '') return null;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    // A row written by hand or cut short: shown as absent rather than failing the whole study.
    return null;
  }
}

function decisionFromRow(r: SqlRow): DecisionRecord {
  return {
    studyInstanceUid: str(r, 'study_uid'), resultId: str(r, 'result_id'), analysisId: str(r, 'analysis_id'), findingId: str(r, 'finding_id'),
    decision: str(r, 'decision') as Decision, edit: parseJson(r['edit']) as FindingEdit | null, site: str(r, 'site'),
    userId: str(r, 'user_id'), username: str(r, 'username'), decidedAt: str(r, 'decided_at'),
  };
}

function reportFromRow(r: SqlRow): ReportRecord {
  return {
    studyInstanceUid: str(r, 'study_uid'), status: str(r, 'status') === 'signed' ? 'signed' : 'draft', impression: str(r, 'impression'),
    updatedBy: strOrNull(r, 'updated_by'), updatedAt: strOrNull(r, 'updated_at'), signedBy: strOrNull(r, 'signed_by'), signedAt: strOrNull(r, 'signed_at'),
    signedReport: parseJson(r['signed_report']), pdfBlobKey: strOrNull(r, 'pdf_blob_key'),
  };
}

async function assertUnlocked(q: SqlExec, studyUid: string): Promise<void> {
  const rows = await q.all('SELECT status, signed_by, signed_at FROM review_reports WHERE study_uid = ?', [studyUid]);
  const r = rows[0];
  if (r && r['status'] === 'signed') {
    throw new SrError('REVIEW_LOCKED', `the report of study ${studyUid} was signed by ${String(r['signed_by'])} at ${String(r['signed_at'])}`, {
      details: { studyInstanceUid: studyUid, signedBy: r['signed_by'], signedAt: r['signed_at'] },
    });
  }
}

export interface ReviewStore {
  decide(input: DecisionInput, now?: Date): Promise<DecisionRecord>;
  listDecisions(studyUid: string): Promise<DecisionRecord[]>;
  getReport(studyUid: string): Promise<ReportRecord | undefined>;
  /** Reports of many studies at once (the worklist). */
  reportStatuses(studyUids: readonly string[]): Promise<Map<string, ReportRecord['status']>>;
  saveImpression(studyUid: string, impression: string, username: string, now?: Date): Promise<ReportRecord>;
  /** Locks the study: REVIEW_LOCKED when it is already signed. `finish` builds the frozen report and its PDF key. */
  sign(studyUid: string, username: string, frozen: { report: unknown; pdfBlobKey: string | null }, now?: Date): Promise<ReportRecord>;
  rejectionStats(): Promise<RejectionStat[]>;
  /** REVIEW_LOCKED once the report is signed. */
  addMeasurement(input: MeasurementInput, now?: Date): Promise<MeasurementRecord>;
  listMeasurements(studyUid: string): Promise<MeasurementRecord[]>;
  /** Removes one of the study's measurements (REVIEW_LOCKED once signed); false when there was none with that id. */
  deleteMeasurement(studyUid: string, id: string): Promise<boolean>;
}

function measurementFromRow(r: SqlRow): MeasurementRecord {
  const pts = parseJson(r['points']);
  return {
    id: str(r, 'id'), studyInstanceUid: str(r, 'study_uid'), seriesInstanceUid: strOrNull(r, 'series_uid'), kind: 'length',
    lengthMm: Number(r['length_mm']), points: Array.isArray(pts) ? (pts as unknown[]).map((p) => (Array.isArray(p) ? p.map(Number) : [])) : [],
    label: strOrNull(r, 'label'), username: str(r, 'username'), createdAt: str(r, 'created_at'),
  };
}

export function createReviewStore(db: SqlDb): ReviewStore {
  const store: ReviewStore = {
    async decide(input, now = new Date()) {
      const at = now.toISOString();
      const edit = input.decision === 'edit' && input.edit ? JSON.stringify(input.edit) : null;
      await db.tx(async (q) => {
        await assertUnlocked(q, input.studyInstanceUid);
        await q.run(
          `INSERT INTO review_decisions (result_id, finding_id, study_uid, analysis_id, decision, edit, site, user_id, username, decided_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (result_id, finding_id) DO UPDATE SET decision = excluded.decision, edit = excluded.edit, site = excluded.site,
             user_id = excluded.user_id, username = excluded.username, decided_at = excluded.decided_at`,
          [input.resultId, input.findingId, input.studyInstanceUid, input.analysisId, input.decision, edit, input.site, input.user.id, input.user.username, at],
        );
        await q.run(
          `INSERT INTO review_decision_log (id, result_id, finding_id, study_uid, analysis_id, decision, edit, site, user_id, username, user_role, decided_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [randomUUID(), input.resultId, input.findingId, input.studyInstanceUid, input.analysisId, input.decision, edit, input.site, input.user.id, input.user.username, input.user.role, at],
        );
      });
      return {
        studyInstanceUid: input.studyInstanceUid, resultId: input.resultId, analysisId: input.analysisId, findingId: input.findingId,
        decision: input.decision, edit: edit === null ? null : (JSON.parse(edit) as FindingEdit), site: input.site,
        userId: input.user.id, username: input.user.username, decidedAt: at,
      };
    },
    async listDecisions(studyUid) {
      return (await db.all('SELECT * FROM review_decisions WHERE study_uid = ? ORDER BY result_id, finding_id', [studyUid])).map(decisionFromRow);
    },
    async getReport(studyUid) {
      const r = (await db.all('SELECT * FROM review_reports WHERE study_uid = ?', [studyUid]))[0];
      return r ? reportFromRow(r) : undefined;
    },
    async reportStatuses(studyUids) {
      const out = new Map<string, ReportRecord['status']>();
      for (let i = 0; i < studyUids.length; i += 500) {
        const chunk = studyUids.slice(i, i + 500);
        if (chunk.length === 0) break;
        const rows = await db.all(`SELECT study_uid, status FROM review_reports WHERE study_uid IN (${chunk.map(() => '?').join(', ')})`, chunk);
        for (const r of rows) out.set(str(r, 'study_uid'), str(r, 'status') === 'signed' ? 'signed' : 'draft');
      }
      return out;
    },
    async saveImpression(studyUid, impression, username, now = new Date()) {
      const at = now.toISOString();
      await db.tx(async (q) => {
        await assertUnlocked(q, studyUid);
        await q.run(
          `INSERT INTO review_reports (study_uid, status, impression, updated_by, updated_at) VALUES (?, 'draft', ?, ?, ?)
           ON CONFLICT (study_uid) DO UPDATE SET impression = excluded.impression, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
          [studyUid, impression, username, at],
        );
      });
      const r = await store.getReport(studyUid);
      if (!r) throw new SrError('ARCHIVE_UNAVAILABLE', `report of ${studyUid} vanished after it was written`);
      return r;
    },
    async sign(studyUid, username, frozen, now = new Date()) {
      const at = now.toISOString();
      await db.tx(async (q) => {
        await assertUnlocked(q, studyUid);
        await q.run(
          `INSERT INTO review_reports (study_uid, status, impression, updated_by, updated_at, signed_by, signed_at, signed_report, pdf_blob_key)
           VALUES (?, 'signed', '', ?, ?, ?, ?, ?, ?)
           ON CONFLICT (study_uid) DO UPDATE SET status = 'signed', signed_by = excluded.signed_by, signed_at = excluded.signed_at,
             signed_report = excluded.signed_report, pdf_blob_key = excluded.pdf_blob_key`,
          [studyUid, username, at, username, at, JSON.stringify(frozen.report), frozen.pdfBlobKey],
        );
      });
      const r = await store.getReport(studyUid);
      if (!r) throw new SrError('ARCHIVE_UNAVAILABLE', `report of ${studyUid} vanished after it was signed`);
      return r;
    },
    async addMeasurement(input, now = new Date()) {
      const rec: MeasurementRecord = {
        id: randomUUID(), studyInstanceUid: input.studyInstanceUid, seriesInstanceUid: input.seriesInstanceUid ?? null, kind: 'length',
        lengthMm: input.lengthMm, points: input.points, label: input.label ?? null, username: input.user.username, createdAt: now.toISOString(),
      };
      await db.tx(async (q) => {
        await assertUnlocked(q, input.studyInstanceUid);
        await q.run(
          `INSERT INTO review_measurements (id, study_uid, series_uid, kind, length_mm, points, label, user_id, username, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [rec.id, rec.studyInstanceUid, rec.seriesInstanceUid, rec.kind, String(rec.lengthMm), JSON.stringify(rec.points), rec.label, input.user.id, rec.username, rec.createdAt],
        );
      });
      return rec;
    },
    async listMeasurements(studyUid) {
      return (await db.all('SELECT * FROM review_measurements WHERE study_uid = ? ORDER BY created_at, id', [studyUid])).map(measurementFromRow);
    },
    async deleteMeasurement(studyUid, id) {
      return db.tx(async (q) => {
        await assertUnlocked(q, studyUid);
        return (await q.run('DELETE FROM review_measurements WHERE study_uid = ? AND id = ?', [studyUid, id])) > 0;
      });
    },
    async rejectionStats() {
      const rows = await db.all(
        `SELECT site, analysis_id, COUNT(*) AS decided,
           SUM(CASE WHEN decision = 'accept' THEN 1 ELSE 0 END) AS accepted,
           SUM(CASE WHEN decision = 'reject' THEN 1 ELSE 0 END) AS rejected,
           SUM(CASE WHEN decision = 'edit' THEN 1 ELSE 0 END) AS edited
         FROM review_decisions GROUP BY site, analysis_id ORDER BY site, analysis_id`,
      );
      return rows.map((r) => {
        const decided = Number(r['decided']);
        const rejected = Number(r['rejected']);
        return {
          site: str(r, 'site'), analysisId: str(r, 'analysis_id'), decided, accepted: Number(r['accepted']), rejected, edited: Number(r['edited']),
          rejectionRate: decided > 0 ? Math.round((rejected / decided) * 10000) / 10000 : 0,
        };
      });
    },
  };
  return store;
}
