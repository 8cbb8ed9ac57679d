import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SrError, silentLogger } from '../core/index.ts';
import { openArchive } from '../archive/index.ts';
import type { OpenedArchive } from '../archive/index.ts';
import { createForwardQueue, destinationsFor } from './index.ts';
import type { DeliveryStore, ForwardDestination, ForwardQueueOptions, ForwardSender } from './index.ts';
import { pgTestSchema } from '../../test/support/postgres.ts';

const PACS: ForwardDestination = { aeTitle: 'PACS', host: '127.0.0.1', port: 104 };
const UIDS = ['1.1', '1.2', '1.3'];
const cleanups: (() => Promise<void>)[] = [];

after(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Opens archives (two "processes") on one fresh embedded data folder or PostgreSQL schema. */
async function backend(kind: 'sqlite' | 'postgres'): Promise<() => Promise<OpenedArchive>> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-forward-'));
  const { connection, schema, drop } = pgTestSchema('sr_t');
  cleanups.push(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (kind === 'postgres') await drop();
  });
  return async () => {
    const a = kind === 'sqlite'
      ? await openArchive({ backend: 'sqlite', dataDir: dir, recovery: false }, silentLogger)
      : await openArchive({ backend: 'postgres', connectionString: connection, schema, blobDir: dir, recovery: false }, silentLogger);
    cleanups.push(() => a.close());
    return a;
  };
}

/** The archive's deliveries, with objects that are bytes named by their UID (no DICOM needed here). */
function storeOf(a: OpenedArchive): DeliveryStore {
  return {
    replaceDeliveries: (r, d) => a.replaceDeliveries(r, d),
    listDeliveries: (f) => a.listDeliveries(f),
    claimDeliveries: (o) => a.claimDeliveries(o),
    renewDeliveryClaim: (c, l) => a.renewDeliveryClaim(c, l),
    finishDeliveryAttempt: (c, o) => a.finishDeliveryAttempt(c, o),
    readInstance: async (uid) => {
      if (uid.startsWith('missing')) throw new SrError('NOT_FOUND', `instance ${uid} not found`);
      return Buffer.from(uid);
    },
  };
}

const FAST = { retryDelayMs: 5, pollMs: 20, leaseMs: 5000 } satisfies Partial<ForwardQueueOptions>;

test('destinations per analysis or global', () => {
  const all = { ...PACS, aeTitle: 'ALL' };
  const chest = { ...PACS, aeTitle: 'CHEST', analyses: ['chest-ct-nodules'] };
  const star = { ...PACS, aeTitle: 'STAR', analyses: '*' as const };
  assert.deepEqual(destinationsFor([all, chest, star], 'chest-ct-nodules').map((d) => d.aeTitle), ['ALL', 'CHEST', 'STAR']);
  assert.deepEqual(destinationsFor([all, chest, star], 'head-ct-hemorrhage').map((d) => d.aeTitle), ['ALL', 'STAR']);
});

test('a refused instance and a failed association are retried; only what is missing is sent again', { timeout: 30_000 }, async () => {
  const a = await (await backend('sqlite'))();
  const calls: string[][] = [];
  const send: ForwardSender = async (_d, files) => {
    calls.push(files.map((f) => f.sopInstanceUid));
    if (calls.length === 1) return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: f.sopInstanceUid !== '1.2', ...(f.sopInstanceUid === '1.2' ? { error: 'status 0xa700' } : {}) }));
    if (calls.length === 2) throw new SrError('DIMSE_ASSOCIATION_FAILED', 'connection refused');
    return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: Buffer.from(f.bytes).toString() === f.sopInstanceUid }));
  };
  const q = createForwardQueue({ store: storeOf(a), send, log: silentLogger, ...FAST });
  await q.enqueue({ key: 'r1', destinations: [PACS, PACS], sopInstanceUids: UIDS });
  await q.idle();
  await q.stop();
  assert.deepEqual(calls, [['1.1', '1.2', '1.3'], ['1.2'], ['1.2']]);
  const [d] = await a.listDeliveries({ resultId: 'r1' });
  assert.deepEqual([d?.destination, d?.state, d?.attempts, d?.remaining, d?.error, d?.nextAttemptAt], ['PACS@127.0.0.1:104', 'sent', 3, [], null, null]);
});

test('a destination that stays down ends failed with a coded error after maxAttempts; a missing object fails at once', { timeout: 30_000 }, async () => {
  const a = await (await backend('sqlite'))();
  let calls = 0;
  const q = createForwardQueue({ store: storeOf(a), send: async () => { calls++; throw new Error('ECONNREFUSED'); }, log: silentLogger, ...FAST, maxAttempts: 3 });
  await q.enqueue({ key: 'r1', destinations: [PACS], sopInstanceUids: UIDS });
  await q.enqueue({ key: 'r2', destinations: [PACS], sopInstanceUids: ['missing.1'] });
  await q.idle();
  await q.stop();
  assert.equal(calls, 3);
  const [r1] = await a.listDeliveries({ resultId: 'r1' });
  assert.deepEqual([r1?.state, r1?.attempts, r1?.error?.code, r1?.remaining.length], ['failed', 3, 'OUTPUT_FORWARD_FAILED', 3]);
  const [r2] = await a.listDeliveries({ resultId: 'r2' });
  assert.deepEqual([r2?.state, r2?.attempts, r2?.error?.code], ['failed', 1, 'NOT_FOUND']);
  await assert.rejects(q.enqueue({ key: 'r3', destinations: [PACS], sopInstanceUids: UIDS }), (e) => e instanceof SrError && e.code === 'OUTPUT_FORWARD_FAILED');
});

test('stop leaves a waiting delivery pending; the next worker resumes it; a re-run supersedes the old objects', { timeout: 30_000 }, async () => {
  const open = await backend('sqlite');
  const a = await open();
  let up = false;
  const sent: string[] = [];
  const send: ForwardSender = async (_d, files) => {
    if (!up) throw new SrError('DIMSE_ASSOCIATION_FAILED', 'connection refused');
    sent.push(...files.map((f) => f.sopInstanceUid));
    return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: true }));
  };
  const first = createForwardQueue({ store: storeOf(a), send, log: silentLogger, ...FAST, retryDelayMs: 200 });
  await first.enqueue({ key: 'r1', destinations: [PACS], sopInstanceUids: UIDS });
  await first.enqueue({ key: 'r3', destinations: [PACS], sopInstanceUids: ['3.1'] });
  while (!(await a.listDeliveries({})).every((d) => d.state === 'retrying')) await new Promise((r) => setTimeout(r, 10));
  await first.stop();
  const waiting = await a.listDeliveries({ pending: true });
  assert.deepEqual(waiting.map((d) => [d.resultId, d.state, d.attempts, d.error?.code]), [['r1', 'retrying', 1, 'DIMSE_ASSOCIATION_FAILED'], ['r3', 'retrying', 1, 'DIMSE_ASSOCIATION_FAILED']]);
  await a.close();

  // "Restart": a new process opens the archive; r3 was re-run meanwhile (new objects); the destination is up.
  const b = await open();
  await b.replaceDeliveries('r3', [{ destination: 'PACS@127.0.0.1:104', target: PACS, sopInstanceUids: ['3.9'], maxAttempts: 5 }]);
  up = true;
  const second = createForwardQueue({ store: storeOf(b), send, log: silentLogger, ...FAST });
  await second.idle();
  await second.stop();
  assert.deepEqual(sent.sort(), ['1.1', '1.2', '1.3', '3.9']);
  assert.deepEqual((await b.listDeliveries({})).map((d) => [d.resultId, d.state, d.generation, d.attempts, d.error]), [['r1', 'sent', 1, 2, null], ['r3', 'sent', 2, 1, null]]);
});

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`two workers on one store (${kind})`, () => {
    test('every delivery is sent once, never by both workers at once, retries included', { timeout: 30_000 }, async () => {
      const open = await backend(kind);
      // SQLite: better-sqlite3's busy wait blocks the event loop, so two connections in one process could stall
      // each other's transactions; two workers of one process share a connection (other processes have their own).
      const a = await open();
      const b = kind === 'sqlite' ? a : await open();
      const active = new Set<string>();
      const overlaps: string[] = [];
      const okSends = new Map<string, number>();
      let n = 0;
      const sender = (worker: string): ForwardSender => async (d, files) => {
        const key = `${files[0]?.sopInstanceUid ?? ''}→${d.aeTitle}`;
        if (active.has(key)) overlaps.push(`${worker}: ${key}`);
        active.add(key);
        try {
          await new Promise((r) => setTimeout(r, 2 + (n % 3)));
          // Every third send fails (a refused association): the retry may be taken by either worker.
          if (++n % 3 === 0) throw new SrError('DIMSE_ASSOCIATION_FAILED', 'refused');
          okSends.set(key, (okSends.get(key) ?? 0) + 1);
          return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: true }));
        } finally {
          active.delete(key);
        }
      };
      const opts = { log: silentLogger, ...FAST, retryDelayMs: 1, maxAttempts: 10, pollMs: 5 };
      const qa = createForwardQueue({ store: storeOf(a), send: sender('a'), ...opts });
      const qb = createForwardQueue({ store: storeOf(b), send: sender('b'), ...opts });
      const dests = [PACS, { ...PACS, aeTitle: 'PACS2' }];
      const results = Array.from({ length: 12 }, (_, i) => `r${i}`);
      await Promise.all(results.map((r, i) => (i % 2 ? qa : qb).enqueue({ key: r, destinations: dests, sopInstanceUids: [`${r}.1`, `${r}.2`] })));
      await Promise.all([qa.idle(), qb.idle()]);
      await Promise.all([qa.stop(), qb.stop()]);
      assert.deepEqual(overlaps, []);
      assert.equal(okSends.size, results.length * dests.length);
      assert.ok([...okSends.values()].every((c) => c === 1), 'each delivery acknowledged once');
      const rows = await a.listDeliveries({});
      assert.equal(rows.length, 24);
      assert.ok(rows.every((d) => d.state === 'sent'));
      assert.ok(rows.some((d) => d.attempts > 1), 'some deliveries were retried');
    });
  });
}
