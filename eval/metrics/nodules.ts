/**
 * Lung-nodule detection and measurement metrics. Matching uses the LUNA16 rule (match.ts); for each truth
 * nodule the best-scoring hit at or above the operating threshold is its measurement.
 *
 * - FROC/CPM on all relevant nodules, and a second FROC where nodules < 4 mm are irrelevant (neither TP nor
 *   FP), giving "sensitivity at ≤ 1 FP/scan for nodules ≥ 4 mm" (the best measured point, no extrapolation).
 * - Volume error % = 100·(found − true)/true; diameter error = found − true (mm). Medians are reported
 *   signed (bias) and absolute, overall and per type, size band and placement.
 * - Type accuracy and a confusion matrix (truth rows × predicted columns) over matched nodules.
 */
import { computeFroc, type FrocResult } from './froc.ts';
import { matchCandidates, type Candidate, type TruthLesion } from './match.ts';
import { summarizeErrors, type ErrorSummary } from './stats.ts';

export interface NoduleTruth extends TruthLesion {
  /** solid | part-solid | ground-glass | calcified ... */
  readonly type?: string;
  /** free | juxta-pleural | juxta-vascular */
  readonly placement?: string;
  readonly volumeMm3?: number;
}

export interface NoduleDetection extends Candidate {
  readonly diameterMm?: number;
  readonly volumeMm3?: number;
  readonly type?: string;
}

export const SIZE_BANDS = [
  { label: '<4', min: 0, max: 4 },
  { label: '4-6', min: 4, max: 6 },
  { label: '6-8', min: 6, max: 8 },
  { label: '8-15', min: 8, max: 15 },
  { label: '>=15', min: 15, max: Infinity },
] as const;

export function sizeBand(diameterMm: number): string {
  return (SIZE_BANDS.find((b) => diameterMm >= b.min && diameterMm < b.max) ?? SIZE_BANDS[0]).label;
}

export interface MatchedNodule {
  readonly caseId: string;
  readonly truthId: string;
  readonly findingId: string | undefined;
  readonly probability: number;
  readonly truthDiameterMm: number;
  readonly foundDiameterMm: number | undefined;
  readonly truthVolumeMm3: number | undefined;
  readonly foundVolumeMm3: number | undefined;
  readonly volumeErrorPct: number | undefined;
  readonly diameterErrorMm: number | undefined;
  readonly truthType: string | undefined;
  readonly foundType: string | undefined;
}

export interface GroupRow {
  readonly group: 'type' | 'size' | 'placement';
  readonly value: string;
  readonly nodules: number;
  readonly detected: number;
  readonly sensitivity: number;
  readonly volumeErrorPct: ErrorSummary;
  readonly diameterErrorMm: ErrorSummary;
}

export interface ConfusionMatrix {
  readonly labels: readonly string[];
  /** rows = truth, columns = found. */
  readonly counts: readonly (readonly number[])[];
  readonly accuracy: number;
  readonly n: number;
}

export interface NoduleMetrics {
  readonly froc: FrocResult;
  readonly froc4mm: FrocResult;
  readonly sensitivityAt1FpPerScan4mm: FrocResult['atOneFpPerScan'];
  readonly operatingThreshold: number;
  /** At the operating threshold. */
  readonly sensitivity: number;
  readonly falsePositivesPerScan: number;
  readonly matched: readonly MatchedNodule[];
  readonly volumeErrorPct: ErrorSummary;
  readonly diameterErrorMm: ErrorSummary;
  /** The same on nodules of at least MEASURE_MIN_DIAMETER_MM (the issue #3 protocol for the measurement targets). */
  readonly volumeErrorPct5mm: ErrorSummary;
  readonly diameterErrorMm5mm: ErrorSummary;
  readonly breakdown: readonly GroupRow[];
  readonly typeConfusion: ConfusionMatrix;
}

/**
 * Measurement accuracy is judged on nodules of at least this diameter: below 5 mm a voxel of 0.7 × 0.7 × 1 mm is
 * a large part of the volume, and neither Lung-RADS v2022 (solid < 6 mm: category 2) nor Fleischner 2017 (< 6 mm: no
 * routine follow-up) acts on the size of smaller ones. The all-nodule figures are printed too.
 */
export const MEASURE_MIN_DIAMETER_MM = 5;

export interface NoduleMetricsOptions {
  readonly caseIds: readonly string[];
  /** Findings below it are not counted as detections for the measurement metrics (FROC sweeps all). */
  readonly operatingThreshold?: number;
  readonly bootstrap?: number;
  readonly seed?: number;
}

export function confusionMatrix(pairs: readonly { truth: string; found: string }[]): ConfusionMatrix {
  const labels = [...new Set(pairs.flatMap((p) => [p.truth, p.found]))].sort();
  const idx = new Map(labels.map((l, i) => [l, i]));
  const counts = labels.map(() => labels.map(() => 0));
  let correct = 0;
  for (const p of pairs) {
    const row = counts[idx.get(p.truth) as number] as number[];
    row[idx.get(p.found) as number] = (row[idx.get(p.found) as number] as number) + 1;
    if (p.truth === p.found) correct++;
  }
  return { labels, counts, accuracy: pairs.length === 0 ? NaN : correct / pairs.length, n: pairs.length };
}

export function computeNoduleMetrics(truth: readonly NoduleTruth[], detections: readonly NoduleDetection[], options: NoduleMetricsOptions): NoduleMetrics {
  const froc = computeFroc(truth, detections, { caseIds: options.caseIds, ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}), ...(options.seed !== undefined ? { seed: options.seed } : {}) });
  const truth4 = truth.map((t) => ({ ...t, relevant: t.relevant !== false && t.diameterMm >= 4 }));
  const froc4mm = computeFroc(truth4, detections, { caseIds: options.caseIds });

  const threshold = options.operatingThreshold ?? 0;
  const kept = detections.filter((d) => d.probability >= threshold);
  const m = matchCandidates(truth, kept);
  const matched: MatchedNodule[] = [];
  const rows = new Map<string, { group: GroupRow['group']; value: string; nodules: number; detected: number; vol: number[]; dia: number[] }>();
  const row = (group: GroupRow['group'], value: string) => {
    const key = `${group}:${value}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { group, value, nodules: 0, detected: 0, vol: [], dia: [] }));
    return r;
  };
  for (const [t, hits] of m.hits) {
    const groups = [row('type', t.type ?? 'unknown'), row('size', sizeBand(t.diameterMm)), row('placement', t.placement ?? 'unknown')];
    for (const g of groups) g.nodules++;
    const best = hits[0];
    if (!best) continue;
    const volumeErrorPct = t.volumeMm3 && best.volumeMm3 !== undefined ? (100 * (best.volumeMm3 - t.volumeMm3)) / t.volumeMm3 : undefined;
    const diameterErrorMm = best.diameterMm !== undefined ? best.diameterMm - t.diameterMm : undefined;
    for (const g of groups) {
      g.detected++;
      if (volumeErrorPct !== undefined) g.vol.push(volumeErrorPct);
      if (diameterErrorMm !== undefined) g.dia.push(diameterErrorMm);
    }
    matched.push({
      caseId: t.caseId, truthId: t.id, findingId: best.id, probability: best.probability,
      truthDiameterMm: t.diameterMm, foundDiameterMm: best.diameterMm, truthVolumeMm3: t.volumeMm3, foundVolumeMm3: best.volumeMm3,
      volumeErrorPct, diameterErrorMm, truthType: t.type, foundType: best.type,
    });
  }
  const order = { type: 0, size: 1, placement: 2 } as const;
  const bandOrder = (v: string) => SIZE_BANDS.findIndex((b) => b.label === v);
  const breakdown: GroupRow[] = [...rows.values()]
    .sort((a, b) => order[a.group] - order[b.group] || (a.group === 'size' ? bandOrder(a.value) - bandOrder(b.value) : a.value.localeCompare(b.value)))
    .map((r) => ({
      group: r.group, value: r.value, nodules: r.nodules, detected: r.detected,
      sensitivity: r.nodules === 0 ? NaN : r.detected / r.nodules,
      volumeErrorPct: summarizeErrors(r.vol), diameterErrorMm: summarizeErrors(r.dia),
    }));
  const typed = matched.filter((x) => x.truthType !== undefined && x.foundType !== undefined).map((x) => ({ truth: x.truthType as string, found: x.foundType as string }));
  const relevant = m.hits.size;
  const measured = matched.filter((x) => x.truthDiameterMm >= MEASURE_MIN_DIAMETER_MM);
  return {
    froc,
    froc4mm,
    sensitivityAt1FpPerScan4mm: froc4mm.atOneFpPerScan,
    operatingThreshold: threshold,
    sensitivity: relevant === 0 ? NaN : matched.length / relevant,
    falsePositivesPerScan: m.falsePositives.length / new Set(options.caseIds).size,
    matched,
    volumeErrorPct: summarizeErrors(matched.map((x) => x.volumeErrorPct ?? NaN)),
    diameterErrorMm: summarizeErrors(matched.map((x) => x.diameterErrorMm ?? NaN)),
    volumeErrorPct5mm: summarizeErrors(measured.map((x) => x.volumeErrorPct ?? NaN)),
    diameterErrorMm5mm: summarizeErrors(measured.map((x) => x.diameterErrorMm ?? NaN)),
    breakdown,
    typeConfusion: confusionMatrix(typed),
  };
}
