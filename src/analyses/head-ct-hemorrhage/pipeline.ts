/** The analysis pipeline: steps in order, each timed. */
import type { Int16Volume, MaskVolume } from '../../imaging/index.ts';
import { withData } from '../../imaging/index.ts';
import { checkHead, extractBrain } from './brain-extraction.ts';
import type { BrainMasks } from './brain-extraction.ts';
import { bloodCandidates, smoothForBlood } from './blood.ts';
import { classifyType, rejectComponent } from './classify-type.ts';
import type { BleedType } from './classify-type.ts';
import { toWorkingGrid } from './grid.ts';
import { measureComponents } from './measure.ts';
import type { ComponentFeatures } from './measure.ts';
import { findSeptum, idealMidline } from './midline.ts';
import type { IdealMidline, SeptumResult } from './midline.ts';

export interface Bleed {
  readonly features: ComponentFeatures;
  readonly type: BleedType;
  readonly reasons: string[];
  readonly probability: number;
}

export interface PipelineResult {
  readonly skipped?: string;
  readonly bleeds: Bleed[];
  readonly rejected: { features: ComponentFeatures; why: string }[];
  readonly midline?: IdealMidline;
  readonly septum?: SeptumResult;
  readonly labelMask?: MaskVolume;
  readonly masks?: BrainMasks;
  readonly work?: Int16Volume;
  readonly stepTimesMs: Record<string, number>;
  readonly notes: string[];
  /** σ of the smoothed HU (blood.ts smoothedNoise), when the blood step ran. */
  readonly noiseHu?: number;
}

export type StepHook = (step: string) => void;

export function runPipeline(volume: Int16Volume, onStep: StepHook = () => undefined): PipelineResult {
  const times: Record<string, number> = {};
  const notes: string[] = [];
  let t = performance.now();
  const lap = (name: string): void => { const now = performance.now(); times[name] = Math.round(now - t); t = now; };
  onStep('working-grid');
  const grid = toWorkingGrid(volume);
  if (grid.desheared) notes.push('gantry-tilted series resampled onto an orthogonal grid in the acquired image planes');
  const hu = grid.hu;
  lap('working-grid');
  onStep('brain-extraction');
  const masks = extractBrain(hu);
  const smoothed = smoothForBlood(hu);
  const head = checkHead(hu, masks, smoothed);
  lap('brain-extraction');
  if (!head.ok) return { skipped: head.reason, bleeds: [], rejected: [], stepTimesMs: times, notes };
  onStep('midline');
  const midline = idealMidline(masks);
  lap('midline');
  onStep('blood');
  const cand = bloodCandidates(smoothed, masks, hu);
  lap('blood');
  onStep('measure');
  const feats = measureComponents(cand, smoothed, hu, masks, midline?.plane);
  lap('measure');
  onStep('classify-type');
  const bleeds: Bleed[] = [];
  const rejected: { features: ComponentFeatures; why: string }[] = [];
  for (const f of feats) {
    const r = rejectComponent(f);
    if (r) { rejected.push({ features: f, why: r.why }); continue; }
    const d = classifyType(f);
    bleeds.push({ features: f, type: d.type, reasons: d.reasons, probability: bleedProbability(f) });
  }
  bleeds.sort((a, b) => b.features.volumeMl - a.features.volumeMl);
  const keep = new Map<number, number>();
  bleeds.forEach((b, i) => keep.set(b.features.label, i + 1));
  const lm = new Uint8Array(hu.data.length);
  for (let v = 0; v < lm.length; v++) {
    const l = cand.labels.data[v] as number;
    if (l !== 0) lm[v] = Math.min(255, keep.get(l) ?? 0);
  }
  lap('classify-type');
  onStep('midline-shift');
  const septum = midline ? findSeptum(smoothed, masks, midline.plane) : undefined;
  lap('midline-shift');
  return {
    bleeds, rejected, ...(midline ? { midline } : {}), ...(septum ? { septum } : {}), labelMask: withData(hu, lm),
    masks, work: hu, stepTimesMs: times, notes, noiseHu: cand.noiseHu,
  };
}

/** A calibrated-ish confidence: larger, denser, better-shaped collections are surer. */
export function bleedProbability(f: ComponentFeatures): number {
  const vol = 1 - Math.exp(-f.volumeMl / 0.8);
  const contrast = Math.min(1, Math.max(0, (f.coreHu - f.backgroundHu - 10) / 25));
  return Math.round(Math.min(0.99, 0.3 + 0.7 * vol * (0.4 + 0.6 * contrast)) * 1000) / 1000;
}
