/**
 * `analyze --out DIR` → DIR/report.html, DIR/report.pdf, DIR/fhir.json beside findings.json (one study; with several
 * studies, report-<StudyInstanceUID>.html etc.). The DICOM headers are scanned again for the patient/study header
 * (findings.json carries no patient data), and each analysed series is decoded again for the key-image crops (the
 * volume is gone by the time findings.json is written). The PDF is skipped, with a logged reason, when chromium
 * is missing; a failure here never fails the analysis (logged, and the HTML/FHIR still written where possible).
 */
import { join } from 'node:path';
import { toSrError, writeFileAtomic, safeFileStem } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { scanPaths } from '../dicom/index.ts';
import { seriesInputs } from '../engine/series-source.ts';
import type { SeriesInputs } from '../engine/series-source.ts';
import type { FindingsDocument } from '../engine/findings.ts';
import { readNifti } from '../imaging/index.ts';
import type { MaskVolume } from '../imaging/index.ts';
import { buildClinicalReport } from './clinical-report.ts';
import type { ReportResultInput } from './clinical-report.ts';
import { buildFhirBundle } from './fhir.ts';
import type { ReportLanguage } from './i18n.ts';
import { renderReportHtml } from './report-html.ts';
import { chromiumAvailable, CHROMIUM_PATH, renderReportPdf } from './report-pdf.ts';
import { keyImageCrops, languageFor, studyHeaderFrom } from './study-input.ts';

export interface HumanOutputsOptions {
  readonly outDir: string;
  /** The DICOM files/folders analysed (scanned again for the header and the volumes). */
  readonly paths: readonly string[];
  readonly document: FindingsDocument;
  readonly log: Logger;
  /** Report language; default from the study's charset. */
  readonly language?: ReportLanguage;
  /** Default true; false skips the PDF (tests, machines without chromium). */
  readonly pdf?: boolean;
}

export interface HumanOutputsWritten {
  readonly files: string[];
  readonly skipped: string[];
}

export async function writeHumanOutputs(o: HumanOutputsOptions): Promise<HumanOutputsWritten> {
  const files: string[] = [];
  const skipped: string[] = [];
  const studies = [...new Set(o.document.analyses.map((a) => a.studyInstanceUid))];
  if (studies.length === 0) return { files, skipped };
  let inputs: SeriesInputs['inputs'] = [];
  try {
    inputs = seriesInputs(await scanPaths(o.paths)).inputs;
  } catch (e) {
    o.log.warn('report: DICOM headers could not be read again; the report has no patient header', { error: e instanceof Error ? e.message : String(e) });
  }
  for (const studyUid of studies) {
    const results = o.document.analyses.filter((a) => a.studyInstanceUid === studyUid);
    const stem = studies.length === 1 ? '' : `-${safeFileStem(studyUid)}`;
    try {
      const first = inputs.find((i) => i.header.studyInstanceUid === studyUid);
      const header = studyHeaderFrom(first?.header.attributes ?? {}, studyUid);
      const reportResults: ReportResultInput[] = [];
      // Two analyses of one series decode it once; the volumes of a study are dropped after its report.
      const volumes = new Map<string, ReturnType<SeriesInputs['inputs'][number]['loadVolume']>>();
      for (const r of results) {
        let keyImages: Record<string, string> | undefined;
        const input = inputs.find((i) => i.header.seriesInstanceUid === r.seriesInstanceUid);
        if (r.status === 'ok' && r.labelMap && input) {
          try {
            let pending = volumes.get(r.seriesInstanceUid);
            if (!pending) volumes.set(r.seriesInstanceUid, (pending = input.loadVolume(new AbortController().signal)));
            const [vol, nifti] = await Promise.all([pending, readNifti(join(o.outDir, ...r.labelMap.path.split('/')))]);
            keyImages = keyImageCrops(r, vol.volume, nifti.volume as MaskVolume);
          } catch (e) {
            o.log.warn('report: key images could not be rendered', { analysis: r.analysis, series: r.seriesInstanceUid, error: e instanceof Error ? e.message : String(e) });
          }
        }
        reportResults.push({ result: r, ...(keyImages ? { keyImages } : {}) });
      }
      const report = buildClinicalReport({ ...header, results: reportResults, generatedAt: o.document.createdAt });
      const html = renderReportHtml(report, { lang: languageFor(header, o.language) });
      const htmlPath = join(o.outDir, `report${stem}.html`);
      await writeFileAtomic(htmlPath, html);
      files.push(htmlPath);
      const fhirPath = join(o.outDir, `fhir${stem}.json`);
      await writeFileAtomic(fhirPath, `${JSON.stringify(buildFhirBundle(report, { series: o.document.series }), null, 2)}\n`);
      files.push(fhirPath);
      const pdfPath = join(o.outDir, `report${stem}.pdf`);
      if (o.pdf === false) {
        skipped.push(`${pdfPath}: PDF not requested`);
      } else if (!chromiumAvailable()) {
        skipped.push(`${pdfPath}: chromium not found at ${CHROMIUM_PATH}`);
        o.log.warn('report: PDF skipped: chromium not found (scripts/setup.sh installs it)', { path: CHROMIUM_PATH });
      } else {
        await writeFileAtomic(pdfPath, await renderReportPdf(html));
        files.push(pdfPath);
      }
    } catch (e) {
      const err = toSrError(e, 'REPORT_RENDER_FAILED', `the report of study ${studyUid} could not be written`);
      o.log.error('report: not written; findings.json stands', { study: studyUid, code: err.code, error: err.message });
      skipped.push(`report${stem}: ${err.code} ${err.message}`);
    }
  }
  return { files, skipped };
}
