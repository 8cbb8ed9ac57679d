/**
 * QIDO-RS (PS3.18 10.6): search for studies, series and instances. Query parameters are match keys by keyword or
 * tag, plus includefield, limit, offset and fuzzymatching. Results are a DICOM JSON array; no match is 200 with
 * `[]` (PS3.18 as amended by CP-2473: 204 contradicts RFC 9110 and earlier DICOMweb).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { QueryLevel, QueryRow } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';
import { type DicomWebContext, checkUid, instanceUrl, readHeader, serviceRoot, seriesUrl, studyUrl } from './context.ts';
import { type DicomJson, attributeToJson, datasetToJson, setAttribute, sortJson } from './dicom-json.ts';
import { resolveAttribute } from './dictionary.ts';
import { negotiateJson } from './media.ts';

export const DEFAULT_LIMIT = 1000;
export const MAX_LIMIT = 10_000;

interface ParsedQuery {
  readonly match: Record<string, string>;
  /** Keywords asked for with includefield; `all` for includefield=all. */
  readonly include: Set<string> | 'all';
  readonly limit: number;
  readonly offset: number;
  readonly fuzzy: boolean;
}

function badParam(message: string, details: Record<string, unknown>): SrError {
  return new SrError('HTTP_BAD_REQUEST', message, { details });
}

function single(name: string, v: string | string[]): string {
  if (Array.isArray(v)) {
    if (v.length !== 1) throw badParam(`query parameter ${name} given ${v.length} times`, { parameter: name });
    return v[0] as string;
  }
  return v;
}

function nonNegativeInt(name: string, v: string): number {
  if (!/^\d{1,9}$/.test(v)) throw badParam(`${name} must be a non-negative integer, got "${v.slice(0, 40)}"`, { parameter: name, value: v });
  return Number(v);
}

export function parseQuery(query: unknown): ParsedQuery {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, string | string[]>;
  const match: Record<string, string> = {};
  let include: Set<string> | 'all' = new Set();
  let limit = DEFAULT_LIMIT;
  let offset = 0;
  let fuzzy = false;
  for (const [name, raw] of Object.entries(q)) {
    const lower = name.toLowerCase();
    if (lower === 'limit') limit = Math.min(MAX_LIMIT, nonNegativeInt(name, single(name, raw)));
    else if (lower === 'offset') offset = nonNegativeInt(name, single(name, raw));
    else if (lower === 'fuzzymatching') {
      const v = single(name, raw).toLowerCase();
      if (v !== 'true' && v !== 'false') throw badParam(`fuzzymatching must be true or false, got "${v.slice(0, 40)}"`, { parameter: name });
      fuzzy = v === 'true';
    } else if (lower === 'includefield') {
      for (const item of (Array.isArray(raw) ? raw : [raw]).flatMap((x) => x.split(','))) {
        const id = item.trim();
        if (id === '') continue;
        if (id.toLowerCase() === 'all') {
          include = 'all';
          continue;
        }
        const e = resolveAttribute(id);
        if (!e) throw badParam(`includefield "${id.slice(0, 64)}" is not a DICOM keyword or tag`, { parameter: 'includefield', value: id });
        if (include !== 'all') include.add(e.keyword);
      }
    } else {
      const e = resolveAttribute(name);
      if (!e) {
        throw badParam(`unknown query parameter "${name.slice(0, 64)}": not limit, offset, includefield, fuzzymatching, a DICOM keyword or a tag (sequence paths are not supported)`, {
          parameter: name,
        });
      }
      match[e.keyword] = single(name, raw);
    }
  }
  return { match, include, limit, offset, fuzzy };
}

/** Index columns that are not QIDO attributes under their own name. */
const ROW_ONLY = new Set(['TransferSyntaxUID']);

function rowToJson(row: QueryRow): DicomJson {
  const json: DicomJson = {};
  for (const [k, v] of Object.entries(row)) {
    if (ROW_ONLY.has(k)) continue;
    const e = attributeToJson(k, v);
    if (e) json[e[0]] = e[1];
  }
  // The stored syntax, as the attribute QIDO results use for it (PS3.18 10.6.3.3.3).
  if (typeof row['TransferSyntaxUID'] === 'string') setAttribute(json, 'AvailableTransferSyntaxUID', row['TransferSyntaxUID']);
  return json;
}

function str(row: QueryRow, k: string): string | undefined {
  const v = row[k];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Attributes asked for by includefield that the index does not hold: read from one instance of the result. */
async function addFromFile(ctx: DicomWebContext, level: QueryLevel, row: QueryRow, json: DicomJson, wanted: Set<string> | 'all'): Promise<void> {
  const missing = wanted === 'all' ? undefined : [...wanted].filter((k) => !(k in row));
  if (missing !== undefined && missing.length === 0) return;
  if (wanted === 'all' && level !== 'INSTANCE') return; // documented: "all" adds file attributes at instance level only
  let sop = str(row, 'SOPInstanceUID');
  if (!sop) {
    const filter = level === 'SERIES' ? { seriesInstanceUid: str(row, 'SeriesInstanceUID') } : { studyInstanceUid: str(row, 'StudyInstanceUID') };
    const list = await ctx.archive.listInstances(filter);
    sop = list[0]?.sopInstanceUid;
  }
  if (!sop) return;
  const rec = await ctx.archive.getInstance(sop);
  if (!rec) return;
  const head = await readHeader(ctx, rec);
  const fromFile = datasetToJson(head.dataset, { signed: head.pixel?.PixelRepresentation === 1 });
  if (missing === undefined) {
    for (const [tag, attr] of Object.entries(fromFile)) if (!(tag in json)) json[tag] = attr;
    return;
  }
  const subset: Record<string, unknown> = {};
  for (const k of missing) if (k in head.dataset) subset[k] = head.dataset[k];
  Object.assign(json, datasetToJson(subset, { signed: head.pixel?.PixelRepresentation === 1 }));
}

async function search(ctx: DicomWebContext, level: QueryLevel, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const type = negotiateJson(req.headers.accept);
  const params = req.params as Record<string, string | undefined>;
  const parsed = parseQuery(req.query);
  const match = { ...parsed.match };
  if (params['study'] !== undefined) match['StudyInstanceUID'] = checkUid(params['study'], 'StudyInstanceUID');
  if (params['series'] !== undefined) match['SeriesInstanceUID'] = checkUid(params['series'], 'SeriesInstanceUID');
  // One row more than asked tells whether there are more results to announce (PS3.18 8.3.4.4.1 Warning).
  const rows = parsed.limit === 0 ? [] : await ctx.archive.query({ level, match, limit: parsed.limit + 1, offset: parsed.offset });
  const more = rows.length > parsed.limit;
  if (more) rows.length = parsed.limit;
  const warnings: string[] = [];
  const root = serviceRoot(ctx, req);
  const host = req.host;
  if (parsed.fuzzy) warnings.push(`299 ${host} "The fuzzymatching parameter is not supported. Only literal matching has been performed."`);
  if (more) warnings.push(`299 ${host} "There are additional results that can be requested."`);
  const first = rows[0];
  if (first) {
    const ignored = Object.keys(parsed.match).filter((k) => !(k in first));
    if (ignored.length > 0) warnings.push(`299 ${host} "The following attributes are not supported for matching and were ignored: ${ignored.join(', ')}"`);
  }
  const out: DicomJson[] = [];
  for (const row of rows) {
    const json = rowToJson(row);
    const st = str(row, 'StudyInstanceUID');
    const se = str(row, 'SeriesInstanceUID');
    const sop = str(row, 'SOPInstanceUID');
    const url = level === 'STUDY' && st ? studyUrl(root, st)
      : level === 'SERIES' && st && se ? seriesUrl(root, st, se)
        : level === 'INSTANCE' && st && se && sop ? instanceUrl(root, st, se, sop) : undefined;
    if (url) setAttribute(json, 'RetrieveURL', url);
    if (parsed.include === 'all' || parsed.include.size > 0) await addFromFile(ctx, level, row, json, parsed.include);
    out.push(sortJson(json));
  }
  if (warnings.length > 0) reply.header('warning', warnings);
  ctx.log.debug('dicomweb qido', { queryLevel: level, match, results: out.length, more });
  await reply.code(200).type(type).send(JSON.stringify(out));
}

export function registerQido(app: FastifyInstance, ctx: DicomWebContext): void {
  const at = (level: QueryLevel) => (req: FastifyRequest, reply: FastifyReply): Promise<void> => search(ctx, level, req, reply);
  app.get('/studies', at('STUDY'));
  app.get('/series', at('SERIES'));
  app.get('/studies/:study/series', at('SERIES'));
  app.get('/instances', at('INSTANCE'));
  app.get('/studies/:study/instances', at('INSTANCE'));
  app.get('/studies/:study/series/:series/instances', at('INSTANCE'));
}
