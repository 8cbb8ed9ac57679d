/**
 * Records every request to a route that touches patient data (RouteAccess.patientData, or any DICOMweb route):
 * who (user, role), from where (IP), what (method + route with its parameters, the study UID when a parameter
 * names one), when, and how it ended (HTTP status → success / failure). Read vs write is the method. Refused
 * requests (401/403) are not recorded here: the auth hook records each denial itself.
 * Runs in onResponse, after the reply is sent: auditing never delays or fails a response.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requestUser } from '../auth/context.ts';
import type { RouteAccess } from '../auth/context.ts';
import type { AuditOutcome, AuditSink } from './types.ts';

/** What the hook needs of a route table entry (routes.ts RouteDef has it). */
export interface AuditedRoute {
  readonly method: string;
  readonly url: string;
  readonly access?: RouteAccess;
}

export interface AuditHookOptions {
  /**
   * Route table entries whose `access` says which routes are patient data, for routes registered without
   * `config.access` (createApp puts every route's access in its config, which is read first).
   */
  readonly routes?: readonly AuditedRoute[];
  /** Prefix of the route table's urls (default /api/v1). */
  readonly prefix?: string;
  /** URL prefixes whose every route is patient data (default: DICOMweb). */
  readonly patientDataPrefixes?: readonly string[];
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 'success' : 'failure';
}

function stringParam(params: unknown, ...names: string[]): string | undefined {
  if (typeof params !== 'object' || params === null) return undefined;
  for (const n of names) {
    const v = (params as Record<string, unknown>)[n];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** A route's access as declared in its fastify config (auth may put it there) — else undefined. */
function configAccess(req: FastifyRequest): RouteAccess | undefined {
  const config: unknown = req.routeOptions.config;
  if (typeof config !== 'object' || config === null) return undefined;
  const access = (config as { access?: unknown }).access;
  return typeof access === 'object' && access !== null && 'roles' in access ? (access as RouteAccess) : undefined;
}

export function registerAuditHook(app: FastifyInstance, sink: AuditSink, options: AuditHookOptions = {}): void {
  const prefix = options.prefix ?? '/api/v1';
  const table = new Map<string, RouteAccess | undefined>();
  for (const r of options.routes ?? []) table.set(`${r.method} ${prefix}${r.url}`, r.access);
  const dataPrefixes = options.patientDataPrefixes ?? ['/dicom-web/'];
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined) return; // 404: no route, nothing of a patient was touched
    const access = configAccess(req) ?? table.get(`${req.method} ${route}`);
    const patientData = access?.patientData === true || (access === undefined && dataPrefixes.some((p) => route.startsWith(p)));
    // Denials (401/403) are recorded by the auth hook (action 'access', outcome 'denied'), once.
    if (!patientData || reply.statusCode === 401 || reply.statusCode === 403) return;
    const user = requestUser(req);
    const params = req.params;
    const study = stringParam(params, 'studyInstanceUid', 'study') ?? (route.includes('/studies/:uid') ? stringParam(params, 'uid') : undefined);
    const query = typeof req.query === 'object' && req.query !== null && Object.keys(req.query).length > 0 ? { query: req.query as Record<string, unknown> } : {};
    await sink.record({
      action: READ_METHODS.has(req.method) ? 'read' : 'write',
      outcome: outcomeOf(reply.statusCode),
      actor: user?.username ?? null,
      actorRole: user?.role ?? null,
      source: req.ip,
      object: `${req.method} ${req.url.split('?')[0] ?? ''}`,
      studyInstanceUid: study ?? null,
      details: { route, status: reply.statusCode, ...query },
    });
  });
}
