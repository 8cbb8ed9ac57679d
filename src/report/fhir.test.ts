import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnalysisResultJson } from '../engine/index.ts';
import { buildClinicalReport, buildFhirBundle } from './index.ts';
import type { ClinicalReportInput, FhirBundle } from './index.ts';
import { fhirSchemaErrors } from './test-helpers.ts';

function errorsOf(resource: unknown): unknown[] {
  return fhirSchemaErrors(resource);
}

function headResult(): AnalysisResultJson {
  return {
    analysis: 'head-ct-hemorrhage', version: '0.3.0', title: 'Head CT: acute intracranial haemorrhage', studyInstanceUid: '2.25.7', seriesInstanceUid: '2.25.8', status: 'ok',
    findings: [{ id: 'bleed-1', kind: 'hemorrhage', centerMm: [1, 2, 3], probability: 0.97, label: 1, type: 'subdural', bleedType: 'subdural', volumeMl: 21.4, abc2VolumeMl: 23.1, thicknessMm: 9.5, meanHu: 62 }],
    measurements: { hasHemorrhage: true, hemorrhageVolumeMl: 21.4, abc2VolumeMl: 23.1, hemorrhageType: 'subdural', midlineShiftMm: 6.2, midlineShiftTowards: 'left', massEffect: true, triagePriority: 'critical' },
    provenance: { analysis: { id: 'head-ct-hemorrhage', version: '0.3.0', apiVersion: 1 }, engine: { name: 'secondreader', version: '0.1.0' }, inputSeriesInstanceUid: '2.25.8', startedAt: '2026-11-30T10:00:00.000Z', timingsMs: { total: 1 } },
  };
}

function chestResult(): AnalysisResultJson {
  return {
    analysis: 'chest-ct-nodules', version: '0.3.0', studyInstanceUid: '2.25.7', seriesInstanceUid: '2.25.9', status: 'ok',
    findings: [{
      id: 'n1', kind: 'lung-nodule', centerMm: [10, -20, -100], probability: 0.99, label: 1, noduleType: 'part-solid',
      measurements: { meanDiameterMm: 12, longAxisMm: 13, shortAxisMm: 11, volumeMm3: 900, meanHu: -300, solidComponentMeanDiameterMm: 5 },
    }],
    measurements: { displayThreshold: 0.5, lungVolumeMl: { total: 4100 }, lungRads: { category: '4A' }, brock: { perNodule: { n1: { probability: 0.12 } } } },
    provenance: { analysis: { id: 'chest-ct-nodules', version: '0.3.0', apiVersion: 1 }, engine: { name: 'secondreader', version: '0.1.0' }, inputSeriesInstanceUid: '2.25.9', startedAt: '2026-11-30T10:00:00.000Z', timingsMs: { total: 1 } },
  };
}

const INPUT: ClinicalReportInput = {
  patient: { name: 'Wang^XiaoDong', ideographicName: '王^小东', id: 'P-7', sex: 'M', birthDate: '19600102', age: '066Y' },
  study: { studyInstanceUid: '2.25.7', studyDate: '20261130', studyTime: '101500', accessionNumber: 'ACC7', description: 'CT head + chest' },
  results: [{ result: headResult(), resultId: 'r-head' }, { result: chestResult(), resultId: 'r-chest' }],
  generatedAt: '2026-11-30T12:00:00.000Z',
};

const SERIES = [
  { studyInstanceUid: '2.25.7', seriesInstanceUid: '2.25.8', modality: 'CT', instanceCount: 30 },
  { studyInstanceUid: '2.25.7', seriesInstanceUid: '2.25.9', modality: 'CT', seriesDescription: 'chest 1 mm', instanceCount: 300 },
];

function resources(b: FhirBundle, type: string): Record<string, unknown>[] {
  return b.entry.map((e) => e.resource as Record<string, unknown>).filter((r) => r['resourceType'] === type);
}

test('the Bundle and every resource in it validate against the FHIR R4 schema with 0 errors', () => {
  const bundle = buildFhirBundle(buildClinicalReport(INPUT), { series: SERIES });
  assert.deepEqual(errorsOf(bundle), []);
  for (const e of bundle.entry) assert.deepEqual(errorsOf(e.resource), [], `${e.resource.resourceType}/${e.resource.id}`);
  const types = new Set(bundle.entry.map((e) => e.resource.resourceType));
  for (const t of ['Patient', 'ImagingStudy', 'Device', 'Observation', 'DiagnosticReport']) assert.ok(types.has(t), t);
});

test('a deliberately broken resource is rejected by the same validator', () => {
  const bundle = buildFhirBundle(buildClinicalReport(INPUT), { series: SERIES });
  const dr = resources(bundle, 'DiagnosticReport')[0] ?? {};
  // status outside the R4 value set, a property R4 does not define, a required element missing.
  assert.ok(errorsOf({ ...dr, status: 'signed' }).length > 0);
  assert.ok(errorsOf({ ...dr, aiScore: 0.9 }).length > 0);
  const { code: _code, ...noCode } = dr;
  void _code;
  assert.ok(errorsOf(noCode).length > 0);
  assert.ok(errorsOf({ ...bundle, type: 'pile' }).length > 0);
  // Inside the Bundle too: one Observation with a status R4 does not have, one DICOM-format date.
  const entries = bundle.entry.map((e) => (e.resource.resourceType === 'Observation' ? { ...e, resource: { ...e.resource, status: 'bogus' } } : e));
  assert.ok(errorsOf({ ...bundle, entry: entries }).length > 0);
  const patient = resources(bundle, 'Patient')[0] ?? {};
  assert.ok(errorsOf({ ...patient, birthDate: '19600102' }).length > 0);
});

test('codes: LOINC 18748-4 report, SNOMED finding codes, Lung-RADS observation; one Observation per finding and study measurement', () => {
  const report = buildClinicalReport(INPUT);
  const bundle = buildFhirBundle(report, { series: SERIES });
  const dr = resources(bundle, 'DiagnosticReport')[0] as { code: { coding: { system: string; code: string }[] }; result: { reference: string }[]; status: string; conclusion: string };
  assert.deepEqual(dr.code.coding[0], { system: 'http://loinc.org', code: '18748-4', display: 'Diagnostic imaging study' });
  assert.equal(dr.status, 'preliminary');
  assert.match(dr.conclusion, /requires physician confirmation/);
  const obs = resources(bundle, 'Observation') as { code: { coding: { system: string; code: string }[] }; valueCodeableConcept?: { coding: { code: string }[] } }[];
  const codes = obs.flatMap((o) => o.code.coding.map((c) => `${c.system}|${c.code}`));
  assert.ok(codes.includes('http://snomed.info/sct|1386000'), 'intracranial hemorrhage');
  assert.ok(codes.includes('http://snomed.info/sct|786838002'), 'pulmonary nodule');
  const lr = obs.find((o) => o.code.coding.some((c) => c.code === '1362105002'));
  // Lung-RADS v2022: part-solid ≥ 6 mm with a solid component < 6 mm → 3.
  assert.equal(lr?.valueCodeableConcept?.coding[0]?.code, '3');
  const studyMeasurements = report.studyMeasurements.reduce((a, g) => a + g.items.length, 0);
  // findings + study measurements + Lung-RADS + triage
  assert.equal(obs.length, report.findings.length + studyMeasurements + 2);
  const refs = new Set(bundle.entry.map((e) => e.fullUrl));
  for (const r of dr.result) assert.ok(refs.has(r.reference), r.reference);
  const study = resources(bundle, 'ImagingStudy')[0] as { identifier: { value: string }[]; series: unknown[] };
  assert.equal(study.identifier[0]?.value, 'urn:oid:2.25.7');
  assert.equal(study.series.length, 2);
});

test('signed → final; a rejected finding has no Observation', () => {
  const signed = buildFhirBundle(buildClinicalReport({
    ...INPUT, signature: { by: 'Dr Li', at: '2026-11-30T13:00:00Z' }, review: [{ findingId: 'bleed-1', decision: 'rejected', by: 'Dr Li', at: '2026-11-30T12:59:00Z' }],
  }), { series: SERIES });
  assert.deepEqual(errorsOf(signed), []);
  for (const r of [...resources(signed, 'DiagnosticReport'), ...resources(signed, 'Observation')]) assert.equal(r['status'], 'final');
  const ids = resources(signed, 'Observation').flatMap((o) => ((o['identifier'] as { value: string }[] | undefined) ?? []).map((i) => i.value));
  assert.ok(!ids.includes('head-ct-hemorrhage/bleed-1'));
  assert.ok(ids.includes('chest-ct-nodules/n1'));
});
