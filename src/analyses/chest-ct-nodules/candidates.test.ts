/**
 * The candidate stage on small analytic scenes: the classic misses of a blob filter on raw HU — a ground-glass
 * nodule against a vessel and one against the chest wall — must be candidates.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, voxelCount } from '../../imaging/index.ts';
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { detectCandidates } from './candidates.ts';
import type { CandidateOptions } from './candidates.ts';

interface Scene { vol: Int16Volume; lung: MaskVolume; ggn: Vec3[] }

/**
 * 1 mm isotropic lung box (−860 HU, noise-free) with a 4.5 mm-radius solid vessel along x and a chest wall
 * (y > 30 mm, outside the lung mask); two ground-glass nodules (−560 HU, radius 4 mm): one overlapping the vessel,
 * one overlapping the wall. A few solid vessel branches compete for the strongest responses.
 */
function scene(): Scene {
  const dims: Vec3 = [90, 80, 60];
  const origin: Vec3 = [-45, -45, -30];
  const spacing: Vec3 = [1, 1, 1];
  const data = new Int16Array(voxelCount(dims));
  const lung = new Uint8Array(voxelCount(dims));
  const ggn: Vec3[] = [[-10, 5.5, 0], [20, 27, 5]];
  const edge = (d: number) => 1 / (1 + Math.exp(d / 0.6));
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    const x = origin[0] + i, y = origin[1] + j, z = origin[2] + k;
    const vessel = edge(Math.hypot(y, z) - 4.5);
    // Branches: thinner solid tubes along z at a few x positions.
    const branch = Math.max(...[-30, 0, 30].map((bx) => edge(Math.hypot(x - bx, y + 20) - 2.5)));
    const wall = edge(30 - y);
    const g = Math.max(...ggn.map((c) => edge(Math.hypot(x - c[0], y - c[1], z - c[2]) - 4)));
    const solid = Math.max(vessel, branch, wall);
    // Ground glass where no solid tissue is.
    let hu = -860 + 300 * g;
    hu = hu + (40 - hu) * solid;
    data[v] = Math.round(hu);
    lung[v] = y < 30 ? 1 : 0;
  }
  return { vol: createVolume(data, { dims, spacing, origin }), lung: createVolume(lung, { dims, spacing, origin }), ggn };
}

function nearest(c: Vec3, opts: CandidateOptions): { d: number; rank: number } {
  const s = scene();
  const { candidates } = detectCandidates(s.vol, s.lung, opts);
  const blobs = candidates.filter((x) => x.source === 'blob' || x.source === 'subsolid-blob').sort((a, b) => b.blob - a.blob);
  let best = { d: Infinity, rank: -1 };
  blobs.forEach((x, r) => {
    const d = Math.hypot(x.lps[0] - c[0], x.lps[1] - c[1], x.lps[2] - c[2]);
    if (d < 3 && best.rank < 0) best = { d, rank: r };
  });
  return best;
}

test('a ground-glass nodule touching a solid vessel is a blob candidate, among the strongest few', () => {
  const s = scene();
  const r = nearest(s.ggn[0] as Vec3, { channel: process.env['CH'] === 'hu' ? 'hu' : 'lung-window' });
  assert.ok(r.rank >= 0, 'no blob candidate within 3 mm of the juxtavascular ground-glass nodule');
  assert.ok(r.rank < 6, `juxtavascular ground-glass nodule ranked ${r.rank} among the blob candidates`);
});

test('a ground-glass nodule against the chest wall is a blob candidate, among the strongest few', () => {
  const s = scene();
  const r = nearest(s.ggn[1] as Vec3, { channel: process.env['CH'] === 'hu' ? 'hu' : 'lung-window' });
  assert.ok(r.rank >= 0, 'no blob candidate within 3 mm of the juxtapleural ground-glass nodule');
  assert.ok(r.rank < 6, `juxtapleural ground-glass nodule ranked ${r.rank} among the blob candidates`);
});
