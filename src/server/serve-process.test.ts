import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from './process-helpers.ts';
import type { Proc } from './process-helpers.ts';

const procs: Proc[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('`secondreader serve` answers /health and exits 0 on SIGTERM', { timeout: 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sr-serve-proc-'));
  dirs.push(dir);
  const p = startCli(['serve', '--data', join(dir, 'data'), '--http-port', '0', '--dicom-port', '0', '--no-demo']);
  procs.push(p);
  const [, url] = await p.waitFor(/REST API: +(http:\/\/\S+\/api\/v1)/);
  const health = await fetch(`${url}/health`);
  assert.equal(health.status, 200);
  const body = (await health.json()) as Record<string, unknown>;
  assert.equal(body['status'], 'ok');
  assert.equal(body['archive'], 'sqlite');
  assert.match(p.stdout, /DICOM SCP: +AE SECONDREADER on 127\.0\.0\.1:\d+/);
  // First start with no SECONDREADER_ADMIN_PASSWORD: a one-time admin secret on the console, and the API is closed.
  const secret = /One-time password: (\S+)/.exec(p.stderr)?.[1];
  assert.ok(secret, p.stderr);
  assert.equal((await fetch(`${url}/studies`)).status, 401);
  const login = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password: secret }) });
  assert.equal(((await login.json()) as { user: { mustChangePassword: boolean } }).user.mustChangePassword, true);
  assert.equal(await p.stop('SIGTERM'), 0, p.stderr);
  assert.match(p.stdout, /SecondReader stopped/);
});

test('`secondreader serve` with a bad setting refuses to start with CONFIG_INVALID', { timeout: 120_000 }, async () => {
  const p = startCli(['serve', '--http-port', 'eighty', '--no-demo'], { SECONDREADER_AE_TITLE: 'AN AE TITLE FAR TOO LONG' });
  procs.push(p);
  const code = await p.stop('SIGCONT'); // harmless signal: just wait for the exit
  assert.equal(code, 2, 'bad input, like a usage error');
  assert.match(p.stderr, /CONFIG_INVALID/);
  assert.match(p.stderr, /httpPort/);
  assert.match(p.stderr, /aeTitle .*SECONDREADER_AE_TITLE/);
});
