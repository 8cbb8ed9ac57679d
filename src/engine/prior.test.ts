import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { comparePriorCandidates, dicomDay, dicomSeconds, isEarlierStudy, priorEligibility, priorFactsOf, priorResultFrom } from './prior.ts';
import type { PriorSeriesFacts, StoredResultLike } from './prior.ts';
import { createRegistry, manifestProblems } from './registry.ts';
import { fakeHeader, rawManifest } from './test-fixtures.ts';

const facts = (o: Partial<PriorSeriesFacts> = {}): PriorSeriesFacts => ({
  studyInstanceUid: 'st-cur', seriesInstanceUid: 'se-cur', patientId: 'P1', issuerOfPatientId: undefined, studyDate: '20250301', studyTime: '101500',
  modality: 'CT', bodyPartExamined: 'CHEST', sliceThicknessMm: 1, instanceCount: 200, ...o,
});
const old = (o: Partial<PriorSeriesFacts> = {}) => facts({ studyInstanceUid: 'st-old', seriesInstanceUid: 'se-old', studyDate: '20240301', ...o });

test('DICOM DA/TM parsing', () => {
  assert.equal((dicomDay('20240302') ?? 0) - (dicomDay('20240228') ?? 0), 3, 'leap year');
  assert.equal(dicomDay('2024.03.02'), dicomDay('20240302'));
  assert.equal(dicomDay('2024030'), undefined);
  assert.equal(dicomDay(undefined), undefined);
  assert.equal(dicomSeconds('101500.5'), 10 * 3600 + 15 * 60 + 0.5);
  assert.equal(dicomSeconds('10'), 36000);
  assert.equal(dicomSeconds('10:15:00'), dicomSeconds('101500'));
  assert.equal(dicomSeconds('xx'), undefined);
});

test('earlier: an earlier date, or the same date with both times earlier; unknown order is not earlier', () => {
  assert.equal(isEarlierStudy({ studyDate: '20240101', studyTime: undefined }, { studyDate: '20240102', studyTime: undefined }), true);
  assert.equal(isEarlierStudy({ studyDate: '20240102', studyTime: '0800' }, { studyDate: '20240102', studyTime: '0900' }), true);
  assert.equal(isEarlierStudy({ studyDate: '20240102', studyTime: '0900' }, { studyDate: '20240102', studyTime: '0900' }), false);
  assert.equal(isEarlierStudy({ studyDate: '20240102', studyTime: undefined }, { studyDate: '20240102', studyTime: '0900' }), false);
  assert.equal(isEarlierStudy({ studyDate: '20240103', studyTime: '0100' }, { studyDate: '20240102', studyTime: '2300' }), false);
  assert.equal(isEarlierStudy({ studyDate: undefined, studyTime: undefined }, { studyDate: '20240102', studyTime: undefined }), false);
});

test('eligibility: same patient (PatientID and issuer), another study, earlier, same modality, minimum interval', () => {
  const cur = facts();
  assert.deepEqual(priorEligibility(cur, old(), {}), { ok: true });
  const no = (c: PriorSeriesFacts, req = {}, current = cur) => {
    const d = priorEligibility(current, c, req);
    return d.ok ? 'ok' : d.reason;
  };
  assert.match(no(old({ patientId: 'P2' })), /PatientID/);
  assert.match(no(old({ patientId: 'P1 ' })), /PatientID/, 'exact match only');
  assert.match(no(old(), {}, facts({ patientId: undefined })), /no PatientID/);
  assert.match(no(old({ patientId: undefined }), {}, facts({ patientId: undefined })), /no PatientID/, 'two unknown patients are not the same patient');
  assert.match(no(old({ issuerOfPatientId: 'HOSP-B' }), {}, facts({ issuerOfPatientId: 'HOSP-A' })), /Issuer/);
  assert.match(no(old({ issuerOfPatientId: undefined }), {}, facts({ issuerOfPatientId: 'HOSP-A' })), /Issuer/);
  assert.equal(no(old({ issuerOfPatientId: 'HOSP-A' }), {}, facts({ issuerOfPatientId: 'HOSP-A' })), 'ok');
  assert.match(no(old({ studyInstanceUid: 'st-cur' })), /same study/);
  assert.match(no(old({ studyDate: '20250302' })), /not before/);
  assert.match(no(old({ modality: 'MR' })), /modality/);
  assert.equal(no(old({ modality: 'PT' }), { sameModality: false }), 'ok');
  assert.match(no(old({ studyDate: '20250301', studyTime: '080000' }), { minIntervalDays: 1 }), /fewer than 1/);
  assert.equal(no(old({ studyDate: '20250301', studyTime: '080000' })), 'ok', 'same day, earlier time: earlier when no interval is asked');
});

test('ranking: most recent study, then same body part, closest thickness, most images', () => {
  const cur = facts({ sliceThicknessMm: 1.25 });
  const sorted = (xs: PriorSeriesFacts[]) => [...xs].sort(comparePriorCandidates(cur)).map((x) => x.seriesInstanceUid);
  assert.deepEqual(sorted([old({ seriesInstanceUid: 'older', studyDate: '20230101' }), old({ seriesInstanceUid: 'newer' })]), ['newer', 'older']);
  assert.deepEqual(sorted([old({ seriesInstanceUid: 'abd', bodyPartExamined: 'ABDOMEN' }), old({ seriesInstanceUid: 'chest' })]), ['chest', 'abd']);
  assert.deepEqual(sorted([old({ seriesInstanceUid: 't5', sliceThicknessMm: 5 }), old({ seriesInstanceUid: 't1', sliceThicknessMm: 1 }), old({ seriesInstanceUid: 'tx', sliceThicknessMm: undefined })]), ['t1', 't5', 'tx']);
  assert.deepEqual(sorted([old({ seriesInstanceUid: 'few', instanceCount: 10 }), old({ seriesInstanceUid: 'many', instanceCount: 300 })]), ['many', 'few']);
});

test('facts from a header: PatientID, issuer, dates, body part', () => {
  const f = priorFactsOf(fakeHeader({ bodyPartExamined: 'chest ', attributes: { PatientID: ' P9 ', IssuerOfPatientID: 'H', StudyDate: '20240101', StudyTime: ['0930'] } }));
  assert.deepEqual([f.patientId, f.issuerOfPatientId, f.studyDate, f.studyTime, f.bodyPartExamined], ['P9', 'H', '20240101', '0930', 'CHEST']);
});

test('stored prior result: only the same analysis id AND version, ok, on that series', () => {
  const doc = (version = '1.0.0') => ({ analysis: 'a-test', version, findings: [{ id: 'n1', kind: 'x', centerMm: [1, 2, 3], probability: 0.9 }], measurements: { k: 1 } });
  const rec = (o: Partial<StoredResultLike> = {}): StoredResultLike => ({ id: 'r1', analysisId: 'a-test', analysisVersion: '1.0.0', seriesInstanceUid: 'se-old', status: 'ok', createdAt: '2025-01-01T00:00:00Z', document: doc(), ...o });
  const a = { id: 'a-test', version: '1.0.0' };
  const got = priorResultFrom([rec()], a, 'se-old');
  assert.equal(got?.resultId, 'r1');
  assert.equal(got?.findings.length, 1);
  assert.deepEqual(got?.measurements, { k: 1 });
  assert.equal(priorResultFrom([rec({ analysisVersion: '0.9.0', document: doc('0.9.0') })], a, 'se-old'), undefined, 'another version is analysed again');
  assert.equal(priorResultFrom([rec({ document: doc('0.9.0') })], a, 'se-old'), undefined, 'document of another version');
  assert.equal(priorResultFrom([rec({ status: 'failed' })], a, 'se-old'), undefined);
  assert.equal(priorResultFrom([rec({ analysisId: 'b-test' })], a, 'se-old'), undefined);
  assert.equal(priorResultFrom([rec()], a, 'se-other'), undefined);
  assert.equal(priorResultFrom([rec({ document: { analysis: 'a-test', version: '1.0.0' } })], a, 'se-old'), undefined, 'no findings list');
  assert.equal(priorResultFrom([rec({ id: 'bad', status: 'skipped' }), rec({ id: 'good' })], a, 'se-old')?.resultId, 'good');
});

test('registry validates the manifest prior declaration (additive, optional)', () => {
  assert.deepEqual(manifestProblems(rawManifest({ prior: { sameModality: true, minIntervalDays: 1 } })), []);
  assert.deepEqual(manifestProblems(rawManifest({ prior: {} })), []);
  for (const prior of [true, [], { sameModality: 'yes' }, { minIntervalDays: -1 }, { minIntervalDays: 1.5 }, { anyModality: true }]) {
    assert.throws(() => createRegistry([rawManifest({ prior })]), (e) => isSrError(e, 'MANIFEST_INVALID'), JSON.stringify(prior));
  }
});
