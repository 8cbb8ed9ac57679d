import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from './volume.ts';
import type { MaskVolume, Vec3 } from './volume.ts';
import { radialCap, sphereDirections } from './radial.ts';

/** A ball of radius `r` mm at `c` (voxel indices) plus, optionally, a rod of radius `rodR` along +x from the ball's centre. */
function ballWithRod(dims: Vec3, spacing: Vec3, c: Vec3, r: number, rodR = 0): MaskVolume {
  const [nx, ny, nz] = dims;
  const data = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const x = (i - c[0]) * spacing[0], y = (j - c[1]) * spacing[1], z = (k - c[2]) * spacing[2];
    const inBall = x * x + y * y + z * z <= r * r;
    const inRod = rodR > 0 && x >= 0 && y * y + z * z <= rodR * rodR;
    data[i + j * nx + k * nx * ny] = inBall || inRod ? 1 : 0;
  }
  return createVolume(data, { dims, spacing });
}

const count = (m: MaskVolume) => m.data.reduce((s, x) => s + x, 0);

test('sphereDirections: unit vectors, spread over the whole sphere', () => {
  const dirs = sphereDirections(200);
  assert.equal(dirs.length, 200);
  for (const d of dirs) assert.ok(Math.abs(Math.hypot(...d) - 1) < 1e-9);
  // Evenly spread: the mean vector is ≈ 0, and every axis direction has a lattice point within 15°.
  const mean = [0, 1, 2].map((a) => dirs.reduce((s, d) => s + (d[a] as number), 0) / dirs.length);
  for (const m of mean) assert.ok(Math.abs(m) < 0.02, `mean ${mean.join(',')}`);
  for (const axis of [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]] as Vec3[]) {
    const best = Math.max(...dirs.map((d) => d[0] * axis[0] + d[1] * axis[1] + d[2] * axis[2]));
    assert.ok(best > Math.cos((15 * Math.PI) / 180), `axis ${axis.join(',')}: ${best}`);
  }
});

test('radialCap leaves a ball whole and cuts a rod attached to it at about the cap', () => {
  const dims: Vec3 = [48, 32, 32], spacing: Vec3 = [0.5, 0.5, 0.5], c: Vec3 = [14, 16, 16];
  const ball = ballWithRod(dims, spacing, c, 4);
  const plain = radialCap(ball, c, { factor: 1.15, coneDeg: 90, quantile: 0.4 });
  assert.equal(plain.removed, 0);
  assert.equal(count(plain.mask), count(ball));
  // Every ray of a ball centred on the centre ends at its radius (within the march step and a voxel).
  for (const e of plain.extentMm) assert.ok(Math.abs(e - 4) <= 0.6, `extent ${e}`);

  const withRod = ballWithRod(dims, spacing, c, 4, 1.2);
  const capped = radialCap(withRod, c, { factor: 1.15, coneDeg: 90, quantile: 0.4 });
  assert.ok(capped.removed > 0);
  // Nothing of the ball is lost; the rod is kept only up to the cap (1.15 × 4 mm + one voxel ≈ 5.1 mm).
  const [nx, ny] = dims;
  let ballLost = 0, rodBeyond = 0;
  for (let v = 0; v < withRod.data.length; v++) {
    if (withRod.data[v] === 0) continue;
    const i = v % nx, j = Math.floor(v / nx) % ny, k = Math.floor(v / (nx * ny));
    const r = Math.hypot((i - c[0]) * spacing[0], (j - c[1]) * spacing[1], (k - c[2]) * spacing[2]);
    if (ball.data[v] !== 0 && capped.mask.data[v] === 0) ballLost++;
    if (capped.mask.data[v] !== 0 && r > 5.3) rodBeyond++;
  }
  assert.equal(ballLost, 0);
  assert.equal(rodBeyond, 0);
  // The rod's rays were long before the cap (they run to the grid's edge).
  assert.ok(Math.max(...capped.extentMm) > 8);
});

test('radialCap on an anisotropic grid measures in mm', () => {
  const dims: Vec3 = [40, 40, 16], spacing: Vec3 = [0.5, 0.5, 1.5], c: Vec3 = [20, 20, 8];
  const ball = ballWithRod(dims, spacing, c, 5);
  const res = radialCap(ball, c, {});
  assert.equal(res.removed, 0);
  for (const e of res.extentMm) assert.ok(Math.abs(e - 5) <= 1.0, `extent ${e}`);
});
