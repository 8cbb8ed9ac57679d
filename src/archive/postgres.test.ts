import { after } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log.ts';
import { archiveSuite } from './archive-suite.ts';
import { openArchive } from './index.ts';
import { pgTestSchema } from '../../test/support/postgres.ts';
import type { PgTestSchema } from '../../test/support/postgres.ts';

const schemas: PgTestSchema[] = [];

after(async () => {
  for (const s of schemas) await s.drop();
});

archiveSuite('postgres', () => {
  const pgSchema = pgTestSchema('sr_t');
  const { connection, schema } = pgSchema;
  schemas.push(pgSchema);
  const blobDir = mkdtempSync(join(tmpdir(), 'sr-archive-pg-'));
  return Promise.resolve({
    blobDir,
    open: (o = {}) => openArchive(
      { backend: 'postgres', connectionString: connection, schema, blobDir, ...(o.recovery !== undefined ? { recovery: o.recovery } : {}) },
      o.log ?? silentLogger,
    ),
    cleanup: async () => {
      rmSync(blobDir, { recursive: true, force: true });
      await pgSchema.drop();
    },
  });
});
