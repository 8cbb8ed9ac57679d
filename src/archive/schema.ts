/**
 * The index schema, one text for both dialects. Timestamps are ISO-8601 UTC text (sortable as strings in both);
 * DICOM dates/times stay as their DA/TM text so range matching is a string comparison (PS3.4 C.2.2.2.5).
 * Patient attributes are copied onto the study row: QIDO's commonest query (studies by name/ID/date) then
 * filters one table. `*_norm` columns hold upper-cased PatientName for case-insensitive matching.
 *
 * Text columns compare bytewise in both (PostgreSQL: COLLATE "C"), which DICOM matching wants and which lets a
 * prefix match (`DOE*`) use a plain B-tree index as a range scan.
 *
 * Indexes serve the QIDO/C-FIND hot paths: studies by PatientID / name prefix / StudyDate / AccessionNumber,
 * series by study, instances by series (ordered by InstanceNumber), and the stable-series claim (partial index).
 */
import type { SqlDb } from './db.ts';

export const SCHEMA_VERSION = 1;

function ddl(bigint: string, text: string): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS sr_meta (key ${text} PRIMARY KEY, value ${text} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS patients (
      patient_id ${text} PRIMARY KEY,
      patient_name ${text}, patient_name_norm ${text}, patient_birth_date ${text}, patient_sex ${text},
      created_at ${text} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS studies (
      study_uid ${text} PRIMARY KEY,
      patient_id ${text} NOT NULL,
      patient_name ${text}, patient_name_norm ${text}, patient_birth_date ${text}, patient_sex ${text},
      study_date ${text}, study_time ${text}, accession_number ${text}, referring_physician_name ${text},
      study_description ${text}, study_id ${text},
      created_at ${text} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS series (
      series_uid ${text} PRIMARY KEY,
      study_uid ${text} NOT NULL,
      modality ${text} NOT NULL,
      series_number INTEGER, series_description ${text}, body_part_examined ${text},
      pps_start_date ${text}, pps_start_time ${text},
      instance_count INTEGER NOT NULL,
      first_received_at ${text} NOT NULL, last_received_at ${text} NOT NULL, stable_at ${text}, source_ae ${text})`,
    `CREATE TABLE IF NOT EXISTS instances (
      sop_uid ${text} PRIMARY KEY,
      series_uid ${text} NOT NULL, study_uid ${text} NOT NULL, patient_id ${text} NOT NULL,
      sop_class_uid ${text} NOT NULL, instance_number INTEGER,
      n_rows INTEGER, n_columns INTEGER, number_of_frames INTEGER NOT NULL,
      transfer_syntax_uid ${text} NOT NULL,
      size_bytes ${bigint} NOT NULL, sha256 ${text} NOT NULL, blob_key ${text} NOT NULL,
      received_at ${text} NOT NULL, origin_via ${text} NOT NULL, origin_ae ${text}, origin_address ${text})`,
    `CREATE TABLE IF NOT EXISTS results (
      id ${text} PRIMARY KEY,
      analysis_id ${text} NOT NULL, analysis_version ${text} NOT NULL,
      study_uid ${text} NOT NULL, series_uid ${text} NOT NULL,
      status ${text} NOT NULL, document ${text} NOT NULL, attachments ${text} NOT NULL,
      created_at ${text} NOT NULL, job_id ${text},
      UNIQUE (analysis_id, analysis_version, series_uid))`,
    // Result forwarding (types.ts DeliveryRecord): one row per (result, destination); JSON arrays of SOP UIDs.
    `CREATE TABLE IF NOT EXISTS result_deliveries (
      id ${text} PRIMARY KEY,
      result_id ${text} NOT NULL, destination ${text} NOT NULL,
      ae_title ${text} NOT NULL, host ${text} NOT NULL, port INTEGER NOT NULL,
      generation INTEGER NOT NULL, objects ${text} NOT NULL, remaining ${text} NOT NULL,
      state ${text} NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL,
      error_code ${text}, error_message ${text}, next_attempt_at ${text},
      claim_token ${text}, claimed_by ${text}, claim_expires_at ${text},
      created_at ${text} NOT NULL, updated_at ${text} NOT NULL,
      UNIQUE (result_id, destination))`,
    `CREATE INDEX IF NOT EXISTS studies_patient_id ON studies (patient_id)`,
    `CREATE INDEX IF NOT EXISTS studies_name ON studies (patient_name_norm)`,
    `CREATE INDEX IF NOT EXISTS studies_date ON studies (study_date, study_time, study_uid)`,
    `CREATE INDEX IF NOT EXISTS studies_accession ON studies (accession_number)`,
    `CREATE INDEX IF NOT EXISTS patients_name ON patients (patient_name_norm)`,
    `CREATE INDEX IF NOT EXISTS series_study ON series (study_uid, series_number, series_uid)`,
    `CREATE INDEX IF NOT EXISTS series_unstable ON series (last_received_at) WHERE stable_at IS NULL`,
    `CREATE INDEX IF NOT EXISTS instances_series ON instances (series_uid, instance_number, sop_uid)`,
    `CREATE INDEX IF NOT EXISTS instances_study ON instances (study_uid)`,
    `CREATE INDEX IF NOT EXISTS instances_blob ON instances (blob_key)`,
    `CREATE INDEX IF NOT EXISTS results_study ON results (study_uid)`,
    `CREATE INDEX IF NOT EXISTS results_series ON results (series_uid)`,
    // The claim's scan: only deliveries still due (sent/failed ones have no next attempt).
    `CREATE INDEX IF NOT EXISTS result_deliveries_due ON result_deliveries (next_attempt_at) WHERE next_attempt_at IS NOT NULL`,
  ];
}

export async function migrate(db: SqlDb): Promise<void> {
  await db.tx(async (q) => {
    // Two processes opening one PostgreSQL schema at once would race on CREATE TABLE: serialize them.
    if (db.dialect.name === 'postgres') await q.all('SELECT pg_advisory_xact_lock(hashtext(?))', ['sr-archive-migrate']);
    for (const stmt of ddl(db.dialect.bigint, db.dialect.text)) await q.run(stmt);
    const rows = await q.all('SELECT value FROM sr_meta WHERE key = ?', ['schema_version']);
    if (rows.length === 0) await q.run('INSERT INTO sr_meta (key, value) VALUES (?, ?)', ['schema_version', String(SCHEMA_VERSION)]);
  });
}
