import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { silentLogger } from '../core/log.ts';
import { archiveSuite } from './archive-suite.ts';
import { openArchive } from './index.ts';

const CONNECTION = process.env['SR_TEST_PG'] ?? 'postgres://postgres@127.0.0.1:5432/test';
const schemas: string[] = [];

async function dropSchema(schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: CONNECTION });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end();
  }
}

after(async () => {
  for (const s of schemas) await dropSchema(s);
});

archiveSuite('postgres', () => {
  const schema = `sr_t_${randomBytes(6).toString('hex')}`;
  schemas.push(schema);
  const blobDir = mkdtempSync(join(tmpdir(), 'sr-archive-pg-'));
  return Promise.resolve({
    blobDir,
    open: (o = {}) => openArchive(
      { backend: 'postgres', connectionString: CONNECTION, schema, blobDir, ...(o.recovery !== undefined ? { recovery: o.recovery } : {}) },
      o.log ?? silentLogger,
    ),
    cleanup: async () => {
      rmSync(blobDir, { recursive: true, force: true });
      await dropSchema(schema);
    },
  });
});
