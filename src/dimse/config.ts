/**
 * DIMSE configuration: our AE, known peers, who may associate. Validated at start-up (fail loudly: a typo in an
 * AE title must not become "every association rejected" at 3 a.m.).
 */
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SrError } from '../core/errors.ts';
import { resolveTls } from './tls.ts';
import type { DimseTlsConfig, ResolvedTls } from './tls.ts';

export interface DimsePeer {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
}

/**
 * One allow-list rule: an association is accepted when some rule matches both its calling AE title and its remote
 * address. aeTitle: exact (case-sensitive, PS3.8 9.3.2) or '*'. address: an IP, an IPv4 CIDR (10.0.0.0/8),
 * 'loopback' or '*'. Absent fields match anything.
 */
export interface DimseAllowRule {
  readonly aeTitle?: string;
  readonly address?: string;
}

export interface DimseTimeouts {
  /** From TCP accept (or connect) to the A-ASSOCIATE-RQ/AC. Default 30 s. */
  readonly associationMs?: number;
  /** No PDU received for this long → A-ABORT. Default 120 s. */
  readonly idleMs?: number;
  /** SCU: whole operation (echo, find, move, store batch) deadline. Default 10 min. */
  readonly operationMs?: number;
}

export interface DimseServerConfig {
  /** Our (called) AE title. Default SECONDREADER. */
  readonly aeTitle?: string;
  /** Address to listen on. Default 127.0.0.1 (set 0.0.0.0 or an interface address to serve the network). */
  readonly host?: string;
  /** 0 → a free port (tests). Default 11112. */
  readonly port?: number;
  /** Known destinations (C-MOVE targets, forwarding). */
  readonly peers?: readonly DimsePeer[];
  /** Default: every peer's AE title, from loopback addresses only. */
  readonly allow?: readonly DimseAllowRule[];
  /**
   * Largest P-DATA PDU we receive (advertised in the A-ASSOCIATE-AC). Default 1 MiB: dcmtk's default 16 KiB cut a
   * 512×512 slice into 32 PDUs. What we send is cut to the peer's own maximum.
   */
  readonly maxPduLength?: number;
  /** Concurrent associations; beyond, A-ASSOCIATE-RJ transient "local limit exceeded". Default 32. */
  readonly maxAssociations?: number;
  readonly timeouts?: DimseTimeouts;
  /** Where incoming C-STORE data streams before the archive takes the file. Prefer the archive's filesystem. */
  readonly tempDir?: string;
  /** DICOM TLS (tls.ts, docs/security-hardening.md); absent = plain TCP. */
  readonly tls?: DimseTlsConfig;
}

export interface ResolvedServerConfig {
  readonly aeTitle: string;
  readonly host: string;
  readonly port: number;
  readonly peers: readonly DimsePeer[];
  readonly allow: readonly DimseAllowRule[];
  readonly maxPduLength: number;
  readonly maxAssociations: number;
  readonly associationMs: number;
  readonly idleMs: number;
  readonly tempDir: string;
  readonly tls: ResolvedTls | undefined;
}

export const DEFAULT_AE_TITLE = 'SECONDREADER';

function invalid(message: string, details: Record<string, unknown>): SrError {
  return new SrError('CONFIG_INVALID', `DIMSE configuration: ${message}`, { details });
}

/** PS3.5 AE VR: 1–16 characters of the default repertoire, no backslash, no control characters. */
export function checkAeTitle(value: unknown, field: string): string {
  const s = typeof value === 'string' ? value.trim() : '';
  // eslint-disable-next-line no-control-regex
  if (s.length === 0 || s.length > 16 || /[\\\x00-\x1f\x7f-\uffff]/.test(s)) {
    throw invalid(`${field} must be an AE title of 1 to 16 ASCII characters without backslash`, { field, value });
  }
  return s;
}

function checkPort(value: unknown, field: string, allowZero: boolean): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
    throw invalid(`${field} must be a TCP port number`, { field, value });
  }
  return value;
}

function checkPositive(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalid(`${field} must be a positive number`, { field, value });
  return value;
}

export function checkPeer(p: DimsePeer, field: string): DimsePeer {
  if (typeof p.host !== 'string' || p.host.trim() === '') throw invalid(`${field}.host is required`, { field });
  return { aeTitle: checkAeTitle(p.aeTitle, `${field}.aeTitle`), host: p.host.trim(), port: checkPort(p.port, `${field}.port`, false) };
}

function checkRule(r: DimseAllowRule, field: string): DimseAllowRule {
  if (r.aeTitle !== undefined && r.aeTitle !== '*') checkAeTitle(r.aeTitle, `${field}.aeTitle`);
  if (r.address !== undefined && !['*', 'loopback'].includes(r.address) && !isIP(r.address) && parseCidr(r.address) === undefined) {
    throw invalid(`${field}.address must be an IP, an IPv4 CIDR, 'loopback' or '*'`, { field, value: r.address });
  }
  return { ...(r.aeTitle !== undefined ? { aeTitle: r.aeTitle.trim() } : {}), ...(r.address !== undefined ? { address: r.address } : {}) };
}

export function resolveServerConfig(config: DimseServerConfig = {}): ResolvedServerConfig {
  const peers = (config.peers ?? []).map((p, i) => checkPeer(p, `peers[${i}]`));
  const seen = new Set<string>();
  for (const p of peers) {
    if (seen.has(p.aeTitle)) throw invalid(`peer AE title ${p.aeTitle} is listed twice`, { aeTitle: p.aeTitle });
    seen.add(p.aeTitle);
  }
  const allow = config.allow ? config.allow.map((r, i) => checkRule(r, `allow[${i}]`)) : peers.map((p) => ({ aeTitle: p.aeTitle, address: 'loopback' }));
  const maxPduLength = checkPositive(config.maxPduLength, 1 << 20, 'maxPduLength');
  if (maxPduLength < 4096 || maxPduLength > 16 * 1024 * 1024) throw invalid('maxPduLength must be between 4096 and 16 MiB', { value: maxPduLength });
  return {
    aeTitle: checkAeTitle(config.aeTitle ?? DEFAULT_AE_TITLE, 'aeTitle'),
    host: config.host ?? '127.0.0.1',
    port: checkPort(config.port ?? 11112, 'port', true),
    peers,
    allow,
    maxPduLength,
    maxAssociations: Math.floor(checkPositive(config.maxAssociations, 32, 'maxAssociations')),
    associationMs: checkPositive(config.timeouts?.associationMs, 30_000, 'timeouts.associationMs'),
    idleMs: checkPositive(config.timeouts?.idleMs, 120_000, 'timeouts.idleMs'),
    tempDir: config.tempDir ?? join(tmpdir(), 'secondreader-dimse'),
    tls: resolveTls(config.tls),
  };
}

function parseCidr(s: string): { base: number; bits: number } | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(s);
  if (!m || isIP(m[1] ?? '') !== 4) return undefined;
  const bits = Number(m[2]);
  if (bits > 32) return undefined;
  return { base: ipv4ToInt(m[1] ?? ''), bits };
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/** Strips the IPv4-mapped IPv6 prefix Node reports on dual-stack sockets. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function isLoopback(address: string): boolean {
  const a = normaliseAddress(address);
  return a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
}

function addressMatches(rule: string | undefined, address: string): boolean {
  if (rule === undefined || rule === '*') return true;
  if (rule === 'loopback') return isLoopback(address);
  const a = normaliseAddress(address);
  const cidr = parseCidr(rule);
  if (cidr) {
    if (isIP(a) !== 4) return false;
    const mask = cidr.bits === 0 ? 0 : (0xffffffff << (32 - cidr.bits)) >>> 0;
    return ((ipv4ToInt(a) & mask) >>> 0) === ((cidr.base & mask) >>> 0);
  }
  return normaliseAddress(rule) === a;
}

export function isAllowed(allow: readonly DimseAllowRule[], callingAe: string, address: string): boolean {
  return allow.some((r) => (r.aeTitle === undefined || r.aeTitle === '*' || r.aeTitle === callingAe) && addressMatches(r.address, address));
}
