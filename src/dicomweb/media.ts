/**
 * Media types: Content-Type and Accept parsing (RFC 9110 12.5.1, quoted parameters per RFC 9110 5.6.6) and the
 * negotiation rules of PS3.18 8.7 for the few representations we produce.
 */
import { SrError } from '../core/errors.ts';

export interface MediaRange {
  /** Lower-case "type/subtype" (may hold wildcards). */
  readonly type: string;
  /** Parameter names lower-case; values unquoted, case kept (boundaries are case-sensitive). */
  readonly params: Readonly<Record<string, string>>;
  readonly q: number;
}

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '"' && s[i - 1] !== '\\') quoted = !quoted;
    if (c === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function unquote(v: string): string {
  const t = v.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1).replace(/\\(.)/g, '$1') : t;
}

export function parseMediaType(s: string): MediaRange | undefined {
  const [head, ...rest] = splitOutsideQuotes(s, ';');
  const type = (head ?? '').trim().toLowerCase();
  if (!/^[a-z0-9!#$&^_.+*-]+\/[a-z0-9!#$&^_.+*-]+$/.test(type)) return undefined;
  const params: Record<string, string> = {};
  let q = 1;
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const name = p.slice(0, eq).trim().toLowerCase();
    const value = unquote(p.slice(eq + 1));
    if (name === 'q') {
      const n = Number(value);
      q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 1;
    } else params[name] = value;
  }
  return { type, params, q };
}

/** The ranges of an Accept header, best first; an absent or empty header means any. Unparseable ranges are skipped. */
export function parseAccept(header: string | string[] | undefined): MediaRange[] {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  const ranges = splitOutsideQuotes(text, ',')
    .map((x) => x.trim())
    .filter((x) => x !== '')
    .map(parseMediaType)
    .filter((r): r is MediaRange => r !== undefined && r.q > 0);
  if (ranges.length === 0 && text.trim() === '') return [{ type: '*/*', params: {}, q: 1 }];
  return ranges.sort((a, b) => b.q - a.q);
}

function typeMatches(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true;
  return range.endsWith('/*') && type.startsWith(range.slice(0, -1));
}

/** The first range (best first) that accepts `type`, or undefined. */
export function acceptsType(ranges: readonly MediaRange[], type: string): MediaRange | undefined {
  return ranges.find((r) => typeMatches(r.type, type));
}

export function notAcceptable(accept: string | string[] | undefined, offered: string): SrError {
  return new SrError('HTTP_NOT_ACCEPTABLE', `none of the accepted media types (${String(accept)}) can be produced; this resource offers ${offered}`, {
    details: { accept: accept ?? null, offered },
  });
}

/**
 * For multipart/related responses: the ranges that accept `multipart/related; type=<partType>`, best first.
 * A multipart/related range without `type` is taken as the resource's default part type (PS3.18 8.7.3.5).
 */
export function multipartRanges(ranges: readonly MediaRange[], partType: string): MediaRange[] {
  return ranges.filter((r) => {
    if (r.type === '*/*' || r.type === 'multipart/*') return true;
    if (r.type !== 'multipart/related') return false;
    const t = (r.params['type'] ?? partType).toLowerCase();
    return typeMatches(t, partType);
  });
}

export const DICOM_JSON = 'application/dicom+json';

/** Negotiates a JSON response (QIDO, metadata, STOW response); throws 406 when JSON is not acceptable. */
export function negotiateJson(accept: string | string[] | undefined): string {
  const ranges = parseAccept(accept);
  for (const r of ranges) {
    if (typeMatches(r.type, DICOM_JSON)) return DICOM_JSON;
    if (r.type === 'application/json') return 'application/json';
  }
  throw notAcceptable(accept, DICOM_JSON);
}
