import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getNumber, getNumbers, getString, readDicomFile } from '../../src/dicom/index.ts';
import { lpsToIjk, voxelVolumeMm3 } from '../../src/imaging/index.ts';
import type { Vec3 } from '../../src/imaging/index.ts';
import { generateChestPhantom, writeChestPhantomCase, writeChestPhantomCases } from './chest.ts';
import type { ChestPhantomOptions, ChestPhantomTruth } from './chest.ts';
import { measureShape, sphere, union } from './common.ts';

// Small but anatomically scaled: a 288 mm field of view at 3 mm pixels, 5 mm slices (fast on 2 cores).
const SMALL: Omit<ChestPhantomOptions, 'seed'> = {
  dims: [96, 96, 48], spacingMm: [3, 3, 5], sliceThicknessMm: 5, noiseSigmaHu: 15, psfSigmaMm: 0.8, threads: 1,
};

test('measureShape: sphere and two-sphere union against analytic values', () => {
  const m = measureShape(sphere([1, -2, 3], 5));
  assert.ok(Math.abs(m.volumeMm3 / ((4 / 3) * Math.PI * 125) - 1) < 0.01, `volume ${m.volumeMm3}`);
  assert.ok(Math.abs(m.meanAxialDiameterMm - 10) < 0.15, `diameter ${m.meanAxialDiameterMm}`);
  assert.ok(Math.abs(m.centroidMm[0] - 1) < 0.05 && Math.abs(m.centroidMm[2] - 3) < 0.05);
  // Two touching spheres side by side in x: long axis 4r, short 2r on the axial plane through both centres.
  const u = measureShape(union([sphere([-3, 0, 0], 3), sphere([3, 0, 0], 3)]));
  assert.ok(Math.abs(u.longAxisMm - 12) < 0.2, `long ${u.longAxisMm}`);
  assert.ok(Math.abs(u.shortAxisMm - 6) < 0.2, `short ${u.shortAxisMm}`);
  assert.ok(Math.abs(u.meanAxialDiameterMm - 9) < 0.2);
});

test('generation is deterministic by seed and differs between seeds', () => {
  const a = generateChestPhantom({ ...SMALL, seed: 11, noduleCount: 3 });
  const b = generateChestPhantom({ ...SMALL, seed: 11, noduleCount: 3 });
  const c = generateChestPhantom({ ...SMALL, seed: 12, noduleCount: 3 });
  assert.deepEqual(a.truth, b.truth);
  assert.ok(Buffer.from(a.volume.data.buffer).equals(Buffer.from(b.volume.data.buffer)), 'same seed → same voxels');
  assert.ok(!Buffer.from(a.volume.data.buffer).equals(Buffer.from(c.volume.data.buffer)), 'other seed → other voxels');
  assert.deepEqual(a.volume.dims, [96, 96, 48]);
});

test('anatomy has CT-like attenuation: air outside, lungs ~ −850, soft tissue, bone', () => {
  const p = generateChestPhantom({ ...SMALL, seed: 5, noduleCount: 0, noiseSigmaHu: 0 });
  assert.equal(p.truth.nodules.length, 0);
  const v = p.volume;
  const [nx, ny, nz] = v.dims;
  const k = Math.round(nz * 0.55);
  const at = (i: number, j: number) => v.data[k * nx * ny + j * nx + i] ?? NaN;
  assert.ok(at(1, 1) < -950, `corner air ${at(1, 1)}`);
  const hist = { lung: 0, soft: 0, bone: 0 };
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const h = at(i, j);
      if (h > -950 && h < -750) hist.lung++;
      else if (h > -150 && h < 100) hist.soft++;
      else if (h > 250) hist.bone++;
    }
  }
  assert.ok(hist.lung > 800, `lung pixels ${hist.lung}`);
  assert.ok(hist.soft > 800, `soft-tissue pixels ${hist.soft}`);
  assert.ok(hist.bone > 10, `bone pixels ${hist.bone}`);
});

test('nodule truth volumes match the rasterised partial-volume sum; HU and metadata are consistent', () => {
  const p = generateChestPhantom({ ...SMALL, seed: 3, noduleCount: 6, noduleDiameterRangeMm: [6, 30], noiseSigmaHu: 0 });
  assert.ok(p.truth.nodules.length >= 3, `placed ${p.truth.nodules.length}`);
  const voxVol = voxelVolumeMm3(p.volume);
  for (const n of p.truth.nodules) {
    const painted = p.painted.find((x) => x.id === n.id);
    assert.ok(painted, n.id);
    // Σ coverage is a 64-sample estimate per voxel: allow 5 % plus a fraction of a voxel.
    assert.ok(Math.abs(painted.volumeMm3 - n.volumeMm3) <= 0.05 * n.volumeMm3 + 0.5 * voxVol, `${n.id} ${n.shape} painted ${painted.volumeMm3} vs ${n.volumeMm3}`);
    if (n.volumeMm3 > 20 * voxVol) {
      assert.ok(Math.abs(painted.voxelsHalf * voxVol - n.volumeMm3) <= 0.2 * n.volumeMm3, `${n.id} half-voxel count`);
    }
    assert.ok(n.diameterMm >= 2 && n.diameterMm <= 40, `${n.id} diameter ${n.diameterMm}`);
    assert.ok(n.shortAxisMm <= n.longAxisMm + 1e-9);
    assert.ok(['RUL', 'RML', 'RLL', 'LUL', 'LLL'].includes(n.lobe));
    assert.equal(n.side === 'left', n.lobe.startsWith('L'));
    assert.equal(n.side === 'left', n.centerMm[0] > 0, 'LPS: patient left is +x');
    if (n.type === 'part-solid') {
      assert.ok((n.solidComponentDiameterMm ?? 0) > 0 && (n.solidComponentDiameterMm ?? 0) < n.diameterMm);
    } else {
      assert.equal(n.solidComponentDiameterMm, undefined);
    }
  }
});

test('every nodule type, shape and placement can be generated and is visible at its HU', () => {
  const seen = { type: new Set<string>(), shape: new Set<string>(), placement: new Set<string>() };
  // One case per type, each restricted to one placement (cycling), so four cases cover every type and placement.
  const placements = ['free', 'juxta-pleural', 'juxta-vascular', 'free'] as const;
  for (const [i, type] of (['solid', 'part-solid', 'ground-glass', 'calcified'] as const).entries()) {
    const placement = placements[i] ?? 'free';
    const p = generateChestPhantom({
      ...SMALL, seed: `types-${i}`, noduleCount: 4, noduleTypes: [type], nodulePlacements: [placement], noiseSigmaHu: 0,
      noduleDiameterRangeMm: type === 'calcified' ? [8, 12] : [12, 22],
    });
    assert.ok(p.truth.nodules.length > 0, `${type} ${placement}`);
    for (const n of p.truth.nodules) {
      seen.type.add(n.type);
      seen.shape.add(n.shape);
      seen.placement.add(n.placement);
      assert.equal(n.type, type);
      assert.equal(n.placement, placement);
      // Noise-free voxel nearest the centroid.
      const ijk = lpsToIjk(p.volume, n.centerMm).map(Math.round) as Vec3;
      const [nx, ny] = p.volume.dims;
      const sum = p.volume.data[ijk[2] * nx * ny + ijk[1] * nx + ijk[0]] ?? NaN;
      const cnt = 1;
      const mean = sum / cnt;
      if (type === 'calcified') assert.ok(mean > 150, `calcified ${n.id} mean ${mean}`);
      if (type === 'solid') assert.ok(mean > -250, `solid ${n.id} mean ${mean}`);
      if (type === 'ground-glass') assert.ok(mean > -800 && mean < -150, `GGO ${n.id} mean ${mean}`);
    }
  }
  assert.deepEqual([...seen.type].sort(), ['calcified', 'ground-glass', 'part-solid', 'solid']);
  assert.deepEqual([...seen.placement].sort(), ['free', 'juxta-pleural', 'juxta-vascular']);
});

const DCIODVFY = '/usr/bin/dciodvfy';

test('a written case round-trips to the same HU, with truth.json; dciodvfy finds no errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-chest-'));
  try {
    const opts: ChestPhantomOptions = { ...SMALL, dims: [64, 64, 20], spacingMm: [4.5, 4.5, 10], sliceThicknessMm: 10, seed: 'rt', noduleCount: 2 };
    const expected = generateChestPhantom(opts).volume;
    for (const storage of ['signed', 'unsigned'] as const) {
      const caseDir = join(dir, storage);
      const res = await writeChestPhantomCase(caseDir, { ...opts, storage, fileNaming: 'opaque', instanceOrder: 'shuffled' });
      const truth = JSON.parse(readFileSync(res.truthPath, 'utf8')) as ChestPhantomTruth;
      assert.equal(truth.format, 'secondreader.phantom-truth');
      assert.equal(truth.dicom?.storage, storage);
      assert.equal(truth.nodules.length, res.truth.nodules.length);
      assert.equal(readdirSync(res.dicomDir).length, 20);
      const [nx, ny] = expected.dims;
      for (const f of res.files) {
        const file = await readDicomFile(f);
        const ds = file.dataset;
        assert.equal(getString(ds, 'Modality'), 'CT');
        assert.match(getString(ds, 'PatientAge') ?? '', /^\d{3}Y$/);
        const ipp = getNumbers(ds, 'ImagePositionPatient');
        assert.ok(ipp);
        const k = Math.round(lpsToIjk(expected, ipp)[2]);
        const slope = getNumber(ds, 'RescaleSlope') ?? 1;
        const intercept = getNumber(ds, 'RescaleIntercept') ?? 0;
        assert.equal(intercept, storage === 'signed' ? 0 : -1024);
        const frame = await file.decodeFrame(0);
        for (let p = 0; p < nx * ny; p++) {
          const hu = expected.data[k * nx * ny + p] ?? 0;
          const want = storage === 'signed' ? hu : Math.min(3071, Math.max(-1024, hu));
          const got: number = (frame.data[p] ?? NaN) * slope + intercept;
          if (got !== want) assert.fail(`slice ${k} pixel ${p}: ${got} ≠ ${want}`);
        }
      }
      if (existsSync(DCIODVFY)) {
        const r = spawnSync(DCIODVFY, [res.files[0] ?? ''], { encoding: 'utf8' });
        const report = `${r.stdout}${r.stderr}`;
        assert.match(report, /CTImage/);
        assert.doesNotMatch(report, /^Error/m, report);
      } else {
        t.diagnostic(`SKIPPED dciodvfy check: ${DCIODVFY} not installed`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeChestPhantomCases writes case-0001… with progress and an index', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-chest-cases-'));
  try {
    const events: string[] = [];
    const res = await writeChestPhantomCases(dir, {
      ...SMALL, dims: [48, 48, 12], spacingMm: [6, 6, 12], sliceThicknessMm: 12, seed: 9, cases: 2,
      onProgress: (p) => events.push(`${p.caseId}:${p.stage}`),
    });
    assert.equal(res.length, 2);
    assert.deepEqual(events, ['case-0001:start', 'case-0001:done', 'case-0002:start', 'case-0002:done']);
    assert.ok(existsSync(join(dir, 'case-0001', 'truth.json')) && existsSync(join(dir, 'case-0002', 'dicom')));
    const index = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as { cases: { id: string }[] };
    assert.deepEqual(index.cases.map((c) => c.id), ['case-0001', 'case-0002']);
    assert.notEqual(res[0]?.truth.dicom?.SeriesInstanceUID, res[1]?.truth.dicom?.SeriesInstanceUID);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
