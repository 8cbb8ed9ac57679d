/**
 * The ingest journal of the embedded (SQLite) archive: one durable write per acknowledged instance (ADR 0007).
 *
 * A store appends one record (the index facts + the Part 10 bytes) to an append-only segment file and waits for
 * its fdatasync, shared by every append that reached the file meanwhile (group commit across associations).
 * Beside it the blob is moved into place unsynced and the index row is committed unsynced (WAL, synchronous=
 * NORMAL); the instance is acknowledged after the three. After the acknowledgement a background step fdatasyncs
 * the blob; a segment is deleted (and the journal folder fsynced) once every record in it has its blob synced,
 * then the blob folders (once each) and the SQLite WAL after their commits. Until then, after a crash or a power loss,
 * start-up replays the segment: a blob missing or not matching the record's SHA-256 is rewritten, a missing or
 * different row is stored again, both the durable way.
 *
 * One folder per open archive (`<journalDir>/<host>-<pid>-<random>/`): a process replays only the folders of
 * processes of this host that are gone (and of its own pid that no archive of this process has open: a previous
 * process with the same pid), never the journal of a live one.
 *
 * Record: 'SRJ1' (u32 LE), header length (u32 LE), payload length (u32 LE low, u32 LE high), SHA-256 of the
 * header (32 bytes), header (JSON of JournalRecord), payload. A record is valid when whole, its header digest
 * matches and the SHA-256 of its payload is the header's `sha256`; reading a segment stops at the first that is
 * not (the torn tail of an append that never completed, hence was never acknowledged).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, open, readdir, rm, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../core/log.ts';
import { hostTag, pidAlive } from '../core/process.ts';
import { SyncCoalescer, fsyncPath } from './fsync.ts';
import type { InstanceOrigin } from './types.ts';

const MAGIC = 0x314a5253; // "SRJ1" read as u32 LE
const FIXED_BYTES = 48;
/** Larger instances take the strict path (the journal keeps the payload in memory while appending). */
export const JOURNAL_MAX_INSTANCE_BYTES = 64 * 1024 * 1024;
/** A segment is sealed beyond this size (a new one started); sealed segments are deleted once materialized. */
const SEGMENT_BYTES = 128 * 1024 * 1024;
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
  size: number;
  /** Records appended and not yet materialized (blob synced) or released. */
  pending: number;
  /** Blob keys whose folders are synced once, when the segment retires (not once per instance). */
  readonly keys: string[];
  sealed: boolean;
  failed: boolean;
  retiring: boolean;
  readonly done: Promise<void>;
  resolve(): void;
  reject(e: unknown): void;
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

/** Journal folders open in this process (two archives of one data folder may be open at once, e.g. in tests). */
const liveDirs = new Set<string>();
const FOLDER_RE = /^(.+)-(\d+)-([0-9a-f]{8})$/;

async function writeAll(fh: FileHandle, bufs: readonly Uint8Array[]): Promise<void> {
  let rest = [...bufs];
  while (rest.length > 0) {
    const batch = rest.slice(0, MAX_IOV);
    const total = batch.reduce((a, b) => a + b.byteLength, 0);
    const { bytesWritten } = await fh.writev(batch);
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

export class IngestJournal {
  readonly dir: string;
  private readonly deps: JournalDeps;
  private chain: Promise<unknown> = Promise.resolve();
  private current: Segment | undefined;
  private readonly segments = new Set<Segment>();
  private seq = 0;
  private idle: NodeJS.Timeout | undefined;
  private folderReady = false;

  /** `base`: the journal folder of the data folder; this process writes `<base>/<host>-<pid>/`. */
  constructor(base: string, deps: JournalDeps) {
    this.dir = join(base, `${hostTag()}-${process.pid}-${randomUUID().slice(0, 8)}`);
    this.deps = deps;
    liveDirs.add(this.dir);
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
    const fixed = Buffer.alloc(FIXED_BYTES);
    fixed.writeUInt32LE(MAGIC, 0);
    fixed.writeUInt32LE(header.length, 4);
    fixed.writeUInt32LE(length % 0x1_0000_0000, 8);
    fixed.writeUInt32LE(Math.floor(length / 0x1_0000_0000), 12);
    createHash('sha256').update(header).digest().copy(fixed, 16);
    const seg = await this.enqueue(async () => {
      const s = await this.segment();
      try {
        await writeAll(s.fh, [fixed, header, ...payload]);
      } catch (e) {
        this.seal(s); // a torn record ends what replay reads of it: later appends go to a new segment
        throw e;
      }
      s.size += FIXED_BYTES + header.length + length;
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
      void this.enqueue(async () => this.seal(seg));
      ticket.release();
      throw e;
    }
    return ticket;
  }

  private async segment(): Promise<Segment> {
    const cur = this.current;
    if (cur && cur.size < SEGMENT_BYTES) return cur;
    if (cur) this.seal(cur);
    if (!this.folderReady) {
      const first = await mkdir(this.dir, { recursive: true });
      if (first !== undefined) {
        for (let d = this.dir; d.length >= first.length && d !== dirname(d); d = dirname(d)) await fsyncPath(dirname(d));
      }
      this.folderReady = true;
    }
    const path = join(this.dir, `${String(this.seq++).padStart(8, '0')}.log`);
    const fh = await open(path, 'wx');
    await fsyncPath(this.dir); // the new file's entry, before any record in it is acknowledged
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch((e: unknown) => e); // observed by flush()
    const s: Segment = { path, fh, syncer: new SyncCoalescer(() => fh.datasync()), size: 0, pending: 0, keys: [], sealed: false, failed: false, retiring: false, done, resolve, reject };
    this.segments.add(s);
    this.current = s;
    return s;
  }

  private touch(): void {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      this.idle = undefined;
      void this.enqueue(async () => {
        if (this.current) this.seal(this.current);
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
      try {
        await s.fh.close();
        if (s.failed) throw new Error('a blob of this segment could not be synced');
        await this.deps.syncFolders(s.keys);
        await this.deps.syncIndex();
        await unlink(s.path);
        await fsyncPath(this.dir);
        this.segments.delete(s);
        s.resolve();
      } catch (e) {
        this.deps.log.error('ingest journal: segment kept for replay at the next start', { path: s.path, error: e instanceof Error ? e.message : String(e) });
        s.reject(e);
      }
    })();
  }

  /**
   * Waits until every record appended so far is materialized and its segment deleted: after it, nothing in the
   * journal can be replayed over a later change (deletes and replacements call it first). Rejects if a segment
   * could not be retired (it is then kept for the next start).
   */
  async flush(): Promise<void> {
    await this.enqueue(async () => {
      if (this.current) this.seal(this.current);
    });
    for (const s of [...this.segments]) await s.done;
  }

  /** Flushes, then removes this process's (empty) folder. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    await this.flush();
    if (this.folderReady) {
      await rm(this.dir, { recursive: true, force: true });
      await fsyncPath(dirname(this.dir));
    }
    liveDirs.delete(this.dir);
  }
}

/** The valid records of one segment, in order; stops at the first torn or corrupt one. */
export async function* readSegment(path: string): AsyncGenerator<{ record: JournalRecord; bytes: Buffer }> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    let at = 0;
    while (at + FIXED_BYTES <= size) {
      const fixed = Buffer.alloc(FIXED_BYTES);
      await fh.read(fixed, 0, FIXED_BYTES, at);
      if (fixed.readUInt32LE(0) !== MAGIC) return;
      const headerLength = fixed.readUInt32LE(4);
      const length = fixed.readUInt32LE(8) + fixed.readUInt32LE(12) * 0x1_0000_0000;
      if (headerLength > 1 << 20 || length > JOURNAL_MAX_INSTANCE_BYTES || at + FIXED_BYTES + headerLength + length > size) return;
      const header = Buffer.alloc(headerLength);
      await fh.read(header, 0, headerLength, at + FIXED_BYTES);
      if (!createHash('sha256').update(header).digest().equals(fixed.subarray(16, 48))) return;
      let record: JournalRecord;
      try {
        record = JSON.parse(header.toString('utf8')) as JournalRecord;
      } catch (e) {
        void e; // a header that matches its digest but is not JSON: not ours, stop
        return;
      }
      const bytes = Buffer.alloc(length);
      if (length > 0) await fh.read(bytes, 0, length, at + FIXED_BYTES + headerLength);
      if (createHash('sha256').update(bytes).digest('hex') !== record.sha256) return;
      yield { record, bytes };
      at += FIXED_BYTES + headerLength + length;
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
