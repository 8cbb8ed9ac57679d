import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { isSrError, silentLogger } from '../core/index.ts';
import { registerWebApp } from './web-static.ts';

describe('web app static files', () => {
  let dir = '';
  let app: FastifyInstance;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-web-static-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>app</title>');
    await writeFile(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    await writeFile(join(dir, 'secret.txt'), 'x');
    app = Fastify();
    app.setErrorHandler((err, _req, reply) => reply.code(isSrError(err) ? err.status : 500).send(isSrError(err) ? err.toJSON() : { message: String(err) }));
    assert.equal(await registerWebApp(app, { root: dir, log: silentLogger }), true);
  });
  after(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html at / and for client routes, assets with long caching', async () => {
    const root = await app.inject({ url: '/' });
    assert.equal(root.statusCode, 200);
    assert.match(root.headers['content-type'] as string, /^text\/html/);
    assert.equal(root.headers['cache-control'], 'no-cache');
    const route = await app.inject({ url: '/study/1.2.3' });
    assert.equal(route.statusCode, 200);
    assert.match(route.body, /<title>app/);
    const js = await app.inject({ url: '/assets/index-abc.js' });
    assert.equal(js.statusCode, 200);
    assert.match(js.headers['content-type'] as string, /^text\/javascript/);
    assert.match(js.headers['cache-control'] as string, /immutable/);
  });

  it('never falls back for API paths, missing assets or paths outside the folder', async () => {
    for (const url of ['/api/v1/nope', '/dicom-web/nope', '/assets/missing.js', '/../../etc/passwd', '/%2e%2e/%2e%2e/etc/hostname']) {
      const r = await app.inject({ url });
      assert.ok(r.statusCode === 404 || (r.statusCode === 200 && /<title>app/.test(r.body) && !url.includes('.js')), `${url}: ${r.statusCode}`);
      if (url.startsWith('/api') || url.startsWith('/dicom-web') || url.endsWith('.js')) assert.equal(r.statusCode, 404, url);
      assert.ok(!r.body.includes('root:'), url);
    }
  });

  it('registers nothing when the app is not built', async () => {
    const empty = Fastify();
    assert.equal(await registerWebApp(empty, { root: join(dir, 'nope'), log: silentLogger }), false);
    assert.equal((await empty.inject({ url: '/' })).statusCode, 404);
    await empty.close();
  });
});
