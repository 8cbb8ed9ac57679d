/**
 * DICOM Part 10 reader (PS3.10 file format, PS3.5 data encoding). Own code on purpose: every length is
 * checked against the buffer before it is used, every loop advances by at least one element header and
 * sequence nesting is bounded, so hostile input ends in an SrError (DICOM_*) naming the file, never a
 * crash, a hang or a huge allocation. Keywords and dictionary VRs come from dcmjs's data dictionary and
 * the dataset is naturalized the way dcmjs does it (single value → scalar, several → array, PN → object,
 * SQ → array of datasets), with strings decoded per Specific Character Set. See docs/adr/0002-dicom-reading.md.
 */
import { readFile, open } from 'node:fs/promises';
import { inflateRawSync } from 'node:zlib';
import { SrError, toSrError } from '../core/errors.ts';
import type { DicomDataset, DicomFile, PixelDescription } from './types.ts';
import { lookupTag, tagHex } from './dictionary.ts';
import { DEFAULT_CHARSET, decodeString, resolveCharset, type Charset } from './charset.ts';
import { decodeFrame, type FrameSource, type PixelLocation, type Fragment } from './pixel-decode.ts';
import { TS, isKnownTransferSyntax } from './transfer-syntax.ts';

/** A parsed file without the pixel decoder (what `readDicomHeader` returns). */
export type DicomHeader = Omit<DicomFile, 'decodeFrame'>;

export interface ParseOptions {
  /** Stop at the top-level pixel data element; its value is not read (or even present in `bytes`). */
  readonly headerOnly?: boolean;
  /**
   * With `headerOnly`: the size of the whole file `bytes` is the start of. Native pixel data that would run
   * past it is reported as DICOM_TRUNCATED now, not when a frame is decoded long after indexing.
   */
  readonly fileSize?: number;
}

const MAX_DEPTH = 32;
const UNDEFINED = 0xffffffff;
const TAG_ITEM = 0xfffee000;
const TAG_ITEM_DELIM = 0xfffee00d;
const TAG_SEQ_DELIM = 0xfffee0dd;
const TAG_PIXEL_DATA = 0x7fe00010;
const TAG_FLOAT_PIXEL_DATA = 0x7fe00008;
const TAG_DOUBLE_PIXEL_DATA = 0x7fe00009;
const TAG_EXT_OFFSET_TABLE = 0x7fe00001;
const TAG_EXT_OFFSET_LENGTHS = 0x7fe00002;
const TAG_SPECIFIC_CHARSET = 0x00080005;
const TAG_PIXEL_REPRESENTATION = 0x00280103;

/** VRs with a 2-byte reserved field and 4-byte length in explicit VR (PS3.5 7.1.2). */
export const LONG_VR: ReadonlySet<string> = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const KNOWN_VR = new Set([
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN',
  'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
]);
/** Single-valued text VRs: backslash is a character, not a delimiter. */
const TEXT_VR = new Set(['ST', 'LT', 'UT', 'UR']);

interface Ctx {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly little: boolean;
  readonly explicit: boolean;
  readonly source: string;
  readonly headerOnly: boolean;
  /** Bytes available in the whole file (headerOnly), else the buffer length. */
  readonly fileSize: number;
  pixel: PixelLocation | undefined;
  extOffsets: Uint8Array | undefined;
  extLengths: Uint8Array | undefined;
  /** Element headers read so far: a hard bound against pathological inputs. */
  budget: number;
}

function fail(code: 'DICOM_TRUNCATED' | 'DICOM_MALFORMED' | 'DICOM_NOT_DICOM', ctx: { source: string }, problem: string, offset?: number): never {
  throw new SrError(code, `${ctx.source}: ${problem}${offset === undefined ? '' : ` at byte ${offset}`}`, {
    details: { source: ctx.source, problem, ...(offset === undefined ? {} : { offset }) },
  });
}


function isVrByte(b: number | undefined): boolean {
  return b !== undefined && b >= 0x41 && b <= 0x5a;
}

function asciiOf(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

/** Resolves the dictionary's multi-choice VR notations. */
function resolveDictVr(vr: string, ds: Map<number, unknown>): string {
  if (KNOWN_VR.has(vr)) return vr;
  if (vr === 'ox') return 'OW';
  if (vr === 'xs') return ds.get(TAG_PIXEL_REPRESENTATION) === 1 ? 'SS' : 'US';
  const first = vr.split(/\s+or\s+|\//)[0] ?? '';
  return KNOWN_VR.has(first) ? first : 'UN';
}

function trimEnd(s: string): string {
  let e = s.length;
  while (e > 0) {
    const c = s.charCodeAt(e - 1);
    if (c === 0x20 || c === 0x00) e--;
    else break;
  }
  return e === s.length ? s : s.slice(0, e);
}

function single<T>(arr: T[]): T | T[] {
  return arr.length === 1 ? (arr[0] as T) : arr;
}

function toNumberish(s: string): number | string {
  const t = s.trim();
  if (t === '') return t;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

function readValue(ctx: Ctx, vr: string, start: number, len: number, cs: Charset, little: boolean): unknown {
  const { bytes } = ctx;
  if (len === 0) return vr === 'SQ' ? [] : [];
  switch (vr) {
    case 'AE': case 'AS': case 'CS': case 'DA': case 'DT': case 'TM': case 'UI': {
      const s = trimEnd(asciiOf(bytes, start, start + len));
      return single(s.split('\\').map((x) => x.trim()));
    }
    case 'DS': case 'IS': {
      const s = asciiOf(bytes, start, start + len);
      return single(s.split('\\').map(toNumberish));
    }
    case 'UR': return trimEnd(asciiOf(bytes, start, start + len)).trim();
    case 'SH': case 'LO': case 'UC': case 'ST': case 'LT': case 'UT': case 'PN': {
      const raw = decodeString(bytes.subarray(start, start + len), cs);
      if (TEXT_VR.has(vr)) return trimEnd(raw);
      const parts = trimEnd(raw).split('\\');
      if (vr === 'PN') {
        return single(parts.map((p) => {
          const groups = p.split('=').map((g) => trimEnd(g));
          const o: Record<string, string> = {};
          if (groups[0]) o['Alphabetic'] = groups[0];
          if (groups[1]) o['Ideographic'] = groups[1];
          if (groups[2]) o['Phonetic'] = groups[2];
          return o;
        }));
      }
      return single(parts.map((x) => x.trim()));
    }
    case 'US': case 'SS': case 'UL': case 'SL': case 'FL': case 'FD': case 'AT': case 'SV': case 'UV': {
      const size = vr === 'US' || vr === 'SS' ? 2 : vr === 'FD' || vr === 'SV' || vr === 'UV' ? 8 : 4;
      const count = Math.floor(len / size);
      const out: number[] = new Array<number>(count);
      const dv = ctx.dv;
      for (let i = 0; i < count; i++) {
        const p = start + i * size;
        switch (vr) {
          case 'US': out[i] = dv.getUint16(p, little); break;
          case 'SS': out[i] = dv.getInt16(p, little); break;
          case 'UL': out[i] = dv.getUint32(p, little); break;
          case 'SL': out[i] = dv.getInt32(p, little); break;
          case 'FL': out[i] = dv.getFloat32(p, little); break;
          case 'FD': out[i] = dv.getFloat64(p, little); break;
          case 'SV': out[i] = Number(dv.getBigInt64(p, little)); break;
          case 'UV': out[i] = Number(dv.getBigUint64(p, little)); break;
          default: out[i] = ((dv.getUint16(p, little) << 16) | dv.getUint16(p + 2, little)) >>> 0;
        }
      }
      return single(out);
    }
    default:
      // OB, OW, OF, OD, OL, OV, UN: a view on the file bytes (no copy), as stored (big endian stays swapped).
      return bytes.subarray(start, start + len);
  }
}

/**
 * Reads data elements in [pos, end). Returns the position after the last element consumed; when
 * `inUndefinedItem` it stops after the item delimitation item.
 */
function readDataset(
  ctx: Ctx,
  pos: number,
  end: number,
  cs: Charset,
  depth: number,
  out: DicomDataset,
  inUndefinedItem: boolean,
  forceImplicitLE = false,
): number {
  if (depth > MAX_DEPTH) fail('DICOM_MALFORMED', ctx, `sequences nested deeper than ${MAX_DEPTH}`, pos);
  const little = forceImplicitLE ? true : ctx.little;
  const explicit = forceImplicitLE ? false : ctx.explicit;
  const dv = ctx.dv;
  const bytes = ctx.bytes;
  const seen = new Map<number, unknown>();
  let charset = cs;
  while (pos < end) {
    if (--ctx.budget < 0) fail('DICOM_MALFORMED', ctx, 'too many data elements', pos);
    if (pos + 8 > end) {
      if (depth === 0 && !inUndefinedItem && bytes.subarray(pos, end).every((b) => b === 0)) return end;
      fail(end === bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, 'incomplete data element header', pos);
    }
    const group = dv.getUint16(pos, little);
    const element = dv.getUint16(pos + 2, little);
    const tag = ((group << 16) | element) >>> 0;
    if (group === 0xfffe) {
      const l = dv.getUint32(pos + 4, little);
      if (tag === TAG_ITEM_DELIM) {
        if (inUndefinedItem) return pos + 8;
        pos += 8; // stray delimiter: tolerated, as most readers do
        continue;
      }
      if (tag === TAG_SEQ_DELIM || tag === TAG_ITEM) {
        // A sequence delimiter / item outside a sequence: malformed, but skip over it when the length is sane.
        if (tag === TAG_ITEM && l !== UNDEFINED && l <= end - pos - 8) {
          pos += 8 + l;
          continue;
        }
        if (tag === TAG_SEQ_DELIM) {
          pos += 8;
          continue;
        }
      }
      fail('DICOM_MALFORMED', ctx, `unexpected delimiter tag ${tagHex(tag)}`, pos);
    }
    const dict = lookupTag(tag);
    let vr: string;
    let len: number;
    let valueStart: number;
    const b4 = bytes[pos + 4];
    const b5 = bytes[pos + 5];
    if (explicit && isVrByte(b4) && isVrByte(b5) && KNOWN_VR.has(String.fromCharCode(b4 as number, b5 as number))) {
      vr = String.fromCharCode(b4 as number, b5 as number);
      if (LONG_VR.has(vr)) {
        if (pos + 12 > end) fail(end === bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, 'incomplete data element header', pos);
        len = dv.getUint32(pos + 8, little);
        valueStart = pos + 12;
      } else {
        len = dv.getUint16(pos + 6, little);
        valueStart = pos + 8;
      }
    } else {
      // Implicit VR, or an explicit file with an implicitly encoded element (seen in the wild): dictionary VR.
      vr = dict ? resolveDictVr(dict.vr, seen) : 'UN';
      len = dv.getUint32(pos + 4, little);
      valueStart = pos + 8;
    }
    let valueLittle = little;
    let nestedImplicit = forceImplicitLE;
    if (vr === 'UN' && dict && explicit) {
      // PS3.5 6.2.2: a UN value is implicit VR little endian; known tags get their dictionary VR back.
      const dvr = resolveDictVr(dict.vr, seen);
      if (dvr !== 'UN') {
        vr = dvr;
        valueLittle = true;
        nestedImplicit = true;
      }
    }

    // Pixel data at the top level is located, not read.
    if (depth === 0 && (tag === TAG_PIXEL_DATA || tag === TAG_FLOAT_PIXEL_DATA || tag === TAG_DOUBLE_PIXEL_DATA)) {
      if (ctx.headerOnly) {
        if (len !== UNDEFINED && valueStart + len > ctx.fileSize) {
          fail('DICOM_TRUNCATED', ctx, `pixel data length ${len} exceeds the ${ctx.fileSize - valueStart} bytes left in the file`, pos);
        }
        ctx.pixel = { tag, vr, offset: valueStart, length: len === UNDEFINED ? -1 : len, encapsulated: len === UNDEFINED, fragments: [], basicOffsetTable: [] };
        return end;
      }
      if (len === UNDEFINED) {
        const r = readEncapsulated(ctx, valueStart, end);
        ctx.pixel = { tag, vr, offset: valueStart, length: r.end - valueStart, encapsulated: true, fragments: r.fragments, basicOffsetTable: r.bot };
        pos = r.end;
      } else {
        if (len > end - valueStart) fail('DICOM_TRUNCATED', ctx, `pixel data length ${len} exceeds the ${end - valueStart} bytes left`, pos);
        ctx.pixel = { tag, vr, offset: valueStart, length: len, encapsulated: false, fragments: [], basicOffsetTable: [] };
        pos = valueStart + len;
      }
      continue;
    }

    if (len === UNDEFINED) {
      if (vr === 'SQ' || vr === 'UN' || (!explicit && !dict)) {
        const implicitInside = nestedImplicit || (vr === 'UN');
        const items: DicomDataset[] = [];
        pos = readSequence(ctx, valueStart, end, charset, depth, items, true, implicitInside);
        store(out, tag, dict, items);
        continue;
      }
      if (tag === TAG_PIXEL_DATA) {
        // Pixel data inside a sequence item (icon images): skip the fragments.
        const r = readEncapsulated(ctx, valueStart, end);
        pos = r.end;
        continue;
      }
      fail('DICOM_MALFORMED', ctx, `undefined length on non-sequence element ${tagHex(tag)} (${vr})`, pos);
    }
    if (len > end - valueStart) {
      fail(end === bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx,
        `element ${tagHex(tag)} length ${len} exceeds the ${end - valueStart} bytes left`, pos);
    }
    const valueEnd = valueStart + len;
    pos = valueEnd;
    if (element === 0x0000 || tag === 0xfffcfffc) continue; // group lengths, trailing padding
    if (depth === 0 && (tag === TAG_EXT_OFFSET_TABLE || tag === TAG_EXT_OFFSET_LENGTHS)) {
      if (tag === TAG_EXT_OFFSET_TABLE) ctx.extOffsets = bytes.subarray(valueStart, valueEnd);
      else ctx.extLengths = bytes.subarray(valueStart, valueEnd);
      continue;
    }
    let sqCandidate = vr === 'SQ';
    if (!sqCandidate && vr === 'UN' && len >= 8) {
      // Private sequences in implicit VR (or as UN): the value starts with an item tag.
      const g = dv.getUint16(valueStart, true);
      const e = dv.getUint16(valueStart + 2, true);
      sqCandidate = g === 0xfffe && e === 0xe000;
      if (sqCandidate) nestedImplicit = true;
    }
    if (sqCandidate) {
      const items: DicomDataset[] = [];
      try {
        readSequence(ctx, valueStart, valueEnd, charset, depth, items, false, nestedImplicit || vr === 'UN');
        store(out, tag, dict, items);
      } catch (e) {
        if (vr === 'SQ') throw e;
        store(out, tag, dict, bytes.subarray(valueStart, valueEnd));
      }
      continue;
    }
    const value = readValue(ctx, vr, valueStart, len, charset, valueLittle);
    seen.set(tag, Array.isArray(value) ? value[0] : value);
    if (tag === TAG_SPECIFIC_CHARSET) {
      const terms = Array.isArray(value) ? value.map(String) : [String(value)];
      // An empty first value is meaningful ("\ISO 2022 IR 87"), so re-split the raw bytes.
      const raw = asciiOf(bytes, valueStart, valueEnd).split('\\').map((t) => t.trim());
      try {
        charset = resolveCharset(raw.length > 0 ? raw : terms, ctx.source);
      } catch (err) {
        // An unknown character set should not cost the pixels: fall back to Latin-1 (a superset of ASCII).
        if (!(err instanceof SrError)) throw err;
        charset = DEFAULT_CHARSET;
      }
    }
    if (!(tag === TAG_PIXEL_DATA && depth > 0 && len > 65536)) store(out, tag, dict, value);
  }
  if (inUndefinedItem) fail(end === bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, 'item without its delimiter', pos);
  return pos;
}

function store(out: DicomDataset, tag: number, dict: { keyword: string } | undefined, value: unknown): void {
  out[dict ? dict.keyword : tagHex(tag)] = value;
}

function readSequence(
  ctx: Ctx,
  pos: number,
  end: number,
  cs: Charset,
  depth: number,
  items: DicomDataset[],
  undefinedLength: boolean,
  implicitLE: boolean,
): number {
  const dv = ctx.dv;
  const little = implicitLE ? true : ctx.little;
  while (pos < end) {
    if (--ctx.budget < 0) fail('DICOM_MALFORMED', ctx, 'too many data elements', pos);
    if (pos + 8 > end) fail(end === ctx.bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, 'incomplete item header', pos);
    const tag = ((dv.getUint16(pos, little) << 16) | dv.getUint16(pos + 2, little)) >>> 0;
    const len = dv.getUint32(pos + 4, little);
    if (tag === TAG_SEQ_DELIM) {
      if (undefinedLength) return pos + 8;
      pos += 8;
      continue;
    }
    if (tag !== TAG_ITEM) fail('DICOM_MALFORMED', ctx, `expected an item tag in a sequence, found ${tagHex(tag)}`, pos);
    const item: DicomDataset = {};
    if (len === UNDEFINED) {
      pos = readDataset(ctx, pos + 8, end, cs, depth + 1, item, true, implicitLE);
    } else {
      if (len > end - pos - 8) fail(end === ctx.bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, `item length ${len} exceeds its container`, pos);
      readDataset(ctx, pos + 8, pos + 8 + len, cs, depth + 1, item, false, implicitLE);
      pos += 8 + len;
    }
    items.push(item);
  }
  if (undefinedLength) fail(end === ctx.bytes.length ? 'DICOM_TRUNCATED' : 'DICOM_MALFORMED', ctx, 'sequence without its delimiter', pos);
  return pos;
}

function readEncapsulated(ctx: Ctx, pos: number, end: number): { end: number; fragments: Fragment[]; bot: number[] } {
  // PS3.5 A.4: always little endian items; the first is the Basic Offset Table.
  const dv = ctx.dv;
  const fragments: Fragment[] = [];
  const bot: number[] = [];
  let first = true;
  let firstFragmentItem = -1;
  while (pos < end) {
    if (pos + 8 > end) fail('DICOM_TRUNCATED', ctx, 'incomplete pixel data item header', pos);
    const tag = ((dv.getUint16(pos, true) << 16) | dv.getUint16(pos + 2, true)) >>> 0;
    const len = dv.getUint32(pos + 4, true);
    if (tag === TAG_SEQ_DELIM) return { end: pos + 8, fragments, bot };
    if (tag !== TAG_ITEM) fail('DICOM_MALFORMED', ctx, `expected a pixel data item, found ${tagHex(tag)}`, pos);
    if (len === UNDEFINED) fail('DICOM_MALFORMED', ctx, 'pixel data item with undefined length', pos);
    if (len > end - pos - 8) fail('DICOM_TRUNCATED', ctx, `pixel data item length ${len} exceeds the ${end - pos - 8} bytes left`, pos);
    if (first) {
      for (let i = 0; i + 4 <= len; i += 4) bot.push(dv.getUint32(pos + 8 + i, true));
      first = false;
    } else {
      if (firstFragmentItem < 0) firstFragmentItem = pos;
      fragments.push({ offset: pos + 8, length: len, position: pos - firstFragmentItem });
    }
    pos += 8 + len;
  }
  // A missing sequence delimiter at end of file: the fragments read are complete, keep them.
  return { end: pos, fragments, bot };
}

function numberAttr(ds: DicomDataset, k: string): number | undefined {
  const v = Array.isArray(ds[k]) ? (ds[k] as unknown[])[0] : ds[k];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function describePixels(ds: DicomDataset, pixel: PixelLocation, source: string): PixelDescription | undefined {
  const rows = numberAttr(ds, 'Rows');
  const cols = numberAttr(ds, 'Columns');
  // Pixel data with no image pixel module at all (seen in test objects): no image, not an error.
  if (rows === undefined && cols === undefined && ds['BitsAllocated'] === undefined) return undefined;
  const floatBits = pixel.tag === TAG_FLOAT_PIXEL_DATA ? 32 : pixel.tag === TAG_DOUBLE_PIXEL_DATA ? 64 : undefined;
  const bitsAllocated = floatBits ?? numberAttr(ds, 'BitsAllocated');
  const bad = (what: string): never => {
    throw new SrError('DICOM_MISSING_ATTRIBUTE', `${source}: ${what}`, { details: { source, problem: what } });
  };
  if (rows === undefined || cols === undefined || !Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows > 65535 || cols > 65535) {
    return bad(`invalid Rows/Columns (${String(rows)}×${String(cols)})`);
  }
  if (bitsAllocated === undefined || ![1, 8, 16, 32, 64].includes(bitsAllocated)) return bad(`unsupported BitsAllocated ${String(bitsAllocated)}`);
  const bitsStored = numberAttr(ds, 'BitsStored') ?? bitsAllocated;
  const spp = numberAttr(ds, 'SamplesPerPixel') ?? 1;
  if (![1, 3, 4].includes(spp)) return bad(`unsupported SamplesPerPixel ${spp}`);
  const frames = numberAttr(ds, 'NumberOfFrames') ?? 1;
  if (!Number.isInteger(frames) || frames < 0 || frames > 1e6) return bad(`invalid NumberOfFrames ${frames}`);
  const pi = ds['PhotometricInterpretation'];
  return {
    Rows: rows,
    Columns: cols,
    BitsAllocated: bitsAllocated,
    BitsStored: bitsStored >= 1 && bitsStored <= bitsAllocated ? bitsStored : bitsAllocated,
    HighBit: numberAttr(ds, 'HighBit') ?? bitsStored - 1,
    PixelRepresentation: floatBits ? 0 : numberAttr(ds, 'PixelRepresentation') === 1 ? 1 : 0,
    SamplesPerPixel: spp,
    PhotometricInterpretation: typeof pi === 'string' && pi !== '' ? pi : spp === 1 ? 'MONOCHROME2' : 'RGB',
    PlanarConfiguration: numberAttr(ds, 'PlanarConfiguration') === 1 ? 1 : 0,
    NumberOfFrames: frames === 0 ? 1 : frames,
  };
}

function sniffRawDataset(bytes: Uint8Array, at: number): { little: boolean; explicit: boolean } | undefined {
  if (bytes.length < at + 8) return undefined;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const gLE = dv.getUint16(at, true);
  const gBE = dv.getUint16(at, false);
  const vrOk = isVrByte(bytes[at + 4]) && isVrByte(bytes[at + 5]) && KNOWN_VR.has(String.fromCharCode(bytes[at + 4] as number, bytes[at + 5] as number));
  const plausible = (g: number): boolean => g >= 0x0002 && g <= 0x0028 && g % 2 === 0;
  if (plausible(gLE)) {
    if (vrOk) return { little: true, explicit: true };
    // Implicit: a 4-byte length that fits the file.
    const l = dv.getUint32(at + 4, true);
    if (l === UNDEFINED || l <= bytes.length - at - 8) return { little: true, explicit: false };
    return undefined;
  }
  if (plausible(gBE) && vrOk) return { little: false, explicit: true };
  return undefined;
}

/** The pixel source behind each parsed file, for the volume builder's zero-copy path (frames as views on the bytes). */
const frameSources = new WeakMap<DicomFile, FrameSource>();

/** The pixel source of a file returned by parseDicom / readDicomFile; undefined for other DicomFile objects. */
export function frameSourceOf(file: DicomFile): FrameSource | undefined {
  return frameSources.get(file);
}

const filePaths = new WeakMap<DicomFile, string>();

/** Records that `file`'s frames can be decoded from a fresh read of `path` (lets decode workers read it themselves). */
export function markFilePath<F extends DicomFile>(file: F, path: string): F {
  filePaths.set(file, path);
  return file;
}

/** The path a file was read from by readDicomFile / readLazyDicomFile; undefined for in-memory objects. */
export function filePathOf(file: DicomFile): string | undefined {
  return filePaths.get(file);
}

/** Parses a Part 10 file (or a bare dataset without preamble/file meta). Throws SrError DICOM_*. */
export function parseDicom(bytes: Uint8Array, source: string, options: ParseOptions = {}): DicomFile {
  try {
    return parseInner(bytes, source, options);
  } catch (e) {
    if (e instanceof SrError) throw e;
    // DataView RangeErrors etc. would be reader bugs; they still leave as a coded error naming the file.
    throw toSrError(e, 'DICOM_MALFORMED', `${source}: could not be parsed`, { source });
  }
}

function parseInner(bytes: Uint8Array, source: string, options: ParseOptions): DicomFile {
  const where = { source };
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    fail('DICOM_NOT_DICOM', where, 'gzip-compressed file (decompress it first)');
  }
  const dv0 = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let datasetStart: number;
  let ts: string | undefined;
  const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  const dicmAtZero = !hasPreamble && bytes.length >= 4 && bytes[0] === 0x44 && bytes[1] === 0x49 && bytes[2] === 0x43 && bytes[3] === 0x4d;
  let metaStart = hasPreamble ? 132 : dicmAtZero ? 4 : 0;
  const meta: DicomDataset = {};
  if (!hasPreamble && !dicmAtZero) {
    // No preamble: file meta may still be there (group 0002, explicit LE), or a bare dataset.
    if (bytes.length >= 8 && dv0.getUint16(0, true) === 0x0002 && isVrByte(bytes[4]) && isVrByte(bytes[5])) metaStart = 0;
    else metaStart = -1;
  }
  if (metaStart >= 0) {
    // File meta group: explicit VR little endian, read while the group is 0002 (the group length is not trusted).
    const metaCtx: Ctx = {
      bytes, dv: dv0, little: true, explicit: true, source, headerOnly: false, fileSize: bytes.length, pixel: undefined,
      extOffsets: undefined, extLengths: undefined, budget: 10000,
    };
    let end = metaStart;
    while (end + 8 <= bytes.length && dv0.getUint16(end, true) === 0x0002) {
      const vr = String.fromCharCode(bytes[end + 4] as number, bytes[end + 5] as number);
      let next: number;
      if (LONG_VR.has(vr)) {
        if (end + 12 > bytes.length) break;
        next = end + 12 + dv0.getUint32(end + 8, true);
      } else if (KNOWN_VR.has(vr)) next = end + 8 + dv0.getUint16(end + 6, true);
      else next = end + 8 + dv0.getUint32(end + 4, true); // implicitly encoded meta (non-conformant)
      if (next > bytes.length) fail('DICOM_TRUNCATED', where, 'file meta information is cut short', end);
      end = next;
    }
    if (end === metaStart && hasPreamble) {
      // "DICM" but no group 0002: treat what follows as a bare dataset.
    } else {
      readDataset(metaCtx, metaStart, end, DEFAULT_CHARSET, 0, meta, false);
    }
    datasetStart = end;
    const t = meta['TransferSyntaxUID'];
    ts = typeof t === 'string' && t !== '' ? t.replace(/\0/g, '').trim() : undefined;
  } else {
    datasetStart = 0;
  }

  let little = true;
  let explicit = true;
  let data = bytes;
  if (ts === undefined) {
    // After a file meta group, anything that is not explicit VR is taken as implicit VR little endian.
    const sniff = sniffRawDataset(bytes, datasetStart) ?? (metaStart >= 0 && datasetStart + 8 <= bytes.length ? { little: true, explicit: false } : undefined);
    if (!sniff) {
      if (datasetStart >= bytes.length && metaStart >= 0) {
        fail('DICOM_MALFORMED', where, 'file meta information without a transfer syntax or dataset');
      }
      fail(hasPreamble ? 'DICOM_MALFORMED' : 'DICOM_NOT_DICOM', where,
        hasPreamble ? 'no transfer syntax and the dataset encoding cannot be recognised' : 'no DICM prefix and no recognisable data elements');
    }
    little = sniff.little;
    explicit = sniff.explicit;
    ts = !explicit ? TS.ImplicitLE : little ? TS.ExplicitLE : TS.ExplicitBE;
  } else if (ts === TS.ImplicitLE) {
    explicit = false;
  } else if (ts === TS.ExplicitBE) {
    little = false;
  } else if (ts === TS.Deflated) {
    try {
      const inflated = inflateRawSync(bytes.subarray(datasetStart), { maxOutputLength: Math.min(2 ** 31 - 1, Math.max(1 << 24, bytes.length * 200)) });
      data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
    } catch (e) {
      throw new SrError('DICOM_MALFORMED', `${source}: deflated dataset could not be inflated`, { cause: e, details: { source, problem: 'inflate failed' } });
    }
    datasetStart = 0;
  } else if (!isKnownTransferSyntax(ts)) {
    throw new SrError('DICOM_UNSUPPORTED_TRANSFER_SYNTAX', `${source}: transfer syntax ${ts} is not supported`, {
      details: { source, transferSyntaxUID: ts },
    });
  }
  // Some writers (the meta says explicit) still write implicit VR: check the first element and follow the data.
  if (explicit && data === bytes) {
    const sniff = sniffRawDataset(data, datasetStart);
    if (sniff && !sniff.explicit && little) explicit = false;
  }

  const ctx: Ctx = {
    bytes: data,
    dv: data === bytes ? dv0 : new DataView(data.buffer, data.byteOffset, data.byteLength),
    little,
    explicit,
    source,
    headerOnly: options.headerOnly === true,
    // Only meaningful when `data` is the file itself (not an inflated deflate stream).
    fileSize: data === bytes && options.fileSize !== undefined ? options.fileSize : Number.MAX_SAFE_INTEGER,
    pixel: undefined,
    extOffsets: undefined,
    extLengths: undefined,
    // Every element costs at least 8 bytes, so this bounds the work by the buffer length.
    budget: Math.ceil(data.length / 8) + 16,
  };
  const dataset: DicomDataset = {};
  if (datasetStart < data.length) readDataset(ctx, datasetStart, data.length, DEFAULT_CHARSET, 0, dataset, false);
  if (Object.keys(dataset).length === 0 && Object.keys(meta).length === 0) fail('DICOM_NOT_DICOM', where, 'no data elements');

  const transferSyntaxUID = ts;
  const pixelLoc = ctx.pixel;
  const pixel = pixelLoc ? describePixels(dataset, pixelLoc, source) : undefined;
  const frameCount = pixel ? pixel.NumberOfFrames : 0;
  if (pixelLoc && ctx.extOffsets && ctx.extLengths && pixelLoc.encapsulated) {
    const n = Math.min(ctx.extOffsets.length, ctx.extLengths.length) >> 3;
    const eo = new DataView(ctx.extOffsets.buffer, ctx.extOffsets.byteOffset, ctx.extOffsets.byteLength);
    const el = new DataView(ctx.extLengths.buffer, ctx.extLengths.byteOffset, ctx.extLengths.byteLength);
    const table: Array<{ offset: number; length: number }> = [];
    for (let i = 0; i < n; i++) table.push({ offset: Number(eo.getBigUint64(i * 8, true)), length: Number(el.getBigUint64(i * 8, true)) });
    pixelLoc.extendedOffsetTable = table;
  }
  const frameSource: FrameSource = { source, transferSyntaxUID, bytes: data, little, pixel: pixelLoc, desc: pixel };
  const file: DicomFile = {
    source,
    transferSyntaxUID,
    dataset,
    pixel,
    frameCount,
    decodeFrame(index: number) {
      return decodeFrame(frameSource, index);
    },
  };
  frameSources.set(file, frameSource);
  return file;
}

/** Reads and parses a file. Throws SrError IO_ERROR / NOT_FOUND for file-system problems, DICOM_* otherwise. */
export async function readDicomFile(path: string): Promise<DicomFile> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw ioError(e, path);
  }
  return markFilePath(parseDicom(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path), path);
}

function ioError(e: unknown, path: string): SrError {
  const code = (e as { code?: unknown }).code;
  return new SrError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO_ERROR', `${path}: ${e instanceof Error ? e.message : String(e)}`, {
    cause: e,
    details: { source: path },
  });
}

/**
 * Reads only the header (everything before the top-level pixel data), reading the file in growing
 * chunks so a 512×512 slice costs a few KB of I/O. `pixel` and `frameCount` are filled in from the header.
 */
export async function readDicomHeader(path: string): Promise<DicomHeader> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw ioError(e, path);
  }
  try {
    const size = (await fh.stat()).size;
    let chunk = Math.min(size, 64 * 1024);
    for (;;) {
      const buf = Buffer.alloc(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, 0);
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, bytesRead);
      try {
        const f = parseDicom(bytes, path, { headerOnly: true, fileSize: size });
        // Without pixel data the chunk may have ended on an element boundary: only the whole file is sure.
        if (f.pixel === undefined && chunk < size) {
          chunk = Math.min(size, chunk * 4);
          continue;
        }
        return { source: f.source, transferSyntaxUID: f.transferSyntaxUID, dataset: f.dataset, pixel: f.pixel, frameCount: f.frameCount };
      } catch (e) {
        // A deflated dataset must be read whole; a cut in the header means read more.
        if (chunk >= size || !(e instanceof SrError) || (e.code !== 'DICOM_TRUNCATED' && e.code !== 'DICOM_MALFORMED')) throw e;
        chunk = Math.min(size, chunk * 4);
      }
    }
  } catch (e) {
    if (e instanceof SrError) throw e;
    throw ioError(e, path);
  } finally {
    await fh.close();
  }
}

/** Cheap check for folder scanning: "DICM" at 128, or a plausible bare dataset start. Never throws. */
export async function isDicomFileCandidate(path: string): Promise<boolean> {
  try {
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(132);
      const { bytesRead } = await fh.read(buf, 0, 132, 0);
      if (bytesRead >= 132 && buf.toString('latin1', 128, 132) === 'DICM') return true;
      return sniffRawDataset(new Uint8Array(buf.buffer, buf.byteOffset, bytesRead), 0) !== undefined;
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}
