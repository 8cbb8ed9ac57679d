/**
 * Admin-only routes over the audit trail (src/server/audit): browse with filters and paging, export (JSON Lines
 * or CSV, streamed), verify the hash chain. The trail is the `audit` the app was created with; a server created
 * without an AuditTrail answers CONFIG_INVALID.
 */
import { Readable } from 'node:stream';
import { SrError } from '../core/index.ts';
import type { RouteAccess } from './auth/context.ts';
import { AuditTrail, exportLines } from './audit/index.ts';
import type { AuditFilter, ExportFormat } from './audit/index.ts';
import { obj, query } from './route-def.ts';
import type { ApiDeps, RouteDef } from './route-def.ts';
import { errors, page, PAGING } from './schemas.ts';

const ADMIN: RouteAccess = { roles: ['admin'] };

/** The trail the app was created with (AppOptions.audit); routes reach it through their deps. */
export function auditTrailOf(d: ApiDeps): AuditTrail {
  const audit: unknown = (d as ApiDeps & { readonly audit?: unknown }).audit;
  if (audit instanceof AuditTrail) return audit;
  throw new SrError('CONFIG_INVALID', 'this server has no audit trail configured');
}

const nstr = { type: ['string', 'null'] } as const;
const RECORD = obj({
  seq: { type: 'integer' }, at: { type: 'string' }, action: { type: 'string' }, outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
  actor: nstr, actorRole: nstr, source: { type: 'string' }, object: { type: 'string' }, studyInstanceUid: nstr, patientId: nstr,
  details: { type: ['object', 'null'], additionalProperties: true }, prevHash: { type: 'string' }, hash: { type: 'string' },
}, ['seq', 'at', 'action', 'outcome', 'actor', 'actorRole', 'source', 'object', 'studyInstanceUid', 'patientId', 'details', 'prevHash', 'hash']);

const text = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;

export const AUDIT_ROUTES: readonly RouteDef[] = [
  {
    method: 'GET', url: '/audit', operationId: 'listAuditEvents', tag: 'audit', access: ADMIN,
    summary: 'Audit trail events, newest first, filtered by actor, action, outcome, study and time (inclusive ISO-8601 bounds).',
    schema: {
      querystring: obj({
        ...PAGING, actor: text(256), action: text(64), outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
        studyInstanceUid: text(64), from: text(40), to: text(40),
      }),
      response: { 200: page(RECORD), ...errors(400, 401, 403) },
    },
    handler: (d) => async (req) => {
      const q = query<AuditFilter & { limit: number; offset: number }>(req);
      return { items: await auditTrailOf(d).list(q), limit: q.limit, offset: q.offset };
    },
  },
  {
    method: 'GET', url: '/audit/export', operationId: 'exportAuditTrail', tag: 'audit', access: ADMIN,
    summary: 'The whole audit trail in seq order, streamed: JSON Lines (default) or CSV.',
    schema: {
      querystring: obj({ format: { type: 'string', enum: ['jsonl', 'csv'], default: 'jsonl' } }),
      response: errors(400, 401, 403),
    },
    produces: { 'application/x-ndjson': { type: 'string' }, 'text/csv': { type: 'string' } },
    handler: (d) => async (req, reply) => {
      const trail = auditTrailOf(d);
      const { format } = query<{ format: ExportFormat }>(req);
      const name = `audit-${new Date().toISOString().slice(0, 10)}.${format}`;
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(Readable.from(exportLines(trail, format)));
    },
  },
  {
    method: 'GET', url: '/audit/verify', operationId: 'verifyAuditTrail', tag: 'audit', access: ADMIN,
    summary: 'Recomputes the hash chain: ok with the head (seq, hash) to record elsewhere, or the first broken seq.',
    schema: {
      response: {
        200: obj({
          ok: { type: 'boolean' }, count: { type: 'integer' }, headSeq: { type: 'integer' }, headHash: { type: 'string' },
          brokenSeq: { type: 'integer' }, reason: { type: 'string' },
        }, ['ok', 'count']),
        ...errors(401, 403),
      },
    },
    handler: (d) => async () => auditTrailOf(d).verify(),
  },
];
