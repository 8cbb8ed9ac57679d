/**
 * The findings as a Comprehensive SR document (PS3.3 A.35.3): NUM content items need Enhanced or Comprehensive
 * SR (Basic Text SR has no NUM). Structure, without claiming conformance to a template (no
 * ContentTemplateSequence): root "Imaging Measurement Report" container → device observer context (TID 1004
 * codes), algorithm name/version (TID 4019 codes), the disclaimer, one "Measurement Group" per finding (tracking
 * identifier, finding, probability, centre, reasons, its measurements, a reference to its key image) and the study
 * measurements.
 *
 * Units: numbers whose key names a unit (…Mm, …Mm3, …Ml, …Hu, …Percent) become NUM items with that UCUM unit;
 * probabilities NUM with unit "1"; any other number is written as TEXT, because a NUM with a guessed unit would
 * be a wrong statement. Concepts DICOM has no code for use our private scheme 99SRDR (PS3.16 8.2: "99" prefix),
 * declared in CodingSchemeIdentificationSequence; a code longer than SH's 16 characters is shortened to a hash.
 */
import { createHash } from 'node:crypto';
import { formatDS } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { DISCLAIMER, DISCLAIMER_SHORT, dicomDateTime, equipmentModule, outputUid, patientStudyModules, sopCommon, withCharset } from './dicom-common.ts';
import type { OutputProvenance, OutputSource } from './dicom-common.ts';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './secondary-capture.ts';

export const COMPREHENSIVE_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.33';
export const SR_SERIES_NUMBER = 9902;
export const PRIVATE_SCHEME = '99SRDR';

export interface Code {
  readonly CodeValue: string;
  readonly CodingSchemeDesignator: string;
  readonly CodeMeaning: string;
}

function code(value: string, scheme: string, meaning: string): Code {
  return { CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning.slice(0, 64) };
}

/** A private code for a result key; SH holds 16 characters, longer keys get a stable hash. */
export function privateCode(key: string, meaning = key): Code {
  const value = key.length <= 16 && [...key].every((c) => c !== '\\' && c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) < 0x7f) ? key : `H${createHash('sha256').update(key).digest('hex').slice(0, 15)}`;
  return code(value, PRIVATE_SCHEME, meaning);
}

const DCM = {
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  finding: code('121071', 'DCM', 'Finding'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
} as const;

export interface UcumUnit {
  readonly code: string;
  readonly meaning: string;
}

const UNIT_SUFFIXES: readonly [RegExp, UcumUnit][] = [
  [/Mm3$/, { code: 'mm3', meaning: 'cubic millimeter' }],
  [/Mm2$/, { code: 'mm2', meaning: 'square millimeter' }],
  [/Mm$/, { code: 'mm', meaning: 'millimeter' }],
  [/Cm3$/, { code: 'cm3', meaning: 'cubic centimeter' }],
  [/Ml$/, { code: 'mL', meaning: 'milliliter' }],
  [/Hu$/, { code: "[hnsf'U]", meaning: 'Hounsfield unit' }],
  [/(Percent|Pct)$/, { code: '%', meaning: 'percent' }],
  [/Years$/, { code: 'a', meaning: 'year' }],
  [/^(probability|.*Probability)$/, { code: '1', meaning: 'no units' }],
];

/** The UCUM unit a key names (`volumeMm3` → mm3); the nearest key of the path that names one. */
export function unitOfPath(path: readonly string[]): UcumUnit | undefined {
  for (let n = path.length - 1; n >= 0; n--) {
    const key = path[n] ?? '';
    for (const [re, unit] of UNIT_SUFFIXES) if (re.test(key)) return unit;
  }
  return undefined;
}

type Item = DicomDataset;

function text(rel: string, name: Code, value: string): Item {
  return { RelationshipType: rel, ValueType: 'TEXT', ConceptNameCodeSequence: [name], TextValue: value };
}

function num(rel: string, name: Code, value: number, unit: UcumUnit): Item {
  return {
    RelationshipType: rel, ValueType: 'NUM', ConceptNameCodeSequence: [name],
    MeasuredValueSequence: [{ NumericValue: formatDS(value), MeasurementUnitsCodeSequence: [{ CodeValue: unit.code, CodingSchemeDesignator: 'UCUM', CodeMeaning: unit.meaning }] }],
  };
}

function container(rel: string, name: Code, children: Item[]): Item {
  return { RelationshipType: rel, ValueType: 'CONTAINER', ConceptNameCodeSequence: [name], ContinuityOfContent: 'SEPARATE', ContentSequence: children };
}

const MAX_ITEMS = 400;

/** Result JSON values as content items: numbers with a unit → NUM, other leaves → TEXT; objects recurse. */
export function valueItems(value: unknown, path: readonly string[], out: Item[] = []): Item[] {
  if (out.length >= MAX_ITEMS || value === null || value === undefined) return out;
  const key = path.join('.');
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return out;
    const unit = unitOfPath(path);
    out.push(unit ? num('CONTAINS', privateCode(key), value, unit) : text('CONTAINS', privateCode(key), formatDS(value)));
  } else if (typeof value === 'string') {
    if (value.length > 0) out.push(text('CONTAINS', privateCode(key), value));
  } else if (typeof value === 'boolean') {
    out.push(text('CONTAINS', privateCode(key), value ? 'yes' : 'no'));
  } else if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      if (value.length > 0) out.push(text('CONTAINS', privateCode(key), value.join('; ')));
    } else value.forEach((v, n) => valueItems(v, [...path.slice(0, -1), `${path[path.length - 1] ?? ''}[${n}]`], out));
  } else if (typeof value === 'object' && path.length < 6) {
    for (const [k, v] of Object.entries(value)) valueItems(v, [...path, k], out);
  }
  return out;
}

export interface SrFinding {
  readonly id: string;
  readonly kind: string;
  readonly centerMm: readonly [number, number, number];
  readonly probability: number;
  readonly reasons?: readonly string[];
  readonly [extra: string]: unknown;
}

export interface FindingsReportInput {
  readonly provenance: OutputProvenance;
  readonly source: OutputSource;
  readonly status: string;
  readonly reason?: string;
  readonly findings: readonly SrFinding[];
  readonly measurements: Readonly<Record<string, unknown>>;
  /** Finding id → SOPInstanceUID of its key image (Secondary Capture) in the key image series. */
  readonly keyImages?: Readonly<Record<string, string>>;
  readonly keyImageSeriesUid?: string;
}

export function reportSeriesUid(p: OutputProvenance): string {
  return outputUid(p, 'report/series');
}

const FINDING_CORE = new Set(['id', 'kind', 'centerMm', 'probability', 'label', 'reasons']);

function findingGroup(f: SrFinding, input: FindingsReportInput): Item {
  const p = input.provenance;
  const items: Item[] = [
    text('CONTAINS', DCM.trackingIdentifier, f.id),
    { RelationshipType: 'CONTAINS', ValueType: 'UIDREF', ConceptNameCodeSequence: [DCM.trackingUid], UID: outputUid(p, `finding/${f.id}`) },
    text('CONTAINS', DCM.finding, f.kind),
    num('CONTAINS', privateCode('probability', 'Probability the finding is real (calibrated)'), f.probability, { code: '1', meaning: 'no units' }),
  ];
  ['L', 'P', 'S'].forEach((axis, n) => items.push(num('CONTAINS', privateCode(`centerMm.${axis}`, `Centre, patient ${axis} (LPS)`), f.centerMm[n] ?? 0, { code: 'mm', meaning: 'millimeter' })));
  for (const r of f.reasons ?? []) items.push(text('CONTAINS', privateCode('reason', 'Reason flagged'), r));
  for (const [k, v] of Object.entries(f)) if (!FINDING_CORE.has(k)) valueItems(v, [k], items);
  const sop = input.keyImages?.[f.id];
  if (sop) {
    items.push({ RelationshipType: 'CONTAINS', ValueType: 'IMAGE', ConceptNameCodeSequence: [privateCode('keyImage', 'Key image')], ReferencedSOPSequence: [{ ReferencedSOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE, ReferencedSOPInstanceUID: sop }] });
  }
  return container('CONTAINS', DCM.measurementGroup, items);
}

/** The Comprehensive SR dataset of one result. */
export function buildFindingsReport(input: FindingsReportInput): DicomDataset {
  const p = input.provenance;
  const { date, time } = dicomDateTime(p.createdAt);
  const device: Item[] = [
    { RelationshipType: 'HAS OBS CONTEXT', ValueType: 'CODE', ConceptNameCodeSequence: [DCM.observerType], ConceptCodeSequence: [DCM.device] },
    { RelationshipType: 'HAS OBS CONTEXT', ValueType: 'UIDREF', ConceptNameCodeSequence: [DCM.deviceObserverUid], UID: outputUid({ resultId: 'device' }, `${p.analysisId}/${p.analysisVersion}`) },
    text('HAS OBS CONTEXT', DCM.deviceObserverName, `SecondReader ${p.analysisId}`),
    text('HAS OBS CONTEXT', DCM.deviceObserverManufacturer, 'SecondReader'),
    text('HAS OBS CONTEXT', DCM.deviceObserverModelName, `${p.analysisId} ${p.analysisVersion}`),
  ];
  const findings = input.findings.length > 0
    ? input.findings.map((f) => findingGroup(f, input))
    : [text('CONTAINS', privateCode('noFindings', 'No findings'), input.status === 'ok' ? 'The analysis reported no findings.' : `Analysis ${input.status}${input.reason ? `: ${input.reason}` : ''}.`)];
  const content: Item[] = [
    ...device,
    text('CONTAINS', privateCode('disclaimer', 'Disclaimer'), DISCLAIMER),
    text('CONTAINS', DCM.algorithmName, p.analysisId),
    text('CONTAINS', DCM.algorithmVersion, p.analysisVersion),
    text('CONTAINS', privateCode('resultId', 'SecondReader result id'), p.resultId),
    text('CONTAINS', privateCode('status', 'Analysis status'), input.status),
    ...(input.reason ? [text('CONTAINS', privateCode('reason', 'Reason'), input.reason)] : []),
    container('CONTAINS', privateCode('findings', 'Findings'), findings),
  ];
  const studyMeasurements = valueItems(input.measurements, []);
  if (studyMeasurements.length > 0) content.push(container('CONTAINS', privateCode('measurements', 'Study measurements'), studyMeasurements));

  const sourceClass = typeof input.source.attributes['SOPClassUID'] === 'string' ? input.source.attributes['SOPClassUID'] : undefined;
  const slices = [...new Set(input.source.sliceSopInstanceUids ?? [])];
  const keyImageSops = Object.values(input.keyImages ?? {});
  const ds: DicomDataset = {
    ...sopCommon(p, COMPREHENSIVE_SR_STORAGE, outputUid(p, 'report/sr')),
    ...patientStudyModules(input.source),
    // SR Document Series
    Modality: 'SR',
    SeriesInstanceUID: reportSeriesUid(p),
    SeriesNumber: SR_SERIES_NUMBER,
    SeriesDescription: `AI findings ${p.analysisId} ${p.analysisVersion} (${DISCLAIMER_SHORT})`.slice(0, 64),
    SeriesDate: date,
    SeriesTime: time,
    ReferencedPerformedProcedureStepSequence: [],
    ...equipmentModule(p),
    // SR Document General: UNVERIFIED, because no person has verified an AI result.
    InstanceNumber: 1,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ContentDate: date,
    ContentTime: time,
    PerformedProcedureCodeSequence: [],
    ...(sourceClass && slices.length > 0
      ? { CurrentRequestedProcedureEvidenceSequence: [{ StudyInstanceUID: input.source.studyInstanceUid, ReferencedSeriesSequence: [{ SeriesInstanceUID: input.source.seriesInstanceUid, ReferencedSOPSequence: slices.map((uid) => ({ ReferencedSOPClassUID: sourceClass, ReferencedSOPInstanceUID: uid })) }] }] }
      : {}),
    ...(keyImageSops.length > 0 && input.keyImageSeriesUid
      ? { PertinentOtherEvidenceSequence: [{ StudyInstanceUID: input.source.studyInstanceUid, ReferencedSeriesSequence: [{ SeriesInstanceUID: input.keyImageSeriesUid, ReferencedSOPSequence: keyImageSops.map((uid) => ({ ReferencedSOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE, ReferencedSOPInstanceUID: uid })) }] }] }
      : {}),
    // SR Document Content (root)
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [DCM.imagingMeasurementReport],
    ContinuityOfContent: 'SEPARATE',
    ContentSequence: content,
    CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: PRIVATE_SCHEME, CodingSchemeName: 'SecondReader result keys', CodingSchemeResponsibleOrganization: 'SecondReader project' }],
  };
  return withCharset(ds);
}
