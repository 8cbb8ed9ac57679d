// Rows of the Lung-RADS v2022 assessment-categories table (ACR, November 2022), boundaries included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isSrError } from '../core/errors.ts';
import { lungRadsCategory } from './lung-rads.ts';
import type { LungRadsCategory, LungRadsFinding, LungRadsNoduleInput, LungRadsStatus } from './lung-rads.ts';

function one(f: LungRadsFinding): LungRadsCategory {
  return lungRadsCategory({ findings: [f] }).category;
}
function solid(mm: number, status: LungRadsStatus, extra: Partial<LungRadsNoduleInput> = {}): LungRadsCategory {
  return one({ type: 'solid', meanDiameterMm: mm, status, ...extra });
}
function partSolid(total: number, solidMm: number, status: LungRadsStatus, extra: Partial<LungRadsNoduleInput> = {}): LungRadsCategory {
  return one({ type: 'part-solid', meanDiameterMm: total, solidComponentMm: solidMm, status, ...extra });
}
function ggn(mm: number, status: LungRadsStatus): LungRadsCategory {
  return one({ type: 'ground-glass', meanDiameterMm: mm, status });
}
const invalidInput = (e: unknown): boolean => isSrError(e, 'CLINICAL_INVALID_INPUT');

test('no nodules and benign calcification / fat → 1, 12-month LDCT, <1%', () => {
  const r = lungRadsCategory({ findings: [] });
  assert.equal(r.category, '1');
  assert.equal(r.drivingIndex, null);
  assert.equal(r.management, '12-month screening LDCT');
  assert.equal(one({ type: 'calcified' }), '1');
  assert.equal(one({ type: 'fat-containing' }), '1');
  assert.equal(lungRadsCategory({ findings: [{ type: 'calcified' }] }).probabilityOfMalignancy.text, '<1%');
});

test('solid at baseline: < 6 → 2, 6–<8 → 3, 8–<15 → 4A, ≥ 15 → 4B (boundaries)', () => {
  const rows: [number, LungRadsCategory][] = [
    [1, '2'], [5.9, '2'], [6.0, '3'], [7.9, '3'], [8.0, '4A'], [14.9, '4A'], [15.0, '4B'], [40, '4B'],
  ];
  for (const [mm, cat] of rows) assert.equal(solid(mm, 'baseline'), cat, `${mm} mm`);
});

test('mean diameter is rounded to 0.1 mm before the thresholds', () => {
  assert.equal(solid(5.94, 'baseline'), '2');
  assert.equal(solid(5.95, 'baseline'), '3');
  assert.equal(solid(7.96, 'baseline'), '4A');
  const r = lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 5.95, status: 'baseline' }] });
  assert.equal(r.findings[0]?.roundedMeanDiameterMm, 6);
});

test('new solid: < 4 → 2, 4–<6 → 3, 6–<8 → 4A, ≥ 8 → 4B', () => {
  const rows: [number, LungRadsCategory][] = [
    [3.9, '2'], [4.0, '3'], [5.9, '3'], [6.0, '4A'], [7.9, '4A'], [8.0, '4B'], [20, '4B'],
  ];
  for (const [mm, cat] of rows) assert.equal(solid(mm, 'new'), cat, `${mm} mm`);
});

test('growing solid: < 8 → 4A, ≥ 8 → 4B; slowly growing solid follows the growing rows', () => {
  assert.equal(solid(4, 'growing'), '4A');
  assert.equal(solid(7.9, 'growing'), '4A');
  assert.equal(solid(8.0, 'growing'), '4B');
  assert.equal(solid(7, 'slowly-growing'), '4A');
  assert.equal(solid(9, 'slowly-growing'), '4B');
});

test('juxtapleural solid < 10 mm with benign features → 2 at baseline or new; ≥ 10 or growing → size rules', () => {
  assert.equal(solid(9.9, 'baseline', { juxtapleuralBenign: true }), '2');
  assert.equal(solid(9.9, 'new', { juxtapleuralBenign: true }), '2');
  assert.equal(solid(10.0, 'baseline', { juxtapleuralBenign: true }), '4A');
  assert.equal(solid(9, 'growing', { juxtapleuralBenign: true }), '4B');
  assert.equal(solid(9.9, 'baseline'), '4A');
});

test('part-solid at baseline: total < 6 → 2; ≥ 6 with solid < 6 → 3; solid 6–<8 → 4A; solid ≥ 8 → 4B', () => {
  assert.equal(partSolid(5.9, 5, 'baseline'), '2');
  assert.equal(partSolid(6.0, 2, 'baseline'), '3');
  assert.equal(partSolid(12, 5.9, 'baseline'), '3');
  assert.equal(partSolid(12, 6.0, 'baseline'), '4A');
  assert.equal(partSolid(12, 7.9, 'baseline'), '4A');
  assert.equal(partSolid(12, 8.0, 'baseline'), '4B');
});

test('part-solid new: total < 6 → 3; new solid component < 4 → 4A, ≥ 4 → 4B', () => {
  assert.equal(partSolid(5.9, 4.5, 'new'), '3');
  assert.equal(partSolid(6.0, 3.9, 'new'), '4A');
  assert.equal(partSolid(10, 4.0, 'new'), '4B');
});

test('part-solid with growing solid component: < 4 → 4A, ≥ 4 → 4B; ground-glass-only growth re-applies size rows', () => {
  assert.equal(partSolid(10, 3.9, 'growing'), '4A');
  assert.equal(partSolid(10, 4.0, 'growing'), '4B');
  assert.equal(partSolid(7, 3, 'growing', { growthComponent: 'ground-glass' }), '3');
  assert.equal(partSolid(5, 3, 'growing', { growthComponent: 'ground-glass' }), '2');
});

test('non-solid (GGN): < 30 → 2 at baseline/new/growing; ≥ 30 → 3 at baseline/new; ≥ 30 stable or slowly growing → 2', () => {
  for (const s of ['baseline', 'new', 'growing', 'stable', 'slowly-growing'] as const) assert.equal(ggn(29.9, s), '2', s);
  assert.equal(ggn(30.0, 'baseline'), '3');
  assert.equal(ggn(30.0, 'new'), '3');
  assert.equal(ggn(35, 'growing'), '3'); // interpretation: not in the table, treated as new
  assert.equal(ggn(35, 'stable'), '2');
  assert.equal(ggn(35, 'slowly-growing'), '2');
});

test('stepped management: 3 stable at 6 months → 2; 4A stable at 3 months → 3; 4B stays unless proven benign', () => {
  assert.equal(solid(7, 'stable', { priorCategory: '3' }), '2');
  assert.equal(solid(7, 'decreased', { priorCategory: '3' }), '2');
  assert.equal(solid(10, 'stable', { priorCategory: '4A' }), '3');
  assert.equal(solid(10, 'stable', { priorCategory: '2' }), '2');
  assert.equal(solid(20, 'stable', { priorCategory: '4B' }), '4B');
  assert.equal(solid(20, 'stable', { priorCategory: '4B', provenBenign: true }), '2');
  assert.equal(partSolid(10, 7, 'stable', { priorCategory: '4A' }), '3');
  assert.throws(() => solid(10, 'stable'), invalidInput);
  assert.throws(() => solid(10, 'stable', { priorCategory: '0' }), invalidInput);
});

test('airway nodules: subsegmental → 2; segmental or more proximal → 4A at baseline/new, 4B when persisting', () => {
  assert.equal(one({ kind: 'airway', level: 'subsegmental', status: 'baseline' }), '2');
  assert.equal(one({ kind: 'airway', level: 'subsegmental', status: 'stable' }), '2');
  assert.equal(one({ kind: 'airway', level: 'segmental-or-proximal', status: 'baseline' }), '4A');
  assert.equal(one({ kind: 'airway', level: 'segmental-or-proximal', status: 'new' }), '4A');
  const r = lungRadsCategory({ findings: [{ kind: 'airway', level: 'segmental-or-proximal', status: 'stable' }] });
  assert.equal(r.category, '4B');
  assert.match(r.management, /bronchoscopy/);
});

test('atypical pulmonary cysts', () => {
  const cyst = (x: Partial<Extract<LungRadsFinding, { kind: 'cyst' }>>): LungRadsCategory =>
    one({ kind: 'cyst', wall: 'thin', multilocular: false, status: 'baseline', ...x });
  assert.equal(cyst({}), '1');
  assert.equal(cyst({ wall: 'thick' }), '4A');
  assert.equal(cyst({ multilocular: true }), '4A');
  assert.equal(cyst({ status: 'follow-up', becameMultilocular: true, multilocular: true }), '4A');
  assert.equal(cyst({ status: 'follow-up', wall: 'thick', cysticComponentGrowing: true }), '3');
  assert.equal(cyst({ status: 'follow-up', wall: 'thick', wallThickeningOrNodularityGrowing: true }), '4B');
  assert.equal(cyst({ status: 'follow-up', multilocular: true, cysticComponentGrowing: true }), '4B');
  assert.equal(cyst({ status: 'follow-up', multilocular: true, increasedLoculation: true }), '4B');
  assert.equal(cyst({ status: 'follow-up', multilocular: true, newOrIncreasedOpacity: true }), '4B');
  assert.equal(cyst({ status: 'follow-up', wall: 'thick', priorCategory: '4A' }), '3');
  assert.throws(() => cyst({ status: 'follow-up', wall: 'thick' }), invalidInput);
});

test('4X: 3/4A/4B with additional suspicious features; not for category 2', () => {
  assert.equal(solid(7, 'baseline', { suspiciousFeatures: true }), '4X');
  assert.equal(solid(10, 'baseline', { suspiciousFeatures: true }), '4X');
  assert.equal(solid(20, 'baseline', { suspiciousFeatures: true }), '4X');
  const r = lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 4, status: 'baseline', suspiciousFeatures: true }] });
  assert.equal(r.category, '2');
  assert.equal(r.notes.length, 1);
  const x = lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 7, status: 'baseline', suspiciousFeatures: true }] });
  assert.equal(x.probabilityOfMalignancy.text, '>15%');
  assert.match(x.management, /tissue sampling/);
});

test('exam category is the highest finding; driving finding, management and probability follow it', () => {
  const r = lungRadsCategory({
    findings: [
      { id: 'a', type: 'solid', meanDiameterMm: 5, status: 'baseline' },
      { id: 'b', type: 'part-solid', meanDiameterMm: 14, solidComponentMm: 7, status: 'baseline' },
      { id: 'c', type: 'solid', meanDiameterMm: 7, status: 'baseline' },
    ],
  });
  assert.equal(r.category, '4A');
  assert.equal(r.drivingId, 'b');
  assert.equal(r.drivingIndex, 1);
  assert.deepEqual(r.findings.map((f) => f.category), ['2', '4A', '3']);
  assert.equal(r.management, '3-month LDCT');
  assert.deepEqual(r.probabilityOfMalignancy, { text: '5–15%', min: 0.05, max: 0.15 });
  assert.equal(r.descriptor, 'Suspicious');
});

test('management text per category, PET/CT clause for ≥ 8 mm solid in 4A', () => {
  const m = (f: LungRadsFinding): string => lungRadsCategory({ findings: [f] }).management;
  assert.equal(m({ type: 'solid', meanDiameterMm: 7, status: 'baseline' }), '6-month LDCT');
  assert.match(m({ type: 'solid', meanDiameterMm: 9, status: 'baseline' }), /^3-month LDCT; PET\/CT may be considered/);
  assert.equal(m({ type: 'solid', meanDiameterMm: 5, status: 'growing' }), '3-month LDCT');
  assert.match(m({ type: 'solid', meanDiameterMm: 16, status: 'baseline' }), /^Diagnostic chest CT with or without contrast/);
  assert.equal(lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 16, status: 'baseline' }] }).probabilityOfMalignancy.text, '>15%');
  assert.equal(lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 7, status: 'baseline' }] }).probabilityOfMalignancy.text, '1–2%');
});

test('tie on category → the larger solid component drives', () => {
  const r = lungRadsCategory({
    findings: [
      { id: 'small', type: 'solid', meanDiameterMm: 9, status: 'baseline' },
      { id: 'big', type: 'solid', meanDiameterMm: 12, status: 'baseline' },
    ],
  });
  assert.equal(r.drivingId, 'big');
});

test('category 0: exam-level incompleteness and inflammatory findings override', () => {
  const pending = lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 20, status: 'baseline' }], incomplete: 'comparison-pending' });
  assert.equal(pending.category, '0');
  assert.equal(pending.findings[0]?.category, '4B');
  assert.match(pending.management, /Comparison to prior/);
  assert.equal(pending.probabilityOfMalignancy.text, 'n/a');
  const infl = lungRadsCategory({
    findings: [
      { type: 'solid', meanDiameterMm: 7, status: 'baseline' },
      { type: 'solid', meanDiameterMm: 12, status: 'new', inflammatoryOrInfectious: true },
    ],
  });
  assert.equal(infl.category, '0');
  assert.equal(infl.drivingIndex, 1);
  assert.equal(infl.management, '1–3 month LDCT');
});

test('S modifier is carried on the label', () => {
  const r = lungRadsCategory({ findings: [{ type: 'solid', meanDiameterMm: 10, status: 'baseline' }], significantOtherFindings: true });
  assert.equal(r.category, '4A');
  assert.equal(r.label, '4A S');
  assert.equal(r.sModifier, true);
});

test('invalid input → CLINICAL_INVALID_INPUT', () => {
  assert.throws(() => solid(-1, 'baseline'), invalidInput);
  assert.throws(() => solid(0, 'baseline'), invalidInput);
  assert.throws(() => solid(Number.NaN, 'baseline'), invalidInput);
  assert.throws(() => one({ type: 'solid', status: 'baseline' }), invalidInput);
  assert.throws(() => one({ type: 'part-solid', meanDiameterMm: 8, status: 'baseline' }), invalidInput);
  assert.throws(() => partSolid(6, 7, 'baseline'), invalidInput);
  assert.throws(() => one({ type: 'solid', meanDiameterMm: 5, status: 'weird' as LungRadsStatus }), invalidInput);
  assert.throws(() => one({ type: 'nodular' as 'solid', meanDiameterMm: 5, status: 'baseline' }), invalidInput);
  assert.throws(() => lungRadsCategory({} as never), invalidInput);
});
