import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SyncCoalescer } from './fsync.ts';

/** A sync whose completion the test controls, recording when each one started. */
function controlledSync(): { fn: (p: string) => Promise<void>; starts: string[]; finish: (i: number, error?: Error) => void } {
  const starts: string[] = [];
  const done: Array<(e?: Error) => void> = [];
  return {
    starts,
    fn: (p) => new Promise<void>((resolve, reject) => {
      starts.push(p);
      done.push((e) => (e ? reject(e) : resolve()));
    }),
    finish: (i, error) => done[i]?.(error),
  };
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('callers during a running sync share one later sync; none is covered by one that started before it', async () => {
  const c = controlledSync();
  const s = new SyncCoalescer(c.fn);
  const settled: string[] = [];
  const a = s.sync('/d').then(() => settled.push('a'));
  await tick();
  assert.equal(c.starts.length, 1);
  // b and c arrive while a's sync runs: it may have started before their renames, so they wait for the next.
  const b = s.sync('/d').then(() => settled.push('b'));
  const d = s.sync('/d').then(() => settled.push('c'));
  const other = s.sync('/e').then(() => settled.push('e'));
  await tick();
  assert.deepEqual(c.starts, ['/d', '/e'], 'another path syncs independently; the queued one has not started');
  c.finish(0);
  await tick();
  await tick();
  assert.deepEqual(settled, ['a']);
  assert.deepEqual(c.starts, ['/d', '/e', '/d'], 'one sync for both waiting callers');
  c.finish(2);
  c.finish(1);
  await Promise.all([a, b, d, other]);
  assert.deepEqual(settled.sort(), ['a', 'b', 'c', 'e']);
});

test('a failed sync rejects every caller that joined it, and the next caller starts afresh', async () => {
  const c = controlledSync();
  const s = new SyncCoalescer(c.fn);
  const first = s.sync('/d');
  await tick();
  const joined = [s.sync('/d'), s.sync('/d')];
  c.finish(0);
  await first;
  await tick();
  c.finish(1, new Error('EIO'));
  for (const j of joined) await assert.rejects(j, /EIO/);
  const again = s.sync('/d');
  await tick();
  assert.equal(c.starts.length, 3);
  c.finish(2);
  await again;
});

test('the default sync fsyncs real files and folders', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-fsync-'));
  try {
    writeFileSync(join(dir, 'f'), 'x');
    const s = new SyncCoalescer();
    await Promise.all([s.sync(dir), s.sync(join(dir, 'f')), s.sync(dir)]);
    await assert.rejects(s.sync(join(dir, 'missing')), /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
