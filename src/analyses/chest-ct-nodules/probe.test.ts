import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Vec3 } from '../../imaging/index.ts';
import { segmentLungs } from './lung-segmentation.ts';
import { paintLabels } from './pipeline.ts';
import { probeGateMm, probeNodules } from './probe.ts';
import { buildScene } from './test-scene.ts';

const scene = buildScene();
const lungs = segmentLungs(scene.vol);
const dist = (a: Vec3, b: Vec3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

test('a probe 2 mm off a solid 8 mm nodule (a registration residual) finds it: centre within 1.5 mm, its size, a probability of its own', () => {
  const seed: Vec3 = [scene.solid.c[0] + 1.2, scene.solid.c[1] - 1.2, scene.solid.c[2] + 1];
  const [n] = probeNodules(scene.vol, lungs, [{ lps: seed, radiusMm: 4 }]);
  assert.ok(n, 'nothing found at the nodule');
  assert.ok(dist(n.centerMm, scene.solid.c) < 1.5, `centre ${n.centerMm.map((x) => x.toFixed(1)).join(',')} vs ${scene.solid.c.map((x) => x.toFixed(1)).join(',')}`);
  assert.ok(Math.abs(n.measures.axes.meanDiameterMm - scene.solid.d) < 1.5, `diameter ${n.measures.axes.meanDiameterMm.toFixed(1)} vs ${scene.solid.d.toFixed(1)}`);
  assert.equal(n.seg.type, 'solid');
  assert.equal(n.stage, 'fine');
  assert.ok(n.probability > 0 && n.probability <= 1);
});

test('a probe at the juxtapleural nodule finds it; probes outside the lungs find nothing; one result per seed, in order', () => {
  const outside: Vec3 = [0, scene.solid.c[1] + 200, scene.solid.c[2]];
  const res = probeNodules(scene.vol, lungs, [{ lps: outside, radiusMm: 4 }, { lps: scene.juxta.c, radiusMm: 5 }]);
  assert.equal(res.length, 2);
  assert.equal(res[0], null);
  assert.ok(res[1], 'juxtapleural nodule not found');
  assert.ok(dist(res[1].centerMm, scene.juxta.c) <= probeGateMm(5));
  assert.deepEqual(probeNodules(scene.vol, lungs, []), []);
});

test('paintLabels into an existing label map paints only unlabelled voxels (a probed nodule never overwrites the analysis\'s own mask)', () => {
  const [n] = probeNodules(scene.vol, lungs, [{ lps: scene.solid.c, radiusMm: 4 }]);
  assert.ok(n);
  const first = paintLabels(scene.vol, [{ seg: n.seg, label: 1 }]);
  const count = (m: typeof first, v: number) => m.data.reduce((s, x) => s + (x === v ? 1 : 0), 0);
  const ones = count(first, 1);
  assert.ok(ones > 20, `${ones} voxels`);
  const again = paintLabels(scene.vol, [{ seg: n.seg, label: 2 }], first);
  assert.equal(again, first, 'painted in place');
  assert.equal(count(again, 1), ones);
  assert.equal(count(again, 2), 0);
});
