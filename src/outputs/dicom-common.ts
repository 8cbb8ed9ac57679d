/**
 * What every DICOM object we derive from a result shares: the patient and study of the source series (copied, so
 * a PACS files the objects with the study they belong to), our equipment, deterministic UIDs, dates, charset.
 */
import { ASSISTIVE_DISCLAIMER, GENERATOR } from '../core/index.ts';
import { getString, uidFromString } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';

export const MANUFACTURER = 'SecondReader';
export const DISCLAIMER = ASSISTIVE_DISCLAIMER;
/** The short form burned into pixels and put in descriptions. */
export const DISCLAIMER_SHORT = 'ASSISTIVE - NOT A DIAGNOSIS';

/** Who made the object, from what: the result, its analysis and version, and when it ran. */
export interface OutputProvenance {
  readonly resultId: string;
  readonly analysisId: string;
  readonly analysisVersion: string;
  /** When the analysis ran (ISO 8601): content date/time of every object, so a re-run of the same inputs at the same time writes the same bytes. */
  readonly createdAt: string;
}

/** The source series the result was computed from. */
export interface OutputSource {
  /** Header of a representative source instance (patient, study, series attributes). */
  readonly attributes: DicomDataset;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** SOPInstanceUID of each k slice of the analysed volume, when known. */
  readonly sliceSopInstanceUids?: readonly string[];
  /** Notes on how the volume was built (resampled for tilt, uneven spacing...). */
  readonly volumeNotes?: readonly string[];
}

/**
 * A deterministic UID per (result, object): a re-run of the same (analysis, version, series) keeps its result id
 * (the archive upserts it), so its objects get the same UIDs and replace the previous ones instead of piling up.
 * Same 2.25 derivation as every UID we make (src/dicom uidFromString).
 */
export function outputUid(p: Pick<OutputProvenance, 'resultId'>, object: string): string {
  return uidFromString(`${GENERATOR.name}/outputs/${p.resultId}/${object}`);
}

/** ISO 8601 → DICOM DA / TM in UTC (TimezoneOffsetFromUTC +0000 says so). */
export function dicomDateTime(iso: string): { date: string; time: string } {
  const d = new Date(iso);
  const t = Number.isNaN(d.getTime()) ? new Date(0) : d;
  const s = t.toISOString(); // 2026-01-02T03:04:05.678Z
  return { date: s.slice(0, 10).replace(/-/g, ''), time: `${s.slice(11, 19).replace(/:/g, '')}.${s.slice(20, 23)}` };
}

const PATIENT_KEYS = ['PatientID', 'IssuerOfPatientID', 'PatientBirthDate', 'PatientSex'] as const;
const STUDY_KEYS = ['StudyDate', 'StudyTime', 'StudyID', 'AccessionNumber', 'StudyDescription'] as const;

/** Patient, General Study and Patient Study modules, copied from the source (Type 2 attributes present, maybe empty). */
export function patientStudyModules(source: OutputSource): DicomDataset {
  const a = source.attributes;
  const ds: DicomDataset = {
    PatientName: a['PatientName'] ?? '',
    ReferringPhysicianName: a['ReferringPhysicianName'] ?? '',
    StudyInstanceUID: source.studyInstanceUid,
  };
  for (const k of PATIENT_KEYS) ds[k] = getString(a, k) ?? '';
  for (const k of STUDY_KEYS) ds[k] = getString(a, k) ?? '';
  if (ds['IssuerOfPatientID'] === '') delete ds['IssuerOfPatientID'];
  if (ds['StudyDescription'] === '') delete ds['StudyDescription'];
  const age = getString(a, 'PatientAge');
  if (age) ds['PatientAge'] = age;
  return ds;
}

/**
 * General Series attributes that follow the source: the body part, and Laterality (Type 2C: needed for paired
 * body parts; present and empty when the body part is unknown, so a validator does not have to guess).
 */
export function seriesFromSource(source: OutputSource): DicomDataset {
  const body = getString(source.attributes, 'BodyPartExamined');
  const laterality = getString(source.attributes, 'Laterality');
  return { ...(body ? { BodyPartExamined: body } : {}), ...(laterality ? { Laterality: laterality } : body ? {} : { Laterality: '' }) };
}

/**
 * General Equipment + Enhanced General Equipment (SEG and Comprehensive 3D SR need the latter: DeviceSerialNumber is
 * Type 1 there): our name, the analysis as the model, analysis and engine versions. Software has no serial number:
 * the analysis id and version stand for it.
 */
export function equipmentModule(p: OutputProvenance): DicomDataset {
  return {
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: p.analysisId.slice(0, 64),
    DeviceSerialNumber: `${p.analysisId}@${p.analysisVersion}`.slice(0, 64),
    SoftwareVersions: [`${p.analysisId} ${p.analysisVersion}`.slice(0, 64), `${GENERATOR.name} ${GENERATOR.version}`.slice(0, 64)],
  };
}

/** SOP Common: charset (UTF-8 only when some text needs it), creation date/time, time zone. */
export function sopCommon(p: OutputProvenance, sopClassUid: string, sopInstanceUid: string): DicomDataset {
  const { date, time } = dicomDateTime(p.createdAt);
  return { SOPClassUID: sopClassUid, SOPInstanceUID: sopInstanceUid, InstanceCreationDate: date, InstanceCreationTime: time, TimezoneOffsetFromUTC: '+0000' };
}

function hasNonAscii(v: unknown): boolean {
  if (typeof v === 'string') return [...v].some((c) => c.charCodeAt(0) > 0x7f);
  if (Array.isArray(v)) return v.some(hasNonAscii);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array) && !(v instanceof ArrayBuffer)) return Object.values(v).some(hasNonAscii);
  return false;
}

/** dcmjs writes strings as UTF-8: declare ISO_IR 192 when any value needs more than the default repertoire. */
export function withCharset(ds: DicomDataset): DicomDataset {
  return hasNonAscii(ds) ? { SpecificCharacterSet: 'ISO_IR 192', ...ds } : ds;
}

const FOLD: Readonly<Record<string, string>> = {
  '³': '3', '²': '2', '±': '+/-', '×': 'x', '≥': '>=', '≤': '<=', '−': '-', '–': '-', '—': '-', '°': ' deg', 'µ': 'u', 'μ': 'u', '…': '...', '’': "'", '‘': "'", '“': '"', '”': '"',
  '≈': '~', '→': '->', '↔': '<->', '·': '*', '√': 'sqrt', '≫': '>>', '≪': '<<', '∗': '*', 'θ': 'theta', 'Σ': 'Sum',
  'α': 'alpha', 'β': 'beta', 'γ': 'gamma', 'δ': 'delta', 'Δ': 'delta', 'λ': 'lambda', 'σ': 'sigma',
};

/**
 * Text we write inside sequences (SR content items, SEG segment descriptions) in the default repertoire where a
 * plain equivalent exists (mm³ → mm3, ± → +/-, é → e): dcmjs (0.52, used by OHIF) decodes strings nested in
 * sequences as Latin-1 whatever SpecificCharacterSet says (dcmjs-org/dcmjs issues #503, #508), so UTF-8 there
 * would show as mojibake. Characters with no plain form (e.g. CJK) stay UTF-8, which the standard allows.
 */
export function portableText(text: string): string {
  return [...text].map((c) => {
    if (c.charCodeAt(0) < 0x80) return c;
    const folded = FOLD[c] ?? c.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
    // Only a plain ASCII result replaces the character (Hangul, CJK... are kept, not decomposed).
    return /^[\x20-\x7e]+$/.test(folded) ? folded : c;
  }).join('');
}

/** PatientOrientation letters for a direction (PS3.3 C.7.6.1.1.1): dominant LPS components, strongest first. */
export function orientationLetters(v: readonly number[]): string {
  const letters: [number, string][] = [
    [v[0] ?? 0, (v[0] ?? 0) >= 0 ? 'L' : 'R'],
    [v[1] ?? 0, (v[1] ?? 0) >= 0 ? 'P' : 'A'],
    [v[2] ?? 0, (v[2] ?? 0) >= 0 ? 'H' : 'F'],
  ];
  return letters.filter(([c]) => Math.abs(c) > 0.25).sort((a, b) => Math.abs(b[0]) - Math.abs(a[0])).map(([, l]) => l).join('') || 'L';
}
