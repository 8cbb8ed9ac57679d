/**
 * C-FIND / QIDO-RS matching (PS3.4 C.2.2.2) compiled to one SQL text for both dialects:
 * - universal: '' or only `*` → no condition, the key is returned;
 * - single value: equality (PatientName compares upper-cased: case-insensitive, as QIDO allows and most PACS do);
 * - wildcard `*` `?` → LIKE with `!` as escape character; a literal prefix also adds a range condition
 *   (col >= prefix AND col < prefix+U+10FFFF) so the B-tree index is used in both databases;
 * - list of values separated by backslash (C.2.2.2.2, for UIDs; accepted for any key) → IN / OR;
 * - range `a-b`, `-b`, `a-` for DA and TM keys (C.2.2.2.5), inclusive; empty values never match a range.
 * Combined date-time matching (StudyDate+StudyTime as one range) and QIDO fuzzy matching are not supported.
 * Keys this archive does not index are ignored (`queryKeys` lists those it knows).
 */
import { SrError } from '../core/errors.ts';
import type { Dialect, SqlValue } from './db.ts';
import type { QueryLevel, QueryRequest } from './types.ts';

type Kind = 'uid' | 'text' | 'pn' | 'date' | 'time' | 'int' | 'count';

interface Field {
  /** SQL expression returned. */
  readonly expr: string;
  readonly kind: Kind;
  /** Column matched, when it differs from `expr` (PatientName → its upper-cased copy). */
  readonly match?: string;
}

const PATIENT_OF_STUDY: Record<string, Field> = {
  PatientName: { expr: 'st.patient_name', kind: 'pn', match: 'st.patient_name_norm' },
  PatientID: { expr: 'st.patient_id', kind: 'text' },
  PatientBirthDate: { expr: 'st.patient_birth_date', kind: 'date' },
  PatientSex: { expr: 'st.patient_sex', kind: 'text' },
};

const STUDY_OWN: Record<string, Field> = {
  StudyInstanceUID: { expr: 'st.study_uid', kind: 'uid' },
  StudyDate: { expr: 'st.study_date', kind: 'date' },
  StudyTime: { expr: 'st.study_time', kind: 'time' },
  AccessionNumber: { expr: 'st.accession_number', kind: 'text' },
  ReferringPhysicianName: { expr: 'st.referring_physician_name', kind: 'text' },
  StudyDescription: { expr: 'st.study_description', kind: 'text' },
  StudyID: { expr: 'st.study_id', kind: 'text' },
};

const SERIES_OWN: Record<string, Field> = {
  SeriesInstanceUID: { expr: 'se.series_uid', kind: 'uid' },
  Modality: { expr: 'se.modality', kind: 'text' },
  SeriesNumber: { expr: 'se.series_number', kind: 'int' },
  SeriesDescription: { expr: 'se.series_description', kind: 'text' },
  BodyPartExamined: { expr: 'se.body_part_examined', kind: 'text' },
  PerformedProcedureStepStartDate: { expr: 'se.pps_start_date', kind: 'date' },
  PerformedProcedureStepStartTime: { expr: 'se.pps_start_time', kind: 'time' },
  NumberOfSeriesRelatedInstances: { expr: 'se.instance_count', kind: 'int' },
};

const INSTANCE_OWN: Record<string, Field> = {
  SOPClassUID: { expr: 'i.sop_class_uid', kind: 'uid' },
  SOPInstanceUID: { expr: 'i.sop_uid', kind: 'uid' },
  InstanceNumber: { expr: 'i.instance_number', kind: 'int' },
  Rows: { expr: 'i.n_rows', kind: 'int' },
  Columns: { expr: 'i.n_columns', kind: 'int' },
  NumberOfFrames: { expr: 'i.number_of_frames', kind: 'int' },
  TransferSyntaxUID: { expr: 'i.transfer_syntax_uid', kind: 'uid' },
};

function fieldsOf(level: QueryLevel, d: Dialect): Record<string, Field> {
  switch (level) {
    case 'PATIENT':
      return {
        PatientName: { expr: 'p.patient_name', kind: 'pn', match: 'p.patient_name_norm' },
        PatientID: { expr: 'p.patient_id', kind: 'text' },
        PatientBirthDate: { expr: 'p.patient_birth_date', kind: 'date' },
        PatientSex: { expr: 'p.patient_sex', kind: 'text' },
        NumberOfPatientRelatedStudies: { expr: 'CAST((SELECT COUNT(*) FROM studies x WHERE x.patient_id = p.patient_id) AS INTEGER)', kind: 'count' },
        NumberOfPatientRelatedSeries: {
          expr: 'CAST((SELECT COUNT(*) FROM studies x JOIN series y ON y.study_uid = x.study_uid WHERE x.patient_id = p.patient_id) AS INTEGER)',
          kind: 'count',
        },
        NumberOfPatientRelatedInstances: {
          expr: 'CAST((SELECT COALESCE(SUM(y.instance_count), 0) FROM studies x JOIN series y ON y.study_uid = x.study_uid WHERE x.patient_id = p.patient_id) AS INTEGER)',
          kind: 'count',
        },
      };
    case 'STUDY':
      return {
        ...PATIENT_OF_STUDY,
        ...STUDY_OWN,
        ModalitiesInStudy: { expr: `(SELECT ${d.distinctList('x.modality')} FROM series x WHERE x.study_uid = st.study_uid)`, kind: 'count' },
        NumberOfStudyRelatedSeries: { expr: 'CAST((SELECT COUNT(*) FROM series x WHERE x.study_uid = st.study_uid) AS INTEGER)', kind: 'count' },
        NumberOfStudyRelatedInstances: {
          expr: 'CAST((SELECT COALESCE(SUM(x.instance_count), 0) FROM series x WHERE x.study_uid = st.study_uid) AS INTEGER)',
          kind: 'count',
        },
      };
    case 'SERIES':
      return { ...PATIENT_OF_STUDY, ...STUDY_OWN, ...SERIES_OWN };
    case 'INSTANCE':
      return { ...PATIENT_OF_STUDY, ...STUDY_OWN, ...SERIES_OWN, ...INSTANCE_OWN };
  }
}

const FROM: Record<QueryLevel, string> = {
  PATIENT: 'patients p',
  STUDY: 'studies st',
  SERIES: 'series se JOIN studies st ON st.study_uid = se.study_uid',
  INSTANCE: 'instances i JOIN series se ON se.series_uid = i.series_uid JOIN studies st ON st.study_uid = i.study_uid',
};

const ORDER: Record<QueryLevel, string> = {
  PATIENT: 'p.patient_id',
  STUDY: 'st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST, st.study_uid DESC',
  SERIES: 'se.study_uid, se.series_number NULLS FIRST, se.series_uid',
  INSTANCE: 'i.series_uid, i.instance_number NULLS FIRST, i.sop_uid',
};

/** The keywords a level returns and can match. */
export function queryKeys(level: QueryLevel): string[] {
  return Object.keys(fieldsOf(level, { name: 'sqlite', bigint: '', text: '', distinctList: (e) => e }));
}

const MAX_CHAR = '\u{10FFFF}';

function likePattern(v: string): { pattern: string; prefix: string } {
  let pattern = '';
  let prefix = '';
  let inPrefix = true;
  for (const ch of v) {
    if (ch === '*' || ch === '?') {
      inPrefix = false;
      pattern += ch === '*' ? '%' : '_';
      continue;
    }
    if (inPrefix) prefix += ch;
    pattern += ch === '%' || ch === '_' || ch === '!' ? `!${ch}` : ch;
  }
  return { pattern, prefix };
}

function bad(key: string, value: string, why: string): SrError {
  return new SrError('HTTP_BAD_REQUEST', `invalid match value for ${key}: ${why}`, { details: { keyword: key, value } });
}

/** One value (no backslash) → SQL condition on `col`. */
function matchOne(key: string, f: Field, col: string, raw: string, params: SqlValue[]): string {
  const v = f.kind === 'pn' ? raw.toUpperCase() : raw;
  if ((f.kind === 'date' || f.kind === 'time') && v.includes('-')) {
    const [lo = '', hi = '', ...rest] = v.split('-');
    if (rest.length > 0 || (lo === '' && hi === '')) throw bad(key, raw, 'a range is "from-to", "-to" or "from-"');
    const parts: string[] = [];
    if (lo !== '') {
      parts.push(`${col} >= ?`);
      params.push(lo.trim());
    }
    if (hi !== '') {
      // TM "1300" as an upper bound includes 13:00:59.999: every time that starts with the bound is within it.
      parts.push(`${col} <= ?`);
      params.push(f.kind === 'time' ? hi.trim() + MAX_CHAR : hi.trim());
    }
    return parts.join(' AND ');
  }
  if (f.kind === 'int' || f.kind === 'count') {
    const n = Number(v);
    if (!Number.isInteger(n)) throw bad(key, raw, 'not an integer');
    params.push(n);
    return `${col} = ?`;
  }
  if (f.kind !== 'uid' && (v.includes('*') || v.includes('?'))) {
    const { pattern, prefix } = likePattern(v);
    const parts: string[] = [];
    if (prefix !== '') {
      parts.push(`${col} >= ?`, `${col} < ?`);
      params.push(prefix, prefix + MAX_CHAR);
    }
    parts.push(`${col} LIKE ? ESCAPE '!'`);
    params.push(pattern);
    return parts.join(' AND ');
  }
  params.push(v);
  return `${col} = ?`;
}

function condition(level: QueryLevel, key: string, f: Field, value: string, params: SqlValue[]): string | undefined {
  if (value === '' || /^\*+$/.test(value)) return undefined;
  const values = value.split('\\').filter((x) => x !== '');
  if (values.length === 0) return undefined;
  if (key === 'ModalitiesInStudy' && level === 'STUDY') {
    const col: Field = { expr: 'x.modality', kind: 'text' };
    const ors = values.map((v) => matchOne(key, col, 'x.modality', v, params));
    return `EXISTS (SELECT 1 FROM series x WHERE x.study_uid = st.study_uid AND (${ors.join(' OR ')}))`;
  }
  if (f.kind === 'count' && key.startsWith('Number')) {
    // Computed counts are return keys; matching on them is not part of C.2.2.2 for these attributes.
    return undefined;
  }
  const col = f.match ?? f.expr;
  if (f.kind === 'uid' && values.length > 1) {
    params.push(...values);
    return `${col} IN (${values.map(() => '?').join(', ')})`;
  }
  const ors = values.map((v) => matchOne(key, f, col, v, params));
  return ors.length === 1 ? ors[0] : `(${ors.map((o) => `(${o})`).join(' OR ')})`;
}

export interface CompiledQuery {
  readonly sql: string;
  readonly params: SqlValue[];
}

export function compileQuery(req: QueryRequest, d: Dialect): CompiledQuery {
  const fields = fieldsOf(req.level, d);
  const params: SqlValue[] = [];
  const where: string[] = [];
  for (const [key, value] of Object.entries(req.match)) {
    const f = fields[key];
    if (!f) continue;
    const c = condition(req.level, key, f, value, params);
    if (c !== undefined) where.push(c);
  }
  const select = Object.entries(fields).map(([k, f]) => `${f.expr} AS "${k}"`).join(', ');
  let sql = `SELECT ${select} FROM ${FROM[req.level]}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${ORDER[req.level]}`;
  const offset = req.offset ?? 0;
  if (req.limit !== undefined || offset > 0) {
    if (req.limit !== undefined && (!Number.isInteger(req.limit) || req.limit < 0)) throw bad('limit', String(req.limit), 'not a non-negative integer');
    if (!Number.isInteger(offset) || offset < 0) throw bad('offset', String(offset), 'not a non-negative integer');
    sql += ' LIMIT ? OFFSET ?';
    params.push(req.limit ?? Number.MAX_SAFE_INTEGER, offset);
  }
  return { sql, params };
}

/** Post-processing shared by both back ends: ModalitiesInStudy as a DICOM multi-value, sorted. */
export function normalizeRow(row: Record<string, unknown>): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const [k, v] of Object.entries(row)) {
    if (k === 'ModalitiesInStudy') out[k] = typeof v === 'string' && v !== '' ? v.split(',').sort().join('\\') : null;
    else out[k] = v === undefined || v === null ? null : typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : String(v);
  }
  return out;
}
