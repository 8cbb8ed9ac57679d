import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lpsToIjk, resample } from '../../imaging/index.ts';
import type { Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import type { Candidate } from './candidates.ts';
import { featureVector, measureCandidate } from './features.ts';
import type { CandidateMeasures } from './features.ts';
import { REPORT_FLOOR } from './report.ts';
import { RETYPE_MIN_PROBABILITY, modelTypeChange, retypeByModel, retypeKept } from './retype.ts';
import type { RetypeContext, RetypeEvent, RetypeTarget } from './retype.ts';
import { segmentNodule } from './segment-nodule.ts';
import { blurredScene } from './test-scene.ts';
import { NODULE_TYPES, TYPE_FEATURE_NAMES, calcifiedAllowed, partSolidAllowed, typeFeatures, typeFromModel } from './type-model.ts';
import type { NoduleTypeModel } from './type-model.ts';
import { NODULE_TYPE_MODEL } from './type-model-weights.ts';


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

test('a kept 5 mm solid nodule on 3 mm slices, its peak dimmed by partial volume, is re-typed solid by the type model and re-measured; its probability, features and centre stay', () => {
  const scene = blurredScene({ r: 2.5, slice: 3, psf: 1 });
  const { f, ctx } = detected(scene, 2.5, 0.73);
  // Detection as the analysis runs it: the rules read part-solid and cut it at the ground-glass level.
  assert.equal(f.seg.type, 'part-solid');
  assert.deepEqual(modelTypeChange(f.seg), { type: 'solid' }, JSON.stringify(f.seg.typeEvidence));
  const kept = [f];
  const events: RetypeEvent<Finding>[] = [];
  const stats = retypeByModel(kept, ctx, { onRetype: (e) => events.push(e) });
  assert.deepEqual([stats.candidates, stats.retyped], [1, 1]);
  const g = kept[0] as Finding;
  assert.notEqual(g, f, 'replaced by a copy');
  assert.equal(g.seg.type, 'solid', JSON.stringify(g.seg.typeEvidence));
  assert.equal(g.seg.rulesType, 'part-solid', 'the override is recorded (the report says so)');
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

test('a part-solid nodule (10 mm ground glass, 3 mm core) with a dimmed peak keeps its ground-glass plateau: the model agrees, not re-segmented', () => {
  const scene = blurredScene({ r: 1.5, ggR: 5, ggHu: -500, slice: 2.5, psf: 0.8 });
  const { f, ctx } = detected(scene, 5, 0.9);
  assert.equal(f.seg.type, 'part-solid');
  assert.equal(modelTypeChange(f.seg), null, JSON.stringify(f.seg.typeEvidence));
  const kept = [f];
  const stats = retypeByModel(kept, ctx);
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
  const stats = retypeByModel(kept, ctx, { onRetype: (e) => events.push(e) });
  assert.deepEqual([stats.candidates, stats.retyped], [1, 0]);
  assert.deepEqual(kept, [coarse, faint, away]);
  assert.equal(kept[2], away);
  assert.equal(events[0]?.rejected, 'centre-outside');
  // The pipeline's option: false is off.
  const again = [f];
  assert.equal(retypeKept(again, ctx, false), null);
  assert.equal(again[0], f);
});

test('the type model: its features match their names, it scores every type, and it never calls a nodule of 6 mm or more calcified against the rules', () => {
  const scene = blurredScene({ r: 2.5, slice: 3, psf: 1 });
  const { f } = detected(scene, 2.5, 0.73);
  const e = f.seg.typeEvidence;
  assert.equal(typeFeatures(e, 'solid').length, TYPE_FEATURE_NAMES.length);
  assert.deepEqual(NODULE_TYPE_MODEL.types, NODULE_TYPES);
  assert.ok(NODULE_TYPE_MODEL.models.every((m) => m.features.length === TYPE_FEATURE_NAMES.length && m.trees.length > 0));
  // A model that calls everything calcified (a base logit of +10 for calcified, −10 for the rest).
  const calcifiedEverywhere: NoduleTypeModel = {
    kind: 'one-vs-rest', types: NODULE_TYPES, provenance: 'test',
    models: NODULE_TYPES.map((t) => ({ kind: 'trees', features: TYPE_FEATURE_NAMES, base: t === 'calcified' ? 10 : -10 + NODULE_TYPES.indexOf(t), trees: [], provenance: 'test' })),
  };
  const small = { ...e, maskVolumeMm3: 100 }, large = { ...e, maskVolumeMm3: 200 };
  assert.ok(calcifiedAllowed(small, 'solid') && !calcifiedAllowed(large, 'solid') && calcifiedAllowed(large, 'calcified'));
  assert.equal(typeFromModel(calcifiedEverywhere, small, 'solid'), 'calcified');
  // ≥ 6 mm (113 mm³): the next best type instead (here ground-glass, the highest of the rest).
  assert.equal(typeFromModel(calcifiedEverywhere, large, 'solid'), 'ground-glass');
  assert.equal(typeFromModel(calcifiedEverywhere, large, 'calcified'), 'calcified');
});

test('a forced type sets the segmentation\'s type and threshold: a solid 8 mm ball forced part-solid is cut at the ground-glass level (a larger mask), forced solid it is the rules\' own segmentation', () => {
  const scene = blurredScene({ r: 4, slice: 1, psf: 0.7 });
  const rules = segmentNodule(scene.vol, scene.lung, [0, 0, 0], 4, { lungWide: scene.lung });
  const solid = segmentNodule(scene.vol, scene.lung, [0, 0, 0], 4, { lungWide: scene.lung, typeRules: { force: 'solid' } });
  const part = segmentNodule(scene.vol, scene.lung, [0, 0, 0], 4, { lungWide: scene.lung, typeRules: { force: 'part-solid' } });
  assert.ok(rules && solid && part);
  assert.equal(rules.type, 'solid');
  assert.equal(solid.type, 'solid');
  assert.equal(solid.thresholdHu, rules.thresholdHu);
  assert.equal(part.type, 'part-solid');
  assert.ok(part.thresholdHu < rules.thresholdHu - 50, `${part.thresholdHu} vs ${rules.thresholdHu}`);
  assert.ok(part.volumeMm3 >= rules.volumeMm3, `${part.volumeMm3} vs ${rules.volumeMm3}`);
});

test('a calcified call the rules did not make is taken only when the nodule segmented as calcified is under 6 mm', () => {
  // A model that calls everything calcified, then solid, then the rest.
  const calcifiedFirst: NoduleTypeModel = {
    kind: 'one-vs-rest', types: NODULE_TYPES, provenance: 'test',
    models: NODULE_TYPES.map((t) => ({ kind: 'trees', features: TYPE_FEATURE_NAMES, base: t === 'calcified' ? 10 : t === 'solid' ? 5 : -10, trees: [], provenance: 'test' })),
  };
  // A solid 8 mm ball: segmented as calcified it is over 6 mm (113 mm³), so the next type, solid — the rules' own — stays.
  const big = blurredScene({ r: 4, slice: 1, psf: 0.7 });
  const { f: b, ctx: bctx } = detected(big, 4, 0.9);
  assert.equal(b.seg.type, 'solid');
  assert.deepEqual(modelTypeChange(b.seg, calcifiedFirst), { type: 'calcified', fallback: 'solid' });
  const events: RetypeEvent<Finding>[] = [];
  const kept = [b];
  retypeByModel(kept, bctx, { model: calcifiedFirst, onRetype: (e) => events.push(e) });
  assert.equal(kept[0], b);
  assert.equal(events[0]?.rejected, 'calcified-size');
  // A 5.5 mm nodule on 3 mm slices, dimmed and cut at the ground-glass level by the rules (its volume then reads over
  // 6 mm): segmented as calcified it is under 6 mm, so the call is taken.
  const small = blurredScene({ r: 2.75, slice: 3, psf: 1.3 });
  const { f: s, ctx: sctx } = detected(small, 2.75, 0.9);
  assert.ok(s.seg.type === 'part-solid' && s.seg.volumeMm3 >= 113, `${s.seg.type} ${s.seg.volumeMm3}`);
  const kept2 = [s];
  retypeByModel(kept2, sctx, { model: calcifiedFirst });
  assert.equal(kept2[0]?.seg.type, 'calcified', JSON.stringify(kept2[0]?.seg.typeEvidence));
  assert.ok((kept2[0]?.seg.volumeMm3 ?? 1e9) < 113 && Math.abs((kept2[0]?.seg.volumeMm3 ?? 0) - small.truthMm3) < Math.abs(s.seg.volumeMm3 - small.truthMm3));
});

test('the type model calls a ground-glass nodule part-solid only when its mask holds a voxel of solid attenuation', () => {
  const scene = blurredScene({ r: 1.5, ggR: 5, ggHu: -500, slice: 2.5, psf: 0.8 });
  const { f } = detected(scene, 5, 0.9);
  const partSolidFirst: NoduleTypeModel = {
    kind: 'one-vs-rest', types: NODULE_TYPES, provenance: 'test',
    models: NODULE_TYPES.map((t) => ({ kind: 'trees', features: TYPE_FEATURE_NAMES, base: t === 'part-solid' ? 10 : t === 'ground-glass' ? 5 : -10, trees: [], provenance: 'test' })),
  };
  const faint = { ...f.seg.typeEvidence, maskMaxHu: -400 }, cored = { ...f.seg.typeEvidence, maskMaxHu: -100 };
  assert.ok(!partSolidAllowed(faint, 'ground-glass') && partSolidAllowed(cored, 'ground-glass') && partSolidAllowed(faint, 'solid'));
  assert.equal(typeFromModel(partSolidFirst, faint, 'ground-glass'), 'ground-glass');
  assert.equal(typeFromModel(partSolidFirst, cored, 'ground-glass'), 'part-solid');
  assert.equal(typeFromModel(partSolidFirst, faint, 'solid'), 'part-solid');
  assert.equal(modelTypeChange({ ...f.seg, type: 'ground-glass', typeEvidence: faint }, partSolidFirst), null);
});
