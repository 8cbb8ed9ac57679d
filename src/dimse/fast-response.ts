/**
 * C-STORE-RSP encoded directly (PS3.7 9.3.1.2, command group in Implicit VR Little Endian, PS3.7 6.3.1), sent as
 * one P-DATA-TF PDU (PS3.8 9.3.5). dcmjs-dimse 0.3 builds every response through dcmjs (naturalize → denaturalize
 * → write) and formats a log line it then discards: ~1.5 ms per instance on the ack's critical path. Only the
 * elements a C-STORE-RSP carries are handled; anything else returns undefined and goes through the library.
 */

type Vr = 'UI' | 'US' | 'LO';
const ELEMENTS: Readonly<Record<string, readonly [number, Vr]>> = {
  AffectedSOPClassUID: [0x0002, 'UI'],
  CommandField: [0x0100, 'US'],
  MessageIDBeingRespondedTo: [0x0120, 'US'],
  CommandDataSetType: [0x0800, 'US'],
  Status: [0x0900, 'US'],
  ErrorComment: [0x0902, 'LO'],
  AffectedSOPInstanceUID: [0x1000, 'UI'],
};

const C_STORE_RSP = 0x8001;

function element(tag: number, vr: Vr, value: string | number): Buffer {
  let body: Buffer;
  if (vr === 'US') {
    body = Buffer.alloc(2);
    body.writeUInt16LE(Number(value));
  } else {
    const s = String(value);
    // PS3.5 6.2: UI padded with NUL, other strings with a space, to an even length.
    body = Buffer.from(s.length % 2 === 1 ? s + (vr === 'UI' ? '\0' : ' ') : s, 'latin1');
  }
  const head = Buffer.alloc(8);
  head.writeUInt16LE(0x0000, 0);
  head.writeUInt16LE(tag, 2);
  head.writeUInt32LE(body.length, 4);
  return Buffer.concat([head, body]);
}

/** The command group of a C-STORE-RSP without data set, or undefined when `elements` is anything else. */
export function encodeCStoreResponse(elements: Readonly<Record<string, unknown>>): Buffer | undefined {
  if (elements['CommandField'] !== C_STORE_RSP) return undefined;
  const parts: Array<[number, Buffer]> = [];
  for (const [keyword, value] of Object.entries(elements)) {
    if (value === undefined) continue;
    const def = ELEMENTS[keyword];
    if (!def || (typeof value !== 'string' && typeof value !== 'number')) return undefined;
    if (def[1] === 'US' && (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffff)) return undefined;
    parts.push([def[0], element(def[0], def[1], value)]);
  }
  parts.sort((a, b) => a[0] - b[0]);
  const body = Buffer.concat(parts.map((p) => p[1]));
  const groupLength = Buffer.alloc(12);
  groupLength.writeUInt32LE(0x00000000, 0);
  groupLength.writeUInt32LE(4, 4);
  groupLength.writeUInt32LE(body.length, 8);
  return Buffer.concat([groupLength, body]);
}

/** One P-DATA-TF with one PDV: a whole command (message control header: command, last fragment). */
export function commandPdu(presentationContextId: number, command: Buffer): Buffer {
  const pdu = Buffer.alloc(12 + command.length);
  pdu.writeUInt8(0x04, 0);
  pdu.writeUInt32BE(6 + command.length, 2);
  pdu.writeUInt32BE(2 + command.length, 6);
  pdu.writeUInt8(presentationContextId, 10);
  pdu.writeUInt8(0x03, 11);
  command.copy(pdu, 12);
  return pdu;
}
