/**
 * The fuzz targets: the DICOM reader (full, header-only, the archive's indexing path, and frame decoding for a
 * subset), the P-DATA-TF / PDU parsing of the C-STORE path, the STOW-RS endpoint (in-process, app.inject) and a
 * real DIMSE association on loopback.
 */
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { isSrError } from '../core/errors.ts';
import { parseInstanceBytes } from '../archive/header.ts';
import { parseDicom } from '../dicom/index.ts';
import { readMultipart } from '../dicomweb/index.ts';
import type { DicomFile } from '../dicom/index.ts';
import { readCommand, splitPdvs } from '../dimse/pdata.ts';
import { PduFramer } from '../dimse/pdu-framer.ts';
import { RELEASE_RQ, associateRq, cStoreCommand, pdu, pdvPdu } from '../dimse/raw-pdu.ts';
import type { CorpusFile } from './corpus.ts';
import { CT_IMAGE_STORAGE, EXPLICIT_LE, IMPLICIT_LE, datasetOf } from './dimse-wire.ts';
import { mutateDicom } from './mutators.ts';
import { FuzzTimeout, OK, expectTyped, judgeError, withTimeout } from './oracle.ts';
import type { Outcome } from './oracle.ts';
import type { Rng } from './rng.ts';

// ---------- DICOM reader ----------

/**
 * parseDicom (full, header-only, and header-only on the first 64 KiB), parseInstanceBytes (the archive's hot path)
 * and, when `decode`, the first and last frame. The first problem found is the outcome; otherwise the first rejection code.
 */
export async function fuzzParse(bytes: Uint8Array, label: string, decode: boolean): Promise<Outcome> {
  let file: DicomFile | undefined;
  const full = await expectTyped(() => {
    file = parseDicom(bytes, label);
  });
  if (full.failure) return full;
  const head = await expectTyped(() => parseDicom(bytes, label, { headerOnly: true, fileSize: bytes.length }));
  if (head.failure) return head;
  // The C-STORE path parses the first 64 KiB of a temp file against the whole file's size (parseInstanceDigested).
  if (bytes.length > 65_536) {
    const cut = await expectTyped(() => parseDicom(bytes.subarray(0, 65_536), label, { headerOnly: true, fileSize: bytes.length }));
    if (cut.failure) return cut;
  }
  const indexed = await expectTyped(() => parseInstanceBytes(bytes, label));
  if (indexed.failure) return indexed;
  const parsed = file as DicomFile | undefined;
  if (decode && parsed && parsed.frameCount > 0) {
    let decoded = 'ok';
    for (const f of new Set([0, parsed.frameCount - 1])) {
      const d = await expectTyped(() => parsed.decodeFrame(f));
      if (d.failure) return d;
      if (d.result !== 'ok') decoded = d.result;
    }
    return { result: `${indexed.result}+decode:${decoded}` };
  }
  return full.result !== 'ok' ? full : indexed;
}

// ---------- P-DATA-TF / PDU framing ----------

/** Rejections the PDU layer makes on purpose (plain Errors by design: scp.ts turns them into a dropped association). */
const PDU_REJECTION = /^(P-DATA-TF:|Unknown PDU type|PDU length \d+ exceeds)/;

function mutateStream(rng: Rng, stream: Buffer): Buffer {
  const b = Buffer.from(stream);
  const n = rng.range(1, 6);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = rng.int(b.length);
    switch (rng.int(4)) {
      case 0: b[at] = (b[at] as number) ^ (1 << rng.int(8)); break;
      case 1: if (at + 4 <= b.length) b.writeUInt32BE(rng.pick([0, 1, 2, 0xffffffff, 0x7fffffff, rng.int(2 ** 32)]), at); break;
      case 2: b[at] = rng.pick([0x00, 0x01, 0x04, 0x07, 0x08, 0xff]); break;
      default: b.fill(rng.int(256), at, Math.min(b.length, at + rng.range(1, 16)));
    }
  }
  return rng.chance(0.2) ? b.subarray(0, rng.int(b.length + 1)) : b;
}

/** A C-STORE as P-DATA-TF PDUs: the command, then the data set cut into PDVs of random sizes. */
export function cStoreStream(rng: Rng, dicom: Uint8Array, messageId = 1): Buffer {
  const data = datasetOf(dicom);
  const parts: Buffer[] = [pdvPdu(true, true, cStoreCommand(messageId, CT_IMAGE_STORAGE, `1.2.826.0.1.3680043.10.999.${messageId}`))];
  const size = rng.pick([256, 4096, 16_000, 65_000]);
  for (let at = 0; at < data.length || at === 0; at += size) {
    const end = Math.min(data.length, at + size);
    parts.push(pdvPdu(false, end >= data.length, data.subarray(at, end)));
    if (end >= data.length) break;
  }
  return Buffer.concat(parts);
}

/** PduFramer over random chunking, splitPdvs on every P-DATA-TF, readCommand on every command PDV. */
export function fuzzPdata(rng: Rng, dicom: Uint8Array): Outcome {
  const stream = mutateStream(rng, cStoreStream(rng, dicom));
  const framer = new PduFramer(1 << 20);
  let result = 'ok';
  try {
    for (let at = 0; at < stream.length;) {
      const n = rng.range(1, 70_000);
      for (const p of framer.push(stream.subarray(at, at + n))) {
        if (p[0] !== 0x04) continue;
        for (const pdv of splitPdvs(p)) {
          if (pdv.command && readCommand(pdv.value) === undefined) result = 'bad-command';
        }
      }
      at += n;
    }
  } catch (e) {
    if (!isSrError(e, 'DIMSE_PROTOCOL_ERROR') || !PDU_REJECTION.test(e.message)) return judgeError(e);
    return { result: e.message.replace(/\d+/g, 'N').slice(0, 60) };
  }
  return { result };
}

// ---------- STOW-RS ----------

export const STOW_BOUNDARY = 'fuzz-boundary-4e2a';

export interface StowRequest {
  readonly headers: Record<string, string>;
  readonly payload: Buffer;
  readonly ops: readonly string[];
}

/** A multipart/related body of one to three mutated instances, with mutated framing half of the time. */
export function stowRequest(rng: Rng, corpus: readonly CorpusFile[]): StowRequest {
  const ops: string[] = [];
  const n = rng.range(1, 3);
  const chunks: Buffer[] = [];
  let boundary = STOW_BOUNDARY;
  if (rng.chance(0.2)) chunks.push(Buffer.from('preamble text\r\n'));
  for (let i = 0; i < n; i++) {
    const m = rng.chance(0.15) ? { bytes: rng.pick(corpus).bytes, ops: ['original'], base: '' } : mutateDicom(rng, corpus);
    ops.push(`part${i + 1}: ${m.base} ${m.ops.join(', ')}`);
    let head = `--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`;
    if (rng.chance(0.15)) {
      const f = rng.int(6);
      head = [
        `--${boundary}\r\nContent-Type: text/plain\r\n\r\n`,
        `--${boundary}\r\n${'X-Junk: '.padEnd(70_000, 'a')}\r\n\r\n`,
        `--${boundary}   \t\r\n\r\n`,
        `--${boundary}xyz\r\nContent-Type: application/dicom\r\n\r\n`,
        `--${boundary}\r\nContent-Type: application/dicom; transfer-syntax=1.2.3\r\nContent-Type\r\n\r\n`,
        `--${boundary}${' '.repeat(2000)}\r\n\r\n`,
      ][f] as string;
      ops.push(`part${i + 1} header #${f}`);
    }
    chunks.push(Buffer.from(head, 'latin1'), Buffer.from(m.bytes), Buffer.from('\r\n'));
  }
  if (!rng.chance(0.1)) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  else ops.push('no close delimiter');
  let payload = Buffer.concat(chunks);
  if (rng.chance(0.2)) {
    const f = rng.int(4);
    if (f === 0) payload = payload.subarray(0, rng.int(payload.length + 1));
    else if (f === 1) for (let k = 0; k < 8; k++) { const at = rng.int(Math.max(1, payload.length)); if (at < payload.length) payload[at] = rng.int(256); }
    else if (f === 2) payload = Buffer.concat([payload, Buffer.from(`--${boundary}\r\n\r\nepilogue`)]);
    else payload = Buffer.alloc(0);
    ops.push(`body framing #${f}`);
  }
  let contentType = `multipart/related; type="application/dicom"; boundary=${boundary}`;
  if (rng.chance(0.1)) {
    const f = rng.int(6);
    boundary = ['', 'x'.repeat(300), 'other', `"${STOW_BOUNDARY}"`, STOW_BOUNDARY, STOW_BOUNDARY][f] as string;
    contentType = [
      `multipart/related; type="application/dicom"; boundary=${boundary}`,
      `multipart/related; boundary=${boundary}`,
      `multipart/related; type="application/dicom"; boundary=${boundary}`,
      `multipart/related; type="application/dicom"; boundary=${boundary}`,
      `multipart/related; type="application/dicom+json"; boundary=${boundary}`,
      'application/dicom',
    ][f] as string;
    ops.push(`content-type #${f}`);
  }
  return { headers: { 'content-type': contentType, accept: 'application/dicom+json' }, payload, ops };
}

/**
 * The multipart reader alone over the same body cut into random chunks (what a slow client's TCP reads look like;
 * app.inject delivers one chunk): only SrErrors may come out.
 */
export async function fuzzMultipart(rng: Rng, req: StowRequest): Promise<Outcome> {
  const cuts: Buffer[] = [];
  for (let at = 0; at < req.payload.length;) {
    const n = rng.pick([1, 7, 64, 1500, 16_384, 100_000]);
    cuts.push(req.payload.subarray(at, at + n));
    at += n;
  }
  async function* chunks(): AsyncGenerator<Buffer> {
    yield* cuts;
  }
  return expectTyped(async () => {
    for await (const part of readMultipart(chunks(), STOW_BOUNDARY, { maxBytes: 8 * 1024 * 1024, maxHeaderBytes: 64 * 1024 })) void part;
  });
}

/** POST /dicom-web/studies: any status below 500 is a proper answer; 5xx or no answer in time is a failure. */
export async function fuzzStow(app: FastifyInstance, req: StowRequest, timeoutMs: number): Promise<Outcome> {
  try {
    const r = await withTimeout(app.inject({ method: 'POST', url: '/dicom-web/studies', headers: req.headers, payload: req.payload }), timeoutMs, 'STOW-RS request');
    if (r.statusCode >= 500) return { result: String(r.statusCode), failure: { kind: 'server-error', message: `HTTP ${r.statusCode}: ${r.body.slice(0, 500)}` } };
    return { result: String(r.statusCode) };
  } catch (e) {
    if (e instanceof FuzzTimeout) return { result: 'timeout', failure: { kind: 'timeout', message: e.message } };
    return { result: 'untyped', failure: { kind: 'uncaught', message: e instanceof Error ? (e.stack ?? e.message) : String(e) } };
  }
}

// ---------- a real association ----------

/**
 * Associates with the SCP on loopback as FUZZSCU, sends a (possibly mutated) C-STORE stream in random write sizes,
 * then A-RELEASE-RQ. The SCP may answer, abort or drop the connection: all fine. It must not take the process down
 * (an uncaught exception fails the run) and must still serve afterwards (the harness checks with a C-ECHO).
 */
export async function fuzzAssociation(rng: Rng, port: number, aeTitle: string, dicom: Uint8Array, waitMs: number): Promise<Outcome> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const received: Buffer[] = [];
  /** PDU types received so far (0x02 AC, 0x03 RJ, 0x04 P-DATA, 0x06 release RP, 0x07 abort). */
  const types: number[] = [];
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  socket.on('data', (c: Buffer) => {
    received.push(c);
    let all = Buffer.concat(received);
    while (all.length >= 6 && all.length >= 6 + all.readUInt32BE(2)) {
      types.push(all[0] as number);
      all = all.subarray(6 + all.readUInt32BE(2));
    }
    received.length = 0;
    if (all.length > 0) received.push(all);
    wake?.();
  });
  socket.on('error', (e: unknown) => e); // resets are expected: the SCP drops connections it does not like
  /** Until `pred` holds, the socket closes, or `ms` pass. */
  const until = async (pred: () => boolean, ms: number): Promise<void> => {
    const deadline = Date.now() + ms;
    while (!pred() && !closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(1, deadline - Date.now()));
      });
    }
  };
  try {
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    }), waitMs, 'TCP connect');
    socket.write(associateRq('FUZZSCU', aeTitle, CT_IMAGE_STORAGE, rng.chance(0.5) ? [EXPLICIT_LE, IMPLICIT_LE] : [EXPLICIT_LE]));
    await until(() => types.length > 0, waitMs);
    if (types[0] !== 0x02) return { result: closed ? 'not-accepted' : 'no-accept' , ...(closed ? {} : { failure: { kind: 'timeout', message: `no A-ASSOCIATE-AC within ${waitMs} ms` } }) };
    let stream = cStoreStream(rng, dicom, rng.range(1, 65535));
    if (rng.chance(0.6)) stream = mutateStream(rng, stream);
    if (rng.chance(0.1)) stream = Buffer.concat([stream, pdu(rng.pick([0x01, 0x02, 0x03, 0x06, 0x07, 0x09]), Buffer.alloc(rng.int(80)))]);
    for (let at = 0; at < stream.length && !closed;) {
      const n = rng.range(1, 100_000);
      socket.write(stream.subarray(at, at + n));
      at += n;
    }
    // A requestor releases once its operations are answered (PS3.8 7.2); a mutated stream may never be answered.
    await until(() => types.includes(0x04), 500);
    if (!closed) socket.write(RELEASE_RQ);
    await until(() => types.includes(0x06) || types.includes(0x07), waitMs);
    const end = closed ? 'dropped' : types.includes(0x07) ? 'aborted' : types.includes(0x06) ? 'released' : 'left-open';
    return { ...OK, result: `${types.includes(0x04) ? 'answered-' : ''}${end}` };
  } catch (e) {
    if (e instanceof FuzzTimeout) return { result: 'connect-timeout', failure: { kind: 'server-dead', message: e.message } };
    return { result: 'connect-error', failure: { kind: 'server-dead', message: e instanceof Error ? e.message : String(e) } };
  } finally {
    socket.destroy();
  }
}
