import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { ResultRecord } from '../../archive/index.ts';
import type { JobRecord } from '../../jobs/index.ts';
import { statusOf, triageOf } from './triage.ts';

function result(analysisId: string, findings: Record<string, unknown>[], measurements: Record<string, unknown>, status: ResultRecord['status'] = 'ok'): ResultRecord {
  return {
    id: `r-${analysisId}`, analysisId, analysisVersion: '1', studyInstanceUid: 's', seriesInstanceUid: 'se', status,
    document: { findings, measurements }, attachments: {}, createdAt: '2026-01-01T00:00:00Z', jobId: null,
  };
}

function job(over: Partial<JobRecord>): JobRecord {
  return {
    id: 'j', analysisId: 'a', analysisVersion: '1', studyInstanceUid: 's', seriesInstanceUid: 'se', trigger: 'auto', state: 'queued', progress: 0,
    progressMessage: null, attempts: 0, maxAttempts: 3, timeoutMs: 1000, error: null, resultId: null, worker: null, createdAt: '2026-01-01T00:00:00Z',
    startedAt: null, finishedAt: null, ...over,
  };
}

describe('worklist triage and AI status', () => {
  it('marks hemorrhage, mass effect and Lung-RADS 4B/4X critical, not 4A', () => {
    assert.deepEqual(triageOf([result('chest', [], { lungRads: { category: '4A' } })]), { critical: false, reasons: [] });
    assert.deepEqual(triageOf([result('chest', [], { lungRads: { category: '4B' } })]).reasons, ['Lung-RADS 4B']);
    assert.equal(triageOf([result('chest', [], { lungRads: { category: '4X' } })]).critical, true);
    assert.deepEqual(triageOf([result('head', [{ id: 'b', kind: 'hemorrhage', type: 'epidural' }], { massEffect: true, midlineShiftMm: 7 })]).reasons, ['hemorrhage (epidural)', 'midline shift 7 mm']);
    assert.equal(triageOf([result('head', [{ id: 'b', kind: 'hemorrhage' }], {}, 'skipped')]).critical, false);
  });

  it('shows the newest job per (analysis, series): running with progress, queued, failed without result, done', () => {
    assert.deepEqual(statusOf([], []), { status: 'none', progress: null, message: null });
    const running = statusOf([job({ state: 'running', progress: 0.42, progressMessage: 'blood' })], []);
    assert.deepEqual(running, { status: 'running', progress: 0.42, message: 'blood' });
    assert.equal(statusOf([job({ state: 'queued' })], []).status, 'queued');
    assert.equal(statusOf([job({ state: 'failed', error: { code: 'ANALYSIS_FAILED', message: 'boom' } })], []).status, 'failed');
    // An older failure under a newer success (newest first) is done.
    assert.equal(statusOf([job({ state: 'succeeded' }), job({ state: 'failed' })], [result('a', [], {})]).status, 'done');
  });
});
