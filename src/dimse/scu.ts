/**
 * SCU operations: C-ECHO, C-STORE (files or archive instances, one association, sent as stored), C-FIND, C-MOVE.
 */
import type { Archive, InstanceRecord, QueryRow } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';
import type { DimsePeer } from './config.ts';
import { runAssociation } from './association.ts';
import type { ScuOptions } from './association.ts';
import { buildIdentifier, identifierToRow } from './identifier.ts';
import type { DimseLevel } from './identifier.ts';
import { Dataset, RawDataset, SOP, STATUS, UNCOMPRESSED, constants, fileLoader, requests } from './lib.ts';
import type { DimseAssociation, DimseRequest, DimseResponse } from './lib.ts';
import { readPart10Info, readPart10InfoFromFile } from './part10.ts';

export type { ScuOptions } from './association.ts';

function statusHex(s: number | null): string {
  return s === null ? 'none' : `0x${s.toString(16).padStart(4, '0')}`;
}

export function isWarningStatus(s: number): boolean {
  return (s & 0xf000) === 0xb000 || s === 0x0107 || s === 0x0116;
}

export async function echo(peer: DimsePeer, options: ScuOptions = {}): Promise<void> {
  const req = new requests.CEchoRequest();
  let status: number | null = null;
  req.on('response', (r: DimseResponse) => {
    status = r.getStatus();
  });
  const out = await runAssociation(peer, [req], options);
  if (out.error) throw out.error;
  if (status !== STATUS.Success) {
    throw new SrError('DIMSE_OPERATION_FAILED', `C-ECHO to ${peer.aeTitle} answered ${statusHex(status)}`, { details: { status } });
  }
}

export type QueryModel = 'study' | 'patient';

function modelUid(model: QueryModel, op: 'find' | 'move'): string {
  if (model === 'patient') return op === 'find' ? SOP.PatientRootFind : SOP.PatientRootMove;
  return op === 'find' ? SOP.StudyRootFind : SOP.StudyRootMove;
}

/** C-FIND: keys are DICOM keywords → match values ('' = return key). Returns one row per match. */
export async function find(peer: DimsePeer, level: DimseLevel, keys: Readonly<Record<string, string>>, options: ScuOptions & { model?: QueryModel } = {}): Promise<QueryRow[]> {
  const model = options.model ?? (level === 'PATIENT' ? 'patient' : 'study');
  const req = new requests.CFindRequest();
  req.setAffectedSopClassUid(modelUid(model, 'find'));
  req.setDataset(new Dataset(buildIdentifier(level, keys)));
  const rows: QueryRow[] = [];
  let final: number | null = null;
  req.on('response', (r: DimseResponse) => {
    const s = r.getStatus();
    if (s === STATUS.Pending || s === STATUS.PendingWarning) {
      const ds = r.getDataset();
      if (ds) rows.push(identifierToRow(ds.getElements()));
    } else final = s;
  });
  const out = await runAssociation(peer, [req], options);
  if (out.error) throw out.error;
  if (final !== STATUS.Success) {
    throw new SrError('DIMSE_OPERATION_FAILED', `C-FIND at ${peer.aeTitle} ended with status ${statusHex(final)}`, { details: { status: final, rows: rows.length } });
  }
  return rows;
}

export interface MoveResult {
  readonly status: number;
  readonly completed: number;
  readonly failed: number;
  readonly warnings: number;
  readonly failedSopInstanceUids: readonly string[];
}

/** C-MOVE: asks `peer` to send the matches of `keys` to `destinationAe`. */
export async function move(peer: DimsePeer, destinationAe: string, level: DimseLevel, keys: Readonly<Record<string, string>>, options: ScuOptions & { model?: QueryModel; onPending?: (r: MoveResult & { remaining: number }) => void } = {}): Promise<MoveResult> {
  const model = options.model ?? (level === 'PATIENT' ? 'patient' : 'study');
  const req = new requests.CMoveRequest();
  req.setAffectedSopClassUid(modelUid(model, 'move'));
  req.setDataset(new Dataset(buildIdentifier(level, keys)));
  req.getCommandDataset().setElement('MoveDestination', destinationAe);
  let last: MoveResult | undefined;
  req.on('response', (r: DimseResponse) => {
    const m = r as unknown as { getCompleted(): number; getFailures(): number; getWarnings(): number; getRemaining(): number };
    const failedList = r.getDataset()?.getElement('FailedSOPInstanceUIDList') as unknown;
    const result: MoveResult = {
      status: r.getStatus(),
      completed: m.getCompleted() ?? 0,
      failed: m.getFailures() ?? 0,
      warnings: m.getWarnings() ?? 0,
      failedSopInstanceUids: Array.isArray(failedList) ? failedList.map(String) : typeof failedList === 'string' && failedList ? failedList.split('\\') : [],
    };
    if (result.status === STATUS.Pending) options.onPending?.({ ...result, remaining: m.getRemaining() ?? 0 });
    else last = result;
  });
  const out = await runAssociation(peer, [req], options);
  if (out.error) throw out.error;
  if (!last) throw new SrError('DIMSE_OPERATION_FAILED', `C-MOVE at ${peer.aeTitle}: no final response`, { details: {} });
  const s = last.status;
  if (s === STATUS.MoveDestinationUnknown) {
    throw new SrError('DIMSE_PEER_UNKNOWN', `${peer.aeTitle} does not know the move destination ${destinationAe}`, { details: { status: s, destinationAe } });
  }
  if (s !== STATUS.Success && s !== STATUS.Cancel && !isWarningStatus(s)) {
    throw new SrError('DIMSE_OPERATION_FAILED', `C-MOVE at ${peer.aeTitle} ended with status ${statusHex(s)}`, { details: { ...last } });
  }
  return last;
}

/** What to send: a Part 10 file path, an archive instance (record or UID; needs options.archive), or bytes. */
export type StoreSource = string | { readonly file: string } | { readonly instance: InstanceRecord } | { readonly sopInstanceUid: string } | { readonly bytes: Uint8Array };

export interface StoreResult {
  /** File path, or the SOP Instance UID for archive/bytes sources. */
  readonly source: string;
  readonly sopInstanceUid?: string;
  readonly sopClassUid?: string;
  readonly transferSyntaxUid?: string;
  /** DIMSE status of the C-STORE-RSP; null when none came (not sent, association failed). */
  readonly status: number | null;
  /** Success or warning. */
  readonly ok: boolean;
  readonly error?: string;
}

export interface StoreOptions extends ScuOptions {
  readonly archive?: Archive;
  /** C-STORE sub-operations of a C-MOVE carry the originator (PS3.7 9.1.1.1). */
  readonly moveOriginator?: { readonly aeTitle: string; readonly messageId: number };
  /** Called after each instance's response (or failure). */
  readonly onResult?: (result: StoreResult) => void;
  /** Checked after each response; true stops sending the rest (they are reported as not sent). */
  readonly isCancelled?: () => boolean;
}

interface Prepared {
  readonly label: string;
  readonly ids?: { SOPClassUID: string; SOPInstanceUID: string };
  readonly ts?: string;
  readonly load?: () => Uint8Array;
  readonly dataOffset?: number;
  readonly error?: string;
}

function labelOf(s: StoreSource): string {
  if (typeof s === 'string') return s;
  if ('file' in s) return s.file;
  if ('instance' in s) return s.instance.sopInstanceUid;
  if ('sopInstanceUid' in s) return s.sopInstanceUid;
  return 'bytes';
}

async function prepare(s: StoreSource, archive: Archive | undefined): Promise<Prepared> {
  const label = labelOf(s);
  try {
    if (typeof s === 'string' || 'file' in s) {
      const path = typeof s === 'string' ? s : s.file;
      const info = await readPart10InfoFromFile(path);
      return { label, ids: { SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, ts: info.transferSyntaxUid, load: fileLoader(path), dataOffset: info.dataOffset };
    }
    if ('bytes' in s) {
      const info = readPart10Info(s.bytes, 'bytes');
      return { label: info.sopInstanceUid, ids: { SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, ts: info.transferSyntaxUid, load: () => s.bytes, dataOffset: info.dataOffset };
    }
    if (!archive) throw new SrError('USAGE', 'storing archive instances needs options.archive');
    const record = 'instance' in s ? s.instance : await archive.getInstance(s.sopInstanceUid);
    if (!record) throw new SrError('NOT_FOUND', `instance ${label} is not in the archive`);
    const path = archive.blobs.localPath(record.blobKey);
    if (path) {
      const info = await readPart10InfoFromFile(path);
      return { label, ids: { SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, ts: info.transferSyntaxUid, load: fileLoader(path), dataOffset: info.dataOffset };
    }
    const bytes = await archive.readInstance(record.sopInstanceUid);
    const info = readPart10Info(bytes, label);
    return { label, ids: { SOPClassUID: info.sopClassUid, SOPInstanceUID: info.sopInstanceUid }, ts: info.transferSyntaxUid, load: () => bytes, dataOffset: info.dataOffset };
  } catch (e) {
    return { label, error: e instanceof Error ? e.message : String(e) };
  }
}

/** Presentation contexts a batch needs: one per SOP class (uncompressed) plus one per (class, compressed syntax). */
function contextKeys(p: Prepared): string[] {
  const keys = [`${p.ids?.SOPClassUID}|`];
  if (p.ts && !UNCOMPRESSED.has(p.ts)) keys.push(`${p.ids?.SOPClassUID}|${p.ts}`);
  return keys;
}

const MAX_CONTEXTS = 100;

/**
 * C-STORE of many instances, one association (more only past 100 presentation contexts). Each instance is sent
 * exactly as stored when the peer accepts its transfer syntax; an uncompressed one is converted to the peer's
 * uncompressed choice; a compressed one the peer refuses is reported, not sent. Returns one result per source,
 * in order. Throws only when no association could be established.
 */
export async function storeInstances(peer: DimsePeer, sources: readonly StoreSource[], options: StoreOptions = {}): Promise<StoreResult[]> {
  const prepared: Prepared[] = [];
  for (const s of sources) prepared.push(await prepare(s, options.archive));
  const results: (StoreResult | undefined)[] = prepared.map((p) =>
    p.error !== undefined ? { source: p.label, status: null, ok: false, error: p.error } : undefined,
  );
  for (const r of results) if (r) options.onResult?.(r);

  const pending = prepared.map((p, i) => ({ p, i })).filter(({ i }) => results[i] === undefined);
  let cancelled = false;
  while (pending.length > 0 && !cancelled) {
    const batch: { p: Prepared; i: number }[] = [];
    const keys = new Set<string>();
    while (pending.length > 0) {
      const next = pending[0];
      if (!next) break;
      const add = contextKeys(next.p).filter((k) => !keys.has(k));
      if (batch.length > 0 && keys.size + add.length > MAX_CONTEXTS) break;
      for (const k of add) keys.add(k);
      batch.push(next);
      pending.shift();
    }
    const reqs = new Map<DimseRequest, number>();
    for (const { p, i } of batch) {
      if (!p.ids || !p.ts || !p.load || p.dataOffset === undefined) continue;
      const req = new requests.CStoreRequest(new RawDataset(p.ids, p.ts, p.load, p.dataOffset));
      if (options.moveOriginator) {
        req.getCommandDataset().setElement('MoveOriginatorApplicationEntityTitle', options.moveOriginator.aeTitle);
        req.getCommandDataset().getElements()['MoveOriginatorMessageID'] = options.moveOriginator.messageId;
      }
      const finish = (r: StoreResult): void => {
        if (results[i]) return;
        results[i] = r;
        options.onResult?.(r);
      };
      const base = { source: p.label, sopInstanceUid: p.ids.SOPInstanceUID, sopClassUid: p.ids.SOPClassUID, transferSyntaxUid: p.ts };
      req.on('response', (r: DimseResponse) => {
        const status = r.getStatus();
        const ok = status === STATUS.Success || isWarningStatus(status);
        const comment = r.getErrorComment();
        finish({ ...base, status, ok, ...(ok ? {} : { error: `status ${statusHex(status)}${comment ? `: ${comment}` : ''}` }) });
        if (options.isCancelled?.()) {
          cancelled = true;
          dropQueued();
        }
      });
      req.on('done', () => finish({ ...base, status: null, ok: false, error: 'no response (could not be sent in an accepted transfer syntax)' }));
      reqs.set(req, i);
    }
    let dropQueued = (): void => {};
    const out = await runAssociation(peer, [...reqs.keys()], options, {
      onStarted(drop) {
        dropQueued = drop;
      },
      onAccepted(association: DimseAssociation, queue: DimseRequest[]) {
        const accepted = association.getPresentationContexts().map((c) => association.getPresentationContext(c.id)).filter((c) => c.getResult() === constants.PresentationContextResult.Accept);
        for (let k = queue.length - 1; k >= 0; k--) {
          const req = queue[k];
          const i = req ? reqs.get(req) : undefined;
          const p = i === undefined ? undefined : prepared[i];
          if (!req || !p?.ids || !p.ts) continue;
          const sameClass = accepted.filter((c) => c.getAbstractSyntaxUid() === p.ids?.SOPClassUID);
          const exact = sameClass.some((c) => c.getAcceptedTransferSyntaxUid() === p.ts);
          const convertible = UNCOMPRESSED.has(p.ts) && sameClass.some((c) => UNCOMPRESSED.has(c.getAcceptedTransferSyntaxUid() ?? ''));
          if (!exact && !convertible) {
            queue.splice(k, 1);
            const r: StoreResult = { source: p.label, sopInstanceUid: p.ids.SOPInstanceUID, sopClassUid: p.ids.SOPClassUID, transferSyntaxUid: p.ts, status: null, ok: false, error: `${peer.aeTitle} accepted no presentation context for this SOP class in ${p.ts}` };
            if (i !== undefined && !results[i]) {
              results[i] = r;
              options.onResult?.(r);
            }
          }
        }
      },
    });
    if (out.error && !out.established) throw out.error;
    for (const { i, p } of batch) {
      if (!results[i]) {
        results[i] = { source: p.label, ...(p.ids ? { sopInstanceUid: p.ids.SOPInstanceUID, sopClassUid: p.ids.SOPClassUID } : {}), status: null, ok: false, error: out.error?.message ?? (cancelled ? 'cancelled' : 'not sent') };
        options.onResult?.(results[i]);
      }
    }
  }
  return prepared.map((p, i) => results[i] ?? { source: p.label, status: null, ok: false, error: 'cancelled' });
}
