/**
 * The HTTP composition: a fastify instance with /api/v1 (route table in routes.ts), its OpenAPI document, and
 * DICOMweb under /dicom-web. Every dependency is passed in; nothing here opens a database or a port, so tests
 * drive the whole API in-process with `app.inject`.
 */
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { isSrError, SrError } from '../core/index.ts';
import type { ErrorCode } from '../core/index.ts';
import type { AuditSink } from './audit/types.ts';
import { PUBLIC, routeConfig } from './auth/context.ts';
import { installAuth } from './auth/hook.ts';
import { registerAuditHook } from './audit/hook.ts';
import { OPENAPI_PATH, openApiDocument } from './openapi.ts';
import { registerWebApp } from './web-static.ts';
import { dbOf, endReviewStreams } from './review/index.ts';
import { registerHardening } from './hardening.ts';
import type { HardeningOptions } from './hardening.ts';
import { API_PREFIX, ROUTES } from './routes.ts';
import type { ApiDeps } from './routes.ts';

/** Mounts DICOMweb on a scope whose prefix is /dicom-web (src/dicomweb's registerDicomWeb, adapted by the caller). */
export type DicomWebMount = (scope: FastifyInstance) => Promise<void>;

export interface AppOptions extends ApiDeps {
  readonly dicomWeb?: DicomWebMount;
  /** The web app's folder (web/dist by default); `false` serves no web app. */
  readonly webRoot?: string | false;
  /** Where denied requests (and, through `auth`, logins) are recorded; default: nowhere. */
  readonly audit?: AuditSink;
  /** Security headers and rate limiting (src/server/hardening.ts); default limits when absent. */
  readonly hardening?: HardeningOptions;
}

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'HTTP_BAD_REQUEST', 404: 'NOT_FOUND', 406: 'HTTP_NOT_ACCEPTABLE', 413: 'HTTP_PAYLOAD_TOO_LARGE', 415: 'HTTP_UNSUPPORTED_MEDIA_TYPE',
};

/** Anything thrown in a route → the SrError the client sees. */
export function toHttpError(err: unknown): SrError {
  if (isSrError(err)) return err;
  const fe = err as Partial<FastifyError>;
  if (Array.isArray(fe.validation)) {
    return new SrError('HTTP_BAD_REQUEST', fe.message ?? 'request does not match the schema', {
      cause: err, details: { context: fe.validationContext, problems: fe.validation.map((v) => ({ path: v.instancePath, message: v.message ?? '' })) },
    });
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  const code = STATUS_CODES[status] ?? (status >= 400 && status < 500 ? 'HTTP_BAD_REQUEST' : 'HTTP_INTERNAL_ERROR');
  return new SrError(code, fe.message ?? String(err), { cause: err, ...(fe.code ? { details: { fastifyCode: fe.code } } : {}) });
}

export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const { log } = options;
  const app = Fastify({
    logger: false,
    // Reject what a schema does not allow instead of silently dropping it: a typo'd field must not be ignored.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
  });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err);
    if (e.status >= 500) log.error('request failed', { method: req.method, url: req.url, code: e.code, error: e.message, cause: String(e.cause ?? '') });
    else log.debug('request rejected', { method: req.method, url: req.url, code: e.code, error: e.message });
    return reply.code(e.status).type('application/json').send(e.toJSON());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new SrError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    return reply.code(404).type('application/json').send(e.toJSON());
  });
  app.addHook('onResponse', async (req, reply) => {
    log.debug('http', { method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) });
  });
  // Security headers on every response and per-client rate limiting, ahead of auth (src/server/hardening.ts).
  await registerHardening(app, options.hardening);
  // Before any route: every route registered from here on, by any plugin, passes the auth hook (src/server/auth/hook.ts).
  installAuth(app, { auth: options.auth, audit: options.audit });
  // Every read/write of a patientData route is recorded once answered (src/server/audit/hook.ts).
  if (options.audit) registerAuditHook(app, options.audit);

  await app.register(async (api) => {
    for (const r of ROUTES) api.route({ method: r.method, url: r.url, schema: r.schema, handler: r.handler(options), ...(r.access ? { config: routeConfig(r.access) } : {}) });
    const doc = openApiDocument();
    api.get(OPENAPI_PATH.slice(API_PREFIX.length), { config: routeConfig(PUBLIC), schema: { response: { 200: { type: 'object', additionalProperties: true } } } }, async () => doc);
  }, { prefix: API_PREFIX });

  if (options.dicomWeb) {
    const mount = options.dicomWeb;
    await app.register(async (scope) => mount(scope), { prefix: '/dicom-web' });
  }
  if (options.webRoot !== false) await registerWebApp(app, { root: options.webRoot, log });
  // Server-Sent Event streams (review/events.ts) never go idle: end them so that close() does not wait on browsers.
  app.addHook('preClose', async () => endReviewStreams(dbOf(options.archive)));
  return app;
}
