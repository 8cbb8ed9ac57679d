import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, gaussian } from '../../imaging/index.ts';
import type { MaskVolume, Vec3 } from '../../imaging/index.ts';
import { discreteConvexity, foldRatio, maskShape } from './features.ts';

const DIMS: Vec3 = [41, 41, 41];

function maskFrom(inside: (i: number, j: number, k: number) => boolean, dims: Vec3 = DIMS): MaskVolume {
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) data[v] = inside(i, j, k) ? 1 : 0;
  return createVolume(data, { dims, spacing: [0.5, 0.5, 0.5] });
}

/** A segmentation-like input: HU −850 outside, `hu` inside the mask, smoothed like segment-nodule.ts does. */
function segOf(mask: MaskVolume, hu: number) {
  const img = createVolume(Int16Array.from(mask.data, (m) => (m ? hu : -850)), mask);
  return { mask, smooth: gaussian(img, { sigmaMm: 0.5 }), levelHu: hu, bgHu: -850 };
}

const ball = (r: number) => maskFrom((i, j, k) => (i - 20) ** 2 + (j - 20) ** 2 + (k - 20) ** 2 <= r * r);
// A tube of radius 3 voxels (1.5 mm) along i, through the whole box.
const tube = maskFrom((_i, j, k) => (j - 20) ** 2 + (k - 20) ** 2 <= 9);

test('discrete convexity: a box is 1, a ball near 1, an L-shaped pair of bars far lower', () => {
  assert.equal(discreteConvexity(maskFrom((i, j, k) => i >= 5 && i < 15 && j >= 8 && j < 30 && k >= 3 && k < 9)), 1);
  const b = discreteConvexity(ball(12));
  assert.ok(b > 0.85 && b <= 1, `ball ${b}`);
  const l = discreteConvexity(maskFrom((i, j, k) => k >= 18 && k < 22 && ((i >= 2 && i < 6 && j >= 2 && j < 38) || (j >= 2 && j < 6 && i >= 2 && i < 38))));
  assert.ok(l < 0.45, `L ${l}`); // area 272 of a hull ≈ 36² / 2 + 36 · 4
  assert.equal(discreteConvexity(maskFrom(() => false)), 0);
});

test('mask shape: a tube is line-like, a ball is not and is brighter in its centre than a uniform tube', () => {
  const t = maskShape(segOf(tube, 40));
  const b = maskShape(segOf(ball(12), 40));
  assert.ok(t.tubularShare > 0.5, `tube ${t.tubularShare}`);
  assert.ok(b.tubularShare < 0.1, `ball ${b.tubularShare}`);
  // The smoothed ball's edge is dimmer than its core; the tube's inner and outer voxels alike (both cross-sections).
  assert.ok(b.centreRim > t.centreRim, `ball ${b.centreRim} tube ${t.centreRim}`);
  assert.ok(t.subSolidShare < 0.5, `tube ${t.subSolidShare}`); // only its partial-volume rim
  assert.ok(maskShape(segOf(ball(8), -500)).subSolidShare > 0.9);
});

test('radius ratios fold back above 1: a mask smaller than its own inscribed ball scores like a poor one', () => {
  assert.equal(foldRatio(0.8), 0.8);
  assert.equal(foldRatio(1), 1);
  assert.ok(Math.abs(foldRatio(1.2) - 0.8) < 1e-12);
  assert.equal(foldRatio(3), 0.5);
});
