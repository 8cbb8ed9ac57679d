/**
 * C-FIND / C-MOVE identifiers ↔ our query model. dcmjs naturalizes PN as [{Alphabetic, Ideographic, Phonetic}],
 * multi-values as arrays, empty numbers as null; the archive speaks DICOM text (PS3.4 C.2.2.2 matching syntax).
 */
import type { MatchKeys, QueryLevel, QueryRow } from '../archive/types.ts';
import { vrOf } from './lib.ts';

/** Keys of a C-FIND identifier that steer the query rather than match (PS3.4 C.4.1.1.3). */
const CONTROL_KEYS = new Set(['QueryRetrieveLevel', 'SpecificCharacterSet', 'TimezoneOffsetFromUTC']);

export type DimseLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'IMAGE';

export function toArchiveLevel(level: DimseLevel): QueryLevel {
  return level === 'IMAGE' ? 'INSTANCE' : level;
}

export function parseLevel(value: unknown): DimseLevel | undefined {
  const s = valueText(value).trim().toUpperCase();
  return s === 'PATIENT' || s === 'STUDY' || s === 'SERIES' || s === 'IMAGE' ? s : undefined;
}

function pnText(v: Record<string, unknown>): string {
  const groups = [v['Alphabetic'], v['Ideographic'], v['Phonetic']].map((g) => (typeof g === 'string' ? g : ''));
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}

/** A naturalized value as DICOM text: multi-values joined by backslash, PN components joined by '='. */
export function valueText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => valueText(x)).join('\\');
  if (typeof v === 'object') {
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return '';
    return pnText(v as Record<string, unknown>);
  }
  return String(v);
}

export interface ParsedIdentifier {
  readonly level: DimseLevel | undefined;
  /** Every requested key (return keys included), in request order. */
  readonly keys: readonly string[];
  /** Keys with a non-empty value: the matching constraints. */
  readonly match: MatchKeys;
}

export function parseIdentifier(elements: Record<string, unknown>): ParsedIdentifier {
  const keys: string[] = [];
  const match: Record<string, string> = {};
  for (const [key, value] of Object.entries(elements)) {
    if (key.startsWith('_') || CONTROL_KEYS.has(key)) continue;
    // Sequence matching (PS3.4 C.2.2.2.6) is not supported: a sequence is a return key only.
    if (Array.isArray(value) && value.some((x) => x !== null && typeof x === 'object' && !('Alphabetic' in x))) {
      keys.push(key);
      continue;
    }
    keys.push(key);
    const text = valueText(value).trim();
    if (text !== '') match[key] = text;
  }
  return { level: parseLevel(elements['QueryRetrieveLevel']), keys, match };
}

/** A C-FIND response identifier: only the requested keys, plus QueryRetrieveLevel and SpecificCharacterSet. */
export function responseIdentifier(row: QueryRow, keys: readonly string[], level: DimseLevel): Record<string, unknown> {
  const out: Record<string, unknown> = { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: level };
  for (const key of keys) {
    const v = row[key];
    if (v === undefined || v === null) out[key] = '';
    else if (typeof v === 'number') out[key] = v;
    else if (vrOf(key) === 'PN') out[key] = v.split('\\').map((p) => ({ Alphabetic: p }));
    else out[key] = v.includes('\\') ? v.split('\\') : v;
  }
  return out;
}

/** A received C-FIND response identifier as a QueryRow (DICOM text; numbers stay numbers). */
export function identifierToRow(elements: Record<string, unknown>): QueryRow {
  const row: Record<string, string | number | null> = {};
  for (const [key, value] of Object.entries(elements)) {
    if (key.startsWith('_')) continue;
    if (typeof value === 'number') row[key] = value;
    else if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'number') row[key] = value[0];
    else {
      const t = valueText(value);
      row[key] = t === '' ? null : t;
    }
  }
  return row;
}

/** Our query keys as a dcmjs identifier for an outgoing C-FIND / C-MOVE. */
export function buildIdentifier(level: DimseLevel, keys: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = { QueryRetrieveLevel: level };
  for (const [key, value] of Object.entries(keys)) {
    if (key === 'QueryRetrieveLevel') continue;
    if (vrOf(key) === 'PN' && value !== '') out[key] = [{ Alphabetic: value }];
    else out[key] = value.includes('\\') ? value.split('\\') : value;
  }
  return out;
}

/** `a\b\c` → [a, b, c] (UID list matching). */
export function uidList(value: string | undefined): string[] {
  return (value ?? '').split('\\').map((s) => s.trim()).filter((s) => s !== '');
}
