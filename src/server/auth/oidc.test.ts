/**
 * OpenID Connect against a small identity provider of our own (discovery, JWKS, token endpoint with PKCE and
 * client authentication), on loopback: the whole sign-in over real HTTP between the two.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isSrError, silentLogger } from '../../core/index.ts';
import { createRegistry } from '../../engine/index.ts';
import { createApp } from '../app.ts';
import { openTestParts, TEST_PASSWORD } from '../test-fixtures.ts';
import type { TestServerParts } from '../test-fixtures.ts';
import { OIDC_DEFAULTS, OidcClient } from './oidc.ts';
import type { OidcConfig } from './oidc.ts';
import { AuthService } from './service.ts';

type Json = Record<string, unknown>;

interface Grant { challenge: string; claims: Json; key?: KeyObject }

/** A minimal provider: codes are handed out by the test (as if the user had signed in at the provider). */
async function startProvider(clientId: string, clientSecret: string): Promise<{ issuer: string; server: Server; grant(code: string, g: Grant): void; tokenRequests: Json[] }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const grants = new Map<string, Grant>();
  const tokenRequests: Json[] = [];
  let issuer = '';
  const jwt = (claims: Json, key: KeyObject): string => {
    const enc = (o: Json) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const data = `${enc({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${enc(claims)}`;
    return `${data}.${sign('sha256', Buffer.from(data), key).toString('base64url')}`;
  };
  const server = createServer((req, res) => {
    const send = (status: number, body: Json) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    const url = new URL(req.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(200, { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` });
    }
    if (url.pathname === '/jwks') return send(200, { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' }] });
    if (url.pathname === '/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const f = new URLSearchParams(body);
        tokenRequests.push(Object.fromEntries(f));
        if (req.headers.authorization !== `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`) return send(401, { error: 'invalid_client' });
        const g = grants.get(f.get('code') ?? '');
        grants.delete(f.get('code') ?? '');
        if (!g) return send(400, { error: 'invalid_grant' });
        const verifier = f.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== g.challenge) return send(400, { error: 'invalid_grant', error_description: 'PKCE' });
        return send(200, { access_token: 'at', token_type: 'Bearer', id_token: jwt(g.claims, g.key ?? privateKey) });
      });
      return undefined;
    }
    return send(404, { error: 'not found' });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { issuer, server, grant: (code, g) => grants.set(code, g), tokenRequests };
}

describe('OpenID Connect sign-in', () => {
  let parts: TestServerParts;
  let app: FastifyInstance;
  let idp: Awaited<ReturnType<typeof startProvider>>;
  let config: OidcConfig;

  before(async () => {
    idp = await startProvider('secondreader', 'client-secret-1');
    config = {
      ...OIDC_DEFAULTS, issuer: idp.issuer, clientId: 'secondreader', clientSecret: 'client-secret-1', redirectUri: 'http://sr.example/api/v1/auth/oidc/callback',
      roleMap: { 'sr-admins': 'admin', 'sr-radiologists': 'radiologist', 'sr-research': 'researcher' },
    };
    parts = await openTestParts();
    const oidc = await OidcClient.discover(config, silentLogger);
    const auth = await AuthService.open({ db: parts.archive.db, log: silentLogger, oidc });
    app = await createApp({ archive: parts.archive, queue: parts.queue, registry: createRegistry([]), log: silentLogger, auth });
  });
  after(async () => {
    await app?.close();
    await parts?.close();
    await new Promise((r) => idp?.server.close(r));
  });

  /** Start, then "sign in at the provider" with these claims; returns the callback response. */
  async function signInWith(claims: (p: { nonce: string }) => Json, o: { key?: KeyObject; cookieState?: string; state?: string } = {}) {
    const start = await app.inject({ method: 'GET', url: '/api/v1/auth/oidc/start' });
    assert.equal(start.statusCode, 200, start.body);
    const url = new URL(start.json<{ url: string }>().url);
    const p = Object.fromEntries(url.searchParams);
    const cookie = String(start.headers['set-cookie']);
    assert.match(cookie, /^sr_oidc_state=[\w-]+; Path=\/api\/v1\/auth\/oidc; HttpOnly; SameSite=Lax/);
    const state = p['state'] ?? '';
    assert.equal(cookie.split(';')[0], `sr_oidc_state=${state}`);
    const code = randomBytes(8).toString('hex');
    idp.grant(code, { challenge: p['code_challenge'] ?? '', claims: claims({ nonce: p['nonce'] ?? '' }), ...(o.key ? { key: o.key } : {}) });
    return { p, url, res: await app.inject({ method: 'GET', url: `/api/v1/auth/oidc/callback?code=${code}&state=${o.state ?? state}&session_state=x`, headers: { cookie: `sr_oidc_state=${o.cookieState ?? state}` } }) };
  }
  const now = () => Math.floor(Date.now() / 1000);
  const claimsOf = (extra: Json) => ({ nonce }: { nonce: string }) => ({ iss: idp.issuer, aud: 'secondreader', sub: 's-1', exp: now() + 300, iat: now(), nonce, ...extra });

  test('code flow with PKCE: the provider user becomes a session with the mapped role; no local password', async () => {
    const { p, url, res } = await signInWith(claimsOf({ preferred_username: 'Dr.Who', name: 'Dr Who', groups: ['staff', 'sr-radiologists'] }));
    assert.equal(`${url.origin}${url.pathname}`, `${idp.issuer}/authorize`);
    assert.deepEqual([p['response_type'], p['client_id'], p['redirect_uri'], p['code_challenge_method'], p['scope']], ['code', 'secondreader', config.redirectUri, 'S256', 'openid profile email']);
    assert.equal(res.statusCode, 200, res.body);
    assert.match(String(res.headers['content-type']), /text\/html/);
    const cookies = [res.headers['set-cookie']].flat().map(String);
    const session = cookies.find((c) => c.startsWith('sr_session='))?.split(';')[0] ?? '';
    assert.ok(session.length > 20, cookies.join(' | '));
    assert.ok(cookies.some((c) => /^sr_oidc_state=; .*Max-Age=0/.test(c)), 'the state cookie is cleared');
    const me = await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: session } });
    assert.deepEqual(me.json(), { username: 'dr.who', role: 'radiologist', displayName: 'Dr Who', mustChangePassword: false });
    assert.equal(idp.tokenRequests.at(-1)?.['redirect_uri'], config.redirectUri);
    const pw = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'dr.who', password: 'oidc' } });
    assert.equal(pw.statusCode, 401, 'an OIDC user has no password');
    // The role follows the directory at every sign-in.
    const again = await signInWith(claimsOf({ preferred_username: 'dr.who', name: 'Dr Who', groups: ['sr-research'] }));
    const s2 = [again.res.headers['set-cookie']].flat().map(String).find((c) => c.startsWith('sr_session='))?.split(';')[0] ?? '';
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: s2 } })).json<Json>()['role'], 'researcher');
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: { cookie: session } })).statusCode, 401, 'a role change ends the older sessions');
  });

  test('refused: wrong nonce, foreign signature, expired token, wrong audience, another browser, unmapped groups, a local account of the same name', async () => {
    const code = (r: { res: { statusCode: number; json: () => unknown } }) => [r.res.statusCode, (r.res.json() as Json)['code']];
    assert.deepEqual(code(await signInWith(() => claimsOf({ preferred_username: 'a1', groups: ['sr-admins'] })({ nonce: 'not-the-nonce' }))), [401, 'AUTH_OIDC_FAILED']);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'a2', groups: ['sr-admins'] }), { key: other })), [401, 'AUTH_OIDC_FAILED']);
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'a3', groups: ['sr-admins'], exp: now() - 3600 }))), [401, 'AUTH_OIDC_FAILED']);
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'a4', groups: ['sr-admins'], aud: 'another-app' }))), [401, 'AUTH_OIDC_FAILED']);
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'a5', groups: ['sr-admins'] }), { cookieState: 'someone-elses-state' })), [401, 'AUTH_OIDC_FAILED']);
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'a6', groups: ['visitors'] }))), [403, 'FORBIDDEN']);
    const auth = await AuthService.open({ db: parts.archive.db, log: silentLogger });
    await auth.createUser({ username: 'local.user', password: TEST_PASSWORD, role: 'radiologist' }, { actor: null, source: 'test' });
    assert.deepEqual(code(await signInWith(claimsOf({ preferred_username: 'local.user', groups: ['sr-admins'] }))), [401, 'AUTH_OIDC_FAILED']);
    assert.deepEqual((await auth.listUsers()).map((u) => u.username).sort(), ['dr.who', 'local.user'], 'no refused sign-in created a user');
  });

  test('a state is used once; without OIDC configured the start is 404', async () => {
    const first = await signInWith(claimsOf({ preferred_username: 'once', groups: ['sr-radiologists'] }));
    assert.equal(first.res.statusCode, 200);
    const state = first.p['state'] ?? '';
    const replay = await app.inject({ method: 'GET', url: `/api/v1/auth/oidc/callback?code=x&state=${state}`, headers: { cookie: `sr_oidc_state=${state}` } });
    assert.deepEqual([replay.statusCode, replay.json<Json>()['code']], [401, 'AUTH_OIDC_FAILED']);
    const plain = await AuthService.open({ db: parts.archive.db, log: silentLogger });
    await assert.rejects(plain.oidcStart(), (e) => isSrError(e, 'NOT_FOUND'));
    await assert.rejects(OidcClient.discover({ ...config, issuer: `${idp.issuer}/other` }, silentLogger), (e) => isSrError(e, 'AUTH_OIDC_FAILED') || isSrError(e, 'CONFIG_INVALID'));
  });
});
