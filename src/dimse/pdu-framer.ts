/**
 * Splits a TCP byte stream into DICOM upper-layer PDUs (PS3.8 9.3: type, reserved, 32-bit big-endian length).
 * Replaces dcmjs-dimse 0.3's accumulator, which concatenates the partial PDU with every new socket chunk (O(n²)
 * in the PDU length: a 1 MiB P-DATA-TF arriving in 64 KiB reads was copied ~16 times) and has no length limit (a
 * 4 GiB length field grows one buffer until the process dies). Here chunks are kept in a list and joined once.
 */
import { SrError } from '../core/errors.ts';

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
      if (!KNOWN_TYPES.has(type)) throw new SrError('DIMSE_PROTOCOL_ERROR', `Unknown PDU type: ${type}`);
      const length = head.readUInt32BE(2);
      if (length > this.maxLength) throw new SrError('DIMSE_PROTOCOL_ERROR', `PDU length ${length} exceeds the limit ${this.maxLength}`);
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
        if (!c) throw new SrError('DIMSE_PROTOCOL_ERROR', 'PDU framer: buffered count out of step');
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

/** Where PduStream delivers what it reads. */
export interface PduSink {
  /** Asked at each P-DATA-TF header: true, its PDVs come as pieces (piece()); false, the PDU comes whole (pdu()). */
  streamPData(): boolean;
  /** A whole PDU (6-byte header included): every type but a streamed P-DATA-TF. */
  pdu(pdu: Buffer): void;
  /**
   * A piece of a PDV value of a streamed P-DATA-TF (a view into a received chunk, no copy), in order. `mch`: the
   * message control header (bit 0 command, bit 1 last fragment). `first` / `end`: the first / last piece of this
   * PDV (a PDV with an empty value comes as one empty piece, first and end).
   */
  piece(contextId: number, mch: number, value: Buffer, first: boolean, end: boolean): void;
  /** After each whole PDU (pdu() or the last piece of a streamed one). */
  pduDone(): void;
}

const EMPTY = Buffer.alloc(0);

/**
 * PduFramer's checks (known type, length limit) with P-DATA-TF streamed: its PDVs are read as the bytes arrive
 * and handed on as views into the received chunks, so a P-DATA-TF spanning many socket reads (a whole 512 KiB
 * slice in one PDU) is never assembled into one buffer (a fresh allocation and a copy of every byte). Checks of
 * splitPdvs (pdata.ts): a PDV header cut by the end of its PDU, a PDV length below 2 or past the PDU: push throws
 * (the caller drops the connection; pieces before it were delivered).
 */
export class PduStream {
  private readonly maxLength: number;
  private readonly sink: PduSink;
  private readonly head = Buffer.alloc(6);
  private headFill = 0;
  /** 'head': reading a PDU header; 'whole': collecting a PDU; 'pdv': inside a streamed P-DATA-TF. */
  private mode: 'head' | 'whole' | 'pdv' = 'head';
  private parts: Buffer[] = [];
  /** Body bytes of the current PDU not read yet. */
  private pduLeft = 0;
  private readonly pdvHead = Buffer.alloc(6);
  private pdvHeadFill = 0;
  /** Value bytes of the current PDV not read yet; -1: its header is being read. */
  private pdvLeft = -1;
  private pdvContext = 0;
  private pdvMch = 0;
  private pdvFirst = false;

  constructor(maxLength: number, sink: PduSink) {
    this.maxLength = maxLength;
    this.sink = sink;
  }

  push(chunk: Buffer): void {
    let at = 0;
    const n = chunk.length;
    while (at < n) {
      if (this.mode === 'head') {
        const start = at;
        const k = Math.min(6 - this.headFill, n - at);
        chunk.copy(this.head, this.headFill, at, at + k);
        this.headFill += k;
        at += k;
        if (this.headFill < 6) return;
        this.headFill = 0;
        const type = this.head.readUInt8(0);
        if (!KNOWN_TYPES.has(type)) throw new SrError('DIMSE_PROTOCOL_ERROR', `Unknown PDU type: ${type}`);
        const length = this.head.readUInt32BE(2);
        if (length > this.maxLength) throw new SrError('DIMSE_PROTOCOL_ERROR', `PDU length ${length} exceeds the limit ${this.maxLength}`);
        this.pduLeft = length;
        if (type === 0x04 && this.sink.streamPData()) {
          this.mode = 'pdv';
          this.pdvLeft = -1;
          this.pdvHeadFill = 0;
          if (length === 0) this.endPdu();
        } else if (k === 6 && n - at >= length) {
          // Common case: the PDU lies inside this chunk; a view, no copy.
          at += length;
          this.sink.pdu(chunk.subarray(start, at));
          this.sink.pduDone();
        } else {
          this.mode = 'whole';
          this.parts = [Buffer.from(this.head)];
        }
      } else if (this.mode === 'whole') {
        const k = Math.min(this.pduLeft, n - at);
        this.parts.push(chunk.subarray(at, at + k));
        at += k;
        this.pduLeft -= k;
        if (this.pduLeft > 0) return;
        const pdu = Buffer.concat(this.parts);
        this.parts = [];
        this.mode = 'head';
        this.sink.pdu(pdu);
        this.sink.pduDone();
      } else if (this.pdvLeft < 0) {
        if (this.pdvHeadFill === 0 && this.pduLeft < 6) throw new SrError('DIMSE_PROTOCOL_ERROR', 'P-DATA-TF: truncated PDV header');
        const k = Math.min(6 - this.pdvHeadFill, n - at);
        chunk.copy(this.pdvHead, this.pdvHeadFill, at, at + k);
        this.pdvHeadFill += k;
        at += k;
        if (this.pdvHeadFill < 6) return;
        this.pdvHeadFill = 0;
        const len = this.pdvHead.readUInt32BE(0);
        if (len < 2 || 4 + len > this.pduLeft) throw new SrError('DIMSE_PROTOCOL_ERROR', `P-DATA-TF: PDV length ${len} overruns the PDU`);
        this.pduLeft -= 6;
        this.pdvLeft = len - 2;
        this.pdvContext = this.pdvHead.readUInt8(4);
        this.pdvMch = this.pdvHead.readUInt8(5);
        this.pdvFirst = true;
        if (this.pdvLeft === 0) this.endPdv(EMPTY);
      } else {
        const k = Math.min(this.pdvLeft, n - at);
        const value = chunk.subarray(at, at + k);
        at += k;
        this.pdvLeft -= k;
        this.pduLeft -= k;
        if (this.pdvLeft > 0) {
          this.sink.piece(this.pdvContext, this.pdvMch, value, this.pdvFirst, false);
          this.pdvFirst = false;
        } else this.endPdv(value);
      }
    }
  }

  private endPdv(value: Buffer): void {
    this.pdvLeft = -1;
    this.sink.piece(this.pdvContext, this.pdvMch, value, this.pdvFirst, true);
    if (this.pduLeft === 0) this.endPdu();
  }

  private endPdu(): void {
    this.mode = 'head';
    this.sink.pduDone();
  }
}
