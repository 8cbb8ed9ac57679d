import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeNoduleMetrics, confusionMatrix, sizeBand, type NoduleDetection, type NoduleTruth } from './nodules.ts';
import { computeHemorrhageMetrics } from './hemorrhage.ts';
import { dice, jaccard, overlapOfArrays } from './segmentation.ts';
import { median, summarizeErrors, equivalentDiameterMm } from './stats.ts';

const truth: NoduleTruth[] = [
  { id: 'n1', caseId: 'A', centerMm: [0, 0, 0], diameterMm: 10, volumeMm3: 500, type: 'solid', placement: 'free' },
  { id: 'n2', caseId: 'A', centerMm: [60, 0, 0], diameterMm: 5, volumeMm3: 60, type: 'ground-glass', placement: 'juxta-pleural' },
  { id: 'n3', caseId: 'B', centerMm: [0, 0, 0], diameterMm: 3.5, volumeMm3: 20, type: 'solid', placement: 'juxta-vascular' },
];
const found: NoduleDetection[] = [
  { id: 'f1', caseId: 'A', centerMm: [1, 0, 0], probability: 0.9, diameterMm: 11, volumeMm3: 550, type: 'solid' },
  { id: 'f2', caseId: 'A', centerMm: [60, 1, 0], probability: 0.7, diameterMm: 4, volumeMm3: 45, type: 'solid' },
  { id: 'f3', caseId: 'B', centerMm: [0, 0, 1], probability: 0.2, diameterMm: 3, volumeMm3: 15, type: 'solid' },
  { id: 'fp', caseId: 'B', centerMm: [90, 0, 0], probability: 0.8 },
];

test('nodule metrics: the measurement errors of nodules ≥ 5 mm leave out smaller ones', () => {
  const m = computeNoduleMetrics(truth, found, { caseIds: ['A', 'B'], operatingThreshold: 0 });
  // all three matched: volume errors +10, -25, -25 % (n3: 15 vs 20 mm³); n3 (3.5 mm) is below 5 mm
  assert.equal(m.volumeErrorPct.n, 3);
  assert.equal(m.volumeErrorPct.median, -25);
  assert.equal(m.volumeErrorPct5mm.n, 2);
  assert.equal(m.volumeErrorPct5mm.median, -7.5);
  assert.deepEqual([m.diameterErrorMm5mm.n, m.diameterErrorMm5mm.medianAbs], [2, 1]);
});

test('size bands: lower bound inclusive', () => {
  assert.deepEqual([3.9, 4, 5.99, 6, 8, 14.9, 15, 30].map(sizeBand), ['<4', '4-6', '4-6', '6-8', '8-15', '8-15', '>=15', '>=15']);
});

test('nodule metrics: errors, breakdown, confusion, ≥4 mm sensitivity at ≤1 FP/scan', () => {
  const m = computeNoduleMetrics(truth, found, { caseIds: ['A', 'B'], operatingThreshold: 0.5 });
  // f3 is below the operating threshold → n3 missed for measurements
  assert.equal(m.matched.length, 2);
  assert.equal(m.sensitivity, 2 / 3);
  assert.equal(m.falsePositivesPerScan, 0.5);
  // volume errors +10 %, -25 % → median -7.5 %; diameter errors +1, -1 → median 0, median |.| 1
  assert.equal(m.volumeErrorPct.median, -7.5);
  assert.equal(m.volumeErrorPct.medianAbs, 17.5);
  assert.equal(m.diameterErrorMm.median, 0);
  assert.equal(m.diameterErrorMm.medianAbs, 1);
  const gg = m.breakdown.find((r) => r.group === 'type' && r.value === 'ground-glass');
  assert.equal(gg?.detected, 1);
  assert.equal(gg?.volumeErrorPct.median, -25);
  const small = m.breakdown.find((r) => r.group === 'size' && r.value === '<4');
  assert.deepEqual([small?.nodules, small?.detected], [1, 0]);
  assert.deepEqual(m.breakdown.filter((r) => r.group === 'size').map((r) => r.value), ['<4', '4-6', '8-15']);
  assert.equal(m.typeConfusion.accuracy, 0.5);
  // ≥4 mm FROC: n3 (3.5 mm) irrelevant, so f3 is ignored; TPs 0.9, 0.7; FP 0.8 → 2/2 at 0.5 FP/scan
  assert.equal(m.froc4mm.relevantNodules, 2);
  assert.equal(m.froc4mm.ignoredCandidates, 1);
  assert.deepEqual(m.sensitivityAt1FpPerScan4mm, { sensitivity: 1, threshold: 0.7, fpPerScan: 0.5 });
  assert.equal(m.froc.relevantNodules, 3);
});

test('confusion matrix rows are truth, columns found', () => {
  const c = confusionMatrix([{ truth: 'a', found: 'b' }, { truth: 'a', found: 'a' }, { truth: 'b', found: 'b' }]);
  assert.deepEqual(c.labels, ['a', 'b']);
  assert.deepEqual(c.counts, [[1, 1], [0, 1]]);
  assert.equal(c.accuracy, 2 / 3);
});

test('hemorrhage metrics per case, with ABC/2 beside and midline shift error', () => {
  const r = computeHemorrhageMetrics(
    [
      { caseId: 'h1', hasHemorrhage: true, bleeds: [{ id: 'b', type: 'intraparenchymal', volumeMl: 20, centerMm: [0, 0, 0] }], midlineShiftMm: 5 },
      { caseId: 'h2', hasHemorrhage: true, bleeds: [{ id: 'b', type: 'subdural', volumeMl: 10, centerMm: [50, 0, 0] }] },
      { caseId: 'n1', hasHemorrhage: false, bleeds: [], midlineShiftMm: 0 },
      { caseId: 'n2', hasHemorrhage: false, bleeds: [] },
    ],
    [
      { caseId: 'h1', hasHemorrhage: true, bleeds: [{ centerMm: [1, 1, 1], probability: 0.9, type: 'intraparenchymal', volumeMl: 18 }], abc2VolumeMl: 26, midlineShiftMm: 4 },
      { caseId: 'n1', hasHemorrhage: true, bleeds: [{ centerMm: [9, 9, 9], probability: 0.6 }], midlineShiftMm: 1.5 },
      { caseId: 'n2', hasHemorrhage: false, bleeds: [] },
    ],
  );
  assert.equal(r.accuracy, 0.5);
  assert.equal(r.sensitivity, 0.5);
  assert.equal(r.specificity, 0.5);
  assert.deepEqual(r.falsePositiveCases, ['n1']);
  assert.deepEqual(r.missedCases, ['h2']);
  assert.equal(r.bleedSensitivity, 0.5);
  assert.equal(r.volumeErrorPct.median, -10);
  assert.equal(r.abc2ErrorPct.median, 30);
  assert.equal(r.midlineShiftAbsErrorMm.n, 2);
  assert.equal(r.midlineShiftAbsErrorMm.median, 1.25);
  assert.equal(r.typeConfusion.accuracy, 1);
});

test('dice and jaccard', () => {
  const a = [1, 1, 1, 0, 0];
  const b = [0, 1, 1, 1, 0];
  assert.equal(dice(a, b), 4 / 6);
  assert.equal(jaccard(a, b), 2 / 4);
  assert.equal(dice([0, 0], [0, 0]), 1);
  assert.throws(() => overlapOfArrays([1], [1, 0]), (e: unknown) => (e as { code?: string }).code === 'KERNEL_INVALID_ARGUMENT');
});

test('stats helpers', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.ok(Number.isNaN(median([])));
  assert.equal(summarizeErrors([-2, 1, NaN]).n, 2);
  assert.ok(Math.abs(equivalentDiameterMm((4 / 3) * Math.PI * 125) - 10) < 1e-9);
});
