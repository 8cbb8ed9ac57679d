import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { createRegistry, manifestProblems, validateManifest } from './registry.ts';
import { fakeManifest, rawManifest } from './test-fixtures.ts';

const code = (code: string) => (e: unknown) => isSrError(e) && e.code === code;

test('a valid manifest registers and is found by id', () => {
  const reg = createRegistry([fakeManifest(), fakeManifest({ id: 'other-one' })]);
  assert.deepEqual(reg.analyses.map((m) => m.id), ['test-analysis', 'other-one']);
  assert.equal(reg.get('other-one')?.id, 'other-one');
  assert.equal(reg.get('nope'), undefined);
  assert.ok(Object.isFrozen(reg.analyses));
});

test('bad ids are MANIFEST_INVALID', () => {
  for (const id of ['Chest', 'chest_ct', 'chest--ct', '-chest', 'chest-', '1chest', '', 42]) {
    assert.throws(() => createRegistry([rawManifest({ id })]), code('MANIFEST_INVALID'), `id ${String(id)}`);
  }
  for (const id of ['chest', 'chest-ct-nodules', 'head-ct2']) assert.deepEqual(manifestProblems(rawManifest({ id })), []);
});

test('bad semver is MANIFEST_INVALID', () => {
  for (const version of ['1', '1.0', 'v1.0.0', '01.0.0', '1.0.0-', '1.0.0+', 1]) {
    assert.throws(() => validateManifest(rawManifest({ version })), code('MANIFEST_INVALID'), `version ${String(version)}`);
  }
  for (const version of ['0.1.0', '1.0.0-rc.1', '2.3.4+build.5', '10.20.30']) assert.deepEqual(manifestProblems(rawManifest({ version })), []);
});

test('wrong apiVersion, missing fields and non-functions are reported together', () => {
  const problems = manifestProblems(rawManifest({ apiVersion: 2, title: '', modalities: [], steps: ['a', 'a'], run: 'nope', resources: { memoryMb: 0, threads: 1.5 } }));
  assert.equal(problems.length, 7, problems.join('\n'));
  assert.throws(() => validateManifest(null), code('MANIFEST_INVALID'));
  assert.throws(() => validateManifest({ id: 'x' }), (e: unknown) => isSrError(e, 'MANIFEST_INVALID') && Array.isArray(e.details['problems']));
});

test('a duplicate id is ANALYSIS_DUPLICATE', () => {
  assert.throws(() => createRegistry([fakeManifest(), fakeManifest({ version: '2.0.0' })]), code('ANALYSIS_DUPLICATE'));
});

test('a display window, when given, must have a finite centre and a positive width', () => {
  assert.deepEqual(manifestProblems(rawManifest({ displayWindow: { center: -600, width: 1500 } })), []);
  for (const displayWindow of [{ center: 40, width: 0 }, { center: Number.NaN, width: 80 }, { width: 80 }, 'lung']) {
    assert.throws(() => validateManifest(rawManifest({ displayWindow })), code('MANIFEST_INVALID'), JSON.stringify(displayWindow));
  }
});
