/**
 * Tag → (keyword, VR) lookup built once from dcmjs's data dictionary (the standard's keywords, so that the
 * naturalized dataset matches what dcmjs would produce). dcmjs has no TypeScript types: the shape is narrowed here.
 */
import { createRequire } from 'node:module';

export interface DictEntry {
  readonly keyword: string;
  /** Dictionary VR; multi-choice VRs ("US or SS", "ox") are kept as written and resolved by the reader. */
  readonly vr: string;
}

let exact: Map<number, DictEntry> | undefined;
let byKeyword: Map<string, number> | undefined;

function load(): void {
  exact = new Map();
  byKeyword = new Map();
  const req = createRequire(import.meta.url);
  const mod: unknown = req('dcmjs');
  const nameMap = (mod as { data?: { DicomMetaDictionary?: { nameMap?: unknown } } }).data?.DicomMetaDictionary?.nameMap;
  if (typeof nameMap !== 'object' || nameMap === null) return;
  for (const [name, raw] of Object.entries(nameMap as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const { tag, vr } = raw as { tag?: unknown; vr?: unknown };
    if (typeof tag !== 'string' || typeof vr !== 'string') continue;
    const m = /^\(([0-9A-Fa-fx]{4}),([0-9A-Fa-fx]{4})\)$/.exec(tag);
    if (!m || !m[1] || !m[2]) continue;
    if (m[1].includes('x') || m[2].includes('x')) continue;
    // dcmjs prefixes retired keywords; the standard keyword is the rest. A current keyword wins.
    const keyword = name.startsWith('RETIRED_') ? name.slice(8) : name;
    const key = (parseInt(m[1], 16) << 16 | parseInt(m[2], 16)) >>> 0;
    if (!exact.has(key) || !name.startsWith('RETIRED_')) exact.set(key, { keyword, vr });
    if (!byKeyword.has(keyword) || !name.startsWith('RETIRED_')) byKeyword.set(keyword, key);
  }
}

/** Keyword → tag (group << 16 | element, unsigned) and dictionary entry, or undefined for an unknown keyword. */
export function lookupKeyword(keyword: string): { readonly tag: number; readonly entry: DictEntry } | undefined {
  if (byKeyword === undefined) load();
  const tag = byKeyword?.get(keyword);
  const entry = tag === undefined ? undefined : exact?.get(tag);
  return tag === undefined || entry === undefined ? undefined : { tag, entry };
}

/** Dictionary entry for a tag (repeating groups 50xx/60xx are listed under xx = 00) (group << 16 | element, unsigned), or undefined for private/unknown tags. */
export function lookupTag(tag: number): DictEntry | undefined {
  if (exact === undefined) load();
  const e = exact?.get(tag);
  if (e) return e;
  const group = tag >>> 16;
  const hi = group & 0xff00;
  if ((hi === 0x5000 || hi === 0x6000 || hi === 0x7f00) && (group & 1) === 0) {
    return exact?.get(((hi << 16) | (tag & 0xffff)) >>> 0);
  }
  return undefined;
}

/** "GGGGEEEE" upper-case hex, the key used for tags without a keyword (private, unknown). */
export function tagHex(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(8, '0');
}
