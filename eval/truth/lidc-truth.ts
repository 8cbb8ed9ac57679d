/**
 * LIDC reader marks → nodule truth in patient LPS millimetres, LUNA16 style.
 *
 * Per reader nodule (contoured, ≥ 3 mm): each roi is filled (outline pixels included, see contour.ts),
 * exclusion rois cut out their interior, rois on the same slice are united. Then
 *   volume       = Σ slices (pixel count × row spacing × column spacing) × slice spacing of the series;
 *   centre       = mean LPS position of all filled pixels (pixel centres);
 *   equivalent diameter = diameter of the sphere of that volume;
 *   mean axis diameter  = (long + short axis) / 2 on the slice of largest area (Lung-RADS).
 * Marks of different readers are grouped into one nodule (single linkage) when their filled regions share a
 * pixel on the same image, or when one centre lies within the other's equivalent radius. A group's centre,
 * diameter (equivalent diameter), axis diameter and volume are the means over its readers.
 *
 * Relevance follows LUNA16: a nodule counts when at least `minReaders` (3) readers marked it and its mean
 * diameter is ≥ 3 mm; fewer readers, nodules < 3 mm (point marks) and non-nodules are "irrelevant" — hits on
 * them are neither true nor false positives; point marks get LUNA16's 10 mm hit sphere. Calcified nodules
 * (median calcification rating < 6) are irrelevant too when `calcifiedIrrelevant` is set.
 *
 * Coverage: the series excerpt may not hold every slice a reader outlined. A mark wholly outside the slices
 * given is excluded (listed in `notes`); a mark partly outside makes its nodule irrelevant (it cannot be
 * measured, but a detection on its visible part must not count as a false positive).
 */
import type { Vec3 } from '../../src/imaging/index.ts';
import { equivalentDiameterMm, median } from '../metrics/stats.ts';
import type { NoduleTruth } from '../metrics/nodules.ts';
import { distanceMm } from '../metrics/match.ts';
import { fillContour, regionAxes } from './contour.ts';
import type { LidcReadMessage, LidcReaderNodule, LidcCharacteristics } from './lidc-xml.ts';
import { pixelToLps, sliceNormal, sliceSpacingMm, type SliceGeometry } from './slice-geometry.ts';

export interface ReaderMark {
  readonly reader: number;
  readonly noduleId: string;
  readonly characteristics: LidcCharacteristics | undefined;
  readonly zRangeMm: readonly [number, number];
  /** 'full' every outlined slice is in the series; 'partial' some; 'none' none. */
  readonly coverage: 'full' | 'partial' | 'none';
  /** Undefined when coverage is 'none'. */
  readonly centerMm: Vec3 | undefined;
  readonly volumeMm3: number;
  readonly equivalentDiameterMm: number;
  readonly longAxisMm: number;
  readonly shortAxisMm: number;
  readonly meanAxisDiameterMm: number;
  /** SOPInstanceUID → filled pixels ("col,row" keys), for overlap tests. */
  readonly pixelsBySlice: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface LidcNodule extends NoduleTruth {
  readonly readers: number;
  readonly marks: readonly ReaderMark[];
  readonly meanAxisDiameterMm: number;
  readonly volumeMm3: number;
  readonly malignancy: readonly number[];
  readonly calcified: boolean;
  readonly coverage: 'full' | 'partial';
}

export interface LidcTruth {
  /** Consensus nodules, relevant or not. */
  readonly nodules: readonly LidcNodule[];
  /** Point marks (< 3 mm nodules, non-nodules) inside the series: always irrelevant. */
  readonly irrelevantPoints: readonly NoduleTruth[];
  readonly notes: readonly string[];
  readonly sliceSpacingMm: number;
}

export interface LidcTruthOptions {
  readonly caseId: string;
  /** LUNA16: 3 of 4 readers. */
  readonly minReaders?: number;
  readonly calcifiedIrrelevant?: boolean;
  /** Slice spacing when the series has a single slice (else measured from the slices). */
  readonly sliceSpacingMm?: number;
  /** LUNA16's hit sphere for marks without a size. */
  readonly pointDiameterMm?: number;
}

function textureType(texture: number | undefined): string | undefined {
  if (texture === undefined) return undefined;
  if (texture <= 2) return 'ground-glass';
  if (texture < 4) return 'part-solid';
  return 'solid';
}

class SliceIndex {
  private readonly bySop = new Map<string, SliceGeometry>();
  constructor(private readonly slices: readonly SliceGeometry[]) {
    for (const s of slices) this.bySop.set(s.sopInstanceUid, s);
  }
  find(sop: string, z: number): SliceGeometry | undefined {
    // The SOP UID is authoritative; imageZposition is a fallback for files re-identified by a converter.
    return this.bySop.get(sop) ?? this.slices.find((s) => {
      const n = sliceNormal(s);
      return Math.abs(n[2]) > 0.99 && Math.abs(s.imagePositionPatient[2] - z) < 0.01;
    });
  }
}

function measureMark(reader: number, n: LidcReaderNodule, index: SliceIndex, spacingMm: number): ReaderMark {
  const zs = n.rois.map((r) => r.imageZposition);
  const zRangeMm: [number, number] = [Math.min(...zs), Math.max(...zs)];
  const bySlice = new Map<string, { geom: SliceGeometry | undefined; inc: Set<string>; exc: Set<string> }>();
  for (const roi of n.rois) {
    const key = roi.imageSopUid;
    let s = bySlice.get(key);
    if (!s) bySlice.set(key, (s = { geom: index.find(roi.imageSopUid, roi.imageZposition), inc: new Set(), exc: new Set() }));
    const px = fillContour(roi.edgeMap, !roi.inclusion);
    for (const [x, y] of px) (roi.inclusion ? s.inc : s.exc).add(`${x},${y}`);
  }
  let covered = 0;
  let count = 0;
  let volume = 0;
  const sum: Vec3 = [0, 0, 0];
  let largest: { geom: SliceGeometry; pixels: string[] } | undefined;
  const pixelsBySlice = new Map<string, Set<string>>();
  for (const [sop, s] of bySlice) {
    const pixels = [...s.inc].filter((p) => !s.exc.has(p));
    if (!s.geom) continue;
    covered++;
    pixelsBySlice.set(sop, new Set(pixels));
    const [dr, dc] = s.geom.pixelSpacing;
    volume += pixels.length * dr * dc * spacingMm;
    for (const p of pixels) {
      const [x, y] = p.split(',').map(Number) as [number, number];
      const lps = pixelToLps(s.geom, x, y);
      sum[0] += lps[0]; sum[1] += lps[1]; sum[2] += lps[2];
      count++;
    }
    if (!largest || pixels.length > largest.pixels.length) largest = { geom: s.geom, pixels };
  }
  let longAxisMm = 0;
  let shortAxisMm = 0;
  if (largest) {
    const [dr, dc] = largest.geom.pixelSpacing;
    const pts = largest.pixels.map((p) => {
      const [x, y] = p.split(',').map(Number) as [number, number];
      return [x * dc, y * dr] as const;
    });
    ({ longMm: longAxisMm, shortMm: shortAxisMm } = regionAxes(pts, Math.min(dr, dc)));
  }
  const coverage = covered === 0 ? 'none' : covered === bySlice.size ? 'full' : 'partial';
  return {
    reader, noduleId: n.noduleId, characteristics: n.characteristics, zRangeMm, coverage,
    centerMm: count > 0 ? [sum[0] / count, sum[1] / count, sum[2] / count] : undefined,
    volumeMm3: volume, equivalentDiameterMm: equivalentDiameterMm(volume),
    longAxisMm, shortAxisMm, meanAxisDiameterMm: (longAxisMm + shortAxisMm) / 2,
    pixelsBySlice,
  };
}

function overlaps(a: ReaderMark, b: ReaderMark): boolean {
  for (const [sop, pa] of a.pixelsBySlice) {
    const pb = b.pixelsBySlice.get(sop);
    if (!pb) continue;
    for (const p of pa) if (pb.has(p)) return true;
  }
  return false;
}

function linked(a: ReaderMark, b: ReaderMark): boolean {
  if (a.reader === b.reader || !a.centerMm || !b.centerMm) return false;
  const d = distanceMm(a.centerMm, b.centerMm);
  return d < Math.max(a.equivalentDiameterMm, b.equivalentDiameterMm) / 2 || overlaps(a, b);
}

export function lidcTruth(message: LidcReadMessage, slices: readonly SliceGeometry[], options: LidcTruthOptions): LidcTruth {
  const notes: string[] = [];
  const minReaders = options.minReaders ?? 3;
  const spacing = sliceSpacingMm(slices) ?? options.sliceSpacingMm ?? NaN;
  const index = new SliceIndex(slices);
  const marks: ReaderMark[] = [];
  const irrelevantPoints: NoduleTruth[] = [];
  const pointDiameterMm = options.pointDiameterMm ?? 10;
  for (const s of message.sessions) {
    for (const n of s.nodules) {
      if (n.small) {
        const roi = n.rois[0];
        const g = roi ? index.find(roi.imageSopUid, roi.imageZposition) : undefined;
        const p = roi?.edgeMap[0];
        if (!g || !p) {
          notes.push(`reader ${s.index} small nodule ${n.noduleId} (z ${roi?.imageZposition}) is outside the series: excluded`);
          continue;
        }
        irrelevantPoints.push({ id: `r${s.index}-${n.noduleId}`, caseId: options.caseId, centerMm: pixelToLps(g, p[0], p[1]), diameterMm: pointDiameterMm, relevant: false, type: 'nodule<3mm' });
        continue;
      }
      const m = measureMark(s.index, n, index, spacing);
      if (m.coverage === 'none') {
        notes.push(`reader ${s.index} nodule ${n.noduleId} (z ${m.zRangeMm[0]}..${m.zRangeMm[1]}) is outside the series: excluded`);
        continue;
      }
      marks.push(m);
    }
    for (const nn of s.nonNodules) {
      const g = index.find(nn.imageSopUid, nn.imageZposition);
      if (!g) {
        notes.push(`reader ${s.index} non-nodule ${nn.nonNoduleId} (z ${nn.imageZposition}) is outside the series: excluded`);
        continue;
      }
      irrelevantPoints.push({ id: `r${s.index}-${nn.nonNoduleId}`, caseId: options.caseId, centerMm: pixelToLps(g, nn.locus[0], nn.locus[1]), diameterMm: pointDiameterMm, relevant: false, type: 'non-nodule' });
    }
  }

  // Single-linkage grouping (union-find) over reader marks.
  const parent = marks.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i] as number)));
  for (let i = 0; i < marks.length; i++) {
    for (let j = i + 1; j < marks.length; j++) if (linked(marks[i] as ReaderMark, marks[j] as ReaderMark)) parent[root(i)] = root(j);
  }
  const groups = new Map<number, ReaderMark[]>();
  marks.forEach((m, i) => {
    const r = root(i);
    groups.set(r, [...(groups.get(r) ?? []), m]);
  });

  const nodules: LidcNodule[] = [];
  const sorted = [...groups.values()].sort((a, b) => Math.max(...b.map((m) => m.zRangeMm[1])) - Math.max(...a.map((m) => m.zRangeMm[1])));
  sorted.forEach((g, gi) => {
    const readers = new Set(g.map((m) => m.reader)).size;
    if (readers < g.length) notes.push(`nodule ${gi + 1}: a reader has ${g.length - readers} extra mark(s) in the same group`);
    const mean = (f: (m: ReaderMark) => number) => g.reduce((a, m) => a + f(m), 0) / g.length;
    const centerMm: Vec3 = [mean((m) => (m.centerMm as Vec3)[0]), mean((m) => (m.centerMm as Vec3)[1]), mean((m) => (m.centerMm as Vec3)[2])];
    const diameterMm = mean((m) => m.equivalentDiameterMm);
    const calc = median(g.map((m) => m.characteristics?.calcification ?? NaN));
    const calcified = Number.isFinite(calc) && calc < 6;
    const coverage = g.every((m) => m.coverage === 'full') ? 'full' : 'partial';
    const type = calcified ? 'calcified' : textureType(median(g.map((m) => m.characteristics?.texture ?? NaN)) || undefined);
    let relevant = readers >= minReaders && diameterMm >= 3 && coverage === 'full';
    if (calcified && options.calcifiedIrrelevant) relevant = false;
    if (coverage === 'partial') notes.push(`nodule ${gi + 1}: partly outside the series: irrelevant (hits ignored, not measured)`);
    nodules.push({
      id: `${options.caseId}-n${gi + 1}`, caseId: options.caseId, centerMm, diameterMm, relevant,
      ...(type ? { type } : {}),
      volumeMm3: mean((m) => m.volumeMm3), meanAxisDiameterMm: mean((m) => m.meanAxisDiameterMm),
      readers, marks: g, malignancy: g.map((m) => m.characteristics?.malignancy ?? NaN).filter(Number.isFinite), calcified, coverage,
    });
  });
  return { nodules, irrelevantPoints, notes, sliceSpacingMm: spacing };
}
