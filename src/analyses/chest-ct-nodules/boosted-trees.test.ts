import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../core/random.ts';
import { fitTrees, treeLogit, treeProbability } from './boosted-trees.ts';
import type { TreeEnsembleModel } from './boosted-trees.ts';
import { fitLogistic, modelProbability } from './classify.ts';

/** "Small AND faint" is the positive class: an interaction a linear model cannot express. */
function andData(n: number, seed: number): { X: number[][]; y: number[] } {
  const rand = seededRandom(seed);
  const X: number[][] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = rand(), b = rand(), noise = rand();
    X.push([a, b, noise]);
    y.push(a < 0.4 && b < 0.4 ? 1 : 0);
  }
  return { X, y };
}

const accuracy = (p: (x: readonly number[]) => number, X: number[][], y: number[]) => X.filter((x, i) => (p(x) >= 0.5 ? 1 : 0) === y[i]).length / X.length;

test('boosted trees learn an interaction that a logistic regression cannot, on unseen rows', () => {
  const train = andData(2000, 1), test = andData(2000, 2);
  const trees: TreeEnsembleModel = { kind: 'trees', features: ['a', 'b', 'noise'], provenance: 'test', ...fitTrees(train.X, train.y, { rounds: 60, depth: 2, seed: 3 }) };
  const logistic = { features: ['a', 'b', 'noise'], provenance: 'test', ...fitLogistic(train.X, train.y, { l2: 1 }) };
  const accTrees = accuracy((x) => modelProbability(trees, x), test.X, test.y);
  const accLogistic = accuracy((x) => modelProbability(logistic, x), test.X, test.y);
  assert.ok(accTrees > 0.97, `trees ${accTrees}`);
  assert.ok(accTrees > accLogistic + 0.02, `trees ${accTrees} vs logistic ${accLogistic}`);
  // Probabilities are calibrated-ish: mean predicted ≈ base rate.
  const mean = test.X.reduce((s, x) => s + treeProbability(trees, x), 0) / test.X.length;
  const rate = test.y.reduce((s, v) => s + v, 0) / test.y.length;
  assert.ok(Math.abs(mean - rate) < 0.03, `mean p ${mean} vs rate ${rate}`);
});

test('boosted trees: deterministic per seed, splits never use a constant feature, non-finite values go right', () => {
  const { X, y } = andData(500, 4);
  const withConst = X.map((x) => [...x, 7]);
  const a = fitTrees(withConst, y, { rounds: 20, depth: 3, seed: 9 }), b = fitTrees(withConst, y, { rounds: 20, depth: 3, seed: 9 });
  assert.deepEqual(a, b);
  for (const t of a.trees) assert.ok(!t.f.includes(3), 'a constant feature offers no split');
  const m: TreeEnsembleModel = { kind: 'trees', features: [], provenance: '', base: 0, trees: [{ f: [0, -1, -1], t: [0.5, 0, 0], l: [1, -1, -1], r: [2, -1, -1], v: [0, -1, 2] }] };
  assert.equal(treeLogit(m, [0.2]), -1);
  assert.equal(treeLogit(m, [0.9]), 2);
  assert.equal(treeLogit(m, [Number.NaN]), 2);
});
