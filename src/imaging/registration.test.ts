import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, ijkToLps, voxelCount } from './volume.ts';
import type { Int16Volume, MaskVolume, Vec3 } from './volume.ts';
import {
  applyAffine, boxProbePoints, composeAffine, invertAffine, registerVolumes, rigidAffine, rotationAngleDeg,
  transformDiscrepancyMm, warpVolume, IDENTITY_AFFINE,
} from './registration.ts';
import { isSrError } from '../core/errors.ts';

/** A chest-like analytic scene: body ellipse, two lungs, vessels/nodules as balls, a spine. HU at an LPS point. */
function scene(seed: number): (p: Vec3) => number {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
  const balls: { c: Vec3; r: number; hu: number }[] = [];
  for (let n = 0; n < 40; n++) {
    const side = n % 2 === 0 ? -1 : 1;
    balls.push({ c: [side * (40 + rnd() * 50), -40 + rnd() * 80, -90 + rnd() * 180], r: 2 + rnd() * 6, hu: 40 });
  }
  return (p) => {
    const [x, y, z] = p;
    if ((x / 160) ** 2 + (y / 110) ** 2 > 1 || Math.abs(z) > 140) return -1000;
    if (Math.hypot(x, y - 70) < 18) return 700; // spine
    for (const side of [-1, 1]) {
      const inLung = ((x - side * 70) / 55) ** 2 + (y / 80) ** 2 + (z / 120) ** 2 < 1;
      if (inLung) {
        for (const b of balls) if (Math.hypot(x - b.c[0], y - b.c[1], z - b.c[2]) < b.r) return b.hu;
        return -850 + 0.3 * y;
      }
    }
    return 30;
  };
}

function paint(fn: (p: Vec3) => number, dims: Vec3, spacing: Vec3, origin: Vec3, motion?: number[]): Int16Volume {
  const data = new Int16Array(voxelCount(dims));
  const geo = { dims, spacing, origin, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as [number, number, number, number, number, number, number, number, number] };
  // motion = this scan's LPS → the scene's coordinates (the patient moved by its inverse).
  let o = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, o++) {
    const p = ijkToLps(geo, [i, j, k]);
    data[o] = fn(motion ? applyAffine(motion, p) : p);
  }
  return createVolume(data, geo);
}

function lungMask(vol: Int16Volume): MaskVolume {
  return createVolume(Uint8Array.from(vol.data, (v) => (v < -500 && v > -990 ? 1 : 0)), vol);
}

const DIMS: Vec3 = [96, 72, 60];
const SPACING: Vec3 = [3.5, 3.5, 5];
const ORIGIN: Vec3 = [-166, -124, -148];

test('affine helpers: compose, invert, apply, rotation angle', () => {
  const m = rigidAffine([2, -1, 3], [4, -5, 6], [10, 20, 30]);
  const inv = invertAffine(m);
  const id = composeAffine(m, inv);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs((id[i] as number) - (IDENTITY_AFFINE[i] as number)) < 1e-9);
  const p: Vec3 = [12, -7, 3];
  const q = applyAffine(inv, applyAffine(m, p));
  assert.ok(Math.hypot(q[0] - p[0], q[1] - p[1], q[2] - p[2]) < 1e-9);
  assert.ok(Math.abs(rotationAngleDeg(rigidAffine([0, 0, 5], [0, 0, 0])) - 5) < 1e-9);
  // The centre is a fixed point of the rotation part.
  const c = applyAffine(rigidAffine([10, 20, 30], [0, 0, 0], [10, 20, 30]), [10, 20, 30]);
  assert.ok(Math.hypot(c[0] - 10, c[1] - 20, c[2] - 30) < 1e-9);
});

test('recovers a known rigid motion (rotation ≤ 3°, translation of several mm) within 1 mm and 1°', () => {
  const fn = scene(7);
  const fixed = paint(fn, DIMS, SPACING, ORIGIN);
  // truth: fixed (current) LPS → moving (prior) LPS. The prior is the scene seen through truth⁻¹.
  const truth = rigidAffine([2.5, -1.5, 3], [6, -4, 8], [0, 0, 0]);
  const moving = paint(fn, DIMS, SPACING, [-160, -130, -150], invertAffine(truth));
  const res = registerVolumes(fixed, moving, { transform: 'rigid', fixedMask: lungMask(fixed), movingMask: lungMask(moving), levelsMm: [8, 4] });
  const err = transformDiscrepancyMm(res.matrix, truth, boxProbePoints(fixed, lungMask(fixed)));
  // Asked for affine on a rigid motion: the affine stage does not gain enough and the rigid matrix comes back.
  const asAffine = registerVolumes(fixed, moving, { transform: 'affine', fixedMask: lungMask(fixed), movingMask: lungMask(moving), levelsMm: [8, 4] });
  assert.equal(asAffine.affineAccepted, false);
  assert.deepEqual(asAffine.matrix, asAffine.rigidMatrix);
  const angleErr = rotationAngleDeg(composeAffine(invertAffine(truth), res.matrix));
  assert.ok(err.mean < 1, `mean error ${err.mean.toFixed(2)} mm`);
  assert.ok(err.max < 1.5, `max error ${err.max.toFixed(2)} mm`);
  assert.ok(angleErr < 1, `angle error ${angleErr.toFixed(2)}°`);
  assert.ok(Math.abs(res.rotationDeg - rotationAngleDeg(truth)) < 1);
  assert.ok(res.overlap > 0.9);
  assert.ok(res.levels.length === 2 && res.levels.every((l) => l.metricAfter <= l.metricBefore));
  // Deterministic: the same inputs give the same matrix.
  const again = registerVolumes(fixed, moving, { transform: 'rigid', fixedMask: lungMask(fixed), movingMask: lungMask(moving), levelsMm: [8, 4] });
  assert.deepEqual(again.matrix, res.matrix);
});

test('affine stage recovers a small scaling (breath-hold difference) that rigid cannot', () => {
  const fn = scene(11);
  const fixed = paint(fn, DIMS, SPACING, ORIGIN);
  const truth = composeAffine(rigidAffine([0, 1, -1.5], [-3, 2, 5]), [1.04, 0, 0, 0, 0, 0.97, 0, 0, 0, 0, 1.05, 0, 0, 0, 0, 1]);
  const moving = paint(fn, DIMS, SPACING, ORIGIN, invertAffine(truth));
  const probes = boxProbePoints(fixed, lungMask(fixed));
  const opts = { fixedMask: lungMask(fixed), movingMask: lungMask(moving), levelsMm: [8, 4] } as const;
  const affine = registerVolumes(fixed, moving, { ...opts, transform: 'affine' });
  const rigid = registerVolumes(fixed, moving, { ...opts, transform: 'rigid' });
  const ea = transformDiscrepancyMm(affine.matrix, truth, probes);
  const er = transformDiscrepancyMm(rigid.matrix, truth, probes);
  assert.ok(ea.mean < 1.5, `affine mean error ${ea.mean.toFixed(2)} mm`);
  assert.ok(ea.mean < er.mean, `affine ${ea.mean.toFixed(2)} should beat rigid ${er.mean.toFixed(2)} mm`);
  assert.equal(affine.affineAccepted, true);
});

test('works without masks and with different grids (spacing-aware): identity stays identity', () => {
  const fn = scene(3);
  const fixed = paint(fn, DIMS, SPACING, ORIGIN);
  const moving = paint(fn, [80, 64, 75], [4.2, 4, 4], [-168, -128, -150]);
  const res = registerVolumes(fixed, moving, { transform: 'rigid', levelsMm: [8, 4] });
  const err = transformDiscrepancyMm(res.matrix, IDENTITY_AFFINE, boxProbePoints(fixed));
  assert.ok(err.mean < 1, `mean error ${err.mean.toFixed(2)} mm`);
});

test('warpVolume: warping by the true motion puts the prior back on the current grid', () => {
  const fn = scene(5);
  const fixed = paint(fn, DIMS, SPACING, ORIGIN);
  const truth = rigidAffine([0, 0, 2], [5, 0, -5]);
  const moving = paint(fn, DIMS, SPACING, ORIGIN, invertAffine(truth));
  const warped = warpVolume(moving, truth, fixed, -1000);
  const ident = warpVolume(moving, IDENTITY_AFFINE, fixed, -1000);
  const mad = (a: Int16Array) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += Math.abs((a[i] as number) - (fixed.data[i] as number));
    return s / a.length;
  };
  assert.ok(mad(warped.data) < mad(ident.data) / 2, `warped ${mad(warped.data).toFixed(1)} vs unwarped ${mad(ident.data).toFixed(1)} HU`);
  assert.ok(warped.data instanceof Int16Array);
});

test('bad input: coded errors', () => {
  const v = paint(() => 0, [8, 8, 8], [1, 1, 1], [0, 0, 0]);
  const badMask = { ...createVolume(new Uint8Array(27), { dims: [3, 3, 3] }), data: new Uint8Array(5) };
  assert.throws(() => registerVolumes(v, v, { fixedMask: badMask }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  assert.throws(() => registerVolumes(v, v, { levelsMm: [] }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  assert.throws(() => warpVolume(v, [1, 2, 3], v), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});
