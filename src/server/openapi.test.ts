import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openApiDocument, openApiText } from './openapi.ts';
import { API_PREFIX, ROUTES } from './routes.ts';

const FILE = join(import.meta.dirname, '..', '..', 'docs', 'openapi.json');

test('docs/openapi.json is the document generated from the route schemas', () => {
  // Regenerate after changing a route: SECONDREADER_UPDATE_OPENAPI=1 node scripts/run-tests.mjs src/server/openapi.test.ts
  if (process.env['SECONDREADER_UPDATE_OPENAPI'] === '1') writeFileSync(FILE, openApiText());
  assert.equal(readFileSync(FILE, 'utf8'), openApiText(), 'docs/openapi.json is stale: regenerate it (see the comment in this test)');
});

test('every route has a schema for each part it reads and a documented error response', () => {
  const doc = openApiDocument() as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown>; parameters?: { in: string }[] }>> };
  const ids = new Set<string>();
  for (const r of ROUTES) {
    assert.ok(Object.keys(r.schema.response).some((s) => Number(s) >= 400), `${r.url}: error response documented`);
    assert.ok(Object.keys(r.schema.response).some((s) => Number(s) < 300) || r.produces, `${r.url}: success response documented`);
    if (r.url.includes(':')) assert.ok(r.schema.params, `${r.url}: path params have a schema`);
    assert.ok(!ids.has(r.operationId), `${r.operationId} unique`);
    ids.add(r.operationId);
    const op = doc.paths[API_PREFIX + r.url.replace(/:([A-Za-z]+)/g, '{$1}')]?.[r.method.toLowerCase()];
    assert.equal(op?.operationId, r.operationId);
  }
});
