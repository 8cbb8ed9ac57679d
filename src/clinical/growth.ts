/**
 * Nodule size and growth helpers.
 *
 * - Mean diameter = (long axis + short axis) / 2 (Lung-RADS v2022 size note, rounded to 0.1 mm there;
 *   Fleischner 2017 Table 1 note, rounded to the nearest mm there).
 * - Volume doubling time VDT = Δt · ln 2 / ln(V2 / V1) (Schwartz M. "A biomathematical approach to
 *   clinical tumor growth." Cancer 1961;14:1272–1294 — the exponential-growth formula used by NELSON).
 *   V2 = V1 → +Infinity (no growth); V2 < V1 → a NEGATIVE value whose magnitude is the halving time, the
 *   convention of the nodule-volumetry literature; callers must not read it as "fast growth".
 * - NELSON VDT bands (van Klaveren RJ et al., NEJM 2009;361:2221–2229; Horeweg N et al., Lancet Oncol
 *   2014;15:1332–1341): < 400 days fast (positive), 400–600 days intermediate, > 600 days slow (negative).
 * - Lung-RADS v2022 growth: increase in mean diameter > 1.5 mm within 12 months. For intervals longer than
 *   12 months we annualise linearly (our choice): ≥ the 12-month threshold → 'growing'; any increase > 1.5 mm
 *   that is slower → 'slowly-growing'. A decrease > 1.5 mm → 'decreased'; otherwise 'stable'.
 * - Fleischner growth: an increase of ≥ 2 mm in mean diameter, both rounded to the nearest mm (Bankier AA
 *   et al. "Recommendations for Measuring Pulmonary Nodules at CT: A Statement from the Fleischner
 *   Society." Radiology 2017;285:584–600) — smaller changes are within measurement variability.
 */
import { invalid, requireNonNegative, requirePositive, roundTo } from './validate.ts';

export function meanDiameterMm(longAxisMm: number, shortAxisMm: number): number {
  const l = requirePositive('longAxisMm', longAxisMm);
  const s = requirePositive('shortAxisMm', shortAxisMm);
  if (s > l) throw invalid('shortAxisMm', 'must not exceed the long axis', s);
  return (l + s) / 2;
}

/** Volume of a sphere of the given diameter, mm³ (e.g. Lung-RADS' 6 mm ≈ 113 mm³). */
export function sphereVolumeMm3(diameterMm: number): number {
  const d = requireNonNegative('diameterMm', diameterMm);
  return (Math.PI * d ** 3) / 6;
}

/** Days for the volume to double; +Infinity when unchanged; negative (−halving time) when shrinking. */
export function volumeDoublingTimeDays(v1: number, v2: number, days: number): number {
  const a = requirePositive('v1', v1);
  const b = requirePositive('v2', v2);
  const t = requirePositive('days', days);
  if (a === b) return Number.POSITIVE_INFINITY;
  return (t * Math.LN2) / Math.log(b / a);
}

export type VdtClass = 'fast' | 'intermediate' | 'slow' | 'not-growing';

/** NELSON bands: < 400 d fast, 400–600 d intermediate, > 600 d slow; shrinking/unchanged → not-growing. */
export function classifyVolumeDoublingTime(vdtDays: number): VdtClass {
  if (typeof vdtDays !== 'number' || Number.isNaN(vdtDays) || vdtDays === 0) throw invalid('vdtDays', 'must be a non-zero number', vdtDays);
  if (vdtDays < 0 || vdtDays === Number.POSITIVE_INFINITY) return 'not-growing';
  if (vdtDays < 400) return 'fast';
  if (vdtDays <= 600) return 'intermediate';
  return 'slow';
}

export type LungRadsGrowth = 'growing' | 'slowly-growing' | 'stable' | 'decreased';

/** Lung-RADS v2022 growth between two mean diameters (each rounded to 0.1 mm first). */
export function lungRadsGrowthStatus(input: { priorMm: number; currentMm: number; intervalMonths: number }): LungRadsGrowth {
  const prior = roundTo(requirePositive('priorMm', input.priorMm), 1);
  const current = roundTo(requirePositive('currentMm', input.currentMm), 1);
  const months = requirePositive('intervalMonths', input.intervalMonths);
  const change = roundTo(current - prior, 1);
  if (change > 1.5) {
    const perYear = months <= 12 ? change : (change * 12) / months;
    return perYear > 1.5 ? 'growing' : 'slowly-growing';
  }
  if (change < -1.5) return 'decreased';
  return 'stable';
}

/** Fleischner (Bankier 2017): growth = increase ≥ 2 mm in mean diameter, rounded to the nearest mm. */
export function fleischnerSignificantGrowth(priorMm: number, currentMm: number): boolean {
  const prior = roundTo(requirePositive('priorMm', priorMm), 0);
  const current = roundTo(requirePositive('currentMm', currentMm), 0);
  return current - prior >= 2;
}
