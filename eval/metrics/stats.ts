/** Small summary statistics; NaN for an empty sample (printed as "n/a", never as a fake 0). */

export function median(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

export function mean(xs: readonly number[]): number {
  const s = xs.filter(Number.isFinite);
  return s.length === 0 ? NaN : s.reduce((a, b) => a + b, 0) / s.length;
}

export interface ErrorSummary {
  readonly n: number;
  /** Median signed error (bias). */
  readonly median: number;
  /** Median absolute error. */
  readonly medianAbs: number;
  readonly meanAbs: number;
}

export function summarizeErrors(errors: readonly number[]): ErrorSummary {
  const e = errors.filter(Number.isFinite);
  const abs = e.map(Math.abs);
  return { n: e.length, median: median(e), medianAbs: median(abs), meanAbs: mean(abs) };
}

/** Diameter of the sphere of the given volume (mm³ → mm). */
export function equivalentDiameterMm(volumeMm3: number): number {
  return Math.cbrt((6 * volumeMm3) / Math.PI);
}
