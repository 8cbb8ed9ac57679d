/**
 * The seed corpus: the public DICOM conformance files in /work/shared/data/dicom-conformance (PROVENANCE.md there),
 * each with a map of where its element headers are, so mutators can lie about lengths, swap tags and change VRs
 * at real element boundaries instead of only flipping random bits.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export const DEFAULT_CORPUS_DIR = join(import.meta.dirname, '../../../shared/data/dicom-conformance');

export interface ElementRef {
  /** 'element' (a data element), 'item' (FFFE,E000) or 'delimiter' (FFFE,E00D / E0DD). */
  readonly kind: 'element' | 'item' | 'delimiter';
  readonly offset: number;
  /** Offset of the two VR characters; -1 when implicitly encoded. */
  readonly vrOffset: number;
  readonly lengthOffset: number;
  readonly lengthSize: 2 | 4;
  readonly valueOffset: number;
  readonly length: number;
  readonly tag: number;
  readonly depth: number;
}

export interface CorpusFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly elements: readonly ElementRef[];
}

const UNDEFINED = 0xffffffff;
const LONG_VR = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
export const VRS = [
  'AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FD', 'FL', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN',
  'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV',
] as const;
const KNOWN_VR: ReadonlySet<string> = new Set(VRS);
const MAX_ELEMENTS = 20_000;

/**
 * Element headers of `bytes`, little endian, explicit or implicit per element (a guess that is right for the
 * files of the corpus and harmless when wrong: the map only steers mutations). Linear, never throws.
 */
export function scanElements(bytes: Uint8Array): ElementRef[] {
  const out: ElementRef[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  const walk = (start: number, end: number, depth: number): void => {
    let pos = start;
    while (pos + 8 <= end && out.length < MAX_ELEMENTS) {
      const group = dv.getUint16(pos, true);
      const element = dv.getUint16(pos + 2, true);
      const tag = ((group << 16) | element) >>> 0;
      if (group === 0xfffe) {
        const len = dv.getUint32(pos + 4, true);
        const kind = element === 0xe000 ? 'item' : 'delimiter';
        out.push({ kind, offset: pos, vrOffset: -1, lengthOffset: pos + 4, lengthSize: 4, valueOffset: pos + 8, length: len, tag, depth });
        if (kind === 'item' && len !== UNDEFINED && len <= end - pos - 8) {
          walk(pos + 8, pos + 8 + len, depth + 1);
          pos += 8 + len;
        } else pos += 8;
        continue;
      }
      const vr = String.fromCharCode(bytes[pos + 4] ?? 0, bytes[pos + 5] ?? 0);
      let vrOffset = -1;
      let lengthOffset = pos + 4;
      let lengthSize: 2 | 4 = 4;
      let valueOffset = pos + 8;
      if (KNOWN_VR.has(vr)) {
        vrOffset = pos + 4;
        if (LONG_VR.has(vr)) {
          if (pos + 12 > end) return;
          lengthOffset = pos + 8;
          valueOffset = pos + 12;
        } else {
          lengthOffset = pos + 6;
          lengthSize = 2;
        }
      }
      const len = lengthSize === 2 ? dv.getUint16(lengthOffset, true) : dv.getUint32(lengthOffset, true);
      out.push({ kind: 'element', offset: pos, vrOffset, lengthOffset, lengthSize, valueOffset, length: len, tag, depth });
      if (len === UNDEFINED) {
        pos = valueOffset; // items follow, scanned flat
        continue;
      }
      if (len > end - valueOffset) return;
      if (vr === 'SQ') walk(valueOffset, valueOffset + len, depth + 1);
      pos = valueOffset + len;
    }
  };
  walk(hasPreamble ? 132 : 0, bytes.length, 0);
  return out;
}

function listFiles(dir: string, out: string[]): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) listFiles(p, out);
    else if (name.endsWith('.dcm') || name === 'DICOMDIR' || /^[0-9]+$/.test(name) || /^IM0000/.test(name)) out.push(p);
  }
  return out;
}

export interface CorpusOptions {
  readonly dir?: string;
  /** Files larger than this are left out (they slow the fuzzer without adding structure). Default 300 KB. */
  readonly maxBytes?: number;
  /** Keep every n-th file only (CI). Default 1. */
  readonly every?: number;
}

/** The corpus files in a stable order (sorted paths), so (seed, index) means the same input on every machine. */
export function loadCorpus(options: CorpusOptions = {}): CorpusFile[] {
  const dir = options.dir ?? DEFAULT_CORPUS_DIR;
  const maxBytes = options.maxBytes ?? 300 * 1024;
  const every = Math.max(1, options.every ?? 1);
  const files = listFiles(dir, []).filter((p) => statSync(p).size <= maxBytes).filter((_, i) => i % every === 0);
  return files.map((p) => {
    const buf = readFileSync(p);
    const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    return { name: relative(dir, p), bytes, elements: scanElements(bytes) };
  });
}
