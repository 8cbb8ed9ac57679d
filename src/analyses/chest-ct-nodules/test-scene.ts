/**
 * A small synthetic chest for the tests and for debugging (not production code): the phantom's anatomy
 * (eval/phantoms) on a 160 × 160 × 80 grid of 1.5 × 1.5 × 2 mm, with two hand-placed nodules — a free solid
 * 8 mm nodule and a juxtapleural 10 mm nodule — and the analytic lung volumes clipped to the scanned z range.
 */
import assert from 'node:assert/strict';
import { createVolume, voxelCount } from '../../imaging/index.ts';
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { buildChestAnatomy, paintChestAnatomy } from '../../../eval/phantoms/chest-anatomy.ts';
import { Rng, aabb, acquire, intersection, measureShape, measureVolume, rasterize, sphere } from '../../../eval/phantoms/common.ts';
import type { Shape } from '../../../eval/phantoms/common.ts';

export interface Scene {
  vol: Int16Volume;
  lungTruthMl: { left: number; right: number };
  solid: { c: Vec3; d: number };
  juxta: { c: Vec3; shape: Shape };
}

export function buildScene(): Scene {
  const dims: Vec3 = [160, 160, 80];
  const spacing: Vec3 = [1.5, 1.5, 2];
  const origin: Vec3 = [-119.25, -119.25, -100];
  const zMin = origin[2], zMax = origin[2] + (dims[2] - 1) * spacing[2];
  const canvas = createVolume(new Float32Array(voxelCount(dims)).fill(-1000), { dims, spacing, origin });
  const rng = new Rng('chest-ct-nodules-test');
  const anat = buildChestAnatomy(rng.fork('anatomy'), { fovX: 240, fovY: 240, centerX: 0, centerY: 0, zMin, zMax, partialCoverage: true });
  paintChestAnatomy(canvas, anat, rng.fork('paint'));
  const { Cx, Cy, y0 } = anat.geom;
  const zMid = (Math.max(zMin, anat.zBase) + Math.min(zMax, anat.zTop)) / 2;
  // Free solid nodule: the first point of a deterministic scan that is deep in the right lung and away from vessels.
  const R = 4;
  let c: Vec3 | undefined;
  for (let t = 0; t < 400 && !c; t++) {
    const p: Vec3 = [-0.55 * Cx + ((t % 7) - 3) * 4, y0 + ((Math.floor(t / 7) % 7) - 3) * 5, zMid + (Math.floor(t / 49) - 4) * 4];
    if (anat.lungs.right.sdf(p[0], p[1], p[2]) > -(R + 6)) continue;
    if (anat.vessels.some((v) => segDist(p, v.a, v.b) < R + Math.max(v.ra, v.rb) + 2)) continue;
    c = p;
  }
  assert.ok(c, 'no free spot for the solid nodule');
  const solidShape = intersection([sphere(c, R), anat.lungs.right]);
  rasterize(canvas, solidShape, { value: 45, supersample: 4 });
  // Juxtapleural nodule on the left lateral chest wall, 10 mm, a quarter of it inside the wall.
  const phi = 1.5;
  const wall: Vec3 = [Cx * Math.sin(phi), y0 + Cy * Math.cos(phi), zMid + 10];
  const nIn = norm([-wall[0] / (Cx * Cx), -(wall[1] - y0) / (Cy * Cy), 0]);
  const jc: Vec3 = [wall[0] + nIn[0] * 3.5, wall[1] + nIn[1] * 3.5, wall[2]];
  const juxtaShape = intersection([sphere(jc, 5), anat.lungs.left]);
  rasterize(canvas, juxtaShape, { value: 40, supersample: 4 });
  const vol = acquire(canvas, { psfSigmaMm: 0.8, sliceThicknessMm: 2, noiseSigmaHu: 15, rng: rng.fork('noise'), threads: 1 });
  const clip = aabb([-200, -200, zMin - 1], [200, 200, zMax + 1]);
  const lungTruthMl = {
    left: measureVolume(intersection([anat.lungs.left, clip]), 128) / 1000,
    right: measureVolume(intersection([anat.lungs.right, clip]), 128) / 1000,
  };
  return { vol, lungTruthMl, solid: { c: measureShape(solidShape).centroidMm, d: measureShape(solidShape).meanAxialDiameterMm }, juxta: { c: jc, shape: juxtaShape } };
}

function segDist(p: Vec3, a: Vec3, b: Vec3): number {
  const ab = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const l2 = ab[0]! ** 2 + ab[1]! ** 2 + ab[2]! ** 2;
  const t = l2 > 0 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * ab[0]! + (p[1] - a[1]) * ab[1]! + (p[2] - a[2]) * ab[2]!) / l2)) : 0;
  return Math.hypot(p[0] - a[0] - t * ab[0]!, p[1] - a[1] - t * ab[1]!, p[2] - a[2] - t * ab[2]!);
}

function norm(v: Vec3): Vec3 {
  const l = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / l, v[1] / l, v[2] / l];
}


/**
 * A small solid sphere (radius `r` mm, +40 HU) in parenchyma (−850 HU), optionally inside a ground-glass sphere
 * (radius `ggR`, `ggHu`) with the solid core 0.8 mm off its centre, acquired as the chest phantom is (in-plane PSF
 * σ `psf` mm, Gaussian slice profile of FWHM `slice` mm sampled every `slice` mm, noise σ 15 HU) on 0.7 mm pixels;
 * the whole box is lung. The dimmed-solid tests (segment-nodule.test.ts, retype.test.ts) use it.
 */
export function blurredScene(o: { r: number; ggR?: number; ggHu?: number; slice: number; psf: number }): { vol: Int16Volume; lung: MaskVolume; truthMm3: number } {
  const spacing: Vec3 = [0.7, 0.7, o.slice];
  const half = 20;
  const dims: Vec3 = [Math.round((2 * half) / 0.7) + 1, Math.round((2 * half) / 0.7) + 1, Math.round((2 * half) / o.slice) + 1];
  const origin: Vec3 = [-half, -half, -half];
  const canvas = createVolume(new Float32Array(voxelCount(dims)).fill(-850), { dims, spacing, origin });
  if (o.ggR !== undefined) rasterize(canvas, sphere([0, 0, 0], o.ggR), { value: o.ggHu ?? -500, supersample: 4 });
  rasterize(canvas, sphere([o.ggR !== undefined ? 0.8 : 0, 0, 0], o.r), { value: 40, supersample: 4 });
  const vol = acquire(canvas, { psfSigmaMm: o.psf, sliceThicknessMm: o.slice, noiseSigmaHu: 15, rng: new Rng('dimmed-solid'), threads: 1 });
  const lung = createVolume(new Uint8Array(voxelCount(dims)).fill(1), { dims, spacing, origin });
  return { vol, lung, truthMm3: (4 / 3) * Math.PI * (o.ggR ?? o.r) ** 3 };
}
