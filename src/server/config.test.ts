import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError } from '../core/index.ts';
import { DEFAULT_CONFIG, loadConfig, redactConfig } from './config.ts';

test('defaults, with dataDir resolved against cwd', () => {
  const c = loadConfig({ cwd: '/srv' });
  assert.equal(c.dataDir, '/srv/secondreader-data');
  assert.equal(c.httpPort, 8080);
  assert.equal(c.httpHost, '127.0.0.1');
  assert.equal(c.aeTitle, 'SECONDREADER');
  assert.equal(c.queue, 'embedded');
  assert.deepEqual(c.routing, [{ analyses: '*' }]);
  assert.equal(c.stableQuietSeconds, 10);
});

test('file < environment < flags; a PostgreSQL database brings the PostgreSQL queue', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-config-'));
  try {
    const file = join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ httpPort: 1, dicomPort: 2, aeTitle: 'FROMFILE', routing: [{ analyses: ['chest-ct-nodules'], callingAe: ['CT1'], modalities: ['CT'] }], forward: { aeTitle: 'PACS', host: 'pacs', port: 104 } }));
    const c = loadConfig({ cwd: dir, file: 'c.json', env: { SECONDREADER_HTTP_PORT: '3', SECONDREADER_DICOM_PORT: '4', SECONDREADER_DATABASE: 'postgres://u:secret@db/sr' }, flags: { httpPort: '5' } });
    assert.equal(c.httpPort, 5);
    assert.equal(c.dicomPort, 4);
    assert.equal(c.aeTitle, 'FROMFILE');
    assert.equal(c.queue, 'postgres');
    assert.deepEqual(c.forward, [{ aeTitle: 'PACS', host: 'pacs', port: 104 }], 'a single destination (the earlier form) reads as a list of one');
    assert.equal(redactConfig(c).database, 'postgres://u:***@db/sr');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('every problem is reported at once, as CONFIG_INVALID, with where it came from', () => {
  try {
    loadConfig({ cwd: '/', flags: { httpPort: '99999', workers: '-1' }, env: { SECONDREADER_QUEUE: 'redis', SECONDREADER_AE_TITLE: 'BAD\\AE' } });
    assert.fail('should throw');
  } catch (e) {
    assert.ok(isSrError(e, 'CONFIG_INVALID'));
    const problems = e.details['problems'] as string[];
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.ok(problems.some((p) => p.includes('httpPort') && p.includes('--http-port')));
    assert.ok(problems.some((p) => p.includes('queue') && p.includes('SECONDREADER_QUEUE')));
  }
  assert.throws(() => loadConfig({ cwd: '/', env: { SECONDREADER_QUEUE: 'postgres' } }), (e) => isSrError(e, 'CONFIG_INVALID'));
  assert.throws(() => loadConfig({ cwd: '/', file: '/nonexistent/sr.json' }), (e) => isSrError(e, 'CONFIG_INVALID'));
  const dir = mkdtempSync(join(tmpdir(), 'sr-config-'));
  try {
    writeFileSync(join(dir, 'c.json'), JSON.stringify({ ...DEFAULT_CONFIG, routing: [{ analyses: [] }], unknownKey: 1 }));
    assert.throws(() => loadConfig({ cwd: dir, file: 'c.json' }), (e) => isSrError(e, 'CONFIG_INVALID') && /unknownKey/.test(e.message) && /routing\/0\/analyses/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('forwarding: destinations global or per analysis, retry policy, each checked at start', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-config-'));
  try {
    const forward = [{ aeTitle: 'PACS', host: '10.1.0.5', port: 104 }, { aeTitle: 'CHESTPACS', host: 'pacs2', port: 11112, analyses: ['chest-ct-nodules'] }];
    writeFileSync(join(dir, 'ok.json'), JSON.stringify({ forward, forwardRetry: { maxAttempts: 3, retryDelaySeconds: 10 } }));
    const c = loadConfig({ cwd: dir, file: 'ok.json' });
    assert.deepEqual(c.forward, forward);
    assert.deepEqual(c.forwardRetry, { maxAttempts: 3, retryDelaySeconds: 10 });
    assert.deepEqual(loadConfig({ cwd: dir }).forward, []);
    writeFileSync(join(dir, 'null.json'), JSON.stringify({ forward: null }));
    assert.deepEqual(loadConfig({ cwd: dir, file: 'null.json' }).forward, []);
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ forward: [{ aeTitle: 'BAD\\AE', host: 'x', port: 0, analyses: [] }], forwardRetry: { maxAttempts: 0, retryDelaySeconds: 1 } }));
    try {
      loadConfig({ cwd: dir, file: 'bad.json' });
      assert.fail('should throw');
    } catch (e) {
      assert.ok(isSrError(e, 'CONFIG_INVALID'));
      const problems = e.details['problems'] as string[];
      for (const where of ['/forward/0/aeTitle', '/forward/0/port', '/forward/0/analyses', '/forwardRetry/maxAttempts']) assert.ok(problems.some((p) => p.includes(where)), `${where} in ${problems.join('; ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auth: a partial section keeps the other defaults; bad values are CONFIG_INVALID', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-config-'));
  try {
    assert.deepEqual(loadConfig({ cwd: dir }).auth, DEFAULT_CONFIG.auth);
    const file = join(dir, 'auth.json');
    writeFileSync(file, JSON.stringify({ auth: { lockoutAttempts: 3, cookieSecure: 'always' } }));
    const c = loadConfig({ cwd: dir, file: 'auth.json' });
    assert.deepEqual(c.auth, { ...DEFAULT_CONFIG.auth, lockoutAttempts: 3, cookieSecure: 'always' });
    writeFileSync(file, JSON.stringify({ auth: { lockoutAttempts: 0, cookieSecure: 'sometimes', passwordless: true } }));
    assert.throws(() => loadConfig({ cwd: dir, file: 'auth.json' }), (e) => {
      const problems = isSrError(e, 'CONFIG_INVALID') ? (e.details['problems'] as string[]).join('\n') : '';
      return /auth\/lockoutAttempts/.test(problems) && /auth\/cookieSecure/.test(problems) && /passwordless/.test(problems);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auth.oidc: defaults filled in, the role map checked, the client secret redacted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-config-'));
  try {
    const file = join(dir, 'oidc.json');
    const oidc = { issuer: 'https://idp.example/realms/r', clientId: 'sr', clientSecret: 's3cret', redirectUri: 'https://sr.example/api/v1/auth/oidc/callback', roleMap: { rads: 'radiologist' } };
    writeFileSync(file, JSON.stringify({ auth: { oidc } }));
    const c = loadConfig({ cwd: dir, file: 'oidc.json' });
    assert.deepEqual(c.auth.oidc, { ...oidc, scopes: ['profile', 'email'], usernameClaim: 'preferred_username', roleClaim: 'groups' });
    assert.equal(redactConfig(c).auth.oidc?.clientSecret, '***');
    assert.ok(!JSON.stringify(redactConfig(c)).includes('s3cret'));
    writeFileSync(file, JSON.stringify({ auth: { oidc: { ...oidc, roleMap: { rads: 'superuser' } } } }));
    assert.throws(() => loadConfig({ cwd: dir, file: 'oidc.json' }), (e) => isSrError(e, 'CONFIG_INVALID'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
