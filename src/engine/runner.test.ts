import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SrError } from '../core/errors.ts';
import { findingsDocumentProblems } from './findings.ts';
import { createRegistry } from './registry.ts';
import { runAnalyses } from './runner.ts';
import type { ProgressEvent } from './runner.ts';
import type { Finding } from './types.ts';
import { fakeHeader, fakeManifest, fakeSeriesInput, fakeSeriesVolume } from './test-fixtures.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('accept, header skip, pixel skip, throw and timeout each become one result with the right status', async () => {
  const registry = createRegistry([
    fakeManifest({ id: 'good' }),
    fakeManifest({ id: 'picky', accepts: () => ({ accept: false, reason: 'needs thin slices' }) }),
    fakeManifest({ id: 'mr-only', modalities: ['MR'] }),
    fakeManifest({ id: 'pixels-say-no', run: async () => ({ skipped: { reason: 'no lungs in field of view' }, findings: [], measurements: {} }) }),
    fakeManifest({ id: 'thrower', run: async () => { throw new Error('boom'); } }),
    fakeManifest({ id: 'coded-thrower', run: async () => { throw new SrError('SERIES_MISSING_SLICES', 'gap at k=3'); } }),
    fakeManifest({
      id: 'slow',
      run: async ({ signal }) => {
        await sleep(400);
        assert.ok(signal.aborted);
        return { findings: [], measurements: {} };
      },
    }),
  ]);
  const series = fakeSeriesInput();
  const { document, counts } = await runAnalyses({ registry, series: [series], timeoutMs: 100 });

  const byId = new Map(document.analyses.map((r) => [r.analysis, r]));
  assert.equal(byId.get('good')?.status, 'ok');
  assert.equal(byId.get('good')?.findings.length, 1);
  assert.equal(byId.get('good')?.findings[0]?.['diameterMm'], 4);
  assert.deepEqual(byId.get('picky'), { ...byId.get('picky'), status: 'skipped', reason: 'needs thin slices' });
  assert.match(byId.get('mr-only')?.reason ?? '', /modality CT/);
  assert.equal(byId.get('pixels-say-no')?.status, 'skipped');
  assert.equal(byId.get('thrower')?.error?.code, 'ANALYSIS_FAILED');
  assert.equal(byId.get('coded-thrower')?.error?.code, 'SERIES_MISSING_SLICES');
  assert.equal(byId.get('slow')?.status, 'failed');
  assert.equal(byId.get('slow')?.error?.code, 'ANALYSIS_TIMEOUT');
  assert.deepEqual(counts, { ok: 1, skipped: 3, failed: 3 });
  assert.deepEqual(document.errors.map((e) => e.code).sort(), ['ANALYSIS_FAILED', 'ANALYSIS_TIMEOUT', 'SERIES_MISSING_SLICES']);
  // Loaded once for the five analyses that accepted the series.
  assert.equal(series.loads, 1);
  assert.deepEqual(findingsDocumentProblems(document), []);
  const prov = byId.get('good')?.provenance;
  assert.equal(prov?.analysis.id, 'good');
  assert.equal(prov?.inputSeriesInstanceUid, series.header.seriesInstanceUid);
  assert.ok((prov?.timingsMs.run ?? -1) >= 0 && prov?.timingsMs.steps?.['measure'] !== undefined);
});

test('a series nobody accepts is never loaded; a load failure fails only its analyses', async () => {
  const registry = createRegistry([fakeManifest({ id: 'a' }), fakeManifest({ id: 'b' })]);
  const mr = fakeSeriesInput(fakeHeader({ modality: 'MR', seriesInstanceUid: '1.2.3.1' }));
  const broken = fakeSeriesInput(fakeHeader({ seriesInstanceUid: '1.2.3.2' }), async () => {
    throw new SrError('SERIES_NONUNIFORM_SPACING', 'spacing varies');
  });
  const fine = fakeSeriesInput(fakeHeader({ seriesInstanceUid: '1.2.3.3' }));
  const { document, counts } = await runAnalyses({ registry, series: [mr, broken, fine] });
  assert.equal(mr.loads, 0);
  assert.equal(broken.loads, 1);
  assert.equal(fine.loads, 1);
  assert.deepEqual(counts, { ok: 2, skipped: 2, failed: 2 });
  assert.ok(document.analyses.filter((r) => r.seriesInstanceUid === '1.2.3.2').every((r) => r.error?.code === 'SERIES_NONUNIFORM_SPACING'));
  assert.equal(document.series.length, 3);
});

test('output that breaks the contract fails that analysis with OUTPUT_INVALID', async () => {
  // Typed as Finding[] only to get past the compiler: these are what a JS plug-in could send at run time.
  const bad = (id: string, findings: unknown[]) => fakeManifest({ id, run: async () => ({ findings: findings as Finding[], measurements: {} }) });
  const registry = createRegistry([
    bad('nan-center', [{ id: 'x', kind: 'k', centerMm: [0, Number.NaN, 0], probability: 0.5 }]),
    bad('prob-above-one', [{ id: 'x', kind: 'k', centerMm: [0, 0, 0], probability: 1.5 }]),
    bad('dup-ids', [{ id: 'x', kind: 'k', centerMm: [0, 0, 0], probability: 0.5 }, { id: 'x', kind: 'k', centerMm: [1, 0, 0], probability: 0.5 }]),
    bad('no-kind', [{ id: 'x', centerMm: [0, 0, 0], probability: 0.5 }]),
    bad('label-without-map', [{ id: 'x', kind: 'k', centerMm: [0, 0, 0], probability: 0.5, label: 1 }]),
  ]);
  const { document, counts } = await runAnalyses({ registry, series: [fakeSeriesInput()] });
  assert.equal(counts.failed, 5);
  for (const r of document.analyses) assert.equal(r.error?.code, 'OUTPUT_INVALID', r.analysis);
  assert.deepEqual(findingsDocumentProblems(document), []);
});

test('label maps go to the injected sink and are referenced; a mask of the wrong size is rejected', async () => {
  const vol = fakeSeriesVolume();
  const withMask = (id: string, dims: [number, number, number]) =>
    fakeManifest({
      id,
      run: async () => ({
        findings: [{ id: 'n1', kind: 'blob', centerMm: [1, 2, 3], probability: 0.9, label: 1 }],
        measurements: {},
        labelMap: { mask: { ...vol.volume, dims, data: new Uint8Array(dims[0] * dims[1] * dims[2]) }, labels: { 1: 'blob n1' } },
      }),
    });
  const saved: string[] = [];
  const { document } = await runAnalyses({
    registry: createRegistry([withMask('masker', [8, 8, 4]), withMask('wrong-size', [8, 8, 3])]),
    series: [fakeSeriesInput(fakeHeader(), async () => vol)],
    saveLabelMap: async (t, lm) => {
      saved.push(t.analysis);
      return { path: `${t.analysis}/${t.seriesInstanceUid}.labels.nii.gz`, format: 'nifti-1+gzip', labels: Object.fromEntries(Object.entries(lm.labels)) };
    },
  });
  assert.deepEqual(saved, ['masker']);
  const [ok, wrong] = document.analyses;
  assert.equal(ok?.labelMap?.path, `masker/${fakeHeader().seriesInstanceUid}.labels.nii.gz`);
  assert.equal(wrong?.error?.code, 'OUTPUT_INVALID');
});

test('progress is monotonic, ends at 1, and cancelling fails the rest with ANALYSIS_CANCELLED', async () => {
  const ac = new AbortController();
  const events: ProgressEvent[] = [];
  const registry = createRegistry([
    fakeManifest({ id: 'first', steps: ['a', 'b'], run: async ({ progress }) => { progress('a', 0.2); progress('b', 0.9); return { findings: [], measurements: {} }; } }),
    fakeManifest({ id: 'canceller', run: async ({ signal }) => { ac.abort(); await sleep(200); assert.ok(signal.aborted); return { findings: [], measurements: {} }; } }),
  ]);
  const { document } = await runAnalyses({
    registry,
    series: [fakeSeriesInput(), fakeSeriesInput(fakeHeader({ seriesInstanceUid: '9.9' }))],
    onProgress: (e) => events.push(e),
    signal: ac.signal,
  });
  const fractions = events.map((e) => e.fraction);
  assert.ok(fractions.every((f, i) => i === 0 || f >= (fractions[i - 1] ?? 0)), fractions.join(','));
  assert.equal(fractions.at(-1), 1);
  assert.equal(events.at(-1)?.phase, 'done');
  const statuses = document.analyses.map((r) => `${r.analysis}:${r.status}:${r.error?.code ?? ''}`);
  assert.deepEqual(statuses, ['first:ok:', 'canceller:failed:ANALYSIS_CANCELLED', 'first:failed:ANALYSIS_CANCELLED', 'canceller:failed:ANALYSIS_CANCELLED']);
});

test('accepts() that throws fails without running', async () => {
  let ran = false;
  const registry = createRegistry([fakeManifest({ accepts: () => { throw new Error('bad header logic'); }, run: async () => { ran = true; return { findings: [], measurements: {} }; } })]);
  const series = fakeSeriesInput();
  const { document } = await runAnalyses({ registry, series: [series] });
  assert.equal(document.analyses[0]?.status, 'failed');
  assert.equal(ran, false);
  assert.equal(series.loads, 0);
});
