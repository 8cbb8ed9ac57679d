import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rigidAffine, IDENTITY_AFFINE } from '../../src/imaging/index.ts';
import { computeFollowUpMetrics, formatFollowUpMetrics } from './followup.ts';
import type { FollowUpFindingLike, FollowUpTruthLike } from './followup.ts';

const truth: FollowUpTruthLike = {
  currentToPriorMm: IDENTITY_AFFINE,
  acquisition: { dims: [100, 100, 100], spacingMm: [1, 1, 1], originMm: [-50, -50, -50] },
  nodules: [
    { id: 'a', fate: 'grown', expectedStatus: 'grown', prior: { centerMm: [0, 0, 0], diameterMm: 6, volumeMm3: 100 }, current: { centerMm: [0, 0, 0], diameterMm: 9, volumeMm3: 300 }, vdtDays: 100 },
    { id: 'b', fate: 'stable', expectedStatus: 'stable', prior: { centerMm: [20, 0, 0], diameterMm: 8, volumeMm3: 250 }, current: { centerMm: [20, 0, 0], diameterMm: 8, volumeMm3: 250 }, vdtDays: null },
    { id: 'c', fate: 'new', expectedStatus: 'new', current: { centerMm: [-20, 0, 0], diameterMm: 7, volumeMm3: 180 }, vdtDays: null },
    { id: 'd', fate: 'resolved', expectedStatus: 'resolved', prior: { centerMm: [0, 20, 0], diameterMm: 7, volumeMm3: 180 }, vdtDays: null },
  ],
};

function f(id: string, c: number[], extra: Record<string, unknown>): FollowUpFindingLike {
  return { id, centerMm: c, probability: 0.9, ...extra };
}

test('follow-up metrics: right answers score 100 %, VDT error relative to the truth', () => {
  const findings = [
    f('n1', [0.5, 0, 0], { status: 'grown', priorCenterMm: [0, 0.5, 0], vdtDays: 110 }),
    f('n2', [20, 1, 0], { status: 'stable', priorCenterMm: [20, 0, 0], vdtDays: null }),
    f('n3', [-20, 0, 1], { status: 'new', vdtDays: null }),
    { ...f('resolved-p4', [0, 20, 0], { status: 'resolved', priorCenterMm: [0, 20, 0.5] }), probability: 0 },
  ];
  const m = computeFollowUpMetrics([{ caseId: 'c1', truth, findings, matrix: rigidAffine([0, 0, 0], [1, 0, 0]), registrationMs: 1234 }]);
  assert.equal(m.pairsMatchedPct, 100);
  assert.equal(m.newResolvedRightPct, 100);
  assert.ok(Number.isNaN(m.newResolvedRightOfDetectedPct) === false);
  assert.equal(m.statusAgreementPct, 100);
  assert.equal(m.vdtCount, 1);
  assert.ok(Math.abs(m.medianVdtErrorPct - 10) < 1e-9);
  assert.ok(Math.abs(m.registrationErrorMm.mean - 1) < 1e-9);
  assert.equal(m.registrationMs.median, 1234);
  assert.match(formatFollowUpMetrics(m), /pairs matched: 2\/2/);
});

test('follow-up metrics: wrong pairing, missed new, missing resolved, low-probability findings ignored', () => {
  const findings = [
    f('n1', [0, 0, 0], { status: 'grown', priorCenterMm: [20, 0, 0], vdtDays: 90 }), // paired with the wrong prior
    f('n2', [20, 0, 0], { status: 'new', vdtDays: null }), // pair missed
    { ...f('n3', [-20, 0, 0], { status: 'new' }), probability: 0.1 }, // below the threshold: not found
  ];
  const m = computeFollowUpMetrics([{ caseId: 'c1', truth, findings, priorReported: [[0, 20, 0]] }]);
  assert.equal(m.pairsRight, 0);
  assert.equal(m.truthPairs, 2);
  assert.equal(m.newRight, 0);
  assert.equal(m.resolvedRight, 0);
  assert.equal(m.casesCompared, 0);
  // Detected but mislabelled: the resolved nodule was reported on the prior and yet not called resolved.
  assert.equal(m.newResolvedRightOfDetectedPct, 0);
  assert.ok(Number.isNaN(m.medianVdtErrorPct));
});

test('follow-up metrics: prior-guided findings count as shown, right only on the same truth nodules; wrongly paired new nodules counted', () => {
  const findings = [
    // Sub-threshold, shown because of the prior, paired with the right prior nodule: a right pair.
    { ...f('n1', [0, 0, 0.5], { status: 'grown', priorGuided: true, priorCenterMm: [0.5, 0, 0], vdtDays: 100 }), probability: 0.2 },
    // Sub-threshold, prior-guided, but paired with the wrong prior nodule (a's prior): not right.
    { ...f('n2', [20, 0, 0], { status: 'stable', priorGuided: true, priorCenterMm: [0, 0, 0] }), probability: 0.2 },
    // The true new nodule paired with a prior candidate: wrongly paired.
    f('n3', [-20, 0, 0], { status: 'shrunk', priorGuided: true, priorCenterMm: [-20, 1, 0] }),
    // A prior-guided finding on no truth nodule (a vessel candidate): counted as such.
    { ...f('n4', [0, -30, 0], { status: 'stable', priorGuided: true, priorCenterMm: [0, -30, 0] }), probability: 0.1 },
    // A vessel candidate paired with the resolved nodule's prior position.
    { ...f('n6', [0, 21, 0], { status: 'shrunk', priorGuided: true, priorCenterMm: [0, 20, 0.5] }), probability: 0.1 },
    // Sub-threshold without the prior-guided flag: still not shown.
    { ...f('n5', [0, 20, 0], { status: 'stable', priorCenterMm: [0, 20, 0] }), probability: 0.1 },
  ];
  const m = computeFollowUpMetrics([{ caseId: 'c1', truth, findings }]);
  assert.equal(m.pairsRight, 1);
  assert.equal(m.truthPairs, 2);
  assert.equal(m.priorGuided, 5);
  assert.equal(m.resolvedWronglyPaired, 1);
  assert.equal(m.resolvedRight, 0);
  assert.equal(m.priorGuidedRight, 1);
  assert.equal(m.priorGuidedOnNoTruth, 2);
  assert.equal(m.newRight, 0);
  assert.equal(m.newWronglyPaired, 1);
  assert.equal(m.vdtCount, 1);
  assert.match(formatFollowUpMetrics(m), /wrongly paired: 1/);
});
