/**
 * The findings as a Comprehensive 3D SR (PS3.3 A.35.13) following PS3.16 TID 1500 "Measurement Report":
 *
 *   Imaging Measurement Report (126000 DCM)                          TID 1500
 *   ├ Language of Content Item and Descendants = en-US               TID 1204
 *   ├ Observer Type = Device, Device Observer UID/Name/Manufacturer/Model   TID 1002 / 1004
 *   ├ Procedure reported = CT Chest / CT Head (LOINC, CID 100)
 *   ├ Image Library: the source slices                               TID 1600
 *   ├ Imaging Measurements
 *   │  ├ Measurement Group per finding                               TID 1411 (TID 1501 when it has no segment)
 *   │  │   Tracking Identifier + Tracking UID (= the SEG segment's), Finding (SCT), Referenced Segment (SEG
 *   │  │   instance + segment number), Source series for segmentation, Illustration of ROI (key image),
 *   │  │   Finding Site, measurements (TID 1419: long / short axis, diameter, volume, CT number with UCUM units,
 *   │  │   each with Algorithm Name / Version, TID 4019 per IHE AI Results), qualitative evaluations (nodule type,
 *   │  │   bleed type), AI probability, reasons, and the centre as a SCOORD3D POINT in the source Frame of Reference
 *   │  └ Measurement Group "study" (TID 1501): midline shift, total bleed volume
 *   └ Qualitative Evaluations: Lung-RADS category (+ driving finding), triage, mass effect, status, disclaimer
 *
 * VerificationFlag UNVERIFIED: no person has verified an AI result. Codes: src/outputs/codes.ts, docs/outputs.md.
 */
import { formatDS, getString } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { codeItem, containerItem, imageItem, numItem, scoord3dItem, textItem, uidRefItem } from '../dicom/sr-content.ts';
import type { CodedEntry, SrItem } from '../dicom/sr-content.ts';
import { SEGMENTATION_STORAGE } from '../dicom/seg.ts';
import { shownByFollowUp } from '../engine/findings.ts';
import { BLEED_TYPE, DOC, ENGLISH_US, MEASURE, NO, PRIVATE, PRIVATE_SCHEME, PROCEDURE, SITE, UNIT, valueCode, YES } from './codes.ts';
import { DISCLAIMER, DISCLAIMER_SHORT, dicomDateTime, equipmentModule, outputUid, patientStudyModules, portableText, sopCommon, withCharset } from './dicom-common.ts';
import type { OutputProvenance, OutputSource } from './dicom-common.ts';
import { SECONDARY_CAPTURE_IMAGE_STORAGE } from './secondary-capture.ts';
import { findingCoding, trackingUid } from './segmentation.ts';

export const COMPREHENSIVE_3D_SR_STORAGE = '1.2.840.10008.5.1.4.1.1.88.34';
export const SR_SERIES_NUMBER = 9902;
export { PRIVATE_SCHEME };

export interface SrFinding {
  readonly id: string;
  readonly kind: string;
  readonly centerMm: readonly [number, number, number];
  readonly probability: number;
  readonly label?: number;
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
  /** The result's SEG: its instance and series, and finding id → segment number. */
  readonly segmentation?: { readonly sopInstanceUid: string; readonly seriesInstanceUid: string; readonly segments: ReadonlyMap<string, number> };
}

export function reportSeriesUid(p: OutputProvenance): string {
  return outputUid(p, 'report/series');
}

function rec(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** A value of the finding itself or of its `measurements` object. */
function field(f: SrFinding, key: string): unknown {
  return f[key] ?? rec(f['measurements'])?.[key];
}

interface Measured {
  readonly name: CodedEntry;
  readonly value: number;
  readonly unit: CodedEntry;
  readonly derivation?: CodedEntry;
}

/** Finding fields → TID 1419 measurements (key names follow findings.json: docs/findings.schema.json). */
function measurementsOf(f: SrFinding, brock: number | undefined): Measured[] {
  const out: Measured[] = [];
  const add = (key: string | readonly string[], name: CodedEntry, unit: CodedEntry, derivation?: CodedEntry) => {
    for (const k of typeof key === 'string' ? [key] : key) {
      const v = finite(field(f, k));
      if (v !== undefined) {
        out.push({ name, value: v, unit, ...(derivation ? { derivation } : {}) });
        return;
      }
    }
  };
  add('longAxisMm', MEASURE.longAxis, UNIT.mm);
  add('shortAxisMm', MEASURE.shortAxis, UNIT.mm);
  add(['meanDiameterMm', 'diameterMm'], MEASURE.diameter, UNIT.mm, MEASURE.mean);
  add('maxDiameter3dMm', MEASURE.diameter, UNIT.mm, MEASURE.maximum);
  add('solidComponentMeanDiameterMm', PRIVATE.solidComponent, UNIT.mm);
  add('volumeMm3', MEASURE.volume, UNIT.mm3);
  add('volumeMl', MEASURE.volume, UNIT.ml);
  add('abc2VolumeMl', MEASURE.volumeOfEllipsoid, UNIT.ml);
  add('thicknessMm', PRIVATE.thickness, UNIT.mm, MEASURE.maximum);
  add('meanHu', MEASURE.attenuation, UNIT.hu, MEASURE.mean);
  add('sdHu', MEASURE.attenuation, UNIT.hu, MEASURE.standardDeviation);
  // Brock (PanCan) is a probability of malignancy in %, McWilliams et al., NEJM 2013.
  if (brock !== undefined) out.push({ name: PRIVATE.brock, value: Math.round(brock * 10000) / 100, unit: UNIT.percent });
  out.push({ name: PRIVATE.probability, value: f.probability, unit: UNIT.ratio });
  return out;
}

function algorithm(p: OutputProvenance): SrItem[] {
  // TID 4019 Algorithm Identification, included by each measurement (HAS CONCEPT MOD), as IHE AI Results asks.
  return [textItem('HAS CONCEPT MOD', DOC.algorithmName, p.analysisId), textItem('HAS CONCEPT MOD', DOC.algorithmVersion, p.analysisVersion)];
}

function measurementItem(m: Measured, p: OutputProvenance): SrItem {
  return numItem('CONTAINS', m.name, m.value, m.unit, [
    ...(m.derivation ? [codeItem('HAS CONCEPT MOD', DOC.derivation, m.derivation)] : []),
    ...algorithm(p),
  ]);
}

function findingSite(f: SrFinding): CodedEntry | undefined {
  const c = findingCoding(f);
  if (c.region === SITE.lung) return c.regionModifier === SITE.left ? SITE.leftLung : c.regionModifier === SITE.right ? SITE.rightLung : SITE.lung;
  return c.region;
}

function findingGroup(f: SrFinding, input: FindingsReportInput, brock: number | undefined): SrItem {
  const p = input.provenance;
  const seg = input.segmentation;
  const segment = seg?.segments.get(f.id);
  const coding = findingCoding(f);
  const site = findingSite(f);
  const frameOfReference = getString(input.source.attributes, 'FrameOfReferenceUID');
  const noduleType = str(field(f, 'noduleType'));
  const bleedType = str(field(f, 'bleedType')) ?? (f.kind === 'hemorrhage' ? str(field(f, 'type')) : undefined);
  const keyImage = input.keyImages?.[f.id];
  const items: SrItem[] = [
    textItem('HAS OBS CONTEXT', DOC.trackingIdentifier, f.id),
    uidRefItem('HAS OBS CONTEXT', DOC.trackingUid, trackingUid(p, f.id)),
    codeItem('CONTAINS', DOC.finding, coding.type),
    ...(seg && segment !== undefined
      ? [
        imageItem('CONTAINS', DOC.referencedSegment, { sopClassUid: SEGMENTATION_STORAGE, sopInstanceUid: seg.sopInstanceUid, segmentNumbers: [segment] }),
        uidRefItem('CONTAINS', DOC.sourceSeriesForSegmentation, input.source.seriesInstanceUid),
      ]
      : []),
    ...(keyImage ? [imageItem('CONTAINS', DOC.illustrationOfRoi, { sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, sopInstanceUid: keyImage })] : []),
    ...(site ? [codeItem('HAS CONCEPT MOD', DOC.findingSite, site)] : []),
    ...measurementsOf(f, brock).map((m) => measurementItem(m, p)),
    ...(noduleType ? [codeItem('CONTAINS', PRIVATE.noduleType, valueCode('nt', noduleType, `${noduleType} nodule`))] : []),
    ...(bleedType ? [codeItem('CONTAINS', PRIVATE.bleedType, BLEED_TYPE[bleedType] ?? valueCode('bleed', bleedType, `${bleedType} hemorrhage`))] : []),
    ...(f.reasons ?? []).map((r) => textItem('CONTAINS', PRIVATE.reason, portableText(r).slice(0, 1024))),
    ...(frameOfReference ? [scoord3dItem('CONTAINS', DOC.center, 'POINT', [[f.centerMm[0], f.centerMm[1], f.centerMm[2]]], frameOfReference)] : []),
  ];
  // TID 1411 needs a Referenced Segment (or surface / region); without one the group is a TID 1501 group.
  return containerItem('CONTAINS', DOC.measurementGroup, items, seg && segment !== undefined ? '1411' : '1501');
}

/**
 * The findings the report states. An analysis with a display threshold (chest-ct-nodules: candidates below it get
 * no label, no key image and no Lung-RADS weight) keeps its sub-threshold candidates in findings.json for FROC and
 * review; the SR, which a PACS shows as findings, lists only those at or above the threshold, and those a follow-up
 * comparison shows (shownByFollowUp), and says how many it left out.
 */
export function reportedFindings(input: Pick<FindingsReportInput, 'findings' | 'measurements'>): readonly SrFinding[] {
  const threshold = finite(input.measurements['displayThreshold']);
  return threshold === undefined ? input.findings : input.findings.filter((f) => f.label !== undefined || f.probability >= threshold || shownByFollowUp(f));
}

/** Study measurements that have numbers: a TID 1501 group of its own (midline shift, total bleed volume). */
function studyGroup(input: FindingsReportInput): SrItem | undefined {
  const p = input.provenance;
  const m = input.measurements;
  const items: SrItem[] = [];
  const shift = finite(m['midlineShiftMm']);
  if (shift !== undefined) {
    const towards = str(m['midlineShiftTowards']);
    items.push(numItem('CONTAINS', PRIVATE.midlineShift, shift, UNIT.mm, [
      ...(towards ? [codeItem('HAS CONCEPT MOD', PRIVATE.midlineShiftTowards, towards === 'left' ? SITE.left : SITE.right)] : []),
      ...algorithm(p),
    ]));
  }
  const total = finite(m['hemorrhageVolumeMl']);
  if (total !== undefined) items.push(numItem('CONTAINS', PRIVATE.totalBleedVolume, total, UNIT.ml, algorithm(p)));
  if (items.length === 0) return undefined;
  return containerItem('CONTAINS', DOC.measurementGroup, [
    textItem('HAS OBS CONTEXT', DOC.trackingIdentifier, 'study'),
    uidRefItem('HAS OBS CONTEXT', DOC.trackingUid, trackingUid(p, 'study')),
    codeItem('CONTAINS', DOC.finding, PRIVATE.studyGroup),
    ...items,
  ], '1501');
}

/** Categories and flags of the whole study (TID 1500 row 12, Qualitative Evaluations). */
function qualitative(input: FindingsReportInput): SrItem[] {
  const m = input.measurements;
  const out: SrItem[] = [];
  const lr = rec(m['lungRads']);
  const category = str(lr?.['category']);
  if (category) {
    const driver = str(lr?.['drivingFindingId']);
    out.push(codeItem('CONTAINS', PRIVATE.lungRads, valueCode('lr', category, `Lung-RADS ${category}`), driver ? [textItem('HAS PROPERTIES', PRIVATE.lungRadsDriver, driver)] : undefined));
  }
  const triage = str(m['triagePriority']);
  if (triage) out.push(codeItem('CONTAINS', PRIVATE.triage, valueCode('triage', triage, triage)));
  if (typeof m['massEffect'] === 'boolean') out.push(codeItem('CONTAINS', PRIVATE.massEffect, m['massEffect'] ? YES : NO));
  const left = input.findings.length - reportedFindings(input).length;
  if (left > 0) out.push(textItem('CONTAINS', PRIVATE.belowThreshold, `${left} candidate(s) below the display threshold ${formatDS(finite(m['displayThreshold']) ?? 0)} are listed in the result (findings.json) only.`));
  out.push(textItem('CONTAINS', PRIVATE.status, input.status));
  if (input.reason) out.push(textItem('CONTAINS', PRIVATE.reason, portableText(input.reason).slice(0, 1024)));
  if (input.findings.length === 0) out.push(textItem('CONTAINS', PRIVATE.noFindings, input.status === 'ok' ? 'The analysis reported no findings.' : `Analysis ${input.status}${input.reason ? `: ${portableText(input.reason)}` : ''}.`));
  out.push(textItem('CONTAINS', PRIVATE.disclaimer, DISCLAIMER));
  out.push(textItem('CONTAINS', PRIVATE.resultId, input.provenance.resultId));
  return out;
}

function procedure(p: OutputProvenance, source: OutputSource): CodedEntry {
  const body = (getString(source.attributes, 'BodyPartExamined') ?? '').toUpperCase();
  if (p.analysisId.startsWith('chest-') || body === 'CHEST' || body === 'LUNG') return PROCEDURE.ctChest;
  if (p.analysisId.startsWith('head-') || body === 'HEAD' || body === 'BRAIN') return PROCEDURE.ctHead;
  return PROCEDURE.ctUnspecified;
}

/** The Comprehensive 3D SR (TID 1500) dataset of one result. */
export function buildFindingsReport(input: FindingsReportInput): DicomDataset {
  const p = input.provenance;
  const { date, time } = dicomDateTime(p.createdAt);
  const perNodule = rec(rec(input.measurements['brock'])?.['perNodule']);
  const brockOf = (id: string) => finite(rec(perNodule?.[id])?.['probability']);
  const sourceClass = getString(input.source.attributes, 'SOPClassUID');
  const slices = [...new Set(input.source.sliceSopInstanceUids ?? [])];
  // TID 1601 row 1: an Image Library Entry is an IMAGE without a concept name.
  const library: SrItem[] = sourceClass ? slices.map((uid) => ({ RelationshipType: 'CONTAINS', ValueType: 'IMAGE', ReferencedSOPSequence: [{ ReferencedSOPClassUID: sourceClass, ReferencedSOPInstanceUID: uid }] })) : [];
  const groups = reportedFindings(input).map((f) => findingGroup(f, input, brockOf(f.id)));
  const study = studyGroup(input);
  if (study) groups.push(study);
  const content: SrItem[] = [
    codeItem('HAS CONCEPT MOD', DOC.languageOfContent, ENGLISH_US),
    codeItem('HAS OBS CONTEXT', DOC.observerType, DOC.device),
    uidRefItem('HAS OBS CONTEXT', DOC.deviceObserverUid, outputUid({ resultId: 'device' }, `${p.analysisId}/${p.analysisVersion}`)),
    textItem('HAS OBS CONTEXT', DOC.deviceObserverName, `SecondReader ${p.analysisId}`),
    textItem('HAS OBS CONTEXT', DOC.deviceObserverManufacturer, 'SecondReader'),
    textItem('HAS OBS CONTEXT', DOC.deviceObserverModelName, `${p.analysisId} ${p.analysisVersion}`),
    codeItem('HAS CONCEPT MOD', DOC.procedureReported, procedure(p, input.source)),
    containerItem('CONTAINS', DOC.imageLibrary, library.length > 0 ? [containerItem('CONTAINS', DOC.imageLibraryGroup, library)] : []),
    containerItem('CONTAINS', DOC.imagingMeasurements, groups),
    containerItem('CONTAINS', DOC.qualitativeEvaluations, qualitative(input)),
  ];
  const keyImageSops = Object.values(input.keyImages ?? {});
  const other: DicomDataset[] = [];
  if (input.segmentation) other.push({ SeriesInstanceUID: input.segmentation.seriesInstanceUid, ReferencedSOPSequence: [{ ReferencedSOPClassUID: SEGMENTATION_STORAGE, ReferencedSOPInstanceUID: input.segmentation.sopInstanceUid }] });
  if (keyImageSops.length > 0 && input.keyImageSeriesUid) other.push({ SeriesInstanceUID: input.keyImageSeriesUid, ReferencedSOPSequence: keyImageSops.map((uid) => ({ ReferencedSOPClassUID: SECONDARY_CAPTURE_IMAGE_STORAGE, ReferencedSOPInstanceUID: uid })) });
  const ds: DicomDataset = {
    ...sopCommon(p, COMPREHENSIVE_3D_SR_STORAGE, outputUid(p, 'report/sr')),
    ...patientStudyModules(input.source),
    // SR Document Series
    Modality: 'SR',
    SeriesInstanceUID: reportSeriesUid(p),
    SeriesNumber: SR_SERIES_NUMBER,
    SeriesDescription: `AI measurements ${p.analysisId} ${p.analysisVersion} (${DISCLAIMER_SHORT})`.slice(0, 64),
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
    ...(other.length > 0 ? { PertinentOtherEvidenceSequence: [{ StudyInstanceUID: input.source.studyInstanceUid, ReferencedSeriesSequence: other }] } : {}),
    // SR Document Content (root): TID 1500.
    ...containerItem(undefined, DOC.imagingMeasurementReport, content, '1500'),
    CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: PRIVATE_SCHEME, CodingSchemeName: 'SecondReader private codes', CodingSchemeResponsibleOrganization: 'SecondReader project' }],
  };
  return withCharset(ds);
}
