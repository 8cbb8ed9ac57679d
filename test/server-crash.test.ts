/**
 * Issue #5's durability proof at process level: `secondreader serve` is SIGKILLed in the middle of a
 * 1,000-instance dcmtk storescu transfer and restarted on the same data folder. Every instance storescu saw
 * acknowledged (C-STORE Success) must be there byte for byte; no temp or partial file and no index row without
 * its blob (or blob without its row) may remain; and the server must work again (C-ECHO, a full re-send).
 *
 * The kill is triggered by a count of acknowledgements read from storescu's log, never by time, so the test
 * does the same thing on a fast or a loaded machine. So that the crash always leaves a partial instance behind
 * (storescu alone is usually between two small files), a second "modality" on a raw association has sent a C-STORE
 * command and half of its data set when the kill lands.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { inspectDataDir } from '../bench/ingest-check.ts';
import type { DataDirReport } from '../bench/ingest-check.ts';
import { EXPLICIT_VR_LE, associate, cStoreRq, pData } from '../bench/ingest-pdu.ts';
import type { RawPeer } from '../bench/ingest-pdu.ts';
import { echoscu, runStorescu, startServe } from '../bench/ingest-procs.ts';
import type { Exit, ServeProcess } from '../bench/ingest-procs.ts';
import { CT_IMAGE_STORAGE_UID, datasetOffset, writeCtSet } from '../bench/ingest-synth.ts';
import type { SourceInstance } from '../bench/ingest-synth.ts';

const TOTAL = 1000;
/** Acknowledgements before the SIGKILL: well inside the transfer on any machine. */
const KILL_AFTER_ACKS = 400;

function waitExit(exited: Promise<Exit>, ms: number, what: string): Promise<Exit> {
  return Promise.race([exited, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} did not exit within ${ms} ms`)), ms).unref())]);
}

/** All three at once, so a failure shows the whole state of the folder. */
function assertClean(r: DataDirReport, when: string): void {
  const { leftovers, rowsWithoutBlob, blobsWithoutRow } = r;
  assert.deepEqual({ leftovers, rowsWithoutBlob, blobsWithoutRow }, { leftovers: [], rowsWithoutBlob: [], blobsWithoutRow: [] },
    `${when}: temp/partial files, index rows without their blob or blobs without their row remain`);
}

/** Files under the DIMSE temp folder (one sub-folder per server process). */
async function incomingFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
}

async function waitUntil(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function health(server: ServeProcess): Promise<number> {
  const res = await fetch(`${server.httpUrl}/api/v1/health`, { signal: AbortSignal.timeout(20_000) });
  await res.arrayBuffer();
  return res.status;
}

/** Instances per series, summed, as QIDO-RS reports them (NumberOfSeriesRelatedInstances). */
async function qidoInstanceCount(server: ServeProcess): Promise<number> {
  const res = await fetch(`${server.httpUrl}/dicom-web/series?includefield=00201209&limit=1000`, {
    headers: { ...server.authHeaders, accept: 'application/dicom+json' }, signal: AbortSignal.timeout(30_000),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const rows = (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
  return rows.reduce((sum, r) => sum + Number(r['00201209']?.Value?.[0] ?? 0), 0);
}

describe('serve killed with SIGKILL during a storescu transfer', { timeout: 20 * 60_000 }, () => {
  let root = '';
  let srcDir = '';
  let dataDir = '';
  let sources: SourceInstance[] = [];
  let partial: SourceInstance | undefined;
  const servers: ServeProcess[] = [];
  const peers: RawPeer[] = [];

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sr-crash-'));
    srcDir = join(root, 'source');
    dataDir = join(root, 'data');
    // 10 series × 100 slices of 64×64 over 5 patients: small real CT files, ~10 KB each.
    sources = await writeCtSet({ outDir: srcDir, series: 10, slicesPerSeries: TOTAL / 10, matrix: 64, seed: 'crash' });
    assert.equal(sources.length, TOTAL);
    partial = (await writeCtSet({ outDir: join(root, 'partial'), series: 1, slicesPerSeries: 1, matrix: 256, seed: 'crash-partial' }))[0];
  });

  after(async () => {
    for (const p of peers) p.destroy();
    await Promise.allSettled(servers.map((s) => s.kill()));
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('every acknowledged instance survives, nothing partial remains, and the server works again', async (t) => {
    const byPath = new Map(sources.map((s) => [s.path, s]));

    // 1. Transfer, and SIGKILL the server once storescu has read KILL_AFTER_ACKS Success responses.
    const first = await startServe({ dataDir });
    servers.push(first);
    assert.ok(partial);
    const partialBytes = await readFile(partial.path);
    const raw = await associate(first.dicomPort, first.aeTitle, [{ id: 1, abstractSyntax: CT_IMAGE_STORAGE_UID, transferSyntaxes: [EXPLICIT_VR_LE] }]);
    peers.push(raw);
    await raw.send(pData([{ contextId: 1, command: true, last: true, data: cStoreRq(1, CT_IMAGE_STORAGE_UID, partial.sopInstanceUid) }]));
    await raw.send(pData([{ contextId: 1, command: false, last: false, data: partialBytes.subarray(datasetOffset(partialBytes), datasetOffset(partialBytes) + 16_000) }]));
    const incoming = join(dataDir, 'incoming');
    await waitUntil('the server has the partial instance on disk', async () => (await incomingFiles(incoming)).length > 0);
    let killed: Promise<Exit> | undefined;
    const run = runStorescu({
      port: first.dicomPort, calledAe: first.aeTitle, inputs: [srcDir],
      onAck: (n) => {
        if (n === KILL_AFTER_ACKS) killed = first.kill();
      },
    });
    const scuExit = await waitExit(run.exited, 10 * 60_000, 'storescu');
    assert.ok(killed, `storescu ended after ${run.acked.length} acknowledgements, before the kill point:\n${run.logTail().slice(-20).join('\n')}`);
    const serverExit = await waitExit(killed, 60_000, 'the killed server');
    assert.equal(serverExit.signal, 'SIGKILL');
    assert.notEqual(scuExit.code, 0, 'storescu must notice the dead server');
    const acked = [...run.acked];
    assert.ok(acked.length >= KILL_AFTER_ACKS && acked.length < TOTAL, `acknowledged ${acked.length} of ${TOTAL}`);
    assert.deepEqual(run.failed, [], 'no refused instance before the kill');
    raw.destroy();
    const leftAtCrash = await incomingFiles(incoming);
    assert.ok(leftAtCrash.length >= 1, 'the crash left the partial instance of the raw association on disk');
    t.diagnostic(`killed after ${acked.length} acknowledgements; ${leftAtCrash.length} file(s) in incoming/ at the crash`);
    const ackedSources = acked.map((p) => {
      const s = byPath.get(p);
      assert.ok(s, `storescu acknowledged a file we did not write: ${p}`);
      return s;
    });

    // 2. Restart on the same folder: it must start and answer, with every acknowledged instance indexed.
    const second = await startServe({ dataDir });
    servers.push(second);
    const echo = await echoscu(second.dicomPort, second.aeTitle);
    assert.ok(echo.ok, `C-ECHO after the restart failed:\n${echo.output}`);
    assert.equal(await health(second), 200);
    const opened = second.logs().find((l) => l.msg === 'archive opened');
    t.diagnostic(`restart recovery: ${JSON.stringify(opened?.['recovery'] ?? null)}, journal replay: ${JSON.stringify(opened?.['journalReplay'] ?? null)}`);
    assert.ok((await qidoInstanceCount(second)) >= acked.length, 'QIDO-RS lists at least the acknowledged instances');
    assert.equal((await second.stop()).code, 0, 'clean stop after the restart');
    // The killed process's ingest journal was replayed and removed at the restart; a clean stop empties its own.
    assert.deepEqual(await readdir(join(dataDir, 'journal')).catch(() => []), [], 'ingest journal folders left (ADR 0007)');

    // 3. What the restarted server left on disk: acknowledged = present and identical; index and blobs agree.
    const afterCrash = await inspectDataDir(dataDir, ackedSources);
    assert.deepEqual(afterCrash.missing, [], 'acknowledged instances missing after the crash');
    assert.deepEqual(afterCrash.different, [], 'acknowledged instances whose bytes changed');
    assertClean(afterCrash, 'after the crash and restart');
    assert.ok(afterCrash.rows.length <= acked.length + 1, `at most the one instance in flight may be stored unacknowledged (rows ${afterCrash.rows.length}, acked ${acked.length})`);
    assert.ok(!afterCrash.rows.some((r) => r.sopInstanceUid === partial?.sopInstanceUid), 'the half-sent instance is not indexed');

    // 4. The sender retries the whole folder (as a modality does after an aborted association): all 1,000 stored.
    const third = await startServe({ dataDir });
    servers.push(third);
    const resend = runStorescu({ port: third.dicomPort, calledAe: third.aeTitle, inputs: [srcDir] });
    const resendExit = await waitExit(resend.exited, 10 * 60_000, 'storescu (re-send)');
    assert.equal(resendExit.code, 0, resend.logTail().slice(-20).join('\n'));
    assert.equal(resend.acked.length, TOTAL);
    assert.deepEqual(resend.failed, []);
    assert.equal(await qidoInstanceCount(third), TOTAL);
    assert.equal((await third.stop()).code, 0, 'clean stop after the re-send');

    const final = await inspectDataDir(dataDir, sources);
    assert.deepEqual(final.missing, []);
    assert.deepEqual(final.different, []);
    assert.equal(final.rows.length, TOTAL);
    assertClean(final, 'after the re-send');
  });
});
