/**
 * The DICOMweb service as a fastify plugin. Register it with a prefix (the server uses /dicom-web):
 *   app.register(registerDicomWeb, { prefix: '/dicom-web', archive, log, maxUploadBytes })
 * The plugin is encapsulated (not wrapped in fastify-plugin): its body parsing, error and not-found handlers apply
 * to its own routes only. Every error leaves as JSON {code, status, message, details} with the catalogue's status.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SrError, type ErrorCode } from '../core/errors.ts';
import type { RouteAccess } from '../server/auth/context.ts';
import type { DicomWebContext, DicomWebOptions } from './context.ts';
import { registerQido } from './qido.ts';
import { registerRendered } from './render.ts';
import { registerStow } from './stow.ts';
import { registerWado } from './wado.ts';

function fastifyCode(e: FastifyError): ErrorCode {
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return 'HTTP_PAYLOAD_TOO_LARGE';
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'HTTP_UNSUPPORTED_MEDIA_TYPE';
  if (e.statusCode === 404) return 'NOT_FOUND';
  return 'HTTP_BAD_REQUEST';
}

/** Anything thrown → SrError; unexpected errors keep their message for the log but become HTTP_INTERNAL_ERROR. */
export function toHttpError(e: unknown): SrError {
  if (e instanceof SrError) return e;
  const fe = e as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new SrError(fastifyCode(fe as FastifyError), fe.message ?? 'bad request', { cause: e });
  }
  return new SrError('HTTP_INTERNAL_ERROR', `unexpected error: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/**
 * Who may use DICOMweb (docs/security.md): clinical roles read (QIDO/WADO) and store (STOW); researchers never
 * (they get the de-identified research export). HTTP Basic is accepted besides the session token: PACS and viewer
 * configurations use it. Enforced by the server's auth hook (src/server/auth/hook.ts) from each route's config.
 */
export const DICOMWEB_READ: RouteAccess = { roles: ['radiologist', 'technologist', 'admin'], patientData: true, httpBasic: true };
export const DICOMWEB_STORE: RouteAccess = { roles: ['technologist', 'radiologist', 'admin'], patientData: true, httpBasic: true };

export async function registerDicomWeb(app: FastifyInstance, options: DicomWebOptions): Promise<void> {
  if (!Number.isFinite(options.maxUploadBytes) || options.maxUploadBytes <= 0) {
    throw new SrError('CONFIG_INVALID', `DICOMweb maxUploadBytes must be a positive number, got ${String(options.maxUploadBytes)}`);
  }
  const ctx: DicomWebContext = {
    archive: options.archive,
    log: options.log,
    maxUploadBytes: options.maxUploadBytes,
    ...(options.onStored ? { onStored: options.onStored } : {}),
    prefix: app.prefix,
  };
  // STOW bodies are streamed by the route itself (size limit, part by part): hand every body over unread.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req: FastifyRequest, payload: unknown, done: (err: Error | null, body?: unknown) => void) => done(null, payload));

  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const e = toHttpError(err);
    const fields = { method: req.method, url: req.url, status: e.status, code: e.code, error: e.message };
    if (e.status >= 500) ctx.log.error('dicomweb error', { ...fields, cause: e.cause instanceof Error ? e.cause.stack : undefined });
    else ctx.log.warn('dicomweb request rejected', fields);
    void reply.code(e.status).type('application/json').send(JSON.stringify(e.toJSON()));
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const e = new SrError('NOT_FOUND', `no DICOMweb resource ${req.method} ${req.url.split('?')[0] ?? ''}`, { details: { method: req.method } });
    ctx.log.warn('dicomweb request rejected', { method: req.method, url: req.url, status: 404, code: e.code });
    void reply.code(404).type('application/json').send(JSON.stringify(e.toJSON()));
  });
  app.addHook('onResponse', async (req, reply) => {
    ctx.log.info('dicomweb request', { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime), remote: req.ip });
  });

  // Every route of this plugin gets its access from its method, whatever file registers it.
  app.addHook('onRoute', (route) => {
    const write = [route.method].flat().some((m) => m !== 'GET' && m !== 'HEAD');
    route.config = { ...(route.config ?? {}), access: write ? DICOMWEB_STORE : DICOMWEB_READ };
  });
  registerStow(app, ctx);
  registerQido(app, ctx);
  registerWado(app, ctx);
  registerRendered(app, ctx);
}
