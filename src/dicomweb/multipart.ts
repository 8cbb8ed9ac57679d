/**
 * multipart/related (RFC 2387) on the RFC 2046 5.1 multipart syntax, both ways.
 *
 * Reading is streaming: parts are yielded as soon as their closing delimiter has arrived, while the rest of
 * the body is still on the wire, so a STOW of a thousand instances never holds more than one part (plus a
 * delimiter-sized tail) in memory. The byte limit is checked on every chunk before it is looked at; a body
 * that ends before the close delimiter is an error *after* every complete part has been yielded, which lets
 * the caller store or reject each complete part and never sees a half part.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SrError } from '../core/errors.ts';

export interface Part {
  /** Header names lower-case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export interface ReadMultipartOptions {
  /** Hard limit on the whole body in bytes (preamble and epilogue included). */
  readonly maxBytes: number;
  /** Limit on one part's header block. */
  readonly maxHeaderBytes?: number;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

function parseHeaders(block: string): Record<string, string> {
  const out: Record<string, string> = {};
  // RFC 5322 unfolding: a line starting with white space continues the previous one.
  for (const line of block.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const c = line.indexOf(':');
    if (c <= 0) continue;
    out[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return out;
}

function bad(message: string): SrError {
  return new SrError('HTTP_BAD_REQUEST', `multipart body: ${message}`);
}

function tooLarge(maxBytes: number, parts: number): SrError {
  return new SrError('HTTP_PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes`, {
    details: { limitBytes: maxBytes, partsCompleted: parts },
  });
}

type State = 'preamble' | 'after-delimiter' | 'headers' | 'body' | 'epilogue';

/**
 * Parts of a multipart body, in order. Throws SrError HTTP_PAYLOAD_TOO_LARGE (limit passed), HTTP_BODY_TRUNCATED
 * (stream ended or aborted before the close delimiter) or HTTP_BAD_REQUEST (not multipart syntax).
 */
export async function* readMultipart(
  stream: AsyncIterable<Buffer | Uint8Array | string>, boundary: string, options: ReadMultipartOptions,
): AsyncGenerator<Part> {
  // RFC 2046 caps boundaries at 70 characters, but Orthanc's DICOMweb plugin (1.7) sends 73: accept up to 200.
  if (boundary.length < 1 || boundary.length > 200) throw bad(`boundary must be 1 to 200 characters, got ${boundary.length}`);
  const maxHeader = options.maxHeaderBytes ?? 64 * 1024;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first delimiter may open the body with no CRLF before it: pretend there was one.
  let buf: Buffer = Buffer.from(CRLF);
  let state: State = 'preamble';
  let total = 0;
  let headers: Record<string, string> = {};
  let body: Buffer[] = [];
  let parts = 0;
  try {
    for await (const raw of stream) {
      let chunk = typeof raw === 'string' ? Buffer.from(raw, 'latin1') : Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
      // Past the limit: the bytes up to it are still parsed (parts complete within the limit count), then stop.
      const over = total + chunk.length > options.maxBytes;
      if (over) chunk = chunk.subarray(0, Math.max(0, options.maxBytes - total));
      total += chunk.length;
      if (state === 'epilogue') {
        if (over) throw tooLarge(options.maxBytes, parts);
        continue;
      }
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (state === 'preamble') {
          const i = buf.indexOf(delimiter);
          if (i < 0) {
            // Keep a tail that could hold the start of the delimiter.
            if (buf.length > delimiter.length) buf = buf.subarray(buf.length - delimiter.length + 1);
            break;
          }
          buf = buf.subarray(i + delimiter.length);
          state = 'after-delimiter';
        } else if (state === 'after-delimiter') {
          if (buf.length < 2) break;
          if (buf[0] === 0x2d && buf[1] === 0x2d) {
            state = 'epilogue';
            buf = Buffer.alloc(0);
            break;
          }
          // Transport padding (RFC 2046: linear white space) before the CRLF.
          let p = 0;
          while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
          if (p + 2 > buf.length) {
            if (p > 1024) throw bad('endless transport padding after a boundary');
            break;
          }
          if (buf[p] !== 0x0d || buf[p + 1] !== 0x0a) throw bad('a boundary delimiter is followed by text (the boundary occurs inside a part?)');
          buf = buf.subarray(p + 2);
          state = 'headers';
        } else if (state === 'headers') {
          if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) {
            headers = {};
            buf = buf.subarray(2);
            state = 'body';
            body = [];
            continue;
          }
          const i = buf.indexOf(HEADER_END);
          if (i < 0) {
            if (buf.length > maxHeader) throw bad(`part headers longer than ${maxHeader} bytes`);
            break;
          }
          headers = parseHeaders(buf.subarray(0, i).toString('latin1'));
          buf = buf.subarray(i + 4);
          state = 'body';
          body = [];
        } else if (state === 'body') {
          const i = buf.indexOf(delimiter);
          if (i < 0) {
            const keep = delimiter.length - 1;
            if (buf.length > keep) {
              // Copy: the chunk's memory is reused by some streams, and the part outlives it.
              body.push(Buffer.from(buf.subarray(0, buf.length - keep)));
              buf = buf.subarray(buf.length - keep);
            }
            break;
          }
          body.push(Buffer.from(buf.subarray(0, i)));
          buf = buf.subarray(i + delimiter.length);
          state = 'after-delimiter';
          parts++;
          const part: Part = { headers, body: body.length === 1 ? (body[0] as Buffer) : Buffer.concat(body) };
          body = [];
          yield part;
        } else break;
      }
      if (over) throw tooLarge(options.maxBytes, parts);
    }
  } catch (e) {
    if (e instanceof SrError) throw e;
    // A client that disconnects mid-body surfaces as an 'aborted' / ECONNRESET stream error.
    throw new SrError('HTTP_BODY_TRUNCATED', `request body stream failed after ${total} bytes: ${e instanceof Error ? e.message : String(e)}`, {
      cause: e, details: { receivedBytes: total, partsCompleted: parts },
    });
  }
  if (state !== 'epilogue') {
    if (state === 'preamble' && parts === 0) throw bad(`no boundary delimiter "--${boundary}" found in ${total} bytes`);
    throw new SrError('HTTP_BODY_TRUNCATED', `request body ended after ${total} bytes, before the closing boundary`, {
      details: { receivedBytes: total, partsCompleted: parts },
    });
  }
}

export function newBoundary(): string {
  return `sr-${randomBytes(12).toString('hex')}`;
}

export interface OutPart {
  readonly contentType: string;
  readonly contentLocation?: string;
  /** Bytes, or a stream (a blob read from the store) that is piped through. */
  readonly body: Uint8Array | Readable | (() => Readable);
}

/** A multipart/related body: each part as it comes, then the close delimiter. */
export async function* writeMultipart(boundary: string, parts: AsyncIterable<OutPart> | Iterable<OutPart>): AsyncGenerator<Buffer> {
  for await (const part of parts) {
    let head = `--${boundary}\r\nContent-Type: ${part.contentType}\r\n`;
    if (part.contentLocation) head += `Content-Location: ${part.contentLocation}\r\n`;
    yield Buffer.from(head + '\r\n', 'latin1');
    const b = typeof part.body === 'function' ? part.body() : part.body;
    if (b instanceof Uint8Array) yield Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else for await (const c of b) yield Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
    yield CRLF;
  }
  yield Buffer.from(`--${boundary}--\r\n`, 'latin1');
}

/** The boundary parameter of a multipart Content-Type, or undefined. */
export function boundaryOf(params: Readonly<Record<string, string>>): string | undefined {
  const b = params['boundary'];
  return b !== undefined && b !== '' ? b : undefined;
}
