export * from './context.ts';
export { AuthService, DEFAULT_AUTH_CONFIG, normalizeUsername } from './service.ts';
export type { AuthConfig, AuthServiceOptions, LoginResult, PublicUser, SessionUser } from './service.ts';
export { migrateAuth } from './store.ts';
export { allowed, clearedSessionCookie, installAuth, registeredRoutes, requestToken, SESSION_COOKIE, sessionCookie } from './hook.ts';
export type { RegisteredRoute } from './hook.ts';
export { hashPassword, verifyPassword, PASSWORD_MIN_LENGTH } from './password.ts';
