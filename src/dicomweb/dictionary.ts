/**
 * Keyword ↔ tag ↔ VR, built once from dcmjs's data dictionary (the standard's keywords). DICOMweb needs it
 * both ways: QIDO match keys arrive as keywords or as "GGGGEEEE" tags (PS3.18 8.3.4.1), and the DICOM JSON
 * model is keyed by tag with an explicit VR (PS3.18 F.2).
 */
import { createRequire } from 'node:module';

export interface DictEntry {
  readonly keyword: string;
  /** "GGGGEEEE" upper-case hex. */
  readonly tag: string;
  /** Dictionary VR; multi-choice VRs ("US or SS", "ox", "xs") are resolved by `resolveVr`. */
  readonly vr: string;
}

let byKeyword: Map<string, DictEntry> | undefined;
let byTag: Map<string, DictEntry> | undefined;

function load(): void {
  byKeyword = new Map();
  byTag = new Map();
  const req = createRequire(import.meta.url);
  const mod: unknown = req('dcmjs');
  const nameMap = (mod as { data?: { DicomMetaDictionary?: { nameMap?: unknown } } }).data?.DicomMetaDictionary?.nameMap;
  if (typeof nameMap !== 'object' || nameMap === null) return;
  for (const [name, raw] of Object.entries(nameMap as Record<string, unknown>)) {
    if (typeof raw !== 'object' || raw === null) continue;
    const { tag, vr } = raw as { tag?: unknown; vr?: unknown };
    if (typeof tag !== 'string' || typeof vr !== 'string') continue;
    const m = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(tag);
    if (!m || !m[1] || !m[2]) continue;
    // dcmjs prefixes retired keywords; the standard keyword is the rest. A current keyword wins.
    const retired = name.startsWith('RETIRED_');
    const keyword = retired ? name.slice(8) : name;
    const entry: DictEntry = { keyword, tag: (m[1] + m[2]).toUpperCase(), vr };
    if (!byKeyword.has(keyword) || !retired) byKeyword.set(keyword, entry);
    if (!byTag.has(entry.tag) || !retired) byTag.set(entry.tag, entry);
  }
}

export function entryForKeyword(keyword: string): DictEntry | undefined {
  if (byKeyword === undefined) load();
  return byKeyword?.get(keyword);
}

/** Entry for "GGGGEEEE" (any case); undefined for private or unknown tags. */
export function entryForTag(tag: string): DictEntry | undefined {
  if (byTag === undefined) load();
  return byTag?.get(tag.toUpperCase());
}

/** A QIDO attribute id (keyword or 8-hex-digit tag) → dictionary entry; undefined when neither. */
export function resolveAttribute(id: string): DictEntry | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(id)) return entryForTag(id);
  return entryForKeyword(id);
}

/** One concrete VR for a dictionary VR; `signed` picks SS over US for the "xs" notations. */
export function resolveVr(vr: string, signed = false): string {
  if (vr === 'ox') return 'OW';
  if (vr === 'xs' || vr === 'US or SS') return signed ? 'SS' : 'US';
  if (vr.includes(' or ')) return vr.split(' or ')[0] ?? 'UN';
  if (vr.includes('/')) return vr.split('/')[0] ?? 'UN';
  return vr;
}
