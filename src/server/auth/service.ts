/**
 * Local users, sessions and lock-out over the AuthStore rows. Sessions are random 256-bit tokens; only their
 * SHA-256 is stored (a stolen database copy holds no usable token). A session ends at its absolute expiry, after
 * `sessionIdleMinutes` without use, at logout, when its user is disabled or changes password.
 * Every login, logout, lock-out and user change is handed to the AuditSink.
 */
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { SrError } from '../../core/index.ts';
import type { Logger } from '../../core/index.ts';
import type { SqlDb } from '../../archive/db.ts';
import { NO_AUDIT } from '../audit/types.ts';
import type { AuditEvent, AuditSink } from '../audit/types.ts';
import type { AuthUser, Role } from './context.ts';
import { hashPassword, needsRehash, passwordProblem, verifyPassword } from './password.ts';
import type { OidcClient, OidcConfig, OidcIdentity } from './oidc.ts';
import { AuthStore, migrateAuth } from './store.ts';
import type { UserRow } from './store.ts';

export interface AuthConfig {
  /** A session unused this long ends. */
  readonly sessionIdleMinutes: number;
  /** A session ends this long after login, used or not. */
  readonly sessionAbsoluteHours: number;
  /** Failed sign-ins of one user within `lockoutWindowMinutes` that lock the account... */
  readonly lockoutAttempts: number;
  readonly lockoutWindowMinutes: number;
  /** ...for this long. */
  readonly lockoutMinutes: number;
  /** The sr_session cookie's Secure flag: 'auto' = when the request came over https. */
  readonly cookieSecure: 'auto' | 'always' | 'never';
  /** HTTP Basic on /dicom-web (PACS and viewer configurations use it). */
  readonly dicomWebBasic: boolean;
  /** OpenID Connect sign-in besides local passwords; null = off (src/server/auth/oidc.ts). */
  readonly oidc: OidcConfig | null;
}

export const DEFAULT_AUTH_CONFIG: AuthConfig = {
  sessionIdleMinutes: 30,
  sessionAbsoluteHours: 12,
  lockoutAttempts: 5,
  lockoutWindowMinutes: 15,
  lockoutMinutes: 15,
  cookieSecure: 'auto',
  dicomWebBasic: true,
  oidc: null,
};

/** The signed-in user as the hook sees it: who, and whether the password must be changed before anything else. */
export interface SessionUser extends AuthUser {
  readonly mustChangePassword: boolean;
}

export interface LoginResult {
  readonly token: string;
  readonly expiresAt: string;
  readonly user: SessionUser;
}

export interface PublicUser {
  readonly username: string;
  readonly role: Role;
  readonly displayName: string | null;
  readonly disabled: boolean;
  readonly mustChangePassword: boolean;
  readonly locked: boolean;
  readonly createdAt: string;
  readonly source: 'local' | 'oidc';
}

export interface AuthServiceOptions {
  readonly db: SqlDb;
  readonly config?: Partial<AuthConfig>;
  readonly audit?: AuditSink;
  readonly log: Logger;
  /** Clock (tests). */
  readonly now?: () => number;
  /** OpenID Connect client (OidcClient.discover), when configured. */
  readonly oidc?: OidcClient;
}

const USERNAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/;
const MINUTE = 60_000;
/** How often a session's last use is written (a WADO viewer makes hundreds of requests a minute). */
const TOUCH_EVERY_MS = MINUTE;
const BASIC_CACHE_MS = MINUTE;
const BASIC_CACHE_MAX = 1000;

export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function normalizeUsername(username: string): string {
  return username.trim().toLowerCase();
}

function toPublic(u: UserRow, now: number): PublicUser {
  return {
    username: u.username, role: u.role, displayName: u.displayName, disabled: u.disabled, mustChangePassword: u.mustChangePassword,
    locked: u.lockedUntil > now, createdAt: new Date(u.createdAt).toISOString(), source: u.source,
  };
}

function sessionUser(u: UserRow): SessionUser {
  return { id: u.id, username: u.username, role: u.role, ...(u.displayName ? { displayName: u.displayName } : {}), mustChangePassword: u.mustChangePassword };
}

export class AuthService {
  readonly config: AuthConfig;
  readonly store: AuthStore;
  private readonly audit: AuditSink;
  private readonly log: Logger;
  private readonly now: () => number;
  /** HMAC(process secret, user:password) → user id: a Basic client is verified with scrypt once a minute, not per request. */
  private readonly basicCache = new Map<string, { userId: string; until: number }>();
  private readonly basicKey = randomBytes(32);
  private dummyHash: Promise<string> | undefined;
  readonly oidc: OidcClient | undefined;

  constructor(o: AuthServiceOptions) {
    this.config = { ...DEFAULT_AUTH_CONFIG, ...o.config };
    this.store = new AuthStore(o.db);
    this.audit = o.audit ?? NO_AUDIT;
    this.log = o.log;
    this.now = o.now ?? Date.now;
    this.oidc = o.oidc;
  }

  /** Opens the service over a database: creates the auth tables when missing. */
  static async open(o: AuthServiceOptions): Promise<AuthService> {
    await migrateAuth(o.db);
    return new AuthService(o);
  }

  private async record(e: AuditEvent): Promise<void> {
    try {
      await this.audit.record(e);
    } catch (err) {
      this.log.error('audit record failed', { action: e.action, error: err instanceof Error ? err.message : String(err) });
    }
  }

  /**
   * First start: when there is no user at all, creates `admin`. With `password` (SECONDREADER_ADMIN_PASSWORD) it
   * is that password; without, a random one-time secret that `announce` prints and that must be changed at first
   * login. Several processes starting at once create one admin (the insert is conditional).
   */
  async ensureFirstAdmin(o: { password?: string | undefined; announce: (text: string) => void }): Promise<'exists' | 'created'> {
    if ((await this.store.countUsers()) > 0) return 'exists';
    const fromEnv = o.password !== undefined && o.password !== '';
    if (fromEnv) {
      const problem = passwordProblem(o.password ?? '', 'admin');
      if (problem) throw new SrError('CONFIG_INVALID', `SECONDREADER_ADMIN_PASSWORD: ${problem}`);
    }
    const secret = fromEnv ? (o.password ?? '') : randomBytes(18).toString('base64url');
    const inserted = await this.store.insertUser(
      { id: randomUUID(), username: 'admin', displayName: 'Administrator', role: 'admin', passwordHash: await hashPassword(secret), mustChangePassword: !fromEnv },
      this.now(),
    );
    if (!inserted) return 'exists';
    await this.record({ action: 'user-create', outcome: 'success', actor: null, source: 'system', object: 'user:admin', details: { role: 'admin', firstStart: true, passwordFrom: fromEnv ? 'SECONDREADER_ADMIN_PASSWORD' : 'one-time secret' } });
    if (fromEnv) {
      this.log.info('first start: user admin created with the password from SECONDREADER_ADMIN_PASSWORD');
    } else {
      this.log.warn('first start: user admin created with a one-time secret printed on the console; it must be changed at first login');
      o.announce(
        '\n  First start: created the user "admin".\n' +
        `  One-time password: ${secret}\n` +
        '  Sign in with it (web app or POST /api/v1/auth/login); you will be asked to choose a new password.\n' +
        '  It is shown once and is not stored in clear anywhere.\n\n',
      );
    }
    return 'created';
  }

  private async dummyVerify(password: string): Promise<void> {
    // Unknown users cost a full scrypt too, so response time does not tell which usernames exist.
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    await verifyPassword(password, await this.dummyHash);
  }

  /**
   * Checks a username and password, with lock-out. Throws AUTH_INVALID_CREDENTIALS (unknown user, wrong password,
   * disabled user: one answer for all three) or AUTH_LOCKED.
   */
  async checkPassword(usernameIn: string, password: string, source: string, method: 'password' | 'basic'): Promise<UserRow> {
    const username = normalizeUsername(usernameIn);
    const now = this.now();
    const u = USERNAME.test(username) ? await this.store.userByName(username) : undefined;
    const fail = async (reason: string, actor: UserRow | undefined): Promise<never> => {
      await this.record({ action: 'login', outcome: 'failure', actor: actor?.username ?? null, actorRole: actor?.role ?? null, source, object: `user:${username.slice(0, 64)}`, details: { reason, method } });
      throw new SrError('AUTH_INVALID_CREDENTIALS', 'wrong username or password');
    };
    if (!u) {
      await this.dummyVerify(password);
      return fail('unknown user', undefined);
    }
    if (u.lockedUntil > now) {
      await this.record({ action: 'login', outcome: 'denied', actor: u.username, actorRole: u.role, source, object: `user:${u.username}`, details: { reason: 'locked', method } });
      throw new SrError('AUTH_LOCKED', `account ${u.username} is locked after repeated failed sign-ins; try again later or ask an administrator`, {
        details: { retryAfterSeconds: Math.ceil((u.lockedUntil - now) / 1000) },
      });
    }
    if (!(await verifyPassword(password, u.passwordHash))) {
      const count = await this.store.recordFailure(u.id, now, now - this.config.lockoutWindowMinutes * MINUTE);
      if (count >= this.config.lockoutAttempts) {
        const until = now + this.config.lockoutMinutes * MINUTE;
        await this.store.lock(u.id, until);
        this.log.warn('account locked after repeated failed sign-ins', { user: u.username, source, attempts: count });
        await this.record({ action: 'login-locked', outcome: 'denied', actor: u.username, actorRole: u.role, source, object: `user:${u.username}`, details: { attempts: count, lockedUntil: new Date(until).toISOString(), method } });
      }
      return fail('wrong password', u);
    }
    if (u.disabled) return fail('disabled', u);
    await this.store.clearFailures(u.id);
    if (needsRehash(u.passwordHash)) await this.store.updateUser(u.id, { passwordHash: await hashPassword(password) }, now);
    return u;
  }

  async login(username: string, password: string, source: string): Promise<LoginResult> {
    const u = await this.checkPassword(username, password, source, 'password');
    return this.openSession(u, source, 'password');
  }

  private async openSession(u: UserRow, source: string, method: 'password' | 'oidc'): Promise<LoginResult> {
    const now = this.now();
    const token = randomBytes(32).toString('base64url');
    const expiresAt = now + this.config.sessionAbsoluteHours * 60 * MINUTE;
    await this.store.insertSession({ tokenHash: tokenHash(token), userId: u.id, now, expiresAt });
    // Housekeeping on the login path: sessions that ended a day ago go.
    await this.store.purgeSessions(now - 24 * 60 * MINUTE);
    await this.record({ action: 'login', outcome: 'success', actor: u.username, actorRole: u.role, source, object: `user:${u.username}`, details: { method, mustChangePassword: u.mustChangePassword } });
    return { token, expiresAt: new Date(expiresAt).toISOString(), user: sessionUser(u) };
  }

  /** OpenID Connect: a pending sign-in (stored) and the provider URL for the browser. NOT_FOUND when OIDC is off. */
  async oidcStart(): Promise<{ url: string; state: string }> {
    if (!this.oidc) throw new SrError('NOT_FOUND', 'OpenID Connect sign-in is not configured on this server');
    const { pending, url } = this.oidc.start();
    await this.store.insertPending({ stateHash: tokenHash(pending.state), nonce: pending.nonce, verifier: pending.verifier, now: this.now() });
    return { url, state: pending.state };
  }

  /**
   * OpenID Connect callback: the pending sign-in of `state` (once, within 10 minutes), the code exchanged and the
   * ID token verified, the user created or updated (role from the claim at every sign-in), a session opened.
   * A local (password) user of the same name is never taken over.
   */
  async oidcFinish(state: string, code: string, source: string): Promise<LoginResult> {
    if (!this.oidc) throw new SrError('NOT_FOUND', 'OpenID Connect sign-in is not configured on this server');
    const now = this.now();
    const fail = async (e: SrError, actor: string | null): Promise<never> => {
      await this.record({ action: 'login', outcome: 'failure', actor, source, object: `user:${actor ?? 'unknown'}`, details: { method: 'oidc', code: e.code, reason: e.message } });
      throw e;
    };
    const p = await this.store.takePending(tokenHash(state));
    if (!p || p.createdAt < now - 10 * MINUTE) return fail(new SrError('AUTH_OIDC_FAILED', 'unknown, used or expired sign-in state: start again'), null);
    let id: OidcIdentity;
    try {
      id = await this.oidc.finish(code, { state, nonce: p.nonce, verifier: p.verifier }, now);
    } catch (e) {
      return fail(e instanceof SrError ? e : new SrError('AUTH_OIDC_FAILED', 'OpenID sign-in failed', { cause: e }), null);
    }
    let u = await this.store.userByName(id.username);
    if (u && u.source !== 'oidc') return fail(new SrError('AUTH_OIDC_FAILED', `a local account named ${id.username} exists; an administrator must rename or remove it first`), id.username);
    if (u?.disabled) return fail(new SrError('AUTH_OIDC_FAILED', `account ${id.username} is disabled`), id.username);
    if (!u) {
      // No usable password: 'oidc' is not a hash, so a password sign-in as this user always fails.
      await this.store.insertUser({ id: randomUUID(), username: id.username, displayName: id.displayName, role: id.role, passwordHash: 'oidc', mustChangePassword: false, source: 'oidc' }, now);
      await this.record({ action: 'user-create', outcome: 'success', actor: null, source, object: `user:${id.username}`, details: { role: id.role, via: 'oidc', subject: id.subject } });
    } else if (u.role !== id.role || u.displayName !== id.displayName) {
      await this.store.updateUser(u.id, { role: id.role, displayName: id.displayName }, now);
      if (u.role !== id.role) await this.store.revokeUserSessions(u.id, now);
    }
    u = await this.store.userByName(id.username);
    if (!u) return fail(new SrError('AUTH_OIDC_FAILED', `user ${id.username} could not be stored`), id.username);
    return this.openSession(u, source, 'oidc');
  }

  /** The user of a session token, or undefined when the token is unknown, expired, idle too long, revoked or its user disabled. */
  async resolveToken(token: string): Promise<SessionUser | undefined> {
    if (token.length < 20 || token.length > 100) return undefined;
    const h = tokenHash(token);
    const s = await this.store.session(h);
    const now = this.now();
    if (!s || s.revokedAt !== null || now >= s.expiresAt || now >= s.lastSeenAt + this.config.sessionIdleMinutes * MINUTE) return undefined;
    const u = await this.store.userById(s.userId);
    if (!u || u.disabled) return undefined;
    if (now - s.lastSeenAt >= Math.min(TOUCH_EVERY_MS, (this.config.sessionIdleMinutes * MINUTE) / 10)) await this.store.touchSession(h, now);
    return sessionUser(u);
  }

  /** HTTP Basic (DICOMweb clients): the password is checked with lock-out; a success is remembered for a minute. */
  async resolveBasic(usernameIn: string, password: string, source: string): Promise<SessionUser> {
    const key = createHmac('sha256', this.basicKey).update(`${normalizeUsername(usernameIn)}\0${password}`).digest('hex');
    const now = this.now();
    const hit = this.basicCache.get(key);
    if (hit && hit.until > now) {
      const u = await this.store.userById(hit.userId);
      if (u && !u.disabled && u.lockedUntil <= now) return sessionUser(u);
      this.basicCache.delete(key);
    }
    const u = await this.checkPassword(usernameIn, password, source, 'basic');
    if (this.basicCache.size >= BASIC_CACHE_MAX) this.basicCache.clear();
    this.basicCache.set(key, { userId: u.id, until: now + BASIC_CACHE_MS });
    await this.record({ action: 'login', outcome: 'success', actor: u.username, actorRole: u.role, source, object: `user:${u.username}`, details: { method: 'basic' } });
    return sessionUser(u);
  }

  async logout(token: string, user: AuthUser | undefined, source: string): Promise<void> {
    const revoked = await this.store.revokeSession(tokenHash(token), this.now());
    if (revoked) await this.record({ action: 'logout', outcome: 'success', actor: user?.username ?? null, actorRole: user?.role ?? null, source, object: `user:${user?.username ?? 'unknown'}` });
  }

  /** The user changes their own password (required after a one-time secret); other sessions of the user end. */
  async changePassword(user: AuthUser, currentPassword: string, newPassword: string, source: string, currentToken: string | undefined): Promise<void> {
    const u = await this.checkPassword(user.username, currentPassword, source, 'password');
    const problem = passwordProblem(newPassword, u.username);
    if (problem) throw new SrError('AUTH_PASSWORD_REJECTED', problem);
    if (newPassword === currentPassword) throw new SrError('AUTH_PASSWORD_REJECTED', 'the new password must differ from the current one');
    const now = this.now();
    await this.store.updateUser(u.id, { passwordHash: await hashPassword(newPassword), mustChangePassword: false }, now);
    await this.store.revokeUserSessions(u.id, now, currentToken === undefined ? undefined : tokenHash(currentToken));
    this.basicCache.clear();
    await this.record({ action: 'password-change', outcome: 'success', actor: u.username, actorRole: u.role, source, object: `user:${u.username}` });
  }

  async listUsers(): Promise<PublicUser[]> {
    const now = this.now();
    return (await this.store.listUsers()).map((u) => toPublic(u, now));
  }

  async getUser(username: string): Promise<PublicUser | undefined> {
    const u = await this.store.userByName(normalizeUsername(username));
    return u ? toPublic(u, this.now()) : undefined;
  }

  /** Admin: a new user with an initial password they must change at first login (unless `mustChangePassword: false`). */
  async createUser(
    o: { username: string; password: string; role: Role; displayName?: string | undefined; mustChangePassword?: boolean | undefined },
    by: { actor: AuthUser | null; source: string },
  ): Promise<PublicUser> {
    const username = normalizeUsername(o.username);
    if (!USERNAME.test(username)) throw new SrError('HTTP_BAD_REQUEST', 'username: 1-64 characters a-z 0-9 . _ @ -, starting with a letter or digit', { details: { username } });
    const problem = passwordProblem(o.password, username);
    if (problem) throw new SrError('AUTH_PASSWORD_REJECTED', problem);
    const now = this.now();
    const inserted = await this.store.insertUser(
      { id: randomUUID(), username, displayName: o.displayName ?? null, role: o.role, passwordHash: await hashPassword(o.password), mustChangePassword: o.mustChangePassword ?? true },
      now,
    );
    if (!inserted) throw new SrError('AUTH_USER_EXISTS', `user ${username} already exists`, { details: { username } });
    await this.record({ action: 'user-create', outcome: 'success', actor: by.actor?.username ?? null, actorRole: by.actor?.role ?? null, source: by.source, object: `user:${username}`, details: { role: o.role } });
    const created = await this.getUser(username);
    if (!created) throw new SrError('HTTP_INTERNAL_ERROR', `user ${username} vanished after creation`);
    return created;
  }

  /**
   * Admin: role, display name, disabled, a new initial password (which the user must change), unlock. Disabling,
   * a role change or a password reset ends the user's sessions. An admin cannot disable or demote themself.
   */
  async updateUser(
    usernameIn: string,
    patch: { role?: Role | undefined; displayName?: string | null | undefined; disabled?: boolean | undefined; password?: string | undefined; unlock?: boolean | undefined },
    by: { actor: AuthUser | null; source: string },
  ): Promise<PublicUser> {
    const username = normalizeUsername(usernameIn);
    const u = await this.store.userByName(username);
    if (!u) throw new SrError('NOT_FOUND', `no user ${username}`, { details: { username } });
    if (by.actor?.id === u.id && (patch.disabled === true || (patch.role !== undefined && patch.role !== 'admin'))) {
      throw new SrError('HTTP_BAD_REQUEST', 'an administrator cannot disable or demote their own account (ask another administrator)');
    }
    if (patch.password !== undefined) {
      const problem = passwordProblem(patch.password, username);
      if (problem) throw new SrError('AUTH_PASSWORD_REJECTED', problem);
    }
    const now = this.now();
    await this.store.updateUser(u.id, {
      ...(patch.role !== undefined ? { role: patch.role } : {}),
      ...(patch.displayName !== undefined ? { displayName: patch.displayName } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      ...(patch.password !== undefined ? { passwordHash: await hashPassword(patch.password), mustChangePassword: true } : {}),
    }, now);
    if (patch.unlock) await this.store.clearFailures(u.id);
    if (patch.disabled === true || (patch.role !== undefined && patch.role !== u.role) || patch.password !== undefined) {
      await this.store.revokeUserSessions(u.id, now);
      this.basicCache.clear();
    }
    const changed = Object.keys(patch).filter((k) => patch[k as keyof typeof patch] !== undefined);
    await this.record({
      action: 'user-update', outcome: 'success', actor: by.actor?.username ?? null, actorRole: by.actor?.role ?? null, source: by.source, object: `user:${username}`,
      details: { changed, ...(patch.role !== undefined ? { role: patch.role } : {}), ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}) },
    });
    const after = await this.getUser(username);
    if (!after) throw new SrError('NOT_FOUND', `no user ${username}`, { details: { username } });
    return after;
  }
}
