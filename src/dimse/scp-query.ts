/**
 * C-FIND, C-MOVE and C-GET as an SCP (PS3.4 Annex C), Patient Root and Study Root, over the archive's query and
 * instance listing. Each handler answers through the session and never throws.
 */
import type { Archive, InstanceRecord } from '../archive/types.ts';
import { isSrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { DimsePeer } from './config.ts';
import { parseIdentifier, responseIdentifier, toArchiveLevel, uidList } from './identifier.ts';
import type { DimseLevel } from './identifier.ts';
import { Dataset, SOP, STATUS, responses } from './lib.ts';
import type { CFindRequestT, CGetRequestT, CMoveRequestT, DimseRequest, DimseResponse } from './lib.ts';
import { storeInstances } from './scu.ts';
import type { StoreResult } from './scu.ts';

export interface QuerySession {
  readonly archive: Archive;
  readonly log: Logger;
  readonly aeTitle: string;
  readonly peers: readonly DimsePeer[];
  readonly callingAe: string;
  readonly remoteAddress: string;
  /** Sends a response on the request's presentation context. */
  send(request: DimseRequest, response: DimseResponse): void;
  /** True once the association is gone or a C-CANCEL named this message ID. */
  isCancelled(messageId: number): boolean;
  /** Keeps the association's idle timer from firing during long operations. */
  touch(): void;
  /** C-GET: one C-STORE sub-operation on this association; resolves with the peer's status (null: not sent). */
  storeOnAssociation(instance: InstanceRecord): Promise<StoreResult>;
}

const PATIENT_ROOT = new Set<string>([SOP.PatientRootFind, SOP.PatientRootMove, SOP.PatientRootGet]);

function levelAllowed(level: DimseLevel | undefined, sopClass: string): level is DimseLevel {
  return level !== undefined && (level !== 'PATIENT' || PATIENT_ROOT.has(sopClass));
}

function failureStatus(e: unknown): number {
  if (isSrError(e) && (e.status === 400 || e.status === 422)) return STATUS.IdentifierDoesNotMatch;
  return STATUS.OutOfResources;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 64);
}

export async function handleFind(s: QuerySession, request: CFindRequestT): Promise<void> {
  const sopClass = request.getAffectedSopClassUid();
  const messageId = request.getMessageId();
  const ts = request.getDataset()?.getTransferSyntaxUid();
  const final = (status: number, comment?: string): void => {
    const r = responses.CFindResponse.fromRequest(request);
    r.setAffectedSopClassUid(sopClass);
    r.setStatus(status);
    if (comment) r.setErrorComment(comment);
    s.send(request, r);
  };
  const id = parseIdentifier(request.getDataset()?.getElements() ?? {});
  if (!levelAllowed(id.level, sopClass)) {
    s.log.warn('dimse C-FIND with a missing or invalid QueryRetrieveLevel', { callingAe: s.callingAe, sopClass });
    final(STATUS.IdentifierDoesNotMatch, 'invalid QueryRetrieveLevel');
    return;
  }
  const level = id.level;
  let rows;
  try {
    rows = await s.archive.query({ level: toArchiveLevel(level), match: id.match });
  } catch (e) {
    s.log.warn('dimse C-FIND query failed', { callingAe: s.callingAe, error: errorText(e), code: isSrError(e) ? e.code : undefined });
    final(failureStatus(e), errorText(e));
    return;
  }
  for (let i = 0; i < rows.length; i++) {
    if (s.isCancelled(messageId)) {
      final(STATUS.Cancel);
      return;
    }
    const row = rows[i];
    if (!row) continue;
    const r = responses.CFindResponse.fromRequest(request);
    r.setAffectedSopClassUid(sopClass);
    r.setStatus(STATUS.Pending);
    r.setDataset(new Dataset(responseIdentifier(row, id.keys, level), ts));
    s.send(request, r);
    // Yield now and then so a C-CANCEL (or A-ABORT) arriving meanwhile is read.
    if (i % 64 === 63) {
      s.touch();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  s.log.info('dimse C-FIND', { callingAe: s.callingAe, queryLevel: level, matches: rows.length });
  final(STATUS.Success);
}

/** The instances a C-MOVE / C-GET identifier names (PS3.4 C.4.2.2.1: unique keys down to the level). */
async function resolveInstances(archive: Archive, level: DimseLevel, match: Readonly<Record<string, string>>): Promise<InstanceRecord[] | undefined> {
  const out: InstanceRecord[] = [];
  if (level === 'IMAGE') {
    const uids = uidList(match['SOPInstanceUID']);
    if (uids.length === 0) return undefined;
    for (const uid of uids) {
      const rec = await archive.getInstance(uid);
      if (rec) out.push(rec);
    }
    return out;
  }
  if (level === 'SERIES') {
    const uids = uidList(match['SeriesInstanceUID']);
    if (uids.length === 0) return undefined;
    for (const uid of uids) out.push(...(await archive.listInstances({ seriesInstanceUid: uid })));
    return out;
  }
  let studies = uidList(match['StudyInstanceUID']);
  if (level === 'PATIENT') {
    const patientId = match['PatientID'];
    if (!patientId) return undefined;
    const rows = await archive.query({ level: 'STUDY', match: { PatientID: patientId } });
    studies = rows.map((r) => r['StudyInstanceUID']).filter((u): u is string => typeof u === 'string' && u !== '');
  } else if (studies.length === 0) return undefined;
  for (const uid of studies) out.push(...(await archive.listInstances({ studyInstanceUid: uid })));
  return out;
}

type RetrieveRequest = CMoveRequestT | CGetRequestT;

interface Counts {
  remaining: number;
  completed: number;
  failed: number;
  warnings: number;
}

function retrieveResponse(request: RetrieveRequest, kind: 'move' | 'get', status: number, c: Counts, failedUids: readonly string[]): DimseResponse {
  const r = kind === 'move' ? responses.CMoveResponse.fromRequest(request as CMoveRequestT) : responses.CGetResponse.fromRequest(request as CGetRequestT);
  r.setAffectedSopClassUid(request.getAffectedSopClassUid());
  r.setStatus(status);
  // PS3.4 C.4.2.1.6: Remaining only in Pending and Cancel responses.
  if (status === STATUS.Pending || status === STATUS.Cancel) r.setRemaining(c.remaining);
  r.setCompleted(c.completed);
  r.setFailures(c.failed);
  r.setWarnings(c.warnings);
  if (status !== STATUS.Pending && failedUids.length > 0) {
    r.setDataset(new Dataset({ FailedSOPInstanceUIDList: failedUids.join('\\') }, request.getDataset()?.getTransferSyntaxUid()));
  }
  return r;
}

export async function handleRetrieve(s: QuerySession, request: RetrieveRequest, kind: 'move' | 'get'): Promise<void> {
  const messageId = request.getMessageId();
  const counts: Counts = { remaining: 0, completed: 0, failed: 0, warnings: 0 };
  const failedUids: string[] = [];
  const respond = (status: number, comment?: string): void => {
    const r = retrieveResponse(request, kind, status, counts, failedUids);
    if (comment) r.setErrorComment(comment);
    s.send(request, r);
  };
  let peer: DimsePeer | undefined;
  if (kind === 'move') {
    const dest = String(request.getCommandDataset().getElement('MoveDestination') ?? '').trim();
    peer = s.peers.find((p) => p.aeTitle === dest);
    if (!peer) {
      s.log.warn('dimse C-MOVE to an unknown destination', { callingAe: s.callingAe, destination: dest });
      respond(STATUS.MoveDestinationUnknown, 'unknown move destination');
      return;
    }
  }
  const id = parseIdentifier(request.getDataset()?.getElements() ?? {});
  if (!levelAllowed(id.level, request.getAffectedSopClassUid())) {
    respond(STATUS.IdentifierDoesNotMatch, 'invalid QueryRetrieveLevel');
    return;
  }
  let instances: InstanceRecord[] | undefined;
  try {
    instances = await resolveInstances(s.archive, id.level, id.match);
  } catch (e) {
    s.log.warn(`dimse C-${kind.toUpperCase()} lookup failed`, { callingAe: s.callingAe, error: errorText(e) });
    respond(failureStatus(e), errorText(e));
    return;
  }
  if (!instances) {
    respond(STATUS.IdentifierDoesNotMatch, `no unique key for level ${id.level}`);
    return;
  }
  counts.remaining = instances.length;
  const onResult = (r: StoreResult): void => {
    counts.remaining = Math.max(0, counts.remaining - 1);
    if (r.ok && r.status !== null && r.status !== STATUS.Success) counts.warnings++;
    else if (r.ok) counts.completed++;
    else {
      counts.failed++;
      if (r.sopInstanceUid) failedUids.push(r.sopInstanceUid);
    }
    s.touch();
    if (counts.remaining > 0 && !s.isCancelled(messageId)) respond(STATUS.Pending);
  };
  if (instances.length > 0 && peer) {
    try {
      await storeInstances(peer, instances.map((instance) => ({ instance })), {
        archive: s.archive,
        callingAe: s.aeTitle,
        moveOriginator: { aeTitle: s.callingAe, messageId },
        onResult,
        isCancelled: () => s.isCancelled(messageId),
      });
    } catch (e) {
      s.log.warn('dimse C-MOVE sub-association failed', { destination: peer.aeTitle, error: errorText(e) });
      counts.failed += counts.remaining;
      counts.remaining = 0;
      for (const inst of instances) if (!failedUids.includes(inst.sopInstanceUid)) failedUids.push(inst.sopInstanceUid);
      respond(STATUS.OutOfResourcesSubOperations, errorText(e));
      return;
    }
  } else if (kind === 'get') {
    for (const instance of instances) {
      if (s.isCancelled(messageId)) break;
      onResult(await s.storeOnAssociation(instance));
    }
  }
  const status = s.isCancelled(messageId) && counts.remaining > 0 ? STATUS.Cancel : counts.failed > 0 || counts.warnings > 0 ? STATUS.SubOperationsWarning : STATUS.Success;
  if (status !== STATUS.Cancel && counts.failed > 0 && counts.completed === 0 && counts.warnings === 0) {
    respond(STATUS.OutOfResourcesSubOperations, 'all sub-operations failed');
  } else respond(status);
  s.log.info(`dimse C-${kind.toUpperCase()}`, { callingAe: s.callingAe, destination: peer?.aeTitle, queryLevel: id.level, ...counts });
}
