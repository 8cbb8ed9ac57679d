/**
 * A raw DICOM upper-layer client (PS3.8) for the server process tests: it builds PDUs byte by byte so a test can
 * do what no well-behaved SCU does — stop in the middle of a data set, send a truncated P-DATA-TF, abort, or send
 * garbage — and observe exactly what the SCP answers.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export const VERIFICATION = '1.2.840.10008.1.1';
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';
const IMPLEMENTATION_UID = '1.2.826.0.1.3680043.10.1199.9';

export const PDU = { associateRq: 0x01, associateAc: 0x02, associateRj: 0x03, pData: 0x04, releaseRq: 0x05, releaseRp: 0x06, abort: 0x07 } as const;

function u16be(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

function u32be(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}

function item(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 0]), u16be(body.length), body]);
}

function pdu(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type, 0]), u32be(body.length), body]);
}

function ae(title: string): Buffer {
  return Buffer.from(title.padEnd(16, ' ').slice(0, 16), 'ascii');
}

export interface ContextProposal {
  /** Odd, 1–255. */
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

/** A-ASSOCIATE-RQ (PS3.8 9.3.2). */
export function associateRq(calledAe: string, callingAe: string, contexts: readonly ContextProposal[], maxPdu = 65536): Buffer {
  const pcs = contexts.map((c) =>
    item(0x20, Buffer.concat([
      Buffer.from([c.id, 0, 0, 0]),
      item(0x30, Buffer.from(c.abstractSyntax, 'ascii')),
      ...c.transferSyntaxes.map((t) => item(0x40, Buffer.from(t, 'ascii'))),
    ])));
  const userInfo = item(0x50, Buffer.concat([item(0x51, u32be(maxPdu)), item(0x52, Buffer.from(IMPLEMENTATION_UID, 'ascii'))]));
  return pdu(PDU.associateRq, Buffer.concat([
    u16be(1), Buffer.alloc(2), ae(calledAe), ae(callingAe), Buffer.alloc(32),
    item(0x10, Buffer.from(APPLICATION_CONTEXT, 'ascii')), ...pcs, userInfo,
  ]));
}

export interface Pdv {
  readonly contextId: number;
  readonly command: boolean;
  readonly last: boolean;
  readonly data: Uint8Array;
}

/** P-DATA-TF with the given PDVs (PS3.8 9.3.5). */
export function pData(pdvs: readonly Pdv[]): Buffer {
  return pdu(PDU.pData, Buffer.concat(pdvs.map((v) => Buffer.concat([
    u32be(v.data.length + 2), Buffer.from([v.contextId, (v.command ? 1 : 0) | (v.last ? 2 : 0)]), Buffer.from(v.data),
  ]))));
}

export const releaseRq = (): Buffer => pdu(PDU.releaseRq, Buffer.alloc(4));
export const abortRq = (): Buffer => pdu(PDU.abort, Buffer.alloc(4));

function element(group: number, elem: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(elem, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}

function uid(v: string): Buffer {
  const b = Buffer.from(v, 'ascii');
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([0])]);
}

function us(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
}

/** A DIMSE command set (implicit VR little endian, PS3.7 E.1) with its group length. */
function commandSet(elements: Buffer[]): Buffer {
  const body = Buffer.concat(elements);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length);
  return Buffer.concat([element(0x0000, 0x0000, len), body]);
}

export function cStoreRq(messageId: number, sopClassUid: string, sopInstanceUid: string): Buffer {
  return commandSet([
    element(0x0000, 0x0002, uid(sopClassUid)), element(0x0000, 0x0100, us(0x0001)), element(0x0000, 0x0110, us(messageId)),
    element(0x0000, 0x0700, us(0)), element(0x0000, 0x0800, us(0x0000)), element(0x0000, 0x1000, uid(sopInstanceUid)),
  ]);
}

export function cEchoRq(messageId: number): Buffer {
  return commandSet([
    element(0x0000, 0x0002, uid(VERIFICATION)), element(0x0000, 0x0100, us(0x0030)), element(0x0000, 0x0110, us(messageId)),
    element(0x0000, 0x0800, us(0x0101)),
  ]);
}

export interface ReceivedPdu {
  readonly type: number;
  readonly body: Buffer;
}

/** One TCP connection that reads whole PDUs. */
export class RawPeer {
  readonly socket: Socket;
  readonly closed: Promise<void>;
  private buf = Buffer.alloc(0);
  private readonly queue: ReceivedPdu[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      while (this.buf.length >= 6) {
        const len = this.buf.readUInt32BE(2);
        if (this.buf.length < 6 + len) break;
        this.queue.push({ type: this.buf[0] ?? 0, body: this.buf.subarray(6, 6 + len) });
        this.buf = this.buf.subarray(6 + len);
      }
      this.wake?.();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.ended = true;
        this.wake?.();
        resolve();
      });
    });
    socket.on('error', () => {
      // ECONNRESET after an abort is expected; 'close' follows and ends the peer.
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawPeer> {
    const socket = connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawPeer(socket);
  }

  async send(bytes: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => this.socket.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  /** The next whole PDU, or undefined once the connection has closed without one. */
  async next(timeoutMs = 30_000): Promise<ReceivedPdu | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.queue.shift();
      if (p) return p;
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no PDU within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens a connection and negotiates an association; throws unless the answer is A-ASSOCIATE-AC. */
export async function associate(port: number, calledAe: string, contexts: readonly ContextProposal[]): Promise<RawPeer> {
  const peer = await RawPeer.open(port);
  await peer.send(associateRq(calledAe, 'RAWPEER', contexts));
  const answer = await peer.next();
  if (answer?.type !== PDU.associateAc) {
    peer.destroy();
    throw new Error(`expected A-ASSOCIATE-AC, got ${answer ? `PDU type ${answer.type}` : 'a closed connection'}`);
  }
  return peer;
}

/** The Status (0000,0900) of a DIMSE response command set carried in a P-DATA-TF body, if there is one. */
export function responseStatus(pDataBody: Buffer): number | undefined {
  // PDV: length(4) context(1) header(1) data; the command set is implicit VR little endian.
  let p = 6;
  while (p + 8 <= pDataBody.length) {
    const group = pDataBody.readUInt16LE(p);
    const elem = pDataBody.readUInt16LE(p + 2);
    const len = pDataBody.readUInt32LE(p + 4);
    if (group === 0x0000 && elem === 0x0900) return pDataBody.readUInt16LE(p + 8);
    p += 8 + len;
  }
  return undefined;
}
