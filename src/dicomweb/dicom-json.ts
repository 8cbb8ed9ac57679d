/**
 * The DICOM JSON Model (PS3.18 Annex F): objects keyed by "GGGGEEEE" with an explicit `vr` and `Value`
 * (PN as {Alphabetic, Ideographic, Phonetic}, AT as hex strings, DS/IS/binary numbers as JSON numbers,
 * SQ as nested objects, bulk data as InlineBinary or BulkDataURI). Built from our reader's naturalized
 * datasets and from archive query rows, with the VR taken from the data dictionary.
 */
import { entryForKeyword, resolveVr } from './dictionary.ts';

export interface JsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, JsonAttribute>;

const BINARY_VR = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBER_VR = new Set(['DS', 'IS', 'FL', 'FD', 'SL', 'SS', 'UL', 'US', 'SV', 'UV']);
/** Text VRs whose single value may contain a backslash (PS3.5 6.2). */
const SINGLE_TEXT_VR = new Set(['ST', 'LT', 'UT', 'UR']);

function pnValue(v: unknown): Record<string, string> | null {
  if (typeof v === 'object' && v !== null) {
    const o: Record<string, string> = {};
    for (const k of ['Alphabetic', 'Ideographic', 'Phonetic']) {
      const s = (v as Record<string, unknown>)[k];
      if (typeof s === 'string' && s !== '') o[k] = s;
    }
    return Object.keys(o).length > 0 ? o : null;
  }
  if (typeof v !== 'string' || v === '') return null;
  const [a, i, p] = v.split('=');
  const o: Record<string, string> = {};
  if (a) o['Alphabetic'] = a;
  if (i) o['Ideographic'] = i;
  if (p) o['Phonetic'] = p;
  return o;
}

function numberValue(v: unknown): number | string | null {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v === 'string') {
    const t = v.trim();
    if (t === '') return null;
    const n = Number(t);
    // A malformed DS/IS is passed on as text rather than dropped: the client sees what is stored.
    return Number.isFinite(n) ? n : t;
  }
  return null;
}

function atValue(v: unknown): string | null {
  return typeof v === 'number' ? (v >>> 0).toString(16).toUpperCase().padStart(8, '0') : typeof v === 'string' ? v : null;
}

function asList(v: unknown, vr: string): unknown[] {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && !SINGLE_TEXT_VR.has(vr) && v.includes('\\')) return v.split('\\');
  return [v];
}

export interface ToJsonOptions {
  /** Called for each value that is a byte array at the top level; return a URI to send BulkDataURI instead of InlineBinary. */
  readonly bulkDataUri?: (tag: string) => string | undefined;
  /** Signed pixel data: resolves the "US or SS" dictionary VRs. */
  readonly signed?: boolean;
}

/** One attribute in DICOM JSON, or undefined when its VR cannot be known (a private element read implicitly). */
export function attributeToJson(key: string, value: unknown, options: ToJsonOptions = {}, depth = 0): [string, JsonAttribute] | undefined {
  const dict = entryForKeyword(key);
  let tag: string;
  let vr: string;
  if (dict) {
    tag = dict.tag;
    vr = resolveVr(dict.vr, options.signed);
  } else if (/^[0-9A-F]{8}$/.test(key)) {
    tag = key;
    const group = parseInt(key.slice(0, 4), 16);
    const element = parseInt(key.slice(4), 16);
    if (value instanceof Uint8Array) vr = 'UN';
    else if (Array.isArray(value) && value.every((x) => typeof x === 'object' && x !== null && !(x instanceof Uint8Array))) vr = 'SQ';
    else if (group % 2 === 1 && element >= 0x10 && element <= 0xff) vr = 'LO'; // private creator (PS3.5 7.8.1)
    else return undefined;
  } else {
    return undefined;
  }
  if (value instanceof Uint8Array) {
    if (!BINARY_VR.has(vr)) vr = 'UN';
    const uri = depth === 0 ? options.bulkDataUri?.(tag) : undefined;
    if (uri !== undefined) return [tag, { vr, BulkDataURI: uri }];
    return [tag, value.length === 0 ? { vr } : { vr, InlineBinary: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }];
  }
  if (vr === 'SQ') {
    const items = Array.isArray(value) ? value : [];
    const out = items
      .filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null && !(x instanceof Uint8Array))
      .map((item) => datasetToJson(item, options, depth + 1));
    return [tag, out.length > 0 ? { vr, Value: out } : { vr }];
  }
  if (value === null || value === undefined || (Array.isArray(value) && value.length === 0) || value === '') return [tag, { vr }];
  const list = asList(value, vr);
  let values: unknown[];
  if (vr === 'PN') values = list.map(pnValue);
  else if (vr === 'AT') values = list.map(atValue);
  else if (NUMBER_VR.has(vr)) values = list.map(numberValue);
  else values = list.map((x) => (x === null || x === undefined || x === '' ? null : typeof x === 'string' ? x : String(x)));
  if (values.every((x) => x === null)) return [tag, { vr }];
  return [tag, { vr, Value: values }];
}

/** A naturalized dataset → DICOM JSON, attributes in tag order. */
export function datasetToJson(ds: Record<string, unknown>, options: ToJsonOptions = {}, depth = 0): DicomJson {
  const entries: Array<[string, JsonAttribute]> = [];
  for (const [key, value] of Object.entries(ds)) {
    if (key === '_meta' || key === '_vrMap') continue;
    const e = attributeToJson(key, value, options, depth);
    if (e) entries.push(e);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}

/** Adds (or replaces) one attribute by keyword. */
export function setAttribute(json: DicomJson, keyword: string, value: unknown): void {
  const e = attributeToJson(keyword, value);
  if (e) json[e[0]] = e[1];
}

/** First Value of an attribute given by keyword, when it is a string. */
export function jsonString(json: DicomJson, keyword: string): string | undefined {
  const tag = entryForKeyword(keyword)?.tag;
  const v = tag ? json[tag]?.Value?.[0] : undefined;
  return typeof v === 'string' ? v : undefined;
}

/** Returns a copy ordered by tag (after attributes were added). */
export function sortJson(json: DicomJson): DicomJson {
  return Object.fromEntries(Object.entries(json).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}
