import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, voxelCount } from '../../imaging/index.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { segmentNodule } from './segment-nodule.ts';

/** Parenchyma at −850 HU with a solid 6 mm sphere on a 3.4 mm vessel that crosses the whole box (smooth edges). */
function vesselScene(): { vol: ReturnType<typeof createVolume<Int16Array>>; lung: ReturnType<typeof createVolume<Uint8Array>>; c: Vec3; sphereMm3: number } {
  const dims: Vec3 = [72, 72, 50];
  const spacing: Vec3 = [0.7, 0.7, 1];
  const origin: Vec3 = [-25, -25, -25];
  const data = new Int16Array(voxelCount(dims));
  const R = 3, rv = 1.7;
  const c: Vec3 = [0, 0, 0];
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++, v++) {
    const x = origin[0] + i * spacing[0], y = origin[1] + j * spacing[1], z = origin[2] + k * spacing[2];
    const dS = Math.hypot(x - c[0], y - c[1], z - c[2]) - R;
    // Vessel along x, tangent to the sphere's side (a juxta-vascular nodule).
    const dV = Math.hypot(y - (R + 0.5), z) - rv;
    const d = Math.min(dS, dV);
    const f = 1 / (1 + Math.exp(d / 0.35));
    data[v] = Math.round(-850 + f * 890);
  }
  const vol = createVolume(data, { dims, spacing, origin });
  const lung = createVolume(new Uint8Array(voxelCount(dims)).fill(1), { dims, spacing, origin });
  return { vol, lung, c, sphereMm3: (4 / 3) * Math.PI * R ** 3 };
}

test('a nodule on a vessel thicker than the opening ball: the leak is capped near the nodule', () => {
  const { vol, lung, c, sphereMm3 } = vesselScene();
  const seg = segmentNodule(vol, lung, c, 3);
  assert.ok(seg);
  assert.equal(seg.type, 'solid');
  // Without the cap the mask ran along the whole vessel (395 mm³, 3.5× the sphere, measured); now only the
  // stumps within ~1.6 nodule radii remain (223 mm³).
  assert.ok(seg.volumeMm3 < 2.2 * sphereMm3, `volume ${seg.volumeMm3.toFixed(0)} mm³ vs sphere ${sphereMm3.toFixed(0)} mm³`);
  assert.ok(seg.volumeMm3 > 0.8 * sphereMm3, `volume ${seg.volumeMm3.toFixed(0)} mm³ vs sphere ${sphereMm3.toFixed(0)} mm³`);
  assert.equal(seg.touchesBorder, false);
});

test('the coarse path segments the same nodule on a ≥ 1 mm grid with a similar volume', () => {
  const { vol, lung, c, sphereMm3 } = vesselScene();
  const fine = segmentNodule(vol, lung, c, 3);
  const coarse = segmentNodule(vol, lung, c, 3, { coarse: true });
  assert.ok(fine && coarse);
  assert.ok(coarse.mask.spacing[0] >= 1 && fine.mask.spacing[0] < 1);
  assert.ok(Math.abs(coarse.volumeMm3 - fine.volumeMm3) < 0.5 * sphereMm3, `coarse ${coarse.volumeMm3.toFixed(0)} vs fine ${fine.volumeMm3.toFixed(0)} mm³`);
});
