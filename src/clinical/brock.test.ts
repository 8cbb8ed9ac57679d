// Brock/PanCan full model 2b (McWilliams et al., NEJM 2013;369:910–919). Expected values below were computed
// by hand (independent Python one-liner of the published formula), not by this module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { brockProbability } from './brock.ts';
import type { BrockInput } from './brock.ts';

const base: BrockInput = {
  ageYears: 62, sex: 'male', familyHistoryLungCancer: false, emphysema: false, noduleSizeMm: 10,
  noduleType: 'solid', upperLobe: true, noduleCount: 1, spiculation: true,
};
const p = (x: Partial<BrockInput>): number => brockProbability({ ...base, ...x }).probability;
const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');
const close = (a: number, b: number, tol = 1e-6): void => assert.ok(Math.abs(a - b) < tol, `${a} ≉ ${b}`);

test('worked example: 62-year-old man, 10 mm solid spiculated upper-lobe single nodule → 12.1 %', () => {
  const r = brockProbability(base);
  assert.equal(Math.round(r.probability * 1000) / 10, 12.1);
  close(r.probability, 0.121176604);
  assert.deepEqual(r.assumptions, []);
  assert.equal(r.probabilityIfUnknownsPresent, r.probability);
  assert.deepEqual(r.warnings, []);
});

test('reference nodule (62 y man, 4 mm solid, 4 nodules, no risk factors) → logistic(constant)', () => {
  const r = brockProbability({ ...base, noduleSizeMm: 4, noduleCount: 4, upperLobe: false, spiculation: false });
  close(r.logit, -6.7892, 1e-7);
  close(r.probability, 0.0011246);
});

test('other hand-computed values', () => {
  close(p({ ageYears: 70, sex: 'female', familyHistoryLungCancer: true, emphysema: true, noduleSizeMm: 6,
    noduleType: 'part-solid', upperLobe: false, noduleCount: 2, spiculation: false }), 0.036871198);
  close(p({ ageYears: 55, noduleSizeMm: 4, upperLobe: false, spiculation: false }), 0.0011778335);
  close(p({ ageYears: 65, sex: 'female', emphysema: true, noduleSizeMm: 20, noduleType: 'non-solid', noduleCount: 3 }), 0.571044069);
  close(p({ ageYears: 50, sex: 'female', familyHistoryLungCancer: true, noduleSizeMm: 15, noduleType: 'part-solid' }), 0.484181373);
  assert.equal(p({ noduleType: 'ground-glass' }), p({ noduleType: 'non-solid' }));
});

test('monotonic: bigger, older, spiculated, fewer nodules → higher', () => {
  let prev = 0;
  for (const size of [2, 4, 6, 8, 10, 15, 20, 30]) {
    const v = p({ noduleSizeMm: size });
    assert.ok(v > prev, `size ${size}`);
    prev = v;
  }
  assert.ok(p({ ageYears: 70 }) > p({ ageYears: 60 }));
  assert.ok(p({ spiculation: true }) > p({ spiculation: false }));
  assert.ok(p({ noduleCount: 1 }) > p({ noduleCount: 5 }));
  assert.ok(p({ sex: 'female' }) > p({ sex: 'male' }));
  assert.ok(p({ noduleType: 'part-solid' }) > p({ noduleType: 'solid' }));
  assert.ok(p({ noduleType: 'solid' }) > p({ noduleType: 'non-solid' }));
});

test('unknown binary inputs are assumed absent, listed, and bounded above', () => {
  const r = brockProbability({ ...base, familyHistoryLungCancer: null, emphysema: undefined });
  assert.deepEqual(r.assumptions.map((a) => a.input), ['familyHistoryLungCancer', 'emphysema']);
  close(r.probability, 0.121176604);
  close(r.probabilityIfUnknownsPresent, p({ familyHistoryLungCancer: true, emphysema: true }));
  assert.ok(r.probabilityIfUnknownsPresent > r.probability);
});

test('extrapolation warnings outside the cohort', () => {
  assert.equal(brockProbability({ ...base, ageYears: 45 }).warnings.length, 1);
  assert.equal(brockProbability({ ...base, noduleSizeMm: 40 }).warnings.length, 1);
});

test('invalid input → CLINICAL_INVALID_INPUT', () => {
  assert.throws(() => p({ ageYears: 0 }), invalidInput);
  assert.throws(() => p({ ageYears: Number.NaN }), invalidInput);
  assert.throws(() => p({ noduleSizeMm: 0 }), invalidInput);
  assert.throws(() => p({ noduleSizeMm: -4 }), invalidInput);
  assert.throws(() => p({ noduleCount: 0 }), invalidInput);
  assert.throws(() => p({ noduleCount: 1.5 }), invalidInput);
  assert.throws(() => p({ sex: 'x' as 'male' }), invalidInput);
  assert.throws(() => p({ noduleType: 'calcified' as 'solid' }), invalidInput);
  assert.throws(() => p({ spiculation: 'yes' as unknown as boolean }), invalidInput);
});
