import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { C_STORE_RQ, TempInstanceWriter, pdvPdu, readCommand, splitPdvs } from './pdata.ts';
import { commandElement as el, pdataPdu, us } from './raw-pdu.ts';

test('splitPdvs returns views of every PDV with its context and control bits; an overrun is refused', () => {
  const pdu = pdataPdu([
    { contextId: 1, mch: 0x03, value: Buffer.from('cmd!') },
    { contextId: 3, mch: 0x00, value: Buffer.from('data1') },
    { contextId: 3, mch: 0x02, value: Buffer.from('data-2') },
  ]);
  const pdvs = splitPdvs(pdu);
  assert.deepEqual(pdvs.map((p) => [p.contextId, p.command, p.last, p.value.toString()]), [
    [1, true, true, 'cmd!'], [3, false, false, 'data1'], [3, false, true, 'data-2'],
  ]);
  assert.equal(pdvs[1]?.value.buffer, pdu.buffer, 'a view, not a copy');
  const first = pdvs[0];
  assert.ok(first);
  assert.deepEqual(splitPdvs(pdvPdu(first)).map((p) => [p.contextId, p.command, p.last, p.value.toString()]), [[1, true, true, 'cmd!']]);
  const bad = Buffer.from(pdu);
  bad.writeUInt32BE(10_000, 6);
  assert.throws(() => splitPdvs(bad), /overruns/);
  assert.throws(() => splitPdvs(pdu.subarray(0, pdu.length - 3)), /overruns|truncated/);
});

test('readCommand reads a C-STORE-RQ command group and refuses bytes that are not one', () => {
  const sopClass = Buffer.from('1.2.840.10008.5.1.4.1.1.2\0');
  const sopInstance = Buffer.from('1.2.3.4\0');
  const body = Buffer.concat([el(0x0002, sopClass), el(0x0100, us(C_STORE_RQ)), el(0x0110, us(42)), el(0x0700, us(0)), el(0x0800, us(0x0000)), el(0x1000, sopInstance)]);
  const cmd = Buffer.concat([el(0x0000, Buffer.from([body.length & 0xff, body.length >> 8, 0, 0])), body]);
  assert.deepEqual(readCommand(cmd), { commandField: C_STORE_RQ, messageId: 42, hasDataset: true, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2', affectedSopInstanceUid: '1.2.3.4' });
  const echo = Buffer.concat([el(0x0100, us(0x0030)), el(0x0110, us(7)), el(0x0800, us(0x0101))]);
  assert.equal(readCommand(echo)?.hasDataset, false);
  assert.equal(readCommand(cmd.subarray(0, cmd.length - 2)), undefined, 'truncated');
  assert.equal(readCommand(Buffer.from('not a command group at all')), undefined);
});

test('TempInstanceWriter writes, hashes and syncs every byte in order, and keeps the head', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sr-pdata-'));
  try {
    const w = new TempInstanceWriter(join(dir, 'a.dcm'));
    const chunks = Array.from({ length: 40 }, (_, i) => Buffer.alloc(5000 + i * 97, i + 1));
    for (const c of chunks) w.write(c);
    const all = Buffer.concat(chunks);
    const digest = w.finish(true);
    await digest.sync?.();
    await w.close();
    assert.equal(digest.sha256, createHash('sha256').update(all).digest('hex'));
    assert.equal(digest.sizeBytes, all.length);
    assert.deepEqual(Buffer.from(digest.head), all.subarray(0, 64 * 1024));
    assert.deepEqual(await readFile(join(dir, 'a.dcm')), all);
    assert.deepEqual(Buffer.concat((digest.chunks ?? []).map((c) => Buffer.from(c))), all, 'the kept chunks are the bytes written');
    // An existing path: the writer fails, and its sync says so.
    const dup = new TempInstanceWriter(join(dir, 'a.dcm'));
    dup.write(Buffer.from('x'));
    await assert.rejects(dup.finish(true).sync?.() ?? Promise.resolve(), /EEXIST/);
    await dup.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
