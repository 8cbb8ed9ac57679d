import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from './volume.ts';
import type { MaskVolume, Vec3 } from './volume.ts';
import { distanceTransform } from './distance.ts';
import { isSrError } from '../core/errors.ts';
import { seededRandom } from '../core/random.ts';

const rng = seededRandom;

function randomMask(dims: Vec3, spacing: Vec3, density: number, seed: number): MaskVolume {
  const r = rng(seed);
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let v = 0; v < data.length; v++) data[v] = r() < density ? 1 : 0;
  return createVolume(data, { dims, spacing });
}

function bruteForce(mask: MaskVolume, inside: boolean): Float64Array {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  const out = new Float64Array(mask.data.length);
  const seeds: Vec3[] = [];
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if ((mask.data[i + j * nx + k * nx * ny] !== 0) !== inside) seeds.push([i, j, k]);
  }
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    let best = Infinity;
    for (const [a, b, c] of seeds) best = Math.min(best, ((a - i) * sx) ** 2 + ((b - j) * sy) ** 2 + ((c - k) * sz) ** 2);
    out[i + j * nx + k * nx * ny] = Math.sqrt(best);
  }
  return out;
}

test('exact Euclidean distances on random anisotropic masks, both senses', () => {
  const cases: [Vec3, Vec3, number][] = [
    [[9, 7, 6], [0.7, 0.9, 2.5], 0.1],
    [[12, 5, 8], [1, 1, 1], 0.5],
    [[6, 11, 9], [2, 0.5, 1.25], 0.02],
    [[1, 9, 7], [1, 0.8, 1.3], 0.2],
    [[10, 1, 1], [0.4, 1, 1], 0.2],
  ];
  cases.forEach(([dims, spacing, density], idx) => {
    const mask = randomMask(dims, spacing, density, idx + 1);
    for (const inside of [true, false]) {
      const got = distanceTransform(mask, { inside });
      const want = bruteForce(mask, inside);
      for (let v = 0; v < want.length; v++) {
        const w = want[v] as number;
        const g = got.data[v] as number;
        if (w === Infinity) assert.equal(g, Infinity);
        else assert.ok(Math.abs(g - w) < 1e-4 * Math.max(1, w), `case ${idx} inside=${inside} voxel ${v}: ${g} ≠ ${w}`);
      }
    }
  });
});

test('squared option, a single seed and an empty mask', () => {
  const dims: Vec3 = [5, 4, 3];
  const data = new Uint8Array(60).fill(1);
  data[0] = 0;
  const mask = createVolume(data, { dims, spacing: [1, 2, 3] });
  const d2 = distanceTransform(mask, { squared: true });
  assert.equal(d2.data[4 + 3 * 5 + 2 * 20], 16 + 36 + 36);
  assert.equal(d2.data[0], 0);
  const none = distanceTransform(createVolume(new Uint8Array(60), { dims }), { inside: false });
  assert.ok(none.data.every((x) => x === Infinity));
  assert.throws(() => distanceTransform(createVolume(new Float32Array(60), { dims }) as unknown as MaskVolume), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});

test('the worker path gives the same result as the calling thread', () => {
  const mask = randomMask([128, 130, 128], [0.7, 0.7, 1], 0.001, 9);
  const a = distanceTransform(mask, { threads: 1 });
  const b = distanceTransform(mask, { threads: 2 });
  assert.deepEqual(a.data, new Float32Array(b.data));
});
