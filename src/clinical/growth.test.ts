import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import {
  classifyVolumeDoublingTime, fleischnerSignificantGrowth, lungRadsGrowthStatus, meanDiameterMm, sphereVolumeMm3,
  volumeDoublingTimeDays,
} from './growth.ts';

const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');
const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) < tol, `${a} ≉ ${b}`);

test('volume doubling time: exact doubling, quadrupling, unchanged, shrinking', () => {
  close(volumeDoublingTimeDays(100, 200, 90), 90);
  close(volumeDoublingTimeDays(100, 400, 90), 45);
  assert.equal(volumeDoublingTimeDays(100, 100, 90), Number.POSITIVE_INFINITY);
  close(volumeDoublingTimeDays(200, 100, 90), -90); // halving time 90 d, negative by convention
  // Diameter 6 → 8 mm in 365 d: VDT = 365·ln2 / (3·ln(8/6)).
  close(volumeDoublingTimeDays(sphereVolumeMm3(6), sphereVolumeMm3(8), 365), (365 * Math.LN2) / (3 * Math.log(8 / 6)));
  assert.throws(() => volumeDoublingTimeDays(0, 100, 90), invalidInput);
  assert.throws(() => volumeDoublingTimeDays(100, 200, 0), invalidInput);
  assert.throws(() => volumeDoublingTimeDays(100, Number.NaN, 10), invalidInput);
});

test('NELSON VDT bands with boundaries', () => {
  assert.equal(classifyVolumeDoublingTime(399.9), 'fast');
  assert.equal(classifyVolumeDoublingTime(400), 'intermediate');
  assert.equal(classifyVolumeDoublingTime(600), 'intermediate');
  assert.equal(classifyVolumeDoublingTime(600.1), 'slow');
  assert.equal(classifyVolumeDoublingTime(-90), 'not-growing');
  assert.equal(classifyVolumeDoublingTime(Number.POSITIVE_INFINITY), 'not-growing');
  assert.throws(() => classifyVolumeDoublingTime(Number.NaN), invalidInput);
});

test('sizes: mean diameter and sphere volume (Lung-RADS 6 mm ≈ 113 mm³, 8 mm ≈ 268 mm³, 15 mm ≈ 1767 mm³)', () => {
  assert.equal(meanDiameterMm(8, 6), 7);
  assert.throws(() => meanDiameterMm(5, 6), invalidInput);
  assert.equal(Math.round(sphereVolumeMm3(6)), 113);
  assert.equal(Math.round(sphereVolumeMm3(8)), 268);
  assert.equal(Math.round(sphereVolumeMm3(15)), 1767);
  assert.equal(Math.round(sphereVolumeMm3(30)), 14137);
});

test('Lung-RADS growth: > 1.5 mm within 12 months (boundary 1.5 vs 1.6)', () => {
  assert.equal(lungRadsGrowthStatus({ priorMm: 6.0, currentMm: 7.5, intervalMonths: 12 }), 'stable');
  assert.equal(lungRadsGrowthStatus({ priorMm: 6.0, currentMm: 7.6, intervalMonths: 12 }), 'growing');
  assert.equal(lungRadsGrowthStatus({ priorMm: 6.0, currentMm: 7.6, intervalMonths: 3 }), 'growing');
  assert.equal(lungRadsGrowthStatus({ priorMm: 6.0, currentMm: 8.0, intervalMonths: 24 }), 'slowly-growing');
  assert.equal(lungRadsGrowthStatus({ priorMm: 6.0, currentMm: 10.0, intervalMonths: 24 }), 'growing');
  assert.equal(lungRadsGrowthStatus({ priorMm: 8.0, currentMm: 6.4, intervalMonths: 12 }), 'decreased');
  assert.equal(lungRadsGrowthStatus({ priorMm: 8.0, currentMm: 6.5, intervalMonths: 12 }), 'stable');
  assert.throws(() => lungRadsGrowthStatus({ priorMm: 6, currentMm: 7, intervalMonths: 0 }), invalidInput);
});

test('Fleischner growth: ≥ 2 mm in rounded mean diameter', () => {
  assert.equal(fleischnerSignificantGrowth(6, 7.4), false);
  assert.equal(fleischnerSignificantGrowth(6, 7.5), true);
  assert.equal(fleischnerSignificantGrowth(6, 8), true);
  assert.equal(fleischnerSignificantGrowth(6.4, 7.6), true); // 6 → 8 after rounding
  assert.equal(fleischnerSignificantGrowth(6.5, 8.4), false); // 7 → 8
  assert.throws(() => fleischnerSignificantGrowth(-1, 7), invalidInput);
});
