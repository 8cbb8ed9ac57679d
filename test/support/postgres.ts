/**
 * Test helper: a private PostgreSQL schema per test (suite, file), so test files running in parallel on one
 * database never collide, and its teardown. The database is the CI one (scripts/setup.sh: 127.0.0.1:5432, user
 * postgres, trust, database `test`); SR_TEST_PG points elsewhere (the older names SECONDREADER_TEST_PG and
 * SR_TEST_PG_URL are still read).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_PG_CONNECTION =
  process.env['SR_TEST_PG'] ?? process.env['SECONDREADER_TEST_PG'] ?? process.env['SR_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface PgTestSchema {
  /** Connection string of the test database. */
  readonly connection: string;
  /** `<prefix>_<12 hex digits>`: lower case, a valid unquoted identifier. Not created here: the code under test creates it. */
  readonly schema: string;
  /** DROP SCHEMA IF EXISTS … CASCADE of the schema and its companions; safe to call more than once. */
  drop(): Promise<void>;
}

export interface PgTestSchemaOptions {
  /** Suffixes of schemas that belong to this one and are dropped with it, e.g. '_pgboss' for pg-boss's `<schema>_pgboss`. */
  readonly companions?: readonly string[];
}

/** A fresh schema name under `prefix` (lower-case letters, digits, underscores) and its drop. */
export function pgTestSchema(prefix: string, options: PgTestSchemaOptions = {}): PgTestSchema {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const names = [schema, ...(options.companions ?? []).map((suffix) => `${schema}${suffix}`)];
  for (const n of names) if (!/^[a-z_][a-z0-9_]*$/.test(n)) throw new Error(`pgTestSchema: ${JSON.stringify(n)} is not a lower-case identifier`);
  return {
    connection: TEST_PG_CONNECTION,
    schema,
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_PG_CONNECTION });
      await c.connect();
      try {
        for (const n of names) await c.query(`DROP SCHEMA IF EXISTS "${n}" CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}
