import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, directionFromOrientation, ijkToLps, lpsToIjk } from './volume.ts';
import type { Mat3, Vec3 } from './volume.ts';
import { resample, resampleToGrid, sampleLinear, toFloat32 } from './resample.ts';
import { crop, embed, expandBox, maskBoundingBox } from './crop.ts';
import { isSrError } from '../core/errors.ts';

const dims: Vec3 = [8, 7, 6];
const spacing: Vec3 = [0.7, 0.8, 2];
const origin: Vec3 = [-100, 50, 20];
const direction: Mat3 = directionFromOrientation([0, 1, 0, 0, 0, -1]); // a sagittal-like grid
function ramp(): ReturnType<typeof createVolume<Float32Array>> {
  const data = new Float32Array(8 * 7 * 6);
  let v = 0;
  for (let k = 0; k < 6; k++) for (let j = 0; j < 7; j++) for (let i = 0; i < 8; i++) data[v++] = 3 * i - 2 * j + 5 * k;
  return createVolume(data, { dims, spacing, origin, direction });
}

test('resampling onto its own grid is the identity', () => {
  const vol = ramp();
  assert.deepEqual(resampleToGrid(vol, vol).data, vol.data);
  const i16 = createVolume(Int16Array.from(vol.data), vol);
  const same = resampleToGrid(i16, vol, { interpolation: 'nearest' });
  assert.ok(same.data instanceof Int16Array);
  assert.deepEqual(same.data, i16.data);
});

test('a grid shifted by a known LPS offset reads shifted voxels; outside takes fill', () => {
  const vol = ramp();
  const shifted = { ...vol, origin: ijkToLps(vol, [1.5, 2, 1]) };
  const out = resampleToGrid(vol, shifted, { fill: -999 });
  // out(i,j,k) = in(i+1.5, j+2, k+1), linear in i so exact
  assert.equal(out.data[0], 3 * 1.5 - 2 * 2 + 5 * 1);
  assert.equal(out.data[2 + 8 * 1 + 56 * 2], 3 * 3.5 - 2 * 3 + 5 * 3);
  assert.equal(out.data[7 + 8 * 6 + 56 * 5], -999); // maps to (8.5, 8, 6): outside
});

test('resample keeps the field of view, origin and direction; linear is exact on a ramp', () => {
  const vol = ramp();
  const out = resample(vol, { spacing: [0.35, 1.6, 1] });
  assert.deepEqual(out.dims, [16, 4, 12]);
  assert.deepEqual(out.origin, origin);
  assert.deepEqual(out.direction, direction);
  for (const ijk of [[3, 1, 5], [1, 2, 3]] as Vec3[]) {
    const p = lpsToIjk(vol, ijkToLps(out, ijk));
    const v = out.data[ijk[0] + ijk[1] * 16 + ijk[2] * 64] as number;
    assert.ok(Math.abs(v - (3 * p[0] - 2 * p[1] + 5 * p[2])) < 1e-4);
  }
  // Integers are rounded, not truncated.
  const i16 = createVolume(Int16Array.from([0, 1, 0, 1, 0, 1, 0, 1]), { dims: [2, 2, 2] });
  const up = resampleToGrid(i16, { dims: [1, 1, 1], spacing: [1, 1, 1], origin: [0.5, 0.5, 0.5], direction: i16.direction });
  assert.deepEqual(Array.from(up.data), [1]); // mean 0.5 rounds to 1
  assert.throws(() => resample(vol, { spacing: 0 }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  assert.ok(toFloat32(i16).data instanceof Float32Array);
});

test('crop moves the origin so voxels keep their LPS position; embed undoes it', () => {
  const vol = ramp();
  const box = { start: [2, 1, 3] as Vec3, end: [6, 5, 5] as Vec3 };
  const c = crop(vol, box);
  assert.deepEqual(c.dims, [4, 4, 2]);
  const a = ijkToLps(c, [1, 2, 1]);
  const b = ijkToLps(vol, [3, 3, 4]);
  for (let q = 0; q < 3; q++) assert.ok(Math.abs((a[q] as number) - (b[q] as number)) < 1e-9);
  assert.equal(c.data[1 + 2 * 4 + 16], vol.data[3 + 3 * 8 + 4 * 56]);
  const back = embed(c, vol, box.start, -1);
  assert.equal(back.data[3 + 3 * 8 + 4 * 56], vol.data[3 + 3 * 8 + 4 * 56]);
  assert.equal(back.data[0], -1);
  assert.throws(() => crop(vol, { start: [0, 0, 0], end: [9, 1, 1] }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  assert.deepEqual(crop(vol, { start: [-2, 0, 0], end: [9, 1, 1] }, { clamp: true }).dims, [8, 1, 1]);
  const m = createVolume(new Uint8Array(8 * 7 * 6), { dims, spacing });
  assert.equal(maskBoundingBox(m), null);
  m.data[3 + 2 * 8 + 4 * 56] = 1;
  m.data[5 + 1 * 8 + 4 * 56] = 1;
  const bb = maskBoundingBox(m);
  assert.deepEqual(bb, { start: [3, 1, 4], end: [6, 3, 5] });
  assert.deepEqual(expandBox(bb ?? { start: [0, 0, 0], end: [1, 1, 1] }, 1.5, m), { start: [0, 0, 3], end: [8, 5, 6] });
});

test('sampleLinear: exact on a linear ramp inside, border value within half a voxel, fill beyond', () => {
  const vol = ramp();
  const f = (i: number, j: number, k: number) => 3 * i - 2 * j + 5 * k;
  for (const p of [[0, 0, 0], [7, 6, 5], [3.25, 1.5, 2.75], [6.9, 5.99, 4.01], [0.5, 6, 0.1]] as const) {
    assert.ok(Math.abs(sampleLinear(vol, p[0], p[1], p[2]) - f(p[0], p[1], p[2])) < 1e-4, `at ${p.join(',')}`);
  }
  assert.ok(Math.abs(sampleLinear(vol, 7.4, 3, 2) - f(7, 3, 2)) < 1e-4);
  assert.ok(Math.abs(sampleLinear(vol, -0.4, 3, 2) - f(0, 3, 2)) < 1e-4);
  assert.equal(sampleLinear(vol, 7.6, 3, 2, -1000), -1000);
  assert.equal(sampleLinear(vol, 3, -0.6, 2, -1000), -1000);
  assert.equal(sampleLinear(vol, Number.NaN, 3, 2, 7), 7);
  // A one-voxel-thick axis (a single slice) interpolates in the other two.
  const slice = createVolume(Float32Array.from([0, 1, 2, 3]), { dims: [2, 2, 1], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
  assert.ok(Math.abs(sampleLinear(slice, 0.5, 0.5, 0) - 1.5) < 1e-6);
});
