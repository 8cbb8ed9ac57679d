import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeFroc, frocCurve, sensitivityAt, CPM_FP_RATES } from './froc.ts';
import { isHit, matchCandidates, type Candidate, type TruthLesion } from './match.ts';

// Two scans, three relevant nodules, one irrelevant one; FROC points computed by hand in the comments.
const truth: TruthLesion[] = [
  { id: 'A1', caseId: 'A', centerMm: [0, 0, 0], diameterMm: 10 },
  { id: 'A2', caseId: 'A', centerMm: [50, 0, 0], diameterMm: 6 },
  { id: 'B1', caseId: 'B', centerMm: [0, 0, 0], diameterMm: 8 },
  { id: 'B2', caseId: 'B', centerMm: [40, 40, 40], diameterMm: 4, relevant: false },
];
const cands: Candidate[] = [
  { id: 'c1', caseId: 'A', centerMm: [1, 1, 1], probability: 0.9 }, // TP A1
  { id: 'c2', caseId: 'A', centerMm: [2, 0, 0], probability: 0.5 }, // 2nd hit on A1: ignored
  { id: 'c3', caseId: 'A', centerMm: [100, 0, 0], probability: 0.8 }, // FP
  { id: 'c4', caseId: 'A', centerMm: [50, 2.9, 0], probability: 0.3 }, // TP A2 (2.9 < 3)
  { id: 'c5', caseId: 'A', centerMm: [50, 3, 0], probability: 0.85 }, // exactly on the radius: miss → FP
  { id: 'c6', caseId: 'B', centerMm: [0, 0, 3.9], probability: 0.6 }, // TP B1
  { id: 'c7', caseId: 'B', centerMm: [40, 40, 41], probability: 0.99 }, // on irrelevant B2: ignored
  { id: 'c8', caseId: 'B', centerMm: [-50, 0, 0], probability: 0.4 }, // FP
  { id: 'c9', caseId: 'B', centerMm: [0, 0, 0], probability: 0.3 }, // 2nd hit on B1: ignored
  { id: 'c10', caseId: 'A', centerMm: [0, 0, 0], probability: 0.2 }, // 3rd hit on A1: ignored
];

test('hit rule is strict: on the sphere is a miss', () => {
  assert.equal(isHit({ centerMm: [0, 0, 0], diameterMm: 6 }, [3, 0, 0]), false);
  assert.equal(isHit({ centerMm: [0, 0, 0], diameterMm: 6 }, [2.999, 0, 0]), true);
});

test('matching: duplicates and irrelevant hits are neither TP nor FP', () => {
  const m = matchCandidates(truth, cands);
  assert.deepEqual(m.falsePositives.map((c) => c.id).sort(), ['c3', 'c5', 'c8']);
  assert.deepEqual(m.ignored.map((c) => c.id), ['c7']);
  assert.equal(m.duplicateHits, 3);
  const byId = new Map([...m.hits].map(([t, h]) => [t.id, h.map((c) => c.id)]));
  assert.deepEqual(byId.get('A1'), ['c1', 'c2', 'c10']);
  assert.equal(byId.has('B2'), false);
});

test('FROC points and CPM match the hand computation', () => {
  const r = computeFroc(truth, cands, { caseIds: ['A', 'B'] });
  // TP scores 0.9, 0.6, 0.3; FP scores 0.85, 0.8, 0.4; 2 scans, 3 nodules.
  assert.deepEqual(
    r.curve.map((p) => [p.fpPerScan, Number(p.sensitivity.toFixed(6))]),
    [[0, 0], [0, 0.333333], [0.5, 0.333333], [1, 0.333333], [1, 0.666667], [1.5, 0.666667], [1.5, 1]],
  );
  // 1/8, 1/4, 1/2 → 1/3; 1 → 2/3 (highest point of the vertical step at 1); 2, 4, 8 → held at 1.
  const expected = [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1, 1, 1];
  r.sensitivities.forEach((s, i) => assert.ok(Math.abs(s.sensitivity - (expected[i] as number)) < 1e-12, `at ${s.fpPerScan}`));
  assert.ok(Math.abs(r.cpm - 2 / 3) < 1e-12);
  assert.equal(r.falsePositives, 3);
  assert.equal(r.detectedNodules, 3);
  assert.equal(r.relevantNodules, 3);
  assert.equal(r.ignoredCandidates, 1);
  assert.equal(r.maxFpPerScan, 1.5);
  assert.deepEqual(r.atOneFpPerScan, { sensitivity: 2 / 3, threshold: 0.6, fpPerScan: 1 });
});

test('linear interpolation between points and holding past the end', () => {
  const curve = [
    { threshold: Infinity, fpPerScan: 0, sensitivity: 0 },
    { threshold: 0.9, fpPerScan: 1, sensitivity: 0.5 },
    { threshold: 0.5, fpPerScan: 3, sensitivity: 1 },
  ];
  assert.equal(sensitivityAt(curve, 2), 0.75);
  assert.equal(sensitivityAt(curve, 0.5), 0.25);
  assert.equal(sensitivityAt(curve, 8), 1);
});

test('tied probabilities make one diagonal step', () => {
  const curve = frocCurve({ scans: 1, relevant: 2, tp: [0.5, 0.7], fp: [0.5] });
  assert.deepEqual(curve.map((p) => [p.fpPerScan, p.sensitivity]), [[0, 0], [0, 0.5], [1, 1]]);
  assert.equal(sensitivityAt(curve, 0.5), 0.75);
});

test('missed nodules lower sensitivity; a scan with nothing still counts in FP/scan', () => {
  const r = computeFroc(truth, [{ caseId: 'A', centerMm: [0, 0, 0], probability: 0.5 }, { caseId: 'A', centerMm: [9, 9, 9], probability: 0.4 }], { caseIds: ['A', 'B', 'C', 'D'] });
  // one of three found; 1 FP over 4 scans = 0.25 FP/scan at the lowest threshold
  assert.equal(r.maxFpPerScan, 0.25);
  assert.deepEqual(r.sensitivities.map((s) => s.sensitivity), CPM_FP_RATES.map(() => 1 / 3));
});

test('no relevant nodule gives NaN, not a fake number; unknown case is an error', () => {
  const r = computeFroc([], [{ caseId: 'A', centerMm: [0, 0, 0], probability: 0.5 }], { caseIds: ['A'] });
  assert.ok(Number.isNaN(r.cpm));
  assert.throws(() => computeFroc(truth, [], { caseIds: ['A'] }), (e: unknown) => (e as { code?: string }).code === 'TRUTH_INVALID');
});

test('bootstrap CI brackets the CPM and is repeatable with a seed', () => {
  const r1 = computeFroc(truth, cands, { caseIds: ['A', 'B'], bootstrap: 200, seed: 7 });
  const r2 = computeFroc(truth, cands, { caseIds: ['A', 'B'], bootstrap: 200, seed: 7 });
  assert.ok(r1.cpmCi && r1.cpmCi.lower <= r1.cpm && r1.cpm <= r1.cpmCi.upper);
  assert.deepEqual(r1.cpmCi, r2.cpmCi);
  // identical scans: every resample is the same, so the interval has no width
  const same: TruthLesion[] = ['X', 'Y'].map((c) => ({ id: c, caseId: c, centerMm: [0, 0, 0], diameterMm: 10 }));
  const sc: Candidate[] = ['X', 'Y'].flatMap((c) => [{ caseId: c, centerMm: [0, 0, 0] as [number, number, number], probability: 0.9 }, { caseId: c, centerMm: [50, 0, 0] as [number, number, number], probability: 0.95 }]);
  const r3 = computeFroc(same, sc, { caseIds: ['X', 'Y'], bootstrap: 50, seed: 1 });
  assert.equal(r3.cpmCi?.lower, r3.cpm);
  assert.equal(r3.cpmCi?.upper, r3.cpm);
});
