import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, directionFromOrientation } from './volume.ts';
import type { Vec3 } from './volume.ts';
import { hessianAt, hessianEigenvalues, symmetricEigen3 } from './hessian.ts';
import { isSrError } from '../core/errors.ts';

const dims: Vec3 = [33, 33, 25];
const spacing: Vec3 = [0.7, 0.7, 1.0];
const c: Vec3 = [16, 16, 12];
const A = 1000;
const w = 2; // mm
const sigma = 1.5;
function shape(kind: 'blob' | 'tube' | 'plate'): ReturnType<typeof createVolume<Float32Array>> {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    const x = (i - c[0]) * spacing[0], y = (j - c[1]) * spacing[1], z = (k - c[2]) * spacing[2];
    const r2 = kind === 'blob' ? x * x + y * y + z * z : kind === 'tube' ? x * x + y * y : x * x;
    data[v++] = A * Math.exp(-r2 / (2 * w * w));
  }
  return createVolume(data, { dims, spacing, direction: directionFromOrientation([0, 1, 0, 0, 0, -1]) });
}
const centre = c[0] + c[1] * dims[0] + c[2] * dims[0] * dims[1];
// G_σ * exp(−r²/2w²) along one axis scales the peak by w/√(w²+σ²) and has curvature −peak/(w²+σ²) at the centre.
const s2 = w * w + sigma * sigma;
const f1 = w / Math.sqrt(s2);

test('bright blob: three equal negative eigenvalues matching the analytic curvature', () => {
  const { l1, l2, l3 } = hessianEigenvalues(shape('blob'), { sigmaMm: sigma });
  const expected = (-A * f1 ** 3) / s2;
  for (const l of [l1, l2, l3]) {
    const got = l.data[centre] as number;
    assert.ok(Math.abs(got - expected) < 0.04 * Math.abs(expected), `${got} vs ${expected}`);
  }
  const norm = hessianEigenvalues(shape('blob'), { sigmaMm: sigma, normalize: true });
  assert.ok(Math.abs((norm.l3.data[centre] as number) - sigma * sigma * (l3.data[centre] as number)) < 1e-2);
});

test('bright tube: l1 ≈ 0 along the axis, l2 ≈ l3 < 0; plate: only l3 < 0', () => {
  const t = hessianEigenvalues(shape('tube'), { sigmaMm: sigma });
  const expected = (-A * f1 ** 2) / s2;
  assert.ok(Math.abs(t.l1.data[centre] as number) < 1e-3 * A);
  assert.ok(Math.abs((t.l2.data[centre] as number) - expected) < 0.04 * Math.abs(expected));
  assert.ok(Math.abs((t.l3.data[centre] as number) - expected) < 0.04 * Math.abs(expected));
  const p = hessianEigenvalues(shape('plate'), { sigmaMm: sigma });
  assert.ok(Math.abs(p.l1.data[centre] as number) < 1e-3 * A);
  assert.ok(Math.abs(p.l2.data[centre] as number) < 1e-3 * A);
  assert.ok(Math.abs((p.l3.data[centre] as number) - (-A * f1) / s2) < 0.04 * (A * f1) / s2);
});

test('mask limits the computation and gives the same values inside', () => {
  const vol = shape('tube');
  const mask = createVolume(new Uint8Array(vol.data.length), vol);
  mask.data[centre] = 1;
  mask.data[centre + 3] = 1;
  const full = hessianEigenvalues(vol, { sigmaMm: sigma });
  const masked = hessianEigenvalues(vol, { sigmaMm: sigma, mask });
  for (const v of [centre, centre + 3]) assert.ok(Math.abs((masked.l3.data[v] as number) - (full.l3.data[v] as number)) < 1e-2);
  assert.equal(masked.l3.data[centre + 1], 0);
  assert.throws(() => hessianEigenvalues(vol, { sigmaMm: 0 }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});

test('hessianAt agrees with the volume version and gives the tube axis in LPS', () => {
  const vol = shape('tube');
  const full = hessianEigenvalues(vol, { sigmaMm: sigma });
  const at = hessianAt(vol, c, { sigmaMm: sigma });
  assert.ok(Math.abs(at.eigenvalues[2] - (full.l3.data[centre] as number)) < 1e-2);
  assert.ok(Math.abs(at.eigenvalues[1] - (full.l2.data[centre] as number)) < 1e-2);
  // k runs along i × j = P × I = (−1, 0, 0) in LPS: the tube axis is L–R.
  assert.ok(Math.abs(Math.abs(at.eigenvectors[0][0]) - 1) < 1e-6);
  assert.throws(() => hessianAt(vol, [40, 0, 0], { sigmaMm: 1 }), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
});

test('symmetricEigen3 on a known matrix', () => {
  // [[2,1,0],[1,2,0],[0,0,-5]]: eigenvalues 1, 3, −5
  const e = symmetricEigen3([2, 1, 0, 2, 0, -5]);
  assert.deepEqual(e.values.map((x) => Math.round(x * 1e9) / 1e9), [1, 3, -5]);
  const v = e.vectors[0];
  assert.ok(Math.abs(Math.abs(v[0]) - Math.SQRT1_2) < 1e-9 && Math.abs(v[0] + v[1]) < 1e-9);
});
