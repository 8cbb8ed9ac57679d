/**
 * OpenID Connect sign-in (authorization code flow with PKCE, confidential client) for hospitals whose users live
 * in a directory (Keycloak, Entra ID, ADFS, Okta...). The identity provider authenticates; SecondReader maps a
 * claim of the ID token to one of its roles, keeps a user row (source 'oidc', no usable password) and opens its
 * own session, exactly as a password login does. Pending sign-ins (state, nonce, PKCE verifier) are rows of the
 * index database, so the callback may reach another server process than the start.
 *
 * Checked on the ID token (OpenID Connect Core 1.0 §3.1.3.7): signature (RS256 / ES256 from the provider's JWKS),
 * iss, aud (and azp when several audiences), exp, nonce.
 */
import { createHash, createPublicKey, randomBytes, verify as verifySignature } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { SrError } from '../../core/index.ts';
import type { Logger } from '../../core/index.ts';
import { isRole } from './context.ts';
import type { Role } from './context.ts';

export interface OidcConfig {
  /** Issuer URL; its /.well-known/openid-configuration is read at start. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** This server's callback as registered at the provider: https://HOST/api/v1/auth/oidc/callback */
  readonly redirectUri: string;
  /** Scopes besides openid. */
  readonly scopes: readonly string[];
  /** ID-token claim holding the username (lower-cased; must fit the username rules). */
  readonly usernameClaim: string;
  /** ID-token claim holding groups or roles (a string or a list of strings). */
  readonly roleClaim: string;
  /** Claim value → role; the first entry (in file order) the user has wins. No match: sign-in refused. */
  readonly roleMap: Readonly<Record<string, Role>>;
}

export const OIDC_DEFAULTS = { scopes: ['profile', 'email'], usernameClaim: 'preferred_username', roleClaim: 'groups' } as const;

interface Discovery {
  readonly issuer: string;
  readonly authorization_endpoint: string;
  readonly token_endpoint: string;
  readonly jwks_uri: string;
}

export interface OidcIdentity {
  readonly username: string;
  readonly role: Role;
  readonly displayName: string | null;
  readonly subject: string;
}

type FetchFn = typeof fetch;

const b64url = (b: Buffer): string => b.toString('base64url');
const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

async function getJson(fetchFn: FetchFn, url: string, init?: RequestInit): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetchFn(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new SrError('AUTH_OIDC_FAILED', `identity provider unreachable: ${url}`, { cause: e, details: { url } });
  }
  const text = await res.text();
  if (!res.ok) throw new SrError('AUTH_OIDC_FAILED', `identity provider answered ${res.status} for ${url}`, { details: { url, status: res.status, body: text.slice(0, 500) } });
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch (e) {
    void e; // reported below
  }
  throw new SrError('AUTH_OIDC_FAILED', `identity provider sent no JSON object for ${url}`, { details: { url } });
}

/** One pending sign-in, stored by the caller between start and callback. */
export interface PendingLogin {
  readonly state: string;
  readonly nonce: string;
  readonly verifier: string;
}

export class OidcClient {
  private jwks: Map<string, KeyObject> | undefined;

  private constructor(readonly config: OidcConfig, private readonly discovery: Discovery, private readonly fetchFn: FetchFn, private readonly log: Logger) {}

  /** Reads the provider's discovery document; a wrong issuer stops the start (CONFIG_INVALID). */
  static async discover(config: OidcConfig, log: Logger, fetchFn: FetchFn = fetch): Promise<OidcClient> {
    const url = `${config.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const d = await getJson(fetchFn, url);
    for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
      if (typeof d[k] !== 'string') throw new SrError('CONFIG_INVALID', `OpenID discovery document ${url} lacks ${k}`, { details: { url } });
    }
    if (d['issuer'] !== config.issuer) throw new SrError('CONFIG_INVALID', `OpenID issuer mismatch: configured ${config.issuer}, provider says ${String(d['issuer'])}`);
    return new OidcClient(config, d as unknown as Discovery, fetchFn, log);
  }

  /** A new pending sign-in and the provider URL to send the browser to. */
  start(): { pending: PendingLogin; url: string } {
    const pending = { state: b64url(randomBytes(32)), nonce: b64url(randomBytes(32)), verifier: b64url(randomBytes(32)) };
    const q = new URLSearchParams({
      response_type: 'code', client_id: this.config.clientId, redirect_uri: this.config.redirectUri,
      scope: ['openid', ...this.config.scopes].join(' '), state: pending.state, nonce: pending.nonce,
      code_challenge: b64url(sha256(pending.verifier)), code_challenge_method: 'S256',
    });
    const sep = this.discovery.authorization_endpoint.includes('?') ? '&' : '?';
    return { pending, url: `${this.discovery.authorization_endpoint}${sep}${q.toString()}` };
  }

  /** Exchanges the code, verifies the ID token and maps it to a user and role. */
  async finish(code: string, pending: PendingLogin, now: number): Promise<OidcIdentity> {
    const basic = Buffer.from(`${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(this.config.clientSecret)}`).toString('base64');
    const tokens = await getJson(this.fetchFn, this.discovery.token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}`, accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: this.config.redirectUri, code_verifier: pending.verifier }).toString(),
    });
    const idToken = tokens['id_token'];
    if (typeof idToken !== 'string') throw new SrError('AUTH_OIDC_FAILED', 'the token response has no id_token');
    const claims = await this.verifyIdToken(idToken, pending.nonce, now);
    return this.identity(claims);
  }

  private async keys(refresh: boolean): Promise<Map<string, KeyObject>> {
    if (this.jwks && !refresh) return this.jwks;
    const set = await getJson(this.fetchFn, this.discovery.jwks_uri);
    const keys = new Map<string, KeyObject>();
    for (const k of Array.isArray(set['keys']) ? (set['keys'] as JsonWebKey[]) : []) {
      if (k.use !== undefined && k.use !== 'sig') continue;
      try {
        keys.set(typeof k.kid === 'string' ? k.kid : '', createPublicKey({ key: k, format: 'jwk' }));
      } catch (e) {
        this.log.warn('OpenID provider key unusable', { kid: k.kid, error: e instanceof Error ? e.message : String(e) });
      }
    }
    this.jwks = keys;
    return keys;
  }

  private async verifyIdToken(token: string, nonce: string, now: number): Promise<Record<string, unknown>> {
    const bad = (why: string): SrError => new SrError('AUTH_OIDC_FAILED', `ID token rejected: ${why}`);
    const parts = token.split('.');
    if (parts.length !== 3) throw bad('not a JWS');
    const [h, p, s] = parts as [string, string, string];
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<string, unknown>;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new SrError('AUTH_OIDC_FAILED', 'ID token rejected: not JSON', { cause: e });
    }
    const alg = header['alg'];
    if (alg !== 'RS256' && alg !== 'ES256') throw bad(`algorithm ${String(alg)} (RS256 or ES256 expected)`);
    const kid = typeof header['kid'] === 'string' ? header['kid'] : '';
    // An unknown kid: the provider may have rotated its keys; read the set once more.
    const key = (await this.keys(false)).get(kid) ?? (await this.keys(true)).get(kid) ?? (kid === '' ? [...(await this.keys(false)).values()][0] : undefined);
    if (!key) throw bad(`no provider key ${kid}`);
    const ok = verifySignature('sha256', Buffer.from(`${h}.${p}`), alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(s, 'base64url'));
    if (!ok) throw bad('signature');
    if (claims['iss'] !== this.discovery.issuer) throw bad('issuer');
    const aud = claims['aud'];
    const auds = Array.isArray(aud) ? aud : [aud];
    if (!auds.includes(this.config.clientId)) throw bad('audience');
    if (auds.length > 1 && claims['azp'] !== this.config.clientId) throw bad('authorized party');
    const skew = 60;
    if (typeof claims['exp'] !== 'number' || claims['exp'] + skew < now / 1000) throw bad('expired');
    if (claims['nonce'] !== nonce) throw bad('nonce');
    return claims;
  }

  private identity(claims: Record<string, unknown>): OidcIdentity {
    const raw = claims[this.config.usernameClaim];
    const username = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
    if (!/^[a-z0-9][a-z0-9._@-]{0,63}$/.test(username)) {
      throw new SrError('AUTH_OIDC_FAILED', `claim ${this.config.usernameClaim} is missing or not a usable username`, { details: { claim: this.config.usernameClaim } });
    }
    const v = claims[this.config.roleClaim];
    const values = new Set((Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string'));
    const match = Object.entries(this.config.roleMap).find(([claimValue, role]) => values.has(claimValue) && isRole(role));
    if (!match) {
      throw new SrError('FORBIDDEN', `user ${username} has no ${this.config.roleClaim} value mapped to a SecondReader role`, { details: { username, claim: this.config.roleClaim } });
    }
    const name = claims['name'];
    return { username, role: match[1], displayName: typeof name === 'string' ? name.slice(0, 128) : null, subject: String(claims['sub'] ?? '') };
  }
}
