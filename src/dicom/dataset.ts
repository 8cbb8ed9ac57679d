/**
 * Typed accessors over naturalized datasets. dcmjs returns a single value as a scalar and several as an
 * array, PN as {Alphabetic}, DS/IS sometimes as strings: these helpers hide that so callers get one shape.
 */
import type { DicomDataset } from './types.ts';

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** A string attribute (first value); PN → Alphabetic component. undefined when absent or empty. */
export function getString(ds: DicomDataset, keyword: string): string | undefined {
  const v = first(ds[keyword]);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') {
    const alpha = (v as Record<string, unknown>)['Alphabetic'];
    return typeof alpha === 'string' && alpha.length > 0 ? alpha : undefined;
  }
  const s = String(v).trim();
  return s.length > 0 ? s : undefined;
}

/** All values of a multi-valued string attribute (e.g. ImageType). */
export function getStrings(ds: DicomDataset, keyword: string): string[] {
  const v = ds[keyword];
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? v.split('\\') : [v];
  return arr.map((x) => String(x).trim()).filter((x) => x.length > 0);
}

/** A numeric attribute (first value); undefined when absent or not a finite number. */
export function getNumber(ds: DicomDataset, keyword: string): number | undefined {
  const v = first(ds[keyword]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** All values of a numeric multi-valued attribute; undefined if absent or any value is not numeric. */
export function getNumbers(ds: DicomDataset, keyword: string): number[] | undefined {
  const v = ds[keyword];
  if (v === undefined || v === null) return undefined;
  const arr = Array.isArray(v) ? v : typeof v === 'string' ? v.split('\\') : [v];
  const out = arr.map((x) => (typeof x === 'number' ? x : Number(String(x).trim())));
  return out.length > 0 && out.every(Number.isFinite) ? out : undefined;
}

/** Items of a sequence attribute (always an array). */
export function getSequence(ds: DicomDataset, keyword: string): DicomDataset[] {
  const v = ds[keyword];
  if (v === undefined || v === null) return [];
  const arr = Array.isArray(v) ? v : [v];
  return arr.filter((x): x is DicomDataset => typeof x === 'object' && x !== null && !Array.isArray(x));
}

/** PatientAge "062Y" / "006M" / "010W" / "003D" → years. */
export function parseAgeYears(age: string | undefined): number | undefined {
  if (!age) return undefined;
  const m = /^(\d{1,3})\s*([DWMY])?$/i.exec(age.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  switch ((m[2] ?? 'Y').toUpperCase()) {
    case 'D': return n / 365.25;
    case 'W': return (n * 7) / 365.25;
    case 'M': return n / 12;
    default: return n;
  }
}
