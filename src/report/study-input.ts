/**
 * From a study's DICOM header and its stored results to the report's input: the patient/study header (PN with
 * its ideographic component), the language the study's charset suggests, and the key-image crops rendered from
 * the volume + label map. Shared by `analyze --out` (human-outputs.ts) and the API (src/server/routes-report.ts).
 */
import { getString } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import type { AnalysisResultJson } from '../engine/findings.ts';
import { lpsToIjk } from '../imaging/index.ts';
import type { MaskVolume, Volume } from '../imaging/index.ts';
import type { ReportPatient, ReportStudy } from './clinical-report.ts';
import { chooseReportLanguage, isReportLanguage } from './i18n.ts';
import type { ReportLanguage } from './i18n.ts';
import { pngDataUri, renderFindingCropPng } from './key-image-crop.ts';

function pnComponent(ds: DicomDataset, keyword: string, component: 'Alphabetic' | 'Ideographic'): string | undefined {
  const v = Array.isArray(ds[keyword]) ? (ds[keyword] as unknown[])[0] : ds[keyword];
  if (typeof v === 'string') return component === 'Alphabetic' ? (v.split('=')[0] || undefined) : (v.split('=')[1] || undefined);
  if (v && typeof v === 'object') {
    const c = (v as Record<string, unknown>)[component];
    return typeof c === 'string' && c.length > 0 ? c : undefined;
  }
  return undefined;
}

export interface StudyHeader {
  readonly patient: ReportPatient;
  readonly study: ReportStudy;
}

/** Patient and study of a representative instance header. */
export function studyHeaderFrom(attributes: DicomDataset, studyInstanceUid: string): StudyHeader {
  const cs = attributes['SpecificCharacterSet'];
  const charset = Array.isArray(cs) ? cs.map(String).join('\\') : typeof cs === 'string' ? cs : undefined;
  return {
    patient: {
      name: pnComponent(attributes, 'PatientName', 'Alphabetic'), ideographicName: pnComponent(attributes, 'PatientName', 'Ideographic'),
      id: getString(attributes, 'PatientID'), birthDate: getString(attributes, 'PatientBirthDate'), sex: getString(attributes, 'PatientSex'),
      age: getString(attributes, 'PatientAge'),
    },
    study: {
      studyInstanceUid, accessionNumber: getString(attributes, 'AccessionNumber'), studyDate: getString(attributes, 'StudyDate'),
      studyTime: getString(attributes, 'StudyTime'), description: getString(attributes, 'StudyDescription'),
      referringPhysician: pnComponent(attributes, 'ReferringPhysicianName', 'Alphabetic'), institution: getString(attributes, 'InstitutionName'),
      specificCharacterSet: charset,
    },
  };
}

/** The site's report language from SECONDREADER_REPORT_LANG (en | zh), when set to one of them. */
export function configuredReportLanguage(env: NodeJS.ProcessEnv = process.env): ReportLanguage | undefined {
  const v = env['SECONDREADER_REPORT_LANG']?.trim().toLowerCase();
  return isReportLanguage(v) ? v : undefined;
}

/** Asked-for language (?lang=), else SECONDREADER_REPORT_LANG, else the study's charset and names (chooseReportLanguage). */
export function languageFor(h: StudyHeader, configured?: ReportLanguage): ReportLanguage {
  return chooseReportLanguage({
    configured: configured ?? configuredReportLanguage(), specificCharacterSet: h.study.specificCharacterSet,
    names: [h.patient.name, h.patient.ideographicName, h.study.institution, h.study.description],
  });
}

/** Display window per finding kind: lung window for nodules, the head analysis's brain window (40/80) for bleeds. */
export function windowForKind(kind: string | undefined): { center: number; width: number } {
  if (kind === 'lung-nodule') return { center: -600, width: 1500 }; // conventional lung window (W 1500 / L −600)
  if (kind === 'hemorrhage') return { center: 40, width: 80 }; // head-ct-hemorrhage manifest displayWindow
  return { center: 40, width: 400 };
}

/** Finding id → key-image crop (PNG data URI) for every labelled finding of a result. */
export function keyImageCrops(result: AnalysisResultJson, volume: Volume, mask: MaskVolume): Record<string, string> {
  const out: Record<string, string> = {};
  if (volume.dims.join() !== mask.dims.join()) return out;
  for (const f of result.findings) {
    if (f.label === undefined) continue;
    const k = Math.round(lpsToIjk(volume, f.centerMm)[2]);
    out[f.id] = pngDataUri(renderFindingCropPng({ volume, mask, label: f.label, k, window: windowForKind(f.kind) }));
  }
  return out;
}
