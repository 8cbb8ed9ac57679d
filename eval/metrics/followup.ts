/**
 * Follow-up metrics: how a follow-up result (current findings with status / prior fields, the registration
 * matrix) agrees with a follow-up pair's truth (eval/phantoms/followup.ts).
 *
 * - A truth nodule is "found" on the current scan by the shown finding nearest its current centre within
 *   max(5 mm, ½ diameter) — the LUNA16 hit radius idea. Shown: probability ≥ threshold, or a prior-guided
 *   follow-up finding (`priorGuided: true` with a status: the analysis displays it because the other scan has a
 *   reported nodule there); never a 'resolved' entry.
 * - Pair right: a truth nodule present on both scans, found, labelled stable/grown/shrunk, and its finding's
 *   prior centre within the same radius of the truth prior centre.
 * - A prior-guided pair is held to the same rule as any pair: it is right only when its prior centre is the same
 *   truth nodule's prior centre. Counted apart: true new nodules wrongly paired (found, labelled stable / grown /
 *   shrunk), truth resolved nodules a shown current finding was paired with, and prior-guided findings on no truth nodule (a vessel candidate paired with a prior false positive).
 * - New right: found and labelled 'new'. Resolved right: a 'resolved' entry whose prior centre lies within the
 *   radius of the truth prior centre.
 * - VDT error: |VDT − true VDT| / |true VDT| on right pairs with a finite truth VDT (grown and shrunk nodules).
 * - Registration error: distance between where the estimated and the true matrices send the truth nodule centres
 *   and the corners of the central 60 % of the current grid.
 */
import type { Vec3 } from '../../src/imaging/index.ts';
import { transformDiscrepancyMm } from '../../src/imaging/index.ts';

export interface FollowUpTruthNodule {
  id: string;
  fate: string;
  expectedStatus: string;
  prior?: { centerMm: Vec3; diameterMm: number; volumeMm3: number };
  current?: { centerMm: Vec3; diameterMm: number; volumeMm3: number };
  vdtDays: number | null;
}

export interface FollowUpTruthLike {
  currentToPriorMm: number[];
  acquisition: { dims: Vec3; spacingMm: Vec3; originMm: Vec3 };
  nodules: FollowUpTruthNodule[];
}

export interface FollowUpFindingLike {
  id: string;
  centerMm: readonly number[];
  probability: number;
  readonly [extra: string]: unknown;
}

export interface FollowUpCaseInput {
  caseId: string;
  truth: FollowUpTruthLike;
  findings: readonly FollowUpFindingLike[];
  /** Estimated current → prior matrix, if the comparison ran. */
  matrix?: readonly number[];
  registrationMs?: number;
  /** Centres (prior LPS) of the nodules the analysis reported on the prior (measurements.followUp.priorNodules). */
  priorReported?: readonly (readonly number[])[];
}

export interface FollowUpNoduleOutcome {
  caseId: string;
  id: string;
  fate: string;
  expectedStatus: string;
  found: boolean;
  status: string | null;
  pairRight?: boolean;
  newRight?: boolean;
  resolvedRight?: boolean;
  /** Resolved truth nodules: a shown current finding was paired with it. */
  wronglyPaired?: boolean;
  /** Found by a prior-guided finding. */
  priorGuided?: boolean;
  /** Resolved truth nodules: whether the analysis reported it on the prior (undefined when unknown). */
  priorDetected?: boolean;
  vdtTrue: number | null;
  vdtEstimated: number | null;
  vdtErrorPct?: number;
}

export interface FollowUpMetrics {
  pairs: number;
  /** Cases whose comparison ran (a matrix came back). */
  casesCompared: number;
  truthPairs: number;
  pairsRight: number;
  pairsMatchedPct: number;
  /** Of the truth pairs found on the current scan. */
  pairsMatchedOfFoundPct: number;
  newTotal: number;
  newRight: number;
  /** True new nodules found on the current scan but paired with something on the prior (stable/grown/shrunk). */
  newWronglyPaired: number;
  /** Prior-guided current findings (shown with a status because of the other scan). */
  priorGuided: number;
  /** … of them on a truth pair and paired right. */
  priorGuidedRight: number;
  /** Shown only because of the guidance (probability < threshold) and within the hit radius of no truth nodule: false positives the guidance added. */
  priorGuidedOnNoTruth: number;
  resolvedTotal: number;
  resolvedRight: number;
  /** Truth resolved nodules whose prior position a shown current finding claims as its prior (paired with something now). */
  resolvedWronglyPaired: number;
  newResolvedRightPct: number;
  /**
   * The same, counting only nodules the detector reported (new: found on the current scan; resolved: reported on
   * the prior): what pairing gets right when detection did not miss. Needs `priorReported` for resolved.
   */
  newResolvedRightOfDetectedPct: number;
  /** Right pairs whose status equals the truth's Lung-RADS growth status. */
  statusAgreementPct: number;
  vdtCount: number;
  medianVdtErrorPct: number;
  registrationErrorMm: { mean: number; median: number; max: number };
  registrationMs: { median: number; max: number };
  outcomes: FollowUpNoduleOutcome[];
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function dist(a: readonly number[], b: readonly number[]): number {
  return Math.hypot((a[0] ?? 0) - (b[0] ?? 0), (a[1] ?? 0) - (b[1] ?? 0), (a[2] ?? 0) - (b[2] ?? 0));
}

function radius(d: number): number {
  return Math.max(5, d / 2);
}

function priorCenter(f: FollowUpFindingLike): readonly number[] | undefined {
  const c = f['priorCenterMm'];
  return Array.isArray(c) && c.length === 3 && c.every((x) => typeof x === 'number') ? (c as number[]) : undefined;
}

function pct(n: number, d: number): number {
  return d > 0 ? (100 * n) / d : Number.NaN;
}

/** Probe points of the registration error: truth nodule centres (current) and the central box corners. */
export function registrationProbes(truth: FollowUpTruthLike): Vec3[] {
  const { dims, spacingMm, originMm } = truth.acquisition;
  const pts: Vec3[] = truth.nodules.flatMap((n) => (n.current ? [n.current.centerMm] : []));
  for (let c = 0; c < 8; c++) {
    pts.push([0, 1, 2].map((a) => {
      const ext = (dims[a]! - 1) * spacingMm[a]!;
      return originMm[a]! + ext * (c & (1 << a) ? 0.8 : 0.2);
    }) as Vec3);
  }
  return pts;
}

export function computeFollowUpMetrics(cases: readonly FollowUpCaseInput[], threshold = 0.5): FollowUpMetrics {
  const outcomes: FollowUpNoduleOutcome[] = [];
  const regErr: number[] = [];
  const regMs: number[] = [];
  let compared = 0;
  let guided = 0, guidedOnNoTruth = 0;
  for (const c of cases) {
    if (c.matrix) {
      compared++;
      regErr.push(transformDiscrepancyMm(c.matrix, c.truth.currentToPriorMm, registrationProbes(c.truth)).mean);
      if (c.registrationMs !== undefined) regMs.push(c.registrationMs);
    }
    const isGuided = (f: FollowUpFindingLike): boolean => f['priorGuided'] === true && typeof f['status'] === 'string';
    const reported = c.findings.filter((f) => (f.probability >= threshold || isGuided(f)) && f['status'] !== 'resolved');
    for (const f of reported) {
      if (!isGuided(f)) continue;
      guided++;
      if (f.probability < threshold && !c.truth.nodules.some((n) => n.current && dist(f.centerMm, n.current.centerMm) <= radius(n.current.diameterMm))) guidedOnNoTruth++;
    }
    const resolved = c.findings.filter((f) => f['status'] === 'resolved');
    const usedResolved = new Set<string>();
    for (const n of c.truth.nodules) {
      const o: FollowUpNoduleOutcome = { caseId: c.caseId, id: n.id, fate: n.fate, expectedStatus: n.expectedStatus, found: false, status: null, vdtTrue: n.vdtDays, vdtEstimated: null };
      if (n.current) {
        const r = radius(n.current.diameterMm);
        const hit = reported.map((f) => ({ f, d: dist(f.centerMm, n.current!.centerMm) })).filter((x) => x.d <= r).sort((a, b) => a.d - b.d)[0];
        if (hit) {
          o.found = true;
          o.priorGuided = isGuided(hit.f);
          const st = hit.f['status'];
          o.status = typeof st === 'string' ? st : null;
          const v = hit.f['vdtDays'];
          o.vdtEstimated = typeof v === 'number' ? v : null;
          if (n.prior) {
            const pc = priorCenter(hit.f);
            o.pairRight = (o.status === 'stable' || o.status === 'grown' || o.status === 'shrunk') && pc !== undefined && dist(pc, n.prior.centerMm) <= radius(n.prior.diameterMm);
            if (o.pairRight && n.vdtDays !== null && o.vdtEstimated !== null) o.vdtErrorPct = (100 * Math.abs(o.vdtEstimated - n.vdtDays)) / Math.abs(n.vdtDays);
          } else o.newRight = o.status === 'new';
        } else if (n.prior) o.pairRight = false;
        else o.newRight = false;
      } else if (n.prior) {
        const r = radius(n.prior.diameterMm);
        const hit = resolved.find((f) => !usedResolved.has(f.id) && priorCenter(f) !== undefined && dist(priorCenter(f)!, n.prior!.centerMm) <= r);
        if (hit) usedResolved.add(hit.id);
        o.status = hit ? 'resolved' : null;
        o.resolvedRight = hit !== undefined;
        o.wronglyPaired = reported.some((f) => { const pc = priorCenter(f); return pc !== undefined && dist(pc, n.prior!.centerMm) <= r; });
        if (c.priorReported) o.priorDetected = c.priorReported.some((q) => dist(q, n.prior!.centerMm) <= r);
      }
      outcomes.push(o);
    }
  }
  const pairs = outcomes.filter((o) => o.pairRight !== undefined);
  const right = pairs.filter((o) => o.pairRight);
  const foundPairs = pairs.filter((o) => o.found);
  const news = outcomes.filter((o) => o.newRight !== undefined);
  const res = outcomes.filter((o) => o.resolvedRight !== undefined);
  const vdtErr = outcomes.flatMap((o) => (o.vdtErrorPct !== undefined ? [o.vdtErrorPct] : []));
  return {
    pairs: cases.length,
    casesCompared: compared,
    truthPairs: pairs.length,
    pairsRight: right.length,
    pairsMatchedPct: pct(right.length, pairs.length),
    pairsMatchedOfFoundPct: pct(right.length, foundPairs.length),
    newTotal: news.length,
    newRight: news.filter((o) => o.newRight).length,
    newWronglyPaired: news.filter((o) => o.found && (o.status === 'stable' || o.status === 'grown' || o.status === 'shrunk')).length,
    priorGuided: guided,
    priorGuidedRight: right.filter((o) => o.priorGuided === true).length,
    priorGuidedOnNoTruth: guidedOnNoTruth,
    resolvedTotal: res.length,
    resolvedRight: res.filter((o) => o.resolvedRight).length,
    resolvedWronglyPaired: res.filter((o) => o.wronglyPaired === true).length,
    newResolvedRightPct: pct(news.filter((o) => o.newRight).length + res.filter((o) => o.resolvedRight).length, news.length + res.length),
    newResolvedRightOfDetectedPct: (() => {
      const n = news.filter((o) => o.found), r = res.filter((o) => o.priorDetected === true);
      return pct(n.filter((o) => o.newRight).length + r.filter((o) => o.resolvedRight).length, n.length + r.length);
    })(),
    statusAgreementPct: pct(right.filter((o) => o.status === o.expectedStatus).length, right.length),
    vdtCount: vdtErr.length,
    medianVdtErrorPct: median(vdtErr),
    registrationErrorMm: { mean: regErr.length ? regErr.reduce((a, b) => a + b, 0) / regErr.length : Number.NaN, median: median(regErr), max: regErr.length ? Math.max(...regErr) : Number.NaN },
    registrationMs: { median: median(regMs), max: regMs.length ? Math.max(...regMs) : Number.NaN },
    outcomes,
  };
}

function f1(x: number): string {
  return Number.isFinite(x) ? x.toFixed(1) : 'n/a';
}

export function formatFollowUpMetrics(m: FollowUpMetrics): string {
  return [
    `pairs (cases): ${m.pairs}, compared: ${m.casesCompared}`,
    `nodule pairs matched: ${m.pairsRight}/${m.truthPairs} = ${f1(m.pairsMatchedPct)} % (of those found on the current scan: ${f1(m.pairsMatchedOfFoundPct)} %)`,
    `prior-guided findings: ${m.priorGuided} (right pairs ${m.priorGuidedRight}, on no truth nodule ${m.priorGuidedOnNoTruth}); true new nodules wrongly paired: ${m.newWronglyPaired}; resolved nodules wrongly paired: ${m.resolvedWronglyPaired}`,
    `new labelled right: ${m.newRight}/${m.newTotal}; resolved labelled right: ${m.resolvedRight}/${m.resolvedTotal}; together ${f1(m.newResolvedRightPct)} % (of those the detector reported: ${f1(m.newResolvedRightOfDetectedPct)} %)`,
    `status (Lung-RADS growth) agreement on matched pairs: ${f1(m.statusAgreementPct)} %`,
    `median |VDT error|: ${f1(m.medianVdtErrorPct)} % over ${m.vdtCount} grown/shrunk pair(s)`,
    `registration error: mean ${m.registrationErrorMm.mean.toFixed(2)} mm, median ${m.registrationErrorMm.median.toFixed(2)} mm, max ${m.registrationErrorMm.max.toFixed(2)} mm`,
    `registration time per pair: median ${f1(m.registrationMs.median / 1000)} s, max ${f1(m.registrationMs.max / 1000)} s`,
  ].join('\n');
}
