/**
 * Security headers, rate limiting and upload limits on the composed app (createApp over a real SQLite archive),
 * driven in-process with app.inject.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { silentLogger } from '../core/index.ts';
import { registerDicomWeb } from '../dicomweb/index.ts';
import { createRegistry } from '../engine/index.ts';
import { createApp } from './app.ts';
import { CSP_DIRECTIVES, registerHardening } from './hardening.ts';
import { openTestParts, signIn } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

const CT_SMALL = join(import.meta.dirname, '../../../shared/data/dicom-conformance/pydicom/test_files/CT_small.dcm');
const BOUNDARY = 'hardening-test-boundary';
const STOW_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

function assertSecurityHeaders(r: LightMyRequestResponse, what: string): void {
  const csp = String(r.headers['content-security-policy'] ?? '');
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/, `${what}: CSP script-src`);
  assert.match(csp, /worker-src 'self' blob:/, `${what}: CSP worker-src`);
  assert.match(csp, /frame-ancestors 'none'/, `${what}: CSP frame-ancestors`);
  assert.doesNotMatch(csp, /upgrade-insecure-requests/, `${what}: plain-HTTP installations must keep working`);
  assert.equal(r.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(r.headers['referrer-policy'], 'no-referrer', `${what}: referrer policy`);
  assert.equal(r.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.equal(r.headers['strict-transport-security'], undefined, `${what}: no HSTS over plain HTTP`);
}

describe('HTTP hardening on the composed app', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let auth: Record<string, string>;

  before(async () => {
    parts = await openTestParts();
    app = await createApp({
      archive: parts.archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger, auth: parts.auth,
      dicom: { aeTitle: 'SECONDREADER', port: 11112 }, webRoot: false,
      hardening: { rateLimit: { max: 8, windowSeconds: 60 } },
      dicomWeb: (scope) => registerDicomWeb(scope, { archive: parts.archive, log: silentLogger, maxUploadBytes: 64 * 1024 }),
    });
    auth = await signIn(app, parts.auth);
  });
  after(async () => {
    await app.close();
    await parts.close();
  });

  test('security headers on a success, a 404, a 401 and a 400', async () => {
    const ip = '10.0.0.1';
    assertSecurityHeaders(await app.inject({ method: 'GET', url: '/api/v1/health', remoteAddress: ip }), 'health');
    const notFound = await app.inject({ method: 'GET', url: '/no/such/route', remoteAddress: ip });
    assert.equal(notFound.statusCode, 404);
    assertSecurityHeaders(notFound, '404');
    const anonymous = await app.inject({ method: 'GET', url: '/dicom-web/studies', remoteAddress: ip });
    assert.equal(anonymous.statusCode, 401);
    assertSecurityHeaders(anonymous, '401');
    const bad = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: '{not json', headers: { 'content-type': 'application/json' }, remoteAddress: ip });
    assert.equal(bad.statusCode, 400);
    assertSecurityHeaders(bad, '400');
  });

  test('rate limit: 429 HTTP_RATE_LIMITED with Retry-After after max requests per client; health exempt; other clients unaffected', async () => {
    const ip = '10.0.0.2';
    for (let i = 0; i < 8; i++) {
      const r = await app.inject({ method: 'GET', url: '/api/v1/openapi.json', remoteAddress: ip });
      assert.equal(r.statusCode, 200, `request ${i + 1}`);
    }
    const limited = await app.inject({ method: 'GET', url: '/api/v1/openapi.json', remoteAddress: ip });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.json<{ code: string }>().code, 'HTTP_RATE_LIMITED');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After ${String(limited.headers['retry-after'])}`);
    assertSecurityHeaders(limited, '429');
    // Any route counts (a login flood too), but not the health probe.
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x', password: 'y' }, remoteAddress: ip })).statusCode, 429);
    for (let i = 0; i < 12; i++) assert.notEqual((await app.inject({ method: 'GET', url: '/api/v1/health', remoteAddress: ip })).statusCode, 429);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/openapi.json', remoteAddress: '10.0.0.3' })).statusCode, 200);
  });

  test('upload limits: STOW-RS over maxUploadBytes → 413 HTTP_PAYLOAD_TOO_LARGE; a JSON body over 1 MiB → 413', async () => {
    const ct = await readFile(CT_SMALL);
    const body = Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), ct, ct, Buffer.from(`\r\n--${BOUNDARY}--\r\n`)]);
    assert.ok(body.length > 64 * 1024);
    const r = await app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { ...auth, 'content-type': STOW_TYPE }, payload: body, remoteAddress: '10.0.0.4' });
    assert.equal(r.statusCode, 413, r.body);
    assert.equal(r.json<{ code: string }>().code, 'HTTP_PAYLOAD_TOO_LARGE');
    assertSecurityHeaders(r, 'STOW 413');
    const big = JSON.stringify({ username: 'x'.repeat(1024 * 1024 + 10), password: 'y' });
    const j = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: big, headers: { 'content-type': 'application/json' }, remoteAddress: '10.0.0.5' });
    assert.equal(j.statusCode, 413);
    assert.equal(j.json<{ code: string }>().code, 'HTTP_PAYLOAD_TOO_LARGE');
  });
});

describe('registerHardening', () => {
  test('HSTS only over HTTPS (here: behind a proxy that says so)', async () => {
    const app = Fastify({ logger: false, trustProxy: true });
    await registerHardening(app, { rateLimit: { max: 0, windowSeconds: 60 } });
    app.get('/x', async () => ({ ok: true }));
    const https = await app.inject({ method: 'GET', url: '/x', headers: { 'x-forwarded-proto': 'https' } });
    assert.match(String(https.headers['strict-transport-security']), /^max-age=31536000/);
    const http = await app.inject({ method: 'GET', url: '/x' });
    assert.equal(http.headers['strict-transport-security'], undefined);
    // max 0: no limiter at all.
    assert.equal(http.headers['x-ratelimit-limit'], undefined);
    await app.close();
  });

  test('the CSP lets the SPA load WASM codecs and blob: workers and nothing from elsewhere', () => {
    assert.deepEqual(CSP_DIRECTIVES['default-src'], ["'self'"]);
    assert.ok(CSP_DIRECTIVES['script-src']?.includes("'wasm-unsafe-eval'"));
    assert.ok(!CSP_DIRECTIVES['script-src']?.includes("'unsafe-eval'"));
    assert.deepEqual(CSP_DIRECTIVES['object-src'], ["'none'"]);
  });
});
