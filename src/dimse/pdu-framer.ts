/**
 * Splits a TCP byte stream into DICOM upper-layer PDUs (PS3.8 9.3: type, reserved, 32-bit big-endian length).
 * Replaces dcmjs-dimse 0.3's accumulator, which concatenates the partial PDU with every new socket chunk (O(n²)
 * in the PDU length: a 1 MiB P-DATA-TF arriving in 64 KiB reads was copied ~16 times) and has no length limit (a
 * 4 GiB length field grows one buffer until the process dies). Here chunks are kept in a list and joined once.
 */

/** PDU types of PS3.8 Table 9-11. */
const KNOWN_TYPES = new Set([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);

export class PduFramer {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly maxLength: number;

  /** `maxLength`: the largest PDU length field accepted; beyond, push throws (the caller drops the connection). */
  constructor(maxLength: number) {
    this.maxLength = maxLength;
  }

  /** Adds a chunk; returns the PDUs it completes (each one whole: 6-byte header + body). */
  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 6) return out;
      const head = this.peekHeader();
      const type = head.readUInt8(0);
      if (!KNOWN_TYPES.has(type)) throw new Error(`Unknown PDU type: ${type}`);
      const length = head.readUInt32BE(2);
      if (length > this.maxLength) throw new Error(`PDU length ${length} exceeds the limit ${this.maxLength}`);
      if (this.buffered < length + 6) return out;
      out.push(this.take(length + 6));
    }
  }

  private peekHeader(): Buffer {
    const first = this.chunks[0];
    if (first && first.length >= 6) return first;
    return Buffer.concat(this.chunks, this.buffered).subarray(0, 6);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    let pdu: Buffer;
    if (first && first.length >= n) {
      // Common case: the PDU lies inside one chunk; a view, no copy.
      pdu = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      pdu = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0];
        if (!c) throw new Error('PDU framer: buffered count out of step');
        const k = Math.min(c.length, n - at);
        c.copy(pdu, at, 0, k);
        at += k;
        if (k === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(k);
      }
    }
    this.buffered -= n;
    return pdu;
  }
}
