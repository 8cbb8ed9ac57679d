/**
 * Serves the radiologist web app (web/dist, built by `npm run build -w web`) at /: its files are public (the app
 * signs in through /api/v1/auth), hashed assets are cached for a year, and any other path that is not an API gets
 * index.html (the app routes on the client). /api/* and /dicom-web/* never fall back: unknown ones stay 404 JSON.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SrError } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { PUBLIC, routeConfig } from './auth/context.ts';

export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/dist', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.map': 'application/json',
  '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
};

async function fileAt(root: string, rel: string): Promise<{ path: string; size: number } | undefined> {
  const p = resolve(root, normalize(rel).replace(/^([/\\])+/, ''));
  if (p !== root && !p.startsWith(root + sep)) return undefined;
  try {
    const s = await stat(p);
    return s.isFile() ? { path: p, size: s.size } : undefined;
  } catch {
    // Missing file: the caller falls back to index.html or 404.
    return undefined;
  }
}

function send(reply: FastifyReply, file: { path: string; size: number }, cache: string): FastifyReply {
  return reply.type(TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream').header('content-length', String(file.size))
    .header('cache-control', cache).header('x-content-type-options', 'nosniff').send(createReadStream(file.path));
}

/** Registers GET /* for the web app when `root` holds an index.html; logs and registers nothing otherwise. */
export async function registerWebApp(app: FastifyInstance, o: { root?: string | undefined; log: Logger }): Promise<boolean> {
  const root = resolve(o.root ?? DEFAULT_WEB_ROOT);
  const index = await fileAt(root, 'index.html');
  if (!index) {
    o.log.info('web app not built; / is not served (run "npm run build -w web")', { root });
    return false;
  }
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const rel = decodeURIComponent((req.params as { '*'?: string })['*'] ?? '');
    if (/^(api|dicom-web)(\/|$)/.test(rel)) throw new SrError('NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`);
    const file = rel === '' ? undefined : await fileAt(root, rel);
    if (file) return send(reply, file, rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    // A missing asset (a bundle file, a known file type) is a 404, not the page; anything else is a client route.
    if (rel.startsWith('assets/') || TYPES[extname(rel).toLowerCase()] !== undefined) throw new SrError('NOT_FOUND', `no file ${rel}`);
    const page = await fileAt(root, 'index.html');
    if (!page) throw new SrError('NOT_FOUND', 'the web app is not built');
    return send(reply, page, 'no-cache');
  };
  app.get('/*', { config: routeConfig(PUBLIC) }, handler);
  o.log.debug('web app served', { root: join(root) });
  return true;
}
