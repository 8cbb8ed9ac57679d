/**
 * Midline shift.
 *
 * Ideal midline: the symmetry plane of the inner table. On every slice through the widest part of the cranium
 * the cavity's outline is mirrored about candidate lines (angle, offset) and the line whose mirror image falls
 * best on the outline (mean distance to it, via a distance map) wins; the per-slice lines are then fitted by one
 * plane (least squares, smallest eigenvector of the scatter). The inner table does not move with mass effect,
 * unlike the brain, so this is the reference radiologists use (the line joining the anterior and posterior
 * falx attachments); its anterior/posterior ends at the septum's level are reported as those attachments.
 *
 * Septum pellucidum: on the slices around the foramen of Monro the two frontal horns appear as CSF runs on
 * either side of a thin (1–6 mm) non-CSF gap; the gap's midpoint is a septum sample. The shift is the distance
 * of the septum (median of the samples on the slices where the frontal horns are widest) from the plane.
 */
import type { Float32Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { createVolume, distanceTransform, ijkToLps, lpsToIjk, symmetricEigen3 } from '../../imaging/index.ts';
import type { BrainMasks } from './brain-extraction.ts';
import { CSF_HU } from './blood.ts';

export interface MidlinePlane {
  /** A point on the plane and its unit normal (patient left-right-ish), LPS. */
  readonly pointMm: Vec3;
  readonly normal: Vec3;
}

export function signedDistance(plane: MidlinePlane, p: readonly number[]): number {
  return ((p[0] ?? 0) - plane.pointMm[0]) * plane.normal[0] + ((p[1] ?? 0) - plane.pointMm[1]) * plane.normal[1] + ((p[2] ?? 0) - plane.pointMm[2]) * plane.normal[2];
}

interface SliceLine { k: number; x0: number; y0: number; c: number; s: number; score: number }

/** Symmetry line of the cavity outline on slice k (in-plane mm coordinates). */
function sliceSymmetry(cavity: MaskVolume, k: number): SliceLine | undefined {
  const [nx, ny] = cavity.dims;
  const sp = cavity.spacing[0];
  const base = k * nx * ny;
  const edge = new Uint8Array(nx * ny);
  const pts: [number, number][] = [];
  let sx = 0, sy = 0, area = 0;
  for (let j = 1; j < ny - 1; j++) {
    for (let i = 1; i < nx - 1; i++) {
      const v = base + i + j * nx;
      if (cavity.data[v] === 0) continue;
      area++; sx += i; sy += j;
      if (cavity.data[v - 1] === 0 || cavity.data[v + 1] === 0 || cavity.data[v - nx] === 0 || cavity.data[v + nx] === 0) {
        edge[i + j * nx] = 1;
        pts.push([i * sp, j * sp]);
      }
    }
  }
  if (area < 100 || pts.length < 50) return undefined;
  const dist = distanceTransform(createVolume(edge, { dims: [nx, ny, 1], spacing: [sp, sp, 1] }), { inside: false }).data;
  const x0 = (sx / area) * sp, y0 = (sy / area) * sp;
  const cost = (angleDeg: number, off: number): number => {
    const a = (angleDeg * Math.PI) / 180;
    const c = Math.cos(a), s = Math.sin(a);
    let sum = 0;
    const step = Math.max(1, Math.floor(pts.length / 400));
    let m = 0;
    for (let q = 0; q < pts.length; q += step) {
      const p = pts[q] as [number, number];
      const d = (p[0] - x0) * c + (p[1] - y0) * s - off;
      const mx = p[0] - 2 * d * c, my = p[1] - 2 * d * s;
      const ii = Math.round(mx / sp), jj = Math.round(my / sp);
      const dd = ii >= 0 && jj >= 0 && ii < nx && jj < ny ? (dist[ii + jj * nx] as number) : 20;
      sum += Math.min(dd, 20);
      m++;
    }
    return sum / m;
  };
  let best = { a: 0, o: 0, f: Infinity };
  for (let a = -12; a <= 12; a += 1.5) for (let o = -15; o <= 15; o += 1.5) { const f = cost(a, o); if (f < best.f) best = { a, o, f }; }
  for (const [da, dof] of [[1, 1], [0.3, 0.3], [0.1, 0.1]] as const) {
    const c0 = best;
    for (let a = c0.a - 3 * da; a <= c0.a + 3 * da + 1e-9; a += da) for (let o = c0.o - 3 * dof; o <= c0.o + 3 * dof + 1e-9; o += dof) { const f = cost(a, o); if (f < best.f) best = { a, o, f }; }
  }
  const ar = (best.a * Math.PI) / 180;
  return { k, x0: x0 + best.o * Math.cos(ar), y0: y0 + best.o * Math.sin(ar), c: Math.cos(ar), s: Math.sin(ar), score: best.f };
}

export interface IdealMidline {
  readonly plane: MidlinePlane;
  /** Slices used. */
  readonly slices: number;
}

export function idealMidline(masks: BrainMasks): IdealMidline | undefined {
  const cav = masks.cavity;
  const nz = cav.dims[2];
  let maxArea = 0;
  for (const a of masks.sliceArea) maxArea = Math.max(maxArea, a);
  const lines: SliceLine[] = [];
  // The widest slices: the outline is long and smooth there (no orbits, no petrous ridges).
  const step = Math.max(1, Math.round(6 / cav.spacing[2]));
  for (let k = 0; k < nz; k += step) if ((masks.sliceArea[k] as number) >= 0.7 * maxArea) {
    const l = sliceSymmetry(cav, k);
    if (l && l.score < 2.5) lines.push(l);
  }
  if (lines.length < 2) {
    if (lines.length === 0) return undefined;
  }
  const pts: Vec3[] = [];
  for (const l of lines) {
    // The line direction in-plane is perpendicular to the normal (c, s).
    for (const t of [-50, -25, 0, 25, 50]) {
      const x = l.x0 - l.s * t, y = l.y0 + l.c * t;
      pts.push(ijkToLps(cav, [x / cav.spacing[0], y / cav.spacing[1], l.k]));
    }
  }
  const m: Vec3 = [0, 0, 0];
  for (const p of pts) { m[0] += p[0]; m[1] += p[1]; m[2] += p[2]; }
  m[0] /= pts.length; m[1] /= pts.length; m[2] /= pts.length;
  const cov = [0, 0, 0, 0, 0, 0];
  for (const p of pts) {
    const a = p[0] - m[0], b = p[1] - m[1], c = p[2] - m[2];
    cov[0] = (cov[0] as number) + a * a; cov[1] = (cov[1] as number) + a * b; cov[2] = (cov[2] as number) + a * c;
    cov[3] = (cov[3] as number) + b * b; cov[4] = (cov[4] as number) + b * c; cov[5] = (cov[5] as number) + c * c;
  }
  let normal: Vec3;
  const first = lines[0] as SliceLine;
  // In-plane normal of the first line, in LPS (fallback and sign reference).
  const o = ijkToLps(cav, [0, 0, 0]);
  const q = ijkToLps(cav, [first.c / cav.spacing[0], first.s / cav.spacing[1], 0]);
  const inPlaneN: Vec3 = [q[0] - o[0], q[1] - o[1], q[2] - o[2]];
  if (lines.length >= 2) {
    const e = symmetricEigen3(cov);
    // symmetricEigen3 orders by |λ| ascending: the first vector is the plane normal.
    normal = e.vectors[0];
  } else normal = inPlaneN;
  if (normal[0] * 1 < 0) normal = [-normal[0], -normal[1], -normal[2]];
  const l = Math.hypot(...normal) || 1;
  return { plane: { pointMm: m, normal: [normal[0] / l, normal[1] / l, normal[2] / l] }, slices: lines.length };
}

export interface SeptumResult {
  readonly septumMm: Vec3;
  /** Signed (towards +normal, patient left) distance of the septum from the ideal plane (mm). */
  readonly signedShiftMm: number;
  readonly samples: number;
}

/** Septum pellucidum between the frontal horns, from the smoothed HU and the cavity. */
export function findSeptum(smoothed: Float32Volume, masks: BrainMasks, plane: MidlinePlane): SeptumResult | undefined {
  const [nx, ny, nz] = smoothed.dims;
  const sp = smoothed.spacing[0];
  const S = smoothed.data, cav = masks.cavity.data, td = masks.tableDistMm.data;
  const csf = (v: number): boolean => cav[v] !== 0 && (S[v] as number) <= CSF_HU && (td[v] as number) >= 15;
  const perSlice = new Map<number, { d: number; p: Vec3 }[]>();
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      // Where the plane crosses this row.
      const a = ijkToLps(smoothed, [0, j, k]);
      const b = ijkToLps(smoothed, [1, j, k]);
      const da = signedDistance(plane, a), db = signedDistance(plane, b);
      const slope = db - da;
      if (Math.abs(slope) < 0.3 * sp) continue;
      const i0 = -da / slope;
      const lo = Math.max(1, Math.floor(i0 - 22 / sp)), hi = Math.min(nx - 2, Math.ceil(i0 + 22 / sp));
      const row = k * nx * ny + j * nx;
      // Runs of CSF along the row between lo and hi.
      const runs: [number, number][] = [];
      let start = -1;
      for (let i = lo; i <= hi; i++) {
        const c = csf(row + i);
        if (c && start < 0) start = i;
        if ((!c || i === hi) && start >= 0) { runs.push([start, c ? i : i - 1]); start = -1; }
      }
      for (let r = 0; r + 1 < runs.length; r++) {
        const L = runs[r] as [number, number], R = runs[r + 1] as [number, number];
        const gap = (R[0] - L[1] - 1) * sp;
        const wl = (L[1] - L[0] + 1) * sp, wr = (R[1] - R[0] + 1) * sp;
        if (gap < 0.8 || gap > 6 || wl < 2.5 || wr < 2.5) continue;
        const mid = (L[1] + R[0]) / 2;
        const p = ijkToLps(smoothed, [mid, j, k]);
        const d = signedDistance(plane, p);
        if (Math.abs(d) > 18) continue;
        let arr = perSlice.get(k);
        if (!arr) { arr = []; perSlice.set(k, arr); }
        arr.push({ d, p });
      }
    }
  }
  if (perSlice.size === 0) return undefined;
  // The slice with the longest septum (the frontal horns' body) and its neighbours.
  let bestK = -1, bestN = 0;
  for (const [k, arr] of perSlice) if (arr.length > bestN) { bestN = arr.length; bestK = k; }
  if (bestN * sp < 4) return undefined;
  const reach = Math.max(1, Math.round(3 / smoothed.spacing[2]));
  const samples: { d: number; p: Vec3 }[] = [];
  for (let k = bestK - reach; k <= bestK + reach; k++) samples.push(...(perSlice.get(k) ?? []));
  samples.sort((x, y) => x.d - y.d);
  const med = samples[Math.floor(samples.length / 2)] as { d: number; p: Vec3 };
  // Mass effect bows the septum: it is displaced most near the foramen of Monro and less towards the frontal
  // poles, so the landmark is the far end of the distribution on the median's side (80th percentile).
  const side = med.d >= 0 ? 1 : -1;
  const far = samples.map((x) => ({ ...x, a: x.d * side })).sort((x, y) => x.a - y.a);
  const pick = far[Math.floor(0.8 * (far.length - 1))] as { d: number; p: Vec3 };
  return { septumMm: pick.p, signedShiftMm: pick.d, samples: samples.length };
}

export interface MidlineLandmarks {
  /** The septum projected onto the ideal plane: where it would be without mass effect. */
  readonly septumIdealMm: Vec3;
  /** Where the ideal plane meets the inner table in front of and behind the septum (falx attachments). */
  readonly anteriorMm: Vec3 | null;
  readonly posteriorMm: Vec3 | null;
}

/** Landmarks for a viewer: the ideal midline as a segment across the cavity at the septum's level. */
export function midlineLandmarks(masks: BrainMasks, plane: MidlinePlane, septumMm: Vec3): MidlineLandmarks {
  const d = signedDistance(plane, septumMm);
  const ideal: Vec3 = [septumMm[0] - d * plane.normal[0], septumMm[1] - d * plane.normal[1], septumMm[2] - d * plane.normal[2]];
  // Posterior (LPS +y) direction within the plane.
  const py = plane.normal[1];
  let ap: Vec3 = [-py * plane.normal[0], 1 - py * plane.normal[1], -py * plane.normal[2]];
  const l = Math.hypot(...ap) || 1;
  ap = [ap[0] / l, ap[1] / l, ap[2] / l];
  const cav = masks.cavity;
  const walk = (sign: number): Vec3 | null => {
    let last: Vec3 | null = null;
    let outside = 0;
    for (let t = 0; t <= 150; t += 0.5) {
      const p: Vec3 = [ideal[0] + sign * t * ap[0], ideal[1] + sign * t * ap[1], ideal[2] + sign * t * ap[2]];
      const ijk = lpsToIjk(cav, p).map(Math.round) as Vec3;
      const inside = ijk.every((x, a) => x >= 0 && x < (cav.dims[a] as number)) && cav.data[ijk[0] + cav.dims[0] * (ijk[1] + cav.dims[1] * ijk[2])] !== 0;
      if (inside) { last = p; outside = 0; } else if (last && ++outside > 6) break;
    }
    return last;
  };
  return { septumIdealMm: ideal, anteriorMm: walk(-1), posteriorMm: walk(1) };
}
