/**
 * JSON schemas of /api/v1: the single source of request validation, response serialization and docs/openapi.json.
 * Response schemas list every property on purpose: fastify's serializer drops what a schema does not name, so a
 * field added to a record without its schema never leaks out unreviewed.
 */

export type JsonSchema = Readonly<Record<string, unknown>>;

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const nint = { type: ['integer', 'null'] } as const;

/** DICOM UIDs are ≤ 64 characters (PS3.5 §9.1); non-conforming archives use other characters, so no pattern. */
export const UID = { type: 'string', minLength: 1, maxLength: 64 } as const;

export const ERROR_BODY: JsonSchema = {
  type: 'object',
  description: 'An SrError: stable code (docs: src/core/errors.ts), its HTTP status, a message and machine-readable details.',
  required: ['code', 'status', 'message', 'details'],
  properties: {
    code: str,
    status: { type: 'integer' },
    message: str,
    details: { type: 'object', additionalProperties: true },
  },
};

/** A query row: DICOM keyword → value (PS3.18 QIDO attributes plus the computed counts). */
export const STUDY_ROW: JsonSchema = {
  type: 'object',
  description: 'Study-level attributes by DICOM keyword (StudyInstanceUID, PatientID, StudyDate, NumberOfStudyRelatedSeries...).',
  additionalProperties: { type: ['string', 'number', 'null'] },
};

export const SERIES: JsonSchema = {
  type: 'object',
  required: ['seriesInstanceUid', 'studyInstanceUid', 'patientId', 'modality', 'instanceCount', 'firstReceivedAt', 'lastReceivedAt', 'stableAt'],
  properties: {
    seriesInstanceUid: str,
    studyInstanceUid: str,
    patientId: str,
    modality: str,
    seriesNumber: nint,
    seriesDescription: nstr,
    bodyPartExamined: nstr,
    instanceCount: { type: 'integer' },
    firstReceivedAt: str,
    lastReceivedAt: str,
    stableAt: { ...nstr, description: 'When the series was last found complete (no instance for stableQuietSeconds); null while receiving.' },
    sourceAe: nstr,
  },
};

export const ANALYSIS: JsonSchema = {
  type: 'object',
  required: ['id', 'version', 'title', 'intendedUse', 'modalities', 'steps'],
  properties: {
    id: str,
    version: str,
    title: str,
    intendedUse: str,
    modalities: { type: 'array', items: str },
    steps: { type: 'array', items: str },
    resources: { type: 'object', properties: { memoryMb: { type: 'number' }, threads: { type: 'integer' } } },
  },
};

export const JOB_STATE = { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] } as const;

export const JOB: JsonSchema = {
  type: 'object',
  required: ['id', 'analysisId', 'analysisVersion', 'studyInstanceUid', 'seriesInstanceUid', 'trigger', 'state', 'progress', 'attempts', 'maxAttempts', 'createdAt'],
  properties: {
    id: str,
    analysisId: str,
    analysisVersion: str,
    studyInstanceUid: str,
    seriesInstanceUid: str,
    trigger: { type: 'string', enum: ['auto', 'manual'] },
    state: JOB_STATE,
    progress: { type: 'number', minimum: 0, maximum: 1 },
    progressMessage: nstr,
    attempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    timeoutMs: { type: 'integer' },
    error: { anyOf: [{ type: 'null' }, { type: 'object', required: ['code', 'message'], properties: { code: str, message: str } }] },
    resultId: nstr,
    worker: nstr,
    createdAt: str,
    startedAt: nstr,
    finishedAt: nstr,
  },
};

const CODED_ERROR: JsonSchema = { type: 'object', required: ['code', 'message'], properties: { code: str, message: str } };

export const RESULT: JsonSchema = {
  type: 'object',
  required: ['id', 'analysisId', 'analysisVersion', 'studyInstanceUid', 'seriesInstanceUid', 'status', 'document', 'attachments', 'createdAt'],
  properties: {
    id: str,
    analysisId: str,
    analysisVersion: str,
    studyInstanceUid: str,
    seriesInstanceUid: str,
    status: { type: 'string', enum: ['ok', 'skipped', 'failed'] },
    document: { description: 'The findings.json analysis result (docs/findings.schema.json, AnalysisResult) of this (analysis, series).' },
    attachments: {
      type: 'array',
      description: 'Attached files (label map NIfTI, key images): GET /results/{id}/attachments/{name}.',
      items: { type: 'object', required: ['name', 'url'], properties: { name: str, url: str } },
    },
    createdAt: str,
    jobId: nstr,
    outputs: {
      description: 'The DICOM objects made from this result (key image Secondary Captures, a DICOM SEG, a TID 1500 Comprehensive 3D SR), stored as archive instances, and their forwarding state per C-STORE destination; null for results stored before outputs existed.',
      anyOf: [{ type: 'null' }, {
        type: 'object',
        required: ['objects', 'error', 'forwarding'],
        properties: {
          objects: {
            type: 'array',
            items: { type: 'object', required: ['name', 'kind', 'sopClassUid', 'seriesInstanceUid', 'sopInstanceUid'], properties: { name: str, kind: { type: 'string', enum: ['key-image', 'segmentation', 'report'] }, sopClassUid: str, seriesInstanceUid: str, sopInstanceUid: str } },
          },
          error: { description: 'Why the DICOM objects could not be built or stored (the findings result stands).', anyOf: [{ type: 'null' }, CODED_ERROR] },
          forwarding: {
            type: 'object',
            description: 'Destination (AE@host:port) → delivery state, read from the archive index (deliveries are durable: queued and retrying ones survive restarts and are sent by whichever worker claims them). attempts counts attempts started; sent/total count objects acknowledged. failed carries a coded error (e.g. DIMSE_ASSOCIATION_FAILED, DIMSE_OPERATION_FAILED, OUTPUT_FORWARD_FAILED, NOT_FOUND).',
            additionalProperties: {
              type: 'object',
              required: ['destination', 'state', 'attempts', 'sent', 'total', 'error', 'nextAttemptAt', 'updatedAt'],
              properties: {
                destination: str, state: { type: 'string', enum: ['queued', 'retrying', 'sent', 'failed'] }, attempts: { type: 'integer' }, sent: { type: 'integer' }, total: { type: 'integer' },
                error: { anyOf: [{ type: 'null' }, CODED_ERROR] }, nextAttemptAt: nstr, updatedAt: str,
              },
            },
          },
        },
      }],
    },
  },
};

export function page(items: JsonSchema): JsonSchema {
  return {
    type: 'object',
    required: ['items', 'limit', 'offset'],
    properties: { items: { type: 'array', items }, limit: { type: 'integer' }, offset: { type: 'integer' } },
  };
}

export const PAGING = {
  limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  offset: { type: 'integer', minimum: 0, default: 0 },
} as const;

/** Study-level match keys accepted by GET /studies, in QIDO-RS / C-FIND syntax (wildcards, ranges, UID lists). */
export const STUDY_MATCH_KEYS = ['PatientID', 'PatientName', 'StudyInstanceUID', 'StudyDate', 'StudyTime', 'AccessionNumber', 'ModalitiesInStudy', 'StudyDescription', 'ReferringPhysicianName'] as const;

export function errors(...statuses: number[]): Record<number, JsonSchema> {
  const out: Record<number, JsonSchema> = {};
  for (const s of [...statuses, 500]) out[s] = ERROR_BODY;
  return out;
}
