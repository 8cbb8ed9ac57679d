/**
 * The LUNA16 hit rule (Setio et al., Med Image Anal 2017, §2.4), shared by FROC and the measurement metrics:
 * a candidate hits a nodule when its centre lies strictly within the nodule's radius (diameter / 2) of the
 * nodule's centre, in patient LPS millimetres. The official script compares squared distances with `<`,
 * so a candidate exactly on the sphere is a miss; we keep that.
 */
import type { Vec3 } from '../../src/imaging/index.ts';

export interface TruthLesion {
  readonly id: string;
  readonly caseId: string;
  readonly centerMm: Vec3;
  readonly diameterMm: number;
  /**
   * false = "irrelevant" (LUNA16's annotations_excluded: < 3 mm, non-nodules, or a group left out of a
   * sub-analysis): candidates hitting it are neither true nor false positives. Default true.
   */
  readonly relevant?: boolean;
}

export interface Candidate {
  readonly caseId: string;
  readonly centerMm: Vec3;
  readonly probability: number;
  readonly id?: string;
}

export interface CandidateMatch<T extends TruthLesion, C extends Candidate> {
  /** Per relevant nodule: the hitting candidates (best first). Empty = missed. */
  readonly hits: ReadonlyMap<T, readonly C[]>;
  /** Candidates hitting no nodule at all: false positives. */
  readonly falsePositives: readonly C[];
  /** Candidates that hit only irrelevant nodules: ignored (not TP, not FP). */
  readonly ignored: readonly C[];
  /** Hits beyond the best one on a nodule: ignored, as LUNA16 does ("double detections"). */
  readonly duplicateHits: number;
}

export function distanceMm(a: readonly number[], b: readonly number[]): number {
  return Math.hypot((a[0] ?? 0) - (b[0] ?? 0), (a[1] ?? 0) - (b[1] ?? 0), (a[2] ?? 0) - (b[2] ?? 0));
}

export function isHit(lesion: Pick<TruthLesion, 'centerMm' | 'diameterMm'>, point: readonly number[]): boolean {
  const r = lesion.diameterMm / 2;
  const dx = (point[0] ?? 0) - lesion.centerMm[0];
  const dy = (point[1] ?? 0) - lesion.centerMm[1];
  const dz = (point[2] ?? 0) - lesion.centerMm[2];
  return dx * dx + dy * dy + dz * dz < r * r;
}

/**
 * Matches candidates to truth case by case. A candidate that hits a relevant nodule is never a false
 * positive, even if it also hits an irrelevant one; a candidate inside two relevant nodules counts for
 * both (as in the LUNA16 script, which warns about it but keeps it).
 */
export function matchCandidates<T extends TruthLesion, C extends Candidate>(truth: readonly T[], candidates: readonly C[]): CandidateMatch<T, C> {
  const hits = new Map<T, C[]>();
  for (const t of truth) if (t.relevant !== false) hits.set(t, []);
  const byCase = new Map<string, T[]>();
  for (const t of truth) {
    const list = byCase.get(t.caseId) ?? [];
    list.push(t);
    byCase.set(t.caseId, list);
  }
  const falsePositives: C[] = [];
  const ignored: C[] = [];
  for (const c of candidates) {
    let relevantHit = false;
    let irrelevantHit = false;
    for (const t of byCase.get(c.caseId) ?? []) {
      if (!isHit(t, c.centerMm)) continue;
      if (t.relevant === false) irrelevantHit = true;
      else {
        relevantHit = true;
        hits.get(t)?.push(c);
      }
    }
    if (!relevantHit) (irrelevantHit ? ignored : falsePositives).push(c);
  }
  let duplicateHits = 0;
  for (const list of hits.values()) {
    list.sort((a, b) => b.probability - a.probability);
    duplicateHits += Math.max(0, list.length - 1);
  }
  return { hits, falsePositives, ignored, duplicateHits };
}
