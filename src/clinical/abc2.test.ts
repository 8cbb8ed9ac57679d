// ABC/2 (Kothari et al., Stroke 1996;27:1304–1305), checked against hand computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { abc2FromSlices, abc2Volume, ellipsoidVolumeMl, kothariSliceWeight } from './abc2.ts';

const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');
const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) < tol, `${a} ≉ ${b}`);

test('ABC/2 in mL: 40 × 30 × 20 mm → 12 mL; ellipsoid → 4π mL; ratio 3/π', () => {
  close(abc2Volume({ aMm: 40, bMm: 30, cMm: 20 }), 12);
  close(ellipsoidVolumeMl({ aMm: 40, bMm: 30, cMm: 20 }), 4 * Math.PI);
  close(abc2Volume({ aMm: 40, bMm: 30, cMm: 20 }) / ellipsoidVolumeMl({ aMm: 40, bMm: 30, cMm: 20 }), 3 / Math.PI);
  assert.equal(abc2Volume({ aMm: 0, bMm: 30, cMm: 20 }), 0);
});

test('Kothari slice weights: ≥ 75 % → 1, 25–75 % → 0.5, < 25 % → 0 (boundaries)', () => {
  assert.equal(kothariSliceWeight(100, 100), 1);
  assert.equal(kothariSliceWeight(75, 100), 1);
  assert.equal(kothariSliceWeight(74.9, 100), 0.5);
  assert.equal(kothariSliceWeight(25, 100), 0.5);
  assert.equal(kothariSliceWeight(24.9, 100), 0);
  assert.equal(kothariSliceWeight(0, 100), 0);
});

test('discretised sphere r = 20 mm, 5 mm slices: hand-computed weights, C and volume', () => {
  // Slice centres z = ±2.5, ±7.5, ±12.5, ±17.5; area = π(r² − z²); ratios 1, 0.873, 0.619, 0.238.
  const zs = [-17.5, -12.5, -7.5, -2.5, 2.5, 7.5, 12.5, 17.5];
  const areas = zs.map((z) => Math.PI * (400 - z * z));
  const a = 2 * Math.sqrt(400 - 6.25);
  const r = abc2FromSlices({ sliceAreasMm2: areas, sliceThicknessMm: 5, largestSliceDiametersMm: { a, b: a } });
  assert.deepEqual(r.sliceWeights, [0, 0.5, 1, 1, 1, 1, 0.5, 0]);
  assert.equal(r.weightedSliceCount, 5);
  assert.equal(r.cMm, 25);
  assert.equal(r.referenceSliceIndex, 3);
  close(r.volumeMl, (1575 * 25) / 2 / 1000); // A² = 4 × 393.75 = 1575 mm²
  // The weighting underestimates a sphere (true 33.51 mL); unweighted C (8 slices × 5 mm) gives 31.5 mL.
  assert.ok(r.volumeMl < (4 / 3) * Math.PI * 8);
});

test('no haemorrhage → 0 mL; invalid inputs rejected', () => {
  const zero = abc2FromSlices({ sliceAreasMm2: [0, 0], sliceThicknessMm: 5, largestSliceDiametersMm: { a: 0, b: 0 } });
  assert.equal(zero.volumeMl, 0);
  assert.throws(() => abc2Volume({ aMm: -1, bMm: 1, cMm: 1 }), invalidInput);
  assert.throws(() => abc2FromSlices({ sliceAreasMm2: [], sliceThicknessMm: 5, largestSliceDiametersMm: { a: 1, b: 1 } }), invalidInput);
  assert.throws(() => abc2FromSlices({ sliceAreasMm2: [10], sliceThicknessMm: 0, largestSliceDiametersMm: { a: 4, b: 3 } }), invalidInput);
  assert.throws(() => abc2FromSlices({ sliceAreasMm2: [10, -1], sliceThicknessMm: 5, largestSliceDiametersMm: { a: 4, b: 3 } }), invalidInput);
  assert.throws(() => abc2FromSlices({ sliceAreasMm2: [10], sliceThicknessMm: 5, largestSliceDiametersMm: { a: 3, b: 4 } }), invalidInput);
  assert.throws(() => abc2FromSlices({ sliceAreasMm2: [0], sliceThicknessMm: 5, largestSliceDiametersMm: { a: 3, b: 2 } }), invalidInput);
});
