import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEAR_MM, computeHemorrhageMetrics, isOnBleed } from './hemorrhage.ts';
import type { BleedTruth, HeadCasePrediction, HeadCaseTruth } from './hemorrhage.ts';
import { headPrediction } from '../run-eval.ts';
import { formatHemorrhageMetrics } from '../report.ts';

// 12 mL bleed: equivalent-sphere diameter ≈ 28.4 mm, radius ≈ 14.2 mm.
const ivh: BleedTruth = { id: 'b1', type: 'intraventricular', volumeMl: 12, centerMm: [0, 0, 0] };

test('isOnBleed: equivalent radius + NEAR_MM around the centre when the truth has no extent', () => {
  assert.equal(isOnBleed(ivh, [14, 0, 0]), true);
  assert.equal(isOnBleed(ivh, [14.2 + NEAR_MM - 0.5, 0, 0]), true);
  assert.equal(isOnBleed(ivh, [14.2 + NEAR_MM + 0.5, 0, 0]), false);
  assert.equal(isOnBleed({ ...ivh, diameterMm: 10 }, [9, 0, 0]), true);
  assert.equal(isOnBleed({ ...ivh, diameterMm: 10 }, [11, 0, 0]), false);
});

test('isOnBleed: inside the extent box grown by NEAR_MM when the truth carries one', () => {
  const b: BleedTruth = { ...ivh, volumeMl: 1, extentMm: { minMm: [-30, -5, -5], maxMm: [30, 5, 5] } };
  assert.equal(isOnBleed(b, [28, 0, 0]), true); // far from the centre but on the bleed
  assert.equal(isOnBleed(b, [30 + NEAR_MM - 0.1, 0, 0]), true);
  assert.equal(isOnBleed(b, [30 + NEAR_MM + 0.1, 0, 0]), false);
  assert.equal(isOnBleed(b, [33, 8, 0]), true); // √(3² + 3²) ≈ 4.2 mm from the box
  assert.equal(isOnBleed(b, [34, 9, 0]), false); // √(4² + 4²) ≈ 5.7 mm
});

test('one IVH truth bleed is matched by both ventricles\' components; type from the most probable', () => {
  const truth: HeadCaseTruth[] = [{ caseId: 'c1', hasHemorrhage: true, bleeds: [ivh] }];
  const pred: HeadCasePrediction[] = [{
    caseId: 'c1', hasHemorrhage: true, dominantType: 'intraventricular',
    bleeds: [
      { centerMm: [-15, 3, 0], probability: 0.9, type: 'intraventricular', volumeMl: 6 },
      { centerMm: [15, 3, 0], probability: 0.8, type: 'intraparenchymal', volumeMl: 5 },
    ],
  }];
  const m = computeHemorrhageMetrics(truth, pred);
  assert.equal(m.bleedSensitivity, 1);
  assert.equal(m.typeConfusion.n, 1);
  assert.equal(m.typeConfusion.accuracy, 1);
  assert.equal(m.perCase[0]?.bleedsMatched, 1);
  // A component 40 mm away (not on the bleed) does not match.
  const far = computeHemorrhageMetrics(truth, [{ caseId: 'c1', hasHemorrhage: true, bleeds: [{ centerMm: [40, 0, 0], probability: 0.9, type: 'intraventricular' }] }]);
  assert.equal(far.bleedSensitivity, 0);
  assert.equal(far.typeConfusion.n, 0);
});

test('per-case dominant type: largest true bleed vs the analysis\'s hemorrhageType, over bleed cases called positive', () => {
  const truth: HeadCaseTruth[] = [
    { caseId: 'a', hasHemorrhage: true, bleeds: [{ id: 'x', type: 'subdural', volumeMl: 30, centerMm: [60, 0, 0] }, { id: 'y', type: 'subarachnoid', volumeMl: 2, centerMm: [0, 0, 0] }] },
    { caseId: 'b', hasHemorrhage: true, bleeds: [{ id: 'z', type: 'epidural', volumeMl: 20, centerMm: [60, 0, 0] }] },
    { caseId: 'c', hasHemorrhage: true, bleeds: [{ id: 'w', type: 'intraparenchymal', volumeMl: 5, centerMm: [0, 0, 0] }] },
    { caseId: 'd', hasHemorrhage: false, bleeds: [] },
  ];
  const pred: HeadCasePrediction[] = [
    { caseId: 'a', hasHemorrhage: true, dominantType: 'subdural', bleeds: [] },
    { caseId: 'b', hasHemorrhage: true, dominantType: 'subdural', bleeds: [] },
    { caseId: 'c', hasHemorrhage: false, bleeds: [] }, // missed: no dominant type to judge
    { caseId: 'd', hasHemorrhage: true, dominantType: 'subdural', bleeds: [] }, // FP: not a type case
  ];
  const m = computeHemorrhageMetrics(truth, pred);
  assert.equal(m.caseTypeConfusion.n, 2);
  assert.equal(m.caseTypeConfusion.accuracy, 0.5);
  assert.deepEqual(m.perCase.map((r) => [r.truthType, r.foundType]), [['subdural', 'subdural'], ['epidural', 'subdural'], ['intraparenchymal', undefined], [undefined, 'subdural']]);
  const text = formatHemorrhageMetrics(m);
  assert.match(text, /per case \(dominant type[^\n]*\): type accuracy 50\.0% over 2/);
});

test('headPrediction reads the dominant type from measurements.hemorrhageType', () => {
  const p = headPrediction('c', [{ id: 'f1', kind: 'hemorrhage', centerMm: [1, 2, 3], probability: 0.9, type: 'subdural', volumeMl: 4 }], { hasHemorrhage: true, hemorrhageType: 'subdural', hemorrhageVolumeMl: 4 }, 0.5);
  assert.equal(p.dominantType, 'subdural');
  assert.equal(p.totalVolumeMl, 4);
  const q = headPrediction('c', [], { hasHemorrhage: false, hemorrhageType: null }, 0.5);
  assert.equal(q.dominantType, undefined);
});
