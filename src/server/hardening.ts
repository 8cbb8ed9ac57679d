/**
 * HTTP hardening, installed on the root instance before any route: security headers on every response
 * (@fastify/helmet) and per-client rate limiting (@fastify/rate-limit, 429 HTTP_RATE_LIMITED with Retry-After).
 * Upload size limits live where bodies are read: STOW-RS streams against `maxUploadBytes` (413
 * HTTP_PAYLOAD_TOO_LARGE, src/dicomweb/stow.ts), every other body against fastify's `bodyLimit` (1 MiB, 413 too).
 * See docs/security-hardening.md.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SrError } from '../core/errors.ts';

export interface RateLimitOptions {
  /** Requests per client (IP address) per window; 0 turns rate limiting off. */
  readonly max: number;
  readonly windowSeconds: number;
}

export interface HardeningOptions {
  /** Default DEFAULT_RATE_LIMIT. */
  readonly rateLimit?: RateLimitOptions;
  /** Paths (without query) never rate limited. Default: the health endpoint only (probes poll it). */
  readonly rateLimitExempt?: readonly string[];
}

/**
 * 3,000 requests a minute per client: a viewer opening a 500-slice CT fetches one WADO-RS frame per slice within
 * seconds, so a few series at once must fit; a password-guessing or scraping loop does not.
 */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { max: 3000, windowSeconds: 60 };
export const DEFAULT_RATE_LIMIT_EXEMPT: readonly string[] = ['/api/v1/health'];

/**
 * Content-Security-Policy for the React web app: scripts only from our origin, WebAssembly compilation allowed
 * (the DICOM codecs are WASM: 'wasm-unsafe-eval' permits WebAssembly.compile, not JS eval), decode workers from our
 * origin or blob: URLs, images from data:/blob: (rendered frames, thumbnails), no plugins, never framed.
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'self'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'worker-src': ["'self'", 'blob:'],
  'style-src': ["'self'", "'unsafe-inline'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'", 'data:'],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'base-uri': ["'self'"],
  'form-action': ["'self'"],
  'frame-ancestors': ["'none'"],
};

/** RFC 6797: HSTS is only meaningful (and only honoured) on a response that came over HTTPS. */
const HSTS = 'max-age=31536000; includeSubDomains';

function pathOf(req: FastifyRequest): string {
  const q = req.url.indexOf('?');
  return q < 0 ? req.url : req.url.slice(0, q);
}

export async function registerHardening(app: FastifyInstance, options: HardeningOptions = {}): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      // Arrays are copied: helmet's types want mutable ones.
      directives: Object.fromEntries(Object.entries(CSP_DIRECTIVES).map(([k, v]) => [k, [...v]])),
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    // Set below, per request, only over HTTPS (most installations serve plain HTTP on a hospital LAN or behind a proxy).
    hsts: false,
    // DICOMweb clients of other origins (a PACS viewer) fetch with CORS; CORP same-origin would block their no-cors loads.
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
  app.addHook('onRequest', async (req, reply) => {
    if (req.protocol === 'https') reply.header('strict-transport-security', HSTS);
  });
  const limit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
  if (limit.max > 0) {
    const exempt = new Set(options.rateLimitExempt ?? DEFAULT_RATE_LIMIT_EXEMPT);
    // One app-level onRequest hook (not the plugin's per-route ones): it runs before the auth hook, so anonymous
    // floods and password guessing are counted, and 404s count too.
    await app.register(rateLimit, {
      global: false,
      max: limit.max,
      timeWindow: limit.windowSeconds * 1000,
      allowList: (req) => exempt.has(pathOf(req)),
      errorResponseBuilder: (req, ctx) => new SrError('HTTP_RATE_LIMITED', `rate limit of ${ctx.max} requests per ${limit.windowSeconds} s exceeded; retry in ${ctx.after}`, {
        details: { limit: ctx.max, windowSeconds: limit.windowSeconds, retryAfter: ctx.after, client: req.ip },
      }),
    });
    app.addHook('onRequest', app.rateLimit());
  }
}
