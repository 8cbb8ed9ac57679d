import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../core/index.ts';
import { ANALYSIS_API_VERSION } from '../../engine/types.ts';
import type { AnalysisContext, AnalysisManifest, Finding, PriorResult, SeriesHeader, SeriesVolume } from '../../engine/types.ts';
import type { Int16Volume } from '../../imaging/index.ts';
import { generateFollowUpPair } from '../../../eval/phantoms/followup.ts';
import type { FollowUpNoduleState } from '../../../eval/phantoms/followup.ts';
import { withFollowUp } from './followup-manifest.ts';

// A small phantom pair (tuning-style string seed): real anatomy for the lung masks and the registration.
const pair = generateFollowUpPair({ seed: 'followup-manifest-test', dims: [96, 96, 72], spacingMm: [3.4, 3.4, 3], sliceThicknessMm: 3, noduleCount: 4, noduleDiameterRangeMm: [9, 18], maxRotationDeg: 1, maxTranslationMm: 4 });
const t = pair.truth;

function nodule(id: string, s: FollowUpNoduleState): Finding {
  return { id, kind: 'lung-nodule', centerMm: s.centerMm, probability: 0.95, noduleType: 'solid', measurements: { meanDiameterMm: s.diameterMm, volumeMm3: s.volumeMm3 } };
}
const currentFindings = t.nodules.flatMap((n) => (n.current ? [nodule(`c-${n.id}`, n.current)] : []));
const priorFindings = t.nodules.flatMap((n) => (n.prior ? [nodule(`p-${n.id}`, n.prior)] : []));

const header = (which: 'prior' | 'current'): SeriesHeader => ({
  studyInstanceUid: `st-${which}`, seriesInstanceUid: `se-${which}`, modality: 'CT', seriesDescription: undefined, bodyPartExamined: 'CHEST',
  sliceThicknessMm: 3, imageType: [], instanceCount: 72, patientAgeYears: undefined, patientSex: undefined, contrastAgent: undefined,
  attributes: { PatientID: t.patientId, StudyDate: which === 'prior' ? t.priorStudyDate : t.currentStudyDate },
});
const series = (v: Int16Volume): SeriesVolume => ({ volume: v, sliceSopInstanceUids: [], frameOfReferenceUid: undefined, notes: [] });

/** A fake detector that knows the truth: it returns the truth nodules of whichever scan it is given, and counts. */
function fakeDetector(): AnalysisManifest & { runs: string[] } {
  const runs: string[] = [];
  return {
    runs, apiVersion: ANALYSIS_API_VERSION, id: 'fake-chest', version: '2.0.0', title: 't', intendedUse: 'test', modalities: ['CT'],
    resources: { memoryMb: 1, threads: 1 }, steps: ['detect'], accepts: () => ({ accept: true }),
    run: async (ctx) => {
      runs.push(ctx.header.seriesInstanceUid);
      return { findings: ctx.header.seriesInstanceUid === 'se-prior' ? priorFindings : currentFindings, measurements: {} };
    },
  };
}

function ctxWith(result?: PriorResult): AnalysisContext {
  return {
    header: header('current'), series: series(pair.current), log: silentLogger, progress: () => undefined, signal: new AbortController().signal,
    prior: { header: header('prior'), loadVolume: async () => series(pair.prior), ...(result ? { result } : {}) },
  };
}

const stored = (version: string): PriorResult => ({
  analysisId: 'fake-chest', analysisVersion: version, resultId: 'result-1', createdAt: '2025-01-01T00:00:00Z',
  // A stored follow-up result of the prior carries 'resolved' placeholders of ITS prior: they must not count.
  findings: [...priorFindings, { id: 'resolved-old', kind: 'lung-nodule', centerMm: [0, 0, 0], probability: 0, status: 'resolved' }], measurements: {},
});

test('withFollowUp declares a prior request for servers; id, version unchanged', () => {
  const base = fakeDetector();
  const m = withFollowUp(base);
  assert.deepEqual(m.prior, { sameModality: true, minIntervalDays: 1 });
  assert.equal(m.id, base.id);
  assert.equal(m.version, base.version);
});

test('a stored result of the same analysis and version on the prior is reused: the detector runs on the current scan only, same pairs', async () => {
  const reusedBase = fakeDetector();
  const reused = await withFollowUp(reusedBase).run(ctxWith(stored('2.0.0')));
  assert.deepEqual(reusedBase.runs, ['se-current'], 'the prior was not analysed');
  const fu = reused.measurements['followUp'] as { compared: boolean; prior: { source: string; resultId: string | null; findings: number }; counts: Record<string, number> };
  assert.equal(fu.compared, true);
  assert.equal(fu.prior.source, 'stored-result');
  assert.equal(fu.prior.resultId, 'result-1');
  assert.equal(fu.prior.findings, priorFindings.length, 'the resolved placeholder of the stored result is not a prior nodule');

  // The same comparison with the prior analysed again (CLI path): same statuses, the detector ran twice.
  const analysedBase = fakeDetector();
  const analysed = await withFollowUp(analysedBase).run(ctxWith());
  assert.deepEqual(analysedBase.runs, ['se-current', 'se-prior']);
  const fu2 = analysed.measurements['followUp'] as typeof fu;
  assert.equal(fu2.prior.source, 'analysed');
  assert.equal(fu2.prior.resultId, null);
  assert.deepEqual(fu.counts, fu2.counts);
  const statuses = (out: typeof reused) => out.findings.map((f) => [f.id, f['status'], f['priorFindingId'] ?? null]);
  assert.deepEqual(statuses(reused), statuses(analysed));
  // And they are the truth's fates (the fake detector is perfect; registration and pairing are real).
  for (const n of t.nodules) {
    if (!n.current) continue;
    const f = reused.findings.find((x) => x.id === `c-${n.id}`);
    assert.equal(f?.['status'], n.expectedStatus, n.id);
  }
});

test('a stored result of another version is not reused: the prior is analysed again', async () => {
  const base = fakeDetector();
  const out = await withFollowUp(base).run(ctxWith(stored('1.9.0')));
  assert.deepEqual(base.runs, ['se-current', 'se-prior']);
  assert.equal((out.measurements['followUp'] as { prior: { source: string } }).prior.source, 'analysed');
});
