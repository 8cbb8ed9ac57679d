/**
 * Specific Character Set (0008,0005) decoding, PS3.3 C.12.1.1.2 and PS3.5 6.1.
 *
 * Only SH, LO, ST, LT, UC, UT and PN are affected; the other string VRs are the default repertoire.
 * Single-byte sets without code extensions and the multi-byte sets without code extensions (UTF-8,
 * GB18030, GBK) are decoded directly. ISO 2022 code extensions are decoded by walking the escape
 * sequences: Japanese (IR 13, 87, 159) is rewritten into EUC-JP (which covers JIS X 0201 katakana,
 * JIS X 0208 and JIS X 0212), Korean (IR 149) and Chinese (IR 58) are EUC in G1 already, and the
 * ISO 8859 parts go through their single-byte decoders. Node's ICU TextDecoder does the code tables.
 */
import { SrError } from '../core/errors.ts';
import { TextDecoder } from 'node:util';

/** Defined Term (without the "ISO 2022 " / "ISO_IR " spelling difference) → WHATWG decoder label. */
const SINGLE_BYTE: Record<string, string> = {
  'IR 6': 'ascii',
  'IR 100': 'latin1',
  'IR 101': 'iso-8859-2',
  'IR 109': 'iso-8859-3',
  'IR 110': 'iso-8859-4',
  'IR 144': 'iso-8859-5',
  'IR 127': 'iso-8859-6',
  'IR 126': 'iso-8859-7',
  'IR 138': 'iso-8859-8',
  'IR 148': 'iso-8859-9',
  'IR 203': 'iso-8859-15',
  'IR 166': 'windows-874',
};

/** G1 escape "ESC - F" final byte → single-byte set. */
const G1_96: Record<number, string> = {
  0x41: 'latin1', 0x42: 'iso-8859-2', 0x43: 'iso-8859-3', 0x44: 'iso-8859-4', 0x4c: 'iso-8859-5',
  0x47: 'iso-8859-6', 0x46: 'iso-8859-7', 0x48: 'iso-8859-8', 0x4d: 'iso-8859-9', 0x62: 'iso-8859-15',
  0x54: 'windows-874',
};

type G0 = 'ascii' | 'jis0208' | 'jis0212';
/** G1 state: a single-byte decoder label, 'katakana' (JIS X 0201), 'euc-kr' or 'gb2312' (94² sets in G1). */
type G1 = string | null;

export interface Charset {
  /** The terms as given, for messages. */
  readonly terms: readonly string[];
  /** Decoder for a whole value when no code extensions are in use. */
  readonly direct: string | undefined;
  readonly initialG1: G1;
  readonly initialG0: G0;
}

const decoders = new Map<string, TextDecoder>();
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (!d) {
    d = new TextDecoder(label === 'ascii' ? 'latin1' : label);
    decoders.set(label, d);
  }
  return d;
}

export const DEFAULT_CHARSET: Charset = { terms: [], direct: 'latin1-exact', initialG1: null, initialG0: 'ascii' };

function normalizeTerm(t: string): string {
  return t.trim().toUpperCase().replace(/^ISO[ _]2022[ _]/, '').replace(/^ISO_IR[ _]?/, 'IR ').replace(/^IR\s*/, 'IR ');
}

/**
 * The decoding state for a Specific Character Set value (already split into its values).
 * Unknown terms throw DICOM_CHARSET_UNSUPPORTED so the caller can decide to fall back.
 */
export function resolveCharset(terms: readonly string[], source: string): Charset {
  const list = terms.map((t) => t.trim());
  if (list.length === 0 || (list.length === 1 && list[0] === '')) return DEFAULT_CHARSET;
  const first = list[0] ?? '';
  const isExtension = list.length > 1 || /^ISO 2022/i.test(first);
  if (!isExtension) {
    const up = first.toUpperCase();
    if (up === 'ISO_IR 192') return { terms: list, direct: 'utf-8', initialG1: null, initialG0: 'ascii' };
    if (up === 'GB18030') return { terms: list, direct: 'gb18030', initialG1: null, initialG0: 'ascii' };
    if (up === 'GBK') return { terms: list, direct: 'gbk', initialG1: null, initialG0: 'ascii' };
    const n = normalizeTerm(up);
    if (n === 'IR 100' || n === 'IR 6') return { terms: list, direct: 'latin1-exact', initialG1: null, initialG0: 'ascii' };
    if (n === 'IR 13') return { terms: list, direct: 'shift_jis', initialG1: null, initialG0: 'ascii' };
    const label = SINGLE_BYTE[n];
    if (label) return { terms: list, direct: label, initialG1: null, initialG0: 'ascii' };
    throw new SrError('DICOM_CHARSET_UNSUPPORTED', `Specific Character Set "${first}" is not supported`, {
      details: { source, charset: list },
    });
  }
  for (const t of list) {
    if (t === '') continue;
    const n = normalizeTerm(t);
    if (!(n in SINGLE_BYTE) && !['IR 13', 'IR 87', 'IR 159', 'IR 149', 'IR 58'].includes(n)) {
      throw new SrError('DICOM_CHARSET_UNSUPPORTED', `Specific Character Set term "${t}" is not supported`, {
        details: { source, charset: list },
      });
    }
  }
  // The first value designates the initial G0/G1 (PS3.3 C.12.1.1.2); empty means the default repertoire.
  const n0 = first === '' ? 'IR 6' : normalizeTerm(first);
  let g1: G1 = null;
  if (n0 === 'IR 13') g1 = 'katakana';
  else if (n0 === 'IR 149') g1 = 'euc-kr';
  else if (n0 === 'IR 58') g1 = 'gb2312';
  else if (n0 !== 'IR 6') g1 = SINGLE_BYTE[n0] ?? null;
  return { terms: list, direct: undefined, initialG1: g1, initialG0: 'ascii' };
}

/** Decodes a value's bytes (trailing padding not yet removed). */
export function decodeString(bytes: Uint8Array, cs: Charset): string {
  if (cs.direct === 'latin1-exact') return latin1(bytes);
  if (cs.direct !== undefined) return decoder(cs.direct).decode(bytes);
  return decodeIso2022(bytes, cs);
}

function latin1(bytes: Uint8Array): string {
  // Short strings dominate; String.fromCharCode over chunks avoids a Buffer round-trip.
  let s = '';
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, Array.from(bytes.subarray(i, Math.min(bytes.length, i + 8192))));
  }
  return s;
}

function decodeIso2022(bytes: Uint8Array, cs: Charset): string {
  let g0: G0 = cs.initialG0;
  let g1: G1 = cs.initialG1;
  let out = '';
  let runLabel = '';
  let run: number[] = [];
  const flush = (): void => {
    if (run.length > 0) out += runLabel === 'ascii' ? latin1(Uint8Array.from(run)) : decoder(runLabel).decode(Uint8Array.from(run));
    run = [];
  };
  const emit = (label: string, ...b: number[]): void => {
    if (label !== runLabel) {
      flush();
      runLabel = label;
    }
    for (const x of b) run.push(x);
  };
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b === 0x1b) {
      const e1 = bytes[i + 1];
      const e2 = bytes[i + 2];
      const e3 = bytes[i + 3];
      if (e1 === 0x28 && (e2 === 0x42 || e2 === 0x4a)) { g0 = 'ascii'; i += 3; continue; } // ESC ( B / ESC ( J
      if (e1 === 0x29 && e2 === 0x49) { g1 = 'katakana'; i += 3; continue; } // ESC ) I
      if (e1 === 0x24 && e2 === 0x42) { g0 = 'jis0208'; i += 3; continue; } // ESC $ B
      if (e1 === 0x24 && e2 === 0x28 && e3 === 0x44) { g0 = 'jis0212'; i += 4; continue; } // ESC $ ( D
      if (e1 === 0x24 && e2 === 0x29 && e3 === 0x43) { g1 = 'euc-kr'; i += 4; continue; } // ESC $ ) C
      if (e1 === 0x24 && e2 === 0x29 && e3 === 0x41) { g1 = 'gb2312'; i += 4; continue; } // ESC $ ) A
      if (e1 === 0x2d && e2 !== undefined && G1_96[e2]) { g1 = G1_96[e2] ?? null; i += 3; continue; } // ESC - F
      // Unknown escape: keep the byte as text rather than lose data.
      emit('ascii', b);
      i += 1;
      continue;
    }
    if (b < 0x80) {
      // PS3.5 6.1.2.5.3: delimiters and control characters return G0 to the default repertoire.
      if (b === 0x0d || b === 0x0a || b === 0x09 || b === 0x0c) g0 = 'ascii';
      const b2 = bytes[i + 1];
      if (g0 !== 'ascii' && b >= 0x21 && b <= 0x7e && b2 !== undefined && b2 >= 0x21 && b2 <= 0x7e) {
        if (g0 === 'jis0208') emit('euc-jp', b | 0x80, b2 | 0x80);
        else emit('euc-jp', 0x8f, b | 0x80, b2 | 0x80);
        i += 2;
        continue;
      }
      emit('ascii', b);
      i += 1;
      continue;
    }
    if (g1 === 'katakana') emit('euc-jp', 0x8e, b);
    else if (g1 === 'euc-kr' || g1 === 'gb2312') {
      const b2 = bytes[i + 1];
      if (b2 !== undefined && b2 >= 0x80) {
        emit(g1 === 'euc-kr' ? 'euc-kr' : 'gb18030', b, b2);
        i += 2;
        continue;
      }
      emit('ascii', b);
    } else emit(g1 ?? 'latin1', b);
    i += 1;
  }
  flush();
  return out;
}
