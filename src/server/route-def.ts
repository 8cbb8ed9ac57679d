/**
 * The shape of an /api/v1 route table entry, shared by every route table (routes.ts and the per-area tables that
 * routes.ts concatenates), so that area tables never import routes.ts (no import cycles).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/index.ts';
import type { Archive } from '../archive/index.ts';
import type { AnalysisRegistry } from '../engine/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { AuditSink } from './audit/types.ts';
import type { RouteAccess } from './auth/context.ts';
import type { AuthService } from './auth/service.ts';
import type { JsonSchema } from './schemas.ts';

export const API_PREFIX = '/api/v1';

export interface ApiDeps {
  readonly archive: Archive;
  readonly queue: JobQueue;
  readonly registry: AnalysisRegistry;
  readonly log: Logger;
  /** Users and sessions (src/server/auth): the auth routes use it; the enforcement hook in createApp too. */
  readonly auth: AuthService;
  /** The audit trail, for routes that record their own clinical acts (review decisions, sign-off); createApp's `audit`. */
  readonly audit?: AuditSink | undefined;
  /** For /health: what this process serves besides HTTP. */
  readonly dicom?: { readonly aeTitle: string; readonly port: number } | undefined;
}

export interface RouteSchema {
  readonly params?: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly body?: JsonSchema;
  readonly response: Readonly<Record<number, JsonSchema>>;
}

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export interface RouteDef {
  readonly method: 'GET' | 'POST';
  /** Relative to API_PREFIX, fastify syntax (:param). */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: string;
  readonly schema: RouteSchema;
  /** Non-JSON 200 bodies (attachments): media type → OpenAPI schema. */
  readonly produces?: Readonly<Record<string, JsonSchema>>;
  readonly handler: (deps: ApiDeps) => Handler;
  /** Who may call it (src/server/auth/context.ts). A route without `access` is refused to everyone but admins. */
  readonly access?: RouteAccess;
}

export function obj(properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema {
  return { type: 'object', additionalProperties: false, properties, required };
}

// Fastify validated these against the route schema before the handler runs, so the casts only name the shape.
export function params<T>(req: FastifyRequest): T {
  return req.params as T;
}
export function query<T>(req: FastifyRequest): T {
  return req.query as T;
}

