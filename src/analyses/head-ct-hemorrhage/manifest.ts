/**
 * head-ct-hemorrhage: acute intracranial haemorrhage on non-contrast head CT — detection, type, volume (with
 * ABC/2 beside it), midline shift, triage priority. Assistive: flags studies for a radiologist to read first.
 */
import type { AcceptDecision, AnalysisContext, AnalysisManifest, AnalysisOutput, Finding, SeriesHeader } from '../../engine/types.ts';
import { ANALYSIS_API_VERSION } from '../../engine/types.ts';
import { resampleToGrid } from '../../imaging/index.ts';
import type { Int16Volume } from '../../imaging/index.ts';
import { runPipeline } from './pipeline.ts';
import type { PipelineResult } from './pipeline.ts';
import { midlineLandmarks } from './midline.ts';
import type { BleedType } from './classify-type.ts';

export const HEAD_CT_HEMORRHAGE_STEPS = ['working-grid', 'brain-extraction', 'midline', 'blood', 'measure', 'classify-type', 'midline-shift'] as const;

const NON_HEAD = /\b(CHEST|THORAX|LUNG|ABDOMEN|ABD|PELVIS|SPINE|LSPINE|TSPINE|KNEE|HIP|SHOULDER|EXTREMITY|HEART|CARDIAC|LIVER|KIDNEY)\b/i;
const CONTRAST_WORDS = /\b(CTA|ANGIO|C\+|W\/ ?CONTRAST|WITH CONTRAST|POST ?CONTRAST|VENOGRAM|CTV|PERFUSION)\b/i;

/** Mass effect: midline shift above this (mm) is flagged (the common 5 mm neurosurgical threshold). */
export const MASS_EFFECT_SHIFT_MM = 5;

export function acceptsHeadCt(header: SeriesHeader): AcceptDecision {
  if (header.modality !== 'CT') return { accept: false, reason: `modality ${header.modality}, not CT` };
  if (header.contrastAgent) return { accept: false, reason: `contrast-enhanced (ContrastBolusAgent ${header.contrastAgent}); this analysis reads non-contrast head CT` };
  const part = header.bodyPartExamined ?? '';
  if (part && NON_HEAD.test(part)) return { accept: false, reason: `body part ${part}, not head` };
  const desc = header.seriesDescription ?? '';
  if (CONTRAST_WORDS.test(desc) && !/\b(WO|W\/O|WITHOUT|NON)\b/i.test(desc)) return { accept: false, reason: `series "${desc}" looks contrast-enhanced` };
  if (!part && NON_HEAD.test(desc) && !/HEAD|BRAIN|SKULL|CRAN/i.test(desc)) return { accept: false, reason: `series "${desc}" is not a head CT` };
  if (header.instanceCount < 8) return { accept: false, reason: `${header.instanceCount} images: too few for a head CT volume` };
  return { accept: true };
}

function round(x: number, d = 2): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

export async function runHeadCt(ctx: AnalysisContext): Promise<AnalysisOutput> {
  const stepFraction = (s: string): number => HEAD_CT_HEMORRHAGE_STEPS.indexOf(s as (typeof HEAD_CT_HEMORRHAGE_STEPS)[number]) / HEAD_CT_HEMORRHAGE_STEPS.length;
  const r = runPipeline(ctx.series.volume, (s) => {
    if (ctx.signal.aborted) throw ctx.signal.reason instanceof Error ? ctx.signal.reason : new Error('aborted');
    ctx.progress(s, stepFraction(s));
  });
  return headOutput(r, ctx.series.volume);
}

/** The analysis output of a pipeline result (the label map is resampled back onto `source`, the input grid). */
export function headOutput(r: PipelineResult, source: Int16Volume): AnalysisOutput {
  if (r.skipped) return { skipped: { reason: r.skipped }, findings: [], measurements: {}, stepTimesMs: r.stepTimesMs };
  const findings: Finding[] = r.bleeds.map((b, i): Finding => {
    const f = b.features;
    const extra = b.type === 'subdural' || b.type === 'epidural';
    return {
      id: `bleed-${i + 1}`, kind: 'hemorrhage', centerMm: f.centerMm, probability: b.probability, label: i + 1,
      type: b.type, bleedType: b.type, volumeMl: round(f.volumeMl), abc2VolumeMl: round(f.abc2VolumeMl),
      ...(extra ? { thicknessMm: round(f.thicknessMm, 1) } : {}),
      abc2: { aMm: round(f.abc2.aMm, 1), bMm: round(f.abc2.bMm, 1), cMm: round(f.abc2.cMm, 1) },
      meanHu: round(f.coreHu, 0),
      reasons: [...b.reasons, `core ${f.coreHu.toFixed(0)} HU vs ${f.backgroundHu.toFixed(0)} HU around it`, `volume ${f.volumeMl.toFixed(1)} mL (ABC/2 ${f.abc2VolumeMl.toFixed(1)} mL)`],
    };
  });
  const total = r.bleeds.reduce((a, b) => a + b.features.volumeMl, 0);
  const abc2 = r.bleeds.reduce((a, b) => a + b.features.abc2VolumeMl, 0);
  const byType = new Map<BleedType, number>();
  for (const b of r.bleeds) byType.set(b.type, (byType.get(b.type) ?? 0) + b.features.volumeMl);
  let dominant: BleedType | null = null;
  for (const [t, v] of byType) if (dominant === null || v > (byType.get(dominant) ?? 0)) dominant = t;
  const shift = r.septum ? Math.abs(r.septum.signedShiftMm) : null;
  const has = r.bleeds.length > 0;
  const prob = has ? Math.max(...r.bleeds.map((b) => b.probability)) : 0.02;
  const massEffect = shift !== null && shift > MASS_EFFECT_SHIFT_MM;
  const plane = r.midline?.plane;
  const lm = plane && r.septum && r.masks ? midlineLandmarks(r.masks, plane, r.septum.septumMm) : undefined;
  const measurements: Record<string, unknown> = {
    hasHemorrhage: has,
    hemorrhageProbability: prob,
    hemorrhageVolumeMl: round(total),
    abc2VolumeMl: round(abc2),
    hemorrhageType: dominant,
    midlineShiftMm: shift === null ? null : round(shift),
    midlineShiftTowards: r.septum ? (r.septum.signedShiftMm > 0 ? 'left' : 'right') : null,
    massEffect,
    triagePriority: has || massEffect ? 'critical' : 'routine',
    landmarks: {
      septumMm: r.septum ? r.septum.septumMm.map((x) => round(x)) : null,
      septumIdealMm: lm ? lm.septumIdealMm.map((x) => round(x)) : null,
      idealMidline: plane ? {
        pointMm: plane.pointMm.map((x) => round(x)), normal: plane.normal.map((x) => round(x, 4)),
        anteriorMm: lm?.anteriorMm ? lm.anteriorMm.map((x) => round(x)) : null, posteriorMm: lm?.posteriorMm ? lm.posteriorMm.map((x) => round(x)) : null,
      } : null,
    },
  };
  if (r.notes.length > 0) measurements['notes'] = r.notes;
  return {
    findings, measurements, stepTimesMs: r.stepTimesMs,
    ...(r.labelMask && has ? { labelMap: { mask: resampleToGrid(r.labelMask, source, { interpolation: 'nearest' }), labels: Object.fromEntries(r.bleeds.map((b, i) => [i + 1, `${b.type} bleed-${i + 1}`])) } } : {}),
  };
}

export const headCtHemorrhage: AnalysisManifest = {
  apiVersion: ANALYSIS_API_VERSION,
  id: 'head-ct-hemorrhage',
  version: '0.6.0',
  title: 'Head CT: acute intracranial haemorrhage',
  intendedUse: 'Assistive triage for radiologists reading non-contrast head CT in adults: flags suspected acute intracranial haemorrhage with its type, volume (and ABC/2), and midline shift so the study can be read first. Not a diagnosis; every finding must be confirmed on the images.',
  modalities: ['CT'],
  resources: { memoryMb: 1500, threads: 2 },
  // Brain window (centre 40 HU, width 80 HU): acute blood stands out at 50–90 HU.
  displayWindow: { center: 40, width: 80 },
  steps: HEAD_CT_HEMORRHAGE_STEPS,
  accepts: acceptsHeadCt,
  run: runHeadCt,
};
