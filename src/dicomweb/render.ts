/**
 * Rendered resources (PS3.18 10.4.1.1.3, 8.3.5.1): one frame as an 8-bit PNG, with the Modality LUT (rescale),
 * a VOI window (query `window=center,width[,function]`, else the object's first WindowCenter/WindowWidth, else the
 * frame's full range; functions of PS3.3 C.11.2.1.2) and MONOCHROME1 inversion; colour images pass through.
 * `viewport=w,h` scales the picture to fit. Thumbnails (PS3.18 10.7) are the same picture fitted to 128 × 128.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { InstanceRecord } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';
import { framesOf, getNumber, getSequence, getString } from '../dicom/index.ts';
import type { DecodedFrame, DicomDataset, DicomFile } from '../dicom/index.ts';
import { encodePng } from '../report/index.ts';
import { type DicomWebContext, type ResourcePath, instancesOf, pathOf, readWhole } from './context.ts';
import { acceptsType, notAcceptable, parseAccept } from './media.ts';

export type VoiFunction = 'linear' | 'linear-exact' | 'sigmoid';
export interface Window { readonly center: number; readonly width: number; readonly fn: VoiFunction }
export interface RenderParams {
  readonly window?: Window;
  readonly viewport?: { readonly width: number; readonly height: number };
}

export const THUMBNAIL_SIZE = 128;
const KNOWN_PARAMS = new Set(['window', 'viewport', 'quality', 'annotation', 'charset', 'iccprofile']);

function badParam(message: string): SrError {
  return new SrError('HTTP_BAD_REQUEST', message);
}

export function parseRenderParams(query: unknown): RenderParams {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, string | string[]>;
  let window: Window | undefined;
  let viewport: RenderParams['viewport'];
  for (const [name, raw] of Object.entries(q)) {
    if (!KNOWN_PARAMS.has(name)) throw badParam(`unknown query parameter "${name.slice(0, 64)}" for a rendered resource`);
    const v = Array.isArray(raw) ? raw.join(',') : raw;
    if (name === 'window') {
      const [c, w, fn = 'linear'] = v.split(',').map((x) => x.trim());
      const center = Number(c);
      const width = Number(w);
      const f = fn.toLowerCase();
      if (!Number.isFinite(center) || !Number.isFinite(width) || width <= 0 || (f !== 'linear' && f !== 'linear-exact' && f !== 'sigmoid')) {
        throw badParam(`window must be "center,width[,linear|linear-exact|sigmoid]" with width > 0, got "${v.slice(0, 60)}"`);
      }
      window = { center, width, fn: f };
    } else if (name === 'viewport') {
      const [w, h] = v.split(',').map((x) => Number(x.trim()));
      if (!Number.isInteger(w) || !Number.isInteger(h) || (w as number) < 1 || (h as number) < 1 || (w as number) > 4096 || (h as number) > 4096) {
        throw badParam(`viewport must be "width,height" in 1..4096, got "${v.slice(0, 60)}"`);
      }
      viewport = { width: w as number, height: h as number };
    }
  }
  return { ...(window ? { window } : {}), ...(viewport ? { viewport } : {}) };
}

/** The object's own VOI window: top level, or the Frame VOI LUT macro of an enhanced object. */
function storedWindow(ds: DicomDataset, frameIndex: number): Window | undefined {
  const perFrame = getSequence(ds, 'PerFrameFunctionalGroupsSequence')[frameIndex];
  const shared = getSequence(ds, 'SharedFunctionalGroupsSequence')[0];
  const candidates = [ds, perFrame && getSequence(perFrame, 'FrameVOILUTSequence')[0], shared && getSequence(shared, 'FrameVOILUTSequence')[0]];
  for (const c of candidates) {
    if (!c) continue;
    const center = getNumber(c, 'WindowCenter');
    const width = getNumber(c, 'WindowWidth');
    if (center !== undefined && width !== undefined && width > 0) {
      const fn = (getString(c, 'VOILUTFunction') ?? getString(ds, 'VOILUTFunction') ?? 'LINEAR').toLowerCase().replace('_', '-');
      return { center, width, fn: fn === 'sigmoid' || fn === 'linear-exact' ? fn : 'linear' };
    }
  }
  return undefined;
}

function voi(x: number, w: Window): number {
  const { center: c, width: wd } = w;
  if (w.fn === 'sigmoid') return 255 / (1 + Math.exp((-4 * (x - c)) / wd));
  if (w.fn === 'linear-exact') return ((x - c) / wd + 0.5) * 255;
  if (wd <= 1) return x < c - 0.5 ? 0 : 255;
  return ((x - (c - 0.5)) / (wd - 1) + 0.5) * 255;
}

export interface Picture { readonly pixels: Uint8Array; readonly width: number; readonly height: number; readonly channels: 1 | 3 }

/** A decoded frame → 8-bit display pixels. */
export function toDisplay(file: DicomFile, frame: DecodedFrame, frameIndex: number, params: RenderParams): Picture {
  const { rows, columns, data } = frame;
  const n = rows * columns;
  const px = file.pixel;
  if (frame.samplesPerPixel === 3) {
    const shift = Math.max(0, (px?.BitsStored ?? 8) - 8);
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n * 3; i++) out[i] = Math.max(0, Math.min(255, (data[i] ?? 0) >> shift));
    return { pixels: out, width: columns, height: rows, channels: 3 };
  }
  const ref = framesOf(file)[frameIndex];
  const slope = ref?.rescaleSlope ?? 1;
  const intercept = ref?.rescaleIntercept ?? 0;
  let window = params.window ?? storedWindow(file.dataset, frameIndex);
  if (!window) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = (data[i] ?? 0) * slope + intercept;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    window = { center: (lo + hi) / 2, width: Math.max(1, hi - lo), fn: 'linear-exact' };
  }
  const invert = px?.PhotometricInterpretation === 'MONOCHROME1';
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const g = Math.max(0, Math.min(255, Math.round(voi((data[i] ?? 0) * slope + intercept, window))));
    out[i] = invert ? 255 - g : g;
  }
  return { pixels: out, width: columns, height: rows, channels: 1 };
}

/** Area-average resampling to fit inside `box`, aspect ratio kept. */
export function fitInto(p: Picture, box: { width: number; height: number }): Picture {
  const scale = Math.min(box.width / p.width, box.height / p.height);
  const width = Math.max(1, Math.round(p.width * scale));
  const height = Math.max(1, Math.round(p.height * scale));
  if (width === p.width && height === p.height) return p;
  const ch = p.channels;
  const out = new Uint8Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    const y0 = Math.floor((y * p.height) / height);
    const y1 = Math.max(y0 + 1, Math.floor(((y + 1) * p.height) / height));
    for (let x = 0; x < width; x++) {
      const x0 = Math.floor((x * p.width) / width);
      const x1 = Math.max(x0 + 1, Math.floor(((x + 1) * p.width) / width));
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += p.pixels[(yy * p.width + xx) * ch + c] ?? 0;
        out[(y * width + x) * ch + c] = Math.round(sum / ((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return { pixels: out, width, height, channels: ch };
}

async function renderPng(ctx: DicomWebContext, rec: InstanceRecord, frameIndex: number, params: RenderParams): Promise<Buffer> {
  const file = await readWhole(ctx, rec);
  if (!file.pixel) throw new SrError('DICOM_NO_PIXEL_DATA', `instance ${rec.sopInstanceUid} has no pixel data to render`, { details: { sop: rec.sopInstanceUid } });
  if (frameIndex >= file.frameCount) {
    throw new SrError('DICOM_FRAME_OUT_OF_RANGE', `frame ${frameIndex + 1} requested; instance ${rec.sopInstanceUid} has ${file.frameCount}`, {
      details: { frame: frameIndex + 1, frames: file.frameCount },
    });
  }
  let pic = toDisplay(file, await file.decodeFrame(frameIndex), frameIndex, params);
  if (params.viewport) pic = fitInto(pic, params.viewport);
  return encodePng(pic.pixels, pic.width, pic.height, pic.channels);
}

function negotiatePng(req: FastifyRequest): void {
  if (!acceptsType(parseAccept(req.headers.accept), 'image/png')) throw notAcceptable(req.headers.accept, 'image/png');
}

async function rendered(ctx: DicomWebContext, path: ResourcePath, frameList: string | undefined, thumbnail: boolean, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  negotiatePng(req);
  let params = parseRenderParams(req.query);
  if (thumbnail && !params.viewport) params = { ...params, viewport: { width: THUMBNAIL_SIZE, height: THUMBNAIL_SIZE } };
  let frameIndex = 0;
  if (frameList !== undefined) {
    if (!/^\d{1,7}$/.test(frameList) || Number(frameList) < 1) throw badParam(`rendered frames take one frame number from 1, got "${frameList.slice(0, 40)}"`);
    frameIndex = Number(frameList) - 1;
  }
  const list = await instancesOf(ctx, path);
  // A study or series thumbnail shows its middle image (of the instances that have rows, i.e. images).
  const images = list.filter((r) => r.rows !== null && r.rows > 0);
  const rec = path.instance ? list[0] : images[Math.floor(images.length / 2)];
  if (!rec) throw new SrError('NOT_FOUND', 'no image to render in this resource', { details: { ...path } });
  const png = await renderPng(ctx, rec, frameIndex, params);
  await reply.code(200).type('image/png').send(png);
}

export function registerRendered(app: FastifyInstance, ctx: DicomWebContext): void {
  const inst = '/studies/:study/series/:series/instances/:instance';
  app.get(`${inst}/rendered`, (req, reply) => rendered(ctx, pathOf(req.params), undefined, false, req, reply));
  app.get(`${inst}/frames/:frames/rendered`, (req, reply) =>
    rendered(ctx, pathOf(req.params), String((req.params as Record<string, unknown>)['frames'] ?? ''), false, req, reply));
  app.get(`${inst}/thumbnail`, (req, reply) => rendered(ctx, pathOf(req.params), undefined, true, req, reply));
  app.get('/studies/:study/series/:series/thumbnail', (req, reply) => rendered(ctx, pathOf(req.params), undefined, true, req, reply));
  app.get('/studies/:study/thumbnail', (req, reply) => rendered(ctx, pathOf(req.params), undefined, true, req, reply));
}
