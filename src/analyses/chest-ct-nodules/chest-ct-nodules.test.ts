/** End-to-end checks on the small synthetic chest of test-scene.ts (lung truth = the analytic lung shapes). */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume, crop, dilate, lpsToIjk, voxelCount, withData } from '../../imaging/index.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { silentLogger } from '../../core/log.ts';
import type { AnalysisOutput, Finding, SeriesHeader } from '../../engine/types.ts';
import { buildScene } from './test-scene.ts';
import type { Scene } from './test-scene.ts';
import { chestCtNodules } from './manifest.ts';
import { segmentLungs } from './lung-segmentation.ts';
import { insideMask } from '../../imaging/index.ts';
import { COARSE_PROBABILITY_CAP, cutByScanEdgeMm, nearMask, runPipeline } from './pipeline.ts';
import type { LungSegmentation } from './lung-segmentation.ts';

const header: SeriesHeader = {
  studyInstanceUid: '1.2.826.0.1.3680043.8.498.7', seriesInstanceUid: '1.2.826.0.1.3680043.8.498.7.1', modality: 'CT',
  seriesDescription: 'test chest', bodyPartExamined: 'CHEST', sliceThicknessMm: 2, imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
  instanceCount: 80, patientAgeYears: 64, patientSex: 'F', contrastAgent: undefined, attributes: {},
};

let scene: Scene;
let lungs: LungSegmentation;
let out: AnalysisOutput;

before(async () => {
  scene = buildScene();
  lungs = segmentLungs(scene.vol);
  out = await chestCtNodules.run({
    header, log: silentLogger, progress: () => undefined, signal: new AbortController().signal,
    series: { volume: scene.vol, sliceSopInstanceUids: [], frameOfReferenceUid: undefined, notes: [] },
  });
});

test('accepts CT ≤ 3 mm and rejects thick slices and other modalities from the header', () => {
  assert.equal(chestCtNodules.accepts(header).accept, true);
  assert.equal(chestCtNodules.accepts({ ...header, sliceThicknessMm: 5 }).accept, false);
  assert.equal(chestCtNodules.accepts({ ...header, modality: 'MR' }).accept, false);
  // A missing BodyPartExamined does not reject: the lungs are looked for in the pixels.
  assert.equal(chestCtNodules.accepts({ ...header, bodyPartExamined: undefined }).accept, true);
});

test('lung volumes per side within 8 % of the analytic lungs', () => {
  for (const side of ['left', 'right'] as const) {
    const got = lungs.volumesMl[side], want = scene.lungTruthMl[side];
    assert.ok(Math.abs(got - want) / want < 0.08, `${side}: ${got.toFixed(0)} mL vs truth ${want.toFixed(0)} mL`);
  }
  const m = out.measurements['lungVolumeMl'] as { left: number; right: number };
  assert.ok(m.left > 0 && m.right > 0);
});

test('the juxtapleural nodule is inside the lung mask (centre, and all of it within one coarse voxel)', () => {
  const lab = lungs.labels;
  // The lung mask lives on a 2 mm grid and the segmentation reads it widened by 1.5 mm (segment-nodule.ts):
  // check against the mask widened by one coarse voxel, and the plain mask at the centre.
  const wide = dilate(withData(lab, Uint8Array.from(lab.data, (x) => (x !== 0 ? 1 : 0))), { radiusMm: 2 });
  const [nx, ny] = lab.dims;
  let inside = 0, total = 0;
  const b = scene.juxta.shape.bbox;
  for (let z = b.min[2]; z <= b.max[2]; z += 0.5) for (let y = b.min[1]; y <= b.max[1]; y += 0.5) for (let x = b.min[0]; x <= b.max[0]; x += 0.5) {
    if (scene.juxta.shape.sdf(x, y, z) >= -0.5) continue;
    total++;
    const q = lpsToIjk(lab, [x, y, z]).map(Math.round) as Vec3;
    if (wide.data[q[0] + q[1] * nx + q[2] * nx * ny] !== 0) inside++;
  }
  assert.ok(total > 0);
  const qc = lpsToIjk(lab, scene.juxta.c).map(Math.round) as Vec3;
  assert.notEqual(lab.data[qc[0] + qc[1] * nx + qc[2] * nx * ny], 0, 'centre in the lung mask');
  assert.ok(inside / total > 0.97, `only ${((100 * inside) / total).toFixed(0)} % of the juxtapleural nodule is in the lung mask`);
});

function nearest(findings: readonly Finding[], c: Vec3): { f: Finding; d: number } | undefined {
  return findings.map((f) => ({ f, d: Math.hypot(f.centerMm[0] - c[0], f.centerMm[1] - c[1], f.centerMm[2] - c[2]) })).sort((a, b) => a.d - b.d)[0];
}

test('the solid 8 mm nodule is found: centre within its radius, mean diameter within 1 mm, solid', () => {
  assert.equal(out.skipped, undefined);
  const hit = nearest(out.findings, scene.solid.c);
  assert.ok(hit && hit.d < scene.solid.d / 2, `nearest finding at ${hit?.d.toFixed(1)} mm`);
  const dia = hit.f['diameterMm'] as number;
  assert.ok(Math.abs(dia - scene.solid.d) <= 1, `diameter ${dia} vs ${scene.solid.d.toFixed(2)}`);
  assert.equal(hit.f['noduleType'], 'solid');
  assert.ok(hit.f.probability >= 0.5, `probability ${hit.f.probability}`);
  assert.ok((hit.f.reasons ?? []).length > 0);
});

test('the juxtapleural nodule is found', () => {
  const hit = nearest(out.findings, scene.juxta.c);
  assert.ok(hit && hit.d < 5, `nearest finding at ${hit?.d.toFixed(1)} mm`);
});

test('vessel-only lung yields no high-probability finding', () => {
  const fps = out.findings.filter((f) => f.probability >= 0.5 && nearest([f], scene.solid.c)!.d > 6 && nearest([f], scene.juxta.c)!.d > 7);
  assert.deepEqual(fps.map((f) => `${f.id} p=${f.probability} at ${f.centerMm.join(',')}`), []);
});

test('study measurements: Lung-RADS with a driving nodule, Brock per nodule, Fleischner, step times, label map', () => {
  const lr = out.measurements['lungRads'] as { category: string; drivingFindingId: string | null };
  assert.ok(lr.drivingFindingId !== null, 'a driving nodule');
  const brock = out.measurements['brock'] as { perNodule: Record<string, { probability: number }>; assumptions: string[] };
  assert.ok(Object.keys(brock.perNodule).length >= 1);
  assert.ok(brock.assumptions.some((a) => a.includes('family history')));
  assert.ok(out.measurements['fleischner']);
  assert.ok(out.stepTimesMs && Object.keys(out.stepTimesMs).includes('lung-segmentation'));
  assert.ok(out.labelMap, 'a label map');
  assert.deepEqual(out.labelMap.mask.dims, scene.vol.dims);
  for (const f of out.findings) if (f.label !== undefined) assert.ok(String(f.label) in out.labelMap.labels);
});

test('a volume without aerated lung is skipped by the pixel check', async () => {
  const dims: Vec3 = [64, 64, 20];
  const data = new Int16Array(voxelCount(dims)).fill(30);
  const vol = createVolume(data, { dims, spacing: [1, 1, 2] });
  const res = await chestCtNodules.run({
    header, log: silentLogger, progress: () => undefined, signal: new AbortController().signal,
    series: { volume: vol, sliceSopInstanceUids: [], frameOfReferenceUid: undefined, notes: [] },
  });
  assert.ok(res.skipped, 'skipped');
  assert.equal(res.findings.length, 0);
});

test('two-stage budget: fine segmentations up to the budget, the rest coarse and capped below the display threshold', () => {
  const res = runPipeline(scene.vol, { fineCandidates: 3, coarseCandidates: 5 });
  const fine = res.nodules.filter((n) => n.stage === 'fine'), coarse = res.nodules.filter((n) => n.stage === 'coarse');
  assert.ok(fine.length <= 3 && coarse.length <= 5, `${fine.length} fine, ${coarse.length} coarse`);
  assert.ok(coarse.every((n) => n.probability <= COARSE_PROBABILITY_CAP && n.probability === Math.min(COARSE_PROBABILITY_CAP, n.firstStage)));
  assert.ok(res.candidates.length >= res.nodules.length && res.candidates.every((c) => c.p1 >= 0 && c.p1 <= 1));
  // No two reported nodules share a centre inside the other's mask.
  for (const a of res.nodules) for (const b of res.nodules) if (a !== b) assert.ok(!insideMask(a.seg.mask, b.centerMm));
});

test('nearMask: a point within the radius of a mask voxel (mm, anisotropic grid), not beyond it', () => {
  const dims: Vec3 = [20, 20, 10];
  const data = new Uint8Array(dims[0] * dims[1] * dims[2]);
  data[10 + 10 * 20 + 5 * 400] = 1; // voxel (10, 10, 5) at (10, 10, 10) mm with spacing [1, 1, 2]
  const mask = createVolume(data, { dims, spacing: [1, 1, 2] });
  assert.equal(nearMask(mask, [10, 10, 10], 0), true);
  assert.equal(nearMask(mask, [10, 13, 10], 0), false);
  assert.equal(nearMask(mask, [10, 13, 10], 3.5), true);
  assert.equal(nearMask(mask, [10, 13, 10], 2.5), false);
  // 4 mm through-plane is two slices: found at 4.5 mm, not at 3.5 mm.
  assert.equal(nearMask(mask, [10, 10, 14], 4.5), true);
  assert.equal(nearMask(mask, [10, 10, 14], 3.5), false);
});

test('a nodule cut through its middle by the last slice of the scan is held below the display threshold; whole, it is not', () => {
  const dist = (a: Vec3, b: Vec3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  const nearest = (nodules: ReturnType<typeof runPipeline>['nodules']) => nodules.filter((n) => dist(n.centerMm, scene.solid.c) < 6).sort((a, b) => b.probability - a.probability)[0];
  const kc = Math.round(lpsToIjk(scene.vol, scene.solid.c)[2]);
  // Whole: the free 8 mm nodule scores above the cap (so the cut below is what lowers it).
  const whole = nearest(runPipeline(scene.vol).nodules);
  assert.ok(whole && whole.probability > COARSE_PROBABILITY_CAP, `whole nodule p ${whole?.probability}`);
  assert.ok(cutByScanEdgeMm(scene.vol, whole.centerMm) > 10);
  // The scan ends on the nodule's central slice: half of it is outside the scanned range.
  const [nx, ny] = scene.vol.dims;
  const cut = crop(scene.vol, { start: [0, 0, 0], end: [nx, ny, kc + 1] });
  const half = nearest(runPipeline(cut).nodules);
  assert.ok(half, 'the cut nodule is still found');
  assert.ok(cutByScanEdgeMm(cut, half.centerMm) < 0.5 * half.measures.axes.meanDiameterMm);
  assert.ok(half.probability <= COARSE_PROBABILITY_CAP, `cut nodule p ${half.probability.toFixed(3)}`);
});
