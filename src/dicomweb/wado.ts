/**
 * WADO-RS (PS3.18 10.4): instances as stored (multipart/related; type="application/dicom", streamed from the blob
 * store), metadata (DICOM JSON without bulk data), and frames decoded to native pixels
 * (multipart/related; type="application/octet-stream").
 *
 * Transfer syntax decision: we never transcode. `transfer-syntax=*`, no transfer-syntax parameter, or the stored
 * syntax itself get the stored bytes (the Part 10 file exactly as received); asking only for a syntax some
 * instance is not stored in is 406. Frames are always decoded, so they are offered in Explicit VR Little Endian.
 * Metadata is served from a bounded per-instance cache keyed by the stored version (metadata-cache.ts).
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceRecord } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';
import type { DecodedFrame, PixelDescription } from '../dicom/index.ts';
import { TRANSFER_SYNTAX } from '../dicom/index.ts';
import { type DicomWebContext, type ResourcePath, instanceUrl, instancesOf, pathOf, readWhole, serviceRoot } from './context.ts';
import { metadataText, warmSeries } from './metadata-cache.ts';
import { type MediaRange, multipartRanges, negotiateJson, notAcceptable, parseAccept } from './media.ts';
import { newBoundary, writeMultipart, type OutPart } from './multipart.ts';

const EXPLICIT_LE = TRANSFER_SYNTAX.ExplicitLE;

function syntaxOk(r: MediaRange, stored: readonly string[]): boolean {
  const ts = r.params['transfer-syntax'];
  return ts === undefined || ts === '*' || stored.every((s) => s === ts);
}

/** 'single' = application/dicom (one instance only), 'multipart' = multipart/related; type="application/dicom". */
function negotiateRetrieve(accept: string | string[] | undefined, stored: readonly string[], single: boolean): 'single' | 'multipart' {
  for (const r of parseAccept(accept)) {
    if (single && r.type === 'application/dicom' && syntaxOk(r, stored)) return 'single';
    if (multipartRanges([r], 'application/dicom').length > 0 && syntaxOk(r, stored)) return 'multipart';
  }
  throw notAcceptable(accept, `multipart/related; type="application/dicom" in the stored transfer syntax (${[...new Set(stored)].join(', ')}); transcoding is not supported`);
}

async function retrieve(ctx: DicomWebContext, path: ResourcePath, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const list = await instancesOf(ctx, path);
  const how = negotiateRetrieve(req.headers.accept, list.map((r) => r.transferSyntaxUid), path.instance !== undefined);
  const root = serviceRoot(ctx, req);
  if (how === 'single') {
    const rec = list[0] as InstanceRecord;
    reply.type(`application/dicom; transfer-syntax=${rec.transferSyntaxUid}`).header('content-length', String(rec.sizeBytes));
    await reply.send(ctx.archive.blobs.stream(rec.blobKey));
    return;
  }
  const boundary = newBoundary();
  const parts = list.map((rec): OutPart => ({
    contentType: `application/dicom; transfer-syntax=${rec.transferSyntaxUid}`,
    contentLocation: instanceUrl(root, rec.studyInstanceUid, rec.seriesInstanceUid, rec.sopInstanceUid),
    // Opened lazily: a study of 3,000 instances holds one open file at a time.
    body: () => ctx.archive.blobs.stream(rec.blobKey),
  }));
  reply.type(`multipart/related; type="application/dicom"; boundary=${boundary}`);
  await reply.send(Readable.from(writeMultipart(boundary, parts)));
}

async function metadata(ctx: DicomWebContext, path: ResourcePath, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const type = negotiateJson(req.headers.accept);
  const list = await instancesOf(ctx, path);
  // Per-instance DICOM JSON comes from the metadata cache (read once per stored version; see metadata-cache.ts).
  const body = await metadataText(ctx, list, serviceRoot(ctx, req));
  // One instance's metadata is often followed by its series' (viewers probing a series): fill the rest now.
  if (path.instance && path.series) warmSeries(ctx, path.study, path.series);
  await reply.code(200).type(type).send(body);
}

/** "1,3,5" → 1-based frame numbers; PS3.18 10.4.1.1.4: a list of positive integers. */
export function parseFrameList(s: string): number[] {
  const items = s.split(',').map((x) => x.trim());
  if (items.length === 0 || items.length > 100_000 || !items.every((x) => /^\d{1,7}$/.test(x) && Number(x) >= 1)) {
    throw new SrError('HTTP_BAD_REQUEST', `frame list "${s.slice(0, 60)}" must be comma-separated numbers from 1`, { details: { frames: s.slice(0, 200) } });
  }
  return items.map(Number);
}

/** A decoded frame as native little-endian bytes at the object's BitsAllocated (PS3.5 8.1.1). */
export function nativeBytes(frame: DecodedFrame, px: PixelDescription): Uint8Array {
  const d = frame.data;
  if (px.BitsAllocated === 1) {
    const out = new Uint8Array(Math.ceil(d.length / 8));
    for (let i = 0; i < d.length; i++) if (d[i]) out[i >> 3]! |= 1 << (i & 7);
    return out;
  }
  if (px.BitsAllocated === 8 && d.BYTES_PER_ELEMENT !== 1) return new Uint8Array(Int8Array.from(d as ArrayLike<number>).buffer);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

async function frames(ctx: DicomWebContext, path: ResourcePath, list: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const numbers = parseFrameList(list);
  const ranges = multipartRanges(parseAccept(req.headers.accept), 'application/octet-stream').filter((r) => {
    const ts = r.params['transfer-syntax'];
    return ts === undefined || ts === '*' || ts === EXPLICIT_LE;
  });
  if (ranges.length === 0) throw notAcceptable(req.headers.accept, `multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE} (decoded frames)`);
  const [rec] = await instancesOf(ctx, path);
  if (!rec) throw new SrError('NOT_FOUND', 'instance not found');
  const file = await readWhole(ctx, rec);
  const px = file.pixel;
  if (!px) throw new SrError('DICOM_NO_PIXEL_DATA', `instance ${rec.sopInstanceUid} has no pixel data`, { details: { sop: rec.sopInstanceUid } });
  const bad = numbers.find((n) => n > file.frameCount);
  if (bad !== undefined) {
    throw new SrError('DICOM_FRAME_OUT_OF_RANGE', `frame ${bad} requested; instance ${rec.sopInstanceUid} has ${file.frameCount}`, {
      details: { frame: bad, frames: file.frameCount },
    });
  }
  // Decode before answering, so a decode failure is a proper error status and not a broken stream.
  const root = serviceRoot(ctx, req);
  const url = instanceUrl(root, rec.studyInstanceUid, rec.seriesInstanceUid, rec.sopInstanceUid);
  const parts: OutPart[] = [];
  for (const n of numbers) {
    const frame = await file.decodeFrame(n - 1);
    parts.push({ contentType: `application/octet-stream; transfer-syntax=${EXPLICIT_LE}`, contentLocation: `${url}/frames/${n}`, body: nativeBytes(frame, px) });
  }
  const boundary = newBoundary();
  reply.type(`multipart/related; type="application/octet-stream"; transfer-syntax=${EXPLICIT_LE}; boundary=${boundary}`);
  await reply.send(Readable.from(writeMultipart(boundary, parts)));
}

export function registerWado(app: FastifyInstance, ctx: DicomWebContext): void {
  const r = (fn: typeof retrieve) => (req: FastifyRequest, reply: FastifyReply): Promise<void> => fn(ctx, pathOf(req.params), req, reply);
  app.get('/studies/:study', r(retrieve));
  app.get('/studies/:study/series/:series', r(retrieve));
  app.get('/studies/:study/series/:series/instances/:instance', r(retrieve));
  app.get('/studies/:study/metadata', r(metadata));
  app.get('/studies/:study/series/:series/metadata', r(metadata));
  app.get('/studies/:study/series/:series/instances/:instance/metadata', r(metadata));
  app.get('/studies/:study/series/:series/instances/:instance/frames/:frames', (req, reply) =>
    frames(ctx, pathOf(req.params), String((req.params as Record<string, unknown>)['frames'] ?? ''), req, reply));
}
