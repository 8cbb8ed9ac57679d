export * from './png.ts';
export * from './slice-image.ts';
export { buildClinicalReport, FLEISCHNER_CITATION, LUNG_RADS_CITATION, unitOf } from './clinical-report.ts';
export type {
  ClinicalReport, ClinicalReportInput, Guideline, ImpressionItem, MeasurementValue, PriorComparisonInput, PriorComparisonItem, Recommendation,
  ReportAlgorithm, ReportFinding, ReportMeasurement, ReportPatient, ReportResultInput, ReportSignature, ReportStudy, ReviewDecision,
  ReviewDecisionKind,
} from './clinical-report.ts';
export { renderReportHtml, esc as escapeHtml } from './report-html.ts';
export type { RenderHtmlOptions } from './report-html.ts';
export { renderReportPdf, withReportPage, chromiumAvailable, CHROMIUM_PATH } from './report-pdf.ts';
export type { ReportPage } from './report-pdf.ts';
export { chooseReportLanguage, isReportLanguage, REPORT_LANGUAGES, t as reportText } from './i18n.ts';
export type { LanguageChoice, MessageKey, ReportLanguage } from './i18n.ts';
export { renderFindingCropPng, renderFindingCropRgb, pngDataUri } from './key-image-crop.ts';
export type { FindingCropOptions } from './key-image-crop.ts';
export { buildFhirBundle, LUNG_RADS_SYSTEM, SECONDREADER_SYSTEM } from './fhir.ts';
export type { FhirBundle, FhirOptions, FhirResource } from './fhir.ts';
export { writeHumanOutputs } from './human-outputs.ts';
export type { HumanOutputsOptions, HumanOutputsWritten } from './human-outputs.ts';
export { configuredReportLanguage, keyImageCrops, languageFor, studyHeaderFrom, windowForKind } from './study-input.ts';
export type { StudyHeader } from './study-input.ts';
