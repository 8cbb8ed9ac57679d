// Every row of Table 1 of the Fleischner Society 2017 guidelines (MacMahon et al., Radiology 2017;284:228–243).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { fleischnerRecommendation } from './fleischner.ts';
import type { FleischnerInput } from './fleischner.ts';

const rec = (x: Partial<FleischnerInput>): ReturnType<typeof fleischnerRecommendation> =>
  fleischnerRecommendation({ type: 'solid', sizeMm: 5, multiple: false, risk: 'low', ...x });
const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');

test('solid single < 6 mm: low → no routine follow-up; high → optional CT at 12 months', () => {
  const low = rec({ sizeMm: 5 });
  assert.equal(low.recommendation, 'No routine follow-up');
  assert.equal(low.followUp, null);
  assert.equal(low.row, 'solid, single, < 6 mm');
  const high = rec({ sizeMm: 5, risk: 'high' });
  assert.equal(high.recommendation, 'Optional CT at 12 months');
  assert.deepEqual(high.followUp, { minMonths: 12, maxMonths: 12 });
  assert.equal(high.followUpOptional, true);
});

test('solid single 6–8 mm: CT at 6–12 months, then (consider) 18–24 months', () => {
  const low = rec({ sizeMm: 7 });
  assert.equal(low.recommendation, 'CT at 6–12 months, then consider CT at 18–24 months');
  assert.deepEqual(low.followUp, { minMonths: 6, maxMonths: 12 });
  assert.equal(rec({ sizeMm: 7, risk: 'high' }).recommendation, 'CT at 6–12 months, then CT at 18–24 months');
});

test('solid single > 8 mm: consider CT at 3 months, PET/CT, or tissue sampling (both risks)', () => {
  for (const risk of ['low', 'high'] as const) {
    const r = rec({ sizeMm: 9, risk });
    assert.equal(r.recommendation, 'Consider CT at 3 months, PET/CT, or tissue sampling');
    assert.deepEqual(r.followUp, { minMonths: 3, maxMonths: 3 });
  }
});

test('solid multiple rows', () => {
  assert.equal(rec({ sizeMm: 5, multiple: true }).recommendation, 'No routine follow-up');
  assert.equal(rec({ sizeMm: 5, multiple: true, risk: 'high' }).recommendation, 'Optional CT at 12 months');
  assert.equal(rec({ sizeMm: 7, multiple: true }).recommendation, 'CT at 3–6 months, then consider CT at 18–24 months');
  assert.equal(rec({ sizeMm: 7, multiple: true, risk: 'high' }).recommendation, 'CT at 3–6 months, then at 18–24 months');
  for (const risk of ['low', 'high'] as const) {
    const r = rec({ sizeMm: 12, multiple: true, risk });
    assert.equal(r.recommendation, 'CT at 3–6 months, then consider CT at 18–24 months');
    assert.deepEqual(r.followUp, { minMonths: 3, maxMonths: 6 });
    assert.equal(r.row, 'solid, multiple, > 8 mm');
  }
});

test('size is rounded to the nearest mm: boundaries 5.4/5.5 and 8.4/8.5', () => {
  assert.equal(rec({ sizeMm: 5.4 }).row, 'solid, single, < 6 mm');
  assert.equal(rec({ sizeMm: 5.5 }).row, 'solid, single, 6–8 mm');
  assert.equal(rec({ sizeMm: 5.5 }).roundedSizeMm, 6);
  assert.equal(rec({ sizeMm: 6 }).row, 'solid, single, 6–8 mm');
  assert.equal(rec({ sizeMm: 8 }).row, 'solid, single, 6–8 mm');
  assert.equal(rec({ sizeMm: 8.4 }).row, 'solid, single, 6–8 mm');
  assert.equal(rec({ sizeMm: 8.5 }).row, 'solid, single, > 8 mm');
  assert.equal(rec({ type: 'ground-glass', sizeMm: 5.4 }).recommendation, 'No routine follow-up');
  assert.notEqual(rec({ type: 'ground-glass', sizeMm: 5.5 }).recommendation, 'No routine follow-up');
});

test('unknown risk → high-risk text as primary, both variants reported', () => {
  const r = rec({ sizeMm: 7, risk: 'unknown' });
  assert.equal(r.recommendation, 'CT at 6–12 months, then CT at 18–24 months');
  assert.deepEqual(r.byRisk, {
    low: 'CT at 6–12 months, then consider CT at 18–24 months',
    high: 'CT at 6–12 months, then CT at 18–24 months',
  });
  assert.ok(r.notes.some((n) => /Risk unknown/.test(n)));
  assert.equal(rec({ sizeMm: 4, risk: 'unknown' }).recommendation, 'Optional CT at 12 months');
});

test('single ground-glass: < 6 none; ≥ 6 CT at 6–12 months then every 2 years until 5 years', () => {
  assert.equal(rec({ type: 'ground-glass', sizeMm: 5 }).recommendation, 'No routine follow-up');
  const r = rec({ type: 'ground-glass', sizeMm: 6 });
  assert.equal(r.recommendation, 'CT at 6–12 months to confirm persistence, then CT every 2 years until 5 years');
  assert.deepEqual(r.followUp, { minMonths: 6, maxMonths: 12 });
  assert.equal(r.byRisk, undefined);
  assert.equal(rec({ type: 'ground-glass', sizeMm: 20, risk: 'high' }).recommendation, r.recommendation);
});

test('single part-solid: < 6 none; ≥ 6 CT at 3–6 months then annual CT for 5 years; solid ≥ 6 flagged', () => {
  assert.equal(rec({ type: 'part-solid', sizeMm: 5 }).recommendation, 'No routine follow-up');
  const r = rec({ type: 'part-solid', sizeMm: 10, solidComponentMm: 4 });
  assert.match(r.recommendation, /^CT at 3–6 months to confirm persistence\. If unchanged and solid component remains < 6 mm, annual CT/);
  assert.deepEqual(r.followUp, { minMonths: 3, maxMonths: 6 });
  assert.equal(r.notes.length, 0);
  assert.ok(rec({ type: 'part-solid', sizeMm: 10, solidComponentMm: 6 }).notes.some((n) => /highly suspicious/.test(n)));
});

test('multiple subsolid: < 6 CT at 3–6 months then consider 2 and 4 years; ≥ 6 based on most suspicious', () => {
  for (const type of ['ground-glass', 'part-solid'] as const) {
    const small = rec({ type, sizeMm: 5, multiple: true });
    assert.equal(small.recommendation, 'CT at 3–6 months. If stable, consider CT at 2 and 4 years');
    assert.deepEqual(small.followUp, { minMonths: 3, maxMonths: 6 });
    const large = rec({ type, sizeMm: 6, multiple: true });
    assert.equal(large.recommendation, 'CT at 3–6 months. Subsequent management based on the most suspicious nodule(s)');
  }
});

test('out of scope: < 35 years, screening, known cancer, immunocompromised', () => {
  assert.equal(rec({ sizeMm: 7, ageYears: 34 }).applicable, false);
  assert.equal(rec({ sizeMm: 7, ageYears: 35 }).applicable, true);
  for (const flag of ['lungCancerScreening', 'knownPrimaryCancer', 'immunocompromised'] as const) {
    const r = rec({ sizeMm: 7, [flag]: true });
    assert.equal(r.applicable, false, flag);
    assert.equal(r.followUp, null);
  }
});

test('invalid input → CLINICAL_INVALID_INPUT', () => {
  assert.throws(() => rec({ sizeMm: 0 }), invalidInput);
  assert.throws(() => rec({ sizeMm: -3 }), invalidInput);
  assert.throws(() => rec({ sizeMm: Number.POSITIVE_INFINITY }), invalidInput);
  assert.throws(() => rec({ type: 'calcified' as 'solid' }), invalidInput);
  assert.throws(() => rec({ risk: 'medium' as 'low' }), invalidInput);
  assert.throws(() => rec({ multiple: 'yes' as unknown as boolean }), invalidInput);
  assert.throws(() => rec({ solidComponentMm: 3 }), invalidInput);
  assert.throws(() => rec({ type: 'part-solid', sizeMm: 6, solidComponentMm: 7 }), invalidInput);
});
