/**
 * ClinicalReport → FHIR R4 (4.0.1) Bundle (type collection): Patient, ImagingStudy, one Device per algorithm,
 * one Observation per reported finding and per study measurement, and the DiagnosticReport that lists them. Built
 * from the same model as the HTML, so rejected findings are absent here too; status is preliminary until the
 * report is signed, final after (R4 DiagnosticReport.status / Observation.status value sets).
 *
 * Codes (only where a published code exists; otherwise text + our own system, never an invented code):
 * - LOINC 18748-4 "Diagnostic imaging study" — the DiagnosticReport code (loinc.org/18748-4).
 * - SNOMED CT 786838002 "Pulmonary nodule (disorder)"; 1386000 "Intracranial hemorrhage (disorder)" — finding codes.
 * - SNOMED CT 1362105002 "Lung Imaging Reporting and Data System category (observable entity)" — the Lung-RADS
 *   Observation code, as used by the HL7 Lithuania lung IG (StructureDefinition lung-rads-assessment-lt-lung). The
 *   category values 0–4X have no SNOMED codes there; we code them in our own system (LUNG_RADS_SYSTEM).
 * - SNOMED CT 81827009 Diameter, 103339001 Long axis, 103340004 Short axis, 118565006 Volume — the measurement
 *   concepts DICOM CID 7470/7469 use (PS3.16), as Observation.component codes; units UCUM.
 * - v2-0074 "RAD" (DiagnosticReport.category), observation-category "imaging" (Observation.category),
 *   DCM modality codes (ImagingStudy.series.modality), urn:dicom:uid identifiers (FHIR R4 ImagingStudy notes).
 */
import { createHash } from 'node:crypto';
import { GENERATOR } from '../core/index.ts';
import type { SeriesSummaryJson } from '../engine/findings.ts';
import type { ClinicalReport, ImpressionItem, ReportFinding, ReportMeasurement } from './clinical-report.ts';

export type FhirResource = { readonly resourceType: string; readonly id: string } & Readonly<Record<string, unknown>>;

export interface FhirBundle {
  readonly resourceType: 'Bundle';
  readonly id: string;
  readonly type: 'collection';
  readonly timestamp: string;
  readonly entry: readonly { readonly fullUrl: string; readonly resource: FhirResource }[];
}

export interface FhirOptions {
  /** The study's series (findings.json `series`), for ImagingStudy.series. */
  readonly series?: readonly SeriesSummaryJson[];
}

const SCT = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Our own code system for values without a published code (Lung-RADS category values, triage priority, measurement names). */
export const SECONDREADER_SYSTEM = 'https://github.com/secondreader/secondreader/fhir/CodeSystem/secondreader';
export const LUNG_RADS_SYSTEM = 'https://github.com/secondreader/secondreader/fhir/CodeSystem/lung-rads-v2022';

const FINDING_CODES: Readonly<Record<string, { code: string; display: string }>> = {
  'lung-nodule': { code: '786838002', display: 'Pulmonary nodule (disorder)' },
  hemorrhage: { code: '1386000', display: 'Intracranial hemorrhage (disorder)' },
};

const MEASUREMENT_CODES: Readonly<Record<string, { code: string; display: string }>> = {
  meanDiameterMm: { code: '81827009', display: 'Diameter' },
  diameterMm: { code: '81827009', display: 'Diameter' },
  longAxisMm: { code: '103339001', display: 'Long axis' },
  shortAxisMm: { code: '103340004', display: 'Short axis' },
  volumeMm3: { code: '118565006', display: 'Volume' },
  volumeMl: { code: '118565006', display: 'Volume' },
};

const UCUM_UNITS: Readonly<Record<string, string>> = { mm: 'mm', 'mm³': 'mm3', mL: 'mL', HU: "[hnsf'U]" };

/** A stable id (FHIR id: [A-Za-z0-9\-\.]{1,64}) from any text. */
function fhirId(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
}

/** Inside a collection Bundle, references point at the entries' fullUrl (urn:uuid), which resolves without a server. */
function ref(r: FhirResource): { reference: string } {
  return { reference: `urn:uuid:${uuidFrom(r.resourceType, r.id)}` };
}

function dicomDateToFhir(date: string | undefined, time?: string): string | undefined {
  const d = date ? /^(\d{4})(\d{2})(\d{2})$/.exec(date.trim()) : null;
  if (!d) return undefined;
  // A dateTime with a time needs a zone (FHIR R4 dateTime) and DICOM StudyTime has none: the date alone.
  void time;
  return `${d[1]}-${d[2]}-${d[3]}`;
}

function fhirGender(sex: string | undefined): string | undefined {
  return sex === 'M' ? 'male' : sex === 'F' ? 'female' : sex === 'O' ? 'other' : undefined;
}

function quantityOrValue(m: ReportMeasurement): Record<string, unknown> {
  if (typeof m.value === 'number') {
    const code = m.unit ? UCUM_UNITS[m.unit] : undefined;
    return { valueQuantity: { value: m.value, ...(m.unit ? { unit: m.unit } : {}), ...(code ? { system: UCUM, code } : {}) } };
  }
  if (typeof m.value === 'boolean') return { valueBoolean: m.value };
  return { valueString: m.value };
}

function measurementCode(key: string): Record<string, unknown> {
  const c = MEASUREMENT_CODES[key];
  return { coding: [...(c ? [{ system: SCT, code: c.code, display: c.display }] : []), { system: SECONDREADER_SYSTEM, code: key }], text: key };
}

const IMAGING_CATEGORY = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' }] }];

function impressionText(i: ImpressionItem): string {
  switch (i.kind) {
    case 'lung-rads': return `Lung-RADS v2022 category ${i.category}${i.drivingFindingId ? ` (driving nodule ${i.drivingFindingId})` : ''}`;
    case 'triage': return `Triage priority ${i.priority}${i.hemorrhage ? ': suspected acute intracranial haemorrhage' : ''}${i.massEffect ? ', mass effect' : ''}`;
    case 'findings': return `${i.analysisId}: ${i.count} finding(s)`;
    case 'skipped': return `${i.analysisId}: not analysed (${i.reason})`;
  }
}

export function buildFhirBundle(report: ClinicalReport, options: FhirOptions = {}): FhirBundle {
  const status = report.status === 'final' ? 'final' : 'preliminary';
  const studyUid = report.study.studyInstanceUid;
  const p = report.patient;
  const patient: FhirResource = {
    resourceType: 'Patient', id: fhirId('patient', p.id ?? '', studyUid),
    ...(p.id ? { identifier: [{ value: p.id }] } : {}),
    ...(p.name || p.ideographicName ? {
      name: [
        ...(p.name ? [{ text: p.name.replace(/\^+/g, ' ').trim(), family: p.name.split('^')[0] ?? '', ...(p.name.split('^')[1] ? { given: [p.name.split('^')[1]] } : {}) }] : []),
        ...(p.ideographicName ? [{ text: p.ideographicName.replace(/\^+/g, '') }] : []),
      ],
    } : {}),
    ...(fhirGender(p.sex) ? { gender: fhirGender(p.sex) } : {}),
    ...(dicomDateToFhir(p.birthDate) ? { birthDate: dicomDateToFhir(p.birthDate) } : {}),
  };
  const series = (options.series ?? []).filter((s) => s.studyInstanceUid === studyUid);
  const started = dicomDateToFhir(report.study.studyDate, report.study.studyTime);
  const imagingStudy: FhirResource = {
    resourceType: 'ImagingStudy', id: fhirId('study', studyUid), status: 'available',
    identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${studyUid}` }, ...(report.study.accessionNumber ? [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'ACSN' }] }, value: report.study.accessionNumber }] : [])],
    subject: ref(patient),
    ...(started ? { started } : {}),
    ...(report.study.description ? { description: report.study.description } : {}),
    ...(series.length > 0 ? {
      numberOfSeries: series.length,
      numberOfInstances: series.reduce((a, s) => a + s.instanceCount, 0),
      series: series.map((s) => ({ uid: s.seriesInstanceUid, modality: { system: DCM, code: s.modality }, numberOfInstances: s.instanceCount, ...(s.seriesDescription ? { description: s.seriesDescription } : {}) })),
    } : {}),
  };
  const devices = new Map<string, FhirResource>();
  for (const a of report.algorithms) {
    devices.set(a.analysisId, {
      resourceType: 'Device', id: fhirId('device', a.analysisId, a.version), status: 'active', manufacturer: GENERATOR.name,
      deviceName: [{ name: a.title ?? a.analysisId, type: 'model-name' }, { name: a.analysisId, type: 'other' }],
      version: [{ value: a.version }, { type: { text: 'engine' }, value: a.engine }],
      note: [{ text: 'AI-assisted; requires physician confirmation.' }],
    });
  }
  const deviceRef = (analysisId: string) => {
    const d = devices.get(analysisId);
    return d ? { device: ref(d) } : {};
  };
  const issued = report.signature?.at ?? report.generatedAt;
  const common = { status, category: IMAGING_CATEGORY, subject: ref(patient), issued, derivedFrom: [ref(imagingStudy)] };
  const observations: FhirResource[] = report.findings.map((f: ReportFinding) => {
    const c = FINDING_CODES[f.kind];
    const components = [
      ...f.measurements.map((m) => ({ code: measurementCode(m.key), ...quantityOrValue(m) })),
      ...(f.type ? [{ code: { coding: [{ system: SECONDREADER_SYSTEM, code: 'type' }], text: 'type' }, valueString: f.type }] : []),
      ...(f.lungRads ? [{ code: { coding: [{ system: SCT, code: '1362105002', display: 'Lung Imaging Reporting and Data System category' }] }, valueCodeableConcept: { coding: [{ system: LUNG_RADS_SYSTEM, code: f.lungRads }], text: `Lung-RADS ${f.lungRads}` } }] : []),
      { code: { coding: [{ system: SECONDREADER_SYSTEM, code: 'ai-probability' }], text: 'AI probability' }, valueQuantity: { value: f.probability, unit: '1', system: UCUM, code: '1' } },
      ...(f.brockProbability !== undefined ? [{ code: { coding: [{ system: SECONDREADER_SYSTEM, code: 'brock-probability' }], text: 'Brock (PanCan) probability' }, valueQuantity: { value: f.brockProbability, unit: '1', system: UCUM, code: '1' } }] : []),
    ];
    return {
      resourceType: 'Observation', id: fhirId('finding', studyUid, f.analysisId, f.findingId), ...common,
      identifier: [{ system: `${SECONDREADER_SYSTEM}/finding`, value: `${f.analysisId}/${f.findingId}` }],
      code: { coding: c ? [{ system: SCT, code: c.code, display: c.display }] : [{ system: SECONDREADER_SYSTEM, code: f.kind }], text: f.kind },
      ...deviceRef(f.analysisId),
      note: [
        { text: `Centre (DICOM patient LPS, mm): ${f.centerMm.join(', ')}` },
        ...(f.review ? [{ text: `Review: ${f.review.decision} by ${f.review.by} at ${f.review.at}` }] : []),
      ],
      component: components,
    };
  });
  for (const g of report.studyMeasurements) {
    for (const m of g.items) {
      observations.push({
        resourceType: 'Observation', id: fhirId('measurement', studyUid, g.analysisId, m.key), ...common,
        code: measurementCode(m.key), ...deviceRef(g.analysisId), ...quantityOrValue(m),
      });
    }
  }
  for (const i of report.impression.items) {
    if (i.kind === 'lung-rads') {
      observations.push({
        resourceType: 'Observation', id: fhirId('lung-rads', studyUid, i.analysisId), ...common,
        code: { coding: [{ system: SCT, code: '1362105002', display: 'Lung Imaging Reporting and Data System category' }], text: 'Lung-RADS v2022 category' },
        ...deviceRef(i.analysisId),
        valueCodeableConcept: { coding: [{ system: LUNG_RADS_SYSTEM, code: i.category }], text: `Lung-RADS ${i.category}` },
        ...(i.drivingFindingId ? { note: [{ text: `Driving nodule ${i.drivingFindingId}; probability of malignancy ${i.malignancy}` }] } : {}),
      });
    } else if (i.kind === 'triage') {
      observations.push({
        resourceType: 'Observation', id: fhirId('triage', studyUid, i.analysisId), ...common,
        code: { coding: [{ system: SECONDREADER_SYSTEM, code: 'triage-priority' }], text: 'Triage priority' }, ...deviceRef(i.analysisId),
        valueCodeableConcept: { coding: [{ system: SECONDREADER_SYSTEM, code: i.priority }], text: i.priority },
      });
    }
  }
  const conclusion = [report.impression.override, ...report.impression.items.map(impressionText), ...report.recommendations.map((r) => `${r.guideline}: ${r.text}`)]
    .filter((x): x is string => x !== undefined && x.length > 0).join('\n');
  const diagnosticReport: FhirResource = {
    resourceType: 'DiagnosticReport', id: fhirId('report', studyUid, ...report.algorithms.map((a) => `${a.analysisId}@${a.version}`)), status,
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] }],
    code: { coding: [{ system: LOINC, code: '18748-4', display: 'Diagnostic imaging study' }] },
    subject: ref(patient), issued,
    ...(started ? { effectiveDateTime: started } : {}),
    ...(report.signature ? { resultsInterpreter: [{ display: report.signature.by }] } : {}),
    imagingStudy: [ref(imagingStudy)],
    result: observations.map(ref),
    conclusion: `${conclusion}\n${report.disclaimer}`,
  };
  const resources: FhirResource[] = [patient, imagingStudy, ...devices.values(), ...observations, diagnosticReport];
  return {
    resourceType: 'Bundle', id: fhirId('bundle', diagnosticReport.id, report.status, issued), type: 'collection', timestamp: report.generatedAt,
    entry: resources.map((r) => ({ fullUrl: `urn:uuid:${uuidFrom(r.resourceType, r.id)}`, resource: r })),
  };
}

/** A UUID-shaped name from a resource's type and id (fullUrl of a collection entry). */
function uuidFrom(type: string, id: string): string {
  const h = createHash('sha256').update(`${type}/${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 17), 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
