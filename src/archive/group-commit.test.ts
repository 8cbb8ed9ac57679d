import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSqlite } from './db.ts';
import { GroupCommit } from './group-commit.ts';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function freshDb() {
  const dir = await mkdtemp(join(tmpdir(), 'sr-gc-'));
  roots.push(dir);
  const db = openSqlite(join(dir, 'x.sqlite'));
  await db.run('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  return db;
}

test('concurrent stores share one transaction; a failing one is rolled back alone; all resolve after the commit', async () => {
  const db = await freshDb();
  try {
    const gc = new GroupCommit(db, { maxWaitMs: 600_000 });
    let txs = 0;
    const realTx = db.tx.bind(db);
    const counted = Object.assign(Object.create(db) as typeof db, { tx: <T>(fn: Parameters<typeof db.tx<T>>[0]) => (txs++, realTx(fn)) });
    const g = new GroupCommit(counted, { maxWaitMs: 1000 });
    for (let i = 0; i < 5; i++) g.begin();
    const results = [0, 1, 2, 3, 4].map((i) => g.tx(async (q) => {
      await q.run('INSERT INTO t (k, v) VALUES (?, ?)', [`k${i}`, i]);
      if (i === 2) {
        await q.run('INSERT INTO t (k, v) VALUES (?, ?)', ['k0', 99]); // primary key conflict: this store fails
      }
      return i;
    }));
    const settled = await Promise.allSettled(results);
    assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.equal(txs, 1, 'one transaction (one commit) for the five stores');
    assert.deepEqual((await db.all('SELECT k, v FROM t ORDER BY k')).map((r) => `${String(r['k'])}=${String(r['v'])}`), ['k0=0', 'k1=1', 'k3=3', 'k4=4']);
    // A lone store does not wait for the window (10 min here): it commits as soon as nobody else is on the way.
    const late = (): Promise<string> => new Promise((r) => setTimeout(() => r('still waiting'), 60_000).unref());
    gc.begin();
    assert.equal(await Promise.race([gc.tx(async (q) => q.run('INSERT INTO t (k, v) VALUES (?, ?)', ['lone', 1])), late()]), 1);
    // A store that gives up (end) releases a waiting batch.
    gc.begin();
    gc.begin();
    const waiting = gc.tx(async (q) => q.run('INSERT INTO t (k, v) VALUES (?, ?)', ['after-end', 1]));
    gc.end();
    assert.equal(await Promise.race([waiting, late()]), 1);
    // A lone store that fails (no savepoint: its transaction is rolled back) rejects with its own error, leaves
    // nothing behind, and the next store commits.
    const own = new Error('this store failed');
    gc.begin();
    await assert.rejects(gc.tx(async (q) => {
      await q.run('INSERT INTO t (k, v) VALUES (?, ?)', ['lone-failed', 1]);
      throw own;
    }), (e) => e === own);
    assert.deepEqual(await db.all('SELECT k FROM t WHERE k = ?', ['lone-failed']), []);
    gc.begin();
    assert.equal(await gc.tx(async (q) => q.run('INSERT INTO t (k, v) VALUES (?, ?)', ['lone-next', 1])), 1);
  } finally {
    await db.close();
  }
});
