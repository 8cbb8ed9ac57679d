import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffMs, isPermanentError, normalizeSpec, rowToRecord, type JobRow } from './policy.ts';

test('backoff doubles from retryDelayMs: 5 s, 10 s, 20 s', () => {
  assert.deepEqual([1, 2, 3].map((a) => backoffMs(5_000, a)), [5_000, 10_000, 20_000]);
  assert.equal(backoffMs(0, 4), 0);
});

test('permanent errors: bad data, bad manifest, cancel, timeout; transient: I/O, archive, lost worker, decode thread crash', () => {
  for (const c of ['DICOM_MALFORMED', 'SERIES_MISSING_SLICES', 'VOLUME_INVALID', 'MANIFEST_INVALID', 'ANALYSIS_CANCELLED', 'ANALYSIS_TIMEOUT'] as const) {
    assert.equal(isPermanentError(c), true, c);
  }
  for (const c of ['ANALYSIS_FAILED', 'IO_ERROR', 'ARCHIVE_UNAVAILABLE', 'JOB_LOST', 'DICOM_WORKER_FAILED', 'DIMSE_TIMEOUT'] as const) {
    assert.equal(isPermanentError(c), false, c);
  }
});

test('normalizeSpec applies defaults and rejects nonsense with JOB_INVALID_SPEC', () => {
  const base = { analysisId: 'a', analysisVersion: '1', studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', trigger: 'auto' as const };
  const n = normalizeSpec(base, { timeoutMs: 60_000 });
  assert.equal(n.maxAttempts, 3);
  assert.equal(n.retryDelayMs, 5_000);
  assert.equal(n.timeoutMs, 60_000);
  assert.equal(n.force, false);
  assert.throws(() => normalizeSpec({ ...base, timeoutMs: 0 }), { code: 'JOB_INVALID_SPEC' });
  assert.throws(() => normalizeSpec({ ...base, maxAttempts: 1.5 }), { code: 'JOB_INVALID_SPEC' });
  assert.throws(() => normalizeSpec({ ...base, trigger: 'cron' as 'auto' }), { code: 'JOB_INVALID_SPEC' });
});

test('a stored error code this version does not know reads as ANALYSIS_FAILED, message kept', () => {
  const row: JobRow = {
    id: 'j', analysis_id: 'a', analysis_version: '1', study_instance_uid: '1.2', series_instance_uid: '1.2.3', trigger: 'auto',
    state: 'failed', progress: 0.5, progress_message: null, attempts: 1, max_attempts: 3, retry_delay_ms: 0, timeout_ms: 1000,
    error_code: 'FROM_THE_FUTURE', error_message: 'new', result_id: null, worker: 'h:1',
    created_at: new Date('2026-01-01T00:00:00Z'), started_at: null, finished_at: null,
  };
  const r = rowToRecord(row);
  assert.deepEqual(r.error, { code: 'ANALYSIS_FAILED', message: 'new' });
  assert.equal(r.createdAt, '2026-01-01T00:00:00.000Z');
  assert.throws(() => rowToRecord({ ...row, state: 'weird' }), { code: 'JOB_QUEUE_UNAVAILABLE' });
});
