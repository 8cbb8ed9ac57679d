// RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228–247): thresholds, boundaries and Tables 1–2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { recistMeasurability, recistOverallResponse, recistTargetResponse } from './recist.ts';
import type { RecistTargetLesion } from './recist.ts';

const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');
const L = (diameterMm: number, nodal = false): RecistTargetLesion => ({ nodal, diameterMm });
const resp = (baseline: number, current: number[], nadir?: number): string =>
  recistTargetResponse({ baselineSumMm: baseline, ...(nadir !== undefined ? { nadirSumMm: nadir } : {}), current: current.map((d) => L(d)) }).response;

test('PR at ≥ 30 % decrease from baseline (boundary 30 % exactly)', () => {
  assert.equal(resp(100, [40, 30]), 'PR'); // −30 %
  assert.equal(resp(100, [40, 30.1]), 'SD'); // −29.9 %
  assert.equal(resp(50, [20, 15]), 'PR');
  const r = recistTargetResponse({ baselineSumMm: 100, current: [L(70)] });
  assert.equal(r.changeFromBaselinePct, -30);
  assert.equal(r.nextNadirSumMm, 70);
});

test('PD needs ≥ 20 % over the nadir AND ≥ 5 mm', () => {
  assert.equal(resp(100, [96], 80), 'PD'); // +20 %, +16 mm
  assert.equal(resp(100, [95.9], 80), 'SD'); // +19.9 %
  assert.equal(resp(30, [36]), 'PD'); // +20 %, +6 mm
});

test('PD vs PR precedence and the 5 mm floor', () => {
  // Nadir 50 → 60: +20 %, +10 mm → PD even though still 40 % below baseline.
  assert.equal(resp(100, [60], 50), 'PD');
  // Nadir 20 → 24: +20 % but only 4 mm → not PD; −76 % from baseline → PR.
  assert.equal(resp(100, [24], 20), 'PR');
  // Nadir 20 → 25: +25 %, 5 mm → PD.
  assert.equal(resp(100, [25], 20), 'PD');
  // Small baseline, no shrinkage: 20 → 24 is SD (4 mm), 20 → 25 is PD.
  assert.equal(resp(20, [24]), 'SD');
  assert.equal(resp(20, [25]), 'PD');
  // 59.9 after nadir 50: +19.8 % → not PD; −40.1 % from baseline → PR.
  assert.equal(resp(100, [59.9], 50), 'PR');
});

test('SD between the thresholds', () => {
  assert.equal(resp(100, [90]), 'SD');
  assert.equal(resp(100, [119]), 'SD');
  assert.equal(resp(100, [120]), 'PD');
});

test('CR: non-nodal targets gone, nodal targets < 10 mm short axis (sum need not be 0)', () => {
  const cr = recistTargetResponse({ baselineSumMm: 60, current: [L(0), L(9.9, true)] });
  assert.equal(cr.response, 'CR');
  assert.equal(cr.currentSumMm, 9.9);
  assert.equal(recistTargetResponse({ baselineSumMm: 60, current: [L(0), L(10, true)] }).response, 'PR');
  // Node fluctuation below 10 mm does not make PD (interpretation, see recist.ts).
  assert.equal(recistTargetResponse({ baselineSumMm: 60, nadirSumMm: 4, current: [L(0), L(9.5, true)] }).response, 'CR');
  // After CR, reappearance of ≥ 5 mm of a non-nodal target → PD.
  assert.equal(recistTargetResponse({ baselineSumMm: 60, nadirSumMm: 0, current: [L(5), L(0)] }).response, 'PD');
});

test('too small to measure counts 5 mm', () => {
  const r = recistTargetResponse({ baselineSumMm: 40, current: [{ nodal: false, diameterMm: 0, tooSmallToMeasure: true }, L(0)] });
  assert.equal(r.currentSumMm, 5);
  assert.equal(r.response, 'PR');
});

test('target limits and invalid input', () => {
  assert.throws(() => resp(100, [1, 1, 1, 1, 1, 1]), invalidInput);
  assert.throws(() => recistTargetResponse({ baselineSumMm: 60, current: [
    { nodal: false, diameterMm: 10, organ: 'liver' }, { nodal: false, diameterMm: 10, organ: 'liver' },
    { nodal: false, diameterMm: 10, organ: 'liver' }] }), invalidInput);
  assert.throws(() => resp(0, [1]), invalidInput);
  assert.throws(() => resp(100, [1], 120), invalidInput);
  assert.throws(() => resp(100, [-1]), invalidInput);
  assert.throws(() => resp(100, []), invalidInput);
});

test('overall response, Table 1 (target ± non-target) and Table 2 (non-target only)', () => {
  const o = (target: Parameters<typeof recistOverallResponse>[0]['target'],
    nonTarget: Parameters<typeof recistOverallResponse>[0]['nonTarget'], newLesions = false): string =>
    recistOverallResponse({ target, nonTarget, newLesions });
  assert.equal(o('CR', 'CR'), 'CR');
  assert.equal(o('CR', 'none'), 'CR');
  assert.equal(o('CR', 'non-CR/non-PD'), 'PR');
  assert.equal(o('CR', 'NE'), 'PR');
  assert.equal(o('PR', 'non-CR/non-PD'), 'PR');
  assert.equal(o('PR', 'NE'), 'PR');
  assert.equal(o('SD', 'CR'), 'SD');
  assert.equal(o('SD', 'NE'), 'SD');
  assert.equal(o('NE', 'non-CR/non-PD'), 'NE');
  assert.equal(o('PD', 'CR'), 'PD');
  assert.equal(o('CR', 'PD'), 'PD');
  assert.equal(o('CR', 'CR', true), 'PD');
  assert.equal(o('none', 'CR'), 'CR');
  assert.equal(o('none', 'non-CR/non-PD'), 'non-CR/non-PD');
  assert.equal(o('none', 'NE'), 'NE');
  assert.equal(o('none', 'non-CR/non-PD', true), 'PD');
  assert.throws(() => o('none', 'none'), invalidInput);
  assert.throws(() => o('XX' as 'CR', 'CR'), invalidInput);
});

test('measurability: 10 mm or 2 × slice thickness; nodes 15 / 10 mm short axis', () => {
  assert.deepEqual(recistMeasurability({ nodal: false, sizeMm: 10, sliceThicknessMm: 5 }), { status: 'measurable', minimumMm: 10 });
  assert.equal(recistMeasurability({ nodal: false, sizeMm: 9.9, sliceThicknessMm: 1 }).status, 'non-measurable');
  assert.deepEqual(recistMeasurability({ nodal: false, sizeMm: 12, sliceThicknessMm: 7 }), { status: 'non-measurable', minimumMm: 14 });
  assert.equal(recistMeasurability({ nodal: false, sizeMm: 14, sliceThicknessMm: 7 }).status, 'measurable');
  assert.equal(recistMeasurability({ nodal: true, sizeMm: 15, sliceThicknessMm: 5 }).status, 'measurable');
  assert.equal(recistMeasurability({ nodal: true, sizeMm: 14.9, sliceThicknessMm: 5 }).status, 'non-measurable');
  assert.equal(recistMeasurability({ nodal: true, sizeMm: 10, sliceThicknessMm: 5 }).status, 'non-measurable');
  assert.equal(recistMeasurability({ nodal: true, sizeMm: 9.9, sliceThicknessMm: 5 }).status, 'non-pathological-node');
  assert.throws(() => recistMeasurability({ nodal: false, sizeMm: 10, sliceThicknessMm: 0 }), invalidInput);
});
