/**
 * Hostile and broken peers against a running `secondreader serve` process (the module tests of src/dimse and
 * src/dicomweb check the handlers; this checks the process): garbage on the DICOM port, a truncated P-DATA-TF, an
 * A-ABORT and a killed storescu in the middle of a data set, an undecodable data set, a STOW body cut short and
 * STOW bodies over the configured limit. Each is rejected with a status where the protocol has one, leaves a log
 * line saying what happened, leaves no partial file, and the server keeps serving what it stored before.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EXPLICIT_VR_LE, PDU, RawPeer, abortRq, associate, cStoreRq, pData, responseStatus } from '../bench/ingest-pdu.ts';
import { echoscu, runStorescu, startServe } from '../bench/ingest-procs.ts';
import type { LogLine, ServeProcess } from '../bench/ingest-procs.ts';
import { CT_IMAGE_STORAGE_UID, datasetOffset, datasetSha256, writeCtSet } from '../bench/ingest-synth.ts';
import type { SourceInstance } from '../bench/ingest-synth.ts';

const MAX_UPLOAD = 256 * 1024;
const CT_CONTEXT = [{ id: 1, abstractSyntax: CT_IMAGE_STORAGE_UID, transferSyntaxes: [EXPLICIT_VR_LE] }];
const BOUNDARY = 'sr-robustness-boundary';
const STOW_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

function multipart(files: readonly Buffer[]): Buffer[] {
  return [...files.flatMap((b) => [Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), b, Buffer.from('\r\n')]), Buffer.from(`--${BOUNDARY}--\r\n`)];
}

/** HTTP by hand: a test needs to lie about Content-Length and to hang up mid-body. Returns what came back. */
async function rawHttp(url: string, head: string, chunks: readonly Buffer[], end: 'destroy' | 'half-close' | 'keep'): Promise<string> {
  const u = new URL(url);
  const sock = connect({ port: Number(u.port), host: u.hostname, allowHalfOpen: true });
  let got = '';
  sock.on('data', (c: Buffer) => (got += c.toString('latin1')));
  sock.on('error', () => {
    // EPIPE / ECONNRESET once the server has answered and closed: expected for a rejected upload.
  });
  // allowHalfOpen (to half-close while still reading) means the server's FIN no longer closes our side: do it.
  sock.on('end', () => sock.end());
  const closed = new Promise<void>((resolve) => sock.on('close', () => resolve()));
  await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
  sock.write(head);
  for (const c of chunks) {
    if (sock.destroyed) break;
    await new Promise<void>((resolve) => sock.write(c, () => resolve()));
  }
  if (end === 'destroy') {
    // Give the server the bytes before the hang-up, as a client whose network dies would have.
    await new Promise((r) => setTimeout(r, 500));
    sock.destroy();
  } else if (end === 'half-close') sock.end();
  await Promise.race([closed, new Promise((r) => setTimeout(r, 30_000))]);
  sock.destroy();
  return got;
}

describe('serve keeps serving under malformed and aborted input', { timeout: 15 * 60_000 }, () => {
  let root = '';
  let server: ServeProcess | undefined;
  let baseline: SourceInstance[] = [];
  let big: SourceInstance[] = [];
  let killed: SourceInstance[] = [];

  const srv = (): ServeProcess => {
    assert.ok(server, 'server not started');
    return server;
  };
  // Files only: the server keeps one folder per process under incoming/ (hostname-pid).
  const incoming = async (): Promise<string[]> =>
    (await readdir(join(root, 'data', 'incoming'), { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
  const logMatch = (from: number, m: (l: LogLine) => boolean): Promise<LogLine> =>
    srv().waitForLog((l) => srv().logs().indexOf(l) >= from && m(l), 30_000);

  async function instanceStatus(s: SourceInstance): Promise<{ status: number; datasetSha?: string }> {
    const url = `${srv().httpUrl}/dicom-web/studies/${s.studyInstanceUid}/series/${s.seriesInstanceUid}/instances/${s.sopInstanceUid}`;
    const res = await fetch(url, { headers: { ...srv().authHeaders, accept: 'application/dicom' }, signal: AbortSignal.timeout(30_000) });
    const body = new Uint8Array(await res.arrayBuffer());
    return res.status === 200 ? { status: 200, datasetSha: datasetSha256(body) } : { status: res.status };
  }

  /** C-ECHO, /api/v1/health, every baseline instance retrievable unchanged, and no partial file in incoming/. */
  async function assertStillServing(what: string): Promise<void> {
    const echo = await echoscu(srv().dicomPort, srv().aeTitle);
    assert.ok(echo.ok, `C-ECHO after ${what}:\n${echo.output}`);
    const health = await fetch(`${srv().httpUrl}/api/v1/health`, { signal: AbortSignal.timeout(20_000) });
    assert.equal(health.status, 200, `health after ${what}: ${await health.text()}`);
    for (const s of baseline) assert.deepEqual(await instanceStatus(s), { status: 200, datasetSha: s.datasetSha256 }, `baseline instance after ${what}`);
    // The SCP discards a partial instance once its association has closed: wait for that, then nothing may remain.
    const deadline = Date.now() + 30_000;
    while ((await incoming()).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await incoming(), [], `partial files left in incoming/ after ${what}`);
  }

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sr-robust-'));
    baseline = await writeCtSet({ outDir: join(root, 'baseline'), series: 1, slicesPerSeries: 8, matrix: 64, seed: 'robust-base' });
    // 256×256 slices (~130 KB): big enough to be cut in the middle, two of them exceed MAX_UPLOAD.
    big = await writeCtSet({ outDir: join(root, 'big'), series: 1, slicesPerSeries: 16, matrix: 256, seed: 'robust-big' });
    // Sent by a storescu that is killed after a few files: a folder of its own, so it never touches `big`.
    killed = await writeCtSet({ outDir: join(root, 'killed'), series: 1, slicesPerSeries: 30, matrix: 256, seed: 'robust-killed' });
    server = await startServe({ dataDir: join(root, 'data'), env: { SECONDREADER_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
    const run = runStorescu({ port: server.dicomPort, calledAe: server.aeTitle, inputs: [join(root, 'baseline')] });
    assert.equal((await run.exited).code, 0, run.logTail().join('\n'));
    assert.equal(run.acked.length, baseline.length);
  });

  after(async () => {
    await server?.kill();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('garbage bytes on the DICOM port: connection closed, logged', async () => {
    const from = srv().logs().length;
    const peer = await RawPeer.open(srv().dicomPort);
    await peer.send(Buffer.from('GET / HTTP/1.1\r\nHost: secondreader\r\n\r\n'));
    const answer = await peer.next(30_000);
    // PS3.8 9.3.8: an unrecognized PDU may be answered with A-ABORT; either way the connection must end.
    assert.ok(answer === undefined || answer.type === PDU.abort, `unexpected PDU type ${answer?.type}`);
    await peer.closed;
    await logMatch(from, (l) => l.msg === 'dimse connection error' && /PDU/i.test(String(l['error'])));
    await assertStillServing('garbage bytes');
  });

  test('A-ASSOCIATE-RQ, then a truncated P-DATA-TF and a closed socket: partial instance discarded, logged', async () => {
    const from = srv().logs().length;
    const s = big[0];
    assert.ok(s);
    const bytes = await readFile(s.path);
    const ds = bytes.subarray(datasetOffset(bytes));
    const peer = await associate(srv().dicomPort, srv().aeTitle, CT_CONTEXT);
    await peer.send(pData([{ contextId: 1, command: true, last: true, data: cStoreRq(1, CT_IMAGE_STORAGE_UID, s.sopInstanceUid) }]));
    await peer.send(pData([{ contextId: 1, command: false, last: false, data: ds.subarray(0, 16_000) }]));
    // A P-DATA-TF whose header promises the rest of the data set, of which only 4,000 bytes ever arrive.
    const rest = pData([{ contextId: 1, command: false, last: true, data: ds.subarray(16_000) }]);
    await peer.send(rest.subarray(0, 4000));
    peer.destroy();
    await logMatch(from, (l) => l.msg === 'dimse C-STORE interrupted, partial instance discarded');
    await assertStillServing('a truncated P-DATA-TF');
    assert.equal((await instanceStatus(s)).status, 404, 'the half-sent instance is not stored');
  });

  test('A-ABORT in the middle of a data set: partial instance discarded, logged', async () => {
    const from = srv().logs().length;
    const s = big[1];
    assert.ok(s);
    const bytes = await readFile(s.path);
    const peer = await associate(srv().dicomPort, srv().aeTitle, CT_CONTEXT);
    await peer.send(pData([{ contextId: 1, command: true, last: true, data: cStoreRq(1, CT_IMAGE_STORAGE_UID, s.sopInstanceUid) }]));
    await peer.send(pData([{ contextId: 1, command: false, last: false, data: bytes.subarray(datasetOffset(bytes), datasetOffset(bytes) + 16_000) }]));
    await peer.send(abortRq());
    await peer.closed;
    await logMatch(from, (l) => l.msg === 'dimse association aborted by the peer');
    await logMatch(from, (l) => l.msg === 'dimse C-STORE interrupted, partial instance discarded');
    await assertStillServing('an A-ABORT');
    assert.equal((await instanceStatus(s)).status, 404, 'the aborted instance is not stored');
  });

  test('an undecodable data set: C-STORE answered with a failure status (0xC000), logged with its code', async () => {
    const from = srv().logs().length;
    const sop = '1.2.826.0.1.3680043.10.1199.77.1';
    const peer = await associate(srv().dicomPort, srv().aeTitle, CT_CONTEXT);
    await peer.send(pData([{ contextId: 1, command: true, last: true, data: cStoreRq(7, CT_IMAGE_STORAGE_UID, sop) }]));
    await peer.send(pData([{ contextId: 1, command: false, last: true, data: Buffer.from('this is not a DICOM data set, only text.') }]));
    const answer = await peer.next(30_000);
    peer.destroy();
    assert.equal(answer?.type, PDU.pData);
    assert.equal(responseStatus(answer.body), 0xc000, 'Failure: Cannot understand (PS3.4 B.2.3)');
    const line = await logMatch(from, (l) => l.msg === 'dimse C-STORE refused' && l['sopInstanceUid'] === sop);
    assert.match(String(line['code']), /^DICOM_/);
    await assertStillServing('an undecodable data set');
  });

  test('storescu killed in the middle of a transfer: what it saw acknowledged is kept', async () => {
    const run = runStorescu({
      port: srv().dicomPort, calledAe: srv().aeTitle, inputs: [join(root, 'killed')],
      onAck: (n) => {
        if (n === 3) run.child.kill('SIGKILL');
      },
    });
    const exit = await run.exited;
    assert.equal(exit.signal, 'SIGKILL', `storescu finished before it was killed:\n${run.logTail().slice(-10).join('\n')}`);
    await assertStillServing('a killed storescu');
    const byPath = new Map(killed.map((s) => [s.path, s]));
    for (const p of run.acked) {
      const s = byPath.get(p);
      assert.ok(s);
      assert.deepEqual(await instanceStatus(s), { status: 200, datasetSha: s.datasetSha256 }, `acknowledged ${p}`);
    }
  });

  test('STOW-RS body shorter than its Content-Length, then the connection dropped: logged as truncated', async () => {
    const from = srv().logs().length;
    const [a, b] = [big[2], big[3]];
    assert.ok(a && b);
    const parts = multipart([await readFile(a.path), await readFile(b.path)]);
    const body = Buffer.concat(parts);
    // The second instance is cut in the middle; 40 KB more are announced than sent (still within the size limit).
    const sent = body.subarray(0, body.length - 72_000);
    const declared = sent.length + 40_000;
    assert.ok(declared < MAX_UPLOAD);
    const head = `POST /dicom-web/studies HTTP/1.1\r\nHost: sr\r\nAuthorization: ${srv().authHeaders['authorization'] ?? ''}\r\nContent-Type: ${STOW_TYPE}\r\nAccept: application/dicom+json\r\nContent-Length: ${declared}\r\n\r\n`;
    await rawHttp(srv().httpUrl, head, [sent], 'destroy');
    await logMatch(from, (l) => l.code === 'HTTP_BODY_TRUNCATED');
    await assertStillServing('a truncated STOW-RS body');
    assert.equal((await instanceStatus(b)).status, 404, 'the cut instance is not stored');
  });

  test('STOW-RS body cut short by a half-close: 400 and logged', async () => {
    const from = srv().logs().length;
    const c = big[4];
    assert.ok(c);
    const body = Buffer.concat(multipart([await readFile(c.path)]));
    const head = `POST /dicom-web/studies HTTP/1.1\r\nHost: sr\r\nAuthorization: ${srv().authHeaders['authorization'] ?? ''}\r\nContent-Type: ${STOW_TYPE}\r\nAccept: application/dicom+json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const got = await rawHttp(srv().httpUrl, head, [body.subarray(0, 50_000)], 'half-close');
    assert.match(got, /^HTTP\/1\.1 400 /, got.slice(0, 200));
    await logMatch(from, (l) => l.code === 'HTTP_BODY_TRUNCATED');
    await assertStillServing('a half-closed STOW-RS body');
    assert.equal((await instanceStatus(c)).status, 404);
  });

  test('STOW-RS over the size limit, declared in Content-Length: 413 before the body is read', async () => {
    const from = srv().logs().length;
    const files = big.slice(5, 8);
    const body = Buffer.concat(multipart(await Promise.all(files.map((f) => readFile(f.path)))));
    assert.ok(body.length > MAX_UPLOAD);
    const res = await fetch(`${srv().httpUrl}/dicom-web/studies`, {
      method: 'POST', body, headers: { ...srv().authHeaders, 'content-type': STOW_TYPE, accept: 'application/dicom+json' }, signal: AbortSignal.timeout(30_000),
    });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code?: string }).code, 'HTTP_PAYLOAD_TOO_LARGE');
    await logMatch(from, (l) => l.code === 'HTTP_PAYLOAD_TOO_LARGE');
    await assertStillServing('an oversize STOW-RS (declared)');
    for (const f of files) assert.equal((await instanceStatus(f)).status, 404, 'nothing of a refused request is stored');
  });

  test('STOW-RS over the size limit, chunked: 413 once the limit is passed, nothing beyond it stored', async () => {
    const from = srv().logs().length;
    const files = big.slice(8, 12);
    const parts = multipart(await Promise.all(files.map((f) => readFile(f.path))));
    const chunked = parts.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')]));
    const head = `POST /dicom-web/studies HTTP/1.1\r\nHost: sr\r\nAuthorization: ${srv().authHeaders['authorization'] ?? ''}\r\nContent-Type: ${STOW_TYPE}\r\nAccept: application/dicom+json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const got = await rawHttp(srv().httpUrl, head, [...chunked, Buffer.from('0\r\n\r\n')], 'keep');
    assert.match(got, /^HTTP\/1\.1 413 /, got.slice(0, 200));
    assert.match(got, /HTTP_PAYLOAD_TOO_LARGE/);
    await logMatch(from, (l) => l.code === 'HTTP_PAYLOAD_TOO_LARGE');
    await assertStillServing('an oversize STOW-RS (chunked)');
    // Parts wholly inside the limit may be stored (and are reported in the error's details); the rest never is.
    for (const f of files.slice(2)) assert.equal((await instanceStatus(f)).status, 404);
  });
});
