/**
 * /api/v1/auth: login, logout, the signed-in user, password change, and user administration (admins).
 * Spread into ROUTES (routes.ts). The session token comes back in the body (API clients: `Authorization: Bearer`)
 * and as the `sr_session` cookie (the web app: HttpOnly, SameSite=Strict).
 */
import { SrError } from '../core/index.ts';
import { ADMIN_ONLY, PUBLIC, requestUser, ROLES, SIGNED_IN } from './auth/context.ts';
import type { Role } from './auth/context.ts';
import { clearedSessionCookie, cookieIsSecure, requestCookie, requestToken, sessionCookie } from './auth/hook.ts';
import type { PublicUser, SessionUser } from './auth/service.ts';
import { obj, params } from './route-def.ts';
import type { RouteDef } from './route-def.ts';
import { errors } from './schemas.ts';
import type { JsonSchema } from './schemas.ts';

const USERNAME: JsonSchema = { type: 'string', minLength: 1, maxLength: 64 };
const PASSWORD: JsonSchema = { type: 'string', minLength: 1, maxLength: 256 };
const ROLE: JsonSchema = { type: 'string', enum: [...ROLES] };

const ME = obj({
  username: { type: 'string' },
  role: ROLE,
  displayName: { type: ['string', 'null'] },
  mustChangePassword: { type: 'boolean' },
}, ['username', 'role', 'displayName', 'mustChangePassword']);

const USER = obj({
  username: { type: 'string' },
  role: ROLE,
  displayName: { type: ['string', 'null'] },
  disabled: { type: 'boolean' },
  mustChangePassword: { type: 'boolean' },
  locked: { type: 'boolean' },
  createdAt: { type: 'string', format: 'date-time' },
  source: { type: 'string', enum: ['local', 'oidc'] },
}, ['username', 'role', 'displayName', 'disabled', 'mustChangePassword', 'locked', 'createdAt', 'source']);

function me(u: SessionUser): Record<string, unknown> {
  return { username: u.username, role: u.role, displayName: u.displayName ?? null, mustChangePassword: u.mustChangePassword };
}

function signedIn(req: Parameters<ReturnType<RouteDef['handler']>>[0]): SessionUser {
  const u = requestUser(req);
  // The hook has run (the route is not public), so a user is set; this only narrows the type.
  if (!u) throw new SrError('AUTH_REQUIRED', 'sign in first');
  return u as SessionUser;
}

const DURING_CHANGE = { ...SIGNED_IN, duringPasswordChange: true } as const;

/** Binds an OpenID sign-in to the browser that started it (login CSRF); Lax: it must come back on the provider's redirect. */
const OIDC_STATE_COOKIE = 'sr_oidc_state';
const OIDC_PATH = '/api/v1/auth/oidc';

/**
 * After the provider's redirect the browser is on a cross-site navigation, on which a SameSite=Strict cookie is
 * not sent; a page of our own that moves on to the app makes the next navigation same-site.
 */
const SIGNED_IN_PAGE = '<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>SecondReader</title></head>' +
  '<body><p>Signed in. <a href="/">Continue to SecondReader</a></p></body></html>';

export const AUTH_ROUTES: readonly RouteDef[] = [
  {
    method: 'POST', url: '/auth/login', operationId: 'login', tag: 'auth', access: PUBLIC,
    summary: 'Sign in: a session token (also set as the sr_session cookie). After N failed attempts the account is locked for a while (423 AUTH_LOCKED).',
    schema: {
      body: obj({ username: USERNAME, password: PASSWORD }, ['username', 'password']),
      response: { 200: obj({ token: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' }, user: ME }, ['token', 'expiresAt', 'user']), ...errors(400, 401, 423) },
    },
    handler: (d) => async (req, reply) => {
      const { username, password } = req.body as { username: string; password: string };
      const r = await d.auth.login(username, password, req.ip);
      const maxAge = (Date.parse(r.expiresAt) - Date.now()) / 1000;
      void reply.header('set-cookie', sessionCookie(d.auth, req, r.token, maxAge)).header('cache-control', 'no-store');
      return { token: r.token, expiresAt: r.expiresAt, user: me(r.user) };
    },
  },
  {
    method: 'POST', url: '/auth/logout', operationId: 'logout', tag: 'auth', access: PUBLIC,
    summary: 'End the session of the presented token or cookie (idempotent) and clear the cookie.',
    schema: { response: { 200: obj({ ok: { type: 'boolean' } }, ['ok']), ...errors() } },
    handler: (d) => async (req, reply) => {
      const token = requestToken(req);
      if (token !== undefined) await d.auth.logout(token, await d.auth.resolveToken(token), req.ip);
      void reply.header('set-cookie', clearedSessionCookie(d.auth, req));
      return { ok: true };
    },
  },
  {
    method: 'GET', url: '/auth/oidc/start', operationId: 'oidcStart', tag: 'auth', access: PUBLIC,
    summary: 'OpenID Connect sign-in: the identity provider URL to send the browser to (404 when OIDC is not configured).',
    schema: { response: { 200: obj({ url: { type: 'string' } }, ['url']), ...errors(404, 502) } },
    handler: (d) => async (req, reply) => {
      const { url, state } = await d.auth.oidcStart();
      const secure = cookieIsSecure(d.auth, req) ? '; Secure' : '';
      void reply.header('set-cookie', `${OIDC_STATE_COOKIE}=${state}; Path=${OIDC_PATH}; HttpOnly; SameSite=Lax; Max-Age=600${secure}`).header('cache-control', 'no-store');
      return { url };
    },
  },
  {
    method: 'GET', url: '/auth/oidc/callback', operationId: 'oidcCallback', tag: 'auth', access: PUBLIC,
    summary: 'Where the identity provider sends the browser back: opens a session (sr_session cookie) and continues to the web app.',
    schema: {
      // Providers add their own parameters (session_state, iss...): accepted, not read.
      querystring: { type: 'object', additionalProperties: true, properties: { code: { type: 'string', maxLength: 4096 }, state: { type: 'string', maxLength: 256 }, error: { type: 'string', maxLength: 256 } } },
      response: errors(401, 403, 404),
    },
    produces: { 'text/html': { type: 'string' } },
    handler: (d) => async (req, reply) => {
      const q = req.query as { code?: string; state?: string; error?: string };
      if (q.error !== undefined) throw new SrError('AUTH_OIDC_FAILED', `the identity provider refused the sign-in: ${q.error}`, { details: { error: q.error } });
      if (!q.code || !q.state) throw new SrError('AUTH_OIDC_FAILED', 'the callback lacks code or state');
      if (requestCookie(req, OIDC_STATE_COOKIE) !== q.state) throw new SrError('AUTH_OIDC_FAILED', 'this sign-in was not started from this browser: start again');
      const r = await d.auth.oidcFinish(q.state, q.code, req.ip);
      const maxAge = (Date.parse(r.expiresAt) - Date.now()) / 1000;
      const secure = cookieIsSecure(d.auth, req) ? '; Secure' : '';
      void reply.header('set-cookie', [sessionCookie(d.auth, req, r.token, maxAge), `${OIDC_STATE_COOKIE}=; Path=${OIDC_PATH}; HttpOnly; SameSite=Lax; Max-Age=0${secure}`]).header('cache-control', 'no-store');
      return reply.type('text/html; charset=utf-8').send(SIGNED_IN_PAGE);
    },
  },
  {
    method: 'GET', url: '/auth/me', operationId: 'getMe', tag: 'auth', access: DURING_CHANGE,
    summary: 'The signed-in user (mustChangePassword: only the password change is open until it is done).',
    schema: { response: { 200: ME, ...errors(401) } },
    handler: () => async (req) => me(signedIn(req)),
  },
  {
    method: 'POST', url: '/auth/password', operationId: 'changePassword', tag: 'auth', access: DURING_CHANGE,
    summary: 'Change your own password (required after a one-time or admin-set password); your other sessions end.',
    schema: { body: obj({ currentPassword: PASSWORD, newPassword: PASSWORD }, ['currentPassword', 'newPassword']), response: { 200: ME, ...errors(400, 401, 423) } },
    handler: (d) => async (req) => {
      const u = signedIn(req);
      const { currentPassword, newPassword } = req.body as { currentPassword: string; newPassword: string };
      await d.auth.changePassword(u, currentPassword, newPassword, req.ip, requestToken(req));
      return me({ ...u, mustChangePassword: false });
    },
  },
  {
    method: 'GET', url: '/auth/users', operationId: 'listUsers', tag: 'auth', access: ADMIN_ONLY, summary: 'Users (admins).',
    schema: { response: { 200: obj({ items: { type: 'array', items: USER } }, ['items']), ...errors(401, 403) } },
    handler: (d) => async () => ({ items: await d.auth.listUsers() }),
  },
  {
    method: 'POST', url: '/auth/users', operationId: 'createUser', tag: 'auth', access: ADMIN_ONLY,
    summary: 'Create a user (admins) with an initial password the user must change at first login.',
    schema: {
      body: obj({ username: USERNAME, password: PASSWORD, role: ROLE, displayName: { type: 'string', maxLength: 128 }, mustChangePassword: { type: 'boolean' } }, ['username', 'password', 'role']),
      response: { 201: USER, ...errors(400, 401, 403, 409) },
    },
    handler: (d) => async (req, reply) => {
      const b = req.body as { username: string; password: string; role: Role; displayName?: string; mustChangePassword?: boolean };
      const u: PublicUser = await d.auth.createUser(b, { actor: requestUser(req) ?? null, source: req.ip });
      return reply.code(201).send(u);
    },
  },
  {
    method: 'GET', url: '/auth/users/:username', operationId: 'getUser', tag: 'auth', access: ADMIN_ONLY, summary: 'One user (admins).',
    schema: { params: obj({ username: USERNAME }, ['username']), response: { 200: USER, ...errors(401, 403, 404) } },
    handler: (d) => async (req) => {
      const { username } = params<{ username: string }>(req);
      const u = await d.auth.getUser(username);
      if (!u) throw new SrError('NOT_FOUND', `no user ${username}`, { details: { username } });
      return u;
    },
  },
  {
    method: 'POST', url: '/auth/users/:username', operationId: 'updateUser', tag: 'auth', access: ADMIN_ONLY,
    summary: 'Change a user (admins): role, display name, disabled, a new initial password, unlock. Disabling, a role change or a new password ends their sessions.',
    schema: {
      params: obj({ username: USERNAME }, ['username']),
      body: obj({ role: ROLE, displayName: { type: ['string', 'null'], maxLength: 128 }, disabled: { type: 'boolean' }, password: PASSWORD, unlock: { type: 'boolean' } }),
      response: { 200: USER, ...errors(400, 401, 403, 404) },
    },
    handler: (d) => async (req) => {
      const { username } = params<{ username: string }>(req);
      const b = req.body as { role?: Role; displayName?: string | null; disabled?: boolean; password?: string; unlock?: boolean };
      return await d.auth.updateUser(username, b, { actor: requestUser(req) ?? null, source: req.ip });
    },
  },
];
