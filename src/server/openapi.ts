/**
 * OpenAPI 3.1 from the route table. 3.1 schemas are JSON Schema (2020-12), so the fastify route schemas go in as
 * they are. A dozen lines of our own instead of @fastify/swagger: the table is the source, and the output must be
 * byte-stable to be committed (docs/openapi.json, checked by a test).
 */
import { GENERATOR } from '../core/index.ts';
import { API_PREFIX, ROUTES } from './routes.ts';
import type { RouteDef } from './routes.ts';
import type { JsonSchema } from './schemas.ts';

export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;

function parameters(schema: JsonSchema | undefined, where: 'path' | 'query'): Record<string, unknown>[] {
  if (!schema) return [];
  const props = (schema['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === 'path' || required.has(name), schema: s }));
}

const REASONS: Readonly<Record<number, string>> = {
  200: 'OK', 201: 'Created', 202: 'Accepted', 400: 'Bad request (HTTP_BAD_REQUEST: the request does not match the schema)',
  401: 'Not signed in (AUTH_REQUIRED) or wrong credentials (AUTH_INVALID_CREDENTIALS)', 403: 'Role not allowed (FORBIDDEN) or password change pending',
  404: 'Not found', 409: 'Conflict', 423: 'Account locked after repeated failed sign-ins (AUTH_LOCKED)',
  500: 'Unexpected server error', 503: 'Service unavailable',
};

function operation(r: RouteDef): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  if (r.produces) {
    responses['200'] = { description: 'OK', content: Object.fromEntries(Object.entries(r.produces).map(([type, schema]) => [type, { schema }])) };
  }
  for (const [status, schema] of Object.entries(r.schema.response)) {
    responses[status] = { description: REASONS[Number(status)] ?? `HTTP ${status}`, content: { 'application/json': { schema } } };
  }
  const roles = r.access?.roles ?? ['admin'];
  return {
    operationId: r.operationId,
    summary: r.summary,
    tags: [r.tag],
    // Who may call it (docs/security.md); a route that declares nothing is for admins only.
    security: roles === 'public' ? [] : [{ bearerAuth: [] }, { cookieAuth: [] }],
    'x-roles': roles === 'public' ? 'public' : [...new Set([...roles, 'admin'])].filter((x) => !(r.access?.patientData && x === 'researcher')),
    ...(r.schema.params || r.schema.querystring ? { parameters: [...parameters(r.schema.params, 'path'), ...parameters(r.schema.querystring, 'query')] } : {}),
    ...(r.schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: r.schema.body } } } } : {}),
    responses,
  };
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of ROUTES) {
    const path = API_PREFIX + r.url.replace(/:([A-Za-z]+)/g, '{$1}');
    (paths[path] ??= {})[r.method.toLowerCase()] = operation(r);
  }
  paths[OPENAPI_PATH] = {
    get: { operationId: 'getOpenApi', summary: 'This document.', tags: ['system'], security: [], 'x-roles': 'public', responses: { 200: { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } } },
  };
  const sorted = Object.fromEntries(Object.keys(paths).sort().map((k) => [k, paths[k]]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'SecondReader API',
      version: GENERATOR.version,
      description:
        'REST API of a SecondReader server. Generated from the route schemas in src/server/routes.ts (do not edit docs/openapi.json by hand; ' +
        'regenerate with `SECONDREADER_UPDATE_OPENAPI=1 node scripts/run-tests.mjs src/server/openapi.test.ts`). Errors are SrError bodies ' +
        '{code, status, message, details}; the codes are listed in src/core/errors.ts. Results are AI-assisted; not a diagnosis; ' +
        'they require physician confirmation. DICOMweb (QIDO-RS, WADO-RS, STOW-RS) is served under /dicom-web as the standard (PS3.18) defines it.',
    },
    paths: sorted,
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'The token from POST /api/v1/auth/login.' },
        cookieAuth: { type: 'apiKey', in: 'cookie', name: 'sr_session', description: 'Set by POST /api/v1/auth/login (HttpOnly, SameSite=Strict).' },
      },
    },
  };
}

/** The committed file's exact text. */
export function openApiText(): string {
  return JSON.stringify(openApiDocument(), null, 2) + '\n';
}
