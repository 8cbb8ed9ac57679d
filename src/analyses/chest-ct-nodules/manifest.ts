/**
 * chest-ct-nodules: lung-nodule detection, segmentation and measurement on chest CT (assistive second reader).
 * Header check in `accepts` (CT, ≤ 3 mm slices, not a localizer); pixel check in `run` (aerated lungs present),
 * so an abdomen CT that covers the lung bases is analysed there and a head CT labelled CHEST is skipped.
 */
import { ANALYSIS_API_VERSION } from '../../engine/types.ts';
import type { AcceptDecision, AnalysisContext, AnalysisManifest, AnalysisOutput, SeriesHeader } from '../../engine/types.ts';
import { SrError } from '../../core/errors.ts';
import { paintLabels, PIPELINE_STEPS, runPipeline } from './pipeline.ts';
import { buildFindings, DISPLAY_THRESHOLD, studyReport } from './report.ts';
import { NODULE_TYPE_MODEL } from './type-model-weights.ts';
import { NODULE_MODEL } from './model.ts';

export const CHEST_NODULES_VERSION = '0.12.0';
export const MAX_SLICE_THICKNESS_MM = 3;
/** Less aerated lung than this (mL) in the pixels: not a chest CT for this analysis. */
export const MIN_LUNG_ML = 30;

export function acceptsChestCt(h: SeriesHeader): AcceptDecision {
  if (h.modality !== 'CT') return { accept: false, reason: `modality ${h.modality} is not CT` };
  if (h.imageType.some((t) => t.toUpperCase() === 'LOCALIZER')) return { accept: false, reason: 'localizer (scout) images' };
  if (h.instanceCount < 3) return { accept: false, reason: `only ${h.instanceCount} image(s): not a volume` };
  if (h.sliceThicknessMm !== undefined && h.sliceThicknessMm > MAX_SLICE_THICKNESS_MM + 1e-6) {
    return { accept: false, reason: `slice thickness ${h.sliceThicknessMm} mm > ${MAX_SLICE_THICKNESS_MM} mm (nodules need thin slices)` };
  }
  // BodyPartExamined is advisory only (often missing or wrong); the lungs are looked for in the pixels.
  return { accept: true };
}

async function run(ctx: AnalysisContext): Promise<AnalysisOutput> {
  const vol = ctx.series.volume;
  const sliceSpacing = vol.spacing[2];
  if (sliceSpacing > MAX_SLICE_THICKNESS_MM + 0.05) {
    return { skipped: { reason: `slice spacing ${sliceSpacing.toFixed(2)} mm > ${MAX_SLICE_THICKNESS_MM} mm` }, findings: [], measurements: {} };
  }
  const checkpoint = (step: string, fraction: number): void => {
    if (ctx.signal.aborted) throw new SrError('ANALYSIS_CANCELLED', 'chest-ct-nodules cancelled');
    ctx.progress(step, fraction);
  };
  const res = runPipeline(vol, { checkpoint });
  if (!res.lungs.box || res.lungs.volumesMl.total < MIN_LUNG_ML) {
    return {
      skipped: { reason: `no aerated lung in the pixels (${res.lungs.volumesMl.total.toFixed(0)} mL < ${MIN_LUNG_ML} mL): not a chest CT covering the lungs` },
      findings: [], measurements: { lungVolumeMl: res.lungs.volumesMl }, stepTimesMs: res.stepTimesMs,
    };
  }
  checkpoint('report', 0.95);
  const t0 = performance.now();
  const reports = buildFindings(res, CHEST_NODULES_VERSION);
  const study = studyReport(ctx.header, res, reports);
  const labelled = reports.filter((r) => r.finding.label !== undefined).map((r) => ({ seg: r.nodule.seg, label: r.finding.label as number }));
  const labels: Record<number, string> = {};
  for (const r of reports) if (r.finding.label !== undefined) labels[r.finding.label] = `nodule ${r.finding.id} (${r.nodule.seg.type}, ${r.nodule.measures.axes.meanDiameterMm.toFixed(1)} mm)`;
  const mask = labelled.length > 0 ? paintLabels(vol, labelled) : undefined;
  const stepTimesMs = { ...res.stepTimesMs, report: performance.now() - t0 };
  ctx.log.info(`chest-ct-nodules: ${reports.length} finding(s), ${labelled.length} ≥ ${DISPLAY_THRESHOLD}`);
  return {
    findings: reports.map((r) => r.finding),
    measurements: {
      ...study.measurements,
      provenance: { analysis: 'chest-ct-nodules', version: CHEST_NODULES_VERSION, classifier: NODULE_MODEL.provenance, typeModel: NODULE_TYPE_MODEL.provenance, assistive: true },
    },
    ...(mask ? { labelMap: { mask, labels } } : {}),
    stepTimesMs,
  };
}

export const chestCtNodules: AnalysisManifest = {
  apiVersion: ANALYSIS_API_VERSION,
  id: 'chest-ct-nodules',
  version: CHEST_NODULES_VERSION,
  title: 'Lung nodules on chest CT',
  intendedUse:
    'Assistive second reader for adult chest CT (≤ 3 mm slices): marks candidate lung nodules with measurements, ' +
    'Lung-RADS v2022 / Fleischner 2017 / Brock context for a radiologist to confirm. Not a diagnosis; not for use without physician review.',
  modalities: ['CT'],
  resources: { memoryMb: 2048, threads: 2 },
  // Lung window (centre −600 HU, width 1500 HU) for key images.
  displayWindow: { center: -600, width: 1500 },
  steps: [...PIPELINE_STEPS, 'report'],
  accepts: acceptsChestCt,
  run,
};
