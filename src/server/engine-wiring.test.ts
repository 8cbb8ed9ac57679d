import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRegistry } from '../engine/index.ts';
import { routeSeries } from './engine-wiring.ts';
import { quickAnalysis } from './test-fixtures.ts';

test('routing rules: analyses, calling AE and modality all have to match; rules add up', () => {
  const a = quickAnalysis({ id: 'a-test' });
  const b = quickAnalysis({ id: 'b-test' });
  const registry = createRegistry([a, b]);
  const ids = (rules: Parameters<typeof routeSeries>[0], modality: string, sourceAe: string | null) => routeSeries(rules, registry, { modality, sourceAe }).map((m) => m.id);
  assert.deepEqual(ids([{ analyses: '*' }], 'CT', null), ['a-test', 'b-test']);
  assert.deepEqual(ids([{ analyses: '*' }], 'MR', null), [], 'an analysis never sees a modality it did not declare');
  assert.deepEqual(ids([{ analyses: ['b-test'], callingAe: ['CT1'] }], 'CT', 'CT1 '), ['b-test']);
  assert.deepEqual(ids([{ analyses: ['b-test'], callingAe: ['CT1'] }], 'CT', 'CT2'), []);
  assert.deepEqual(ids([{ analyses: ['b-test'], callingAe: ['CT1'] }], 'CT', null), []);
  assert.deepEqual(ids([{ analyses: ['a-test'], modalities: ['CT'] }, { analyses: ['b-test'], modalities: ['MR'] }], 'CT', null), ['a-test']);
  assert.deepEqual(ids([], 'CT', 'CT1'), [], 'no rule, no analysis');
});
