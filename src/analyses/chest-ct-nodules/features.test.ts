import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, gaussian } from '../../imaging/index.ts';
import type { MaskVolume, Vec3 } from '../../imaging/index.ts';
import { SHELL_FEATURES, discreteConvexity, foldRatio, maskShape, shellDescriptor } from './features.ts';

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

/** HU volume on a 0.5 mm grid: parenchyma −850, `inside` voxels at `hu`. */
function huFrom(inside: (i: number, j: number, k: number) => boolean, hu: number, dims: Vec3 = DIMS) {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) data[v] = inside(i, j, k) ? hu : -850;
  return createVolume(data, { dims, spacing: [0.5, 0.5, 0.5] });
}

test('shell descriptor: a ball is bright in every direction to its radius; a vessel only along itself; the same at any orientation', () => {
  const at: Vec3 = [20, 20, 20];
  const q = (desc: number[], rIdx: number, qIdx: number) => (desc[1 + rIdx * 5 + qIdx] as number) * 100; // HU
  // A 3 mm-radius solid ball (6 mm nodule).
  const ballD = shellDescriptor(huFrom((i, j, k) => (i - 20) ** 2 + (j - 20) ** 2 + (k - 20) ** 2 <= 36, 0), at);
  assert.equal(ballD.length, SHELL_FEATURES.length);
  assert.equal(ballD[0], 0);
  assert.equal(q(ballD, 1, 0), 0, '2 mm shell: every direction inside the ball (10 % quantile solid)');
  assert.equal(q(ballD, 3, 4), -850, '4 mm shell: every direction outside (90 % quantile parenchyma)');
  // A 1.5 mm-radius vessel along i: at 2 mm and beyond only the few directions along the vessel are bright.
  const along = (i: number, j: number, k: number) => (j - 20) ** 2 + (k - 20) ** 2 <= 9;
  const tubeD = shellDescriptor(huFrom(along, 0), at);
  assert.equal(q(tubeD, 1, 0), -850, 'vessel, 2 mm shell: most directions are parenchyma');
  assert.ok(q(tubeD, 1, 4) > -100, 'vessel, 2 mm shell: the directions along it are bright');
  assert.ok(q(tubeD, 3, 2) === -850 && q(tubeD, 3, 4) > -850, 'vessel, 4 mm shell: parenchyma but for the directions along it');
  assert.ok(q(tubeD, 0, 0) > -100, 'vessel, 1 mm shell: inside the tube in every direction');
  // The same vessel along the body diagonal: quantiles close to the axis-aligned ones (rotation invariance).
  const diag = (i: number, j: number, k: number) => {
    const p = [i - 20, j - 20, k - 20], t = (p[0]! + p[1]! + p[2]!) / 3;
    return (p[0]! - t) ** 2 + (p[1]! - t) ** 2 + (p[2]! - t) ** 2 <= 9;
  };
  const diagD = shellDescriptor(huFrom(diag, 0), at);
  for (let r = 0; r < 6; r++) assert.ok(Math.abs(q(diagD, r, 2) - q(tubeD, r, 2)) <= 150, `median at shell ${r}: ${q(diagD, r, 2)} vs ${q(tubeD, r, 2)}`);
  // A 3 mm ball on that vessel: the ball's 2 mm shell is solid all round, the vessel's is not.
  const onVessel = shellDescriptor(huFrom((i, j, k) => along(i, j, k) || (i - 20) ** 2 + (j - 20) ** 2 + (k - 20) ** 2 <= 36, 0), at);
  assert.equal(q(onVessel, 1, 0), 0);
  assert.ok(q(onVessel, 3, 4) > q(ballD, 3, 4), 'beyond the ball, the vessel directions stay bright');
  // At the grid's corner most samples fall outside it and read as air (−1000): finite values, no throw.
  const edge = shellDescriptor(huFrom(() => false, 0), [0, 0, 0]);
  assert.ok(edge.every((x) => Number.isFinite(x) && x >= -10 && x <= 1));
});
