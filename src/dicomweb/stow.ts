/**
 * STOW-RS (PS3.18 10.5): POST {root}/studies[/{study}] with multipart/related; type="application/dicom".
 *
 * Each part is handled as soon as it has fully arrived: parsed (header), checked against the study in the URL,
 * stored (the archive acknowledges only after fsync + index commit), and reported in ReferencedSOPSequence or
 * FailedSOPSequence. A body that is cut short or passes the size limit ends the request with 400 / 413, and the
 * error's details carry the same store report for the parts that were complete: nothing is half-stored, and the
 * client learns exactly which instances were acknowledged.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceOrigin } from '../archive/types.ts';
import { SrError, isSrError } from '../core/errors.ts';
import { getString, parseDicom } from '../dicom/index.ts';
import { type DicomWebContext, checkUid, instanceUrl, serviceRoot, studyUrl } from './context.ts';
import { type DicomJson, setAttribute, sortJson } from './dicom-json.ts';
import { negotiateJson, parseMediaType } from './media.ts';
import { boundaryOf, readMultipart } from './multipart.ts';

/** Failure reasons (PS3.18 10.5.3, status codes of PS3.4 B.2.3 / Annex GG). */
export const FAILURE = {
  processingFailure: 0x0110,
  outOfResources: 0xa700,
  /** Also used when the instance's StudyInstanceUID differs from the one in the request URL. */
  doesNotMatchSopClass: 0xa900,
  cannotUnderstand: 0xc000,
} as const;

interface Report {
  readonly referenced: DicomJson[];
  readonly failed: DicomJson[];
  readonly studies: Set<string>;
}

function failureItem(reason: number, sopClass: string | undefined, sop: string | undefined): DicomJson {
  const item: DicomJson = {};
  if (sopClass) setAttribute(item, 'ReferencedSOPClassUID', sopClass);
  if (sop) setAttribute(item, 'ReferencedSOPInstanceUID', sop);
  setAttribute(item, 'FailureReason', reason);
  return sortJson(item);
}

function failureReasonFor(e: unknown): number {
  if (isSrError(e, 'ARCHIVE_STORAGE_FULL')) return FAILURE.outOfResources;
  if (isSrError(e, 'ARCHIVE_INSTANCE_INVALID') || isSrError(e, 'DICOM_MISSING_ATTRIBUTE')) return FAILURE.doesNotMatchSopClass;
  if (e instanceof SrError && e.code.startsWith('DICOM_')) return FAILURE.cannotUnderstand;
  return FAILURE.processingFailure;
}

function responseJson(report: Report, root: string, urlStudy: string | undefined): DicomJson {
  const json: DicomJson = {};
  const study = urlStudy ?? (report.studies.size === 1 ? [...report.studies][0] : undefined);
  if (study) setAttribute(json, 'RetrieveURL', studyUrl(root, study));
  // FailedSOPSequence / ReferencedSOPSequence: the items are DICOM JSON already.
  if (report.failed.length > 0) json['00081198'] = { vr: 'SQ', Value: report.failed };
  if (report.referenced.length > 0) json['00081199'] = { vr: 'SQ', Value: report.referenced };
  return sortJson(json);
}

async function storePart(
  ctx: DicomWebContext, body: Buffer, partType: string | undefined, index: number, urlStudy: string | undefined,
  origin: InstanceOrigin, root: string, report: Report,
): Promise<void> {
  const label = `STOW part ${index}`;
  if (partType !== undefined && parseMediaType(partType)?.type !== 'application/dicom') {
    ctx.log.warn('dicomweb stow: part rejected', { part: index, reason: `content type ${partType}` });
    report.failed.push(failureItem(FAILURE.cannotUnderstand, undefined, undefined));
    return;
  }
  let sop: string | undefined;
  let sopClass: string | undefined;
  try {
    const head = parseDicom(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), label, { headerOnly: true, fileSize: body.length });
    sop = getString(head.dataset, 'SOPInstanceUID');
    sopClass = getString(head.dataset, 'SOPClassUID');
    const study = getString(head.dataset, 'StudyInstanceUID');
    if (urlStudy !== undefined && study !== urlStudy) {
      // PS3.18 10.5.1: an instance outside the study named in the target URL is not stored.
      ctx.log.warn('dicomweb stow: study mismatch', { part: index, sop, study, urlStudy });
      report.failed.push(failureItem(FAILURE.doesNotMatchSopClass, sopClass, sop));
      return;
    }
    const outcome = await ctx.archive.storeInstance({ bytes: new Uint8Array(body.buffer, body.byteOffset, body.byteLength) }, origin);
    const rec = outcome.instance;
    const item: DicomJson = {};
    setAttribute(item, 'ReferencedSOPClassUID', rec.sopClassUid);
    setAttribute(item, 'ReferencedSOPInstanceUID', rec.sopInstanceUid);
    setAttribute(item, 'RetrieveURL', instanceUrl(root, rec.studyInstanceUid, rec.seriesInstanceUid, rec.sopInstanceUid));
    report.referenced.push(sortJson(item));
    report.studies.add(rec.studyInstanceUid);
    ctx.log.info('dicomweb stow: stored', { part: index, sop: rec.sopInstanceUid, status: outcome.status, bytes: body.length });
    if (ctx.onStored) {
      try {
        await ctx.onStored(outcome);
      } catch (e) {
        ctx.log.error('dicomweb stow: onStored hook failed', { sop: rec.sopInstanceUid, error: e instanceof Error ? e.message : String(e) });
      }
    }
  } catch (e) {
    const reason = failureReasonFor(e);
    ctx.log.warn('dicomweb stow: part rejected', {
      part: index, sop: sop ?? null, reason, code: e instanceof SrError ? e.code : null, error: e instanceof Error ? e.message : String(e),
    });
    report.failed.push(failureItem(reason, sopClass, sop));
  }
}

async function handleStow(ctx: DicomWebContext, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const params = req.params as Record<string, string | undefined>;
  const urlStudy = params['study'] === undefined ? undefined : checkUid(params['study'], 'StudyInstanceUID');
  const ctHeader = req.headers['content-type'];
  const ct = ctHeader ? parseMediaType(ctHeader) : undefined;
  if (!ct || ct.type !== 'multipart/related') {
    throw new SrError('HTTP_UNSUPPORTED_MEDIA_TYPE', `STOW-RS needs Content-Type multipart/related; type="application/dicom", got ${ctHeader ?? 'none'}`, {
      details: { contentType: ctHeader ?? null },
    });
  }
  const rootType = (ct.params['type'] ?? 'application/dicom').toLowerCase();
  if (rootType !== 'application/dicom') {
    throw new SrError('HTTP_UNSUPPORTED_MEDIA_TYPE', `STOW-RS accepts only type="application/dicom" parts (metadata + bulk data requests are not supported), got type="${rootType}"`, {
      details: { contentType: ctHeader ?? null },
    });
  }
  const boundary = boundaryOf(ct.params);
  if (!boundary) throw new SrError('HTTP_BAD_REQUEST', 'multipart/related Content-Type without a boundary parameter');
  const responseType = negotiateJson(req.headers.accept);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > ctx.maxUploadBytes) {
    reply.header('connection', 'close');
    throw new SrError('HTTP_PAYLOAD_TOO_LARGE', `request body of ${declared} bytes exceeds the limit of ${ctx.maxUploadBytes} bytes`, {
      details: { limitBytes: ctx.maxUploadBytes, contentLength: declared },
    });
  }
  const body = req.body;
  const stream: AsyncIterable<Buffer> = isAsyncIterable(body) ? body : req.raw;
  const root = serviceRoot(ctx, req);
  const report: Report = { referenced: [], failed: [], studies: new Set() };
  const origin: InstanceOrigin = { via: 'stow', remoteAddress: req.ip };
  let index = 0;
  try {
    for await (const part of readMultipart(stream, boundary, { maxBytes: ctx.maxUploadBytes })) {
      index++;
      await storePart(ctx, part.body, part.headers['content-type'], index, urlStudy, origin, root, report);
    }
  } catch (e) {
    if (isSrError(e, 'HTTP_BODY_TRUNCATED') || isSrError(e, 'HTTP_PAYLOAD_TOO_LARGE')) {
      if (e.code === 'HTTP_PAYLOAD_TOO_LARGE') reply.header('connection', 'close');
      // The same code, with the report for every complete part (stored or rejected) in the details.
      throw new SrError(e.code, e.message, { cause: e, details: { ...e.details, storeResponse: responseJson(report, root, urlStudy) } });
    }
    throw e;
  }
  if (index === 0) throw new SrError('HTTP_BAD_REQUEST', 'multipart body holds no parts');
  const status = report.failed.length === 0 ? 200 : report.referenced.length === 0 ? 409 : 202;
  ctx.log.info('dicomweb stow: done', { parts: index, stored: report.referenced.length, failed: report.failed.length, status });
  await reply.code(status).type(responseType).send(JSON.stringify(responseJson(report, root, urlStudy)));
}

function isAsyncIterable(v: unknown): v is AsyncIterable<Buffer> {
  return typeof v === 'object' && v !== null && typeof (v as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

export function registerStow(app: FastifyInstance, ctx: DicomWebContext): void {
  const handler = (req: FastifyRequest, reply: FastifyReply): Promise<void> => handleStow(ctx, req, reply);
  app.post('/studies', handler);
  app.post('/studies/:study', handler);
}
