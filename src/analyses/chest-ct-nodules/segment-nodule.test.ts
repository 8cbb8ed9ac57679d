import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, voxelCount } from '../../imaging/index.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { segmentNodule } from './segment-nodule.ts';

/** Parenchyma at −850 HU with a solid 6 mm sphere on a 3.4 mm vessel that crosses the whole box (smooth edges). */
function vesselScene(): { vol: ReturnType<typeof createVolume<Int16Array>>; lung: ReturnType<typeof createVolume<Uint8Array>>; c: Vec3; sphereMm3: number } {
  const dims: Vec3 = [72, 72, 50];
  const spacing: Vec3 = [0.7, 0.7, 1];
  const origin: Vec3 = [-25, -25, -25];
  const data = new Int16Array(voxelCount(dims));
  const R = 3, rv = 1.7;
  const c: Vec3 = [0, 0, 0];
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    const x = origin[0] + i * spacing[0], y = origin[1] + j * spacing[1], z = origin[2] + k * spacing[2];
    const dS = Math.hypot(x - c[0], y - c[1], z - c[2]) - R;
    // Vessel along x, tangent to the sphere's side (a juxta-vascular nodule).
    const dV = Math.hypot(y - (R + 0.5), z) - rv;
    const d = Math.min(dS, dV);
    const f = 1 / (1 + Math.exp(d / 0.35));
    data[v] = Math.round(-850 + f * 890);
  }
  const vol = createVolume(data, { dims, spacing, origin });
  const lung = createVolume(new Uint8Array(voxelCount(dims)).fill(1), { dims, spacing, origin });
  return { vol, lung, c, sphereMm3: (4 / 3) * Math.PI * R ** 3 };
}

test('a nodule on a vessel thicker than the opening ball: the leak is capped near the nodule', () => {
  const { vol, lung, c, sphereMm3 } = vesselScene();
  const seg = segmentNodule(vol, lung, c, 3);
  assert.ok(seg);
  assert.equal(seg.type, 'solid');
  // Without the cap the mask ran along the whole vessel (395 mm³, 3.5× the sphere, measured); now only the
  // stumps within ~1.6 nodule radii remain (223 mm³).
  assert.ok(seg.volumeMm3 < 2.2 * sphereMm3, `volume ${seg.volumeMm3.toFixed(0)} mm³ vs sphere ${sphereMm3.toFixed(0)} mm³`);
  assert.ok(seg.volumeMm3 > 0.8 * sphereMm3, `volume ${seg.volumeMm3.toFixed(0)} mm³ vs sphere ${sphereMm3.toFixed(0)} mm³`);
  assert.equal(seg.touchesBorder, false);
});

test('the coarse path segments the same nodule on a ≥ 1 mm grid with a similar volume', () => {
  const { vol, lung, c, sphereMm3 } = vesselScene();
  const fine = segmentNodule(vol, lung, c, 3);
  const coarse = segmentNodule(vol, lung, c, 3, { coarse: true });
  assert.ok(fine && coarse);
  assert.ok(coarse.mask.spacing[0] >= 1 && fine.mask.spacing[0] < 1);
  assert.ok(Math.abs(coarse.volumeMm3 - fine.volumeMm3) < 0.5 * sphereMm3, `coarse ${coarse.volumeMm3.toFixed(0)} vs fine ${fine.volumeMm3.toFixed(0)} mm³`);
});

/**
 * A solid sphere (radius `R` mm, `hu`) in parenchyma (−850 HU) with Gaussian-ish noise, optionally against a chest
 * wall (y > wallY, +40 HU, outside the lung mask), on a 1 mm grid.
 */
function massScene(R: number, hu: number, noise: number, wallY?: number, ribHu = 40): { vol: ReturnType<typeof createVolume<Int16Array>>; lung: ReturnType<typeof createVolume<Uint8Array>>; c: Vec3; truthMm3: number } {
  const side = Math.ceil(2 * R + 30);
  const dims: Vec3 = [side, side, side];
  const spacing: Vec3 = [1, 1, 1];
  const origin: Vec3 = [-side / 2, -side / 2, -side / 2];
  const data = new Int16Array(voxelCount(dims));
  const lungData = new Uint8Array(voxelCount(dims));
  let seed = 12345;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  let v = 0, inside = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    const x = origin[0] + i, y = origin[1] + j, z = origin[2] + k;
    const f = 1 / (1 + Math.exp((Math.hypot(x, y, z) - R) / 0.4));
    const wall = wallY === undefined ? 0 : 1 / (1 + Math.exp((wallY - y) / 0.4));
    const inLung = wallY === undefined || y < wallY;
    lungData[v] = inLung ? 1 : 0;
    if (inLung && Math.hypot(x, y, z) < R) inside++;
    const base = -850 + f * (hu + 850);
    const n = noise * (rand() + rand() + rand() - 1.5) * 2;
    // A rib 2–8 mm beyond the pleura.
    const rib = wallY === undefined ? 0 : 1 / (1 + Math.exp((Math.abs(y - wallY - 5) - 3) / 0.4));
    const wallHu = 40 + (ribHu - 40) * rib;
    data[v] = Math.round(base + (wallHu - base) * wall + n);
  }
  return { vol: createVolume(data, { dims, spacing, origin }), lung: createVolume(lungData, { dims, spacing, origin }), c: [0, 0, 0], truthMm3: inside };
}

test('a 30 mm solid mass against a rib (50 HU, noisy) is not calcified: calcified needs a core ≥ 200 HU inside the lung', () => {
  // Seeded off-centre towards the wall, as a juxtapleural mass's core candidate is: the rib (600 HU) lies within
  // the peak search radius (half the estimated radius), and used to make the peak — and the type — calcified.
  const { vol, lung, c } = massScene(15, 50, 30, 10, 600);
  const seg = segmentNodule(vol, lung, [c[0], c[1] + 4, c[2]], 15);
  assert.ok(seg);
  assert.notEqual(seg.type, 'calcified');
  assert.ok(seg.peakHu < 200, `peak ${seg.peakHu.toFixed(0)} HU`);
});

test('a 7 mm calcified nodule (400 HU) is calcified', () => {
  const { vol, lung, c } = massScene(3.5, 400, 20);
  const seg = segmentNodule(vol, lung, c, 3.5);
  assert.ok(seg);
  assert.equal(seg.type, 'calcified');
});

test('a 70 mm mass against the chest wall, seeded with a blob radius of 6 mm, is segmented whole (within 15 %)', () => {
  const { vol, lung, c, truthMm3 } = massScene(35, 40, 15, 25);
  const seg = segmentNodule(vol, lung, [c[0], c[1] - 10, c[2]], 6);
  assert.ok(seg);
  const err = (seg.volumeMm3 - truthMm3) / truthMm3;
  if (process.env['SEG_DEBUG']) process.stdout.write(`mass: ${seg.volumeMm3.toFixed(0)} vs ${truthMm3} grid ${seg.mask.dims[0]} × ${seg.mask.spacing[0].toFixed(2)} mm ray ${seg.rayRadiusMm.toFixed(1)} border ${seg.touchesBorder}\n`);
  assert.ok(Math.abs(err) <= 0.15, `volume ${(seg.volumeMm3 / 1000).toFixed(1)} mL vs lung part of the mass ${(truthMm3 / 1000).toFixed(1)} mL`);
  assert.notEqual(seg.type, 'calcified');
});
