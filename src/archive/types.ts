/**
 * The archive contract: what the DIMSE SCP, DICOMweb, the engine wiring and the REST API may use. Two
 * implementations share it (embedded: SQLite index + files; scale-out: PostgreSQL index + shared filesystem), and one
 * test suite runs against both. The archive knows no analysis: results are opaque JSON documents keyed by
 * (analysis id, analysis version, series).
 *
 * Durability contract: `storeInstance` resolves only after the blob is fsynced and renamed into place AND the index
 * row is committed, so a caller that acknowledges (C-STORE response, STOW 200) after it resolves never loses an
 * instance. Re-storing the same SOP Instance UID is idempotent (same bytes → `duplicate`; different bytes →
 * replaced, as Orthanc's OverwriteInstances does, and logged).
 */
import type { Readable } from 'node:stream';
import type { ErrorCode } from '../core/errors.ts';

export type QueryLevel = 'PATIENT' | 'STUDY' | 'SERIES' | 'INSTANCE';

/**
 * DICOM keyword → match value in C-FIND / QIDO-RS syntax (PS3.4 C.2.2.2): '' universal match, `*` and `?`
 * wildcards, `a\b\c` UID list, `20200101-20201231` / `-20201231` / `20200101-` date and time ranges.
 * PatientName matching is case-insensitive (QIDO fuzzymatching not supported; documented).
 */
export type MatchKeys = Readonly<Record<string, string>>;

export interface QueryRequest {
  readonly level: QueryLevel;
  readonly match: MatchKeys;
  /** Default 1000 for QIDO; C-FIND passes undefined (all). */
  readonly limit?: number;
  readonly offset?: number;
}

/** A result row: DICOM keyword → value. Strings as stored (DICOM VR text); counts as numbers; missing → null. */
export type QueryRow = Readonly<Record<string, string | number | null>>;

/** Where an instance came from, kept in the index for audit and routing rules. */
export interface InstanceOrigin {
  readonly via: 'dimse' | 'stow' | 'api' | 'result' | 'import';
  /** Calling AE title (DIMSE) or user/client (HTTP). */
  readonly sourceAe?: string;
  readonly remoteAddress?: string;
}

export interface InstanceRecord {
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly patientId: string;
  readonly transferSyntaxUid: string;
  readonly instanceNumber: number | null;
  readonly numberOfFrames: number;
  readonly rows: number | null;
  readonly columns: number | null;
  readonly sizeBytes: number;
  /** Hex SHA-256 of the stored Part 10 bytes (idempotency, integrity checks). */
  readonly sha256: string;
  /** Key in the blob store. */
  readonly blobKey: string;
  readonly receivedAt: string;
  readonly origin: InstanceOrigin;
}

export interface SeriesRecord {
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly patientId: string;
  readonly modality: string;
  readonly seriesNumber: number | null;
  readonly seriesDescription: string | null;
  readonly bodyPartExamined: string | null;
  readonly instanceCount: number;
  readonly firstReceivedAt: string;
  readonly lastReceivedAt: string;
  /** Set when the stable event was emitted for the current content; reset to null when a new instance arrives. */
  readonly stableAt: string | null;
  /** Calling AE of the most recent instance (routing rules). */
  readonly sourceAe: string | null;
}

export interface StoreOutcome {
  readonly status: 'stored' | 'duplicate' | 'replaced';
  readonly instance: InstanceRecord;
}

/**
 * What a writer that streamed a temp file already knows about it, so the archive neither re-reads it nor
 * re-syncs it: SHA-256 and size of every byte written, whether the file was fsynced before it was closed, and the
 * first bytes (the header is parsed from them when it fits; else the file is read).
 */
export interface TempFileDigest {
  readonly sha256: string;
  readonly sizeBytes: number;
  readonly synced: boolean;
  readonly head: Uint8Array;
  /**
   * When not `synced`: completes the file (its writer may still have writes queued) and fsyncs it through the
   * writer's open handle (no re-open); read the file only after it resolves. Several calls share one sync. The blob
   * store may rename a file that nothing acknowledged yet into place first and run this beside the folder fsync.
   */
  readonly sync?: () => Promise<void>;
  /** Completes the file's queued writes without syncing it (the ingest journal makes the bytes durable). */
  readonly written?: () => Promise<void>;
  /** The file's bytes as written, in order, when the writer kept them (instances up to a size limit). */
  readonly chunks?: readonly Uint8Array[];
}

export interface PutOptions {
  /**
   * No acknowledged blob is at `key` (its index row does not exist): a temp file with `digest.sync` may be renamed
   * into place before it is synced, the file and folder fsyncs running at once. Both still finish before put
   * resolves; a crash in between leaves a blob without a row, which recovery removes (it was never acknowledged).
   */
  readonly fresh?: boolean;
}

/**
 * The bytes of one Part 10 file to store: in memory, or a temp file the caller wrote (moved into the store; best
 * on the blob folder's filesystem, else it is copied).
 */
export type InstanceSource = { readonly bytes: Uint8Array } | { readonly tempFile: string; readonly digest?: TempFileDigest };

export interface SeriesStableEvent {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly instanceCount: number;
  readonly sourceAe: string | null;
}

/** An analysis result stored back in the archive; re-running the same (analysis, version, series) replaces it. */
export interface ResultRecord {
  readonly id: string;
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly status: 'ok' | 'skipped' | 'failed';
  /** The AnalysisResultJson of findings.json for this (analysis, series), as JSON. */
  readonly document: unknown;
  /** Blob keys of attached files (label map NIfTI, key-image PNGs), by name. */
  readonly attachments: Readonly<Record<string, string>>;
  readonly createdAt: string;
  /** Job that produced it, if any. */
  readonly jobId: string | null;
}

export interface ResultInput {
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly status: ResultRecord['status'];
  readonly document: unknown;
  /** name → bytes; stored as blobs before the row is written. */
  readonly attachments?: Readonly<Record<string, Uint8Array>>;
  readonly jobId?: string;
}

/** A C-STORE destination of a delivery. */
export interface DeliveryTarget {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
}

export type DeliveryState = 'queued' | 'retrying' | 'sent' | 'failed';

export interface DeliveryError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** One (result, destination) delivery of a result's DICOM objects, as `replaceDeliveries` takes it. */
export interface DeliveryInput {
  /** AE@host:port; one delivery per (result, destination). */
  readonly destination: string;
  readonly target: DeliveryTarget;
  /** The archive instances to send (the result's DICOM objects); read from the archive at each attempt. */
  readonly sopInstanceUids: readonly string[];
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
}

/**
 * A durable delivery (result forwarding): it survives restarts, and one worker at a time holds it (a claim with
 * a lease; a crashed worker's claim expires and another takes it over).
 */
export interface DeliveryRecord {
  readonly id: string;
  readonly resultId: string;
  readonly destination: string;
  readonly target: DeliveryTarget;
  /** Bumped when a re-run supersedes the delivery: an attempt's outcome counts only for the generation it claimed. */
  readonly generation: number;
  readonly sopInstanceUids: readonly string[];
  /** Not yet acknowledged by the destination (a retry sends only these). */
  readonly remaining: readonly string[];
  readonly state: DeliveryState;
  /** Attempts started (each claim counts one, so a worker that died mid-attempt used one up). */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly error: DeliveryError | null;
  /** When it is due (queued, retrying); null once sent or failed. */
  readonly nextAttemptAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface DeliveryClaim extends DeliveryRecord {
  /** Proves the claim: the attempt's writes count only while it holds it. */
  readonly claimToken: string;
  readonly claimExpiresAt: string;
}

/** What an attempt ends with; `finishDeliveryAttempt` records it and releases the claim. */
export interface DeliveryOutcome {
  readonly state: 'sent' | 'retrying' | 'failed';
  readonly remaining: readonly string[];
  readonly error: DeliveryError | null;
  /** When state is 'retrying': the next attempt's due time. */
  readonly nextAttemptAt: string | null;
}

/** Blob storage behind the index: a local/shared folder now; S3-compatible later behind the same interface. */
export interface BlobStore {
  /** Atomic: temp file + fsync + rename. Returns the size written. */
  put(key: string, source: InstanceSource, options?: PutOptions): Promise<number>;
  get(key: string): Promise<Uint8Array>;
  /** `range.end` is inclusive (as in HTTP Range and fs.createReadStream). */
  stream(key: string, range?: { start: number; end: number }): Readable;
  /** A local file path for readers that need one (our DICOM reader); undefined for remote stores. */
  localPath(key: string): string | undefined;
  delete(key: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Releases what the store holds open (cached folder handles); the archive calls it at close. */
  close?(): Promise<void>;
}

export interface Archive {
  readonly backend: 'sqlite' | 'postgres';
  readonly blobs: BlobStore;

  storeInstance(source: InstanceSource, origin: InstanceOrigin): Promise<StoreOutcome>;

  /** C-FIND and QIDO-RS both call this. Rows carry the level's keys plus the computed counts (PS3.18 Table 6.7.1-2a). */
  query(request: QueryRequest): Promise<QueryRow[]>;

  getInstance(sopInstanceUid: string): Promise<InstanceRecord | undefined>;
  /** Instances in InstanceNumber order. */
  listInstances(filter: { studyInstanceUid?: string; seriesInstanceUid?: string }): Promise<InstanceRecord[]>;
  getSeries(seriesInstanceUid: string): Promise<SeriesRecord | undefined>;
  listSeries(filter: { studyInstanceUid?: string; limit?: number; offset?: number }): Promise<SeriesRecord[]>;
  readInstance(sopInstanceUid: string): Promise<Uint8Array>;

  /**
   * Series that have received no instance for `quietMs` and whose stable event has not been emitted for the
   * current content; marks them stable (atomically, so two processes never both emit one). Survives restarts:
   * a series received before a crash is still found here after it.
   */
  claimStableSeries(quietMs: number, now?: Date): Promise<SeriesStableEvent[]>;

  putResult(input: ResultInput): Promise<ResultRecord>;
  getResult(id: string): Promise<ResultRecord | undefined>;
  listResults(filter: { studyInstanceUid?: string; seriesInstanceUid?: string; analysisId?: string }): Promise<ResultRecord[]>;
  /** Writes (or replaces) one attachment of a stored result: blob first, then the result row names it. */
  putResultAttachment(resultId: string, name: string, bytes: Uint8Array): Promise<ResultRecord>;

  /**
   * Records the deliveries of a result's objects, one per destination, in one transaction. A destination's earlier
   * delivery (a previous run's objects) is superseded: new objects, attempts from 0, generation + 1, due now; a
   * claim on it is kept, so the old attempt ends before the new one starts. Deliveries of the result to
   * destinations not listed are removed. Durable before it resolves.
   */
  replaceDeliveries(resultId: string, deliveries: readonly DeliveryInput[], now?: Date): Promise<DeliveryRecord[]>;
  /** By result (the API), or every one still queued/retrying (`pending`). Ordered by result, destination. */
  listDeliveries(filter: { resultId?: string; pending?: boolean }): Promise<DeliveryRecord[]>;
  /**
   * Up to `limit` due deliveries whose claim is free or expired, claimed for `leaseMs` (atomically: two claimers,
   * in one process or several, never both get one) and counted as an attempt.
   */
  claimDeliveries(o: { owner: string; leaseMs: number; limit: number; now?: Date }): Promise<DeliveryClaim[]>;
  /** Extends a claim still held; false when it was lost (expired and taken, or the delivery removed). */
  renewDeliveryClaim(claim: Pick<DeliveryClaim, 'id' | 'claimToken'>, leaseMs: number, now?: Date): Promise<boolean>;
  /**
   * Records an attempt's outcome and releases the claim. False when the claim was lost or the delivery was
   * superseded meanwhile: the outcome is dropped (the claim, if still held, is released).
   */
  finishDeliveryAttempt(claim: Pick<DeliveryClaim, 'id' | 'claimToken' | 'generation'>, outcome: DeliveryOutcome, now?: Date): Promise<boolean>;

  /** Deletes a series' instances (index rows first, then blobs). */
  deleteSeries(seriesInstanceUid: string): Promise<number>;

  close(): Promise<void>;
}
