/**
 * The ingest journal of the embedded (SQLite) archive: one durable write per acknowledged instance (ADR 0007).
 *
 * A store writes one record (the index facts + the Part 10 bytes) to the current segment file and waits for its
 * fdatasync, shared by every write that reached the file meanwhile (group commit across associations). Beside it
 * the blob is moved into place unsynced and the index row is committed unsynced (WAL, synchronous=NORMAL); the
 * instance is acknowledged after the three. After the acknowledgement a background step fdatasyncs the blob; a
 * segment is retired (and the journal folder fsynced) once every record in it has its blob synced, then the blob
 * folders (once each) and the SQLite WAL after their commits. Until then, after a crash or a power loss, start-up
 * replays the segment: a blob missing or not matching the record's SHA-256 is rewritten, a missing or different
 * row is stored again, both the durable way.
 *
 * Prepared segments (as PostgreSQL does with its WAL): an fdatasync after overwriting blocks that are already
 * allocated and written costs about half one after an append (no file size or extent to journal). So records go,
 * by positional writes, into files made ahead of need and off the critical path: spares (`<random>.spare`), at
 * full size, their blocks written (zeros, or a retired segment's records) and synced, with a fresh file header
 * (random generation) synced. A new segment takes a ready spare (rename to `<seq>.log` + folder fsync); when none
 * is ready it is a new file written by appends, as before (a store never waits for a spare to be prepared). A
 * retired segment of full size becomes a spare (renamed, not unlinked) while fewer than `spares` are kept; a new
 * spare is zero-filled only when the journal goes idle with none ready or being prepared (never during ingest).
 *
 * One folder per open archive (`<journalDir>/<host>-<pid>-<random>/`): a process replays only the folders of
 * processes of this host that are gone (and of its own pid that no archive of this process has open: a previous
 * process with the same pid), never the journal of a live one. Replay reads `*.log` files only: a spare never held
 * a record that was acknowledged while it was a spare (records are written only after the rename to `.log` is
 * durable), and a recycled one may still hold its old records whole.
 *
 * Segment file: a 4 KiB file header — 'SRJF' (u32 LE), version 2 (u32 LE), generation (16 random bytes), SHA-256
 * of those 24 bytes — then records from offset 4096. Record: 'SRJ2' (u32 LE), header length (u32 LE), payload
 * length (u32 LE low, u32 LE high), generation (16 bytes), SHA-256 of those 32 bytes + the header (32 bytes),
 * header (JSON of JournalRecord), payload. A record is valid when whole, its generation is the file's, its digest
 * matches and the SHA-256 of its payload is the header's `sha256`; reading stops at the first that is not: the
 * torn tail of a write that never completed (never acknowledged), zeros, or a record left by the file's previous
 * use (another generation). Files of version 1 (records 'SRJ1' from offset 0, no generation; written before
 * prepared segments) are still read.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { hostTag, pidAlive } from '../core/process.ts';
import { SyncCoalescer, fsyncPath } from './fsync.ts';
import type { InstanceOrigin } from './types.ts';

const MAGIC_V1 = 0x314a5253; // "SRJ1" read as u32 LE
const FIXED_BYTES_V1 = 48;
const MAGIC = 0x324a5253; // "SRJ2"
const FILE_MAGIC = 0x464a5253; // "SRJF"
const FILE_VERSION = 2;
const GEN_BYTES = 16;
const FIXED_BYTES = 64;
/** Records start here; the file header has its block to itself. */
const FILE_HEADER_BYTES = 4096;
/** Larger instances take the strict path (the journal keeps the payload in memory while appending). */
export const JOURNAL_MAX_INSTANCE_BYTES = 64 * 1024 * 1024;
/** Size of a prepared segment; a segment is sealed (a new one taken) when the next record would not fit. */
const SEGMENT_BYTES = 32 * 1024 * 1024;
/** Spare segments kept at most (recycled ones; a fresh one, at idle, only while none is ready or being prepared). */
const SPARES = 2;
/** Zero-fill in steps, each fdatasynced: bounds the dirty data an ext4 journal commit of a record sync may wait for. */
const ZERO_STEP = 4 * 1024 * 1024;
/** After this long without appends the current segment is sealed, so the journal is empty at rest. */
const IDLE_SEAL_MS = 500;
/** writev takes at most IOV_MAX (1024 on Linux) buffers. */
const MAX_IOV = 1024;

export interface JournalRecord {
  readonly key: string;
  readonly sopInstanceUid: string;
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly origin: InstanceOrigin;
}

interface Segment {
  readonly path: string;
  readonly fh: FileHandle;
  readonly syncer: SyncCoalescer;
  readonly gen: Buffer;
  /** Prepared size (records overwrite written blocks below it); 0: a new file, written by appends. */
  readonly capacity: number;
  /** Where the next record goes (0: the file header goes first). */
  size: number;
  /** Records appended and not yet materialized (blob synced) or released. */
  pending: number;
  /** Blob keys whose folders are synced once, when the segment retires (not once per instance). */
  readonly keys: string[];
  sealed: boolean;
  failed: boolean;
  /** A write failed: what is on disk is unknown, the file is not recycled. */
  ioError: boolean;
  retiring: boolean;
  readonly done: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
}

/** A prepared segment file: full size, blocks written, a synced file header of a generation never used. */
interface Spare {
  readonly path: string;
  readonly fh: FileHandle;
  readonly gen: Buffer;
  readonly capacity: number;
}

/**
 * One appended record: call exactly one of `materialize` (stored: sync its blob file — through `syncFile`, the
 * writer's open handle, when given — its folder when the segment retires, then the record goes) or `release`.
 */
export interface JournalTicket {
  materialize(key: string, syncFile?: () => Promise<void>): void;
  release(): void;
}

export interface JournalDeps {
  readonly log: Logger;
  /** Makes every index commit so far durable (the SQLite WAL fdatasync); before a segment is deleted. */
  readonly syncIndex: () => Promise<void>;
  /** fdatasyncs a blob file. */
  readonly syncBlob: (key: string) => Promise<void>;
  /** fsyncs the folders of these blobs (once each). */
  readonly syncFolders: (keys: readonly string[]) => Promise<void>;
}

export interface JournalOptions {
  /** Prepared segment size; default 32 MiB. */
  readonly segmentBytes?: number;
  /** Spares kept at most; default 2; 0: no prepared segments (every segment written by appends). */
  readonly spares?: number;
}

export interface JournalStats {
  /** Segments started on a prepared spare / on a new file (appends). */
  readonly prepared: number;
  readonly appended: number;
  /** Spares made by zero-filling / by recycling a retired segment. */
  readonly zeroFilled: number;
  readonly recycled: number;
  /** Spares ready now. */
  readonly ready: number;
}

/** Journal folders open in this process (two archives of one data folder may be open at once, e.g. in tests). */
const liveDirs = new Set<string>();
const FOLDER_RE = /^(.+)-(\d+)-([0-9a-f]{8})$/;

async function writeAll(fh: FileHandle, bufs: readonly Uint8Array[], position: number): Promise<void> {
  let rest = [...bufs];
  let at = position;
  while (rest.length > 0) {
    const batch = rest.slice(0, MAX_IOV);
    const total = batch.reduce((a, b) => a + b.byteLength, 0);
    const { bytesWritten } = await fh.writev(batch, at);
    at += bytesWritten;
    if (bytesWritten === total) {
      rest = rest.slice(batch.length);
      continue;
    }
    let skip = bytesWritten;
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (skip >= b.byteLength) skip -= b.byteLength;
      else {
        next.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
    }
    rest = next;
  }
}

/** The file header block of a segment of generation `gen`. */
function fileHeader(gen: Buffer): Buffer {
  const b = Buffer.alloc(FILE_HEADER_BYTES);
  b.writeUInt32LE(FILE_MAGIC, 0);
  b.writeUInt32LE(FILE_VERSION, 4);
  gen.copy(b, 8);
  createHash('sha256').update(b.subarray(0, 8 + GEN_BYTES)).digest().copy(b, 8 + GEN_BYTES);
  return b;
}

/** The generation of a valid file header, else undefined. */
function fileGeneration(b: Buffer): Buffer | undefined {
  if (b.length < 8 + GEN_BYTES + 32 || b.readUInt32LE(0) !== FILE_MAGIC || b.readUInt32LE(4) !== FILE_VERSION) return undefined;
  const digest = createHash('sha256').update(b.subarray(0, 8 + GEN_BYTES)).digest();
  return digest.equals(b.subarray(8 + GEN_BYTES, 8 + GEN_BYTES + 32)) ? Buffer.from(b.subarray(8, 8 + GEN_BYTES)) : undefined;
}

export class IngestJournal {
  readonly dir: string;
  private readonly deps: JournalDeps;
  private readonly segmentBytes: number;
  private readonly spareMax: number;
  private chain: Promise<unknown> = Promise.resolve();
  private current: Segment | undefined;
  private readonly segments = new Set<Segment>();
  private seq = 0;
  private idle: NodeJS.Timeout | undefined;
  private folder: Promise<void> | undefined;
  /** Ready spares; the last is taken first. */
  private readonly spares: Spare[] = [];
  /** Spares being prepared (or a retired segment on its way to become one). */
  private preparing = 0;
  private prepChain: Promise<void> = Promise.resolve();
  private closed = false;
  private counts = { prepared: 0, appended: 0, zeroFilled: 0, recycled: 0 };

  /** `base`: the journal folder of the data folder; this process writes `<base>/<host>-<pid>-<random>/`. */
  constructor(base: string, deps: JournalDeps, options: JournalOptions = {}) {
    this.dir = join(base, `${hostTag()}-${process.pid}-${randomUUID().slice(0, 8)}`);
    this.deps = deps;
    this.segmentBytes = Math.max(FILE_HEADER_BYTES * 2, options.segmentBytes ?? SEGMENT_BYTES);
    this.spareMax = Math.max(0, options.spares ?? SPARES);
    liveDirs.add(this.dir);
  }

  stats(): JournalStats {
    return { ...this.counts, ready: this.spares.length };
  }

  /** Resolves once no spare is being prepared (tests). */
  async settled(): Promise<void> {
    for (let p = this.prepChain; ; p = this.prepChain) {
      await p;
      if (p === this.prepChain && this.preparing === 0) return;
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch((e: unknown) => e);
    return p;
  }

  /** Appends one record; resolves once it is durable. */
  async append(record: JournalRecord, payload: readonly Uint8Array[]): Promise<JournalTicket> {
    const header = Buffer.from(JSON.stringify(record), 'utf8');
    const length = payload.reduce((a, b) => a + b.byteLength, 0);
    const bytes = FIXED_BYTES + header.length + length;
    const seg = await this.enqueue(async () => {
      const s = await this.segment(bytes);
      const fixed = Buffer.alloc(FIXED_BYTES);
      fixed.writeUInt32LE(MAGIC, 0);
      fixed.writeUInt32LE(header.length, 4);
      fixed.writeUInt32LE(length % 0x1_0000_0000, 8);
      fixed.writeUInt32LE(Math.floor(length / 0x1_0000_0000), 12);
      s.gen.copy(fixed, 16);
      createHash('sha256').update(fixed.subarray(0, 32)).update(header).digest().copy(fixed, 32);
      const first = s.size === 0 ? [fileHeader(s.gen)] : [];
      try {
        await writeAll(s.fh, [...first, fixed, header, ...payload], s.size);
      } catch (e) {
        s.ioError = true;
        this.seal(s); // a torn record ends what replay reads of it: later appends go to a new segment
        throw e;
      }
      s.size += (first.length > 0 ? FILE_HEADER_BYTES : 0) + bytes;
      s.pending++;
      return s;
    });
    this.touch();
    let settled = false;
    const ticket: JournalTicket = {
      materialize: (key, syncFile) => {
        if (settled) return;
        settled = true;
        seg.keys.push(key);
        void (syncFile ?? (() => this.deps.syncBlob(key)))().catch((e: unknown) => {
          seg.failed = true; // kept: replayed at the next start
          this.deps.log.error('ingest journal: blob sync failed after the acknowledgement; its record is kept', { key, error: e instanceof Error ? e.message : String(e) });
        }).finally(() => this.settle(seg));
      },
      release: () => {
        if (settled) return;
        settled = true;
        this.settle(seg);
      },
    };
    try {
      await seg.syncer.sync(seg.path);
    } catch (e) {
      // After a failed fdatasync what reached the disk is unknown: nothing more goes into this segment.
      seg.failed = true;
      seg.ioError = true;
      void this.enqueue(async () => this.seal(seg));
      ticket.release();
      throw e;
    }
    return ticket;
  }

  private ensureFolder(): Promise<void> {
    this.folder ??= (async () => {
      const first = await mkdir(this.dir, { recursive: true });
      if (first !== undefined) {
        for (let d = this.dir; d.length >= first.length && d !== dirname(d); d = dirname(d)) await fsyncPath(dirname(d));
      }
    })();
    const f = this.folder;
    f.catch(() => {
      if (this.folder === f) this.folder = undefined; // tried again by the next segment
    });
    return f;
  }

  /** The segment the next record (`bytes` long) goes to; inside the append chain. */
  private async segment(bytes: number): Promise<Segment> {
    const cur = this.current;
    if (cur) {
      const fits = cur.capacity > 0
        ? cur.size + bytes <= cur.capacity || cur.size === FILE_HEADER_BYTES
        : cur.size < this.segmentBytes && this.spares.length === 0; // switch to a spare as soon as one is ready
      if (fits) return cur;
      this.seal(cur);
    }
    await this.ensureFolder();
    const path = join(this.dir, `${String(this.seq++).padStart(8, '0')}.log`);
    let s: Segment | undefined;
    const spare = this.spares.pop();
    if (spare) {
      try {
        await rename(spare.path, path);
        s = this.newSegment(path, spare.fh, spare.gen, spare.capacity, FILE_HEADER_BYTES);
        this.counts.prepared++;
      } catch (e) {
        await spare.fh.close().catch((err: unknown) => err);
        await unlink(spare.path).catch((err: unknown) => err);
        this.deps.log.warn('ingest journal: a spare segment could not be taken', { path: spare.path, error: e instanceof Error ? e.message : String(e) });
      }
    }
    if (!s) {
      const fh = await open(path, 'wx');
      s = this.newSegment(path, fh, randomBytes(GEN_BYTES), 0, 0);
      this.counts.appended++;
    }
    this.segments.add(s);
    this.current = s;
    try {
      await fsyncPath(this.dir); // the file's name, before any record in it is acknowledged
    } catch (e) {
      s.ioError = true;
      this.seal(s); // empty: retired (removed) at once
      throw e;
    }
    return s;
  }

  private newSegment(path: string, fh: FileHandle, gen: Buffer, capacity: number, size: number): Segment {
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch((e: unknown) => e); // observed by flush()
    return { path, fh, syncer: new SyncCoalescer(() => fh.datasync()), gen, capacity, size, pending: 0, keys: [], sealed: false, failed: false, ioError: false, retiring: false, done, resolve, reject };
  }

  /**
   * Starts zero-filling a new spare when none is ready or being prepared: only when the journal goes idle, so the
   * zero-fill never competes with stores for the disk (during ingest, retired segments are recycled instead).
   */
  private refill(): void {
    if (this.closed || this.spareMax === 0 || this.spares.length + this.preparing > 0) return;
    this.preparing++;
    const path = join(this.dir, `${randomUUID().slice(0, 8)}.spare`);
    this.prepare(path, true);
  }

  /** Prepares `path` (a new file, or a retired segment already renamed there) into a spare. */
  private prepare(path: string, fresh: boolean): void {
    const run = async (): Promise<void> => {
      let fh: FileHandle | undefined;
      try {
        if (this.closed) throw new Error('journal closed');
        await this.ensureFolder();
        fh = await open(path, fresh ? 'wx' : 'r+');
        let size = fresh ? 0 : (await fh.stat()).size;
        if (size < this.segmentBytes) {
          const zeros = Buffer.alloc(Math.min(ZERO_STEP, this.segmentBytes));
          while (size < this.segmentBytes) {
            if (this.closed) throw new Error('journal closed');
            const n = Math.min(zeros.length, this.segmentBytes - size);
            await writeAll(fh, [zeros.subarray(0, n)], size);
            size += n;
            await fh.datasync();
          }
        }
        const gen = randomBytes(GEN_BYTES);
        await writeAll(fh, [fileHeader(gen)], 0);
        await fh.sync(); // file size and blocks included (fresh), and the new generation
        if (this.closed) throw new Error('journal closed');
        this.spares.push({ path, fh, gen, capacity: size });
        this.counts[fresh ? 'zeroFilled' : 'recycled']++;
      } catch (e) {
        await fh?.close().catch((err: unknown) => err);
        await unlink(path).catch((err: unknown) => err);
        if (!this.closed) this.deps.log.warn('ingest journal: could not prepare a spare segment (appends are used)', { path, error: e instanceof Error ? e.message : String(e) });
      } finally {
        this.preparing--;
      }
    };
    this.prepChain = this.prepChain.then(run);
  }

  private touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.idle = undefined;
      void this.enqueue(async () => {
        if (this.current) this.seal(this.current);
        this.refill();
      });
    }, IDLE_SEAL_MS);
    this.idle.unref();
  }

  private seal(s: Segment): void {
    if (this.current === s) this.current = undefined;
    s.sealed = true;
    this.maybeRetire(s);
  }

  private settle(s: Segment): void {
    s.pending--;
    this.maybeRetire(s);
  }

  private maybeRetire(s: Segment): void {
    if (!s.sealed || s.pending > 0 || s.retiring) return;
    s.retiring = true;
    void (async () => {
      let recycling = false;
      try {
        await s.fh.close();
        if (s.failed) throw new Error('a blob of this segment could not be synced');
        await this.deps.syncFolders(s.keys);
        await this.deps.syncIndex();
        // Full-size files become spares (renamed: their next records overwrite written blocks); others go.
        recycling = !this.closed && !s.ioError && this.spares.length + this.preparing < this.spareMax && Math.max(s.capacity, s.size) >= this.segmentBytes;
        const spare = join(this.dir, `${randomUUID().slice(0, 8)}.spare`);
        if (recycling) {
          this.preparing++;
          await rename(s.path, spare);
        } else await unlink(s.path);
        await fsyncPath(this.dir);
        this.segments.delete(s);
        s.resolve();
        if (recycling) this.prepare(spare, false);
      } catch (e) {
        if (recycling) this.preparing--;
        this.deps.log.error('ingest journal: segment kept for replay at the next start', { path: s.path, error: e instanceof Error ? e.message : String(e) });
        s.reject(e);
      }
    })();
  }

  /**
   * Waits until every record appended so far is materialized and its segment retired: after it, nothing in the
   * journal can be replayed over a later change (deletes and replacements call it first). Rejects if a segment
   * could not be retired (it is then kept for the next start).
   */
  async flush(): Promise<void> {
    await this.enqueue(async () => {
      if (this.current) this.seal(this.current);
    });
    for (const s of [...this.segments]) await s.done;
  }

  /** Flushes, then removes this process's folder (spares included). */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    this.closed = true;
    await this.flush();
    await this.prepChain;
    for (const sp of this.spares.splice(0)) await sp.fh.close().catch((e: unknown) => e);
    if (this.folder) {
      await rm(this.dir, { recursive: true, force: true });
      await fsyncPath(dirname(this.dir));
    }
    liveDirs.delete(this.dir);
  }
}

/** The valid records of one segment, in order; stops at the first torn, corrupt, zero or stale one. */
export async function* readSegment(path: string): AsyncGenerator<{ record: JournalRecord; bytes: Buffer }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(size, FILE_HEADER_BYTES));
    await fh.read(head, 0, head.length, 0);
    let at: number;
    let fixedBytes: number;
    let gen: Buffer | undefined;
    if (head.length >= 4 && head.readUInt32LE(0) === MAGIC_V1) {
      at = 0;
      fixedBytes = FIXED_BYTES_V1;
    } else {
      gen = fileGeneration(head);
      if (!gen) return;
      at = FILE_HEADER_BYTES;
      fixedBytes = FIXED_BYTES;
    }
    while (at + fixedBytes <= size) {
      const fixed = Buffer.alloc(fixedBytes);
      await fh.read(fixed, 0, fixedBytes, at);
      if (fixed.readUInt32LE(0) !== (gen ? MAGIC : MAGIC_V1)) return;
      if (gen && !gen.equals(fixed.subarray(16, 16 + GEN_BYTES))) return; // the file's previous use
      const headerLength = fixed.readUInt32LE(4);
      const length = fixed.readUInt32LE(8) + fixed.readUInt32LE(12) * 0x1_0000_0000;
      if (headerLength > 1 << 20 || length > JOURNAL_MAX_INSTANCE_BYTES || at + fixedBytes + headerLength + length > size) return;
      const header = Buffer.alloc(headerLength);
      await fh.read(header, 0, headerLength, at + fixedBytes);
      const digest = gen
        ? createHash('sha256').update(fixed.subarray(0, 32)).update(header).digest()
        : createHash('sha256').update(header).digest();
      if (!digest.equals(fixed.subarray(fixedBytes - 32, fixedBytes))) return;
      let record: JournalRecord;
      try {
        record = JSON.parse(header.toString('utf8')) as JournalRecord;
      } catch (e) {
        void e; // a header that matches its digest but is not JSON: not ours, stop
        return;
      }
      const bytes = Buffer.alloc(length);
      if (length > 0) await fh.read(bytes, 0, length, at + fixedBytes + headerLength);
      if (createHash('sha256').update(bytes).digest('hex') !== record.sha256) return;
      yield { record, bytes };
      at += fixedBytes + headerLength + length;
    }
  } finally {
    await fh.close();
  }
}

export interface ReplayReport {
  readonly folders: number;
  readonly records: number;
}

/**
 * Replays the journals of processes of this host that are gone (and a folder carrying our own pid: its writer
 * is gone since we hold the pid), in segment order, through `apply`; then `syncIndex`, then deletes them.
 * Folders of other hosts and of live processes are left alone.
 */
export async function replayJournals(
  base: string,
  log: Logger,
  apply: (record: JournalRecord, bytes: Buffer) => Promise<void>,
  syncIndex: () => Promise<void>,
): Promise<ReplayReport> {
  let entries;
  try {
    entries = await readdir(base, { withFileTypes: true });
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return { folders: 0, records: 0 };
    throw e;
  }
  const host = hostTag();
  let folders = 0;
  let records = 0;
  for (const ent of entries) {
    if (!ent.isDirectory()) continue;
    const m = FOLDER_RE.exec(ent.name);
    const pid = Number(m?.[2]);
    if (!m || m[1] !== host || !Number.isInteger(pid) || pid <= 0) continue;
    const dir = join(base, ent.name);
    if (liveDirs.has(dir) || (pid !== process.pid && pidAlive(pid))) continue;
    const segs = (await readdir(dir)).filter((n) => n.endsWith('.log')).sort();
    for (const name of segs) {
      for await (const { record, bytes } of readSegment(join(dir, name))) {
        await apply(record, bytes);
        records++;
      }
    }
    await syncIndex();
    await rm(dir, { recursive: true, force: true });
    await fsyncPath(base);
    folders++;
  }
  if (records > 0) log.warn('ingest journal replayed after an unclean stop', { folders, records });
  return { folders, records };
}
