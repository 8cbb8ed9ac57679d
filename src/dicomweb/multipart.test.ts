import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { readMultipart, writeMultipart, type Part } from './multipart.ts';

async function collect(chunks: Buffer[], boundary: string, maxBytes = 1 << 20): Promise<Part[]> {
  const out: Part[] = [];
  for await (const p of readMultipart(Readable.from(chunks), boundary, { maxBytes })) out.push(p);
  return out;
}

const B = 'xyz-boundary';
function body(parts: string[], { preamble = '', epilogue = '', padding = '' } = {}): Buffer {
  let s = preamble;
  for (const p of parts) s += `--${B}${padding}\r\nContent-Type: application/dicom\r\n\r\n${p}\r\n`;
  return Buffer.from(`${s}--${B}--${epilogue}`, 'latin1');
}

describe('readMultipart', () => {
  it('yields every part whatever the chunking (split at every byte position)', async () => {
    // Part bodies that contain CRLF, dashes and a near-boundary must come out intact.
    const parts = ['hello', `a\r\n--${B.slice(0, 5)}x\r\n--`, '', 'z'.repeat(300)];
    const whole = body(parts, { preamble: 'ignored preamble\r\n', epilogue: '\r\nignored epilogue', padding: ' \t' });
    for (let cut = 1; cut < whole.length; cut += 7) {
      const got = await collect([whole.subarray(0, cut), whole.subarray(cut)], B);
      assert.deepEqual(got.map((p) => p.body.toString('latin1')), parts, `cut at ${cut}`);
    }
    const bytewise = await collect([...whole].map((b) => Buffer.from([b])), B);
    assert.deepEqual(bytewise.map((p) => p.body.toString('latin1')), parts);
    assert.equal(bytewise[0]?.headers['content-type'], 'application/dicom');
  });

  it('accepts a part without headers', async () => {
    const got = await collect([Buffer.from(`--${B}\r\n\r\nraw\r\n--${B}--`)], B);
    assert.deepEqual(got.map((p) => [p.headers, p.body.toString()]), [[{}, 'raw']]);
  });

  it('yields the complete parts, then fails with HTTP_BODY_TRUNCATED when the close delimiter never comes', async () => {
    const whole = body(['one', 'two', 'three']);
    const cut = whole.subarray(0, whole.indexOf('three') + 2);
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const p of readMultipart(Readable.from([cut]), B, { maxBytes: 1 << 20 })) seen.push(p.body.toString());
    }, (e: unknown) => isSrError(e, 'HTTP_BODY_TRUNCATED') && e.details['partsCompleted'] === 2);
    assert.deepEqual(seen, ['one', 'two']);
  });

  it('fails with HTTP_PAYLOAD_TOO_LARGE as soon as the limit is passed', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      yield Buffer.from(`--${B}\r\n\r\n`);
      for (;;) {
        pulled++;
        yield Buffer.alloc(1024, 0x41);
      }
    }
    await assert.rejects(async () => {
      for await (const p of readMultipart(endless(), B, { maxBytes: 10_000 })) void p;
    }, (e: unknown) => isSrError(e, 'HTTP_PAYLOAD_TOO_LARGE'));
    assert.ok(pulled <= 11, `stopped reading after the limit (pulled ${pulled} KiB)`);
  });

  it('rejects a body with no boundary and text glued to a boundary', async () => {
    await assert.rejects(collect([Buffer.from('no multipart here')], B), (e: unknown) => isSrError(e, 'HTTP_BAD_REQUEST'));
    await assert.rejects(collect([Buffer.from(`--${B}garbage\r\n\r\nx\r\n--${B}--`)], B), (e: unknown) => isSrError(e, 'HTTP_BAD_REQUEST'));
  });

  it('reads back what writeMultipart writes', async () => {
    const parts = [Buffer.from('first'), Buffer.alloc(5000, 7), Buffer.from('')];
    const chunks: Buffer[] = [];
    for await (const c of writeMultipart(B, parts.map((b) => ({ contentType: 'application/octet-stream', body: b })))) chunks.push(c);
    const got = await collect(chunks, B);
    assert.deepEqual(got.map((p) => p.body), parts);
  });
});
