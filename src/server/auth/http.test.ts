import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../../core/index.ts';
import { registerDicomWeb } from '../../dicomweb/index.ts';
import { createRegistry } from '../../engine/index.ts';
import { createApp } from '../app.ts';
import { AuthService } from './service.ts';
import type { AuditEvent } from '../audit/types.ts';
import { openTestParts, signIn, TEST_PASSWORD } from '../test-fixtures.ts';
import type { TestServerParts } from '../test-fixtures.ts';

type Json = Record<string, unknown>;

describe('auth over HTTP', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let admin: Record<string, string> = {};
  const events: AuditEvent[] = [];
  const audit = { record: async (e: AuditEvent) => { events.push(e); } };
  let auth: AuthService;
  let secret = '';

  before(async () => {
    parts = await openTestParts();
    // The service of the test parts, with an audit sink this test reads.
    auth = await AuthService.open({ db: parts.archive.db, log: silentLogger, audit });
    const printed: string[] = [];
    await auth.ensureFirstAdmin({ announce: (t) => printed.push(t) });
    secret = /One-time password: (\S+)/.exec(printed.join(''))?.[1] ?? '';
    app = await createApp({
      archive: parts.archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger, auth,
      audit,
      dicomWeb: (scope) => registerDicomWeb(scope, { archive: parts.archive, log: silentLogger, maxUploadBytes: 1024 * 1024 }),
    });
  });
  after(async () => {
    await app?.close();
    await parts?.close();
  });

  const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });

  test('first login with the one-time secret: a session, but nothing except the password change until it is done', async () => {
    assert.ok(secret.length > 0);
    const r = await login('admin', secret);
    assert.equal(r.statusCode, 200);
    const body = r.json<{ token: string; expiresAt: string; user: Json }>();
    assert.deepEqual(body.user, { username: 'admin', role: 'admin', displayName: 'Administrator', mustChangePassword: true });
    assert.ok(Date.parse(body.expiresAt) > Date.now());
    const bearer = { authorization: `Bearer ${body.token}` };
    const blocked = await app.inject({ method: 'GET', url: '/api/v1/studies', headers: bearer });
    assert.deepEqual([blocked.statusCode, blocked.json<Json>()['code']], [403, 'AUTH_PASSWORD_CHANGE_REQUIRED']);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer })).json<Json>()['mustChangePassword'], true);
    const changed = await app.inject({ method: 'POST', url: '/api/v1/auth/password', headers: bearer, payload: { currentPassword: secret, newPassword: TEST_PASSWORD } });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/studies', headers: bearer })).statusCode, 200);
    admin = bearer;
  });

  test('the sr_session cookie: HttpOnly, SameSite=Strict, Path=/, Secure only over https; it authenticates; logout ends it', async () => {
    const r = await login('admin', TEST_PASSWORD);
    const cookie = String(r.headers['set-cookie']);
    assert.match(cookie, /^sr_session=[\w-]{43}; /);
    for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(cookie.includes(attr), attr);
    assert.ok(!/; Secure/.test(cookie), `plain http: no Secure flag: ${cookie}`);
    const pair = cookie.split(';')[0] ?? '';
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: `other=1; ${pair}` } })).statusCode, 200);
    const out = await app.inject({ method: 'POST', url: '/api/v1/auth/logout', headers: { cookie: pair } });
    assert.equal(out.statusCode, 200);
    assert.match(String(out.headers['set-cookie']), /sr_session=; .*Max-Age=0/);
    const after = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: pair } });
    assert.deepEqual([after.statusCode, after.json<Json>()['code']], [401, 'AUTH_REQUIRED']);
    assert.ok(events.some((e) => e.action === 'logout' && e.actor === 'admin'));
    assert.ok(events.some((e) => e.action === 'access' && e.outcome === 'denied'), 'denied requests are audited');
  });

  test('wrong password → 401 AUTH_INVALID_CREDENTIALS, audited; the body never says whether the user exists', async () => {
    const wrong = await login('admin', 'not the password at all');
    const unknown = await login('nobody-here', 'not the password at all');
    assert.deepEqual([wrong.statusCode, wrong.json<Json>()['code']], [401, 'AUTH_INVALID_CREDENTIALS']);
    assert.deepEqual([unknown.json<Json>()['code'], unknown.json<Json>()['message']], [wrong.json<Json>()['code'], wrong.json<Json>()['message']]);
    assert.ok(events.some((e) => e.action === 'login' && e.outcome === 'failure' && e.object === 'user:admin'));
  });

  test('admin user API: create, list, role change; non-admins refused', async () => {
    const created = await app.inject({ method: 'POST', url: '/api/v1/auth/users', headers: admin, payload: { username: 'Tech1', password: TEST_PASSWORD, role: 'technologist', displayName: 'T. One' } });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual([created.json<Json>()['username'], created.json<Json>()['mustChangePassword']], ['tech1', true]);
    const dup = await app.inject({ method: 'POST', url: '/api/v1/auth/users', headers: admin, payload: { username: 'tech1', password: TEST_PASSWORD, role: 'admin' } });
    assert.equal(dup.json<Json>()['code'], 'AUTH_USER_EXISTS');
    const weak = await app.inject({ method: 'POST', url: '/api/v1/auth/users', headers: admin, payload: { username: 'weak', password: 'short', role: 'admin' } });
    assert.equal(weak.json<Json>()['code'], 'AUTH_PASSWORD_REJECTED');
    const upd = await app.inject({ method: 'POST', url: '/api/v1/auth/users/tech1', headers: admin, payload: { role: 'researcher' } });
    assert.equal(upd.json<Json>()['role'], 'researcher');
    const list = await app.inject({ method: 'GET', url: '/api/v1/auth/users', headers: admin });
    assert.deepEqual((list.json<{ items: Json[] }>().items).map((u) => u['username']), ['admin', 'tech1']);
    const rad = await signIn(app, auth, 'radiologist');
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/users', headers: rad })).statusCode, 403);
  });

  test('DICOMweb takes HTTP Basic (API routes do not); researchers are refused it', async () => {
    await signIn(app, auth, 'radiologist');
    const basic = (user: string, pw: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}` });
    assert.equal((await app.inject({ method: 'GET', url: '/dicom-web/studies', headers: basic('test-radiologist', TEST_PASSWORD) })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/dicom-web/studies', headers: basic('test-radiologist', TEST_PASSWORD) })).statusCode, 200, 'cached');
    const bad = await app.inject({ method: 'GET', url: '/dicom-web/studies', headers: basic('test-radiologist', 'wrong password 1') });
    assert.equal(bad.statusCode, 401);
    assert.match(String(bad.headers['www-authenticate']), /Basic realm=/);
    const anon = await app.inject({ method: 'GET', url: '/dicom-web/studies' });
    assert.match(String(anon.headers['www-authenticate']), /Basic realm=/);
    assert.equal(anon.json<Json>()['code'], 'AUTH_REQUIRED');
    const api = await app.inject({ method: 'GET', url: '/api/v1/studies', headers: basic('test-radiologist', TEST_PASSWORD) });
    assert.equal(api.statusCode, 401);
    assert.doesNotMatch(String(api.headers['www-authenticate']), /Basic/);
    const researcher = await signIn(app, auth, 'researcher');
    assert.equal((await app.inject({ method: 'GET', url: '/dicom-web/studies', headers: researcher })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/studies', headers: researcher })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/analyses', headers: researcher })).statusCode, 200);
  });
});
