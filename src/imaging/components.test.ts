import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from './volume.ts';
import type { MaskVolume, Vec3 } from './volume.ts';
import { connectedComponents, largestComponent, removeSmallComponents, selectLabels } from './components.ts';
import type { Connectivity } from './components.ts';
import { isSrError } from '../core/errors.ts';

function maskOf(dims: Vec3, voxels: Vec3[], spacing: Vec3 = [1, 1, 1]): MaskVolume {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [i, j, k] of voxels) data[i + j * dims[0] + k * dims[0] * dims[1]] = 1;
  return createVolume(data, { dims, spacing });
}

/** Flood-fill labelling with explicit neighbour offsets, as the reference. */
function bruteLabels(mask: MaskVolume, connectivity: Connectivity): { labels: Int32Array; count: number } {
  const [nx, ny, nz] = mask.dims;
  const offs: Vec3[] = [];
  for (let c = -1; c <= 1; c++) for (let b = -1; b <= 1; b++) for (let a = -1; a <= 1; a++) {
    const n = Math.abs(a) + Math.abs(b) + Math.abs(c);
    if (n === 0 || (connectivity === 6 && n > 1) || (connectivity === 18 && n > 2)) continue;
    offs.push([a, b, c]);
  }
  const labels = new Int32Array(mask.data.length);
  let count = 0;
  for (let v = 0; v < labels.length; v++) {
    if (mask.data[v] === 0 || labels[v] !== 0) continue;
    labels[v] = ++count;
    const stack = [v];
    while (stack.length > 0) {
      const p = stack.pop() as number;
      const i = p % nx, j = Math.floor(p / nx) % ny, k = Math.floor(p / (nx * ny));
      for (const [a, b, c] of offs) {
        const x = i + a, y = j + b, z = k + c;
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
        const q = x + y * nx + z * nx * ny;
        if (mask.data[q] !== 0 && labels[q] === 0) {
          labels[q] = count;
          stack.push(q);
        }
      }
    }
  }
  return { labels, count };
}

test('edge and corner neighbours count according to the connectivity', () => {
  const edge = maskOf([3, 3, 3], [[0, 0, 0], [1, 1, 0]]); // differ in i and j
  const edgeJK = maskOf([3, 3, 3], [[1, 0, 0], [1, 1, 1]]); // differ in j and k
  const corner = maskOf([3, 3, 3], [[0, 0, 0], [1, 1, 1]]);
  const face = maskOf([3, 3, 3], [[2, 2, 1], [2, 2, 2]]);
  const counts = (m: MaskVolume): number[] => ([6, 18, 26] as const).map((c) => connectedComponents(m, { connectivity: c }).count);
  assert.deepEqual(counts(edge), [2, 1, 1]);
  assert.deepEqual(counts(edgeJK), [2, 1, 1]);
  assert.deepEqual(counts(corner), [2, 2, 1]);
  assert.deepEqual(counts(face), [1, 1, 1]);
  assert.equal(connectedComponents(maskOf([2, 2, 2], [])).count, 0);
});

test('a U shape merges late in the scan into one component', () => {
  const vox: Vec3[] = [];
  for (let j = 0; j < 5; j++) vox.push([0, j, 0], [4, j, 0]);
  for (let i = 0; i < 5; i++) vox.push([i, 4, 0]);
  const r = connectedComponents(maskOf([5, 5, 1], vox), { connectivity: 6 });
  assert.equal(r.count, 1);
  assert.equal(r.sizes[1], 13);
});

test('matches flood-fill labelling on random masks (same partition, same sizes)', () => {
  let seed = 7;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  // Widths that are multiples of 4 take the word-at-a-time scan; the others the byte scan.
  for (const dims of [[13, 11, 9], [30, 4, 7], [1, 20, 20], [17, 17, 1], [16, 6, 5], [8, 8, 8], [32, 3, 2]] as Vec3[]) {
    for (const density of [0.15, 0.3, 0.55]) {
      const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
      for (let v = 0; v < data.length; v++) data[v] = rand() < density ? (v % 3 === 0 ? 255 : 1) : 0;
      const mask = createVolume(data, { dims });
      for (const connectivity of [6, 18, 26] as const) {
        const got = connectedComponents(mask, { connectivity });
        const want = bruteLabels(mask, connectivity);
        assert.equal(got.count, want.count, `${dims} ${density} ${connectivity}`);
        // Both number components by first voxel in scan order, so labels must agree exactly.
        assert.deepEqual(got.labels.data, want.labels);
        const sizes = new Int32Array(want.count + 1);
        for (const l of want.labels) if (l > 0) sizes[l] = (sizes[l] as number) + 1;
        assert.deepEqual(got.sizes, sizes);
      }
    }
  }
});

test('sortBySize, largestComponent, removeSmallComponents and selectLabels', () => {
  const vox: Vec3[] = [[0, 0, 0], [5, 5, 5], [5, 6, 5], [5, 7, 5], [9, 0, 0], [9, 1, 0]];
  const mask = maskOf([10, 10, 10], vox, [0.5, 0.5, 2]);
  const r = connectedComponents(mask, { sortBySize: true });
  assert.equal(r.count, 3);
  assert.deepEqual(Array.from(r.sizes), [0, 3, 2, 1]);
  assert.equal(r.labels.data[5 + 50 + 500], 1);
  assert.equal(r.labels.data[9], 2);
  const largest = largestComponent(mask);
  assert.equal(largest.data.reduce((a, b) => a + b, 0), 3);
  assert.equal(largest.data[5 + 60 + 500], 1);
  const noSmall = removeSmallComponents(mask, { minVoxels: 2 });
  assert.equal(noSmall.data.reduce((a, b) => a + b, 0), 5);
  assert.equal(noSmall.data[0], 0);
  // voxel = 0.5 mm³: 2 voxels = 1 mm³
  assert.equal(removeSmallComponents(mask, { minVolumeMm3: 1.2 }).data.reduce((a, b) => a + b, 0), 3);
  const sel = selectLabels(r.labels, [2, 3]);
  assert.equal(sel.data.reduce((a, b) => a + b, 0), 3);
  assert.deepEqual(selectLabels(r.labels, (l) => l === 1).data, largest.data);
  assert.equal(largestComponent(maskOf([2, 2, 2], [])).data.reduce((a, b) => a + b, 0), 0);
  assert.throws(() => connectedComponents(mask, { connectivity: 8 as Connectivity }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  assert.throws(() => removeSmallComponents(mask, {}), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});
