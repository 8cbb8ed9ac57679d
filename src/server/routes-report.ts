/**
 * The human report and FHIR of one stored result (src/report): GET /results/:id/report.html, /report.pdf, /fhir.
 * Spread into ROUTES (routes.ts). The header comes from the first instance of the analysed series in the archive,
 * the key-image crops from the series decoded again with the result's label map (fallback: the key-image PNGs
 * attached to the result), the physician's decisions, impression and signature from the review store
 * (src/server/review): rejected findings are left out, and the report is DRAFT (FHIR preliminary) until signed.
 */
import type { FastifyRequest } from 'fastify';
import { SrError } from '../core/index.ts';
import type { ResultRecord } from '../archive/index.ts';
import { parseDicom } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import type { AnalysisResultJson } from '../engine/index.ts';
import { parseNifti } from '../imaging/index.ts';
import type { MaskVolume } from '../imaging/index.ts';
import {
  buildClinicalReport, buildFhirBundle, keyImageCrops, languageFor, pngDataUri, renderReportHtml, renderReportPdf, REPORT_LANGUAGES, studyHeaderFrom,
} from '../report/index.ts';
import type { ClinicalReport, ReportLanguage, ReviewDecision } from '../report/index.ts';
import { LABEL_MAP_ATTACHMENT, loadArchivedSeries } from './engine-wiring.ts';
import { obj, params, query } from './route-def.ts';
import type { ApiDeps, RouteDef } from './route-def.ts';
import { reviewStoreOf } from './review/index.ts';
import type { DecisionRecord } from './review/index.ts';
import { errors } from './schemas.ts';

const ACCESS = { roles: ['radiologist', 'technologist', 'admin'], patientData: true } as const;
const ID_PARAM = obj({ id: { type: 'string', minLength: 1, maxLength: 128 } }, ['id']);
const LANG_QUERY = obj({ lang: { type: 'string', enum: [...REPORT_LANGUAGES] } });

interface Built {
  readonly report: ClinicalReport;
  readonly lang: ReportLanguage;
  readonly series: AnalysisResultJson['seriesInstanceUid'];
  readonly result: AnalysisResultJson;
  readonly instanceCount: number;
  readonly modality: string;
}

function decision(d: DecisionRecord): ReviewDecision {
  const edits: Record<string, number | string> = { ...(d.edit?.measurements ?? {}) };
  if (d.edit?.kind) edits['type'] = d.edit.kind;
  return {
    analysisId: d.analysisId, findingId: d.findingId, by: d.username, at: d.decidedAt,
    decision: d.decision === 'accept' ? 'accepted' : d.decision === 'reject' ? 'rejected' : 'edited',
    ...(d.decision === 'edit' ? { edits } : {}), ...(d.edit?.comment ? { comment: d.edit.comment } : {}),
  };
}

async function attachment(d: ApiDeps, r: ResultRecord, name: string): Promise<Uint8Array | undefined> {
  const key = Object.hasOwn(r.attachments, name) ? r.attachments[name] : undefined;
  return key === undefined ? undefined : await d.archive.blobs.get(key);
}

/** Key-image crops from the decoded series + label map; else the PNGs the job attached (key-<finding>.png). */
async function keyImagesOf(d: ApiDeps, r: ResultRecord, doc: AnalysisResultJson): Promise<Record<string, string>> {
  const labels = await attachment(d, r, LABEL_MAP_ATTACHMENT);
  if (labels && doc.findings.some((f) => f.label !== undefined)) {
    let loaded: Awaited<ReturnType<typeof loadArchivedSeries>> | undefined;
    try {
      loaded = await loadArchivedSeries(d.archive, r.seriesInstanceUid);
      const vol = await loaded.input.loadVolume(new AbortController().signal);
      return keyImageCrops(doc, vol.volume, parseNifti(labels, LABEL_MAP_ATTACHMENT).volume as MaskVolume);
    } catch (e) {
      d.log.warn('report: key-image crops not rendered; using the attached key images', { result: r.id, error: e instanceof Error ? e.message : String(e) });
    } finally {
      await loaded?.cleanup();
    }
  }
  const out: Record<string, string> = {};
  for (const [fid, name] of Object.entries(doc.labelMap?.keyImages ?? {})) {
    const png = await attachment(d, r, name);
    if (png) out[fid] = pngDataUri(png);
  }
  return out;
}

async function buildFor(d: ApiDeps, req: FastifyRequest): Promise<Built> {
  const { id } = params<{ id: string }>(req);
  const { lang } = query<{ lang?: ReportLanguage }>(req);
  const r = await d.archive.getResult(id);
  if (!r) throw new SrError('NOT_FOUND', `result ${id} does not exist`, { details: { resultId: id } });
  const doc = r.document as AnalysisResultJson;
  const instances = await d.archive.listInstances({ seriesInstanceUid: r.seriesInstanceUid });
  let attributes: DicomDataset = {};
  const first = instances[0];
  if (first) {
    try {
      attributes = parseDicom(await d.archive.blobs.get(first.blobKey), first.sopInstanceUid).dataset;
    } catch (e) {
      d.log.warn('report: source header unreadable; the report has no patient header', { result: r.id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  const header = studyHeaderFrom(attributes, r.studyInstanceUid);
  let review: ReviewDecision[] = [];
  let impression: string | undefined;
  let signature: { by: string; at: string } | undefined;
  try {
    const store = await reviewStoreOf(d.archive);
    const [decisions, stored] = await Promise.all([store.listDecisions(r.studyInstanceUid), store.getReport(r.studyInstanceUid)]);
    review = decisions.filter((x) => x.resultId === r.id).map(decision);
    impression = stored?.impression || undefined;
    if (stored?.status === 'signed' && stored.signedBy && stored.signedAt) signature = { by: stored.signedBy, at: stored.signedAt };
  } catch (e) {
    d.log.warn('report: review decisions unavailable; the AI result is reported unreviewed', { result: r.id, error: e instanceof Error ? e.message : String(e) });
  }
  const report = buildClinicalReport({
    ...header, results: [{ resultId: r.id, result: doc, keyImages: await keyImagesOf(d, r, doc) }], review, impression, signature, generatedAt: new Date().toISOString(),
  });
  const modality = typeof attributes['Modality'] === 'string' ? attributes['Modality'] : 'OT';
  return { report, lang: languageFor(header, lang), series: r.seriesInstanceUid, result: doc, instanceCount: instances.length, modality };
}

const HTML_HEADERS = {
  // The page is static: no script, images only as data: URIs.
  'content-security-policy': "default-src 'none'; img-src data:; style-src 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

export const REPORT_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', url: '/results/:id/report.html', operationId: 'getResultReportHtml', tag: 'results', access: ACCESS,
    summary: 'The clinical report of a result as one self-contained HTML page (?lang=en|zh; default from the study charset). DRAFT until signed.',
    schema: { params: ID_PARAM, querystring: LANG_QUERY, response: errors(400, 404) },
    produces: { 'text/html': { type: 'string' } },
    handler: (d) => async (req, reply) => {
      const b = await buildFor(d, req);
      return reply.type('text/html; charset=utf-8').headers(HTML_HEADERS).send(renderReportHtml(b.report, { lang: b.lang }));
    },
  },
  {
    method: 'GET', url: '/results/:id/report.pdf', operationId: 'getResultReportPdf', tag: 'results', access: ACCESS,
    summary: 'The clinical report of a result as PDF (chromium; 503 REPORT_PDF_UNAVAILABLE without it).',
    schema: { params: ID_PARAM, querystring: LANG_QUERY, response: errors(400, 404, 503) },
    produces: { 'application/pdf': { type: 'string', format: 'binary' } },
    handler: (d) => async (req, reply) => {
      const b = await buildFor(d, req);
      const pdf = await renderReportPdf(renderReportHtml(b.report, { lang: b.lang }));
      return reply.type('application/pdf').header('cache-control', 'no-store').header('content-disposition', 'inline; filename="report.pdf"')
        .send(Buffer.from(pdf.buffer, pdf.byteOffset, pdf.byteLength));
    },
  },
  {
    method: 'GET', url: '/results/:id/fhir', operationId: 'getResultFhir', tag: 'results', access: ACCESS,
    summary: 'The result as a FHIR R4 Bundle: Patient, ImagingStudy, Device, Observations, DiagnosticReport (preliminary until signed).',
    schema: { params: ID_PARAM, querystring: LANG_QUERY, response: errors(400, 404) },
    produces: { 'application/fhir+json': { type: 'object' } },
    handler: (d) => async (req, reply) => {
      const b = await buildFor(d, req);
      const bundle = buildFhirBundle(b.report, {
        series: [{ studyInstanceUid: b.report.study.studyInstanceUid, seriesInstanceUid: b.series, modality: b.modality, instanceCount: b.instanceCount }],
      });
      return reply.type('application/fhir+json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify(bundle));
    },
  },
];
