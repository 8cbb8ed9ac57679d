import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyAffine, composeAffine, lpsToIjk, rigidAffine, IDENTITY_AFFINE } from '../../src/imaging/index.ts';
import type { Int16Volume, Vec3 } from '../../src/imaging/index.ts';
import { volumeDoublingTimeDays } from '../../src/clinical/index.ts';
import { isSrError } from '../../src/core/errors.ts';
import { generateFollowUpPair } from './followup.ts';
import type { FollowUpPhantomOptions } from './followup.ts';

/** Small and coarse so the test stays fast; the evaluation uses the default 384×384 grid. */
const TINY_PAIR: Omit<FollowUpPhantomOptions, 'seed'> = { dims: [120, 120, 56], spacingMm: [2.4, 2.4, 2.5], sliceThicknessMm: 2.5, noduleCount: 5, noduleDiameterRangeMm: [10, 16], threads: 1 };

function huAt(vol: Int16Volume, p: Vec3): number {
  const q = lpsToIjk(vol, p).map(Math.round) as Vec3;
  return vol.data[q[0] + q[1] * vol.dims[0] + q[2] * vol.dims[0] * vol.dims[1]] as number;
}

test('follow-up pair: deterministic, known motion, fates with consistent truth', () => {
  const a = generateFollowUpPair({ seed: 'test/1', ...TINY_PAIR });
  const b = generateFollowUpPair({ seed: 'test/1', ...TINY_PAIR });
  assert.deepEqual(a.truth, b.truth);
  assert.deepEqual(a.current.data, b.current.data);
  const t = a.truth;
  // Both scans share the plain axial grid; the patient, not the grid, moved.
  assert.deepEqual(a.prior.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  assert.deepEqual(a.current.origin, a.prior.origin);
  const M = rigidAffine(t.motion.rotationDeg, t.motion.translationMm, t.motion.centerMm);
  const id = composeAffine(t.currentToPriorMm, M);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs((id[i] as number) - (IDENTITY_AFFINE[i] as number)) < 1e-6);
  assert.ok(t.motion.rotationDeg.every((r) => Math.abs(r) <= 1.7) && t.motion.translationMm.every((x) => Math.abs(x) <= 6));
  assert.ok(t.intervalDays >= 90 && t.intervalDays <= 420);
  assert.ok(t.currentStudyDate > t.priorStudyDate);
  assert.ok(t.nodules.length >= 4, `${t.nodules.length} nodules`);
  for (const n of t.nodules) {
    assert.equal(n.prior === undefined, n.fate === 'new', n.id);
    assert.equal(n.current === undefined, n.fate === 'resolved', n.id);
    if (n.fate === 'grown') assert.ok(n.current!.volumeMm3 / n.prior!.volumeMm3 > 1.6, `${n.id} grew ${n.current!.volumeMm3 / n.prior!.volumeMm3}`);
    if (n.fate === 'shrunk') assert.ok(n.current!.volumeMm3 / n.prior!.volumeMm3 < 0.6);
    if (n.fate === 'stable') {
      assert.ok(Math.abs(n.current!.volumeMm3 - n.prior!.volumeMm3) < 1e-6);
      assert.equal(n.vdtDays, null);
    }
    if (n.prior && n.current && n.fate !== 'stable') {
      assert.ok(Math.abs((n.vdtDays as number) - volumeDoublingTimeDays(n.prior.volumeMm3, n.current.volumeMm3, t.intervalDays)) < 1e-2);
      // Same nodule in both frames: the current centre carried back is the prior centre (scaling is about the centre,
      // the centroid moves a little for irregular shapes).
      const back = applyAffine(t.currentToPriorMm, n.current.centerMm);
      assert.ok(Math.hypot(back[0] - n.prior.centerMm[0], back[1] - n.prior.centerMm[1], back[2] - n.prior.centerMm[2]) < 2.5, n.id);
    }
    // The painted nodule is where the truth says, in each scan (denser than aerated lung).
    if (n.type === 'solid') {
      if (n.prior) assert.ok(huAt(a.prior, n.prior.centerMm) > -400, `${n.id} prior HU ${huAt(a.prior, n.prior.centerMm)}`);
      if (n.current) assert.ok(huAt(a.current, n.current.centerMm) > -400, `${n.id} current HU ${huAt(a.current, n.current.centerMm)}`);
    }
    if (n.fate === 'resolved' && n.type === 'solid') assert.ok(huAt(a.current, applyAffine(rigidAffine(t.motion.rotationDeg, t.motion.translationMm, t.motion.centerMm), n.prior!.centerMm)) < -400);
  }
  const c = generateFollowUpPair({ seed: 'test/2', ...TINY_PAIR });
  assert.notDeepEqual(c.truth.motion, t.motion);
});

test('follow-up pair: bad options are coded errors', () => {
  assert.throws(() => generateFollowUpPair({ seed: 1, ...TINY_PAIR, dims: [4, 4, 4] }), (e) => isSrError(e, 'PHANTOM_INVALID_OPTIONS'));
  assert.throws(() => generateFollowUpPair({ seed: 1, ...TINY_PAIR, maxRotationDeg: 45 }), (e) => isSrError(e, 'PHANTOM_INVALID_OPTIONS'));
  assert.throws(() => generateFollowUpPair({ seed: 1, ...TINY_PAIR, fates: [] }), (e) => isSrError(e, 'PHANTOM_INVALID_OPTIONS'));
});
