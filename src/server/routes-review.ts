/**
 * The radiologist web app's API (/api/v1/review/...): the worklist (AI status + triage, critical first), a
 * study's review bundle (series, results, decisions, report draft, priors), per-finding decisions, the report's
 * impression and sign-off (PDF), and the per-site rejected-finding statistic for admins.
 * Decisions and sign-off are clinical acts: only a signed-in radiologist may make them (admins included: no).
 */
import type { FastifyRequest } from 'fastify';
import { SrError } from '../core/index.ts';
import type { Archive, QueryRow, ResultRecord } from '../archive/index.ts';
import { requestUser } from './auth/context.ts';
import type { AuthUser } from './auth/context.ts';
import { API_PREFIX, obj, params, query } from './route-def.ts';
import type { ApiDeps, RouteDef } from './route-def.ts';
import { errors, UID } from './schemas.ts';
import type { JsonSchema } from './schemas.ts';
import { NO_AUDIT } from './audit/types.ts';
import type { AuditEvent } from './audit/types.ts';
import { buildDraft, dbOf, DECISIONS, findingsOf, reviewEventHub, reviewStoreOf, signedReportPdf, sseFrame, statusOf, triageOf, worklistPage } from './review/index.ts';
import type { AiStatus, Decision, FindingEdit, ReportDraft, ReviewEvent } from './review/index.ts';

const ANY_OBJECT: JsonSchema = { type: 'object', additionalProperties: true };
const STUDY_PARAM = obj({ uid: UID }, ['uid']);
const AI_STATUSES: readonly AiStatus[] = ['none', 'queued', 'running', 'done', 'failed'];

function signedIn(req: FastifyRequest): AuthUser {
  const u = requestUser(req);
  if (!u) throw new SrError('AUTH_REQUIRED', 'sign in first');
  return u;
}

/** Clinical acts (decisions, impression, sign-off): radiologists only, whatever else the route's access allows. */
function radiologist(req: FastifyRequest, what: string): AuthUser {
  const u = signedIn(req);
  if (u.role !== 'radiologist') throw new SrError('FORBIDDEN', `only a radiologist may ${what}`, { details: { role: u.role } });
  return u;
}

async function studyRow(archive: Archive, uid: string): Promise<QueryRow | undefined> {
  if (uid.includes('\\') || uid.includes('*') || uid.includes('?')) return undefined;
  return (await archive.query({ level: 'STUDY', match: { StudyInstanceUID: uid }, limit: 1 }))[0];
}

function resultView(r: ResultRecord): Record<string, unknown> {
  return {
    id: r.id, analysisId: r.analysisId, analysisVersion: r.analysisVersion, studyInstanceUid: r.studyInstanceUid, seriesInstanceUid: r.seriesInstanceUid,
    status: r.status, createdAt: r.createdAt, document: r.document,
    attachments: Object.keys(r.attachments).sort().map((name) => ({ name, url: `${API_PREFIX}/results/${encodeURIComponent(r.id)}/attachments/${encodeURIComponent(name)}` })),
  };
}

async function draftOf(d: ApiDeps, uid: string): Promise<ReportDraft> {
  const store = await reviewStoreOf(d.archive);
  const [study, results, decisions, report, measurements] = await Promise.all([
    studyRow(d.archive, uid), d.archive.listResults({ studyInstanceUid: uid }), store.listDecisions(uid), store.getReport(uid), store.listMeasurements(uid),
  ]);
  if (!study) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
  return buildDraft({ study, studyInstanceUid: uid, results, decisions, report, measurements });
}

/** The clinical acts (decisions, impression edits, measurements, sign-off) in the audit trail, with their own actions. */
async function auditAct(d: ApiDeps, req: FastifyRequest, user: AuthUser, e: Pick<AuditEvent, 'action' | 'studyInstanceUid' | 'patientId' | 'details'> & { object: string }): Promise<void> {
  await (d.audit ?? NO_AUDIT).record({ outcome: 'success', actor: user.username, actorRole: user.role, source: req.ip, ...e });
}

/** Tells this process's open event streams at once (other processes see it through the hub's database watch). */
async function publish(d: ApiDeps, ev: ReviewEvent): Promise<void> {
  const db = dbOf(d.archive);
  if (db) reviewEventHub(db, d.queue, d.log).publish(ev);
}

function text(row: QueryRow, k: string): string {
  const v = row[k];
  return v === null || v === undefined ? '' : String(v);
}

export const REVIEW_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', url: '/review/worklist', operationId: 'reviewWorklist', tag: 'review',
    summary: 'Studies with their AI status (queued / running + progress / done / failed) and triage; critical studies (hemorrhage, Lung-RADS 4B/4X) first.',
    access: { roles: ['radiologist', 'technologist'], patientData: true },
    schema: {
      querystring: obj({
        q: { type: 'string', maxLength: 128 },
        status: { type: 'string', enum: [...AI_STATUSES] },
        critical: { type: 'boolean' },
        report: { type: 'string', enum: ['none', 'draft', 'signed'] },
        limit: { type: 'integer', minimum: 1, maximum: 1000, default: 200 },
        offset: { type: 'integer', minimum: 0, default: 0 },
      }),
      response: { 200: obj({ items: { type: 'array', items: ANY_OBJECT }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } }, ['items', 'total', 'limit', 'offset']), ...errors(400, 401, 403) },
    },
    handler: (d) => async (req) => {
      signedIn(req);
      const q = query<{ q?: string; status?: AiStatus; critical?: boolean; report?: 'none' | 'draft' | 'signed'; limit: number; offset: number }>(req);
      await reviewStoreOf(d.archive);
      const db = dbOf(d.archive);
      if (!db) throw new SrError('ARCHIVE_UNAVAILABLE', 'this archive has no SQL index database for the worklist');
      // Filtering, ordering and paging in SQL (review/worklist.ts): a bounded number of queries for any archive size.
      return await worklistPage(db, d.queue, q);
    },
  },
  {
    method: 'GET', url: '/review/studies/:uid', operationId: 'reviewStudy', tag: 'review',
    summary: 'What the viewer needs for one study: study row, series, AI results (findings, label-map attachments), review decisions, report draft, prior studies of the patient.',
    access: { roles: ['radiologist', 'technologist'], patientData: true },
    schema: { params: STUDY_PARAM, response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404) } },
    handler: (d) => async (req) => {
      signedIn(req);
      const { uid } = params<{ uid: string }>(req);
      const store = await reviewStoreOf(d.archive);
      const study = await studyRow(d.archive, uid);
      if (!study) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      const [series, results, decisions, report, measurements] = await Promise.all([
        d.archive.listSeries({ studyInstanceUid: uid }), d.archive.listResults({ studyInstanceUid: uid }), store.listDecisions(uid), store.getReport(uid),
        store.listMeasurements(uid),
      ]);
      const jobs = (await Promise.all(series.map((s) => d.queue.list({ seriesInstanceUid: s.seriesInstanceUid, limit: 50 })))).flat()
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      const patientId = text(study, 'PatientID');
      const priors = patientId
        ? (await d.archive.query({ level: 'STUDY', match: { PatientID: patientId.replace(/[*?\\]/g, '') }, limit: 100 }))
          .filter((s) => text(s, 'StudyInstanceUID') !== uid)
          .map((s) => ({ studyInstanceUid: text(s, 'StudyInstanceUID'), studyDate: text(s, 'StudyDate'), studyDescription: text(s, 'StudyDescription'), modalities: text(s, 'ModalitiesInStudy') }))
          .sort((a, b) => b.studyDate.localeCompare(a.studyDate))
        : [];
      return {
        study, series, results: results.map(resultView), decisions, measurements,
        ai: statusOf(jobs, results), triage: triageOf(results),
        report: buildDraft({ study, studyInstanceUid: uid, results, decisions, report, measurements }), priors,
      };
    },
  },
  {
    method: 'POST', url: '/review/decisions', operationId: 'reviewDecide', tag: 'review',
    summary: 'Accept, reject or edit (type / measurement) one AI finding; stored with the radiologist and the time. 409 REVIEW_LOCKED once the report is signed.',
    access: { roles: ['radiologist'], patientData: true },
    schema: {
      body: obj({
        resultId: { type: 'string', minLength: 1, maxLength: 128 },
        findingId: { type: 'string', minLength: 1, maxLength: 128 },
        decision: { type: 'string', enum: [...DECISIONS] },
        edit: obj({
          kind: { type: 'string', minLength: 1, maxLength: 64 },
          measurements: { type: 'object', additionalProperties: { type: 'number' }, maxProperties: 32 },
          comment: { type: 'string', maxLength: 2000 },
        }),
      }, ['resultId', 'findingId', 'decision']),
      response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404, 409) },
    },
    handler: (d) => async (req) => {
      const user = radiologist(req, 'review AI findings');
      const b = req.body as { resultId: string; findingId: string; decision: Decision; edit?: FindingEdit };
      const r = await d.archive.getResult(b.resultId);
      if (!r) throw new SrError('NOT_FOUND', `result ${b.resultId} does not exist`, { details: { resultId: b.resultId } });
      if (!findingsOf(r).some((f) => f['id'] === b.findingId)) {
        throw new SrError('NOT_FOUND', `result ${b.resultId} has no finding ${b.findingId}`, { details: { resultId: b.resultId, findingId: b.findingId } });
      }
      if (b.decision === 'edit' && !b.edit) throw new SrError('HTTP_BAD_REQUEST', 'an edit decision needs `edit` (kind and/or measurements)');
      const series = await d.archive.getSeries(r.seriesInstanceUid);
      const store = await reviewStoreOf(d.archive);
      const rec = await store.decide({
        studyInstanceUid: r.studyInstanceUid, resultId: r.id, analysisId: r.analysisId, findingId: b.findingId, decision: b.decision,
        ...(b.edit ? { edit: b.edit } : {}), site: series?.sourceAe ?? 'local', user: { id: user.id, username: user.username, role: user.role },
      });
      d.log.info('review decision', { study: r.studyInstanceUid, result: r.id, finding: b.findingId, decision: b.decision, user: user.username });
      const study = await studyRow(d.archive, r.studyInstanceUid);
      await auditAct(d, req, user, {
        action: 'review', object: `finding:${r.id}/${b.findingId}`, studyInstanceUid: r.studyInstanceUid, patientId: study ? text(study, 'PatientID') || null : null,
        details: { resultId: r.id, analysisId: r.analysisId, findingId: b.findingId, decision: b.decision, ...(b.edit ? { edit: b.edit } : {}) },
      });
      await publish(d, { type: 'review', studyInstanceUid: r.studyInstanceUid });
      return rec;
    },
  },
  {
    method: 'POST', url: '/review/studies/:uid/impression', operationId: 'reviewSaveImpression', tag: 'review',
    summary: 'Save the report impression (draft). 409 REVIEW_LOCKED once signed.',
    access: { roles: ['radiologist'], patientData: true },
    schema: { params: STUDY_PARAM, body: obj({ impression: { type: 'string', maxLength: 20000 } }, ['impression']), response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404, 409) } },
    handler: (d) => async (req) => {
      const user = radiologist(req, 'write the report');
      const { uid } = params<{ uid: string }>(req);
      const study = await studyRow(d.archive, uid);
      if (!study) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      const store = await reviewStoreOf(d.archive);
      const impression = (req.body as { impression: string }).impression;
      await store.saveImpression(uid, impression, user.username);
      await auditAct(d, req, user, {
        action: 'review', object: `report:${uid}`, studyInstanceUid: uid, patientId: text(study, 'PatientID') || null,
        details: { what: 'impression', length: impression.length },
      });
      await publish(d, { type: 'report', studyInstanceUid: uid, status: 'draft' });
      return await draftOf(d, uid);
    },
  },
  {
    method: 'POST', url: '/review/studies/:uid/sign', operationId: 'reviewSign', tag: 'review',
    summary: 'Sign the report: every AI finding must have a decision (409 REVIEW_INCOMPLETE); locks the review, records who and when, renders the PDF.',
    access: { roles: ['radiologist'], patientData: true },
    schema: { params: STUDY_PARAM, response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404, 409) } },
    handler: (d) => async (req) => {
      const user = radiologist(req, 'sign a report');
      const { uid } = params<{ uid: string }>(req);
      const store = await reviewStoreOf(d.archive);
      const [study, results, decisions, report, measurements] = await Promise.all([
        studyRow(d.archive, uid), d.archive.listResults({ studyInstanceUid: uid }), store.listDecisions(uid), store.getReport(uid), store.listMeasurements(uid),
      ]);
      if (!study) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      const draft = buildDraft({ study, studyInstanceUid: uid, results, decisions, report, measurements });
      if (draft.status === 'signed') throw new SrError('REVIEW_LOCKED', `the report of study ${uid} is already signed`, { details: { signedBy: draft.signedBy, signedAt: draft.signedAt } });
      if (draft.undecided.length > 0) {
        throw new SrError('REVIEW_INCOMPLETE', `${draft.undecided.length} AI finding(s) have no decision`, { details: { undecided: draft.undecided.map((f) => ({ resultId: f.resultId, findingId: f.findingId })) } });
      }
      const at = new Date();
      const frozen: ReportDraft = { ...draft, status: 'signed', impression: draft.impression || draft.suggestedImpression, signedBy: user.displayName ?? user.username, signedAt: at.toISOString() };
      const { pdf, renderer } = await signedReportPdf({ study, draft: frozen, results, decisions, log: d.log });
      const key = `reports/${uid}/${at.getTime()}.pdf`;
      await d.archive.blobs.put(key, { bytes: pdf });
      await store.sign(uid, frozen.signedBy ?? user.username, { report: frozen, pdfBlobKey: key }, at);
      d.log.info('report signed', { study: uid, user: user.username, pdf: renderer });
      await auditAct(d, req, user, {
        action: 'sign-off', object: `report:${uid}`, studyInstanceUid: uid, patientId: text(study, 'PatientID') || null,
        details: { signedAt: at.toISOString(), pdfBlobKey: key, renderer, accepted: frozen.accepted.length, rejected: frozen.rejected.length, measurements: frozen.measurements.length },
      });
      await publish(d, { type: 'report', studyInstanceUid: uid, status: 'signed' });
      return await draftOf(d, uid);
    },
  },
  {
    method: 'GET', url: '/review/studies/:uid/report.pdf', operationId: 'reviewReportPdf', tag: 'review', summary: 'The signed report as PDF (404 until signed).',
    access: { roles: ['radiologist', 'technologist'], patientData: true },
    schema: { params: STUDY_PARAM, response: errors(400, 401, 403, 404) },
    produces: { 'application/pdf': { type: 'string', format: 'binary' } },
    handler: (d) => async (req, reply) => {
      signedIn(req);
      const { uid } = params<{ uid: string }>(req);
      const store = await reviewStoreOf(d.archive);
      const rep = await store.getReport(uid);
      if (!rep || rep.status !== 'signed' || !rep.pdfBlobKey) throw new SrError('NOT_FOUND', `study ${uid} has no signed report`, { details: { studyInstanceUid: uid } });
      const bytes = await d.archive.blobs.get(rep.pdfBlobKey);
      return reply.type('application/pdf').header('content-disposition', `inline; filename="report-${uid.replace(/[^\w.-]/g, '_')}.pdf"`)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  },
  {
    method: 'POST', url: '/review/studies/:uid/measurements', operationId: 'reviewAddMeasurement', tag: 'review',
    summary: 'Save a length measurement drawn in the viewer (two world points in mm and their distance), with the radiologist and the time; listed in the report. 409 REVIEW_LOCKED once signed.',
    access: { roles: ['radiologist'], patientData: true },
    schema: {
      params: STUDY_PARAM,
      body: obj({
        seriesInstanceUid: UID,
        lengthMm: { type: 'number', minimum: 0, maximum: 10000 },
        points: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'array', minItems: 3, maxItems: 3, items: { type: 'number' } } },
        label: { type: 'string', maxLength: 200 },
      }, ['lengthMm', 'points']),
      response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404, 409) },
    },
    handler: (d) => async (req) => {
      const user = radiologist(req, 'measure for the report');
      const { uid } = params<{ uid: string }>(req);
      const study = await studyRow(d.archive, uid);
      if (!study) throw new SrError('NOT_FOUND', `study ${uid} is not in the archive`, { details: { studyInstanceUid: uid } });
      const b = req.body as { seriesInstanceUid?: string; lengthMm: number; points: number[][]; label?: string };
      const store = await reviewStoreOf(d.archive);
      const m = await store.addMeasurement({ studyInstanceUid: uid, seriesInstanceUid: b.seriesInstanceUid, lengthMm: b.lengthMm, points: b.points, label: b.label, user });
      await auditAct(d, req, user, {
        action: 'review', object: `measurement:${m.id}`, studyInstanceUid: uid, patientId: text(study, 'PatientID') || null,
        details: { what: 'measurement', lengthMm: m.lengthMm },
      });
      await publish(d, { type: 'review', studyInstanceUid: uid });
      return { measurement: m, report: await draftOf(d, uid) };
    },
  },
  {
    method: 'POST', url: '/review/studies/:uid/measurements/:id/delete', operationId: 'reviewDeleteMeasurement', tag: 'review',
    summary: 'Remove one of the study\'s saved measurements. 409 REVIEW_LOCKED once signed.',
    access: { roles: ['radiologist'], patientData: true },
    schema: { params: obj({ uid: UID, id: { type: 'string', minLength: 1, maxLength: 64 } }, ['uid', 'id']), response: { 200: ANY_OBJECT, ...errors(400, 401, 403, 404, 409) } },
    handler: (d) => async (req) => {
      const user = radiologist(req, 'remove a measurement');
      const { uid, id } = params<{ uid: string; id: string }>(req);
      const store = await reviewStoreOf(d.archive);
      if (!(await store.deleteMeasurement(uid, id))) throw new SrError('NOT_FOUND', `study ${uid} has no measurement ${id}`, { details: { studyInstanceUid: uid, id } });
      await auditAct(d, req, user, { action: 'review', object: `measurement:${id}`, studyInstanceUid: uid, details: { what: 'measurement-removed' } });
      return await draftOf(d, uid);
    },
  },
  {
    method: 'GET', url: '/review/events', operationId: 'reviewEvents', tag: 'review',
    summary: 'Live updates as Server-Sent Events (text/event-stream): job state/progress (`job`), new studies (`studies`), results (`results`), report drafts and sign-offs (`report`), decisions (`review`). The web app falls back to polling when the stream fails.',
    access: { roles: ['radiologist', 'technologist'] },
    schema: { response: errors(401, 403, 406) },
    produces: { 'text/event-stream': { type: 'string' } },
    handler: (d) => async (req, reply) => {
      signedIn(req);
      // An open-ended stream only for a client that asked for one (EventSource sends Accept: text/event-stream,
      // WHATWG HTML "Server-sent events"); anything else (HEAD, a plain fetch) gets 406 instead of a hanging response.
      if (req.method !== 'GET' || !String(req.headers.accept ?? '').includes('text/event-stream')) {
        throw new SrError('HTTP_NOT_ACCEPTABLE', 'this route streams text/event-stream; send Accept: text/event-stream (EventSource does)');
      }
      await reviewStoreOf(d.archive);
      const db = dbOf(d.archive);
      if (!db) throw new SrError('ARCHIVE_UNAVAILABLE', 'this archive has no SQL index database to watch');
      const hub = reviewEventHub(db, d.queue, d.log);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no', 'x-content-type-options': 'nosniff' });
      // The browser reconnects after 3 s when the stream drops (EventSource); the app polls meanwhile.
      res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify({ pollMs: 1000 })}\n\n`);
      const untrack = hub.track(res);
      const unsubscribe = hub.subscribe((ev) => res.write(sseFrame(ev)));
      // A comment line every 15 s keeps proxies from closing an idle stream.
      const ping = setInterval(() => res.write(': ping\n\n'), 15000);
      ping.unref();
      res.on('close', () => {
        clearInterval(ping);
        unsubscribe();
        untrack();
      });
    },
  },
  {
    method: 'GET', url: '/review/stats/rejections', operationId: 'reviewRejectionStats', tag: 'review',
    summary: 'Per site and analysis: findings decided, accepted, rejected, edited and the rejection (false-positive) rate. Admins only.',
    access: { roles: [] },
    schema: { response: { 200: obj({ items: { type: 'array', items: ANY_OBJECT } }, ['items']), ...errors(401, 403) } },
    handler: (d) => async (req) => {
      const u = signedIn(req);
      if (u.role !== 'admin') throw new SrError('FORBIDDEN', 'only an admin may read the review statistics', { details: { role: u.role } });
      return { items: await (await reviewStoreOf(d.archive)).rejectionStats() };
    },
  },
];
