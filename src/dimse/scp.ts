/**
 * The DIMSE SCP: association negotiation with an allow-list, C-ECHO, C-STORE streamed to a temp file and handed
 * to the archive (the response goes out only after the archive has the instance durably: PS3.4 B.2.3 lets the
 * SCU discard its copy on Success), and C-FIND/C-MOVE/C-GET (scp-query.ts).
 *
 * We run our own net.Server rather than dcmjs-dimse's Server: its listen() binds every interface, never sets
 * TCP_NODELAY (Nagle + delayed ACK cap an association at ~20 instances/s) and never arms its association timer.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import type { Archive, InstanceRecord, TempFileDigest } from '../archive/types.ts';
import { SrError, isSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { codecFor } from '../dicom/index.ts';
import { isAllowed, normaliseAddress, resolveServerConfig } from './config.ts';
import type { DimseServerConfig, ResolvedServerConfig } from './config.ts';
import { Dataset, RawDataset, SOP, STATUS, Scp, TS_EXPLICIT_BE, TS_EXPLICIT_LE, TS_IMPLICIT_LE, UNCOMPRESSED, constants, fileLoader, isStorageSopClass, requests, responses } from './lib.ts';
import type { CCancelRequestT, CEchoRequestT, CFindRequestT, CGetRequestT, CMoveRequestT, CStoreRequestT, DimseAssociation, DimsePresentationContext, DimseRequest, DimseResponse } from './lib.ts';
import { buildPart10Header, readPart10Info, readPart10InfoFromFile } from './part10.ts';
import { commandPdu, encodeCStoreResponse } from './fast-response.ts';
import { prepareIncoming } from './incoming.ts';
import { C_STORE_RQ, TempInstanceWriter, pdvPdu, readCommand } from './pdata.ts';
import type { CommandInfo, Pdv } from './pdata.ts';
import { PduStream } from './pdu-framer.ts';
import { createDimseListener } from './tls.ts';
import { handleFind, handleRetrieve } from './scp-query.ts';
import type { QuerySession } from './scp-query.ts';
import type { StoreResult } from './scu.ts';
import { isWarningStatus } from './scu.ts';

export interface DimseServerDeps {
  readonly archive: Archive;
  readonly config?: DimseServerConfig;
  readonly log: Logger;
}

export interface DimseServer {
  readonly port: number;
  readonly host: string;
  readonly aeTitle: string;
  /** Stops listening, aborts open associations (their partial instances are discarded) and waits for stores in flight. */
  close(): Promise<void>;
}

const QUERY_RETRIEVE = new Set<string>([SOP.PatientRootFind, SOP.PatientRootMove, SOP.PatientRootGet, SOP.StudyRootFind, SOP.StudyRootMove, SOP.StudyRootGet]);

/** Library internals used here (present in dcmjs-dimse 0.3's Network, absent from its .d.ts). */
interface NetworkInternals {
  connected: boolean;
  connectedTime: number | undefined;
  lastPduTime: number | undefined;
  association: DimseAssociation | undefined;
  pending: DimseRequest[];
  statistics: { addBytesReceived(n: number): void };
  _reset(): void;
  _processPdu(pdu: Buffer): Promise<void>;
  _sendPDataTF(command: DimseRequest | DimseResponse, presentationContextId: number, maxPduLength: number): void;
}

const libSendPDataTF = (Scp.prototype as unknown as NetworkInternals)._sendPDataTF;

interface IncomingStore {
  readonly path: string;
  readonly stream: WriteStream;
  readonly written: Promise<Error | undefined>;
  /** Hash, size and head of what was written, fed by the writes themselves (the archive need not re-read). */
  readonly hash: Hash;
  readonly head: Buffer[];
  headBytes: number;
  sizeBytes: number;
  complete: boolean;
}

/** Enough for the header of nearly every instance (readers fall back to the file when it is not). */
const HEAD_BYTES = 64 * 1024;

/** Above this many bytes queued for the temp file, the socket is paused until the writes catch up. */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** A C-STORE data set being received on the fast path (pdata.ts). */
interface Receiving {
  readonly contextId: number;
  readonly command: CommandInfo;
  readonly writer: TempInstanceWriter;
}

interface Shared {
  readonly archive: Archive;
  readonly log: Logger;
  readonly config: ResolvedServerConfig;
  /** This process's own folder under config.tempDir (incoming.ts). */
  readonly tempDir: string;
  readonly sessions: Set<Association>;
  readonly work: Set<Promise<void>>;
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch((e: unknown) => e); // already moved by the archive, or never created
}

/** The first proposed transfer syntax we accept for an abstract syntax, if any. */
function chooseTransferSyntax(abstractSyntax: string, proposed: readonly string[]): string | undefined | null {
  if (abstractSyntax === SOP.Verification || QUERY_RETRIEVE.has(abstractSyntax)) {
    return proposed.find((t) => t === TS_EXPLICIT_LE || t === TS_IMPLICIT_LE);
  }
  // We store as received: any syntax our reader can index (codecFor knows it), compressed ones included.
  // Explicit VR big endian is retired (PS3.5 A.3) and few viewers read it: only when nothing else is offered.
  if (isStorageSopClass(abstractSyntax)) return proposed.find((t) => t !== TS_EXPLICIT_BE && codecFor(t) !== undefined) ?? proposed.find((t) => t === TS_EXPLICIT_BE);
  return null;
}

class Association extends Scp {
  private readonly shared: Shared;
  private readonly conn: Socket;
  private readonly remoteAddress: string;
  private callingAe = '';
  private closed = false;
  private readonly incoming = new WeakMap<DimseRequest, IncomingStore>();
  private readonly open = new Set<IncomingStore>();
  private readonly cancelled = new Set<number>();
  /** Handlers of this association not yet settled (their responses not yet written). */
  private readonly outstanding = new Set<Promise<void>>();
  /** The peer's maximum receive PDU length (0: unlimited, PS3.8 D.1); what we send is cut to it. */
  private peerMaxPdu = 16_384;
  /** P-DATA-TF routing (onPiece): on once the association is accepted, off for good after an unreadable command. */
  private fastPath = false;
  /** Command fragments of the message being received. */
  private commandParts: Pdv[] = [];
  /** Pieces of a PDV (not a C-STORE data set fragment) being made whole. */
  private pdvParts: Buffer[] = [];
  /** Where the data set PDVs of the current message go: the library, our C-STORE path, or no message open. */
  private route: 'none' | 'library' | 'store' = 'none';
  private receiving: Receiving | undefined;

  constructor(socket: Socket, shared: Shared) {
    super(socket, { connectTimeout: shared.config.idleMs, associationTimeout: shared.config.associationMs, pduTimeout: shared.config.idleMs });
    this.shared = shared;
    this.conn = socket;
    this.remoteAddress = normaliseAddress(socket.remoteAddress ?? '');
    // dcmjs-dimse's Server sets `connected` but not `connectedTime`, so its association timer never fires.
    const net = this.internals();
    net.connected = true;
    net.connectedTime = Date.now();
    this.replaceFraming(socket, shared.config.maxPduLength);
    // dcmjs-dimse keeps one max PDU length per association, used both in our A-ASSOCIATE-AC (what we receive) and
    // to cut what we send: we advertise ours and send at most the peer's.
    net._sendPDataTF = (command, pcId) => {
      const rsp = command.getDataset() ? undefined : encodeCStoreResponse(command.getCommandDataset().getElements() as Record<string, unknown>);
      if (rsp) socket.write(commandPdu(pcId, rsp));
      else libSendPDataTF.call(this, command, pcId, this.peerMaxPdu);
    };
    this.on('networkError', (e: Error) => {
      shared.log.warn('dimse connection error', { callingAe: this.callingAe, remoteAddress: this.remoteAddress, error: e.message });
      socket.destroy();
    });
    this.on('close', () => this.onClose());
  }

  destroy(): void {
    this.conn.destroy();
  }

  /**
   * Swaps dcmjs-dimse's PDU accumulator for ours (pdu-framer.ts), feeding whole PDUs to the library's own
   * processing exactly as its accumulator's 'pdu' handler does, and, once the association is accepted, reading
   * P-DATA-TF PDVs as their bytes arrive (onPiece). PDUs longer than twice what we advertised (at least 1 MiB:
   * an A-ASSOCIATE-RQ may be long) close the connection.
   */
  private replaceFraming(socket: Socket, maxPduLength: number): void {
    const net = this.internals();
    socket.removeAllListeners('data');
    const stream = new PduStream(Math.max(2 * maxPduLength, 1 << 20), {
      streamPData: () => this.fastPath,
      pdu: (pdu) => void net._processPdu(pdu),
      piece: (contextId, mch, value, first, end) => this.onPiece(contextId, mch, value, first, end),
      pduDone: () => {
        net.lastPduTime = Date.now();
      },
    });
    let failed = false;
    socket.on('data', (chunk: Buffer) => {
      if (failed) return;
      net.statistics.addBytesReceived(chunk.length);
      try {
        stream.push(chunk);
      } catch (e) {
        failed = true;
        net._reset();
        this.protocolError(e instanceof Error ? e.message : String(e), isSrError(e) ? e.code : undefined);
      }
    });
  }

  private protocolError(message: string, code?: string): void {
    this.fastPath = false;
    this.shared.log.warn('dimse connection error', { callingAe: this.callingAe, remoteAddress: this.remoteAddress, error: message, ...(code ? { code } : {}) });
    this.conn.destroy();
  }

  /**
   * A piece of a PDV of a P-DATA-TF after association acceptance. The data set of a C-STORE request in an
   * accepted context is ours: it streams to its temp file piece by piece, views into the received chunks (no
   * copy), and the command is read directly. Every other PDV is made whole and handled by onPdv.
   */
  private onPiece(contextId: number, mch: number, value: Buffer, first: boolean, end: boolean): void {
    if (this.closed || this.conn.destroyed) return;
    const command = (mch & 1) === 1;
    if (this.fastPath && this.route === 'store' && !command && this.pdvParts.length === 0) {
      this.onStoreData(contextId, value, first, end && (mch & 2) === 2);
      return;
    }
    if (first && end) {
      this.onPdv({ contextId, command, last: (mch & 2) === 2, value });
      return;
    }
    this.pdvParts.push(value);
    if (!end) return;
    const whole = Buffer.concat(this.pdvParts);
    this.pdvParts = [];
    this.onPdv({ contextId, command, last: (mch & 2) === 2, value: whole });
  }

  /** One whole PDV: to the library, to the command being collected, or (store route) to the temp file. */
  private onPdv(p: Pdv): void {
    if (!this.fastPath) this.toLibrary(p);
    else if (this.route === 'library') {
      this.toLibrary(p);
      if (!p.command && p.last) this.route = 'none';
    } else if (this.route === 'store') {
      if (p.command) this.protocolError('P-DATA-TF: a command fragment inside a C-STORE data set');
      else this.onStoreData(p.contextId, p.value, true, p.last);
    } else if (!p.command) this.toLibrary(p); // a data set without a command: the library's answer, as before
    else {
      this.commandParts.push(p);
      if (this.commandParts.length > 64) this.protocolError('DIMSE command in more than 64 fragments');
      else if (p.last) this.onCommand();
    }
  }

  private toLibrary(p: Pdv): void {
    void this.internals()._processPdu(pdvPdu(p));
  }

  private onCommand(): void {
    const parts = this.commandParts;
    this.commandParts = [];
    const first = parts[0];
    const command = readCommand(parts.length === 1 && first ? first.value : Buffer.concat(parts.map((p) => p.value)));
    const contextId = parts[parts.length - 1]?.contextId ?? 0;
    const transferSyntax = command && command.commandField === C_STORE_RQ && command.hasDataset ? this.storageContext(contextId) : undefined;
    if (!command || transferSyntax === undefined) {
      for (const p of parts) this.toLibrary(p);
      if (!command) this.fastPath = false; // unreadable: everything after it is the library's, as before
      else this.route = command.hasDataset ? 'library' : 'none';
      return;
    }
    const writer = new TempInstanceWriter(join(this.shared.tempDir, `${randomUUID()}.dcm`));
    writer.write(buildPart10Header({ sopClassUid: command.affectedSopClassUid, sopInstanceUid: command.affectedSopInstanceUid, transferSyntaxUid: transferSyntax, sourceAe: this.callingAe }));
    this.receiving = { contextId, command, writer };
    this.route = 'store';
  }

  /** The accepted transfer syntax of a storage context, or undefined when the library should handle it. */
  private storageContext(contextId: number): string | undefined {
    try {
      const pc = this.internals().association?.getPresentationContext(contextId);
      if (!pc || pc.getResult() !== constants.PresentationContextResult.Accept || !isStorageSopClass(pc.getAbstractSyntaxUid())) return undefined;
      return pc.getAcceptedTransferSyntaxUid();
    } catch (e) {
      void e; // unknown context id: the library answers it
      return undefined;
    }
  }

  /** A piece of the C-STORE data set being received; `lastOfMessage`: its final piece. */
  private onStoreData(contextId: number, value: Buffer, first: boolean, lastOfMessage: boolean): void {
    const r = this.receiving;
    if (!r) return;
    if (first && contextId !== r.contextId) {
      this.protocolError(`P-DATA-TF: data set fragment on context ${contextId}, expected ${r.contextId}`);
      return;
    }
    if (value.length > 0) r.writer.write(value);
    if (r.writer.pendingBytes > MAX_QUEUED_BYTES && !this.conn.isPaused()) {
      this.conn.pause();
      void r.writer.drained().then(() => {
        if (!this.conn.destroyed) this.conn.resume();
      });
    }
    if (!lastOfMessage) return;
    this.receiving = undefined;
    this.route = 'none';
    this.run(async () => {
      const status = await this.storeReceived(r);
      if (this.closed) return;
      const rsp = encodeCStoreResponse({
        CommandField: 0x8001, MessageIDBeingRespondedTo: r.command.messageId, CommandDataSetType: 0x0101, Status: status.code,
        AffectedSOPClassUID: r.command.affectedSopClassUid, AffectedSOPInstanceUID: r.command.affectedSopInstanceUid,
        ...(status.comment ? { ErrorComment: status.comment.slice(0, 64) } : {}),
      });
      if (rsp) this.conn.write(commandPdu(r.contextId, rsp));
    });
  }

  private async storeReceived(r: Receiving): Promise<{ code: number; comment?: string }> {
    const { writer } = r;
    // The embedded archive journals the kept bytes and never needs this file synced (src/archive/journal.ts).
    const digest = writer.finish(this.shared.archive.backend !== 'sqlite');
    try {
      return await this.archiveTemp(r.command.affectedSopInstanceUid, writer.path, digest);
    } finally {
      // Not awaited: the archive may still be syncing the stored file through this handle after the store
      // returned (ingest journal, ADR 0007); close waits for that, the response need not.
      void writer.close();
    }
  }

  private internals(): NetworkInternals {
    return this as unknown as NetworkInternals;
  }

  /** Runs a message handler; it counts as outstanding on this association (and the server) until it settles. */
  private run(task: () => Promise<void>): void {
    const p = task().catch((e: unknown) => {
      this.shared.log.error('dimse handler failed', { callingAe: this.callingAe, error: e instanceof Error ? e.message : String(e) });
    });
    this.shared.work.add(p);
    this.outstanding.add(p);
    void p.finally(() => {
      this.shared.work.delete(p);
      this.outstanding.delete(p);
    });
  }

  override associationRequested(association: DimseAssociation): void {
    const { config, log } = this.shared;
    this.callingAe = association.getCallingAeTitle();
    const called = association.getCalledAeTitle();
    const who = { callingAe: this.callingAe, calledAe: called, remoteAddress: this.remoteAddress };
    const { RejectResult, RejectSource, RejectReason, PresentationContextResult } = constants;
    let reject: [number, number, number, string] | undefined;
    if (this.shared.sessions.size > config.maxAssociations) {
      reject = [RejectResult.Transient, RejectSource.ServiceProviderPresentation, 2, 'too many associations'];
    } else if (called !== config.aeTitle) {
      reject = [RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized, 'called AE title not recognized'];
    } else if (!isAllowed(config.allow, this.callingAe, this.remoteAddress)) {
      reject = [RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized, 'calling AE title / address not allowed'];
    }
    if (reject) {
      log.warn('dimse association rejected', { ...who, reason: reject[3] });
      this.sendAssociationReject(reject[0], reject[1], reject[2]);
      this.conn.end();
      return;
    }
    let accepted = 0;
    for (const { id } of association.getPresentationContexts()) {
      const pc: DimsePresentationContext = association.getPresentationContext(id);
      const ts = chooseTransferSyntax(pc.getAbstractSyntaxUid(), pc.getTransferSyntaxUids());
      if (ts === null) pc.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
      else if (ts === undefined) pc.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      else {
        pc.setResult(PresentationContextResult.Accept, ts);
        accepted++;
      }
    }
    this.peerMaxPdu = association.getMaxPduLength();
    association.setMaxPduLength(config.maxPduLength);
    log.info('dimse association accepted', { ...who, contexts: association.getPresentationContexts().length, accepted });
    this.sendAssociationAccept();
    this.fastPath = true;
  }

  /**
   * A-RELEASE-RP (PS3.8 9.3.7) only after every outstanding response: the release is orderly, the acceptor
   * sends its remaining P-DATA first (PS3.8 7.2). A C-STORE still being stored when the A-RELEASE-RQ arrives
   * (a peer may send it right behind the last P-DATA-TF) gets its C-STORE-RSP before the A-RELEASE-RP.
   */
  override associationReleaseRequested(): void {
    if (this.outstanding.size === 0) {
      this.sendAssociationReleaseResponse();
      return;
    }
    void (async () => {
      while (this.outstanding.size > 0) await Promise.allSettled([...this.outstanding]);
      if (!this.closed && !this.conn.destroyed) this.sendAssociationReleaseResponse();
    })();
  }

  override abort(source: number, reason: number): void {
    this.shared.log.warn('dimse association aborted by the peer', { callingAe: this.callingAe, remoteAddress: this.remoteAddress, source, reason });
    this.conn.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.shared.sessions.delete(this);
    for (const store of this.open) {
      if (store.complete) continue;
      // A C-STORE cut off mid-dataset: discard what arrived, nothing partial reaches the archive.
      this.shared.log.warn('dimse C-STORE interrupted, partial instance discarded', { callingAe: this.callingAe, remoteAddress: this.remoteAddress });
      store.stream.destroy();
      void store.written.then(() => removeQuietly(store.path));
    }
    this.open.clear();
    const r = this.receiving;
    if (r) {
      this.receiving = undefined;
      this.shared.log.warn('dimse C-STORE interrupted, partial instance discarded', { callingAe: this.callingAe, remoteAddress: this.remoteAddress });
      void r.writer.close().then(() => removeQuietly(r.writer.path));
    }
  }

  override cEchoRequest(request: CEchoRequestT, callback: (response: DimseResponse) => void): void {
    const r = responses.CEchoResponse.fromRequest(request);
    r.setStatus(STATUS.Success);
    callback(r);
  }

  override createStoreWritableStream(context: DimsePresentationContext, request: CStoreRequestT): WriteStream {
    const path = join(this.shared.tempDir, `${randomUUID()}.dcm`);
    // flush: fsync before close, so the archive moves a durable file without reopening it to sync.
    const stream = createWriteStream(path, { flags: 'wx', flush: true });
    const written = new Promise<Error | undefined>((resolve) => {
      let error: Error | undefined;
      stream.on('error', (e) => {
        error ??= e;
      });
      stream.on('close', () => resolve(error));
    });
    const store: IncomingStore = { path, stream, written, hash: createHash('sha256'), head: [], headBytes: 0, sizeBytes: 0, complete: false };
    // Every byte goes through write() (ours, then the library's one call per PDV): hash and keep the head there.
    const write = stream.write.bind(stream) as (chunk: Buffer) => boolean;
    (stream as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk: Buffer): boolean => {
      store.hash.update(chunk);
      store.sizeBytes += chunk.byteLength;
      if (store.headBytes < HEAD_BYTES) {
        const part = chunk.subarray(0, HEAD_BYTES - store.headBytes);
        store.head.push(Buffer.from(part));
        store.headBytes += part.byteLength;
      }
      return write(chunk);
    };
    stream.write(
      buildPart10Header({
        sopClassUid: request.getAffectedSopClassUid(),
        sopInstanceUid: request.getAffectedSopInstanceUid(),
        transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? TS_IMPLICIT_LE,
        sourceAe: this.callingAe,
      }),
    );
    this.incoming.set(request, store);
    this.open.add(store);
    return stream;
  }

  override createDatasetFromStoreWritableStream(_writable: unknown, context: DimsePresentationContext, callback: (dataset: InstanceType<typeof Dataset>) => void): void {
    // The dataset is on disk; cStoreRequest reads nothing from this placeholder but its transfer syntax.
    callback(new Dataset({}, context.getAcceptedTransferSyntaxUid()));
  }

  override cStoreRequest(request: CStoreRequestT, callback: (response: DimseResponse) => void): void {
    const store = this.incoming.get(request);
    if (store) store.complete = true;
    this.run(async () => {
      const r = responses.CStoreResponse.fromRequest(request);
      const status = await this.storeIncoming(request, store);
      r.setStatus(status.code);
      if (status.comment) r.setErrorComment(status.comment.slice(0, 64));
      if (!this.closed) callback(r);
    });
  }

  private async storeIncoming(request: CStoreRequestT, store: IncomingStore | undefined): Promise<{ code: number; comment?: string }> {
    const { log } = this.shared;
    const uid = request.getAffectedSopInstanceUid();
    if (!store) return { code: STATUS.CannotUnderstand, comment: 'no dataset' };
    const writeError = await store.written;
    this.open.delete(store);
    if (writeError) {
      log.error('dimse C-STORE temp file write failed', { sopInstanceUid: uid, error: writeError.message });
      await removeQuietly(store.path);
      return { code: STATUS.OutOfResources, comment: 'cannot write temp file' };
    }
    const digest: TempFileDigest = { sha256: store.hash.digest('hex'), sizeBytes: store.sizeBytes, synced: true, head: Buffer.concat(store.head) };
    return this.archiveTemp(uid, store.path, digest);
  }

  /** Hands a complete, fsynced temp file to the archive; the status to answer with. */
  private async archiveTemp(uid: string, path: string, digest: TempFileDigest): Promise<{ code: number; comment?: string }> {
    const { archive, log } = this.shared;
    try {
      const outcome = await archive.storeInstance({ tempFile: path, digest }, { via: 'dimse', sourceAe: this.callingAe, remoteAddress: this.remoteAddress });
      log.debug('dimse C-STORE', { sopInstanceUid: uid, callingAe: this.callingAe, status: outcome.status });
      return { code: STATUS.Success };
    } catch (e) {
      await removeQuietly(path);
      const code = isSrError(e) && (e.code.startsWith('DICOM_') || e.code === 'ARCHIVE_INSTANCE_INVALID' || e.code === 'ARCHIVE_CONFLICT') ? STATUS.CannotUnderstand : STATUS.OutOfResources;
      log.warn('dimse C-STORE refused', { sopInstanceUid: uid, callingAe: this.callingAe, code: isSrError(e) ? e.code : undefined, error: e instanceof Error ? e.message : String(e), status: code });
      return { code, comment: e instanceof Error ? e.message : String(e) };
    }
  }

  private session(): QuerySession {
    const { archive, log, config } = this.shared;
    return {
      archive,
      log,
      aeTitle: config.aeTitle,
      peers: config.peers,
      callingAe: this.callingAe,
      remoteAddress: this.remoteAddress,
      send: (request, response) => {
        if (!this.closed) this.sendResponse(request, response);
      },
      isCancelled: (messageId) => this.closed || this.cancelled.has(messageId),
      touch: () => {
        this.internals().lastPduTime = Date.now();
      },
      storeOnAssociation: (instance) => this.storeOnAssociation(instance),
    };
  }

  override cFindRequest(request: CFindRequestT): void {
    this.run(() => handleFind(this.session(), request));
  }

  override cMoveRequest(request: CMoveRequestT): void {
    this.run(() => handleRetrieve(this.session(), request, 'move'));
  }

  override cGetRequest(request: CGetRequestT): void {
    this.run(() => handleRetrieve(this.session(), request, 'get'));
  }

  override cCancelRequest(request: CCancelRequestT): void {
    this.cancelled.add(request.getMessageIdBeingRespondedTo());
  }

  /** One C-GET sub-operation: a C-STORE back on this association, in a presentation context the peer offered. */
  private async storeOnAssociation(instance: InstanceRecord): Promise<StoreResult> {
    const base = { source: instance.sopInstanceUid, sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid, transferSyntaxUid: instance.transferSyntaxUid };
    const association = this.internals().association;
    const accepted = (association?.getPresentationContexts() ?? [])
      .map((c) => association?.getPresentationContext(c.id))
      .filter((c): c is DimsePresentationContext => c?.getResult() === constants.PresentationContextResult.Accept && c.getAbstractSyntaxUid() === instance.sopClassUid);
    const exact = accepted.some((c) => c.getAcceptedTransferSyntaxUid() === instance.transferSyntaxUid);
    const convertible = UNCOMPRESSED.has(instance.transferSyntaxUid) && accepted.length > 0 && accepted.every((c) => UNCOMPRESSED.has(c.getAcceptedTransferSyntaxUid() ?? ''));
    if (!exact && !convertible) return { ...base, status: null, ok: false, error: 'no accepted presentation context for this SOP class and transfer syntax' };
    let dataset;
    try {
      const path = this.shared.archive.blobs.localPath(instance.blobKey);
      if (path) {
        const info = await readPart10InfoFromFile(path);
        dataset = new RawDataset({ SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, info.transferSyntaxUid, fileLoader(path), info.dataOffset);
      } else {
        const bytes = await this.shared.archive.readInstance(instance.sopInstanceUid);
        const info = readPart10Info(bytes, instance.sopInstanceUid);
        dataset = new RawDataset({ SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, info.transferSyntaxUid, () => bytes, info.dataOffset);
      }
    } catch (e) {
      return { ...base, status: null, ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    const req = new requests.CStoreRequest(dataset);
    return await new Promise<StoreResult>((resolve) => {
      let status: number | null = null;
      const finish = (): void => {
        const net = this.internals();
        net.pending = net.pending.filter((p) => p !== req);
        this.off('close', finish);
        const ok = status !== null && (status === STATUS.Success || isWarningStatus(status));
        resolve({ ...base, status, ok, ...(ok ? {} : { error: status === null ? 'no response' : `status 0x${status.toString(16)}` }) });
      };
      req.on('response', (r: DimseResponse) => {
        status = r.getStatus();
      });
      req.on('done', finish);
      this.on('close', finish);
      this.sendRequests(req);
    });
  }
}

export async function startDimseServer(deps: DimseServerDeps): Promise<DimseServer> {
  const config = resolveServerConfig(deps.config);
  const incoming = await prepareIncoming(config.tempDir, deps.log);
  const shared: Shared = { archive: deps.archive, log: deps.log, config, tempDir: incoming.dir, sessions: new Set(), work: new Set() };
  const server: Server = createDimseListener(config.tls, (socket) => {
    socket.setNoDelay(true);
    try {
      const a = new Association(socket, shared);
      shared.sessions.add(a);
    } catch (e) {
      deps.log.error('dimse could not set up a connection', { error: e instanceof Error ? e.message : String(e) });
      socket.destroy();
    }
  }, deps.log);
  server.on('error', (e) => deps.log.error('dimse server error', { error: e.message }));
  const listening = new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(new SrError('CONFIG_INVALID', `DIMSE cannot listen on ${config.host}:${config.port}: ${e.message}`, { cause: e, details: { host: config.host, port: config.port } }));
    server.once('error', onError);
    server.listen(config.port, config.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  await listening.catch(async (e: unknown) => {
    await incoming.dispose();
    throw e;
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.port;
  deps.log.info('dimse listening', { aeTitle: config.aeTitle, host: config.host, port, tls: config.tls !== undefined });
  let closing: Promise<void> | undefined;
  return {
    port,
    host: config.host,
    aeTitle: config.aeTitle,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const a of shared.sessions) a.destroy();
        await stopped;
        await Promise.allSettled([...shared.work]);
        await incoming.dispose();
        deps.log.info('dimse stopped', { aeTitle: config.aeTitle, port });
      })();
      return closing;
    },
  };
}
