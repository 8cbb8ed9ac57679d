import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from './volume.ts';
import type { Vec3 } from './volume.ts';
import { gaussian, gaussianDerivative, gaussianKernel1D, gradientMagnitude } from './gaussian.ts';
import { hessianEigenvalues } from './hessian.ts';
import { isSrError } from '../core/errors.ts';

function fromFn(dims: Vec3, spacing: Vec3, fn: (x: number, y: number, z: number) => number): ReturnType<typeof createVolume<Float32Array>> {
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let v = 0;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) data[v++] = fn(i * spacing[0], j * spacing[1], k * spacing[2]);
  return createVolume(data, { dims, spacing });
}

test('1D kernels are normalised so that they are exact on polynomials of their order', () => {
  const w0 = gaussianKernel1D(1.7, 0);
  const w1 = gaussianKernel1D(1.7, 1);
  const w2 = gaussianKernel1D(1.7, 2);
  const r = (w0.length - 1) / 2;
  let s0 = 0, m1 = 0, s2 = 0, m2 = 0;
  for (let t = -r; t <= r; t++) {
    s0 += w0[t + r] as number;
    m1 += t * (w1[t + r] as number);
    s2 += w2[t + r] as number;
    m2 += t * t * (w2[t + r] as number);
  }
  assert.ok(Math.abs(s0 - 1) < 1e-12);
  assert.ok(Math.abs(m1 - 1) < 1e-12);
  assert.ok(Math.abs(s2) < 1e-12);
  assert.ok(Math.abs(m2 - 2) < 1e-12);
  assert.equal(r, Math.ceil(3 * 1.7));
  assert.deepEqual(Array.from(gaussianKernel1D(0, 0)), [1]);
});

test('impulse response matches the analytic anisotropic Gaussian', () => {
  const dims: Vec3 = [31, 27, 23];
  const spacing: Vec3 = [0.6, 0.7, 0.9];
  const sigma: Vec3 = [1.8, 2.1, 2.7]; // three voxels on every axis
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  const c: Vec3 = [15, 13, 11];
  data[c[0] + c[1] * dims[0] + c[2] * dims[0] * dims[1]] = 1000;
  const g = gaussian(createVolume(data, { dims, spacing }), { sigmaMm: sigma, truncate: 4 });
  let total = 0;
  let maxErr = 0;
  const peak = 1000 * spacing.reduce((a, s, i) => a * s / (Math.sqrt(2 * Math.PI) * (sigma[i] as number)), 1);
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    const x = (i - c[0]) * spacing[0], y = (j - c[1]) * spacing[1], z = (k - c[2]) * spacing[2];
    const expected = peak * Math.exp(-(x * x) / (2 * sigma[0] ** 2) - (y * y) / (2 * sigma[1] ** 2) - (z * z) / (2 * sigma[2] ** 2));
    const got = g.data[i + j * dims[0] + k * dims[0] * dims[1]] as number;
    total += got;
    maxErr = Math.max(maxErr, Math.abs(got - expected));
  }
  // The 4σ kernel reaches past the volume on k, where the replicated edge loses a little of the tail.
  assert.ok(Math.abs(total - 1000) < 0.3, `mass ${total}`);
  assert.ok(maxErr < 1e-3 * peak, `max error ${maxErr} vs peak ${peak}`);
  assert.deepEqual(g.spacing, spacing);
});

test('constant volume stays constant, edges included; sigma 0 leaves an axis alone', () => {
  const vol = createVolume(new Int16Array(7 * 6 * 5).fill(-1000), { dims: [7, 6, 5], spacing: [0.5, 0.5, 2] });
  const g = gaussian(vol, { sigmaMm: 1.3 });
  for (const x of g.data) assert.ok(Math.abs(x + 1000) < 1e-3);
  const ramp = fromFn([5, 5, 9], [1, 1, 1], (_x, _y, z) => (z === 4 ? 100 : 0));
  const onlyXY = gaussian(ramp, { sigmaMm: [2, 2, 0] });
  for (let v = 0; v < onlyXY.data.length; v++) assert.ok(Math.abs((onlyXY.data[v] as number) - (ramp.data[v] as number)) < 1e-4);
});

test('derivatives are exact on polynomials, in units per mm', () => {
  const spacing: Vec3 = [0.7, 0.8, 1.5];
  const dims: Vec3 = [24, 24, 16];
  const lin = fromFn(dims, spacing, (x, y, z) => 2 * x + 3 * y - z);
  const quad = fromFn(dims, spacing, (x, y, z) => 0.5 * x * x + 1.5 * y * y + x * z);
  const opts = { sigmaMm: 1.5 };
  const dx = gaussianDerivative(lin, { ...opts, order: [1, 0, 0] });
  const dy = gaussianDerivative(lin, { ...opts, order: [0, 1, 0] });
  const dz = gaussianDerivative(lin, { ...opts, order: [0, 0, 1] });
  const gm = gradientMagnitude(lin, opts);
  const dxx = gaussianDerivative(quad, { ...opts, order: [2, 0, 0] });
  const dyy = gaussianDerivative(quad, { ...opts, order: [0, 2, 0] });
  const dxz = gaussianDerivative(quad, { ...opts, order: [1, 0, 1] });
  const v = 12 + 12 * dims[0] + 8 * dims[0] * dims[1]; // far from the replicated edges
  const near = (a: number | undefined, b: number): void => assert.ok(Math.abs((a ?? NaN) - b) < 2e-3 * Math.max(1, Math.abs(b)), `${a} ≠ ${b}`);
  near(dx.data[v], 2);
  near(dy.data[v], 3);
  near(dz.data[v], -1);
  near(gm.data[v], Math.sqrt(14));
  near(dxx.data[v], 1);
  near(dyy.data[v], 3);
  near(dxz.data[v], 1);
});

test('invalid arguments are coded errors', () => {
  const vol = createVolume(new Float32Array(8), { dims: [2, 2, 2] });
  for (const bad of [() => gaussian(vol, { sigmaMm: -1 }), () => gaussian(vol, { sigmaMm: NaN }), () => gaussianDerivative(vol, { sigmaMm: [1, 0, 1], order: [0, 1, 0] }), () => gaussianDerivative(vol, { sigmaMm: 1, order: [3, 0, 0] }), () => gaussian(vol, { sigmaMm: 1, threads: 0 })]) {
    assert.throws(bad, (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  }
});

test('the worker path gives the same result as the calling thread (gaussian, hessian)', () => {
  const dims: Vec3 = [128, 128, 130]; // above the 2 M voxel threshold
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  for (let v = 0; v < data.length; v++) data[v] = ((v * 2654435761) >>> 22) - 512;
  const vol = createVolume(data, { dims, spacing: [0.7, 0.7, 1] });
  const a = gaussianDerivative(vol, { sigmaMm: 1, order: [0, 1, 0], threads: 1 });
  const b = gaussianDerivative(vol, { sigmaMm: 1, order: [0, 1, 0], threads: 2 });
  assert.ok(b.data.buffer instanceof SharedArrayBuffer);
  assert.deepEqual(a.data, new Float32Array(b.data));
  const h1 = hessianEigenvalues(vol, { sigmaMm: 1.2, threads: 1 });
  const h2 = hessianEigenvalues(vol, { sigmaMm: 1.2, threads: 2 });
  assert.deepEqual(h1.l2.data, new Float32Array(h2.l2.data));
});
