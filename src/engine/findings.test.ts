import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError } from '../core/errors.ts';
import { analysisResultProblems, assertValidFindingsDocument, findingsDocumentProblems, writeFindingsFile } from './findings.ts';
import type { FindingsDocument } from './findings.ts';
import { createRegistry } from './registry.ts';
import { runAnalyses } from './runner.ts';
import { fakeManifest, fakeSeriesInput } from './test-fixtures.ts';

async function sampleDocument(): Promise<FindingsDocument> {
  const registry = createRegistry([fakeManifest(), fakeManifest({ id: 'never', accepts: () => ({ accept: false, reason: 'no' }) })]);
  return (await runAnalyses({ registry, series: [fakeSeriesInput()] })).document;
}

test('a runner document validates against docs/findings.schema.json', async () => {
  const doc = await sampleDocument();
  assert.deepEqual(findingsDocumentProblems(doc), []);
  assert.equal(doc.schemaVersion, 1);
  assert.match(doc.disclaimer, /not a diagnosis/);
});

test('broken documents are rejected with OUTPUT_INVALID', async () => {
  const doc = await sampleDocument();
  const [first, second] = doc.analyses;
  assert.ok(first && second);
  const broken: unknown[] = [
    { ...doc, schemaVersion: 2 },
    { ...doc, disclaimer: undefined },
    { ...doc, extra: true },
    { ...doc, analyses: [{ ...first, status: 'done' }] },
    { ...doc, analyses: [{ ...first, findings: [{ id: 'a', kind: 'k', centerMm: [1, 2], probability: 0.1 }] }] },
    { ...doc, analyses: [{ ...first, findings: [{ id: 'a', kind: 'k', centerMm: [1, 2, 3], probability: -0.1 }] }] },
    { ...doc, analyses: [{ ...second, reason: undefined }] }, // skipped needs a reason
    { ...doc, analyses: [{ ...first, status: 'failed', reason: 'x' }] }, // failed needs an error
    { ...doc, analyses: [{ ...first, version: '1.0' }] },
    { ...doc, createdAt: 'yesterday' },
  ];
  for (const [i, b] of broken.entries()) {
    assert.throws(() => assertValidFindingsDocument(b), (e: unknown) => isSrError(e, 'OUTPUT_INVALID'), `case ${i}`);
  }
  assert.notDeepEqual(analysisResultProblems({ ...first, findings: [{ id: 'a', kind: 'k', centerMm: [0, Number.NaN, 0], probability: 0.1 }] }), []);
});

test('writeFindingsFile writes valid JSON atomically and refuses an invalid document', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sr-findings-'));
  try {
    const doc = await sampleDocument();
    const path = join(dir, 'out', 'findings.json');
    await writeFindingsFile(path, doc);
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), JSON.parse(JSON.stringify(doc)));
    await assert.rejects(writeFindingsFile(path, { ...doc, analyses: [{ ...doc.analyses[0], status: 'nope' }] } as unknown as FindingsDocument), (e: unknown) => isSrError(e, 'OUTPUT_INVALID'));
    // The valid file is still there and no temp file was left behind.
    assert.deepEqual(await readdir(join(dir, 'out')), ['findings.json']);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).schemaVersion, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
