/**
 * The coded concepts of our SEG and SR objects. Standard codes where PS3.16 (DICOM Content Mapping Resource) or
 * SNOMED CT has one; where none exists (Lung-RADS category, Brock probability, midline shift, nodule type...), a
 * private code of our coding scheme 99SECONDREADER (PS3.16 Section 8.2: designators beginning "99" are private),
 * declared in each SR's CodingSchemeIdentificationSequence. docs/outputs.md lists them all.
 */
import { createHash } from 'node:crypto';
import { codedEntry, ucum } from '../dicom/sr-content.ts';
import type { CodedEntry } from '../dicom/sr-content.ts';

export type { CodedEntry };

/** Private coding scheme designator (SH, ≤ 16 characters; PS3.16 8.2 "99" prefix). */
export const PRIVATE_SCHEME = '99SECONDREADER';

/** A private code; CodeValue is SH (16 characters): longer keys get a stable hash. */
export function privateCode(key: string, meaning = key): CodedEntry {
  const value = key.length <= 16 && /^[\x20-\x7e]+$/.test(key) && !key.includes('\\') ? key : `H${createHash('sha256').update(key).digest('hex').slice(0, 15)}`;
  return codedEntry(value, PRIVATE_SCHEME, meaning);
}

const sct = (v: string, m: string) => codedEntry(v, 'SCT', m);
const dcm = (v: string, m: string) => codedEntry(v, 'DCM', m);

/** Document structure (PS3.16 TID 1500, 1204, 1001/1002/1004, 1411, 1419, 1501, 4019). */
export const DOC = {
  imagingMeasurementReport: dcm('126000', 'Imaging Measurement Report'), // TID 1500 row 1, CID 7021
  languageOfContent: dcm('121049', 'Language of Content Item and Descendants'), // TID 1204 row 1
  procedureReported: dcm('121058', 'Procedure reported'), // TID 1500 row 4
  imageLibrary: dcm('111028', 'Image Library'), // TID 1500 row 5
  imageLibraryGroup: dcm('126200', 'Image Library Group'), // TID 1600 row 2
  imagingMeasurements: dcm('126010', 'Imaging Measurements'), // TID 1500 row 6
  qualitativeEvaluations: codedEntry('C0034375', 'UMLS', 'Qualitative Evaluations'), // TID 1500 row 12
  measurementGroup: dcm('125007', 'Measurement Group'), // TID 1411 / 1501 row 1
  trackingIdentifier: dcm('112039', 'Tracking Identifier'), // TID 4108 / 1411 row 2
  trackingUid: dcm('112040', 'Tracking Unique Identifier'), // TID 1411 row 3
  finding: dcm('121071', 'Finding'), // TID 1411 row 3b
  referencedSegment: dcm('121191', 'Referenced Segment'), // TID 1411 row 7
  sourceSeriesForSegmentation: dcm('121232', 'Source series for segmentation'), // TID 1411 row 12
  illustrationOfRoi: dcm('121200', 'Illustration of ROI'), // TID 1411 row 13 (our key image)
  findingSite: sct('363698007', 'Finding Site'), // TID 1419 row 2
  derivation: dcm('121401', 'Derivation'), // TID 1419 row 8
  measurementMethod: sct('370129005', 'Measurement Method'), // TID 1419 row 7
  observerType: dcm('121005', 'Observer Type'), // TID 1002 row 1
  device: dcm('121007', 'Device'), // CID 270
  deviceObserverUid: dcm('121012', 'Device Observer UID'), // TID 1004 row 1
  deviceObserverName: dcm('121013', 'Device Observer Name'), // TID 1004 row 2
  deviceObserverManufacturer: dcm('121014', 'Device Observer Manufacturer'), // TID 1004 row 3
  deviceObserverModelName: dcm('121015', 'Device Observer Model Name'), // TID 1004 row 4
  algorithmName: dcm('111001', 'Algorithm Name'), // TID 4019 row 1 (IHE AIR algorithm identification)
  algorithmVersion: dcm('111003', 'Algorithm Version'), // TID 4019 row 2
  /** Not in TID 1411: an extension item (TID 1411 is extensible) for the finding's centre; Center from PS3.16 Annex D. */
  center: dcm('111010', 'Center'),
} as const;

/** RFC 5646 language (TID 1204, CID 5000). */
export const ENGLISH_US = codedEntry('en-US', 'RFC5646', 'English (United States)');

/** Procedure reported (TID 1500 row 4, CID 100 Quantitative Diagnostic Imaging Procedures: LOINC). */
export const PROCEDURE = {
  ctChest: codedEntry('24627-2', 'LN', 'CT Chest'),
  ctHead: codedEntry('24725-4', 'LN', 'CT Head'),
  ctUnspecified: codedEntry('25045-6', 'LN', 'CT unspecified body region'),
} as const;

/** Anatomy (SNOMED CT body structures; PS3.16 CID 4 / CID 7151 use the same concepts). */
export const SITE = {
  lung: sct('39607008', 'Lung'),
  leftLung: sct('44029006', 'Left lung'),
  rightLung: sct('3341006', 'Right lung'),
  brain: sct('12738006', 'Brain'),
  left: sct('7771000', 'Left'), // CID 244 Laterality
  right: sct('24028007', 'Right'),
} as const;

/** What a finding is (SEG segmented property / SR Finding). */
export const FINDING = {
  /** PS3.16 CID 7150 Segmentation Property Categories (SCT 49755003, DICOM's meaning "Morphologically Altered Structure"). */
  category: sct('49755003', 'Morphologically Altered Structure'),
  nodule: sct('27925004', 'Nodule'),
  hemorrhage: sct('50960005', 'Hemorrhage'),
} as const;

/**
 * Bleed type of a head CT finding. SNOMED CT where we know the concept: subarachnoid haemorrhage 21454007, subdural
 * haemorrhage 35486000, cerebral (intraparenchymal) haemorrhage 274100004; epidural and intraventricular stay
 * private rather than guessed.
 */
export const BLEED_TYPE: Readonly<Record<string, CodedEntry>> = {
  subarachnoid: sct('21454007', 'Subarachnoid hemorrhage'),
  subdural: sct('35486000', 'Subdural hemorrhage'),
  intraparenchymal: sct('274100004', 'Cerebral hemorrhage'),
  epidural: privateCode('bleed-epidural', 'Epidural hemorrhage'),
  intraventricular: privateCode('bleed-ivh', 'Intraventricular hemorrhage'),
};

/** Measurement concepts (TID 1419 row 5, CID 7469 Generic Intensity and Size Measurements) and modifiers. */
export const MEASURE = {
  longAxis: sct('103339001', 'Long Axis'),
  shortAxis: sct('103340004', 'Short Axis'),
  diameter: sct('81827009', 'Diameter'),
  volume: sct('118565006', 'Volume'),
  /** ABC/2 approximates the haematoma as an ellipsoid (Kothari 1996): CID 7469 "Volume of ellipsoid". */
  volumeOfEllipsoid: dcm('121221', 'Volume of ellipsoid'),
  /** CT number: CID 7180 "Attenuation Coefficient" in HU, with a Derivation modifier (Mean / Standard Deviation). */
  attenuation: dcm('112031', 'Attenuation Coefficient'),
  mean: sct('373098007', 'Mean'), // CID 7464 General Region of Interest Measurement Modifiers
  standardDeviation: sct('386136009', 'Standard Deviation'),
  maximum: sct('56851009', 'Maximum'),
} as const;

/** Concepts DICOM and SNOMED CT have no code for (private, 99SECONDREADER). */
export const PRIVATE = {
  probability: privateCode('probability', 'AI probability finding is real'),
  noduleType: privateCode('noduleType', 'Nodule type'),
  solidComponent: privateCode('solidDiameter', 'Solid component mean diameter'),
  lungRads: privateCode('lungRads', 'Lung-RADS v2022 category'),
  lungRadsDriver: privateCode('lungRadsDriver', 'Lung-RADS driving finding'),
  brock: privateCode('brock', 'Brock (PanCan) malignancy probability'),
  bleedType: privateCode('bleedType', 'Hemorrhage type'),
  thickness: privateCode('thickness', 'Thickness'),
  midlineShift: privateCode('midlineShift', 'Midline shift'),
  midlineShiftTowards: privateCode('midlineShiftDir', 'Midline shift towards'),
  totalBleedVolume: privateCode('bleedVolumeTotal', 'Total hemorrhage volume'),
  triage: privateCode('triage', 'Triage priority'),
  massEffect: privateCode('massEffect', 'Mass effect'),
  disclaimer: privateCode('disclaimer', 'Disclaimer'),
  status: privateCode('status', 'Analysis status'),
  reason: privateCode('reason', 'Reason flagged'),
  noFindings: privateCode('noFindings', 'No findings'),
  resultId: privateCode('resultId', 'SecondReader result id'),
  studyGroup: privateCode('study', 'Study-level assessment'),
  belowThreshold: privateCode('belowThreshold', 'Candidates below display threshold'),
} as const;

export const YES = sct('373066001', 'Yes'); // CID 230 Yes-No
export const NO = sct('373067005', 'No');

export const UNIT = {
  mm: ucum('mm', 'millimeter'),
  mm3: ucum('mm3', 'cubic millimeter'),
  ml: ucum('mL', 'milliliter'),
  hu: ucum("[hnsf'U]", 'Hounsfield unit'),
  ratio: ucum('1', 'no units'),
  percent: ucum('%', 'percent'),
} as const;

/** A private value code (nodule types `nt-solid`, Lung-RADS categories `lr-4A`, triage `triage-critical`): key `${kind}-${value}`. */
export function valueCode(kind: string, value: string, meaning: string): CodedEntry {
  return privateCode(`${kind}-${value}`, meaning);
}
