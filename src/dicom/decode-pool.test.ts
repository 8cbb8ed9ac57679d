import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ErrorCode } from '../core/errors.ts';
import { isSrError } from '../core/errors.ts';
import { createVolume } from '../imaging/volume.ts';
import { writeCtSeries } from './ct-series-writer.ts';
import { crashDecodeWorkersForTest, decodePoolSize, decodeThreads, decodeSlicesOnWorkers, shutdownDecodePool } from './decode-pool.ts';
import type { FrameRef } from './frames.ts';
import { analyzableStacks, scanPaths } from './series.ts';
import { planStack } from './stack-geometry.ts';
import { buildSeriesVolume, decodeThreadsFor } from './volume-builder.ts';

const DIMS: [number, number, number] = [48, 40, 12];

function hasTool(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
    return true;
  } catch (e) {
    void e;
    return false;
  }
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, mentions?: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSrError(e), `expected an SrError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (mentions !== undefined) assert.ok(e.message.includes(mentions), `message "${e.message}" should name ${mentions}`);
    return true;
  });
}

async function stackOf(dir: string): Promise<readonly FrameRef[]> {
  const scan = await scanPaths([dir]);
  const ref = analyzableStacks(scan)[0];
  assert.ok(ref, 'one stack');
  return ref.stack.frames;
}

describe('series → volume on decode workers', () => {
  let root = '';
  let native = '';
  let expected: Int16Array;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'sr-decode-pool-'));
    native = join(root, 'le');
    const n = DIMS[0] * DIMS[1] * DIMS[2];
    const data = new Int16Array(n);
    // HU from −1024 (air) to ~2000 (bone), different on every slice and row.
    for (let i = 0; i < n; i++) data[i] = ((i * 37) % 3000) - 1024;
    expected = data;
    await writeCtSeries(createVolume(data, { dims: DIMS, spacing: [0.8, 0.8, 1.5] }), { outDir: native, storage: 'unsigned', uidSeed: 'pool' });
  });

  after(async () => {
    await shutdownDecodePool();
    rmSync(root, { recursive: true, force: true });
  });

  it('gives the same voxels on 2 worker threads as on this thread (native), in a shared buffer', async () => {
    const frames = await stackOf(native);
    const one = await buildSeriesVolume(frames, { threads: 1 });
    const progress: string[] = [];
    const two = await buildSeriesVolume(frames, { threads: 2, onProgress: (d, t) => progress.push(`${d}/${t}`) });
    assert.deepEqual(Array.from(one.volume.data), Array.from(expected));
    assert.deepEqual(Array.from(two.volume.data), Array.from(expected));
    assert.ok(two.volume.data.buffer instanceof SharedArrayBuffer);
    assert.equal(progress.length, DIMS[2]);
    assert.equal(progress.at(-1), `${DIMS[2]}/${DIMS[2]}`);
    assert.deepEqual(two.sliceSopInstanceUids, one.sliceSopInstanceUids);
    assert.ok(decodePoolSize() >= 1);
  });

  it('decodes a JPEG-LS series on workers by default, voxel for voxel', { skip: !hasTool('dcmcjpls') && 'dcmtk not installed' }, async () => {
    const jls = join(root, 'jls');
    execFileSync('mkdir', ['-p', jls]);
    for (const f of readdirSync(native)) execFileSync('dcmcjpls', ['+el', join(native, f), join(jls, f)], { stdio: 'pipe' });
    const frames = await stackOf(jls);
    assert.equal(decodeThreadsFor(planStack(frames)), Math.min(decodeThreads(), DIMS[2]));
    assert.equal(decodeThreadsFor(planStack(await stackOf(native))), 1, 'native series stay on this thread by default');
    const sv = await buildSeriesVolume(frames);
    assert.deepEqual(Array.from(sv.volume.data), Array.from(expected));
  });

  it('reports a file that turns bad after the scan with its code and name, on workers and on this thread', async () => {
    const dir = join(root, 'bad');
    execFileSync('cp', ['-r', native, dir]);
    const frames = await stackOf(dir);
    const victim = join(dir, readdirSync(dir).sort()[5] as string);
    truncateSync(victim, statSync(victim).size - 1000);
    await rejectsWith(buildSeriesVolume(frames, { threads: 2 }), 'DICOM_TRUNCATED', victim);
    await rejectsWith(buildSeriesVolume(frames, { threads: 1 }), 'DICOM_TRUNCATED', victim);
    execFileSync('cp', [join(native, readdirSync(native).sort()[5] as string), victim]);
    const gone = join(dir, readdirSync(dir).sort()[7] as string);
    rmSync(gone);
    await rejectsWith(buildSeriesVolume(frames, { threads: 2 }), 'NOT_FOUND', gone);
  });

  it('fails the file a crashed worker was decoding (DICOM_WORKER_FAILED), then recovers', async () => {
    const frames = await stackOf(native);
    await buildSeriesVolume(frames, { threads: 2 }); // workers started
    crashDecodeWorkersForTest();
    await rejectsWith(buildSeriesVolume(frames, { threads: 2 }), 'DICOM_WORKER_FAILED', native);
    const again = await buildSeriesVolume(frames, { threads: 2 });
    assert.deepEqual(Array.from(again.volume.data), Array.from(expected));
  });

  it('stops a worker that makes no progress (DICOM_DECODE_TIMEOUT naming the file)', { skip: !hasTool('mkfifo') && 'no mkfifo' }, async () => {
    // Reading a FIFO with no writer blocks forever: a stand-in for a decoder that hangs.
    const fifo = join(root, 'hangs.dcm');
    execFileSync('mkfifo', [fifo]);
    const out = new Int16Array(new SharedArrayBuffer(16 * 2));
    const job = { path: fifo, frameIndex: 0, rows: 4, columns: 4, rescaleSlope: 1, rescaleIntercept: 0 };
    await rejectsWith(decodeSlicesOnWorkers([job], [0], out, { threads: 1, frameTimeoutMs: 300 }), 'DICOM_DECODE_TIMEOUT', fifo);
    // Let the stopped thread's blocked open/read return so it can end.
    closeSync(openSync(fifo, 'w'));
  });

  it('rejects an aborted build with the abort reason', async () => {
    const frames = await stackOf(native);
    const ac = new AbortController();
    const seen: number[] = [];
    const p = buildSeriesVolume(frames, { threads: 2, signal: ac.signal, onProgress: (d) => { seen.push(d); if (d === 2) ac.abort(new Error('stop')); } });
    await assert.rejects(p, /stop/);
    assert.ok(seen.length < DIMS[2]);
  });
});
