/** Opens the index database the audit trail lives in: the same database as the archive index, its own connection. */
import { join } from 'node:path';
import { openPostgres, openSqlite } from '../../archive/db.ts';
import type { SqlDb } from '../../archive/db.ts';

export type AuditDbConfig =
  | { readonly backend: 'sqlite'; readonly dataDir: string }
  | { readonly backend: 'postgres'; readonly connectionString: string; readonly schema?: string };

export async function openAuditDb(c: AuditDbConfig): Promise<SqlDb> {
  return c.backend === 'sqlite' ? openSqlite(join(c.dataDir, 'index.sqlite')) : openPostgres(c.connectionString, c.schema ?? 'secondreader');
}
