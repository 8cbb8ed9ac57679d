import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from './volume.ts';
import type { MaskVolume, Vec3 } from './volume.ts';
import { close, dilate, erode, fillHoles, fillHoles2D, open } from './morphology.ts';

function randomSparse(dims: Vec3, spacing: Vec3, density: number, seed: number): MaskVolume {
  let s = seed;
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let v = 0; v < data.length; v++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    data[v] = s / 2147483648 < density ? 1 : 0;
  }
  return createVolume(data, { dims, spacing });
}

/** Brute-force dilation with the ellipsoid Σ ((Δ·s)/r)² ≤ 1. */
function bruteDilate(mask: MaskVolume, r: Vec3): Uint8Array {
  const [nx, ny, nz] = mask.dims;
  const [sx, sy, sz] = mask.spacing;
  const out = new Uint8Array(mask.data.length);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if (mask.data[i + j * nx + k * nx * ny] === 0) continue;
    for (let c = 0; c < nz; c++) for (let b = 0; b < ny; b++) for (let a = 0; a < nx; a++) {
      const q = ((a - i) * sx / r[0]) ** 2 + ((b - j) * sy / r[1]) ** 2 + ((c - k) * sz / r[2]) ** 2;
      if (q <= 1 + 1e-9) out[a + b * nx + c * nx * ny] = 1;
    }
  }
  return out;
}

function not(m: MaskVolume): MaskVolume {
  return createVolume(m.data.map((x) => (x ? 0 : 1)), m);
}

test('dilation and erosion match brute force with spheres and ellipsoids on anisotropic grids', () => {
  const cases: [Vec3, Vec3, number | Vec3, number][] = [
    [[12, 10, 8], [0.7, 0.7, 1.6], 1.9, 0.03],
    [[9, 9, 9], [1, 1, 1], 1, 0.05],
    [[10, 8, 7], [0.5, 0.8, 1.2], [1.1, 2.3, 2.5], 0.04],
    [[14, 12, 6], [0.7, 0.7, 2.0], 3.3, 0.01],
  ];
  cases.forEach(([dims, spacing, radius, density], idx) => {
    const mask = randomSparse(dims, spacing, density, idx + 3);
    const r: Vec3 = typeof radius === 'number' ? [radius, radius, radius] : radius;
    assert.deepEqual(dilate(mask, { radiusMm: radius }).data, bruteDilate(mask, r), `dilate case ${idx}`);
    // Erosion is the dual: complement of the dilation of the complement.
    const dense = not(randomSparse(dims, spacing, density, idx + 11));
    assert.deepEqual(erode(dense, { radiusMm: radius }).data, not(createVolume(bruteDilate(not(dense), r), dense)).data, `erode case ${idx}`);
  });
});

test('opening removes thin parts, closing fills gaps, borders are not eroded', () => {
  const dims: Vec3 = [20, 20, 20];
  const data = new Uint8Array(8000);
  const at = (i: number, j: number, k: number): number => i + j * 20 + k * 400;
  for (let k = 4; k < 16; k++) for (let j = 4; j < 16; j++) for (let i = 4; i < 16; i++) data[at(i, j, k)] = 1;
  for (let i = 16; i < 20; i++) data[at(i, 10, 10)] = 1; // a one-voxel spur
  data[at(10, 10, 10)] = 0; // a pinhole
  const m = createVolume(data, { dims });
  const o = open(m, { radiusMm: 1.5 });
  assert.equal(o.data[at(18, 10, 10)], 0);
  assert.equal(o.data[at(5, 5, 5)], 1);
  const c = close(m, { radiusMm: 1.5 });
  assert.equal(c.data[at(10, 10, 10)], 1);
  const full = createVolume(new Uint8Array(27).fill(1), { dims: [3, 3, 3] });
  assert.deepEqual(erode(full, { radiusMm: 5 }).data, full.data);
});

test('fillHoles fills enclosed cavities only; fillHoles2D fills per slice', () => {
  const dims: Vec3 = [9, 9, 9];
  const at = (i: number, j: number, k: number): number => i + j * 9 + k * 81;
  const shell = new Uint8Array(729);
  for (let k = 1; k < 8; k++) for (let j = 1; j < 8; j++) for (let i = 1; i < 8; i++) {
    if (i === 1 || i === 7 || j === 1 || j === 7 || k === 1 || k === 7) shell[at(i, j, k)] = 1;
  }
  const filled = fillHoles(createVolume(shell, { dims }));
  assert.equal(filled.data[at(4, 4, 4)], 1);
  assert.equal(filled.data[at(0, 0, 0)], 0);
  // A tube along k: hollow in every axial slice, open to the outside at both ends in 3D.
  const tube = new Uint8Array(729);
  for (let k = 0; k < 9; k++) for (let j = 2; j < 7; j++) for (let i = 2; i < 7; i++) {
    if (i === 2 || i === 6 || j === 2 || j === 6) tube[at(i, j, k)] = 1;
  }
  const tubeVol = createVolume(tube, { dims });
  assert.equal(fillHoles(tubeVol).data[at(4, 4, 4)], 0);
  assert.equal(fillHoles2D(tubeVol).data[at(4, 4, 4)], 1);
  assert.equal(fillHoles2D(tubeVol, { axis: 0 }).data[at(4, 4, 4)], 0);
  // The 26-connected diagonal of a hole's wall: 6-connected background does not leak through it.
  assert.equal(fillHoles(createVolume(shell, { dims }), { connectivity: 26 }).data[at(4, 4, 4)], 1);
});
