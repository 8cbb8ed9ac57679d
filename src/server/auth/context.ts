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
