/**
 * A byte-faithful element tree of a Part 10 file, for rewriting attributes without touching anything else:
 * every value stays the bytes it was read as (pixel data, encapsulated fragments and all), only the attributes
 * the de-identifier changes get new bytes. Explicit VR little endian, implicit VR little endian, explicit VR big
 * endian and deflated explicit VR little endian are read and written back in the same transfer syntax.
 * Sequences and items are written with undefined length (PS3.5 7.5), which needs no length arithmetic on
 * rewritten content; that is a re-encoding of the same dataset, not a change of it.
 * Bounds are checked before every read, nesting is limited: hostile input ends in SrError DICOM_*.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { SrError } from '../core/index.ts';
import { LONG_VR, lookupTag, TRANSFER_SYNTAX } from '../dicom/index.ts';

export const TS_IMPLICIT_LE = TRANSFER_SYNTAX.ImplicitLE;
export const TS_EXPLICIT_LE = TRANSFER_SYNTAX.ExplicitLE;
export const TS_EXPLICIT_BE = TRANSFER_SYNTAX.ExplicitBE;
export const TS_DEFLATED = TRANSFER_SYNTAX.Deflated;

const UNDEFINED = 0xffffffff;
const TAG_ITEM = 0xfffee000;
const TAG_ITEM_DELIM = 0xfffee00d;
const TAG_SEQ_DELIM = 0xfffee0dd;
const MAX_DEPTH = 32;

export interface RawElement {
  readonly tag: number;
  /** Explicit VR as read, or the dictionary VR for implicit files ('UN' when unknown). */
  vr: string;
  /** Value bytes (non-sequence), as stored in the file. */
  value?: Uint8Array;
  /** Sequence items. */
  items?: RawElement[][];
  /** Items are encoded implicit VR little endian (a UN element of undefined length, PS3.5 6.2.2). */
  itemsImplicit?: boolean;
  /** Encapsulated pixel data: the bytes after the element header through the sequence delimitation item. */
  encapsulated?: Uint8Array;
}

export interface RawFile {
  /** File meta elements (group 0002), always explicit VR little endian; empty when the input had none. */
  meta: RawElement[];
  dataset: RawElement[];
  transferSyntaxUID: string;
}

interface Mode {
  readonly little: boolean;
  readonly explicit: boolean;
}

function bad(source: string, problem: string, code: 'DICOM_MALFORMED' | 'DICOM_TRUNCATED' | 'DICOM_NOT_DICOM' = 'DICOM_MALFORMED'): SrError {
  return new SrError(code, `${source}: ${problem}`, { details: { source, problem } });
}

class Reader {
  readonly dv: DataView;
  constructor(readonly bytes: Uint8Array, readonly source: string) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(pos: number, n: number): void {
    if (pos < 0 || pos + n > this.bytes.length) throw bad(this.source, `element runs past the end of the data at byte ${pos}`, 'DICOM_TRUNCATED');
  }
  u16(pos: number, little: boolean): number {
    this.need(pos, 2);
    return this.dv.getUint16(pos, little);
  }
  u32(pos: number, little: boolean): number {
    this.need(pos, 4);
    return this.dv.getUint32(pos, little);
  }
  tag(pos: number, little: boolean): number {
    return ((this.u16(pos, little) << 16) | this.u16(pos + 2, little)) >>> 0;
  }
  ascii(pos: number, n: number): string {
    this.need(pos, n);
    return String.fromCharCode(...this.bytes.subarray(pos, pos + n));
  }
}

function dictVr(tag: number): string {
  const vr = lookupTag(tag)?.vr ?? 'UN';
  if (/^[A-Z]{2}$/.test(vr)) return vr;
  // Multi-choice dictionary VRs: dcmjs writes them 'ox' (OB or OW, fixed below by content) and 'xs' (US or SS);
  // either spelling is enough to copy the bytes.
  if (vr === 'ox') return vr;
  if (vr === 'xs') return 'US';
  const m = /^([A-Z]{2})/.exec(vr);
  return m?.[1] ?? 'UN';
}

function readElements(r: Reader, pos: number, end: number, mode: Mode, depth: number, inItem: boolean, out: RawElement[]): number {
  if (depth > MAX_DEPTH) throw bad(r.source, 'sequences nested too deeply');
  while (pos < end) {
    const tag = r.tag(pos, mode.little);
    if (tag === TAG_ITEM_DELIM) {
      if (!inItem) throw bad(r.source, `item delimiter outside an item at byte ${pos}`);
      return pos + 8;
    }
    if (tag === TAG_SEQ_DELIM || tag === TAG_ITEM) throw bad(r.source, `unexpected delimiter at byte ${pos}`);
    let vr: string;
    let len: number;
    let p: number;
    if (mode.explicit) {
      vr = r.ascii(pos + 4, 2);
      if (!/^[A-Z]{2}$/.test(vr)) throw bad(r.source, `invalid VR at byte ${pos + 4}`);
      if (LONG_VR.has(vr)) {
        len = r.u32(pos + 8, mode.little);
        p = pos + 12;
      } else {
        len = r.u16(pos + 6, mode.little);
        p = pos + 8;
      }
    } else {
      vr = dictVr(tag);
      len = r.u32(pos + 4, mode.little);
      p = pos + 8;
    }
    // A UN element of a tag the dictionary knows (PS3.5 6.2.2 allows restoring its VR): a sequence's items are
    // implicit VR little endian; they are read as such and written back in this file's encoding, as SQ.
    const known = vr === 'UN' && (tag >>> 16) % 2 === 0 && mode.little ? dictVr(tag) : 'UN';
    const el: RawElement = { tag, vr: known !== 'UN' ? known : vr };
    if (len === UNDEFINED) {
      if (tag === 0x7fe00010 && vr !== 'SQ' && vr !== 'UN') {
        const stop = skipEncapsulated(r, p, mode.little);
        el.encapsulated = r.bytes.subarray(p, stop);
        pos = stop;
      } else {
        // SQ, or an implicit-VR / UN element of undefined length: a sequence (UN ones are implicit LE inside).
        const unItems = vr === 'UN';
        const itemMode: Mode = unItems ? { little: true, explicit: false } : mode;
        el.items = [];
        if (unItems && known !== 'SQ') {
          el.itemsImplicit = true;
          el.vr = 'UN';
        } else el.vr = 'SQ';
        pos = readItems(r, p, r.bytes.length, itemMode, depth + 1, true, el.items);
      }
    } else {
      r.need(p, len);
      if (el.vr === 'SQ') {
        el.items = [];
        const itemMode: Mode = vr === 'UN' ? { little: true, explicit: false } : mode;
        readItems(r, p, p + len, itemMode, depth + 1, false, el.items);
      } else {
        el.value = r.bytes.subarray(p, p + len);
      }
      pos = p + len;
    }
    if (el.vr === 'ox') el.vr = el.encapsulated ? 'OB' : 'OW';
    out.push(el);
  }
  if (inItem) throw bad(r.source, 'item of undefined length has no delimiter', 'DICOM_TRUNCATED');
  return pos;
}

function readItems(r: Reader, pos: number, end: number, mode: Mode, depth: number, undefinedLength: boolean, items: RawElement[][]): number {
  while (pos < end) {
    const tag = r.tag(pos, mode.little);
    const len = r.u32(pos + 4, mode.little);
    if (tag === TAG_SEQ_DELIM) {
      if (!undefinedLength) throw bad(r.source, `sequence delimiter in a sequence of defined length at byte ${pos}`);
      return pos + 8;
    }
    if (tag !== TAG_ITEM) throw bad(r.source, `expected an item at byte ${pos}`);
    const item: RawElement[] = [];
    if (len === UNDEFINED) {
      pos = readElements(r, pos + 8, r.bytes.length, mode, depth, true, item);
    } else {
      r.need(pos + 8, len);
      readElements(r, pos + 8, pos + 8 + len, mode, depth, false, item);
      pos = pos + 8 + len;
    }
    items.push(item);
  }
  if (undefinedLength) throw bad(r.source, 'sequence of undefined length has no delimiter', 'DICOM_TRUNCATED');
  return pos;
}

/** Returns the offset just past the sequence delimitation item of encapsulated pixel data. */
function skipEncapsulated(r: Reader, pos: number, little: boolean): number {
  for (;;) {
    const tag = r.tag(pos, little);
    const len = r.u32(pos + 4, little);
    if (tag === TAG_SEQ_DELIM) return pos + 8;
    if (tag !== TAG_ITEM || len === UNDEFINED) throw bad(r.source, `invalid pixel data fragment at byte ${pos}`);
    r.need(pos + 8, len);
    pos += 8 + len;
  }
}

function stringOf(el: RawElement | undefined): string | undefined {
  if (!el?.value) return undefined;
  return Buffer.from(el.value).toString('latin1').replace(/[\0 ]+$/, '').trim();
}

/** Reads a Part 10 file (or a bare dataset without preamble and meta, implicit or explicit VR little endian). */
export function readRaw(bytes: Uint8Array, source: string): RawFile {
  const r = new Reader(bytes, source);
  let pos = 0;
  const meta: RawElement[] = [];
  let ts: string;
  const hasPreamble = bytes.length >= 132 && r.ascii(128, 4) === 'DICM';
  if (hasPreamble || (bytes.length >= 4 && r.ascii(0, 4) === 'DICM')) pos = hasPreamble ? 132 : 4;
  if (bytes.length >= pos + 6 && r.u16(pos, true) === 0x0002) {
    // File meta: explicit VR little endian, up to the first element outside group 0002.
    let end = pos;
    while (end + 8 <= bytes.length && r.u16(end, true) === 0x0002) {
      const vr = r.ascii(end + 4, 2);
      const len = LONG_VR.has(vr) ? r.u32(end + 8, true) : r.u16(end + 6, true);
      const hdr = LONG_VR.has(vr) ? 12 : 8;
      if (len === UNDEFINED) throw bad(source, 'file meta element of undefined length');
      end += hdr + len;
      r.need(end - len, len);
    }
    readElements(r, pos, end, { little: true, explicit: true }, 0, false, meta);
    pos = end;
    ts = stringOf(meta.find((e) => e.tag === 0x00020010)) ?? '';
    if (ts === '') throw bad(source, 'file meta has no transfer syntax');
  } else {
    if (bytes.length < 8) throw bad(source, 'too short to be DICOM', 'DICOM_NOT_DICOM');
    // No meta: explicit if a VR follows the first tag (PS3.10 7.1 does not allow this, but files exist).
    const explicit = /^[A-Z]{2}$/.test(r.ascii(pos + 4, 2));
    // Group 0008 read little endian as 0x0800: a big-endian bare dataset.
    ts = !explicit ? TS_IMPLICIT_LE : r.u16(pos, true) === 0x0800 ? TS_EXPLICIT_BE : TS_EXPLICIT_LE;
  }
  let body = bytes.subarray(pos);
  let bodyReader: Reader = new Reader(body, source);
  if (ts === TS_DEFLATED) {
    try {
      body = inflateRawSync(body);
    } catch (e) {
      throw new SrError('DICOM_MALFORMED', `${source}: deflated dataset does not inflate`, { cause: e, details: { source } });
    }
    bodyReader = new Reader(body, source);
  }
  let mode: Mode = ts === TS_IMPLICIT_LE ? { little: true, explicit: false } : ts === TS_EXPLICIT_BE ? { little: false, explicit: true } : { little: true, explicit: true };
  // Files exist whose meta says an explicit-VR syntax but whose dataset is implicit VR (the project's reader
  // accepts them too): read implicit; writing in the declared syntax then repairs the encoding.
  if (mode.explicit && mode.little && body.length >= 6 && !/^[A-Z]{2}$/.test(bodyReader.ascii(4, 2))) mode = { little: true, explicit: false };
  const dataset: RawElement[] = [];
  readElements(bodyReader, 0, body.length, mode, 0, false, dataset);
  return { meta, dataset, transferSyntaxUID: ts };
}

class Writer {
  private chunks: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  header(tag: number, vr: string | null, len: number, mode: Mode): void {
    const long = vr === null || LONG_VR.has(vr);
    const b = Buffer.alloc(vr === null ? 8 : long ? 12 : 8);
    const w16 = (v: number, o: number) => (mode.little ? b.writeUInt16LE(v, o) : b.writeUInt16BE(v, o));
    const w32 = (v: number, o: number) => (mode.little ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o));
    w16(tag >>> 16, 0);
    w16(tag & 0xffff, 2);
    if (vr === null) w32(len, 4);
    else {
      b.write(vr, 4, 'latin1');
      if (long) w32(len, 8);
      else {
        if (len > 0xffff) throw new SrError('DICOM_WRITE_FAILED', `value of ${vr} element too long for its VR`);
        w16(len, 6);
      }
    }
    this.push(b);
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks, this.size);
  }
}

function writeElements(w: Writer, els: readonly RawElement[], mode: Mode): void {
  for (const el of els) {
    const vr = mode.explicit ? el.vr : null;
    if (el.encapsulated) {
      w.header(el.tag, vr, UNDEFINED, mode);
      w.push(el.encapsulated);
    } else if (el.items) {
      w.header(el.tag, vr, UNDEFINED, mode);
      const itemMode: Mode = el.itemsImplicit ? { little: true, explicit: false } : mode;
      for (const item of el.items) {
        w.header(TAG_ITEM, null, UNDEFINED, itemMode);
        writeElements(w, item, itemMode);
        w.header(TAG_ITEM_DELIM, null, 0, itemMode);
      }
      w.header(TAG_SEQ_DELIM, null, 0, itemMode);
    } else {
      const v = el.value ?? new Uint8Array(0);
      w.header(el.tag, vr, v.length, mode);
      w.push(v);
    }
  }
}

/** Serialises in the file's transfer syntax, with a 128-byte preamble and a recomputed meta group length. */
export function writeRaw(file: RawFile): Buffer {
  const le: Mode = { little: true, explicit: true };
  const metaBody = new Writer();
  writeElements(metaBody, file.meta.filter((e) => e.tag !== 0x00020000), le);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(metaBody.size, 0);
  const out = new Writer();
  out.push(Buffer.alloc(128));
  out.push(Buffer.from('DICM', 'latin1'));
  writeElements(out, [{ tag: 0x00020000, vr: 'UL', value: groupLength }], le);
  out.push(metaBody.concat());
  const ts = file.transferSyntaxUID;
  const mode: Mode = ts === TS_IMPLICIT_LE ? { little: true, explicit: false } : ts === TS_EXPLICIT_BE ? { little: false, explicit: true } : le;
  const body = new Writer();
  writeElements(body, file.dataset, mode);
  out.push(ts === TS_DEFLATED ? deflateRawSync(body.concat()) : body.concat());
  return out.concat();
}

/** A text value padded to even length (UI with NUL, others with space; PS3.5 6.2). */
export function textValue(s: string, vr: string): Uint8Array {
  const b = Buffer.from(s, 'latin1');
  if (b.length % 2 === 0) return b;
  return Buffer.concat([b, Buffer.from(vr === 'UI' ? [0] : [0x20])]);
}

export function textOf(el: RawElement): string | undefined {
  return stringOf(el);
}
