import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError, silentLogger } from '../../core/index.ts';
import { openPostgres, openSqlite } from '../../archive/db.ts';
import type { SqlDb } from '../../archive/db.ts';
import type { AuditEvent } from '../audit/types.ts';
import { hashPassword, needsRehash, SCRYPT_PARAMS, verifyPassword } from './password.ts';
import { AuthService } from './service.ts';
import { pgTestSchema } from '../../../test/support/postgres.ts';

const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;

test('scrypt hashes: salted, parameters inside, constant-time verify, malformed hashes refused', async () => {
  const a = await hashPassword(PASSWORD);
  const b = await hashPassword(PASSWORD);
  assert.notEqual(a, b, 'a random salt per hash');
  assert.ok(!a.includes(PASSWORD));
  const [scheme, N, r, p] = a.split('$');
  assert.deepEqual([scheme, Number(N), Number(r), Number(p)], ['scrypt', SCRYPT_PARAMS.N, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p]);
  assert.ok(SCRYPT_PARAMS.N >= 2 ** 15 && SCRYPT_PARAMS.r >= 8, 'memory-hard: at least 2^15 x 8 (32 MiB)');
  assert.equal(await verifyPassword(PASSWORD, a), true);
  assert.equal(await verifyPassword(`${PASSWORD}!`, a), false);
  assert.equal(await verifyPassword(PASSWORD, a.replace(/\$[\w-]+$/, '$AAAA')), false, 'wrong key length');
  assert.equal(await verifyPassword(PASSWORD, 'plain-text'), false);
  assert.equal(await verifyPassword(PASSWORD, `scrypt$${2 ** 30}$8$1$c2FsdA$a2V5`), false, 'absurd N refused, not computed');
  assert.equal(needsRehash(a), false);
  const weak = await hashPassword(PASSWORD, { N: 2 ** 10, r: 8, p: 1 });
  assert.equal(await verifyPassword(PASSWORD, weak), true);
  assert.equal(needsRehash(weak), true);
});

function authSuite(name: string, open: () => Promise<{ db: SqlDb; cleanup: () => Promise<void> }>): void {
  describe(`AuthService on ${name}`, () => {
    let clock = Date.parse('2026-01-01T08:00:00Z');
    const events: AuditEvent[] = [];
    const audit = { record: async (e: AuditEvent) => { events.push(e); } };
    let db: SqlDb;
    let cleanup: () => Promise<void> = async () => {};
    let auth: AuthService;
    const by = { actor: null, source: 'test' };

    after(async () => {
      await db?.close();
      await cleanup();
    });

    test('first start creates admin with a one-time secret that must be changed; once only', async () => {
      ({ db, cleanup } = await open());
      auth = await AuthService.open({ db, log: silentLogger, audit, now: () => clock, config: { lockoutAttempts: 3, lockoutWindowMinutes: 15, lockoutMinutes: 10 } });
      // A second service on the same database (another process) migrates idempotently.
      const other = await AuthService.open({ db, log: silentLogger });
      const printed: string[] = [];
      assert.equal(await auth.ensureFirstAdmin({ announce: (t) => printed.push(t) }), 'created');
      assert.equal(await other.ensureFirstAdmin({ announce: (t) => printed.push(t) }), 'exists');
      assert.equal(printed.length, 1);
      const secret = /One-time password: (\S+)/.exec(printed[0] ?? '')?.[1] ?? '';
      assert.ok(secret.length >= 20, 'a long random secret');
      const login = await auth.login('admin', secret, '127.0.0.1');
      assert.equal(login.user.role, 'admin');
      assert.equal(login.user.mustChangePassword, true);
      await assert.rejects(auth.changePassword(login.user, secret, 'short', 'x', login.token), (e) => isSrError(e, 'AUTH_PASSWORD_REJECTED'));
      await auth.changePassword(login.user, secret, PASSWORD, '127.0.0.1', login.token);
      assert.equal((await auth.resolveToken(login.token))?.mustChangePassword, false, 'the changing session stays');
      await assert.rejects(auth.login('admin', secret, 'x'), (e) => isSrError(e, 'AUTH_INVALID_CREDENTIALS'), 'the one-time secret is spent');
      assert.ok(events.some((e) => e.action === 'user-create' && e.object === 'user:admin'));
    });

    test('sessions: token stored only as its SHA-256; idle and absolute expiry; logout revokes', async () => {
      const s = await auth.login('Admin', PASSWORD, '10.0.0.1');
      const rows = await db.all('SELECT token_hash FROM auth_sessions');
      assert.ok(rows.every((r) => r['token_hash'] !== s.token));
      assert.ok(rows.some((r) => r['token_hash'] === createHash('sha256').update(s.token).digest('hex')));
      assert.equal(s.token.length, 43, '256 bits, base64url');
      assert.equal((await auth.resolveToken(s.token))?.username, 'admin');
      assert.equal(await auth.resolveToken(`${s.token}x`), undefined);
      // Used every 20 minutes it outlives the 30-minute idle limit, but not the 12-hour absolute one.
      const start = clock;
      while (clock < start + 11 * 60 * MINUTE) {
        clock += 20 * MINUTE;
        assert.ok(await auth.resolveToken(s.token), `alive at +${(clock - start) / MINUTE} min`);
      }
      clock = start + 12 * 60 * MINUTE;
      assert.equal(await auth.resolveToken(s.token), undefined, 'absolute expiry');
      const t = await auth.login('admin', PASSWORD, '10.0.0.1');
      clock += 31 * MINUTE;
      assert.equal(await auth.resolveToken(t.token), undefined, 'idle expiry');
      const u = await auth.login('admin', PASSWORD, '10.0.0.1');
      await auth.logout(u.token, u.user, '10.0.0.1');
      assert.equal(await auth.resolveToken(u.token), undefined, 'logout revokes');
      assert.ok(events.some((e) => e.action === 'logout' && e.actor === 'admin'));
    });

    test('lock-out after N failures in the window, even with the right password; audited; unlocks after the lock time', async () => {
      await auth.createUser({ username: 'Rita', password: PASSWORD, role: 'radiologist', mustChangePassword: false }, by);
      for (let i = 0; i < 3; i++) await assert.rejects(auth.login('rita', 'wrong password 123', '10.0.0.9'), (e) => isSrError(e, 'AUTH_INVALID_CREDENTIALS'));
      await assert.rejects(auth.login('rita', PASSWORD, '10.0.0.9'), (e) => isSrError(e, 'AUTH_LOCKED'));
      const locked = events.filter((e) => e.action === 'login-locked');
      assert.equal(locked.length, 1);
      assert.deepEqual([locked[0]?.actor, locked[0]?.outcome, locked[0]?.source], ['rita', 'denied', '10.0.0.9']);
      assert.equal((await auth.getUser('rita'))?.locked, true);
      clock += 11 * MINUTE;
      assert.equal((await auth.login('rita', PASSWORD, '10.0.0.9')).user.role, 'radiologist');
      // Failures spread wider than the window do not add up.
      for (let i = 0; i < 2; i++) await assert.rejects(auth.login('rita', 'wrong password 123', 'x'));
      clock += 16 * MINUTE;
      await assert.rejects(auth.login('rita', 'wrong password 123', 'x'));
      assert.equal((await auth.login('rita', PASSWORD, 'x')).user.username, 'rita');
      // Unknown users: the same answer as a wrong password.
      await assert.rejects(auth.login('nobody', PASSWORD, 'x'), (e) => isSrError(e, 'AUTH_INVALID_CREDENTIALS'));
    });

    test('admin changes: disabling or a role change ends the sessions; an admin cannot demote themself', async () => {
      const s = await auth.login('rita', PASSWORD, 'x');
      await auth.updateUser('rita', { role: 'technologist' }, by);
      assert.equal(await auth.resolveToken(s.token), undefined);
      const s2 = await auth.login('rita', PASSWORD, 'x');
      assert.equal(s2.user.role, 'technologist');
      await auth.updateUser('rita', { disabled: true }, by);
      assert.equal(await auth.resolveToken(s2.token), undefined);
      await assert.rejects(auth.login('rita', PASSWORD, 'x'), (e) => isSrError(e, 'AUTH_INVALID_CREDENTIALS'));
      await assert.rejects(auth.createUser({ username: 'rita', password: PASSWORD, role: 'admin' }, by), (e) => isSrError(e, 'AUTH_USER_EXISTS'));
      const admin = (await auth.login('admin', PASSWORD, 'x')).user;
      await assert.rejects(auth.updateUser('admin', { role: 'researcher' }, { actor: admin, source: 'x' }), (e) => isSrError(e, 'HTTP_BAD_REQUEST'));
      const users = await auth.listUsers();
      assert.deepEqual(users.map((u) => [u.username, u.role, u.disabled]), [['admin', 'admin', false], ['rita', 'technologist', true]]);
      assert.ok(!JSON.stringify(users).includes('scrypt'), 'no hash leaves the service');
    });
  });
}

authSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-auth-'));
  return { db: openSqlite(join(dir, 'index.sqlite')), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

authSuite('PostgreSQL', async () => {
  const pgSchema = pgTestSchema('sr_auth');
  return { db: await openPostgres(pgSchema.connection, pgSchema.schema), cleanup: pgSchema.drop };
});

test('SECONDREADER_ADMIN_PASSWORD: admin gets it with no forced change; a weak one stops the start', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-auth-'));
  const db = openSqlite(join(dir, 'index.sqlite'));
  try {
    const auth = await AuthService.open({ db, log: silentLogger });
    await assert.rejects(auth.ensureFirstAdmin({ password: 'admin', announce: () => assert.fail('nothing printed') }), (e) => isSrError(e, 'CONFIG_INVALID'));
    assert.equal(await auth.ensureFirstAdmin({ password: PASSWORD, announce: () => assert.fail('nothing printed') }), 'created');
    const s = await auth.login('admin', PASSWORD, 'x');
    assert.equal(s.user.mustChangePassword, false);
  } finally {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
