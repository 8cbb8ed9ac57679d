import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { silentLogger } from '../core/log.ts';
import { createPgJobQueue } from './pg-queue.ts';
import { defineJobQueueSuite } from './test-fixtures/queue-suite.ts';

// Each test gets its own schemas (ours and pg-boss's), dropped afterwards, so parallel test files never collide.
const CONNECTION = process.env.SR_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: CONNECTION, max: 2 });
after(() => admin.end());

async function dropSchemas(schema: string): Promise<void> {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.query(`DROP SCHEMA IF EXISTS ${schema}_pgboss CASCADE`);
}

defineJobQueueSuite({
  name: 'postgres',
  async create() {
    const schema = `sr_t_${randomBytes(5).toString('hex')}`;
    return {
      fixture: { kind: 'postgres', connectionString: CONNECTION, schema },
      open: (tuning) => createPgJobQueue({ connectionString: CONNECTION, schema, log: silentLogger, ...tuning }),
      dispose: () => dropSchemas(schema),
    };
  },
});

test('postgres: an unreachable database is JOB_QUEUE_UNAVAILABLE; a bad schema name is CONFIG_INVALID', async () => {
  await assert.rejects(
    createPgJobQueue({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'sr_t_unreachable', log: silentLogger }),
    { code: 'JOB_QUEUE_UNAVAILABLE' },
  );
  await assert.rejects(createPgJobQueue({ connectionString: CONNECTION, schema: 'Robert"); DROP', log: silentLogger }), { code: 'CONFIG_INVALID' });
});
