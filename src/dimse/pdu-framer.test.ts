import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PduFramer, PduStream } from './pdu-framer.ts';
import { splitPdvs } from './pdata.ts';
import { isSrError } from '../core/errors.ts';

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
  assert.throws(() => new PduFramer(1024).push(pdu(0x09, Buffer.alloc(2))), (e: unknown) => isSrError(e, 'DIMSE_PROTOCOL_ERROR'), 'a coded error the association logs');
  const huge = Buffer.alloc(6);
  huge.writeUInt8(0x04, 0);
  huge.writeUInt32BE(0xffffffff, 2);
  assert.throws(() => new PduFramer(1 << 20).push(huge), /exceeds the limit/);
});

function pdv(contextId: number, mch: number, value: Buffer): Buffer {
  const h = Buffer.alloc(6);
  h.writeUInt32BE(value.length + 2, 0);
  h.writeUInt8(contextId, 4);
  h.writeUInt8(mch, 5);
  return Buffer.concat([h, value]);
}

/** What a PduStream delivers over `stream` cut into `size`-byte chunks: PDUs whole (hex), PDVs joined from their pieces. */
function streamed(stream: Buffer, size: number, streamPData: (n: number) => boolean, maxLength = 1 << 20): string[] {
  const got: string[] = [];
  let pieces: Buffer[] = [];
  let pdus = 0;
  const s = new PduStream(maxLength, {
    streamPData: () => streamPData(pdus),
    pdu: (p) => got.push(`pdu ${p.toString('hex')}`),
    piece: (ctx, mch, value, first, end) => {
      assert.equal(first, pieces.length === 0);
      pieces.push(Buffer.from(value));
      if (end) {
        got.push(`pdv ${ctx} ${mch} ${Buffer.concat(pieces).toString('hex')}`);
        pieces = [];
      }
    },
    pduDone: () => {
      pdus++;
      got.push('done');
    },
  });
  for (let i = 0; i < stream.length; i += size) s.push(stream.subarray(i, i + size));
  return got;
}

test('PduStream: at every chunking, P-DATA-TF PDVs come as pieces equal to splitPdvs, other PDUs whole', () => {
  const big = Buffer.alloc(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
  const pdus = [
    pdu(0x01, Buffer.alloc(300, 3)),
    pdu(0x04, Buffer.concat([pdv(1, 3, Buffer.from('command')), pdv(1, 0, big.subarray(0, 70_000)), pdv(3, 2, Buffer.alloc(0))])),
    pdu(0x04, Buffer.alloc(0)),
    pdu(0x04, pdv(1, 2, big)),
    pdu(0x05, Buffer.alloc(4)),
  ];
  const stream = Buffer.concat(pdus);
  const expected: string[] = [];
  for (const p of pdus) {
    if (p[0] === 0x04) for (const v of splitPdvs(p)) expected.push(`pdv ${v.contextId} ${(v.command ? 1 : 0) | (v.last ? 2 : 0)} ${v.value.toString('hex')}`);
    else expected.push(`pdu ${p.toString('hex')}`);
    expected.push('done');
  }
  for (const size of [1, 5, 6, 7, 13, 1000, 65_536, stream.length]) {
    assert.deepEqual(streamed(stream, size, () => true), expected, `chunks of ${size}`);
  }
  // Not streamed (before the association is accepted, or after the fast path was left): P-DATA-TF whole too.
  assert.deepEqual(streamed(stream, 999, () => false), pdus.flatMap((p) => [`pdu ${p.toString('hex')}`, 'done']));
  // Asked at each P-DATA-TF header: the first two (after 1 and 2 PDUs) whole, the third streamed.
  const mixed = streamed(stream, 4096, (n) => n >= 3);
  assert.deepEqual(mixed.filter((g) => g.startsWith('pdu 04')), [pdus[1], pdus[2]].map((p) => `pdu ${p?.toString('hex')}`));
  assert.deepEqual(mixed.filter((g) => g.startsWith('pdv')), [`pdv 1 2 ${big.toString('hex')}`]);
});

test('PduStream refuses what PduFramer and splitPdvs refuse', () => {
  const run = (b: Buffer, max = 1 << 20): void => void streamed(b, 3, () => true, max);
  assert.throws(() => run(pdu(0x09, Buffer.alloc(2))), /Unknown PDU type: 9/);
  assert.throws(() => run(pdu(0x04, Buffer.alloc(2000)), 1024), /exceeds the limit/);
  const overrun = pdv(1, 2, Buffer.alloc(10));
  assert.throws(() => run(pdu(0x04, overrun.subarray(0, 12))), /overruns/);
  const short = Buffer.alloc(6);
  short.writeUInt32BE(1, 0);
  assert.throws(() => run(pdu(0x04, short)), /overruns/, 'a PDV length below 2');
  assert.throws(() => run(pdu(0x04, Buffer.concat([pdv(1, 2, Buffer.from('ab')), Buffer.alloc(3)]))), /truncated PDV header/);
});
