import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomFile } from '../../src/dicom/index.ts';
import { getNumbers } from '../../src/dicom/index.ts';
import { ijkToLps, lpsToIjk, voxelVolumeMm3 } from '../../src/imaging/index.ts';
import type { Int16Volume } from '../../src/imaging/index.ts';
import { generateHeadPhantom, writeHeadPhantomCase } from './head.ts';
import type { HeadBleedChoice, HeadPhantomOptions } from './head.ts';
import { isSrError } from '../../src/core/index.ts';

// Small grids keep the suite fast: 1.2 mm pixels, 5 mm slices around the ventricles.
const SMALL: Pick<HeadPhantomOptions, 'dims' | 'fovMm' | 'truthMaxPoints'> = { dims: [128, 128, 12], fovMm: 200, truthMaxPoints: 1e6 };

test('same seed gives the same voxels and truth; another seed does not', () => {
  const a = generateHeadPhantom({ seed: 11, bleedType: 'intraparenchymal', ...SMALL, dims: [96, 96, 8] });
  const b = generateHeadPhantom({ seed: 11, bleedType: 'intraparenchymal', ...SMALL, dims: [96, 96, 8] });
  const c = generateHeadPhantom({ seed: 12, bleedType: 'intraparenchymal', ...SMALL, dims: [96, 96, 8] });
  assert.deepEqual(a.truth, b.truth);
  assert.ok(Buffer.from(a.volume.data.buffer).equals(Buffer.from(b.volume.data.buffer)));
  assert.ok(!Buffer.from(a.volume.data.buffer).equals(Buffer.from(c.volume.data.buffer)));
});

for (const type of ['intraparenchymal', 'intraventricular', 'subdural', 'epidural', 'subarachnoid'] as const) {
  test(`${type}: true volume agrees with the rasterised partial-volume mask`, () => {
    const p = generateHeadPhantom({ seed: `vol-${type}`, bleedType: type, sliceThicknessMm: 5, ...SMALL, dims: [128, 128, 24] });
    assert.equal(p.truth.hasHemorrhage, true);
    const bleed = p.truth.bleeds[0];
    assert.ok(bleed);
    assert.equal(bleed.type, type);
    assert.ok(bleed.volumeMl > 0.3, `volume ${bleed.volumeMl}`);
    // Two independent estimates: fine-grid integration vs Σ voxel fractions of the acquisition grid.
    const rel = Math.abs(bleed.rasterVolumeMl - bleed.volumeMl) / bleed.volumeMl;
    assert.ok(rel < 0.08, `raster ${bleed.rasterVolumeMl} vs true ${bleed.volumeMl}`);
    const voxelMl = voxelVolumeMm3(p.labels) / 1000;
    let n = 0, sumHu = 0;
    for (let i = 0; i < p.labels.data.length; i++) {
      if (p.labels.data[i] === 1) {
        n++;
        sumHu += p.volume.data[i] as number;
      }
    }
    assert.ok(n > 0);
    // The extent box holds every labelled voxel centre (and, for these shapes, the centroid).
    const ex = bleed.extentMm;
    assert.ok(ex);
    const inBox = (q: readonly number[]): boolean => [0, 1, 2].every((a) => (q[a] as number) >= (ex.minMm[a] as number) - 1e-3 && (q[a] as number) <= (ex.maxMm[a] as number) + 1e-3);
    for (let i = 0; i < p.labels.data.length; i += 7) {
      if (p.labels.data[i] !== 1) continue;
      const [nx, ny] = p.labels.dims;
      assert.ok(inBox(ijkToLps(p.labels, [i % nx, Math.floor(i / nx) % ny, Math.floor(i / (nx * ny))])), 'labelled voxel outside extentMm');
    }
    assert.ok(inBox(bleed.centerMm), `centre ${bleed.centerMm} outside ${JSON.stringify(ex)}`);
    if (type !== 'subarachnoid') {
      // Voxels at least half blood: a half-threshold mask of a compact shape keeps its volume roughly.
      assert.ok(Math.abs(n * voxelMl - bleed.volumeMl) / bleed.volumeMl < 0.3, `mask ${n * voxelMl} vs ${bleed.volumeMl}`);
      assert.ok(sumHu / n > 40, `mean HU of labelled blood ${sumHu / n}`);
    }
    if (type === 'subdural' || type === 'epidural') {
      assert.ok(bleed.maxThicknessMm !== undefined && bleed.maxThicknessMm > 2);
    }
  });
}

/** Septum and skull-symmetry positions measured from the pixels of the row through the septum landmark. */
function measureShift(vol: Int16Volume, septumLps: readonly number[]): { septumX: number; midX: number } {
  const [nx, ny] = vol.dims;
  const ijk = lpsToIjk(vol, septumLps);
  const j = Math.round(ijk[1]), k = Math.round(ijk[2]);
  const row = (i: number): number => vol.data[i + j * nx + k * nx * ny] as number;
  const sp = vol.spacing[0];
  const i0 = Math.round(ijk[0]);
  const win = Math.round(20 / sp);
  // Ventricular CSF on both sides of the true position, then the septum is the denser run between them.
  let left = i0, right = i0;
  for (let d = 1; d < win; d++) if (row(i0 - d) < row(left)) left = i0 - d;
  for (let d = 1; d < win; d++) if (row(i0 + d) < row(right)) right = i0 + d;
  assert.ok(row(left) < 15 && row(right) < 15, 'ventricles on both sides of the septum');
  let w = 0, s = 0;
  const base = Math.max(row(left), row(right));
  for (let i = left + 1; i < right; i++) {
    const e = Math.max(0, row(i) - base);
    w += e;
    s += e * i;
  }
  const septumI = s / w;
  // Inner tables: first bone pixel going outwards from the septum.
  let a = Math.round(septumI), b = Math.round(septumI);
  while (a > 0 && row(a) < 300) a--;
  while (b < nx - 1 && row(b) < 300) b++;
  const edge = (i: number, dir: number): number => i - dir * ((row(i) - 300) / (row(i) - row(i - dir)));
  return { septumX: septumI * sp, midX: ((edge(a, -1) + edge(b, 1)) / 2) * sp };
}

test('midline shift in truth matches the septum displacement measured on the image', () => {
  for (const [type, shift] of [['subdural', 9], ['intraparenchymal', 5]] as const) {
    const p = generateHeadPhantom({
      seed: `shift-${type}`, bleedType: type, midlineShiftMm: shift, sliceThicknessMm: 2.5, rotationDeg: false, noiseSigmaHu: 3,
      dims: [200, 200, 16], fovMm: 200, truthMaxPoints: 5e5,
    });
    assert.ok(Math.abs(p.truth.midlineShiftMm - shift) < 0.05, `truth ${p.truth.midlineShiftMm}`);
    const m = measureShift(p.volume, p.truth.landmarks.septumMm);
    const measured = m.septumX - m.midX;
    const expected = (p.truth.midlineShiftTowards === 'left' ? 1 : -1) * p.truth.midlineShiftMm;
    assert.ok(Math.abs(measured - expected) < 1.2, `${type}: measured ${measured.toFixed(2)} mm, truth ${expected}`);
    // Without mass effect the septum sits on the skull's symmetry plane.
    const q = generateHeadPhantom({ seed: `shift-${type}`, bleedType: 'none', sliceThicknessMm: 2.5, rotationDeg: false, noiseSigmaHu: 3, dims: [200, 200, 16], fovMm: 200 });
    assert.equal(q.truth.midlineShiftMm, 0);
    const m0 = measureShift(q.volume, q.truth.landmarks.septumMm);
    assert.ok(Math.abs(m0.septumX - m0.midX) < 1.2, `no-shift case measured ${(m0.septumX - m0.midX).toFixed(2)}`);
  }
});

test('bleed-free cases carry dense calcifications and no bleed voxels', () => {
  for (const seed of [1, 2, 3]) {
    const p = generateHeadPhantom({ seed, bleedType: 'none', sliceThicknessMm: 2.5, ...SMALL });
    assert.equal(p.truth.hasHemorrhage, false);
    assert.equal(p.truth.bleeds.length, 0);
    assert.equal(p.truth.midlineShiftMm, 0);
    assert.ok(p.truth.calcifications.length >= 2);
    let bleed = 0, calc = 0;
    for (const v of p.labels.data) {
      if (v === 1) bleed++;
      else if (v === 2) calc++;
    }
    assert.equal(bleed, 0);
    assert.ok(calc > 0);
    // The choroid plexus calcifications are denser than any acute blood.
    for (const c of p.truth.calcifications.filter((x) => x.kind === 'choroid-plexus')) {
      const ijk = lpsToIjk(p.volume, c.centerMm).map(Math.round);
      const [nx, ny] = p.volume.dims;
      let max = -2000;
      for (let dj = -2; dj <= 2; dj++) for (let di = -2; di <= 2; di++) {
        max = Math.max(max, p.volume.data[(ijk[0] as number) + di + ((ijk[1] as number) + dj) * nx + (ijk[2] as number) * nx * ny] as number);
      }
      assert.ok(max > 95, `${c.id}: max ${max}`);
    }
  }
});

test('written tilted series round-trips to the same HU and geometry', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'head-phantom-'));
  try {
    const opts: HeadPhantomOptions = { seed: 5, bleedType: 'epidural' as HeadBleedChoice, dims: [64, 64, 8], fovMm: 230, tiltDeg: 15, truthMaxPoints: 2e5 };
    const res = await writeHeadPhantomCase(dir, opts);
    const p = generateHeadPhantom(opts);
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'truth.json'), 'utf8')), p.truth);
    assert.equal(res.files.length, 8);
    const [nx, ny] = p.volume.dims;
    for (let k = 0; k < res.files.length; k++) {
      const f = await readDicomFile(res.files[k] as string);
      const iop = getNumbers(f.dataset, 'ImageOrientationPatient');
      assert.ok(iop && Math.abs((iop[5] as number) - Math.sin((15 * Math.PI) / 180)) < 1e-4);
      const frame = await f.decodeFrame(0);
      const slope = 1, intercept = Number(f.dataset['RescaleIntercept'] ?? 0);
      for (let i = 0; i < nx * ny; i++) {
        assert.equal((frame.data[i] as number) * slope + intercept, p.volume.data[k * nx * ny + i]);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('invalid options are coded errors', () => {
  assert.throws(() => generateHeadPhantom({ seed: 1, sliceThicknessMm: 3 as 5 }), (e) => isSrError(e, 'PHANTOM_INVALID_OPTIONS'));
  assert.throws(() => generateHeadPhantom({ seed: 1, midlineShiftMm: 30 }), (e) => isSrError(e, 'PHANTOM_INVALID_OPTIONS'));
});
