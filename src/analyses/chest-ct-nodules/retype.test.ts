import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpsToIjk, resample } from '../../imaging/index.ts';
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { featureVector, measureCandidate } from './features.ts';
import type { CandidateMeasures } from './features.ts';
import { REPORT_FLOOR } from './report.ts';
import { RETYPE_MIN_PROBABILITY, dimmedSolidChanges, retypeDimmedSolid, retypeKept } from './retype.ts';
import type { RetypeContext, RetypeEvent, RetypeTarget } from './retype.ts';
import { segmentNodule } from './segment-nodule.ts';
import { blurredScene } from './test-scene.ts';


type Finding = RetypeTarget & { features: number[]; firstStage: number };

/** A kept fine finding as runPipeline leaves it (segmented with the default rules), and the context it was made in. */
function detected(scene: { vol: Int16Volume; lung: MaskVolume }, radiusMm: number, probability: number): { f: Finding; ctx: RetypeContext } {
  const iso = resample(scene.vol, { spacing: 1, interpolation: 'linear', fill: -1000 });
  const lps: Vec3 = [0, 0, 0];
  const candidate: Candidate = { ijk: lpsToIjk(iso, lps).map(Math.round) as Vec3, lps, radiusMm, blob: 60, sigmaMm: radiusMm / Math.SQRT2, source: 'blob' };
  const ctx: RetypeContext = { vol: scene.vol, lungLabels: scene.lung, lungWide: scene.lung, iso };
  const seg = segmentNodule(scene.vol, scene.lung, lps, radiusMm, { lungWide: scene.lung });
  assert.ok(seg);
  const measures: CandidateMeasures = measureCandidate(iso, candidate, seg);
  const f: Finding = { candidate, seg, measures, features: featureVector(candidate, seg, measures), probability, firstStage: 0.3, stage: 'fine', centerMm: seg.peakLps };
  return { f, ctx };
}

test('a kept 5 mm solid nodule on 3 mm slices, its peak dimmed by partial volume, is re-typed solid and re-measured; its probability, features and centre stay', () => {
  const scene = blurredScene({ r: 2.5, slice: 3, psf: 1 });
  const { f, ctx } = detected(scene, 2.5, 0.73);
  // Detection as the analysis runs it: part-solid, cut at the ground-glass level.
  assert.equal(f.seg.type, 'part-solid');
  assert.ok(dimmedSolidChanges(f.seg), JSON.stringify(f.seg.typeEvidence));
  const kept = [f];
  const events: RetypeEvent<Finding>[] = [];
  const stats = retypeDimmedSolid(kept, ctx, { onRetype: (e) => events.push(e) });
  assert.deepEqual([stats.candidates, stats.retyped], [1, 1]);
  const g = kept[0] as Finding;
  assert.notEqual(g, f, 'replaced by a copy');
  assert.equal(g.seg.type, 'solid', JSON.stringify(g.seg.typeEvidence));
  assert.equal(g.seg.solid, undefined, 'no solid component on a solid nodule');
  // Detection output untouched.
  assert.equal(g.probability, 0.73);
  assert.equal(g.firstStage, 0.3);
  assert.equal(g.features, f.features);
  assert.deepEqual(g.centerMm, f.centerMm);
  assert.equal(g.candidate, f.candidate);
  // The measurements follow the new mask: closer to the truth (before: +54 % volume at the ground-glass level).
  const err = (v: number) => Math.abs(v - scene.truthMm3) / scene.truthMm3;
  assert.ok(err(g.seg.volumeMm3) <= 0.3 && err(g.seg.volumeMm3) < err(f.seg.volumeMm3), `volume ${f.seg.volumeMm3.toFixed(0)} → ${g.seg.volumeMm3.toFixed(0)} vs ${scene.truthMm3.toFixed(0)} mm³`);
  assert.ok(g.measures.axes.meanDiameterMm < f.measures.axes.meanDiameterMm, `${f.measures.axes.meanDiameterMm} → ${g.measures.axes.meanDiameterMm}`);
  assert.equal(events.length, 1);
  assert.equal(events[0]?.before, f);
  assert.equal(events[0]?.after, g);
  assert.equal(events[0]?.rejected, undefined);
});

test('a part-solid nodule (10 mm ground glass, 3 mm core) with a dimmed peak keeps its ground-glass plateau: not re-segmented, part-solid', () => {
  const scene = blurredScene({ r: 1.5, ggR: 5, ggHu: -500, slice: 2.5, psf: 0.8 });
  const { f, ctx } = detected(scene, 5, 0.9);
  assert.equal(f.seg.type, 'part-solid');
  assert.equal(dimmedSolidChanges(f.seg), false, JSON.stringify(f.seg.typeEvidence));
  const kept = [f];
  const stats = retypeDimmedSolid(kept, ctx);
  assert.deepEqual([stats.candidates, stats.retyped], [0, 0]);
  assert.equal(kept[0], f);
});

test('the retyping leaves coarse findings, findings below the report floor and implausible re-segmentations as they were', () => {
  assert.equal(RETYPE_MIN_PROBABILITY, REPORT_FLOOR, 'the retyping covers exactly the reported findings');
  const scene = blurredScene({ r: 2.5, slice: 3, psf: 1 });
  const { f, ctx } = detected(scene, 2.5, 0.6);
  const coarse: Finding = { ...f, stage: 'coarse' };
  const faint: Finding = { ...f, probability: REPORT_FLOOR / 2 };
  // A centre the new mask does not hold (the finding lay elsewhere): the original stays.
  const away: Finding = { ...f, centerMm: [6, 0, 0] };
  const kept = [coarse, faint, away];
  const events: RetypeEvent<Finding>[] = [];
  const stats = retypeDimmedSolid(kept, ctx, { onRetype: (e) => events.push(e) });
  assert.deepEqual([stats.candidates, stats.retyped], [1, 0]);
  assert.deepEqual(kept, [coarse, faint, away]);
  assert.equal(kept[2], away);
  assert.equal(events[0]?.rejected, 'centre-outside');
  // The pipeline's option: false is off.
  const again = [f];
  assert.equal(retypeKept(again, ctx, false), null);
  assert.equal(again[0], f);
});
