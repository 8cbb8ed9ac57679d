/**
 * Every registered route — /api/v1 (every table spread into ROUTES), its OpenAPI document, /dicom-web, and any
 * route a plugin adds later — refuses anonymous requests (401) and users of a role it does not allow (403), and
 * declares its access explicitly. A route added without `access` fails here (it would be admin-only at run time).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '../core/index.ts';
import { registerDicomWeb } from '../dicomweb/index.ts';
import { createRegistry } from '../engine/index.ts';
import { createApp } from './app.ts';
import { ROLES } from './auth/context.ts';
import type { Role, RouteAccess } from './auth/context.ts';
import { registeredRoutes } from './auth/hook.ts';
import { openTestParts, quickAnalysis, signIn } from './test-fixtures.ts';
import type { TestServerParts } from './test-fixtures.ts';

/** Written out here, not imported from the hook, so a bug there cannot hide in both. */
function expectedAllowed(access: RouteAccess, role: Role): boolean {
  if (access.roles === 'public' || role === 'admin') return true;
  if (access.patientData === true && role === 'researcher') return false;
  return access.roles.includes(role);
}

function concreteUrl(url: string): string {
  return url.replace(/:[A-Za-z_]+/g, 'x1').replace(/\*$/, 'x');
}

describe('access control over every registered route', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  const headers = new Map<Role, Record<string, string>>();

  before(async () => {
    parts = await openTestParts();
    app = await createApp({
      archive: parts.archive, queue: parts.queue, registry: createRegistry([quickAnalysis()]), log: silentLogger, auth: parts.auth,
      dicomWeb: (scope) => registerDicomWeb(scope, { archive: parts.archive, log: silentLogger, maxUploadBytes: 1024 * 1024 }),
    });
    // A route added after the tables, with no access: the fail-closed default must hold for it too.
    app.get('/api/v1/test-undeclared', async () => ({ ok: true }));
    for (const role of ROLES) headers.set(role, await signIn(app, parts.auth, role));
  });
  after(async () => {
    await app?.close();
    await parts?.close();
  });

  test('each non-public route: anonymous → 401 AUTH_REQUIRED with a challenge; wrong role → 403 FORBIDDEN; allowed roles pass the gate', async () => {
    const routes = registeredRoutes(app).filter((r) => r.method !== 'OPTIONS');
    assert.ok(routes.length >= 40, `found ${routes.length} routes`);
    const urls = new Set(routes.map((r) => r.url));
    for (const must of ['/api/v1/studies', '/api/v1/auth/login', '/api/v1/openapi.json', '/dicom-web/studies']) assert.ok(urls.has(must), `${must} registered`);
    let checkedDenials = 0;
    for (const r of routes) {
      const access = r.access() ?? { roles: ['admin'] };
      const what = `${r.method} ${r.url}`;
      const url = concreteUrl(r.url);
      const method = r.method as 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'PATCH';
      if (access.roles === 'public') continue;
      const anon = await app.inject({ method, url });
      assert.equal(anon.statusCode, 401, `${what}: anonymous`);
      assert.match(String(anon.headers['www-authenticate']), /Bearer/, `${what}: WWW-Authenticate`);
      if (method !== 'HEAD') assert.equal(anon.json<{ code: string }>().code, 'AUTH_REQUIRED', what);
      const bogus = await app.inject({ method, url, headers: { authorization: 'Bearer not-a-session-token-at-all-0000' } });
      assert.equal(bogus.statusCode, 401, `${what}: unknown token`);
      for (const role of ROLES) {
        const res = await app.inject({ method, url, headers: headers.get(role) ?? {} });
        if (expectedAllowed(access, role)) {
          // A handler may still refuse for its own reasons (e.g. only a radiologist signs); the gate's refusal lists the allowed roles.
          const gate = res.statusCode === 401 || (res.statusCode === 403 && (method === 'HEAD' || res.json<{ details?: { allowed?: unknown } }>().details?.allowed !== undefined));
          assert.ok(!gate, `${what}: ${role} allowed, got ${res.statusCode} ${res.body.slice(0, 200)}`);
        } else {
          assert.equal(res.statusCode, 403, `${what}: ${role} must be refused`);
          if (method !== 'HEAD') assert.deepEqual([res.json<{ code: string }>().code, res.json<{ details: { allowed?: unknown } }>().details.allowed], ['FORBIDDEN', access.roles], what);
          checkedDenials++;
        }
      }
    }
    assert.ok(checkedDenials > routes.length, `denials exercised: ${checkedDenials}`);
  });

  test('researchers are refused every patient-data route, and DICOMweb entirely', () => {
    const dicomweb = registeredRoutes(app).filter((r) => r.url.startsWith('/dicom-web'));
    assert.ok(dicomweb.length >= 10);
    for (const r of dicomweb) {
      const a = r.access();
      assert.ok(a && a.roles !== 'public' && a.patientData === true, `${r.method} ${r.url}: patient data`);
      assert.equal(expectedAllowed(a, 'researcher'), false);
    }
    for (const r of registeredRoutes(app)) {
      const a = r.access();
      if (a?.patientData) assert.notEqual(a.roles, 'public', `${r.method} ${r.url}: patient data is never public`);
    }
  });

  test('every route declares its access (fail-closed routes are caught here); the undeclared one is admin-only', async () => {
    const undeclared = registeredRoutes(app).filter((r) => r.method !== 'OPTIONS' && r.access() === undefined).map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(undeclared, ['GET /api/v1/test-undeclared', 'HEAD /api/v1/test-undeclared'], 'routes without `access`: declare it in their RouteDef or route config');
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/test-undeclared' })).statusCode, 401);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/test-undeclared', headers: headers.get('radiologist') ?? {} })).statusCode, 403);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/test-undeclared', headers: headers.get('admin') ?? {} })).statusCode, 200);
  });

  test('public routes answer without sign-in; unknown API paths are 404 for everyone', async () => {
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).statusCode, 200);
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/no/such/path' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'DELETE', url: '/api/v1/studies' })).statusCode, 404);
  });
});
