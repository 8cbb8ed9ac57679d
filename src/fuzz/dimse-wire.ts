/**
 * DICOM upper-layer bytes for the C-STORE fuzz target (PS3.8 9.3): A-ASSOCIATE-RQ, P-DATA-TF with PDVs, a C-STORE-RQ
 * command group (PS3.7 9.3.1.1, implicit VR little endian), A-RELEASE-RQ. Written out by hand so the fuzzer can
 * break any field of them.
 */
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

export function pdu(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

function item(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

export function associateRq(calling: string, called: string, abstractSyntax: string, transferSyntaxes: readonly string[]): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  fixed.write(called.padEnd(16), 4, 'latin1');
  fixed.write(calling.padEnd(16), 20, 'latin1');
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(65536);
  return pdu(0x01, Buffer.concat([
    fixed,
    item(0x10, Buffer.from('1.2.840.10008.3.1.1.1')),
    item(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x30, Buffer.from(abstractSyntax)), ...transferSyntaxes.map((t) => item(0x40, Buffer.from(t)))])),
    item(0x50, Buffer.concat([item(0x51, maxLen), item(0x52, Buffer.from('1.2.3.4'))])),
  ]));
}

export const RELEASE_RQ = pdu(0x05, Buffer.alloc(4));

/** One P-DATA-TF PDU with one PDV on context 1. */
export function pdvPdu(command: boolean, last: boolean, data: Buffer, contextId = 1): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(data.length + 2, 0);
  head.writeUInt8(contextId, 4);
  head.writeUInt8((command ? 1 : 0) | (last ? 2 : 0), 5);
  return pdu(0x04, Buffer.concat([head, data]));
}

function implicitElement(elem: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0x0000, 0);
  head.writeUInt16LE(elem, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

const us = (v: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const ui = (s: string): Buffer => Buffer.from(s.length % 2 === 1 ? `${s}\0` : s, 'latin1');

/** A C-STORE-RQ command group with a data set (CommandDataSetType 0x0000). */
export function cStoreCommand(messageId: number, sopClass: string, sopInstance: string): Buffer {
  const body = Buffer.concat([
    implicitElement(0x0002, ui(sopClass)),
    implicitElement(0x0100, us(0x0001)),
    implicitElement(0x0110, us(messageId)),
    implicitElement(0x0700, us(0)),
    implicitElement(0x0800, us(0x0000)),
    implicitElement(0x1000, ui(sopInstance)),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([implicitElement(0x0000, len), body]);
}

/** The data set of a Part 10 file (what a C-STORE carries): the bytes after the file meta group. */
export function datasetOf(bytes: Uint8Array): Buffer {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = b.length >= 132 && b.toString('latin1', 128, 132) === 'DICM' ? 132 : 0;
  while (at + 8 <= b.length && b.readUInt16LE(at) === 0x0002) {
    const vr = b.toString('latin1', at + 4, at + 6);
    const long = ['OB', 'OW', 'UN', 'SQ', 'UT'].includes(vr);
    const next = long ? at + 12 + (at + 12 <= b.length ? b.readUInt32LE(at + 8) : 0) : at + 8 + b.readUInt16LE(at + 6);
    if (next > b.length) break;
    at = next;
  }
  return b.subarray(at);
}
