import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { writeCtSeries } from '../dicom/index.ts';
import { findingsDocumentProblems, ANALYSIS_API_VERSION } from '../engine/index.ts';
import type { FindingsDocument, AnalysisManifest } from '../engine/index.ts';
import { createVolume, ijkToLps } from '../imaging/index.ts';
import type { CliDeps } from './io.ts';
import { main } from './main.ts';

const LIDC = new URL('../../../shared/data/chest-ct-lidc', import.meta.url).pathname;

class Capture {
  text = '';
  constructor(readonly isTTY = false) {}
  write(s: string): boolean {
    this.text += s;
    return true;
  }
}

async function run(argv: string[], extra: Partial<CliDeps> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(argv, { stdout, stderr, env: {}, cwd: tmp, analyses: [], ...extra });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** Test-only analysis: the brightest voxel is the "finding"; voxels > 500 HU form label 1. */
const brightest: AnalysisManifest = {
  apiVersion: ANALYSIS_API_VERSION,
  id: 'test-brightest',
  version: '0.0.1',
  title: 'Brightest voxel (test)',
  intendedUse: 'Tests only.',
  modalities: ['CT'],
  resources: { memoryMb: 16, threads: 1 },
  steps: ['find', 'label'],
  accepts: (h) => (h.instanceCount >= 3 ? { accept: true } : { accept: false, reason: 'fewer than 3 slices' }),
  run: async ({ series, progress }) => {
    progress('find', 0.1);
    const v = series.volume;
    let best = 0;
    for (let i = 1; i < v.data.length; i++) if ((v.data[i] as number) > (v.data[best] as number)) best = i;
    const [nx, ny] = v.dims;
    const ijk = [best % nx, Math.floor(best / nx) % ny, Math.floor(best / (nx * ny))];
    progress('label', 0.6);
    const mask = new Uint8Array(v.data.length);
    for (let i = 0; i < mask.length; i++) mask[i] = (v.data[i] as number) > 500 ? 1 : 0;
    return {
      findings: [{ id: 'b1', kind: 'bright-spot', centerMm: ijkToLps(v, ijk), probability: 0.75, label: 1, peakHu: v.data[best] }],
      measurements: { peakHu: { value: v.data[best] ?? null, unit: 'HU' } },
      labelMap: { mask: { ...v, data: mask }, labels: { 1: 'bright' } },
    };
  },
};
const neverCt: AnalysisManifest = { ...brightest, id: 'test-never', accepts: () => ({ accept: false, reason: 'wants contrast' }) };
const thrower: AnalysisManifest = { ...brightest, id: 'test-thrower', run: async () => { throw new Error('deliberate'); } };

let tmp = '';
let seriesDir = '';
let seriesUid = '';
const BLOB_IJK = [12, 7, 3] as const;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sr-cli-'));
  seriesDir = join(tmp, 'series');
  const dims: [number, number, number] = [24, 16, 6];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-900);
  data[BLOB_IJK[0] + BLOB_IJK[1] * dims[0] + BLOB_IJK[2] * dims[0] * dims[1]] = 1200;
  const vol = createVolume(data, { dims, spacing: [0.8, 0.8, 2], origin: [-50, -30, 100] });
  const written = await writeCtSeries(vol, { outDir: seriesDir, uidSeed: 'cli-test', fileNaming: 'opaque', instanceOrder: 'shuffled' });
  seriesUid = written.SeriesInstanceUID;
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test('--version and --help of every command exit 0', async () => {
  const v = await run(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^secondreader \d+\.\d+\.\d+/);
  for (const argv of [['--help'], ['inspect', '--help'], ['analyze', '-h'], ['phantom', '--help'], ['demo', '--help'], ['eval', '--help'], ['bench', '--help']]) {
    const r = await run(argv);
    assert.equal(r.code, 0, argv.join(' ') + r.stderr);
    assert.match(r.stdout, /Usage: secondreader/, argv.join(' '));
  }
});

test('usage errors and bad input exit 2', async () => {
  const empty = join(tmp, 'empty');
  await mkdir(empty, { recursive: true });
  await writeFile(join(empty, 'notes.txt'), 'not dicom');
  const cases: string[][] = [
    [],
    ['frobnicate'],
    ['analyze', seriesDir, '--out', join(tmp, 'o'), '--bogus'],
    ['analyze', seriesDir],
    ['analyze', '--out', join(tmp, 'o')],
    ['analyze', join(tmp, 'does-not-exist'), '--out', join(tmp, 'o')],
    ['analyze', empty, '--out', join(tmp, 'o')],
    ['analyze', seriesDir, '--out', join(tmp, 'o'), '--timeout', 'soon'],
    ['analyze', seriesDir, '--out', join(tmp, 'o'), '--only', 'nope'],
    ['inspect'],
    ['inspect', empty],
    ['inspect', '--colour', seriesDir],
    ['phantom', 'lung', '--out', join(tmp, 'p')],
    ['phantom', 'chest'],
    ['phantom', 'chest', '--out', join(tmp, 'p'), '--cases', '0'],
    ['bench', '--fast'],
    ['phantom', 'head', '--out', join(tmp, 'p'), '--slice-thickness', '3'],
    ['phantom', 'head', '--out', join(tmp, 'p'), '--slice-thickness', '-1'],
    // CONFIG_INVALID: rejected while validating the config, before anything is opened or listened on.
    ['serve', '--data', join(tmp, 'srv'), '--http-port', 'eighty', '--no-demo'],
    ['serve', '--data', join(tmp, 'srv'), '--ae-title', 'AN AE TITLE FAR TOO LONG', '--no-demo'],
    ['serve', '--data', join(tmp, 'srv'), '--config', join(tmp, 'no-such-config.json'), '--no-demo'],
    ['worker', '--data', join(tmp, 'srv'), '--concurrency', '0.5'],
  ];
  for (const argv of cases) {
    const r = await run(argv);
    assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}\n${r.stderr}`);
  }
  assert.equal(existsSync(join(tmp, 'o', 'findings.json')), false);
  assert.equal(existsSync(join(tmp, 'srv')), false, 'an invalid server config creates no data folder');
});

test('analyze end to end: findings.json valid, coordinates in LPS, label map written, exit 0', async () => {
  const out = join(tmp, 'out-ok');
  const r = await run(['analyze', seriesDir, '--out', out], { analyses: [brightest, neverCt] });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8')) as FindingsDocument;
  assert.deepEqual(findingsDocumentProblems(doc), []);
  assert.equal(doc.series.length, 1);
  assert.equal(doc.series[0]?.seriesInstanceUid, seriesUid);
  const [ok, skipped] = doc.analyses;
  assert.equal(ok?.status, 'ok');
  assert.equal(skipped?.status, 'skipped');
  assert.equal(skipped?.reason, 'wants contrast');
  // The finding is where the bright voxel was written, in patient LPS mm (shuffled files, opaque names).
  const center = ok?.findings[0]?.centerMm ?? [NaN, NaN, NaN];
  const expected = ijkToLps({ spacing: [0.8, 0.8, 2], origin: [-50, -30, 100], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, BLOB_IJK);
  for (let a = 0; a < 3; a++) assert.ok(Math.abs((center[a] ?? NaN) - expected[a]!) < 1e-3, `axis ${a}: ${center[a]} vs ${expected[a]}`);
  assert.equal(ok?.findings[0]?.['peakHu'], 1200);
  assert.equal(ok?.provenance.inputSeriesInstanceUid, seriesUid);
  assert.ok(ok?.provenance.timingsMs.steps?.['find'] !== undefined);
  // Label map: referenced relative path, a gzipped NIfTI-1 with the mask dims.
  assert.equal(ok?.labelMap?.path, `test-brightest/${seriesUid}.labels.nii.gz`);
  const nii = gunzipSync(await readFile(join(out, ok?.labelMap?.path ?? 'missing')));
  const view = new DataView(nii.buffer, nii.byteOffset, nii.byteLength);
  assert.equal(view.getInt32(0, true), 348);
  assert.deepEqual([view.getInt16(42, true), view.getInt16(44, true), view.getInt16(46, true)], [24, 16, 6]);
  // Key image of the labelled finding: a PNG of the slice through its centre.
  const keyImage = ok?.labelMap?.keyImages?.['b1'];
  assert.equal(keyImage, `test-brightest/${seriesUid}/b1.png`);
  const png = await readFile(join(out, keyImage ?? 'missing'));
  assert.equal(png.toString('latin1', 1, 4), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [24, 16]);
  assert.match(r.stdout, /1 ok, 1 skipped, 0 failed/);
});

test('a failing analysis is reported with its code and exits 1; the others still run', async () => {
  const out = join(tmp, 'out-fail');
  const r = await run(['analyze', seriesDir, '--out', out, '--json'], { analyses: [thrower, brightest] });
  assert.equal(r.code, 1);
  const doc = JSON.parse(await readFile(join(out, 'findings.json'), 'utf8')) as FindingsDocument;
  assert.deepEqual(JSON.parse(r.stdout), doc);
  assert.deepEqual(doc.analyses.map((a) => a.status), ['failed', 'ok']);
  assert.deepEqual(doc.errors.map((e) => [e.analysis, e.code]), [['test-thrower', 'ANALYSIS_FAILED']]);
  assert.match(r.stderr, /test-thrower.*ANALYSIS_FAILED/);
});

test('an invalid or duplicate injected manifest stops analyze before any work', async () => {
  const bad = await run(['analyze', seriesDir, '--out', join(tmp, 'out-bad')], { analyses: [{ ...brightest, id: 'Bad_Id' }] });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /MANIFEST_INVALID/);
  const dup = await run(['analyze', seriesDir, '--out', join(tmp, 'out-bad')], { analyses: [brightest, brightest] });
  assert.equal(dup.code, 1);
  assert.match(dup.stderr, /ANALYSIS_DUPLICATE/);
  assert.equal(existsSync(join(tmp, 'out-bad')), false);
});

test('progress goes to stderr as plain lines off a terminal', async () => {
  const r = await run(['analyze', seriesDir, '--out', join(tmp, 'out-progress')], { analyses: [brightest] });
  assert.equal(r.code, 0);
  const lines = r.stderr.split('\n').filter((l) => /^(scan|analyze)\s+\d+%/.test(l));
  assert.ok(lines.some((l) => l.startsWith('analyze 100% done')), r.stderr);
  assert.ok(lines.some((l) => /test-brightest: label/.test(l)), r.stderr);
  assert.ok(!r.stderr.includes('\r'));
});

test('inspect lists the LIDC series', { skip: !existsSync(LIDC) && 'shared data not present' }, async () => {
  const r = await run(['inspect', LIDC]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /1\.3\.6\.1\.4\.1\.14519\.5\.2\.1\.6279\.6001\.170706757615202213033480003264/);
  assert.match(r.stdout, /CT\s+11\s+512×512\s+0\.82×0\.82×2\.5\s+ExplicitLE/);
  // The XML and text files next to the images are listed as problems, not fatal.
  assert.match(r.stdout, /DICOM_NOT_DICOM: .*072\.xml/);
  const j = await run(['inspect', '--json', LIDC]);
  const summary = JSON.parse(j.stdout) as { patients: { studies: { series: { instanceCount: number }[] }[] }[] };
  assert.equal(summary.patients[0]?.studies[0]?.series[0]?.instanceCount, 11);
});

test('inspect on a folder with garbage mixed in lists the problems and does not crash', async () => {
  const mixed = join(tmp, 'mixed');
  await mkdir(join(mixed, 'sub'), { recursive: true });
  const { files } = await writeCtSeries(
    createVolume(new Int16Array(8 * 8 * 3).fill(40), { dims: [8, 8, 3], spacing: [1, 1, 1.5] }),
    { outDir: join(mixed, 'ct'), uidSeed: 'mixed' },
  );
  await writeFile(join(mixed, 'empty.dcm'), new Uint8Array(0));
  await writeFile(join(mixed, 'sub', 'random.bin'), Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251));
  await writeFile(join(mixed, 'readme.txt'), 'hello');
  const whole = await readFile(files[0] ?? '');
  await writeFile(join(mixed, 'truncated.dcm'), whole.subarray(0, Math.floor(whole.length / 2)));
  await copyFile(files[1] ?? '', join(mixed, 'sub', 'duplicate.dcm'));
  const r = await run(['inspect', mixed]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Problems \(\d+ file\(s\) not read\)/);
  for (const name of ['empty.dcm', 'random.bin', 'readme.txt']) assert.match(r.stdout, new RegExp(`! [A-Z_]+: .*${name.replace('.', '\\.')}`), name);
  // The truncated file is either refused or kept with a problem: either way it is named somewhere.
  assert.match(r.stdout + r.stderr, /truncated|DUPLICATE|duplicate/i);
});
