/**
 * The C-STORE hot path below dcmjs-dimse: P-DATA-TF split into PDVs without copying (PS3.8 9.3.5, E.2), the
 * DIMSE command group read directly (PS3.7 9.3.1.1, implicit VR little endian), and the data set streamed to its
 * temp file as it arrives. dcmjs-dimse copies every PDV, parses each command through dcmjs and formats a log line
 * per message (≈ 10 % of ingest CPU in GC alone); scp.ts routes C-STOREs here and every other message to it.
 */
import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { TempFileDigest } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';

export interface Pdv {
  readonly contextId: number;
  readonly command: boolean;
  readonly last: boolean;
  /** A view into the PDU (no copy). */
  readonly value: Buffer;
}

/** The PDVs of one whole P-DATA-TF PDU (6-byte header included); throws on a PDV that overruns the PDU. */
export function splitPdvs(pdu: Buffer): Pdv[] {
  const out: Pdv[] = [];
  let at = 6;
  while (at < pdu.length) {
    if (at + 6 > pdu.length) throw new SrError('DIMSE_PROTOCOL_ERROR', 'P-DATA-TF: truncated PDV header');
    const len = pdu.readUInt32BE(at);
    if (len < 2 || at + 4 + len > pdu.length) throw new SrError('DIMSE_PROTOCOL_ERROR', `P-DATA-TF: PDV length ${len} overruns the PDU`);
    const mch = pdu.readUInt8(at + 5);
    out.push({ contextId: pdu.readUInt8(at + 4), command: (mch & 1) === 1, last: (mch & 2) === 2, value: pdu.subarray(at + 6, at + 4 + len) });
    at += 4 + len;
  }
  return out;
}

/** One P-DATA-TF PDU carrying one PDV (what the library gets for messages it handles). */
export function pdvPdu(p: Pdv): Buffer {
  const b = Buffer.allocUnsafe(12 + p.value.length);
  b.writeUInt8(0x04, 0);
  b.writeUInt8(0, 1);
  b.writeUInt32BE(6 + p.value.length, 2);
  b.writeUInt32BE(2 + p.value.length, 6);
  b.writeUInt8(p.contextId, 10);
  b.writeUInt8((p.command ? 1 : 0) | (p.last ? 2 : 0), 11);
  p.value.copy(b, 12);
  return b;
}

export interface CommandInfo {
  readonly commandField: number;
  readonly messageId: number;
  readonly hasDataset: boolean;
  readonly affectedSopClassUid: string;
  readonly affectedSopInstanceUid: string;
}

export const C_STORE_RQ = 0x0001;
/** CommandDataSetType meaning "no data set" (PS3.7 E.1-1). */
const NO_DATASET = 0x0101;

function uid(b: Buffer): string {
  let end = b.length;
  while (end > 0 && (b[end - 1] === 0 || b[end - 1] === 0x20)) end--;
  return b.toString('latin1', 0, end);
}

/** The command elements the C-STORE path needs; undefined when the bytes are not a well-formed command group. */
export function readCommand(bytes: Buffer): CommandInfo | undefined {
  let commandField: number | undefined;
  let messageId: number | undefined;
  let datasetType: number | undefined;
  let sopClass = '';
  let sopInstance = '';
  let at = 0;
  while (at + 8 <= bytes.length) {
    const group = bytes.readUInt16LE(at);
    const elem = bytes.readUInt16LE(at + 2);
    const len = bytes.readUInt32LE(at + 4);
    if (group !== 0x0000 || at + 8 + len > bytes.length) return undefined;
    const v = bytes.subarray(at + 8, at + 8 + len);
    if (elem === 0x0100 && len === 2) commandField = v.readUInt16LE(0);
    else if (elem === 0x0110 && len === 2) messageId = v.readUInt16LE(0);
    else if (elem === 0x0800 && len === 2) datasetType = v.readUInt16LE(0);
    else if (elem === 0x0002) sopClass = uid(v);
    else if (elem === 0x1000) sopInstance = uid(v);
    at += 8 + len;
  }
  if (at !== bytes.length || commandField === undefined || datasetType === undefined) return undefined;
  return { commandField, messageId: messageId ?? 0, hasDataset: datasetType !== NO_DATASET, affectedSopClassUid: sopClass, affectedSopInstanceUid: sopInstance };
}

/** Enough for the header of nearly every instance (readers fall back to the file when it is not). */
const HEAD_BYTES = 64 * 1024;
/**
 * Instances up to this size keep their chunks (views into the received PDUs, no copy) for the archive's ingest
 * journal, which appends them beside the file (src/archive/journal.ts: JOURNAL_MAX_INSTANCE_BYTES).
 */
const KEEP_BYTES = 64 * 1024 * 1024;
/**
 * Queued bytes are written once this many are waiting (and the rest at finish): a 512 KiB slice takes one writev
 * instead of one per socket read, each a hand-off to the thread pool (on two shared cores, a context switch).
 */
const WRITE_BATCH_BYTES = 1024 * 1024;

/**
 * One incoming instance streamed to a temp file: writes are queued and issued one writev at a time once 1 MiB is
 * queued, and at finish (everything queued meanwhile goes in the next one), hashed and counted as they are queued, the first 64 KiB kept for the
 * header parse. `finish()` hands the digest over at once; the archive completes the file via `digest.written` and makes it
 * durable through its ingest journal (the kept `chunks`), or completes and fsyncs it via `digest.sync`.
 */
export class TempInstanceWriter {
  readonly path: string;
  private readonly fh: Promise<FileHandle>;
  private readonly hash: Hash = createHash('sha256');
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private size = 0;
  private kept: Buffer[] | undefined = [];
  private queue: Buffer[] = [];
  private pumping: Promise<void> | undefined;
  private error: unknown;
  private closing: Promise<unknown> | undefined;
  private syncing: Promise<void> | undefined;
  /** Bytes queued and not yet written (the caller pauses its socket above a limit). */
  pendingBytes = 0;

  constructor(path: string) {
    this.path = path;
    this.fh = open(path, 'wx');
    this.fh.catch((e: unknown) => {
      this.error ??= e;
    });
  }

  get sizeBytes(): number {
    return this.size;
  }

  write(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.kept) {
      if (this.size <= KEEP_BYTES) this.kept.push(chunk);
      else this.kept = undefined;
    }
    if (this.headBytes < HEAD_BYTES) {
      const part = chunk.subarray(0, HEAD_BYTES - this.headBytes);
      this.head.push(part);
      this.headBytes += part.length;
    }
    if (this.error !== undefined) return;
    this.queue.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= WRITE_BATCH_BYTES) this.pumping ??= this.pump();
  }

  /** Resolves when the queue is empty (or the writer failed). */
  drained(): Promise<void> {
    return this.pumping ?? Promise.resolve();
  }

  private async pump(): Promise<void> {
    try {
      const fh = await this.fh;
      while (this.queue.length > 0 && this.error === undefined) {
        let bufs = this.queue;
        this.queue = [];
        const total = bufs.reduce((a, b) => a + b.length, 0);
        let done = 0;
        while (done < total) {
          const { bytesWritten } = await fh.writev(bufs);
          done += bytesWritten;
          this.pendingBytes -= bytesWritten;
          if (done < total) bufs = skip(bufs, bytesWritten);
        }
      }
    } catch (e) {
      this.error ??= e;
      this.queue = [];
      this.pendingBytes = 0;
    } finally {
      this.pumping = undefined;
    }
  }

  /**
   * The digest, as soon as the last byte is queued (hash, size and head are final then). Its `sync` waits for the
   * queued writes and fdatasyncs the file through this handle (the data and what is needed to read it back, as
   * SQLite syncs its WAL). `eagerSync`: it starts now, so the disk works while the archive parses, looks the
   * instance up and moves the file (where the archive syncs the file itself); otherwise on the first call (an
   * archive with an ingest journal makes the kept `chunks` durable there and only awaits `written`). Close after
   * the store.
   */
  finish(eagerSync: boolean): TempFileDigest {
    if (this.queue.length > 0) this.pumping ??= this.pump();
    const written = async (): Promise<void> => {
      while (this.pumping) await this.pumping;
      if (this.error !== undefined) throw this.error;
    };
    const sync = (): Promise<void> => {
      this.syncing ??= written().then(async () => (await this.fh).datasync());
      return this.syncing;
    };
    if (eagerSync) sync().catch((e: unknown) => e); // observed through sync()
    const kept = this.kept;
    this.kept = undefined;
    return {
      sha256: this.hash.digest('hex'), sizeBytes: this.size, synced: false, head: Buffer.concat(this.head), sync, written,
      ...(kept ? { chunks: kept } : {}),
    };
  }

  /**
   * Closes the file (after the store, or of an interrupted instance); never rejects. A sync already started
   * (the archive may sync the moved file through this handle after the store returned) completes first.
   */
  async close(): Promise<void> {
    if (this.syncing) await this.syncing.catch((e: unknown) => e);
    this.error ??= new Error('closed');
    this.queue = [];
    while (this.pumping) await this.pumping;
    this.closing ??= this.fh.then((fh) => fh.close()).catch((e: unknown) => e);
    await this.closing;
  }
}

function skip(bufs: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let left = n;
  for (const b of bufs) {
    if (left >= b.length) {
      left -= b.length;
      continue;
    }
    out.push(left > 0 ? b.subarray(left) : b);
    left = 0;
  }
  return out;
}
