import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCtSeries } from '../src/dicom/index.ts';
import type { AnalysisManifest, Finding } from '../src/engine/index.ts';
import { createVolume, ijkToLps, voxelVolumeMm3, type Vec3 } from '../src/imaging/index.ts';
import { runEval, parseEvalArgs, EVAL_SEED_MIN } from './run-eval.ts';

function sink() {
  let text = '';
  return { write: (s: string) => { text += s; return true; }, get text() { return text; } };
}

// A tiny chest "phantom": one sphere of soft tissue in air per case, on a non-trivial grid, written as DICOM.
async function writeTinyChest(outDir: string, o: { seed: number; cases: number }): Promise<unknown> {
  const out = [];
  for (let c = 0; c < o.cases; c++) {
    const dims: Vec3 = [40, 36, 16];
    const geometry = { dims, spacing: [0.8, 0.8, 2] as Vec3, origin: [-20, 5 + c, -100] as Vec3 };
    const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-1000);
    const centre: Vec3 = [14 + ((o.seed + c) % 10), 18, 8];
    const rMm = 4;
    for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
      const d = Math.hypot((i - centre[0]) * 0.8, (j - centre[1]) * 0.8, (k - centre[2]) * 2);
      if (d <= rMm) data[i + dims[0] * (j + dims[1] * k)] = 40;
    }
    const vol = createVolume(data, geometry);
    const dicomDir = join(outDir, `chest-${c + 1}`, 'dicom');
    await mkdir(dicomDir, { recursive: true });
    await writeCtSeries(vol, { outDir: dicomDir, uidSeed: `tiny/${o.seed}/${c}`, series: { BodyPartExamined: 'CHEST' } });
    out.push({ dir: join(outDir, `chest-${c + 1}`), dicomDir, truth: { nodules: [{ id: 'n1', centerMm: ijkToLps(vol, centre), diameterMm: 2 * rMm, volumeMm3: (4 / 3) * Math.PI * rMm ** 3, type: 'solid', placement: 'free' }] } });
  }
  return out;
}

// Fake analysis (injected, never registered in production): finds the bright voxels and reports their centroid in
// LPS, plus one false positive far away. It proves DICOM → volume → LPS lines up with the truth.
const fakeChest: AnalysisManifest = {
  apiVersion: 1, id: 'chest-ct-nodules', version: '0.0.0-test', title: 'fake', intendedUse: 'test only', modalities: ['CT'],
  resources: { memoryMb: 64, threads: 1 }, steps: ['find'],
  accepts: () => ({ accept: true }),
  async run({ series }) {
    const v = series.volume;
    const [nx, ny, nz] = v.dims;
    const s: [number, number, number] = [0, 0, 0];
    let n = 0;
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      if ((v.data[i + nx * (j + ny * k)] as number) > -300) { s[0] += i; s[1] += j; s[2] += k; n++; }
    }
    const volumeMm3 = n * voxelVolumeMm3(v);
    const findings: Finding[] = [
      { id: 'tp', kind: 'nodule', centerMm: ijkToLps(v, [s[0] / n, s[1] / n, s[2] / n]), probability: 0.9, volumeMm3, diameterMm: Math.cbrt((6 * volumeMm3) / Math.PI), noduleType: 'solid' },
      { id: 'fp', kind: 'nodule', centerMm: ijkToLps(v, [1, 1, 1]), probability: 0.3 },
    ];
    return { findings, measurements: {} };
  },
};

test('arguments: seeds below the evaluation range are refused', () => {
  const o = parseEvalArgs(['chest', '--cases', '3']);
  assert.ok(o !== 'help' && o.seed === EVAL_SEED_MIN && o.cases === 3);
  assert.throws(() => parseEvalArgs(['chest', '--seed', '5']), (e: unknown) => (e as { code?: string }).code === 'USAGE');
  assert.throws(() => parseEvalArgs(['lung']), (e: unknown) => (e as { code?: string }).code === 'USAGE');
});

test('analysis not registered: clean message, exit 2', async () => {
  const err = sink();
  const code = await runEval(['head', '--cases', '1'], { stdout: sink(), stderr: err, analyses: [] });
  assert.equal(code, 2);
  assert.match(err.text, /analysis not registered: head-ct-hemorrhage/);
});

test('end to end: phantom → DICOM → engine (CLI analyze path) → findings → FROC and errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sr-eval-test-'));
  try {
    const out = sink();
    const code = await runEval(['chest', '--cases', '2', '--dir', dir, '--bootstrap', '20'], { stdout: out, stderr: sink(), analyses: [fakeChest], writeChestCases: writeTinyChest });
    assert.equal(code, 0, out.text);
    assert.match(out.text, /CPM 1\.000/);
    const report = JSON.parse(await readFile(join(dir, 'eval-report.json'), 'utf8')) as {
      metrics: { froc: { cpm: number; falsePositives: number; detectedNodules: number }; matched: { volumeErrorPct: number; diameterErrorMm: number }[] };
      runs: { status: string }[];
    };
    assert.deepEqual(report.runs.map((r) => r.status), ['ok', 'ok']);
    assert.equal(report.metrics.froc.detectedNodules, 2);
    assert.equal(report.metrics.froc.falsePositives, 2);
    assert.equal(report.metrics.froc.cpm, 1);
    // the voxelised sphere is within 25 % of the analytic volume and its centroid matched the truth centre
    for (const m of report.metrics.matched) {
      assert.ok(Math.abs(m.volumeErrorPct) < 25, `volume error ${m.volumeErrorPct}`);
      assert.ok(Math.abs(m.diameterErrorMm) < 1, `diameter error ${m.diameterErrorMm}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
