/**
 * DICOM TLS for the SCP (PS3.15 Annex B, "Secure Transport Connection Profiles"): the listener is a node:tls server
 * instead of a plain TCP one, and everything above it (PDU framing, dcmjs-dimse, the C-STORE fast path) runs on the
 * TLSSocket unchanged. Certificates are PEM files read once at start-up, so a missing or unreadable file stops the
 * server with CONFIG_INVALID instead of failing the first association. docs/security-hardening.md explains them.
 */
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { SrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';

export interface DimseTlsConfig {
  /** PEM certificate chain of this SCP (leaf first). */
  readonly cert: string;
  /** PEM private key of that certificate (unencrypted). */
  readonly key: string;
  /** PEM CA bundle that client certificates must chain to; needed with requireClientCert. */
  readonly ca?: string;
  /** Mutual TLS: refuse peers without a certificate signed by `ca`. Default false. */
  readonly requireClientCert?: boolean;
}

export interface ResolvedTls {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
  readonly requireClientCert: boolean;
}

function readPem(path: string, field: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `DIMSE configuration: tls.${field} ${path} cannot be read`, { cause: e, details: { field: `tls.${field}`, path } });
  }
  if (!b.includes('-----BEGIN ')) {
    throw new SrError('CONFIG_INVALID', `DIMSE configuration: tls.${field} ${path} is not a PEM file`, { details: { field: `tls.${field}`, path } });
  }
  return b;
}

export function resolveTls(config: DimseTlsConfig | undefined): ResolvedTls | undefined {
  if (!config) return undefined;
  const requireClientCert = config.requireClientCert === true;
  if (requireClientCert && !config.ca) {
    throw new SrError('CONFIG_INVALID', 'DIMSE configuration: tls.requireClientCert needs tls.ca (the CA that signs client certificates)', { details: { field: 'tls.ca' } });
  }
  return {
    cert: readPem(config.cert, 'cert'),
    key: readPem(config.key, 'key'),
    ca: config.ca ? readPem(config.ca, 'ca') : undefined,
    requireClientCert,
  };
}

/**
 * The listening server: plain TCP, or TLS 1.2+ (the BCP 195 profiles of PS3.15 B.9–B.11 need at least 1.2) that
 * hands `onSocket` only connections whose handshake succeeded.
 */
export function createDimseListener(tls: ResolvedTls | undefined, onSocket: (socket: Socket) => void, log: Logger): Server {
  if (!tls) return createTcpServer(onSocket);
  const server = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    ...(tls.ca ? { ca: tls.ca } : {}),
    minVersion: 'TLSv1.2',
    // A peer that connects and never completes the handshake holds a socket outside the association limit and
    // delays close(): give up after 10 s (node's default is 120 s).
    handshakeTimeout: 10_000,
    requestCert: tls.requireClientCert,
    rejectUnauthorized: tls.requireClientCert,
  }, onSocket);
  server.on('tlsClientError', (e: Error, socket: Socket) => {
    log.warn('dimse TLS handshake failed', { remoteAddress: socket.remoteAddress ?? null, error: e.message });
  });
  return server;
}
