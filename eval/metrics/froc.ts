/**
 * FROC and the Competition Performance Metric (CPM) as defined for LUNA16 (Setio et al., Med Image Anal 2017)
 * and computed by its evaluation script:
 *
 * - Matching: `matchCandidates` (centre within radius; the best of several hits counts once, the rest are
 *   ignored; hits on irrelevant nodules are ignored; everything else is a false positive).
 * - Curve: each detected nodule contributes its best candidate's probability, each false positive its own;
 *   sweeping the threshold t from high to low, a point (FP(t) / scans, TP(t) / all relevant nodules) is
 *   emitted at each distinct probability, after the origin (0, 0) — the points sklearn's `roc_curve` gives
 *   the script (missed nodules lower the sensitivity but never appear as points).
 * - Reading a sensitivity at x FP/scan: numpy's `np.interp(x, fps, sens)` as the script does — linear
 *   between neighbouring points; where several points share the same FP rate (a vertical step) the highest
 *   of them is used (numpy's binary search lands on the last equal abscissa); past the last point the
 *   curve's final sensitivity is held. That last rule is LUNA16's and is optimistic for systems that stop
 *   before 8 FP/scan; we report `maxFpPerScan` beside it so a reader can see it.
 * - CPM: mean of the sensitivities at 1/8, 1/4, 1/2, 1, 2, 4 and 8 FP/scan. (The script samples a
 *   10,001-point grid between 0.125 and 8 first; interpolating at the seven rates directly is the same up to
 *   that grid's rounding.)
 * - Bootstrap (optional): scans resampled with replacement (as `computeFROC_bootstrap` does), CPM and each
 *   sensitivity recomputed, 2.5th / 97.5th percentiles reported, with a seeded generator so runs repeat.
 */
import { SrError } from '../../src/core/index.ts';
import { matchCandidates, type Candidate, type TruthLesion } from './match.ts';
import { seededRandom } from '../../src/core/random.ts';

export const CPM_FP_RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8] as const;

export interface FrocPoint {
  readonly threshold: number;
  readonly fpPerScan: number;
  readonly sensitivity: number;
}

export interface Interval {
  readonly lower: number;
  readonly upper: number;
}

export interface FrocResult {
  readonly scans: number;
  readonly relevantNodules: number;
  readonly detectedNodules: number;
  readonly falsePositives: number;
  readonly ignoredCandidates: number;
  readonly duplicateHits: number;
  /** The curve, origin first. */
  readonly curve: readonly FrocPoint[];
  /** Sensitivity at each of CPM_FP_RATES. NaN when there is no relevant nodule. */
  readonly sensitivities: readonly { readonly fpPerScan: number; readonly sensitivity: number; readonly ci?: Interval }[];
  readonly cpm: number;
  readonly cpmCi?: Interval;
  /** FP/scan at the lowest threshold: beyond it, sensitivities are held, not measured. */
  readonly maxFpPerScan: number;
  /** Highest sensitivity reached with at most 1 FP/scan (no interpolation), and the threshold giving it. */
  readonly atOneFpPerScan: { readonly sensitivity: number; readonly threshold: number; readonly fpPerScan: number };
}

export interface FrocOptions {
  /** Case ids of every scan evaluated, including scans without nodules or candidates. */
  readonly caseIds: readonly string[];
  /** Bootstrap resamples (0 = none). LUNA16 uses 1000. */
  readonly bootstrap?: number;
  readonly seed?: number;
}

/** What the curve is built from: one score per detected nodule, one per false positive, per scan. */
interface Scores {
  readonly scans: number;
  readonly relevant: number;
  readonly tp: readonly number[];
  readonly fp: readonly number[];
}

export function frocCurve(s: Scores): FrocPoint[] {
  const events: { p: number; tp: boolean }[] = [
    ...s.tp.map((p) => ({ p, tp: true })),
    ...s.fp.map((p) => ({ p, tp: false })),
  ];
  events.sort((a, b) => b.p - a.p);
  const curve: FrocPoint[] = [{ threshold: Infinity, fpPerScan: 0, sensitivity: s.relevant > 0 ? 0 : NaN }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as { p: number; tp: boolean };
    if (e.tp) tp++;
    else fp++;
    const next = events[i + 1];
    if (next !== undefined && next.p === e.p) continue; // ties form one threshold
    curve.push({ threshold: e.p, fpPerScan: fp / s.scans, sensitivity: s.relevant > 0 ? tp / s.relevant : NaN });
  }
  return curve;
}

/** np.interp(x, fps, sens) for non-decreasing fps (see the module comment for the tie rule). */
export function sensitivityAt(curve: readonly FrocPoint[], x: number): number {
  let j = -1;
  for (let i = 0; i < curve.length; i++) if ((curve[i] as FrocPoint).fpPerScan <= x) j = i;
  if (j < 0) return (curve[0] as FrocPoint).sensitivity;
  const a = curve[j] as FrocPoint;
  const b = curve[j + 1];
  if (b === undefined) return a.sensitivity;
  return a.sensitivity + ((b.sensitivity - a.sensitivity) * (x - a.fpPerScan)) / (b.fpPerScan - a.fpPerScan);
}

function cpmOf(curve: readonly FrocPoint[]): { sens: number[]; cpm: number } {
  const sens = CPM_FP_RATES.map((x) => sensitivityAt(curve, x));
  return { sens, cpm: sens.reduce((a, b) => a + b, 0) / sens.length };
}


/** Linear-interpolated percentile (numpy's default) of a sorted array. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function computeFroc<T extends TruthLesion, C extends Candidate>(truth: readonly T[], candidates: readonly C[], options: FrocOptions): FrocResult {
  const caseIds = [...new Set(options.caseIds)];
  if (caseIds.length === 0) throw new SrError('TRUTH_INVALID', 'FROC needs at least one scan');
  const known = new Set(caseIds);
  for (const x of [...truth, ...candidates]) {
    if (!known.has(x.caseId)) throw new SrError('TRUTH_INVALID', `case ${x.caseId} is not in the evaluated scans`, { details: { caseId: x.caseId } });
  }
  const m = matchCandidates(truth, candidates);
  // Per-scan scores, so the bootstrap can resample scans.
  const perCase = new Map<string, { tp: number[]; fp: number[]; relevant: number }>();
  for (const id of caseIds) perCase.set(id, { tp: [], fp: [], relevant: 0 });
  for (const [t, hits] of m.hits) {
    const c = perCase.get(t.caseId) as { tp: number[]; fp: number[]; relevant: number };
    c.relevant++;
    const best = hits[0];
    if (best !== undefined) c.tp.push(best.probability);
  }
  for (const f of m.falsePositives) perCase.get(f.caseId)?.fp.push(f.probability);

  const pool = (ids: readonly string[]): Scores => {
    const tp: number[] = [];
    const fp: number[] = [];
    let relevant = 0;
    for (const id of ids) {
      const c = perCase.get(id) as { tp: number[]; fp: number[]; relevant: number };
      tp.push(...c.tp);
      fp.push(...c.fp);
      relevant += c.relevant;
    }
    return { scans: ids.length, relevant, tp, fp };
  };

  const all = pool(caseIds);
  const curve = frocCurve(all);
  const { sens, cpm } = cpmOf(curve);

  let best = { sensitivity: 0, threshold: Infinity, fpPerScan: 0 };
  for (const p of curve) if (p.fpPerScan <= 1 && p.sensitivity > best.sensitivity) best = { ...p };
  if (all.relevant === 0) best = { sensitivity: NaN, threshold: Infinity, fpPerScan: 0 };

  let cis: Interval[] | undefined;
  let cpmCi: Interval | undefined;
  const n = options.bootstrap ?? 0;
  if (n > 0) {
    const rand = seededRandom(options.seed ?? 1);
    const sensSamples: number[][] = CPM_FP_RATES.map(() => []);
    const cpmSamples: number[] = [];
    for (let b = 0; b < n; b++) {
      const ids = caseIds.map(() => caseIds[Math.floor(rand() * caseIds.length)] as string);
      const s = pool(ids);
      if (s.relevant === 0) continue; // a resample without nodules has no sensitivity
      const r = cpmOf(frocCurve(s));
      r.sens.forEach((v, i) => sensSamples[i]?.push(v));
      cpmSamples.push(r.cpm);
    }
    const ci = (xs: number[]): Interval => {
      const sorted = [...xs].sort((a, b) => a - b);
      return { lower: percentile(sorted, 0.025), upper: percentile(sorted, 0.975) };
    };
    cis = sensSamples.map(ci);
    cpmCi = ci(cpmSamples);
  }

  return {
    scans: caseIds.length,
    relevantNodules: all.relevant,
    detectedNodules: all.tp.length,
    falsePositives: all.fp.length,
    ignoredCandidates: m.ignored.length,
    duplicateHits: m.duplicateHits,
    curve,
    sensitivities: CPM_FP_RATES.map((fpPerScan, i) => ({ fpPerScan, sensitivity: sens[i] as number, ...(cis ? { ci: cis[i] as Interval } : {}) })),
    cpm,
    ...(cpmCi ? { cpmCi } : {}),
    maxFpPerScan: all.fp.length / caseIds.length,
    atOneFpPerScan: best,
  };
}
