import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../core/log.ts';
import { createPgJobQueue } from './pg-queue.ts';
import { defineJobQueueSuite } from './test-fixtures/queue-suite.ts';
import { pgTestSchema, TEST_PG_CONNECTION } from '../../test/support/postgres.ts';

// Each test gets its own schemas (ours and pg-boss's), dropped afterwards, so parallel test files never collide.
defineJobQueueSuite({
  name: 'postgres',
  async create() {
    const { connection, schema, drop } = pgTestSchema('sr_t', { companions: ['_pgboss'] });
    return {
      fixture: { kind: 'postgres', connectionString: connection, schema },
      open: (tuning) => createPgJobQueue({ connectionString: connection, schema, log: silentLogger, ...tuning }),
      dispose: drop,
    };
  },
});

test('postgres: an unreachable database is JOB_QUEUE_UNAVAILABLE; a bad schema name is CONFIG_INVALID', async () => {
  await assert.rejects(
    createPgJobQueue({ connectionString: 'postgres://postgres@127.0.0.1:1/test', schema: 'sr_t_unreachable', log: silentLogger }),
    { code: 'JOB_QUEUE_UNAVAILABLE' },
  );
  await assert.rejects(createPgJobQueue({ connectionString: TEST_PG_CONNECTION, schema: 'Robert"); DROP', log: silentLogger }), { code: 'CONFIG_INVALID' });
});
