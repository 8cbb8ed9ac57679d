import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrError, silentLogger } from '../core/index.ts';
import { createForwardQueue, destinationsFor } from './index.ts';
import type { ForwardDestination, ForwardFile, ForwardSender, ForwardStatus } from './index.ts';

const PACS: ForwardDestination = { aeTitle: 'PACS', host: '127.0.0.1', port: 104 };
const FILES: ForwardFile[] = ['1.1', '1.2', '1.3'].map((uid) => ({ sopInstanceUid: uid, bytes: new Uint8Array([1]) }));

test('destinations per analysis or global', () => {
  const all = { ...PACS, aeTitle: 'ALL' };
  const chest = { ...PACS, aeTitle: 'CHEST', analyses: ['chest-ct-nodules'] };
  const star = { ...PACS, aeTitle: 'STAR', analyses: '*' as const };
  assert.deepEqual(destinationsFor([all, chest, star], 'chest-ct-nodules').map((d) => d.aeTitle), ['ALL', 'CHEST', 'STAR']);
  assert.deepEqual(destinationsFor([all, chest, star], 'head-ct-hemorrhage').map((d) => d.aeTitle), ['ALL', 'STAR']);
});

test('a refused instance and a failed association are retried; only what is missing is sent again', async () => {
  const calls: string[][] = [];
  let n = 0;
  const send: ForwardSender = async (_d, files) => {
    calls.push(files.map((f) => f.sopInstanceUid));
    n++;
    if (n === 1) return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: f.sopInstanceUid !== '1.2', ...(f.sopInstanceUid === '1.2' ? { error: 'status 0xa700' } : {}) }));
    if (n === 2) throw new SrError('DIMSE_ASSOCIATION_FAILED', 'connection refused');
    return files.map((f) => ({ sopInstanceUid: f.sopInstanceUid, ok: true }));
  };
  const statuses: ForwardStatus[] = [];
  const q = createForwardQueue({ send, log: silentLogger, retryDelayMs: 5 });
  q.enqueue({ key: 'r1', destination: PACS, files: FILES, onStatus: (s) => void statuses.push(s) });
  await q.idle();
  assert.deepEqual(calls, [['1.1', '1.2', '1.3'], ['1.2'], ['1.2']]);
  assert.deepEqual(statuses.map((s) => s.state), ['queued', 'retrying', 'retrying', 'sent']);
  assert.equal(statuses[1]?.error?.code, 'DIMSE_OPERATION_FAILED');
  assert.equal(statuses[2]?.error?.code, 'DIMSE_ASSOCIATION_FAILED');
  assert.deepEqual(statuses.at(-1), { ...statuses.at(-1), sent: 3, total: 3, attempts: 3, error: null });
  await q.stop();
});

test('a destination that stays down ends failed with a coded error after maxAttempts', async () => {
  let calls = 0;
  const q = createForwardQueue({ send: async () => { calls++; throw new Error('ECONNREFUSED'); }, log: silentLogger, retryDelayMs: 1, maxAttempts: 3 });
  const statuses: ForwardStatus[] = [];
  q.enqueue({ key: 'r1', destination: PACS, files: FILES, onStatus: (s) => void statuses.push(s) });
  await q.idle();
  assert.equal(calls, 3);
  assert.equal(statuses.at(-1)?.state, 'failed');
  assert.equal(statuses.at(-1)?.error?.code, 'OUTPUT_FORWARD_FAILED');
  assert.equal(statuses.at(-1)?.sent, 0);
  await q.stop();
});

test('stop: a delivery waiting for its retry is reported failed, not dropped; a re-run supersedes a pending one', async () => {
  const q = createForwardQueue({ send: async () => { throw new Error('down'); }, log: silentLogger, retryDelayMs: 60_000 });
  const first: ForwardStatus[] = [];
  const second: ForwardStatus[] = [];
  q.enqueue({ key: 'r1', destination: PACS, files: FILES, onStatus: (s) => void first.push(s) });
  await new Promise((r) => setTimeout(r, 20));
  q.enqueue({ key: 'r1', destination: PACS, files: FILES, onStatus: (s) => void second.push(s) });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(q.pending, 1, 'the re-run replaced the pending delivery');
  await q.stop();
  assert.deepEqual(first.map((s) => s.state), ['queued', 'retrying']);
  assert.deepEqual(second.map((s) => s.state), ['queued', 'retrying', 'failed']);
  assert.equal(second.at(-1)?.error?.code, 'OUTPUT_FORWARD_FAILED');
  assert.equal(q.pending, 0);
  assert.throws(() => q.enqueue({ key: 'r2', destination: PACS, files: FILES }), (e) => e instanceof SrError && e.code === 'OUTPUT_FORWARD_FAILED');
});
