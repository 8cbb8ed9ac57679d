/**
 * The /api/v1 routes as a table: method, url, schema, handler. The table is what both the fastify app and the
 * OpenAPI generator read, so the served API and docs/openapi.json cannot drift apart.
 */
import { GENERATOR, SrError } from '../core/index.ts';
import type { ResultRecord } from '../archive/index.ts';
import type { JobState } from '../jobs/index.ts';
import { forwardStatus, OUTPUTS_ATTACHMENT } from '../outputs/index.ts';
import { ANALYSIS, errors, JOB, JOB_STATE, page, PAGING, RESULT, SERIES, STUDY_MATCH_KEYS, STUDY_ROW, UID } from './schemas.ts';

import { API_PREFIX, obj, params, query } from './route-def.ts';
import type { ApiDeps, RouteDef } from './route-def.ts';
import { PUBLIC, SIGNED_IN } from './auth/context.ts';
import type { RouteAccess } from './auth/context.ts';
import { AUTH_ROUTES } from './routes-auth.ts';
import { REVIEW_ROUTES } from './routes-review.ts';
import { REPORT_ROUTES } from './routes-report.ts';
import { AUDIT_ROUTES } from './routes-audit.ts';
import { RESEARCH_ROUTES } from './routes-research.ts';

export { API_PREFIX } from './route-def.ts';
export type { ApiDeps, RouteDef, RouteSchema } from './route-def.ts';

/**
 * The result as served: attachments as links, and `outputs` inlined: its DICOM objects (outputs.json) and their
 * forwarding state per destination, read from the archive's deliveries.
 */
async function resultJson(d: ApiDeps, r: ResultRecord): Promise<Record<string, unknown>> {
  let outputs: Record<string, unknown> | null = null;
  const key = Object.hasOwn(r.attachments, OUTPUTS_ATTACHMENT) ? r.attachments[OUTPUTS_ATTACHMENT] : undefined;
  if (key !== undefined) {
    try {
      outputs = JSON.parse(Buffer.from(await d.archive.blobs.get(key)).toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      d.log.warn('result outputs.json unreadable', { result: r.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  if (outputs !== null) {
    const deliveries = await d.archive.listDeliveries({ resultId: r.id });
    // Results stored before deliveries were durable kept their state in outputs.json: shown as they were.
    const legacy = typeof outputs['forwarding'] === 'object' && outputs['forwarding'] !== null ? outputs['forwarding'] : {};
    outputs = { ...outputs, forwarding: deliveries.length > 0 ? Object.fromEntries(deliveries.map((x) => [x.destination, forwardStatus(x)])) : legacy };
  }
  return {
    ...r,
    attachments: Object.keys(r.attachments).sort().map((name) => ({ name, url: `${API_PREFIX}/results/${encodeURIComponent(r.id)}/attachments/${encodeURIComponent(name)}` })),
    outputs,
  };
}

const MEDIA_TYPES: readonly [string, string][] = [['.nii.gz', 'application/gzip'], ['.png', 'image/png'], ['.json', 'application/json'], ['.dcm', 'application/dicom']];

function mediaType(name: string): string {
  return MEDIA_TYPES.find(([ext]) => name.endsWith(ext))?.[1] ?? 'application/octet-stream';
}

const TERMINAL: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

/** docs/security.md "Roles": clinical staff run analyses and follow jobs; patient data is never served to researchers. */
const CLINICAL: RouteAccess = { roles: ['radiologist', 'technologist', 'admin'] };
const CLINICAL_DATA: RouteAccess = { ...CLINICAL, patientData: true };

export const ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', url: '/health', operationId: 'getHealth', tag: 'system', access: PUBLIC, summary: 'Liveness and backends (answers 503 when the archive is unreachable).',
    schema: {
      response: {
        200: obj({
          status: { type: 'string', enum: ['ok'] },
          version: { type: 'string' },
          archive: { type: 'string' },
          queue: { type: 'string' },
          dicom: { anyOf: [{ type: 'null' }, obj({ aeTitle: { type: 'string' }, port: { type: 'integer' } }, ['aeTitle', 'port'])] },
        }, ['status', 'version', 'archive', 'queue', 'dicom']),
        ...errors(503),
      },
    },
    handler: (d) => async () => {
      try {
        await d.archive.listSeries({ limit: 1 });
      } catch (e) {
        throw new SrError('ARCHIVE_UNAVAILABLE', 'archive does not answer', { cause: e });
      }
      return { status: 'ok', version: GENERATOR.version, archive: d.archive.backend, queue: d.queue.backend, dicom: d.dicom ?? null };
    },
  },
  {
    method: 'GET', url: '/studies', operationId: 'listStudies', tag: 'archive', access: CLINICAL_DATA, summary: 'Studies in the archive; match keys use QIDO-RS/C-FIND syntax (wildcards * ?, date ranges, UID lists).',
    schema: {
      querystring: obj({ ...PAGING, ...Object.fromEntries(STUDY_MATCH_KEYS.map((k) => [k, { type: 'string', maxLength: 1024 }])) }),
      response: { 200: page(STUDY_ROW), ...errors(400) },
    },
    handler: (d) => async (req) => {
      const { limit, offset, ...match } = query<{ limit: number; offset: number } & Record<string, string>>(req);
      return { items: await d.archive.query({ level: 'STUDY', match, limit, offset }), limit, offset };
    },
  },
  {
    method: 'GET', url: '/studies/:uid', operationId: 'getStudy', tag: 'archive', access: CLINICAL_DATA, summary: 'One study (study-level attributes).',
    schema: { params: obj({ uid: UID }, ['uid']), response: { 200: STUDY_ROW, ...errors(400, 404) } },
    handler: (d) => async (req) => {
      const { uid } = params<{ uid: string }>(req);
      // A backslash would turn the exact match into a UID-list match (PS3.4 C.2.2.2.2).
      const [row] = uid.includes('\\') ? [] : await d.archive.query({ level: 'STUDY', match: { StudyInstanceUID: uid }, limit: 1 });
      if (!row) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      return row;
    },
  },
  {
    method: 'GET', url: '/studies/:uid/series', operationId: 'listStudySeries', tag: 'archive', access: CLINICAL_DATA, summary: 'Series of a study.',
    schema: { params: obj({ uid: UID }, ['uid']), response: { 200: page(SERIES), ...errors(400, 404) } },
    handler: (d) => async (req) => {
      const { uid } = params<{ uid: string }>(req);
      const items = await d.archive.listSeries({ studyInstanceUid: uid });
      if (items.length === 0) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      return { items, limit: items.length, offset: 0 };
    },
  },
  {
    method: 'GET', url: '/series/:uid', operationId: 'getSeries', tag: 'archive', access: CLINICAL_DATA, summary: 'One series.',
    schema: { params: obj({ uid: UID }, ['uid']), response: { 200: SERIES, ...errors(400, 404) } },
    handler: (d) => async (req) => {
      const { uid } = params<{ uid: string }>(req);
      const s = await d.archive.getSeries(uid);
      if (!s) throw new SrError('NOT_FOUND', `series ${uid} is not in the archive`, { details: { seriesInstanceUid: uid } });
      return s;
    },
  },
  {
    method: 'GET', url: '/analyses', operationId: 'listAnalyses', tag: 'analyses', access: SIGNED_IN, summary: 'The analysis catalogue of this server.',
    schema: { response: { 200: obj({ items: { type: 'array', items: ANALYSIS } }, ['items']), ...errors() } },
    handler: (d) => async () => ({
      items: d.registry.analyses.map((m) => ({ id: m.id, version: m.version, title: m.title, intendedUse: m.intendedUse, modalities: [...m.modalities], steps: [...m.steps], resources: m.resources })),
    }),
  },
  {
    method: 'POST', url: '/analyses/:id/run', operationId: 'runAnalysis', tag: 'analyses', access: CLINICAL,
    summary: 'Queue a run of one analysis on one series (202 with the job). An active job for the same series is returned unless force is set.',
    schema: {
      params: obj({ id: { type: 'string', minLength: 1, maxLength: 64 } }, ['id']),
      body: obj({ seriesInstanceUid: UID, force: { type: 'boolean', default: false } }, ['seriesInstanceUid']),
      response: { 202: JOB, ...errors(400, 404, 503) },
    },
    handler: (d) => async (req, reply) => {
      const { id } = params<{ id: string }>(req);
      const { seriesInstanceUid, force } = req.body as { seriesInstanceUid: string; force: boolean };
      const m = d.registry.get(id);
      if (!m) throw new SrError('NOT_FOUND', `no analysis ${id} is registered`, { details: { analysisId: id, registered: d.registry.analyses.map((a) => a.id) } });
      const s = await d.archive.getSeries(seriesInstanceUid);
      if (!s) throw new SrError('NOT_FOUND', `series ${seriesInstanceUid} is not in the archive`, { details: { seriesInstanceUid } });
      const job = await d.queue.enqueue({
        analysisId: m.id, analysisVersion: m.version, studyInstanceUid: s.studyInstanceUid, seriesInstanceUid, trigger: 'manual', force,
      });
      d.log.info('manual run queued', { job: job.id, analysis: m.id, series: seriesInstanceUid, force });
      return reply.code(202).send(job);
    },
  },
  {
    method: 'GET', url: '/jobs', operationId: 'listJobs', tag: 'jobs', access: CLINICAL, summary: 'Jobs, newest first.',
    schema: {
      querystring: obj({ ...PAGING, state: JOB_STATE, series: UID, analysis: { type: 'string', maxLength: 64 } }),
      response: { 200: page(JOB), ...errors(400) },
    },
    handler: (d) => async (req) => {
      const q = query<{ limit: number; offset: number; state?: JobState; series?: string; analysis?: string }>(req);
      const items = await d.queue.list({
        limit: q.limit, offset: q.offset,
        ...(q.state ? { state: q.state } : {}), ...(q.series ? { seriesInstanceUid: q.series } : {}), ...(q.analysis ? { analysisId: q.analysis } : {}),
      });
      return { items, limit: q.limit, offset: q.offset };
    },
  },
  {
    method: 'GET', url: '/jobs/:id', operationId: 'getJob', tag: 'jobs', access: CLINICAL, summary: 'One job, with progress and error.',
    schema: { params: obj({ id: { type: 'string', minLength: 1, maxLength: 128 } }, ['id']), response: { 200: JOB, ...errors(400, 404) } },
    handler: (d) => async (req) => {
      const { id } = params<{ id: string }>(req);
      const job = await d.queue.get(id);
      if (!job) throw new SrError('JOB_NOT_FOUND', `job ${id} does not exist`, { details: { jobId: id } });
      return job;
    },
  },
  {
    method: 'POST', url: '/jobs/:id/cancel', operationId: 'cancelJob', tag: 'jobs', access: CLINICAL,
    summary: 'Cancel a queued or running job (409 JOB_INVALID_STATE when it has already finished).',
    schema: { params: obj({ id: { type: 'string', minLength: 1, maxLength: 128 } }, ['id']), response: { 200: JOB, ...errors(400, 404, 409) } },
    handler: (d) => async (req) => {
      const { id } = params<{ id: string }>(req);
      const before = await d.queue.get(id);
      if (!before) throw new SrError('JOB_NOT_FOUND', `job ${id} does not exist`, { details: { jobId: id } });
      if (TERMINAL.includes(before.state)) throw new SrError('JOB_INVALID_STATE', `job ${id} is already ${before.state}`, { details: { jobId: id, state: before.state } });
      const job = await d.queue.cancel(id);
      if (!job) throw new SrError('JOB_NOT_FOUND', `job ${id} does not exist`, { details: { jobId: id } });
      d.log.info('job cancel requested', { job: id, state: job.state });
      return job;
    },
  },
  {
    method: 'GET', url: '/results', operationId: 'listResults', tag: 'results', access: CLINICAL_DATA, summary: 'Analysis results (one per analysis and series; re-runs replace).',
    schema: {
      querystring: obj({ study: UID, series: UID, analysis: { type: 'string', maxLength: 64 } }),
      response: { 200: obj({ items: { type: 'array', items: RESULT } }, ['items']), ...errors(400) },
    },
    handler: (d) => async (req) => {
      const q = query<{ study?: string; series?: string; analysis?: string }>(req);
      const items = await d.archive.listResults({
        ...(q.study ? { studyInstanceUid: q.study } : {}), ...(q.series ? { seriesInstanceUid: q.series } : {}), ...(q.analysis ? { analysisId: q.analysis } : {}),
      });
      return { items: await Promise.all(items.map((r) => resultJson(d, r))) };
    },
  },
  {
    method: 'GET', url: '/results/:id', operationId: 'getResult', tag: 'results', access: CLINICAL_DATA, summary: 'One result with its findings document, its DICOM objects and their forwarding state.',
    schema: { params: obj({ id: { type: 'string', minLength: 1, maxLength: 128 } }, ['id']), response: { 200: RESULT, ...errors(400, 404) } },
    handler: (d) => async (req) => {
      const { id } = params<{ id: string }>(req);
      const r = await d.archive.getResult(id);
      if (!r) throw new SrError('NOT_FOUND', `result ${id} does not exist`, { details: { resultId: id } });
      return await resultJson(d, r);
    },
  },
  {
    method: 'GET', url: '/results/:id/attachments/:name', operationId: 'getResultAttachment', tag: 'results', access: CLINICAL_DATA, summary: 'A file attached to a result (label map NIfTI, key image PNG).',
    schema: {
      params: obj({ id: { type: 'string', minLength: 1, maxLength: 128 }, name: { type: 'string', minLength: 1, maxLength: 255 } }, ['id', 'name']),
      response: errors(400, 404),
    },
    produces: { 'application/gzip': { type: 'string', format: 'binary' }, 'image/png': { type: 'string', format: 'binary' }, 'application/octet-stream': { type: 'string', format: 'binary' } },
    handler: (d) => async (req, reply) => {
      const { id, name } = params<{ id: string; name: string }>(req);
      const r = await d.archive.getResult(id);
      if (!r) throw new SrError('NOT_FOUND', `result ${id} does not exist`, { details: { resultId: id } });
      const key = Object.hasOwn(r.attachments, name) ? r.attachments[name] : undefined;
      if (key === undefined) throw new SrError('NOT_FOUND', `result ${id} has no attachment ${name}`, { details: { resultId: id, name, attachments: Object.keys(r.attachments) } });
      const bytes = await d.archive.blobs.get(key);
      return reply.type(mediaType(name)).header('content-disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  },  ...AUTH_ROUTES,
  ...REVIEW_ROUTES,
  ...REPORT_ROUTES,
  ...AUDIT_ROUTES,
  ...RESEARCH_ROUTES,
];

