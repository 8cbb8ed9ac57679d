/**
 * Structure-aware mutations of DICOM files. Each mutator is a pure function of (rng, file[, other file]) and
 * returns new bytes plus a short description; `mutateDicom` stacks one to three of them. The families are the
 * ones that broke DICOM readers in the past: lying length fields (element, sequence and item lengths, undefined
 * lengths where none is allowed, lengths near 2^32), swapped tags, changed VRs (which change the header layout),
 * truncation, splices of two files, and nested-sequence depth bombs.
 */
import type { CorpusFile, ElementRef } from './corpus.ts';
import { VRS, scanElements } from './corpus.ts';
import type { Rng } from './rng.ts';

export interface Mutation {
  readonly bytes: Uint8Array;
  /** What was done, for the failure report (e.g. "lengthLie(0x00280010 → 0xffffffff)"). */
  readonly ops: readonly string[];
  /** The corpus file the input started from. */
  readonly base: string;
}

type Mutator = (rng: Rng, bytes: Uint8Array, elements: readonly ElementRef[], other: CorpusFile) => { bytes: Uint8Array; op: string };

const UNDEFINED = 0xffffffff;
const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function copy(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function writeLen(b: Uint8Array, ref: ElementRef, value: number): void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (ref.lengthOffset + ref.lengthSize > b.length) return;
  if (ref.lengthSize === 2) dv.setUint16(ref.lengthOffset, value & 0xffff, true);
  else dv.setUint32(ref.lengthOffset, value >>> 0, true);
}

/** A length the parser must not believe. */
function lieFor(rng: Rng, ref: ElementRef, size: number): number {
  const left = size - ref.valueOffset;
  const wide = ref.lengthSize === 4;
  const choices = [
    0, 1, ref.length + 1, Math.max(0, ref.length - 1), ref.length * 2, left, left + 1, left + 2, rng.int(wide ? 2 ** 32 : 65536),
    ...(wide ? [UNDEFINED, 0xfffffffe, 0x7fffffff, 0x80000000, 0xfffffff0] : [0xffff, 0xfffe]),
  ];
  return rng.pick(choices);
}

const pickRef = (rng: Rng, elements: readonly ElementRef[], kind?: ElementRef['kind']): ElementRef | undefined => {
  const list = kind ? elements.filter((e) => e.kind === kind) : elements;
  return list.length === 0 ? undefined : rng.pick(list);
};

const bitFlip: Mutator = (rng, bytes) => {
  const b = copy(bytes);
  const n = rng.range(1, 16);
  for (let i = 0; i < n && b.length > 0; i++) {
    const p = rng.int(b.length);
    b[p] = (b[p] as number) ^ (1 << rng.int(8));
  }
  return { bytes: b, op: `bitFlip(${n})` };
};

const byteRun: Mutator = (rng, bytes) => {
  const b = copy(bytes);
  if (b.length === 0) return { bytes: b, op: 'byteRun(empty)' };
  const at = rng.int(b.length);
  const len = rng.range(1, 64);
  const v = rng.pick([0x00, 0xff, 0x20, 0x5c, 0xfe, rng.int(256)]);
  const random = rng.chance(0.3);
  for (let i = at; i < Math.min(b.length, at + len); i++) b[i] = random ? rng.int(256) : v;
  return { bytes: b, op: `byteRun(@${at}+${len}${random ? ' random' : ` =${v}`})` };
};

const truncate: Mutator = (rng, bytes, elements) => {
  const ref = pickRef(rng, elements);
  const at = ref && rng.chance(0.6) ? Math.min(bytes.length, ref.offset + rng.int(14)) : rng.int(bytes.length + 1);
  return { bytes: bytes.slice(0, at), op: `truncate(${at}/${bytes.length})` };
};

const lengthLie: Mutator = (rng, bytes, elements) => {
  const ref = pickRef(rng, elements, 'element');
  if (!ref) return bitFlip(rng, bytes, elements, { name: '', bytes, elements });
  const b = copy(bytes);
  const v = lieFor(rng, ref, b.length);
  writeLen(b, ref, v);
  return { bytes: b, op: `lengthLie(${hex(ref.tag)} ${ref.length} → ${v})` };
};

const itemLengthLie: Mutator = (rng, bytes, elements) => {
  const ref = pickRef(rng, elements, rng.chance(0.7) ? 'item' : 'delimiter') ?? pickRef(rng, elements, 'element');
  if (!ref) return bitFlip(rng, bytes, elements, { name: '', bytes, elements });
  const b = copy(bytes);
  const v = lieFor(rng, ref, b.length);
  writeLen(b, ref, v);
  return { bytes: b, op: `itemLengthLie(${hex(ref.tag)} ${ref.length} → ${v})` };
};

const undefinedLength: Mutator = (rng, bytes, elements) => {
  const wide = elements.filter((e) => e.kind === 'element' && e.lengthSize === 4 && e.length !== UNDEFINED);
  if (wide.length === 0) return lengthLie(rng, bytes, elements, { name: '', bytes, elements });
  const ref = rng.pick(wide);
  const b = copy(bytes);
  writeLen(b, ref, UNDEFINED);
  return { bytes: b, op: `undefinedLength(${hex(ref.tag)})` };
};

const hugeLength: Mutator = (rng, bytes, elements) => {
  const ref = pickRef(rng, elements);
  if (!ref) return bitFlip(rng, bytes, elements, { name: '', bytes, elements });
  const b = copy(bytes);
  const v = ref.lengthSize === 2 ? 0xffff : rng.pick([0xfffffffe, 0xfffffff8, 0x7ffffff8, 0x40000000, 0x10000000]);
  writeLen(b, ref, v);
  return { bytes: b, op: `hugeLength(${hex(ref.tag)} → ${v})` };
};

const tagSwap: Mutator = (rng, bytes, elements) => {
  const a = pickRef(rng, elements);
  const c = pickRef(rng, elements);
  if (!a || !c) return bitFlip(rng, bytes, elements, { name: '', bytes, elements });
  const b = copy(bytes);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (rng.chance(0.3)) {
    // A tag that means something special to a reader.
    const special = rng.pick([0x7fe00010, 0xfffee000, 0xfffee00d, 0xfffee0dd, 0x00080005, 0x00020010, 0x00280010, 0x00280008, 0x7fe00001, 0xfffcfffc, rng.int(2 ** 32)]);
    dv.setUint16(a.offset, special >>> 16, true);
    dv.setUint16(a.offset + 2, special & 0xffff, true);
    return { bytes: b, op: `tagSet(${hex(a.tag)} → ${hex(special)})` };
  }
  const ta = bytes.slice(a.offset, a.offset + 4);
  b.set(bytes.subarray(c.offset, c.offset + 4), a.offset);
  b.set(ta, c.offset);
  return { bytes: b, op: `tagSwap(${hex(a.tag)} ↔ ${hex(c.tag)})` };
};

const vrChange: Mutator = (rng, bytes, elements) => {
  const explicit = elements.filter((e) => e.vrOffset >= 0);
  if (explicit.length === 0) return bitFlip(rng, bytes, elements, { name: '', bytes, elements });
  const ref = rng.pick(explicit);
  const b = copy(bytes);
  const vr = rng.chance(0.15) ? rng.pick(['XX', 'sq', '\0\0', '  ', 'ZZ']) : rng.pick(VRS);
  b[ref.vrOffset] = vr.charCodeAt(0);
  b[ref.vrOffset + 1] = vr.charCodeAt(1);
  return { bytes: b, op: `vrChange(${hex(ref.tag)} → ${JSON.stringify(vr)})` };
};

const splice: Mutator = (rng, bytes, elements, other) => {
  const a = pickRef(rng, elements);
  const c = pickRef(rng, other.elements);
  const cut = a ? a.offset : rng.int(bytes.length + 1);
  const from = c ? c.offset : rng.int(other.bytes.length + 1);
  return { bytes: concat([bytes.subarray(0, cut), other.bytes.subarray(from)]), op: `splice(@${cut} + ${other.name}@${from})` };
};

/** A nested private sequence N deep, each level undefined length; closed properly or not. */
const depthBomb: Mutator = (rng, bytes, elements) => {
  const top = elements.filter((e) => e.depth === 0 && e.kind === 'element' && (e.tag >>> 16) > 0x0002);
  const at = top.length > 0 ? rng.pick(top).offset : bytes.length;
  const depth = rng.pick([33, 64, 200, 1000, 20_000]);
  const explicit = rng.chance(0.6);
  const closed = rng.chance(0.7);
  const seqHead = explicit
    ? Uint8Array.of(0x09, 0x00, 0x10, 0x10, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff)
    : Uint8Array.of(0x09, 0x00, 0x10, 0x10, 0xff, 0xff, 0xff, 0xff);
  const item = Uint8Array.of(0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff);
  const itemEnd = Uint8Array.of(0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0);
  const seqEnd = Uint8Array.of(0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0);
  const open = concat([seqHead, item]);
  const close = concat([itemEnd, seqEnd]);
  const parts: Uint8Array[] = [bytes.subarray(0, at)];
  for (let i = 0; i < depth; i++) parts.push(open);
  if (closed) for (let i = 0; i < depth; i++) parts.push(close);
  parts.push(bytes.subarray(at));
  return { bytes: concat(parts), op: `depthBomb(${depth} ${explicit ? 'explicit' : 'implicit'}${closed ? '' : ' unclosed'} @${at})` };
};

/** Many copies of one small element: the element-count bound, and a flood of duplicate attributes. */
const repeat: Mutator = (rng, bytes, elements) => {
  const small = elements.filter((e) => e.kind === 'element' && e.length !== UNDEFINED && e.length <= 64);
  if (small.length === 0) return truncate(rng, bytes, elements, { name: '', bytes, elements });
  const ref = rng.pick(small);
  const el = bytes.subarray(ref.offset, ref.valueOffset + ref.length);
  const n = rng.pick([2, 100, 10_000]);
  const parts: Uint8Array[] = [bytes.subarray(0, ref.offset)];
  for (let i = 0; i < n; i++) parts.push(el);
  parts.push(bytes.subarray(ref.offset));
  return { bytes: concat(parts), op: `repeat(${hex(ref.tag)} ×${n})` };
};

const TS_CHOICES = [
  '1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201',
  '1.2.3.4', '', '\0',
];

/** Rewrites the Transfer Syntax UID: the dataset is then read with the wrong encoding (or inflated when it is not deflated). */
const transferSyntaxSwap: Mutator = (rng, bytes, elements) => {
  const ref = elements.find((e) => e.tag === 0x00020010 && e.kind === 'element');
  if (!ref) return vrChange(rng, bytes, elements, { name: '', bytes, elements });
  let uid = rng.pick(TS_CHOICES);
  if (uid.length % 2 === 1) uid += '\0';
  const el = new Uint8Array(8 + uid.length);
  el.set(bytes.subarray(ref.offset, ref.offset + 4), 0);
  el[4] = 0x55;
  el[5] = 0x49;
  el[6] = uid.length & 0xff;
  el[7] = uid.length >> 8;
  for (let i = 0; i < uid.length; i++) el[8 + i] = uid.charCodeAt(i);
  const end = Math.min(bytes.length, ref.valueOffset + ref.length);
  return { bytes: concat([bytes.subarray(0, ref.offset), el, bytes.subarray(end)]), op: `transferSyntax(${JSON.stringify(uid)})` };
};

export const MUTATORS: ReadonlyArray<{ readonly name: string; readonly weight: number; readonly fn: Mutator }> = [
  { name: 'bitFlip', weight: 12, fn: bitFlip },
  { name: 'byteRun', weight: 8, fn: byteRun },
  { name: 'truncate', weight: 8, fn: truncate },
  { name: 'lengthLie', weight: 16, fn: lengthLie },
  { name: 'itemLengthLie', weight: 8, fn: itemLengthLie },
  { name: 'undefinedLength', weight: 6, fn: undefinedLength },
  { name: 'hugeLength', weight: 6, fn: hugeLength },
  { name: 'tagSwap', weight: 8, fn: tagSwap },
  { name: 'vrChange', weight: 10, fn: vrChange },
  { name: 'splice', weight: 5, fn: splice },
  { name: 'depthBomb', weight: 3, fn: depthBomb },
  { name: 'repeat', weight: 2, fn: repeat },
  { name: 'transferSyntax', weight: 4, fn: transferSyntaxSwap },
];
const TOTAL_WEIGHT = MUTATORS.reduce((a, m) => a + m.weight, 0);

function pickMutator(rng: Rng): Mutator {
  let r = rng.int(TOTAL_WEIGHT);
  for (const m of MUTATORS) {
    if (r < m.weight) return m.fn;
    r -= m.weight;
  }
  return bitFlip;
}

/** One fuzz input: a corpus file with one to three stacked mutations (the element map is re-scanned between them). */
export function mutateDicom(rng: Rng, corpus: readonly CorpusFile[]): Mutation {
  const base = rng.pick(corpus);
  const steps = rng.pick([1, 1, 1, 2, 2, 3]);
  let bytes = base.bytes;
  let elements = base.elements;
  const ops: string[] = [];
  for (let s = 0; s < steps; s++) {
    const r = pickMutator(rng)(rng, bytes, elements, rng.pick(corpus));
    bytes = r.bytes;
    ops.push(r.op);
    if (s + 1 < steps) elements = scanElements(bytes);
  }
  return { bytes, ops, base: base.name };
}
