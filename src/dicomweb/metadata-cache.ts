/**
 * WADO-RS metadata cache (issues #5, #7): the DICOM JSON of each instance, kept in memory after its header was
 * read once, so a viewer's series metadata request does not re-read and re-parse one file header per instance.
 *
 * - Bounded: least recently used entries go first when the estimated size passes `maxBytes` (default 64 MiB,
 *   `SR_WADO_METADATA_CACHE_MB`; 0 turns the cache off).
 * - Never stale: an entry is stored under its SOP Instance UID with the version it was read from (the index row's
 *   SHA-256 of the stored bytes, their size, blob key and transfer syntax). The archive keeps the blob key of a
 *   re-sent instance (it derives it from the UIDs) but records the new SHA-256, so a re-stored instance with other
 *   bytes misses and is read again; the old entry is dropped on that lookup.
 * - Independent of the URL the client used: the JSON text is kept split where the service root goes (BulkDataURI)
 *   and joined with the request's root when served, so responses are byte-identical to building them anew.
 * - Misses read headers only (parsing stops at Pixel Data), a bounded number at a time; concurrent requests for
 *   the same instance version share one read.
 */
import { randomUUID } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Archive, InstanceRecord } from '../archive/types.ts';
import { codecFor, parseDicom } from '../dicom/index.ts';
import type { DicomHeader } from '../dicom/index.ts';
import { type DicomWebContext, instanceUrl, readHeader } from './context.ts';
import { datasetToJson, setAttribute, sortJson } from './dicom-json.ts';

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
/** Header reads at once: libuv's default thread pool is 4; more measured slower on 2 cores (bench/wado-metadata.ts). */
export const DEFAULT_CONCURRENCY = 4;
/** First read of a local blob: a CT/MR header is a few KiB; longer headers fall back to the chunked reader. */
const FIRST_READ = 16 * 1024;

/** One instance's DICOM JSON text, split at each place the service root goes. */
export interface CachedMetadata {
  readonly pieces: readonly string[];
}

export interface MetadataCacheOptions {
  /** Upper bound on the estimated memory held (UTF-16 text plus a fixed overhead per entry); 0 = no caching. */
  readonly maxBytes?: number;
  /** Header reads at once for the misses of one request. */
  readonly concurrency?: number;
}

export interface MetadataCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly maxBytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

interface Entry {
  readonly version: string;
  readonly value: CachedMetadata;
  readonly bytes: number;
}

/** Map bookkeeping, key and version strings: a rough per-entry cost beside the text itself. */
const ENTRY_OVERHEAD = 256;

/** What identifies the stored bytes an index row points at (see the module comment). */
export function versionOf(rec: InstanceRecord): string {
  return `${rec.sha256}|${rec.sizeBytes}|${rec.blobKey}|${rec.transferSyntaxUid}`;
}

function sizeOf(sop: string, version: string, value: CachedMetadata): number {
  let n = ENTRY_OVERHEAD + 2 * (sop.length + version.length);
  for (const p of value.pieces) n += 2 * p.length + 16;
  return n;
}

export class MetadataCache {
  readonly maxBytes: number;
  readonly concurrency: number;
  private readonly map = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<CachedMetadata>>();
  private size = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  /** Series warmed recently (→ when), so a client reading instance metadata one by one starts one warm-up. */
  private readonly warmed = new Map<string, number>();

  constructor(options: MetadataCacheOptions = {}) {
    const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.maxBytes = Number.isFinite(max) && max > 0 ? Math.floor(max) : 0;
    const c = options.concurrency ?? DEFAULT_CONCURRENCY;
    this.concurrency = Number.isInteger(c) && c >= 1 ? c : DEFAULT_CONCURRENCY;
  }

  /** The entry for this SOP Instance UID if it was read from this version; a different version is dropped. */
  get(sop: string, version: string): CachedMetadata | undefined {
    const e = this.map.get(sop);
    if (!e) return undefined;
    this.map.delete(sop);
    if (e.version !== version) {
      this.size -= e.bytes;
      return undefined;
    }
    this.map.set(sop, e); // most recently used last
    return e.value;
  }

  set(sop: string, version: string, value: CachedMetadata): void {
    const old = this.map.get(sop);
    if (old) {
      this.map.delete(sop);
      this.size -= old.bytes;
    }
    const bytes = sizeOf(sop, version, value);
    if (bytes > this.maxBytes) return;
    this.map.set(sop, { version, value, bytes });
    this.size += bytes;
    while (this.size > this.maxBytes) {
      const first = this.map.entries().next();
      if (first.done) break;
      this.map.delete(first.value[0]);
      this.size -= first.value[1].bytes;
      this.evictions++;
    }
  }

  /** True (and remembered) when `series` was not warmed in the last `windowMs`. */
  claimWarm(series: string, now = Date.now(), windowMs = 60_000): boolean {
    const at = this.warmed.get(series);
    if (at !== undefined && now - at < windowMs) return false;
    if (this.warmed.size >= 1000) this.warmed.clear();
    this.warmed.set(series, now);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.size = 0;
  }

  stats(): MetadataCacheStats {
    return { entries: this.map.size, bytes: this.size, maxBytes: this.maxBytes, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }

  /** The cached entry, or `load()` run once per (instance, version) however many requests ask at the same time. */
  async fetch(rec: InstanceRecord, load: () => Promise<CachedMetadata>): Promise<CachedMetadata> {
    const version = versionOf(rec);
    const hit = this.get(rec.sopInstanceUid, version);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const key = `${rec.sopInstanceUid}\u0000${version}`;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const p = load().then(
      (value) => {
        this.inflight.delete(key);
        this.set(rec.sopInstanceUid, version, value);
        return value;
      },
      (e: unknown) => {
        this.inflight.delete(key);
        throw e;
      },
    );
    this.inflight.set(key, p);
    return p;
  }
}

function envMaxBytes(): number {
  const v = process.env['SR_WADO_METADATA_CACHE_MB'];
  if (v === undefined || v.trim() === '') return DEFAULT_MAX_BYTES;
  const mb = Number(v);
  return Number.isFinite(mb) && mb >= 0 ? mb * 1024 * 1024 : DEFAULT_MAX_BYTES;
}

const caches = new WeakMap<Archive, MetadataCache>();

/** The cache of one archive (made on first use, sized from SR_WADO_METADATA_CACHE_MB unless configured). */
export function metadataCacheFor(archive: Archive): MetadataCache {
  let c = caches.get(archive);
  if (!c) {
    c = new MetadataCache({ maxBytes: envMaxBytes() });
    caches.set(archive, c);
  }
  return c;
}

/** Replaces an archive's cache (empty) with one of these options; returns it. */
export function configureMetadataCache(archive: Archive, options: MetadataCacheOptions): MetadataCache {
  const c = new MetadataCache(options);
  caches.set(archive, c);
  return c;
}

/** Stands for the service root while the JSON is built; unique per process, so no DICOM value can hold it. */
const ROOT_MARKER = `sr-service-root-${randomUUID()}`;

/**
 * The header of a stored instance: one read of its first FIRST_READ bytes when that holds the whole header
 * (parsing reached Pixel Data), else (long header, no pixel data, remote store, any error) context.ts readHeader,
 * which reads in growing chunks and reports errors as usual. The file size comes from the index row.
 */
async function readHeaderQuick(ctx: DicomWebContext, rec: InstanceRecord): Promise<DicomHeader> {
  const local = ctx.archive.blobs.localPath(rec.blobKey);
  if (local && rec.sizeBytes > FIRST_READ) {
    try {
      const fh = await open(local, 'r');
      try {
        const buf = Buffer.allocUnsafe(FIRST_READ);
        const { bytesRead } = await fh.read(buf, 0, FIRST_READ, 0);
        if (bytesRead === FIRST_READ) {
          const f = parseDicom(buf, local, { headerOnly: true, fileSize: rec.sizeBytes });
          if (f.pixel !== undefined) return { source: f.source, transferSyntaxUID: f.transferSyntaxUID, dataset: f.dataset, pixel: f.pixel, frameCount: f.frameCount };
        }
      } finally {
        await fh.close();
      }
    } catch {
      // Cut header, size changed under us, I/O error: the general reader below decides (and reports it).
    }
  }
  return readHeader(ctx, rec);
}

/** Reads one instance's header (not its pixel data) and builds its DICOM JSON text with the root left open. */
export async function loadInstanceMetadata(ctx: DicomWebContext, rec: InstanceRecord): Promise<CachedMetadata> {
  const head = await readHeaderQuick(ctx, rec);
  const url = instanceUrl(ROOT_MARKER, rec.studyInstanceUid, rec.seriesInstanceUid, rec.sopInstanceUid);
  const json = datasetToJson(head.dataset, { signed: head.pixel?.PixelRepresentation === 1 });
  if (head.pixel) {
    const frames = Array.from({ length: head.frameCount }, (_, i) => i + 1).join(',');
    // Pixel data is bulk data: its URI is the frames resource, which returns every frame decoded.
    json['7FE00010'] = { vr: codecFor(head.transferSyntaxUID) === 'native' && head.pixel.BitsAllocated > 8 ? 'OW' : 'OB', BulkDataURI: `${url}/frames/${frames}` };
  }
  if (json['00080005']) setAttribute(json, 'SpecificCharacterSet', 'ISO_IR 192'); // JSON is UTF-8 (PS3.18 F.2)
  setAttribute(json, 'AvailableTransferSyntaxUID', rec.transferSyntaxUid);
  return { pieces: JSON.stringify(sortJson(json)).split(ROOT_MARKER) };
}

/** The JSON text of a cached entry for a request whose service root is `root`. */
export function renderMetadata(m: CachedMetadata, root: string): string {
  return m.pieces.length === 1 ? (m.pieces[0] as string) : m.pieces.join(JSON.stringify(root).slice(1, -1));
}

/** `fn` over `items`, at most `limit` running at once; results in item order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return out;
}

/**
 * The DICOM JSON array text (PS3.18 F.2) of these instances for a request at `root`: cached entries as they are,
 * the others read (headers only, `concurrency` at a time) and cached. With `maxBytes` 0 nothing is kept.
 */
export async function metadataText(ctx: DicomWebContext, list: readonly InstanceRecord[], root: string): Promise<string> {
  const cache = metadataCacheFor(ctx.archive);
  const items = await mapBounded(list, cache.concurrency, (rec) => cache.fetch(rec, () => loadInstanceMetadata(ctx, rec)));
  return `[${items.map((m) => renderMetadata(m, root)).join(',')}]`;
}

/**
 * Fills the cache for every instance of a series in the background (errors are logged, never thrown): for
 * callers that know a viewer will ask for the series metadata next. At most once a minute per series; uses half
 * the read concurrency.
 */
export function warmSeries(ctx: DicomWebContext, study: string, series: string): void {
  const cache = metadataCacheFor(ctx.archive);
  if (cache.maxBytes === 0 || !cache.claimWarm(series)) return;
  void (async () => {
    const list = (await ctx.archive.listInstances({ seriesInstanceUid: series })).filter((r) => r.studyInstanceUid === study);
    await mapBounded(list, Math.max(1, cache.concurrency >> 1), (rec) => cache.fetch(rec, () => loadInstanceMetadata(ctx, rec)));
  })().catch((e: unknown) => {
    ctx.log.warn('WADO-RS metadata warm-up failed', { study, series, error: e instanceof Error ? e.message : String(e) });
  });
}
