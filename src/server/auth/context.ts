/**
 * The authentication contract every part of the server builds on: the roles, the signed-in user of a request,
 * and the access rule a route declares. The auth hook (src/server/auth) sets the user; route tables declare
 * `access`; the audit trail reads both. Fail closed: a route that declares nothing is for admins only.
 */
import type { FastifyRequest } from 'fastify';

/** ARCHITECTURE.md "Security model": the four roles. */
export const ROLES = ['radiologist', 'technologist', 'researcher', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface AuthUser {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly displayName?: string;
}

export interface RouteAccess {
  /** 'public' = no sign-in (login, health, the web app's static files); else the roles allowed (admin always is). */
  readonly roles: readonly Role[] | 'public';
  /** The route reads or writes identifiable patient data: audited, and never served to researchers. */
  readonly patientData?: boolean;
  /** Open to a user who must change their password first (me, logout, change password); every other route refuses them. */
  readonly duringPasswordChange?: boolean;
  /** Also accepts HTTP Basic credentials (DICOMweb: PACS and viewer configurations use them). */
  readonly httpBasic?: boolean;
}

/** No sign-in: health, OpenAPI, login, the web app's static files. */
export const PUBLIC: RouteAccess = { roles: 'public' };
/** What a route that declares nothing gets (fail closed). */
export const ADMIN_ONLY: RouteAccess = { roles: ['admin'] };
/** Any signed-in user. */
export const SIGNED_IN: RouteAccess = { roles: ROLES };

/**
 * For routes registered directly on fastify (not through a RouteDef table): `app.get(url, { config: routeConfig(PUBLIC) }, h)`.
 * The auth hook reads `config.access`; a route without it is for admins only.
 */
export function routeConfig(access: RouteAccess): { access: RouteAccess } {
  return { access };
}

// Route config carries the access rule: `{ config: { access } }` on any fastify route (the auth hook reads it).
declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

const users = new WeakMap<FastifyRequest, AuthUser>();

/** The signed-in user of this request, once the auth hook has run; undefined for anonymous requests. */
export function requestUser(request: FastifyRequest): AuthUser | undefined {
  return users.get(request);
}

export function setRequestUser(request: FastifyRequest, user: AuthUser): void {
  users.set(request, user);
}

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}
