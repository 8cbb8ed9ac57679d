/**
 * What the C-STORE fuzz target sends besides the hand-written upper-layer bytes of src/dimse/raw-pdu.ts (A-ASSOCIATE-RQ,
 * P-DATA-TF, C-STORE-RQ command group, A-RELEASE-RQ): the syntaxes it proposes and the data set of a Part 10 file.
 */
export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_LE = '1.2.840.10008.1.2';

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
