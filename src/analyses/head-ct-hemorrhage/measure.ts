/**
 * Per-component measurements: partial-volume corrected volume, ABC/2 on the same voxels, centre, thickness,
 * and the shape/location features the type classifier and the false-positive rules use.
 *
 * Volume: a voxel that is part blood, part brain has HU between the two, so counting voxels over a threshold
 * is biased by the threshold choice (and by 5 mm slices cutting a bleed's top and bottom). Instead each voxel
 * of the component and of a 2 mm shell around it contributes its blood fraction (S − g)/(b − g), clamped to
 * [0, 1], with b the component's core HU and g the surrounding tissue's HU (medians). Smoothing preserves these
 * sums, so the smoothed HU serve. The component's own voxels count their fraction as well (not 1): see below.
 *
 * Against the skull (rationale, tuned on phantom seeds < 1000 only): the cavity mask (HU < 200) and the dense
 * margin stop short of the inner table, so the outer millimetre of a subdural/epidural collection was neither in
 * the component nor in its shell (on a thin 2.5 mm-slice subdural ≈ 25 % of the true volume lay in voxels that
 * read ≥ 200 HU: blood/bone partial volume). Those voxels are now reached by a walk from the component that stays
 * within its shell (or its sheet along the table) and never crosses bone, so the scalp beyond the skull is never
 * reached: a non-bone voxel there contributes the blood fraction of its raw HU, (H − g)/(b − g); the first layer
 * of bone-bright voxels contributes the blood share of a blood + bone mix, (B − H)/(B − b), with B the local
 * cortical-bone level (90th percentile of HU ≥ 200 around the component). Median |volume error| on 28 tuning
 * bleeds (seeds 700, 800): 12.2 % with the rim walk within the 2 mm shell only, 9.4 % with the sheet along the
 * table too, 5.9 % once the component's own voxels also count fractionally (haematomas on 5 mm slices +2..+10 %
 * instead of +12..+24 %). Still low: thin subdurals (−8..−36 %) and sulcal subarachnoid blood (−9..−43 %), whose
 * background is CSF as much as brain.
 *
 * Second round (tuning seeds 1–4, 24 cases each): (1) thick or oblique slices put SEVERAL in-plane layers of
 * blood + bone partial volume along the table (a 2.5 mm slab crossing the convexity obliquely: ≈ 15 % of a
 * subdural's volume read ≥ 200 HU); the walk now climbs into the bone while the HU rise, anywhere in the sheet,
 * each bone-bright voxel weighted by the blood share of the voxel it was reached from (so the CSF at a feathered
 * edge is not counted as blood). (2) The shell counts only voxels reached from the collection by a non-rising
 * descent (partial volume falls off monotonically; denser tissue beyond a CSF valley is not blood). (3) The blood
 * level b is the larger of the interior median and the 90th percentile of the voxels ≥ 3 mm from dense tissue
 * less the noise's 90th percentile: on 5 mm slices layering ventricular blood has no pure interior and its
 * median read ≈ 10 HU low (+10..+35 % volumes). Median |volume error| on the 38 tuning bleeds of seeds 1–2:
 * 14.9 / 16.1 % → 9.5 / 11.4 %. Still low: thin subdurals whose feathered parts never pass the window (−13..−39 %),
 * sulcal subarachnoid blood (−10..−40 %, some 45–50 HU collections missed).
 */
import type { Box, Float32Volume, MaskVolume, Vec3, Volume } from '../../imaging/index.ts';
import { abc2FromSlices } from '../../clinical/index.ts';
import { crop, dilate, distanceTransform, expandBox, ijkToLps, symmetricEigen3, voxelVolumeMm3, withData } from '../../imaging/index.ts';
import type { BrainMasks } from './brain-extraction.ts';
import type { Candidates } from './blood.ts';
import { CSF_HU, DENSE_MARGIN_MM } from './blood.ts';
import { BONE_HU } from './brain-extraction.ts';
import type { MidlinePlane } from './midline.ts';
import { signedDistance } from './midline.ts';

export const SHEET_REACH_MM = 8;
/**
 * Through-plane reach of the sheet of a crescent (slices): a subdural's upper and lower parts over the convexity
 * lie where the table crosses the slices obliquely, inside the through-plane bone band (blood.ts) that the
 * candidate may not grow into, so whole slices of it are neither in the component nor within one slice of it.
 * Three slices for crescents (thin for their footprint and long: CRESCENT_MAX_FLATNESS, CRESCENT_MIN_EXTENT_MM),
 * one for everything else. Tuning seeds 1–3 (11 subdurals found): two slices brought them up by 2–6 points,
 * three by 4–10 (median −27 → −19 %); two slices for every collection along the table also put 5 mm epidurals
 * (compact lenses, whose neighbouring slices hold brain + bone) at +10…+16 %, so only crescents reach further.
 * Only measured components are affected: no candidate is created or grown by it.
 */
export const CRESCENT_SHEET_SLICES = 3.03;
export const CRESCENT_MAX_FLATNESS = 0.3;
export const CRESCENT_MIN_EXTENT_MM = 60;
/** The partial-volume rim of a calcification lies within this of its dense core (DENSE_MARGIN_MM + ≈ 2 voxels). */
export const DENSE_NEAR_MM = 3;
/** Noise allowance (smoothed HU) of the descent from a collection through its shell. */
export const DESCENT_TOL_HU = 2;
/** Smoothed-noise σ (HU) on the working grid (raw σ 3–8 HU, 2 × 2 averaged, then σ = 1 mm smoothing), upper end. */
export const PURE_NOISE_HU = 2.5;
export const CROSS_SLICE_MIN_VOXELS = 30;
/**
 * crossSliceHu looks this far (mm, at most 3 slices: the crop's margin) above and below: thick non-overlapping
 * slices (≥ 2.5 mm) have independent noise from one to the next, but thin slices are smoothed across
 * (blood.ts smoothForBlood) and often reconstructed overlapping, so their next slice shares the noise.
 */
export const CROSS_SLICE_GAP_MM = 2.5;

export interface ComponentFeatures {
  readonly label: number;
  readonly voxels: number;
  /** Plain voxel-count volume (mL). */
  readonly voxelVolumeMl: number;
  /** Partial-volume corrected volume (mL). */
  readonly volumeMl: number;
  readonly abc2VolumeMl: number;
  readonly abc2: { aMm: number; bMm: number; cMm: number };
  readonly centerMm: Vec3;
  readonly meanHu: number;
  readonly coreHu: number;
  readonly backgroundHu: number;
  /** Largest inscribed-sphere diameter (mm). */
  readonly thicknessMm: number;
  /** Fraction of voxels within 3 mm of the inner table. */
  readonly tableFraction: number;
  /** Largest distance from the inner table of any voxel (mm). */
  readonly maxTableDistMm: number;
  readonly centroidTableDistMm: number;
  /** Fraction of the 2 mm shell that is deep CSF (ventricles, cisterns). */
  readonly shellCsfFraction: number;
  /** Signed distance of the centre from the ideal midline plane (mm), and fraction of voxels within 4 mm of it. */
  readonly midlineDistMm: number;
  readonly midlineFraction: number;
  /** Principal extents (mm, ≈ 4σ), descending. */
  readonly extentsMm: Vec3;
  /** Surface voxels / all voxels. */
  readonly surfaceFraction: number;
  /** Extent along the slice normal (slices). */
  readonly slices: number;
  /** Highest unsmoothed HU inside (a calcified core shows here even when smoothing hides it). */
  readonly maxRawHu: number;
  /** Fraction of voxels within DENSE_NEAR_MM of dense tissue (the partial-volume rim of a calcification is all there). */
  readonly denseNearFraction: number;
  /**
   * Mean smoothed HU of the neighbouring slices (k ± 1, or further on thin slices: CROSS_SLICE_GAP_MM) at the
   * component's footprint, whether or not those voxels joined it (NaN when fewer than
   * CROSS_SLICE_MIN_VOXELS such voxels): an estimate of the tissue level there that the hysteresis did not select.
   */
  readonly crossSliceHu: number;
  /** How far posterior (LPS +y) of the cavity's centroid the centre lies (mm). */
  readonly posteriorMm: number;
  /** How far superior (LPS +z) of the cavity's centroid the centre lies (mm). */
  readonly superiorMm: number;
  /** σ of the scan's smoothed HU (blood.ts smoothedNoise): what a small candidate's contrast is judged against. */
  readonly noiseHu: number;
}

function median(a: number[]): number {
  if (a.length === 0) return NaN;
  a.sort((x, y) => x - y);
  return a[Math.floor(a.length / 2)] as number;
}

/** Feret width of 2D points along angle θ, and the widest angle. */
function feret(points: readonly [number, number][]): { a: number; b: number } {
  let best = 0, bestAngle = 0;
  const widthAt = (th: number): number => {
    const c = Math.cos(th), s = Math.sin(th);
    let lo = Infinity, hi = -Infinity;
    for (const [x, y] of points) { const p = x * c + y * s; if (p < lo) lo = p; if (p > hi) hi = p; }
    return hi - lo;
  };
  for (let d = 0; d < 180; d += 5) {
    const w = widthAt((d * Math.PI) / 180);
    if (w > best) { best = w; bestAngle = d; }
  }
  return { a: best, b: Math.min(best, widthAt(((bestAngle + 90) * Math.PI) / 180)) };
}

export function measureComponents(cand: Candidates, smoothed: Float32Volume, hu: Volume, masks: BrainMasks, plane: MidlinePlane | undefined): ComponentFeatures[] {
  const out: ComponentFeatures[] = [];
  const vol = smoothed;
  const [nx, ny] = vol.dims;
  const voxMm3 = voxelVolumeMm3(vol);
  // Bounding boxes of all components in one pass.
  const boxes: Box[] = [];
  for (let l = 0; l <= cand.count; l++) boxes.push({ start: [Infinity, Infinity, Infinity], end: [-1, -1, -1] } as unknown as Box);
  const L = cand.labels.data;
  for (let v = 0; v < L.length; v++) {
    const l = L[v] as number;
    if (l === 0) continue;
    const i = v % nx, j = Math.floor(v / nx) % ny, k = Math.floor(v / (nx * ny));
    const b = boxes[l] as Box;
    if (i < b.start[0]) b.start[0] = i;
    if (j < b.start[1]) b.start[1] = j;
    if (k < b.start[2]) b.start[2] = k;
    if (i + 1 > b.end[0]) b.end[0] = i + 1;
    if (j + 1 > b.end[1]) b.end[1] = j + 1;
    if (k + 1 > b.end[2]) b.end[2] = k + 1;
  }
  for (let l = 1; l <= cand.count; l++) {
    const box = expandBox(boxes[l] as Box, [SHEET_REACH_MM + 1, SHEET_REACH_MM + 1, vol.spacing[2] * CRESCENT_SHEET_SLICES], vol);
    const lab = crop(cand.labels, box, { clamp: true });
    const S = crop(smoothed, box, { clamp: true });
    const H = crop(hu, box, { clamp: true });
    const cav = crop(masks.cavity, box, { clamp: true });
    const td = crop(masks.tableDistMm, box, { clamp: true });
    const dd = crop(cand.denseDistMm, box, { clamp: true });
    const n = lab.data.length;
    const R = new Uint8Array(n);
    for (let v = 0; v < n; v++) R[v] = lab.data[v] === l ? 1 : 0;
    const Rm = withData(lab, R) as MaskVolume;
    const inside = distanceTransform(Rm, { inside: true });
    const zr = Math.max(0.5 * vol.spacing[2], 0.1);
    const near = dilate(Rm, { radiusMm: [2, 2, vol.spacing[2] * 1.01] });
    const far = dilate(Rm, { radiusMm: [4.5, 4.5, zr] });
    const [cx, cy] = lab.dims;
    const coreVals: number[] = [], allVals: number[] = [], bgVals: number[] = [], clearVals: number[] = [];
    let denseNear = 0;
    let count = 0, sumS = 0, tableNear = 0, maxTd = 0, shell = 0, shellCsf = 0, midNear = 0, surface = 0;
    let si = 0, sj = 0, sk = 0;
    const cov = [0, 0, 0, 0, 0, 0];
    const pts: Vec3[] = [];
    let maxInside = 0;
    let maxRaw = -Infinity;
    const sliceCount = new Map<number, [number, number][]>();
    for (let v = 0; v < n; v++) {
      const i = v % cx, j = Math.floor(v / cx) % cy, k = Math.floor(v / (cx * cy));
      const s = S.data[v] as number;
      if (R[v] !== 0) {
        count++;
        if ((H.data[v] as number) > maxRaw) maxRaw = H.data[v] as number;
        sumS += s;
        allVals.push(s);
        const din = inside.data[v] as number;
        if (din > maxInside) maxInside = din;
        if (din > 1.4 * vol.spacing[0]) coreVals.push(s);
        if ((dd.data[v] as number) >= DENSE_NEAR_MM) clearVals.push(s);
        if (din <= vol.spacing[0] * 1.01) surface++;
        const t = td.data[v] as number;
        if (t <= 3) tableNear++;
        if ((dd.data[v] as number) < DENSE_NEAR_MM) denseNear++;
        if (t > maxTd) maxTd = t;
        si += i; sj += j; sk += k;
        const mm: Vec3 = [i * vol.spacing[0], j * vol.spacing[1], k * vol.spacing[2]];
        pts.push(mm);
        let arr = sliceCount.get(k);
        if (!arr) { arr = []; sliceCount.set(k, arr); }
        arr.push([mm[0], mm[1]]);
        if (plane) {
          const p = ijkToLps(lab, [i, j, k]);
          if (Math.abs(signedDistance(plane, p)) <= 4) midNear++;
        }
      } else if (cav.data[v] !== 0 && (dd.data[v] as number) >= DENSE_MARGIN_MM) {
        if (near.data[v] !== 0) {
          shell++;
          if (s <= CSF_HU + 6 && (td.data[v] as number) >= 10) shellCsf++;
        } else if (far.data[v] !== 0 && lab.data[v] === 0) bgVals.push(s);
      }
    }
    if (count === 0) continue;
    const mean: Vec3 = [0, 0, 0];
    for (const p of pts) { mean[0] += p[0]; mean[1] += p[1]; mean[2] += p[2]; }
    mean[0] /= count; mean[1] /= count; mean[2] /= count;
    for (const p of pts) {
      const a = p[0] - mean[0], b = p[1] - mean[1], c = p[2] - mean[2];
      cov[0] = (cov[0] as number) + a * a; cov[1] = (cov[1] as number) + a * b; cov[2] = (cov[2] as number) + a * c;
      cov[3] = (cov[3] as number) + b * b; cov[4] = (cov[4] as number) + b * c; cov[5] = (cov[5] as number) + c * c;
    }
    const eig = symmetricEigen3(cov.map((x) => x / count));
    const ext = eig.values.map((x) => 4 * Math.sqrt(Math.max(0, x))).sort((a, b) => b - a) as Vec3;
    const core = coreVals.length >= 5 ? median(coreVals) : (allVals.sort((a, b) => a - b)[Math.floor(0.75 * (allVals.length - 1))] as number);
    const bg = bgVals.length >= 5 ? median(bgVals) : 30;
    // The blood level for the fractions: a thin collection on thick slices (layering ventricular blood, 5 mm)
    // has no voxel deeper than 1.4 voxels that is all blood, so its interior median reads 10–15 HU below the
    // blood; its purest voxels are closer: the 90th percentile less the 90th percentile of the smoothed noise
    // (1.28 × PURE_NOISE_HU). On a large haematoma the interior median wins.
    // Voxels near bone or a calcification are left out: their smoothed HU carry its partial volume.
    clearVals.sort((a, b) => a - b);
    const pure = clearVals.length >= 20 ? (clearVals[Math.floor(0.9 * (clearVals.length - 1))] as number) - 1.28 * PURE_NOISE_HU : -Infinity;
    const blood = Math.max(core, pure);
    // Cross-slice reproducibility (crossSliceHu): the mean smoothed HU of the neighbouring slices at this
    // component's footprint, over every in-cavity voxel there clear of dense tissue, in or out of the component.
    const cz = lab.dims[2], xPlane = cx * cy;
    const xo = Math.min(3, Math.max(1, Math.ceil(CROSS_SLICE_GAP_MM / vol.spacing[2] - 1e-6)));
    let xSum = 0, xN = 0;
    for (let v = 0; v < n; v++) {
      if (R[v] === 0) continue;
      const k = Math.floor(v / xPlane);
      for (const u of [k >= xo ? v - xo * xPlane : -1, k + xo < cz ? v + xo * xPlane : -1]) {
        if (u < 0 || cav.data[u] === 0 || (dd.data[u] as number) < DENSE_MARGIN_MM) continue;
        xSum += S.data[u] as number;
        xN++;
      }
    }
    const crossSliceHu = xN >= CROSS_SLICE_MIN_VOXELS ? xSum / xN : NaN;
    const span = Math.max(blood - bg, 10);
    let frac = 0;
    // A collection along the inner table thins out into a sheet too thin to pass the window (a subdural's
    // feathered edges): its blood is still there as a fraction of the voxels along the table, up to
    // SHEET_REACH_MM beyond the detected part.
    const alongTable = tableNear / count >= 0.1;
    const crescent = 2 * maxInside / Math.max(Math.sqrt(ext[0] * ext[1]), 1) < CRESCENT_MAX_FLATNESS && ext[0] >= CRESCENT_MIN_EXTENT_MM;
    const sheetSlices = crescent ? CRESCENT_SHEET_SLICES : 1.01;
    const sheet = alongTable ? dilate(Rm, { radiusMm: [SHEET_REACH_MM, SHEET_REACH_MM, vol.spacing[2] * sheetSlices] }) : near;
    // Against bone: the cavity mask and the dense margin stop short of the inner table, and the smoothed HU there
    // are the skull's, so the outermost millimetre of a collection on the table is neither in the component nor
    // in its shell. Those voxels are reached from the component without crossing bone (raw HU < BONE_HU), within
    // its 2 mm shell (or its sheet along the table), and contribute the blood fraction of their raw HU: a voxel
    // between blood and bone is blood up to its few % of bone (cortical bone ≫ 200 HU). Only for collections along
    // the table (≥ 10 % of voxels within 3 mm of it): elsewhere the bone a component touches is through-plane
    // partial volume (vertex, skull base), and the walk would grow look-alikes there past the size rules.
    const rim = new Uint8Array(n);
    let boneHu = 1000;
    if (alongTable) {
      // Local cortical-bone level: the 90th percentile of the bone voxels around the component.
      const hb = new Int32Array(64);
      let nb = 0;
      for (let v = 0; v < n; v++) { const x = H.data[v] as number; if (x >= BONE_HU) { const b = Math.min(63, Math.floor(x / 50)); hb[b] = (hb[b] as number) + 1; nb++; } }
      let c = 0;
      for (let b = 0; b < 64; b++) { c += hb[b] as number; if (c >= 0.9 * nb) { boneHu = (b + 0.5) * 50; break; } }
    }
    // Blood share of the non-bone material of each walked voxel: a bone-bright voxel is blood + bone only where
    // the voxel it was reached from is blood; at a collection's feathered edge the non-bone part is CSF.
    const share = new Float32Array(n);
    if (alongTable) {
      const queue: number[] = [];
      for (let v = 0; v < n; v++) if (R[v] !== 0) { queue.push(v); share[v] = Math.min(1, Math.max(0, ((S.data[v] as number) - bg) / span)); }
      const plane = cx * cy;
      for (let q = 0; q < queue.length; q++) {
        const v = queue[q] as number;
        const i = v % cx, j = Math.floor(v / cx) % cy;
        const nb = [i > 0 ? v - 1 : -1, i < cx - 1 ? v + 1 : -1, j > 0 ? v - cx : -1, j < cy - 1 ? v + cx : -1, v >= plane ? v - plane : -1, v + plane < n ? v + plane : -1];
        const hv = H.data[v] as number, sv = share[v] as number;
        for (const u of nb) {
          if (u < 0 || R[u] !== 0 || lab.data[u] !== 0) continue;
          const hu = H.data[u] as number;
          const inZone = near.data[u] !== 0 || (sheet.data[u] !== 0 && (td.data[u] as number) <= 4);
          if (!inZone) continue;
          if (hu >= BONE_HU) {
            // Blood + bone partial volume (thick or oblique slices put several layers of it along the table):
            // climb into the bone only while the HU rise (never through the table into diploe or scalp) and
            // while the voxel still holds some non-bone material.
            if (rim[v] === 2 && hu <= hv) continue;
            if (hu >= boneHu - 0.05 * (boneHu - blood)) continue;
            if (rim[u] === 2) { if (sv > (share[u] as number)) share[u] = sv; continue; }
            if (rim[u] !== 0) continue;
            rim[u] = 2;
            share[u] = sv;
            queue.push(u);
            continue;
          }
          if (rim[u] !== 0 || rim[v] === 2) continue;
          // Only where the shell rule does not already apply: outside the cavity or inside the dense margin.
          if (cav.data[u] !== 0 && (dd.data[u] as number) >= DENSE_MARGIN_MM) continue;
          rim[u] = 1;
          share[u] = Math.min(1, Math.max(0, (hu - bg) / span));
          queue.push(u);
        }
      }
    }
    const shellAt = (v: number): boolean => R[v] === 0 && cav.data[v] !== 0 && lab.data[v] === 0 && (dd.data[v] as number) >= DENSE_MARGIN_MM &&
      (near.data[v] !== 0 || (alongTable && sheet.data[v] !== 0 && (td.data[v] as number) <= 4));
    // The shell counts only what spills from the blood: partial volume falls off monotonically away from a
    // collection, so a shell voxel is reached from the component (or its rim) through voxels whose HU never rise
    // by more than DESCENT_TOL_HU. Brain beyond the CSF that bathes a collection (periventricular tissue around an
    // intraventricular bleed, cortex under a subdural) is denser than the median background and would count as
    // blood otherwise (+20..+35 % on small intraventricular bleeds).
    const reached = new Uint8Array(n);
    {
      const queue: number[] = [];
      for (let v = 0; v < n; v++) if (R[v] !== 0 || rim[v] === 1) queue.push(v);
      const plane = cx * cy;
      for (let q = 0; q < queue.length; q++) {
        const v = queue[q] as number;
        const i = v % cx, j = Math.floor(v / cx) % cy;
        const lim = (S.data[v] as number) + DESCENT_TOL_HU;
        const nb = [i > 0 ? v - 1 : -1, i < cx - 1 ? v + 1 : -1, j > 0 ? v - cx : -1, j < cy - 1 ? v + cx : -1, v >= plane ? v - plane : -1, v + plane < n ? v + plane : -1];
        for (const u of nb) {
          if (u < 0 || reached[u] !== 0 || !shellAt(u) || (S.data[u] as number) > lim) continue;
          reached[u] = 1;
          queue.push(u);
        }
      }
    }
    for (let v = 0; v < n; v++) {
      const inR = R[v] !== 0;
      const inShell = reached[v] !== 0;
      const inBoneRim = rim[v] !== 0;
      if (!inR && !inShell && !inBoneRim) continue;
      const f = rim[v] === 2 ? ((share[v] as number) * (boneHu - (H.data[v] as number))) / Math.max(boneHu - blood, 100)
        : ((inBoneRim ? (H.data[v] as number) : (S.data[v] as number)) - bg) / span;
      // Voxels that passed the window count their fraction too: on 5 mm slices the top and bottom slices of a
      // bleed pass the window at 60–70 % blood, and counting them whole overestimated small haematomas by
      // 12–24 %. (Clamping at 1 costs ≈ 0.4 σ/(b − g) ≈ 3 % on the core: smoothed noise σ ≈ 2 HU.)
      frac += Math.min(1, Math.max(0, f));
    }
    // ABC/2 on the component's own slices (the working grid's slices are the acquired planes).
    const ks = [...sliceCount.keys()].sort((a, b) => a - b);
    const k0 = ks[0] as number, k1 = ks[ks.length - 1] as number;
    const areas: number[] = [];
    let refK = k0, refArea = -1;
    for (let k = k0; k <= k1; k++) {
      const a = (sliceCount.get(k)?.length ?? 0) * vol.spacing[0] * vol.spacing[1];
      areas.push(a);
      if (a > refArea) { refArea = a; refK = k; }
    }
    const fr = feret(sliceCount.get(refK) ?? []);
    const px = vol.spacing[0];
    const abc = abc2FromSlices({ sliceAreasMm2: areas, sliceThicknessMm: vol.spacing[2], largestSliceDiametersMm: { a: fr.a + px, b: Math.min(fr.a + px, fr.b + px) } });
    const cIjk: Vec3 = [si / count, sj / count, sk / count];
    const centerMm = ijkToLps(lab, cIjk);
    const ci = Math.round(cIjk[0]) + cx * (Math.round(cIjk[1]) + cy * Math.round(cIjk[2]));
    out.push({
      label: l, voxels: count, voxelVolumeMl: (count * voxMm3) / 1000, volumeMl: (frac * voxMm3) / 1000,
      abc2VolumeMl: abc.volumeMl, abc2: { aMm: abc.aMm, bMm: abc.bMm, cMm: abc.cMm },
      centerMm, meanHu: sumS / count, coreHu: core, backgroundHu: bg,
      thicknessMm: 2 * maxInside,
      tableFraction: tableNear / count, maxTableDistMm: maxTd, centroidTableDistMm: (td.data[ci] as number | undefined) ?? 0,
      shellCsfFraction: shell > 0 ? shellCsf / shell : 0,
      midlineDistMm: plane ? signedDistance(plane, centerMm) : NaN, midlineFraction: midNear / count,
      extentsMm: ext, surfaceFraction: surface / count, slices: k1 - k0 + 1, maxRawHu: maxRaw,
      denseNearFraction: denseNear / count, crossSliceHu, posteriorMm: centerMm[1] - masks.cavityCentroidMm[1], superiorMm: centerMm[2] - masks.cavityCentroidMm[2], noiseHu: cand.noiseHu,
    });
  }
  return out;
}

