/**
 * One SCU association on dcmjs-dimse's Client, as a promise. Adds what the library leaves out: TCP_NODELAY on
 * the socket (without it Nagle + delayed ACK cap an association at ~20 operations/s, DEPENDENCIES.md), an overall
 * deadline, A-ABORT from the peer, and typed errors.
 */
import type { Socket } from 'node:net';
import { SrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { silentLogger } from '../core/log.ts';
import type { DimsePeer } from './config.ts';
import { DEFAULT_AE_TITLE, checkAeTitle, checkPeer } from './config.ts';
import { Client } from './lib.ts';
import type { DimseAssociation, DimseRequest } from './lib.ts';

export interface ScuOptions {
  /** Our calling AE title. Default SECONDREADER. */
  readonly callingAe?: string;
  /** Whole-operation deadline (default 10 min). */
  readonly operationMs?: number;
  /** A-ASSOCIATE-AC must arrive within (default 30 s); no PDU for idleMs → abort (default 120 s). */
  readonly associationMs?: number;
  readonly idleMs?: number;
  readonly log?: Logger;
}

/** Library internals we rely on (not in its .d.ts): the network object and its socket and queue. */
interface ClientInternals {
  network?: { socket: Socket; requests: DimseRequest[]; on(event: string, fn: (arg: unknown) => void): void };
}

export interface AssociationOutcome {
  /** The peer accepted the association (operations may still have failed). */
  readonly established: boolean;
  readonly error?: SrError;
}

export interface AssociationHooks {
  /** Runs after A-ASSOCIATE-AC and before any request is sent; may remove requests from `queue`. */
  onAccepted?(association: DimseAssociation, queue: DimseRequest[]): void;
  /** Called with a function that drops the requests not yet sent (cancel). */
  onStarted?(dropQueued: () => void): void;
}

const REJECT_REASONS: Record<string, string> = {
  '1/1': 'no reason given',
  '1/2': 'application context name not supported',
  '1/3': 'calling AE title not recognized',
  '1/7': 'called AE title not recognized',
  '2/1': 'no reason given (ACSE)',
  '2/2': 'protocol version not supported',
  '3/1': 'temporary congestion',
  '3/2': 'local limit exceeded',
};

export function runAssociation(peerIn: DimsePeer, requests: readonly DimseRequest[], options: ScuOptions = {}, hooks: AssociationHooks = {}): Promise<AssociationOutcome> {
  const peer = checkPeer(peerIn, 'peer');
  const callingAe = checkAeTitle(options.callingAe ?? DEFAULT_AE_TITLE, 'callingAe');
  const log = options.log ?? silentLogger;
  const client = new Client();
  for (const r of requests) client.addRequest(r);
  return new Promise((resolve) => {
    let established = false;
    let error: SrError | undefined;
    const details = { peer: peer.aeTitle, host: peer.host, port: peer.port };
    const internals = client as unknown as ClientInternals;
    const deadline = setTimeout(() => {
      error ??= new SrError('DIMSE_TIMEOUT', `DICOM operation with ${peer.aeTitle} did not finish in time`, { details });
      internals.network?.socket.destroy();
    }, options.operationMs ?? 600_000);
    client.on('associationAccepted', (a: DimseAssociation) => {
      established = true;
      if (hooks.onAccepted) {
        const queue = [...requests];
        hooks.onAccepted(a, queue);
        client.clearRequests();
        for (const r of queue) client.addRequest(r);
      }
    });
    client.on('associationRejected', (rj: { result: number; source: number; reason: number }) => {
      const why = REJECT_REASONS[`${rj.source}/${rj.reason}`] ?? 'unknown reason';
      error ??= new SrError('DIMSE_ASSOCIATION_REJECTED', `${peer.aeTitle} rejected the association: ${why}`, { details: { ...details, ...rj, permanent: rj.result === 1 } });
    });
    client.on('networkError', (e: Error) => {
      const timeout = /timeout/i.test(e.message);
      error ??= new SrError(timeout ? 'DIMSE_TIMEOUT' : 'DIMSE_ASSOCIATION_FAILED', `association with ${peer.aeTitle} at ${peer.host}:${peer.port} failed: ${e.message}`, { cause: e, details });
    });
    client.on('closed', () => {
      clearTimeout(deadline);
      if (error) log.warn('dimse association failed', { ...details, code: error.code, error: error.message });
      resolve({ established, ...(error ? { error } : {}) });
    });
    try {
      client.send(peer.host, peer.port, callingAe, peer.aeTitle, {
        connectTimeout: options.idleMs ?? 120_000,
        associationTimeout: options.associationMs ?? 30_000,
        pduTimeout: options.idleMs ?? 120_000,
      });
    } catch (e) {
      clearTimeout(deadline);
      resolve({ established: false, error: new SrError('DIMSE_ASSOCIATION_FAILED', `cannot start association with ${peer.aeTitle}`, { cause: e, details }) });
      return;
    }
    const network = internals.network;
    network?.socket.setNoDelay(true);
    network?.on('abort', () => {
      error ??= new SrError('DIMSE_ASSOCIATION_FAILED', `${peer.aeTitle} aborted the association`, { details });
      network.socket.destroy();
    });
    hooks.onStarted?.(() => {
      if (network) network.requests.length = 0;
    });
  });
}
