import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from '../../imaging/index.ts';
import type { MaskVolume, Vec3 } from '../../imaging/index.ts';
import { axialAxes, convexHull2D, longShortAxes2D, maxDiameter3D, round1, shapeMoments } from './measure.ts';

function maskFrom(dims: Vec3, spacing: Vec3, inside: (x: number, y: number, z: number) => boolean): MaskVolume {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    data[v] = inside(i * spacing[0], j * spacing[1], k * spacing[2]) ? 1 : 0;
  }
  return createVolume(data, { dims, spacing });
}

test('convex hull of a square with an inner point keeps the 4 corners', () => {
  const hull = convexHull2D([0, 0, 2, 0, 2, 2, 0, 2, 1, 1]);
  assert.equal(hull.length, 4);
  assert.ok(!hull.includes(4));
});

test('long/short axes of a 10 × 4 rectangle of points', () => {
  const xy: number[] = [];
  for (let x = 0; x <= 10; x++) for (let y = 0; y <= 4; y++) xy.push(x, y);
  const a = longShortAxes2D(xy);
  // The longest chord is the diagonal; the extent perpendicular to it is the rectangle's "width" along the normal.
  assert.ok(Math.abs(a.long - Math.hypot(10, 4)) < 1e-9);
  const expectedShort = (2 * 10 * 4) / Math.hypot(10, 4);
  assert.ok(Math.abs(a.short - expectedShort) < 1e-9, `short ${a.short} vs ${expectedShort}`);
});

test('axial axes of an axis-aligned ellipse slab: hand-computed long and short axes', () => {
  // Ellipse semi-axes 6 × 3 mm sampled on 0.5 mm pixels, 3 slices; the widest slice is any (ties → first).
  const dims: Vec3 = [40, 40, 3];
  const sp: Vec3 = [0.5, 0.5, 2];
  const m = maskFrom(dims, sp, (x, y) => ((x - 10) / 6) ** 2 + ((y - 10) / 3) ** 2 <= 1);
  const a = axialAxes(m);
  // Voxel centres span 2·6 = 12 mm at best; +1 pixel for the voxel extent → 12.5; short 6 + 0.5 = 6.5.
  assert.ok(Math.abs(a.longAxisMm - 12.5) <= 0.5, `long ${a.longAxisMm}`);
  assert.ok(Math.abs(a.shortAxisMm - 6.5) <= 0.5, `short ${a.shortAxisMm}`);
  assert.equal(a.meanDiameterMm, round1((a.longAxisMm + a.shortAxisMm) / 2));
});

test('axial axes pick the slice of greatest extent (a cone: widest at the bottom)', () => {
  const dims: Vec3 = [30, 30, 5];
  const sp: Vec3 = [1, 1, 1];
  const m = maskFrom(dims, sp, (x, y, z) => Math.hypot(x - 15, y - 15) <= 8 - 1.5 * z);
  const a = axialAxes(m);
  assert.equal(a.slice, 0);
  assert.ok(Math.abs(a.longAxisMm - 17) <= 1, `long ${a.longAxisMm}`);
});

test('a rotated rectangle: the long axis follows the diagonal direction, not the grid', () => {
  const dims: Vec3 = [60, 60, 1];
  const sp: Vec3 = [0.5, 0.5, 1];
  const c = Math.SQRT1_2;
  // 16 × 4 mm rectangle rotated by 45°.
  const m = maskFrom(dims, sp, (x, y) => {
    const u = (x - 15) * c + (y - 15) * c, w = -(x - 15) * c + (y - 15) * c;
    return Math.abs(u) <= 8 && Math.abs(w) <= 2;
  });
  const a = axialAxes(m);
  assert.ok(Math.abs(a.longAxisMm - Math.hypot(16, 4)) <= 1.2, `long ${a.longAxisMm}`);
  // Perpendicular to the diagonal chord of a 16 × 4 rectangle the extent is 2·16·4 / √(16² + 4²) ≈ 7.76 mm.
  assert.ok(Math.abs(a.shortAxisMm - (2 * 16 * 4) / Math.hypot(16, 4)) <= 1.2, `short ${a.shortAxisMm}`);
});

test('max 3D diameter and moments of a sphere and of a rod', () => {
  const dims: Vec3 = [30, 30, 30];
  const sp: Vec3 = [0.5, 0.5, 0.5];
  const ball = maskFrom(dims, sp, (x, y, z) => Math.hypot(x - 7.25, y - 7.25, z - 7.25) <= 5);
  assert.ok(Math.abs(maxDiameter3D(ball) - 10) <= 0.8, `ball ${maxDiameter3D(ball)}`);
  const mb = shapeMoments(ball);
  assert.ok(mb.elongation > 0.95, `ball elongation ${mb.elongation}`);
  const rod = maskFrom(dims, sp, (x, y, z) => Math.hypot(y - 7.25, z - 7.25) <= 1 && x >= 1 && x <= 13);
  const mr = shapeMoments(rod);
  assert.ok(mr.elongation < 0.25, `rod elongation ${mr.elongation}`);
  assert.ok(Math.abs(Math.abs(mr.majorAxis[0]) - 1) < 1e-3, 'rod axis along i');
  assert.ok(Math.abs(maxDiameter3D(rod) - Math.hypot(12.5, 2)) <= 1, `rod ${maxDiameter3D(rod)}`);
});
