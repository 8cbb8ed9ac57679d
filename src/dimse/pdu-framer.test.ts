import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PduFramer } from './pdu-framer.ts';

function pdu(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

test('PDUs split across chunks at every boundary, and several in one chunk, come out whole and in order', () => {
  const pdus = [pdu(0x04, Buffer.alloc(70_000, 1)), pdu(0x04, Buffer.from('ab')), pdu(0x05, Buffer.alloc(4)), pdu(0x04, Buffer.alloc(3000, 7))];
  const stream = Buffer.concat(pdus);
  for (const size of [1, 5, 6, 7, 1000, 65_536, stream.length]) {
    const f = new PduFramer(1 << 20);
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) got.push(...f.push(stream.subarray(i, i + size)));
    assert.deepEqual(got.map((b) => b.toString('hex')), pdus.map((b) => b.toString('hex')), `chunks of ${size}`);
  }
});

test('an unknown PDU type or a length over the limit is refused before anything is buffered', () => {
  assert.throws(() => new PduFramer(1024).push(pdu(0x09, Buffer.alloc(2))), /Unknown PDU type: 9/);
  const huge = Buffer.alloc(6);
  huge.writeUInt8(0x04, 0);
  huge.writeUInt32BE(0xffffffff, 2);
  assert.throws(() => new PduFramer(1 << 20).push(huge), /exceeds the limit/);
});
