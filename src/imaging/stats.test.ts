import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, ijkToLps } from './volume.ts';
import type { Vec3 } from './volume.ts';
import { labelStats, regionStats } from './stats.ts';
import { localMaxima } from './maxima.ts';
import { insideMask, maskAnd, maskCount, maskNot, maskOr, threshold } from './mask.ts';
import { isSrError } from '../core/errors.ts';

const dims: Vec3 = [4, 3, 2];
const geo = { dims, spacing: [0.5, 0.5, 2] as Vec3, origin: [10, 20, 30] as Vec3 };

test('regionStats and labelStats', () => {
  const vol = createVolume(Int16Array.from({ length: 24 }, (_, v) => v), geo);
  const mask = createVolume(new Uint8Array(24), geo);
  mask.data[1] = 1; // (1,0,0) value 1
  mask.data[3 + 4 * 2 + 12] = 1; // (3,2,1) value 23
  const s = regionStats(vol, mask);
  assert.equal(s.count, 2);
  assert.equal(s.volumeMm3, 1);
  assert.equal(s.mean, 12);
  assert.equal(s.sd, 11);
  assert.equal(s.min, 1);
  assert.equal(s.max, 23);
  assert.deepEqual(s.centroidIjk, [2, 1, 0.5]);
  assert.deepEqual(s.centroidLps, ijkToLps(vol, [2, 1, 0.5]));
  assert.deepEqual(s.bbox, { start: [1, 0, 0], end: [4, 3, 2] });
  const empty = regionStats(vol, createVolume(new Uint8Array(24), geo));
  assert.equal(empty.count, 0);
  assert.ok(Number.isNaN(empty.mean));
  assert.equal(empty.bbox, null);
  const labels = createVolume(new Int32Array(24), geo);
  labels.data[0] = 2;
  labels.data[5] = 2;
  const ls = labelStats(vol, labels);
  assert.equal(ls.length, 2);
  assert.equal(ls[0]?.count, 0);
  assert.equal(ls[1]?.label, 2);
  assert.equal(ls[1]?.mean, 2.5);
  assert.throws(() => regionStats(vol, createVolume(new Uint8Array(8), { dims: [2, 2, 2] })), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});

test('threshold is inclusive; mask logic', () => {
  const vol = createVolume(Int16Array.from({ length: 24 }, (_, v) => v - 10), geo);
  const m = threshold(vol, { low: -2, high: 3 });
  assert.equal(maskCount(m), 6);
  assert.equal(m.data[8], 1);
  assert.equal(m.data[13], 1);
  assert.equal(maskCount(threshold(vol, { high: -10 })), 1);
  const n = threshold(vol, { low: 0 });
  assert.equal(maskCount(maskAnd(m, n)), 4);
  assert.equal(maskCount(maskOr(m, n)), 16);
  assert.equal(maskCount(maskNot(m)), 18);
  assert.throws(() => threshold(vol, { low: 3, high: 2 }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});

test('localMaxima: peaks strongest first, plateaus once, suppression by distance', () => {
  const d: Vec3 = [10, 10, 5];
  const vol = createVolume(new Float32Array(500), { dims: d, spacing: [1, 1, 2] });
  const at = (i: number, j: number, k: number): number => i + j * 10 + k * 100;
  vol.data[at(2, 2, 2)] = 5;
  vol.data[at(4, 2, 2)] = 7; // 2 mm away
  vol.data[at(8, 8, 1)] = 3;
  vol.data[at(8, 8, 2)] = 3; // a two-voxel plateau
  const all = localMaxima(vol, { minValue: 1 });
  assert.deepEqual(all.map((m) => m.value), [7, 5, 3]);
  assert.deepEqual(all[2]?.ijk, [8, 8, 1]);
  assert.deepEqual(localMaxima(vol, { minValue: 1, minDistanceMm: 2.5 }).map((m) => m.value), [7, 3]);
  assert.deepEqual(localMaxima(vol, { minValue: 1, maxCount: 1 }).map((m) => m.ijk), [[4, 2, 2]]);
  const mask = createVolume(new Uint8Array(500), vol);
  mask.data[at(2, 2, 2)] = 1;
  assert.deepEqual(localMaxima(vol, { mask }).map((m) => m.value), [5]);
});

test('insideMask: nearest voxel of a patient point, through origin and spacing; false off the grid', () => {
  const m = createVolume(new Uint8Array(4 * 4 * 2), { dims: [4, 4, 2], spacing: [0.5, 0.5, 2], origin: [10, -5, 100] });
  m.data[2 + 1 * 4 + 1 * 16] = 1; // voxel (2, 1, 1) = LPS (11, −4.5, 102)
  assert.equal(insideMask(m, [11, -4.5, 102]), true);
  assert.equal(insideMask(m, [11.2, -4.4, 102.9]), true, 'rounds to the nearest voxel');
  assert.equal(insideMask(m, [11.3, -4.5, 102]), false, 'nearest voxel (3, 1, 1) is empty');
  assert.equal(insideMask(m, [11, -4.5, 200]), false, 'off the grid');
});
