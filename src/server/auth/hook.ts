/**
 * Enforcement: one onRequest hook on the root fastify instance, so it runs for every route of every plugin
 * (/api/v1, /dicom-web, the web app, and whatever is registered later). It reads the route's `config.access`
 * (set from RouteDef.access, or by a plugin's own onRoute hook); a route without one is for admins only.
 * Credentials: `Authorization: Bearer <token>`, the `sr_session` cookie, and HTTP Basic where the route allows it.
 *
 * An onRoute hook records every route with a getter for its access, for the test that enumerates them all.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isSrError, SrError } from '../../core/index.ts';
import { NO_AUDIT } from '../audit/types.ts';
import type { AuditSink } from '../audit/types.ts';
import { ADMIN_ONLY, setRequestUser } from './context.ts';
import type { AuthUser, RouteAccess } from './context.ts';
import type { AuthService, SessionUser } from './service.ts';

export const SESSION_COOKIE = 'sr_session';
const REALM = 'SecondReader';

export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  /** The access the route ended up with (read late: a plugin's onRoute hook may set it after ours ran). */
  access(): RouteAccess | undefined;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route registered on `app` since installAuth (HEAD twins included). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

export function routeAccess(config: unknown): RouteAccess | undefined {
  if (typeof config !== 'object' || config === null) return undefined;
  const a = (config as { access?: unknown }).access;
  if (typeof a !== 'object' || a === null) return undefined;
  const roles = (a as { roles?: unknown }).roles;
  return roles === 'public' || Array.isArray(roles) ? (a as RouteAccess) : undefined;
}

/** Whether `user` may use a route with `access` (public routes aside). Admin always may; researchers never touch patient data. */
export function allowed(user: AuthUser, access: RouteAccess): boolean {
  if (access.roles === 'public') return true;
  if (user.role === 'admin') return true;
  if (access.patientData && user.role === 'researcher') return false;
  return access.roles.includes(user.role);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined; // malformed %-escape: no such cookie
      }
    }
  }
  return undefined;
}

/** A cookie of the request. */
export function requestCookie(req: FastifyRequest, name: string): string | undefined {
  return cookieValue(req.headers.cookie, name);
}

/** The session token a request carries (Bearer header first, then the cookie). */
export function requestToken(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  if (m?.[1]) return m[1];
  return cookieValue(req.headers.cookie, SESSION_COOKIE);
}

function basicCredentials(req: FastifyRequest): { username: string; password: string } | undefined {
  const h = req.headers.authorization;
  const m = h ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(h) : null;
  if (!m?.[1]) return undefined;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? undefined : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function cookieIsSecure(auth: AuthService, req: FastifyRequest): boolean {
  return auth.config.cookieSecure === 'always' || (auth.config.cookieSecure === 'auto' && req.protocol === 'https');
}

/** Set-Cookie for a new session (HttpOnly, SameSite=Strict: the browser never sends it cross-site, so no CSRF). */
export function sessionCookie(auth: AuthService, req: FastifyRequest, token: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}${cookieIsSecure(auth, req) ? '; Secure' : ''}`;
}

export function clearedSessionCookie(auth: AuthService, req: FastifyRequest): string {
  return sessionCookie(auth, req, '', 0);
}

export interface AuthHookOptions {
  readonly auth: AuthService;
  readonly audit?: AuditSink | undefined;
}

/** Installs the route recorder and the enforcement hook on the root instance, before any route is registered. */
export function installAuth(app: FastifyInstance, o: AuthHookOptions): void {
  const audit = o.audit ?? NO_AUDIT;
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);
  app.addHook('onRoute', (opts) => {
    for (const method of [opts.method].flat()) routes.push({ method, url: opts.url, access: () => routeAccess(opts.config) });
  });

  const deny = async (req: FastifyRequest, reply: FastifyReply, access: RouteAccess, user: AuthUser | undefined, e: SrError): Promise<never> => {
    if (e.status === 401) {
      reply.header('www-authenticate', access.httpBasic && o.auth.config.dicomWebBasic ? [`Bearer realm="${REALM}"`, `Basic realm="${REALM}", charset="UTF-8"`] : `Bearer realm="${REALM}"`);
    }
    try {
      await audit.record({
        action: 'access', outcome: 'denied', actor: user?.username ?? null, actorRole: user?.role ?? null, source: req.ip,
        object: `${req.method} ${req.url.split('?')[0] ?? ''}`, details: { code: e.code },
      });
    } catch {
      // AuditSink.record never throws by contract; a broken sink must not turn a 401 into a 500.
    }
    throw e;
  };

  app.addHook('onRequest', async (req, reply) => {
    // Unknown paths answer 404 to everyone: the not-found handler serves nothing.
    if (req.is404) return;
    const access = routeAccess(req.routeOptions.config) ?? ADMIN_ONLY;
    if (access.roles === 'public') return;
    let user: SessionUser | undefined;
    const token = requestToken(req);
    const basic = access.httpBasic && o.auth.config.dicomWebBasic && token === undefined ? basicCredentials(req) : undefined;
    try {
      if (token !== undefined) user = await o.auth.resolveToken(token);
      else if (basic) user = await o.auth.resolveBasic(basic.username, basic.password, req.ip);
    } catch (e) {
      if (isSrError(e, 'AUTH_INVALID_CREDENTIALS') || isSrError(e, 'AUTH_LOCKED')) return deny(req, reply, access, undefined, e);
      throw e;
    }
    if (!user) {
      return deny(req, reply, access, undefined, new SrError('AUTH_REQUIRED', token !== undefined ? 'the session has expired or was ended: sign in again' : 'sign in first (POST /api/v1/auth/login)', {
        details: { schemes: access.httpBasic && o.auth.config.dicomWebBasic ? ['Bearer', 'cookie', 'Basic'] : ['Bearer', 'cookie'] },
      }));
    }
    setRequestUser(req, user);
    if (user.mustChangePassword && !access.duringPasswordChange) {
      return deny(req, reply, access, user, new SrError('AUTH_PASSWORD_CHANGE_REQUIRED', 'change your password first (POST /api/v1/auth/password)'));
    }
    if (!allowed(user, access)) {
      return deny(req, reply, access, user, new SrError('FORBIDDEN', `role ${user.role} may not ${req.method} this resource`, {
        details: { role: user.role, allowed: access.roles, ...(access.patientData ? { patientData: true } : {}) },
      }));
    }
  });
}
