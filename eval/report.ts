/** Plain-text tables of the evaluation metrics, as `secondreader eval` prints them. */
import type { FrocResult } from './metrics/froc.ts';
import { NEAR_MM, type HemorrhageMetrics } from './metrics/hemorrhage.ts';
import { MEASURE_MIN_DIAMETER_MM, type ConfusionMatrix, type NoduleMetrics } from './metrics/nodules.ts';
import type { ErrorSummary } from './metrics/stats.ts';

export function fmt(x: number | undefined, digits = 2): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
}

export function pct(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? 'n/a' : `${(100 * x).toFixed(digits)}%`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function errs(e: ErrorSummary, unit: string, digits = 1): string {
  return e.n === 0 ? 'n/a' : `${fmt(e.median, digits)}${unit} (|${fmt(e.medianAbs, digits)}|)`;
}

export function formatFroc(title: string, r: FrocResult): string {
  const rows = r.sensitivities.map((s) => [String(s.fpPerScan), pct(s.sensitivity), s.ci ? `${pct(s.ci.lower)}–${pct(s.ci.upper)}` : '']);
  return [
    `${title}: ${r.scans} scan(s), ${r.relevantNodules} relevant nodule(s), ${r.detectedNodules} hit, ${r.falsePositives} FP candidate(s) (${fmt(r.maxFpPerScan)} FP/scan at the lowest threshold), ${r.ignoredCandidates} ignored, ${r.duplicateHits} duplicate hit(s)`,
    table(['FP/scan', 'sensitivity', '95% CI'], rows),
    `CPM ${fmt(r.cpm, 3)}${r.cpmCi ? ` (95% CI ${fmt(r.cpmCi.lower, 3)}–${fmt(r.cpmCi.upper, 3)})` : ''}` +
      (r.maxFpPerScan < 8 ? `  [rates above ${fmt(r.maxFpPerScan)} FP/scan hold the last sensitivity, as LUNA16 does]` : ''),
  ].join('\n');
}

export function formatConfusion(c: ConfusionMatrix): string {
  if (c.n === 0) return 'type confusion: no matched finding carried a type';
  return [`type accuracy ${pct(c.accuracy)} over ${c.n} (rows truth, columns found)`, table(['truth \\ found', ...c.labels], c.labels.map((l, i) => [l, ...(c.counts[i] ?? []).map(String)]))].join('\n');
}

export function formatNoduleMetrics(m: NoduleMetrics): string {
  const s4 = m.sensitivityAt1FpPerScan4mm;
  return [
    formatFroc('FROC (LUNA16 rule)', m.froc),
    `sensitivity for nodules ≥ 4 mm at ≤ 1 FP/scan: ${pct(s4.sensitivity)} (threshold ${fmt(s4.threshold, 3)}, ${fmt(s4.fpPerScan)} FP/scan; ${m.froc4mm.relevantNodules} nodule(s))`,
    `at the operating threshold ${fmt(m.operatingThreshold, 3)}: sensitivity ${pct(m.sensitivity)}, ${fmt(m.falsePositivesPerScan)} FP/scan`,
    `volume error ${errs(m.volumeErrorPct, '%')}, diameter error ${errs(m.diameterErrorMm, ' mm', 2)}   [median signed (median absolute)]`,
    `nodules ≥ ${MEASURE_MIN_DIAMETER_MM} mm (n=${m.volumeErrorPct5mm.n}): volume error ${errs(m.volumeErrorPct5mm, '%')}, diameter error ${errs(m.diameterErrorMm5mm, ' mm', 2)}`,
    table(
      ['group', 'value', 'nodules', 'found', 'sensitivity', 'volume err', 'diameter err'],
      m.breakdown.map((r) => [r.group, r.value, String(r.nodules), String(r.detected), pct(r.sensitivity), errs(r.volumeErrorPct, '%'), errs(r.diameterErrorMm, ' mm', 2)]),
    ),
    formatConfusion(m.typeConfusion),
  ].join('\n\n');
}

export function formatHemorrhageMetrics(m: HemorrhageMetrics): string {
  return [
    `cases ${m.cases} (${m.positives} with bleed, ${m.negatives} without): accuracy ${pct(m.accuracy)}, sensitivity ${pct(m.sensitivity)}, specificity ${pct(m.specificity)}`,
    `false-positive cases (bleed-free called positive): ${m.falsePositiveCases.length}${m.falsePositiveCases.length ? ` — ${m.falsePositiveCases.join(', ')}` : ''}`,
    `missed cases: ${m.missedCases.length}${m.missedCases.length ? ` — ${m.missedCases.join(', ')}` : ''}`,
    `bleed-level sensitivity (a found centre inside or within ${NEAR_MM} mm of the bleed): ${pct(m.bleedSensitivity)}`,
    `volume error median ${errs(m.volumeErrorPct, '%')} vs ABC/2 ${errs(m.abc2ErrorPct, '%')} on the same cases [median signed (median absolute)], n=${m.volumeErrorPct.n}; midline shift |error| median ${fmt(m.midlineShiftAbsErrorMm.median)} mm (n=${m.midlineShiftAbsErrorMm.n})`,
    table(
      ['case', 'truth', 'called', 'true type', 'found type', 'true mL', 'found mL', 'vol err', 'ABC/2 mL', 'ABC/2 err', 'MLS err'],
      m.perCase.map((r) => [r.caseId, r.truthPositive ? 'bleed' : 'none', r.predictedPositive ? 'bleed' : 'none', r.truthType ?? '', r.foundType ?? '', fmt(r.truthVolumeMl, 1), fmt(r.foundVolumeMl, 1), r.volumeErrorPct === undefined ? '' : `${fmt(r.volumeErrorPct, 1)}%`, fmt(r.abc2VolumeMl, 1), r.abc2ErrorPct === undefined ? '' : `${fmt(r.abc2ErrorPct, 1)}%`, fmt(r.midlineShiftErrorMm, 1)]),
    ),
    `per bleed (matched bleeds): ${formatConfusion(m.typeConfusion)}`,
    `per case (dominant type, bleed cases called positive): ${formatConfusion(m.caseTypeConfusion)}`,
  ].join('\n\n');
}
