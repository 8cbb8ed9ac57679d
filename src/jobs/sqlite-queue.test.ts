import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { silentLogger } from '../core/log.ts';
import { createSqliteJobQueue } from './sqlite-queue.ts';
import { defineJobQueueSuite, TEST_TUNING } from './test-fixtures/queue-suite.ts';

defineJobQueueSuite({
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'sr-jobs-sqlite-'));
    const path = join(dir, 'jobs.sqlite');
    return {
      fixture: { kind: 'sqlite', path },
      open: async (tuning) => createSqliteJobQueue({ db: path, log: silentLogger, ...tuning }),
      dispose: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

test('sqlite: a database handed in is switched to WAL and left open on close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-jobs-sqlite-'));
  const db = new Database(join(dir, 'shared.sqlite'));
  try {
    const q = createSqliteJobQueue({ db, log: silentLogger, ...TEST_TUNING });
    assert.equal(q.backend, 'sqlite');
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    await q.enqueue({ analysisId: 'a', analysisVersion: '1', studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', trigger: 'auto' });
    await q.close();
    assert.equal(db.open, true);
    assert.equal((db.prepare('SELECT count(*) AS n FROM jobs').get() as { n: number }).n, 1);
    await assert.rejects(q.list({}), { code: 'JOB_QUEUE_UNAVAILABLE' });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
