/**
 * DICOM upper-layer bytes written out by hand (PS3.8 9.3): PDUs, A-ASSOCIATE-RQ, P-DATA-TF with PDVs, A-RELEASE-RQ,
 * and command-group elements (PS3.7 E.1, implicit VR little endian) with a C-STORE-RQ (PS3.7 9.3.1.1). For the
 * fuzzer (src/fuzz, which breaks any field of them) and for the DIMSE tests that talk to the SCP byte by byte.
 * Nothing here validates: that is the point. Production encoding is dcmjs-dimse's and pdata.ts's.
 */

/** A PDU: type, reserved byte, 32-bit big-endian length, body (PS3.8 9.3.1). */
export function pdu(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** A variable item inside an association PDU: type, reserved byte, 16-bit big-endian length, body (PS3.8 9.3.2). */
export function item(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt8(type, 0);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([head, body]);
}

/** A-ASSOCIATE-RQ with one presentation context (id 1), max PDU length 65536, implementation class UID 1.2.3.4. */
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

/** One PDV of a P-DATA-TF: `mch` is the message control header (bit 0 command, bit 1 last fragment). */
export interface RawPdv {
  readonly contextId: number;
  readonly mch: number;
  readonly value: Buffer;
}

/** A P-DATA-TF PDU with these PDVs (PS3.8 9.3.5). */
export function pdataPdu(pdvs: readonly RawPdv[]): Buffer {
  return pdu(0x04, Buffer.concat(pdvs.flatMap((p) => {
    const head = Buffer.alloc(6);
    head.writeUInt32BE(p.value.length + 2, 0);
    head.writeUInt8(p.contextId, 4);
    head.writeUInt8(p.mch, 5);
    return [head, p.value];
  })));
}

/** One P-DATA-TF PDU with one PDV (context 1 unless told). */
export function pdvPdu(command: boolean, last: boolean, data: Buffer, contextId = 1): Buffer {
  return pdataPdu([{ contextId, mch: (command ? 1 : 0) | (last ? 2 : 0), value: data }]);
}

/** A command-group element (group 0000), implicit VR little endian. */
export function commandElement(elem: number, value: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0x0000, 0);
  head.writeUInt16LE(elem, 2);
  head.writeUInt32LE(value.length, 4);
  return Buffer.concat([head, value]);
}

/** US value, little endian. */
export function us(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

/** UI value, padded to even length with NUL. */
export function ui(s: string): Buffer {
  return Buffer.from(s.length % 2 === 1 ? `${s}\0` : s, 'latin1');
}

/** A C-STORE-RQ command group with a data set (CommandDataSetType 0x0000), led by its group length. */
export function cStoreCommand(messageId: number, sopClass: string, sopInstance: string): Buffer {
  const body = Buffer.concat([
    commandElement(0x0002, ui(sopClass)),
    commandElement(0x0100, us(0x0001)),
    commandElement(0x0110, us(messageId)),
    commandElement(0x0700, us(0)),
    commandElement(0x0800, us(0x0000)),
    commandElement(0x1000, ui(sopInstance)),
  ]);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([commandElement(0x0000, len), body]);
}
