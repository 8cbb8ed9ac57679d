/**
 * Users and sessions as rows of the index database (SQLite or PostgreSQL), so every server process sharing the
 * index shares them: a session opened on one process is valid on the others, a lock-out holds everywhere.
 * Own tables (auth_users, auth_sessions), own migration; the archive schema (src/archive/schema.ts) is untouched.
 * Times are epoch milliseconds (BIGINT; node-postgres returns those as strings, hence `num`).
 */
import type { SqlDb, SqlRow } from '../../archive/db.ts';
import { isRole } from './context.ts';
import type { Role } from './context.ts';

export interface UserRow {
  readonly id: string;
  readonly username: string;
  readonly displayName: string | null;
  readonly role: Role;
  readonly passwordHash: string;
  readonly mustChangePassword: boolean;
  readonly disabled: boolean;
  /** 'local' (password) or 'oidc' (signed in through the identity provider; no usable password). */
  readonly source: 'local' | 'oidc';
  readonly failedCount: number;
  readonly failedSince: number;
  readonly lockedUntil: number;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface SessionRow {
  readonly tokenHash: string;
  readonly userId: string;
  readonly createdAt: number;
  readonly lastSeenAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
}

function ddl(db: SqlDb): string[] {
  const { bigint, text } = db.dialect;
  return [
    `CREATE TABLE IF NOT EXISTS auth_users (
      id ${text} PRIMARY KEY,
      username ${text} NOT NULL UNIQUE,
      display_name ${text},
      role ${text} NOT NULL,
      password_hash ${text} NOT NULL,
      must_change_password INTEGER NOT NULL DEFAULT 0,
      disabled INTEGER NOT NULL DEFAULT 0,
      source ${text} NOT NULL DEFAULT 'local',
      failed_count INTEGER NOT NULL DEFAULT 0,
      failed_since ${bigint} NOT NULL DEFAULT 0,
      locked_until ${bigint} NOT NULL DEFAULT 0,
      created_at ${bigint} NOT NULL,
      updated_at ${bigint} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS auth_sessions (
      token_hash ${text} PRIMARY KEY,
      user_id ${text} NOT NULL,
      created_at ${bigint} NOT NULL,
      last_seen_at ${bigint} NOT NULL,
      expires_at ${bigint} NOT NULL,
      revoked_at ${bigint})`,
    `CREATE TABLE IF NOT EXISTS auth_oidc_pending (
      state_hash ${text} PRIMARY KEY,
      nonce ${text} NOT NULL,
      verifier ${text} NOT NULL,
      created_at ${bigint} NOT NULL)`,
    'CREATE INDEX IF NOT EXISTS auth_sessions_user ON auth_sessions (user_id)',
    'CREATE INDEX IF NOT EXISTS auth_sessions_expiry ON auth_sessions (expires_at)',
  ];
}

/** Creates the auth tables if missing (idempotent; PostgreSQL: serialized across processes). */
export async function migrateAuth(db: SqlDb): Promise<void> {
  await db.tx(async (q) => {
    if (db.dialect.name === 'postgres') await q.all('SELECT pg_advisory_xact_lock(hashtext(?))', ['sr-auth-migrate']);
    for (const stmt of ddl(db)) await q.run(stmt);
  });
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

function userRow(r: SqlRow): UserRow {
  const role = r['role'];
  return {
    id: String(r['id']),
    username: String(r['username']),
    displayName: r['display_name'] === null || r['display_name'] === undefined ? null : String(r['display_name']),
    // A role renamed by hand in the database is treated as the least privileged one, never as admin.
    role: isRole(role) ? role : 'researcher',
    passwordHash: String(r['password_hash']),
    mustChangePassword: num(r['must_change_password']) !== 0,
    disabled: num(r['disabled']) !== 0,
    source: r['source'] === 'oidc' ? 'oidc' : 'local',
    failedCount: num(r['failed_count']),
    failedSince: num(r['failed_since']),
    lockedUntil: num(r['locked_until']),
    createdAt: num(r['created_at']),
    updatedAt: num(r['updated_at']),
  };
}

const USER_COLS = 'id, username, display_name, role, password_hash, must_change_password, disabled, source, failed_count, failed_since, locked_until, created_at, updated_at';

export class AuthStore {
  constructor(readonly db: SqlDb) {}

  async countUsers(): Promise<number> {
    const [r] = await this.db.all('SELECT COUNT(*) AS n FROM auth_users');
    return num(r?.['n']);
  }

  async userByName(username: string): Promise<UserRow | undefined> {
    const [r] = await this.db.all(`SELECT ${USER_COLS} FROM auth_users WHERE username = ?`, [username]);
    return r ? userRow(r) : undefined;
  }

  async userById(id: string): Promise<UserRow | undefined> {
    const [r] = await this.db.all(`SELECT ${USER_COLS} FROM auth_users WHERE id = ?`, [id]);
    return r ? userRow(r) : undefined;
  }

  async listUsers(): Promise<UserRow[]> {
    return (await this.db.all(`SELECT ${USER_COLS} FROM auth_users ORDER BY username`)).map(userRow);
  }

  /** Inserts unless the username exists; true when inserted. */
  async insertUser(
    u: { id: string; username: string; displayName: string | null; role: Role; passwordHash: string; mustChangePassword: boolean; source?: 'local' | 'oidc' },
    now: number,
  ): Promise<boolean> {
    const n = await this.db.run(
      `INSERT INTO auth_users (id, username, display_name, role, password_hash, must_change_password, disabled, source, failed_count, failed_since, locked_until, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, 0, ?, 0, 0, 0, ?, ?) ON CONFLICT (username) DO NOTHING`,
      [u.id, u.username, u.displayName, u.role, u.passwordHash, u.mustChangePassword ? 1 : 0, u.source ?? 'local', now, now],
    );
    return n > 0;
  }

  async updateUser(id: string, patch: { displayName?: string | null; role?: Role; disabled?: boolean; passwordHash?: string; mustChangePassword?: boolean }, now: number): Promise<void> {
    const sets: string[] = [];
    const values: (string | number | null)[] = [];
    if (patch.displayName !== undefined) { sets.push('display_name = ?'); values.push(patch.displayName); }
    if (patch.role !== undefined) { sets.push('role = ?'); values.push(patch.role); }
    if (patch.disabled !== undefined) { sets.push('disabled = ?'); values.push(patch.disabled ? 1 : 0); }
    if (patch.passwordHash !== undefined) { sets.push('password_hash = ?'); values.push(patch.passwordHash); }
    if (patch.mustChangePassword !== undefined) { sets.push('must_change_password = ?'); values.push(patch.mustChangePassword ? 1 : 0); }
    sets.push('updated_at = ?');
    values.push(now, id);
    await this.db.run(`UPDATE auth_users SET ${sets.join(', ')} WHERE id = ?`, values);
  }

  /**
   * Counts one failed sign-in in the current window (a new window starts when the last one began before
   * `windowStart`) in one statement, so concurrent failures on several processes all count; returns the count.
   */
  async recordFailure(id: string, now: number, windowStart: number): Promise<number> {
    await this.db.run(
      `UPDATE auth_users SET
         failed_count = CASE WHEN failed_since < ? THEN 1 ELSE failed_count + 1 END,
         failed_since = CASE WHEN failed_since < ? THEN ? ELSE failed_since END
       WHERE id = ?`,
      [windowStart, windowStart, now, id],
    );
    return (await this.userById(id))?.failedCount ?? 0;
  }

  async lock(id: string, until: number): Promise<void> {
    await this.db.run('UPDATE auth_users SET locked_until = ?, failed_count = 0, failed_since = 0 WHERE id = ?', [until, id]);
  }

  async clearFailures(id: string): Promise<void> {
    await this.db.run('UPDATE auth_users SET failed_count = 0, failed_since = 0, locked_until = 0 WHERE id = ? AND (failed_count <> 0 OR locked_until <> 0)', [id]);
  }

  async insertSession(s: { tokenHash: string; userId: string; now: number; expiresAt: number }): Promise<void> {
    await this.db.run('INSERT INTO auth_sessions (token_hash, user_id, created_at, last_seen_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, NULL)', [s.tokenHash, s.userId, s.now, s.now, s.expiresAt]);
  }

  async session(tokenHash: string): Promise<SessionRow | undefined> {
    const [r] = await this.db.all('SELECT token_hash, user_id, created_at, last_seen_at, expires_at, revoked_at FROM auth_sessions WHERE token_hash = ?', [tokenHash]);
    if (!r) return undefined;
    return {
      tokenHash: String(r['token_hash']), userId: String(r['user_id']), createdAt: num(r['created_at']), lastSeenAt: num(r['last_seen_at']),
      expiresAt: num(r['expires_at']), revokedAt: r['revoked_at'] === null || r['revoked_at'] === undefined ? null : num(r['revoked_at']),
    };
  }

  async touchSession(tokenHash: string, now: number): Promise<void> {
    await this.db.run('UPDATE auth_sessions SET last_seen_at = ? WHERE token_hash = ?', [now, tokenHash]);
  }

  async revokeSession(tokenHash: string, now: number): Promise<boolean> {
    return (await this.db.run('UPDATE auth_sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL', [now, tokenHash])) > 0;
  }

  /** Revokes every session of a user, except `keep` (the caller's own, after a password change). */
  async revokeUserSessions(userId: string, now: number, keep?: string): Promise<void> {
    await this.db.run('UPDATE auth_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND token_hash <> ?', [now, userId, keep ?? '']);
  }

  async insertPending(p: { stateHash: string; nonce: string; verifier: string; now: number }): Promise<void> {
    await this.db.run('DELETE FROM auth_oidc_pending WHERE created_at < ?', [p.now - 60 * 60_000]);
    await this.db.run('INSERT INTO auth_oidc_pending (state_hash, nonce, verifier, created_at) VALUES (?, ?, ?, ?)', [p.stateHash, p.nonce, p.verifier, p.now]);
  }

  /** Reads and deletes a pending OpenID sign-in: usable once, by one process. */
  async takePending(stateHash: string): Promise<{ nonce: string; verifier: string; createdAt: number } | undefined> {
    const [r] = await this.db.all('SELECT nonce, verifier, created_at FROM auth_oidc_pending WHERE state_hash = ?', [stateHash]);
    if (!r) return undefined;
    if ((await this.db.run('DELETE FROM auth_oidc_pending WHERE state_hash = ?', [stateHash])) === 0) return undefined;
    return { nonce: String(r['nonce']), verifier: String(r['verifier']), createdAt: num(r['created_at']) };
  }

  /** Rows of sessions that ended before `before` (expired or revoked): nothing reads them any more. */
  async purgeSessions(before: number): Promise<void> {
    await this.db.run('DELETE FROM auth_sessions WHERE expires_at < ? OR (revoked_at IS NOT NULL AND revoked_at < ?)', [before, before]);
  }
}
