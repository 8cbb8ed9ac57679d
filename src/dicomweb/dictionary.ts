/**
 * Keyword ↔ tag ↔ VR, built once from dcmjs's data dictionary (the standard's keywords). DICOMweb needs it
 * both ways: QIDO match keys arrive as keywords or as "GGGGEEEE" tags (PS3.18 8.3.4.1), and the DICOM JSON
 * model is keyed by tag with an explicit VR (PS3.18 F.2).
 */
import { lookupKeyword, lookupTag, tagHex } from '../dicom/index.ts';

export interface DictEntry {
  readonly keyword: string;
  /** "GGGGEEEE" upper-case hex. */
  readonly tag: string;
  /** Dictionary VR; multi-choice VRs ("US or SS", "ox", "xs") are resolved by `resolveVr`. */
  readonly vr: string;
}

/** The one dictionary is src/dicom's (built from dcmjs); this module only adds DICOMweb's hex-string view of it. */
export function entryForKeyword(keyword: string): DictEntry | undefined {
  const found = lookupKeyword(keyword);
  return found ? { keyword: found.entry.keyword, tag: tagHex(found.tag), vr: found.entry.vr } : undefined;
}

/** Entry for "GGGGEEEE" (any case); undefined for private or unknown tags. */
export function entryForTag(tag: string): DictEntry | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(tag)) return undefined;
  const n = parseInt(tag, 16) >>> 0;
  const entry = lookupTag(n);
  return entry ? { keyword: entry.keyword, tag: tagHex(n), vr: entry.vr } : undefined;
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
