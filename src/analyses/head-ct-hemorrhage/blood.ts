/**
 * Acute blood candidates.
 *
 * Window and smoothing (rationale): acute clotted blood is 50–90 HU (haematocrit-dependent, ≈ 56 HU at a normal
 * haematocrit rising to ≈ 80–90 HU with clot retraction); grey matter is 30–40, white matter 20–30, CSF 0–10, and
 * hyperdense normal structures (falx, venous sinuses) 40–80 but thin. Single voxels are too noisy to threshold
 * (σ 3–8 HU on 0.5 mm pixels), so the HU are smoothed in-plane with σ = SMOOTH_SIGMA_MM (≈ 1 voxel of the working
 * grid: noise ÷ ≈ 3.5 while a 3 mm structure keeps most of its contrast), never across thick slices (it would
 * mix a bleed with the next 5 mm of brain), and with bone masked out (smoothForBlood). Then hysteresis: a bleed
 * must hold SEED voxels (≥ SEED_LOW_REF, away from dense tissue and from the inner table) and grows through GROW
 * voxels (≥ GROW_LOW_REF), both ≤ BLOOD_HIGH. GROW_LOW_REF (47) sits ≈ 3 smoothed-noise σ above grey matter (≤ 40),
 * SEED_LOW_REF (56) at the bottom of the acute-blood range, so grey matter never seeds and the partial-volume rim
 * of a bleed is still reached. Both are raised where the scan itself is brighter: by the deep-parenchyma
 * calibration offset (parenchymaLevel) and, near the skull, to SEED/GROW_ABOVE_BASELINE over the median HU at
 * that distance from the inner table (tableProfile).
 * Calcifications and partial-volume bone: every voxel within DENSE_MARGIN_MM of smoothed HU ≥ DENSE_HU (a
 * calcification core or bone) is excluded, which also removes the bright partial-volume rim around them.
 */
import type { Float32Volume, Int16Volume, MaskVolume, Volume } from '../../imaging/index.ts';
import { connectedComponents, dilate, distanceTransform, gaussian, threshold, withData } from '../../imaging/index.ts';
import type { BrainMasks } from './brain-extraction.ts';

export const SMOOTH_SIGMA_MM = 1.0;
/** Ventricular / cisternal CSF: smoothed HU at most this (CSF 0–10 HU; oedema 15–25 stays above). */
export const CSF_HU = 14;
export const SEED_LOW_REF = 56;
export const GROW_LOW_REF = 47;
export const BLOOD_HIGH = 95;
export const DENSE_HU = 105;
export const DENSE_MARGIN_MM = 1.2;
export const SEED_DENSE_MARGIN_MM = 1.5;
export const SEED_TABLE_MARGIN_MM = 1.2;

/**
 * Normalised (masked) Gaussian over soft tissue only: S = G∗(m·HU) / G∗m with m = −100 < HU < 200. Bone never
 * leaks into its neighbours' smoothed values, so a thin collection against the inner table keeps its true HU
 * instead of reading 100+ from the skull next to it; bone and air voxels keep their own HU.
 */
export function smoothForBlood(hu: Int16Volume): Float32Volume {
  const sz = hu.spacing[2] < 1.5 ? SMOOTH_SIGMA_MM : 0;
  const sigmaMm: [number, number, number] = [SMOOTH_SIGMA_MM, SMOOTH_SIGMA_MM, sz];
  const n = hu.data.length;
  const f = new Float32Array(n), m = new Float32Array(n);
  for (let v = 0; v < n; v++) {
    const x = hu.data[v] as number;
    if (x > -100 && x < 200) { f[v] = x; m[v] = 1; }
  }
  const gf = gaussian(withData(hu, f), { sigmaMm });
  const gm = gaussian(withData(hu, m), { sigmaMm });
  const out = gf.data;
  for (let v = 0; v < n; v++) {
    const w = gm.data[v] as number;
    out[v] = m[v] !== 0 && w > 0.05 ? (out[v] as number) / w : (hu.data[v] as number);
  }
  return gf;
}

export interface Candidates {
  /** Component labels (1..count) of the grown candidates that hold a seed. */
  readonly labels: Volume<Int32Array>;
  readonly count: number;
  readonly sizes: Int32Array;
  /** Distance (mm) to dense tissue (smoothed ≥ DENSE_HU): bone and calcifications. */
  readonly denseDistMm: Float32Volume;
  readonly parenchymaHu: number;
  /** σ of the smoothed HU in deep parenchyma (smoothedNoise). */
  readonly noiseHu: number;
}

/**
 * Near bone the smoothed HU are contaminated by the skull, so a collection against the inner table loses its
 * outer millimetres to the dense margin. They come back from the unsmoothed HU, but only within
 * TABLE_REACH_MM of a grown candidate: the partial-volume layer along the whole inner table must never join.
 */
export const TABLE_REACH_MM = 3.5;
const BONE_HU_FOR_PV = 200;
export const PV_BAND_MM = 1.5;
/**
 * The voxel over or under that puts a voxel in the band: any bone (BONE_HU_FOR_PV). Tried and rejected (tuning
 * seeds 1–3): only (nearly) solid bone over/under (≥ 300–600 HU), on the argument that a slab holds bone from a
 * table leaving it through its top or bottom face only where the next slab is all bone. On the phantoms it
 * recovered thin subdurals (−16…−41 % → −9…−27 %, one 4.7 mm subdural on 5 mm slices no longer missed) without
 * false positives, but on the real GE head (18.5° tilt) it grew 3–43 mL "bleeds" at the vertex even at 300 HU:
 * real inner tables are less regular than the phantom's. Kept at 200 HU.
 * Also rejected (0.3.0, same seeds): a band baseline instead of exclusion (band voxels grow / seed 15 / 24 HU over
 * the median band HU per table distance, or per slice at its 50th–90th percentile). It found up to 4 of the 5 misses
 * (basal SAH and the 4.7 mm subdural lie mostly in this band) but kept a 10–33 mL vertex "bleed" on the real GE
 * head at every setting: 2.5–15 mm from its table, voxels with bone over/under read a median 45–59 HU vs 34 HU
 * elsewhere (phantoms: 31–32 vs 30), so the phantom under-models through-plane partial volume and the band is
 * excluded outright. Since 0.4.0 the phantom renders a Gaussian slice profile (eval/phantoms/head-render.ts) and
 * its band reads like the real head's (2.5–5 mm from the table, 5 mm slices: median 44–49, 90th percentile
 * 89–98 HU vs the GE head's 52 / 112; band-stats.ts), and band seeding now fails on the phantoms as on the real
 * head (growIntoBand). Only growth from an outside seed enters the band.
 */
export const UNDER_BONE_HU = BONE_HU_FOR_PV;
/** Whether the unseen slice beyond the first / last one counts as bone over / under (see bloodCandidates). */
export const EDGE_SLICES_ARE_BAND = true;

/** Typical deep parenchyma (mixed grey/white matter) on a calibrated scanner, smoothed HU. */
export const REFERENCE_PARENCHYMA_HU = 31;

/**
 * Median smoothed HU of deep parenchyma (≥ 15 mm from the inner table, 10–60 HU). Scanners differ by several HU
 * (calibration, kV, cupping/beam-hardening correction), so the blood window is shifted by this level's offset
 * from REFERENCE_PARENCHYMA_HU (clamped to −4..+12 HU: blood is absolute, the offset only absorbs calibration).
 */
export function parenchymaLevel(smoothed: Float32Volume, masks: BrainMasks): number {
  const hist = new Int32Array(51);
  let n = 0;
  for (let v = 0; v < smoothed.data.length; v += 3) {
    if (masks.cavity.data[v] === 0 || (masks.tableDistMm.data[v] as number) < 15) continue;
    const x = Math.round(smoothed.data[v] as number);
    if (x < 10 || x > 60) continue;
    hist[x - 10] = (hist[x - 10] as number) + 1;
    n++;
  }
  let c = 0;
  for (let b = 0; b < hist.length; b++) { c += hist[b] as number; if (c >= n / 2) return b + 10; }
  return REFERENCE_PARENCHYMA_HU;
}

/**
 * Noise of the smoothed HU (σ, HU) in deep parenchyma: the median absolute difference between voxels 3 in-plane
 * voxels apart (≈ 2.7 mm, beyond the smoothing's correlation length) × 1.4826 / √2. Tissue edges between the
 * pairs (grey/white matter, 5–10 HU) touch a minority of pairs, which the median ignores. Scanners and doses
 * differ (raw σ 3–8 HU and more on thin slices), so the contrast a small candidate needs scales with it.
 */
export function smoothedNoise(smoothed: Float32Volume, masks: BrainMasks): number {
  const [nx] = smoothed.dims;
  const hist = new Int32Array(400);
  let n = 0;
  const s = smoothed.data, cav = masks.cavity.data, td = masks.tableDistMm.data;
  for (let v = 0; v + 3 < s.length; v += 5) {
    if (v % nx >= nx - 3 || cav[v] === 0 || cav[v + 3] === 0 || (td[v] as number) < 15 || (td[v + 3] as number) < 15) continue;
    const a = s[v] as number, b = s[v + 3] as number;
    if (a < 10 || a > 60 || b < 10 || b > 60) continue;
    const d = Math.min(399, Math.floor(Math.abs(a - b) * 10));
    hist[d] = (hist[d] as number) + 1;
    n++;
  }
  if (n < 100) return PURE_NOISE_FALLBACK_HU;
  let c = 0;
  for (let b = 0; b < hist.length; b++) { c += hist[b] as number; if (2 * c >= n) return ((b + 0.5) / 10) * 1.4826 / Math.SQRT2; }
  return PURE_NOISE_FALLBACK_HU;
}
const PURE_NOISE_FALLBACK_HU = 2;

/**
 * Median smoothed HU of the cavity per 1 mm of distance from the inner table (0..TABLE_PROFILE_MM). Real scans
 * brighten towards the skull (beam hardening, through-plane partial volume of an oblique table, cortical grey
 * matter): the blood window is raised wherever this profile rises above the deep parenchyma. The median ignores a
 * collection that covers less than half of the convexity at that depth.
 */
export const TABLE_PROFILE_MM = 30;

export function tableProfile(smoothed: Float32Volume, masks: BrainMasks): Float32Array {
  // Histograms of integer HU (−50..149) per 1 mm bin: a median without sorting millions of values.
  const H = 200, LO = -50;
  const hist = new Int32Array((TABLE_PROFILE_MM + 1) * H);
  const counts = new Int32Array(TABLE_PROFILE_MM + 1);
  for (let v = 0; v < smoothed.data.length; v += 2) {
    if (masks.cavity.data[v] === 0) continue;
    const d = Math.floor(masks.tableDistMm.data[v] as number);
    if (d > TABLE_PROFILE_MM) continue;
    const b = Math.min(H - 1, Math.max(0, Math.round(smoothed.data[v] as number) - LO));
    hist[d * H + b] = (hist[d * H + b] as number) + 1;
    counts[d] = (counts[d] as number) + 1;
  }
  const out = new Float32Array(TABLE_PROFILE_MM + 1);
  let last = REFERENCE_PARENCHYMA_HU;
  for (let d = TABLE_PROFILE_MM; d >= 0; d--) {
    const n = counts[d] as number;
    if (n >= 50) {
      let c = 0;
      for (let b = 0; b < H; b++) { c += hist[d * H + b] as number; if (2 * c >= n) { last = b + LO; break; } }
    }
    out[d] = last;
  }
  return out;
}

/**
 * Clustered seeds (0.5.0). A seed voxel (≥ SEED_LOW_REF ≈ 56 HU smoothed) proves blood against grey-matter noise
 * on its own, but faint blood never holds one: haemorrhage at 50–60 HU (a normal-to-low haematocrit; blood HU
 * fall ≈ linearly with it, New & Aronow, Radiology 1976) diluted by the partial volume of a 5 mm slice, or blood
 * filling the basal cisterns and sulci, whose CSF thins it further. Such a collection is still a connected
 * cluster of grow voxels (≥ GROW_LOW_REF ≈ 47, ≈ 3 smoothed-noise σ over grey matter), and a cluster is evidence
 * in its own right: the smoothed noise is correlated over ≈ 1 mm only, so grey matter exceeds 3σ in specks of a
 * few voxels, never in CLUSTER_SEED_ML (≈ 60 voxels of the 0.9 × 0.9 × 5 mm grid, the size of the smallest
 * reported bleed, MIN_VOLUME_ML). Only voxels ≥ CLUSTER_SEED_DENSE_MM from dense tissue (outside the partial-volume
 * rim of bone and calcifications, measure.ts DENSE_NEAR_MM) and ≥ SEED_TABLE_MARGIN_MM from the inner table count,
 * so the bright partial-volume layers along the skull (the real GE head's skull base: a 3.3 mL "epidural" when
 * they counted) never seed, and they must be at least CLUSTER_SEED_CLEAR_FRACTION of the grown component (a faint
 * collection lies clear of bone; a component hugging it is partial volume with a clear tail). A cluster-seeded
 * candidate does not grow into the through-plane bone band (growIntoBand): band growth needs the proof of a seed
 * voxel (on bleed-free tuning case 7/head-019 a faint midline cluster at the skull base grew into the band to a
 * 2.3 mL, 79 HU "subarachnoid" bleed). The candidate then faces the same rejection rules (contrast over its
 * surroundings ≥ max(15 HU, 6σ), falx, …) as any other; the falx (50–80 HU, thin) is where most cluster-seeded
 * candidates arise, and the falx rule rejects them. Tuning seed 4: finds a 7.8 mL, 58 HU basal subarachnoid
 * collection missed before (a 0.7 mL cluster at 21 HU contrast); a 13.9 mL, 47 HU one (seed 1) stays missed: it
 * reads at grey-matter level, below the grow threshold.
 */
export const CLUSTER_SEED_ML = 0.25;
export const CLUSTER_SEED_DENSE_MM = 3;
export const CLUSTER_SEED_CLEAR_FRACTION = 0.5;

/** Seeds must exceed the local (table-distance) baseline by this, grown voxels by GROW_ABOVE_BASELINE. */
export const SEED_ABOVE_BASELINE = 24;
export const GROW_ABOVE_BASELINE = 15;

export function bloodCandidates(smoothed: Float32Volume, masks: BrainMasks, hu: Int16Volume): Candidates {
  const level = parenchymaLevel(smoothed, masks);
  const offset = Math.min(12, Math.max(-4, level - REFERENCE_PARENCHYMA_HU));
  const profile = tableProfile(smoothed, masks);
  const seedAt = new Float32Array(profile.length), growAt = new Float32Array(profile.length);
  for (let d = 0; d < profile.length; d++) {
    seedAt[d] = Math.max(SEED_LOW_REF + offset, (profile[d] as number) + SEED_ABOVE_BASELINE);
    growAt[d] = Math.max(GROW_LOW_REF + offset, (profile[d] as number) + GROW_ABOVE_BASELINE);
  }
  const seedDeep = seedAt[TABLE_PROFILE_MM] as number, growDeep = growAt[TABLE_PROFILE_MM] as number;
  const dense = threshold(smoothed, { low: DENSE_HU });
  // Through-plane partial volume: where the skull runs obliquely through a thick slice (vertex, frontal and
  // occipital poles, tilted acquisitions) a voxel holds brain and a sliver of bone and reads 50–100 HU although
  // no bone voxel lies near it in-plane. Such voxels sit right over or under bone in the next slice
  // (UNDER_BONE_HU); they and PV_BAND_MM around them count as dense.
  const [nx, ny, nz] = hu.dims;
  const plane = nx * ny;
  const under = new Uint8Array(dense.data.length);
  for (let k = 0; k < nz; k++) {
    for (let p = 0; p < plane; p++) {
      const v = k * plane + p;
      if ((hu.data[v] as number) >= BONE_HU_FOR_PV) continue;
      // The first and last slices: what lies beyond them is unknown, and a series that starts inside the skull
      // base (or stops short of the vertex) has bone right there, whose slice-profile tail reads 70–95 HU. On
      // the Gaussian-SSP tuning phantoms (5 mm, series starting in the middle fossa) 0.3.0 reported 2–7 mL
      // "bleeds" there in 4 of 8 bleed-free cases of seeds 1–2; counting the unseen slice as bone removes them.
      const up = k + 1 < nz ? (hu.data[v + plane] as number) >= UNDER_BONE_HU : EDGE_SLICES_ARE_BAND;
      const down = k > 0 ? (hu.data[v - plane] as number) >= UNDER_BONE_HU : EDGE_SLICES_ARE_BAND;
      if (up || down) under[v] = 1;
    }
  }
  const underBand = dilate(withData(hu, under) as MaskVolume, { radiusMm: [PV_BAND_MM, PV_BAND_MM, Math.max(0.4 * hu.spacing[2], 0.1)] });
  // In-plane dense tissue only (before the band joins it): band growth keeps its margin from real bone.
  const inPlaneDenseDist = distanceTransform(dense, { inside: false });
  for (let v = 0; v < dense.data.length; v++) if (underBand.data[v] !== 0) dense.data[v] = 1;
  const denseDistMm = distanceTransform(dense, { inside: false });
  const n = smoothed.data.length;
  const grow = new Uint8Array(n);
  const seed = new Uint8Array(n);
  const s = smoothed.data, cav = masks.cavity.data, dd = denseDistMm.data, td = masks.tableDistMm.data;
  for (let v = 0; v < n; v++) {
    if (cav[v] === 0) continue;
    const x = s[v] as number;
    const t = td[v] as number;
    const bin = Math.floor(t);
    const gLow = bin <= TABLE_PROFILE_MM ? (growAt[bin] as number) : growDeep;
    if (x < gLow || x > BLOOD_HIGH) continue;
    const d = dd[v] as number;
    if (d < DENSE_MARGIN_MM) continue;
    grow[v] = 1;
    const sLow = bin <= TABLE_PROFILE_MM ? (seedAt[bin] as number) : seedDeep;
    if (x >= sLow && d >= SEED_DENSE_MARGIN_MM && t >= SEED_TABLE_MARGIN_MM) seed[v] = 1;
  }
  const cc = connectedComponents(withData(smoothed, grow) as MaskVolume, { connectivity: 26 });
  const hasSeed = new Uint8Array(cc.count + 1);
  for (let v = 0; v < n; v++) if (seed[v] !== 0) hasSeed[cc.labels.data[v] as number] = 1;
  const strongSeed = hasSeed.slice();
  // Clustered seeds (see CLUSTER_SEED_ML): a grown component without a single seed voxel still holds a seed when
  // CLUSTER_SEED_ML of it lies well clear of dense tissue and of the inner table.
  const clusterVox = new Int32Array(cc.count + 1), growVox = new Int32Array(cc.count + 1);
  for (let v = 0; v < n; v++) {
    const l = cc.labels.data[v] as number;
    if (l === 0) continue;
    growVox[l] = (growVox[l] as number) + 1;
    if ((dd[v] as number) >= CLUSTER_SEED_DENSE_MM && (td[v] as number) >= SEED_TABLE_MARGIN_MM) clusterVox[l] = (clusterVox[l] as number) + 1;
  }
  const clusterMin = CLUSTER_SEED_ML * 1000 / (smoothed.spacing[0] * smoothed.spacing[1] * smoothed.spacing[2]);
  for (let l = 1; l <= cc.count; l++) {
    const c = clusterVox[l] as number;
    if (c >= clusterMin && c >= CLUSTER_SEED_CLEAR_FRACTION * (growVox[l] as number)) hasSeed[l] = 1;
  }
  const map = new Int32Array(cc.count + 1);
  let count = 0;
  const bandOk: boolean[] = [false];
  for (let l = 1; l <= cc.count; l++) if (hasSeed[l]) { map[l] = ++count; bandOk.push(strongSeed[l] !== 0); }
  const labels = new Int32Array(n);
  const sizes = new Int32Array(count + 1);
  const kept = new Uint8Array(n);
  for (let v = 0; v < n; v++) {
    const l = map[cc.labels.data[v] as number] as number;
    if (l > 0) { labels[v] = l; kept[v] = 1; }
  }
  if (count > 0) {
    const reach = distanceTransform(withData(smoothed, kept) as MaskVolume, { inside: false });
    const [nx, ny] = smoothed.dims;
    const plane = nx * ny;
    // Nearest-label propagation, one voxel ring at a time, so each extension voxel joins the candidate it touches.
    const todo: number[] = [];
    for (let v = 0; v < n; v++) {
      if (labels[v] !== 0 || cav[v] === 0 || (dd[v] as number) >= DENSE_MARGIN_MM || (reach.data[v] as number) > TABLE_REACH_MM) continue;
      const x = hu.data[v] as number;
      if (x >= GROW_LOW_REF + offset && x < 200) todo.push(v);
    }
    for (let pass = 0; pass < Math.ceil(TABLE_REACH_MM / smoothed.spacing[0]); pass++) {
      const add: number[] = [];
      for (const v of todo) {
        if (labels[v] !== 0) continue;
        const i = v % nx, j = Math.floor(v / nx) % ny;
        let l = 0;
        if (i > 0 && labels[v - 1] !== 0) l = labels[v - 1] as number;
        else if (i < nx - 1 && labels[v + 1] !== 0) l = labels[v + 1] as number;
        else if (j > 0 && labels[v - nx] !== 0) l = labels[v - nx] as number;
        else if (j < ny - 1 && labels[v + nx] !== 0) l = labels[v + nx] as number;
        else if (v >= plane && labels[v - plane] !== 0) l = labels[v - plane] as number;
        else if (v + plane < n && labels[v + plane] !== 0) l = labels[v + plane] as number;
        if (l !== 0) add.push(v, l);
      }
      if (add.length === 0) break;
      for (let q = 0; q < add.length; q += 2) labels[add[q] as number] = add[q + 1] as number;
    }
  }
  if (count > 0) growIntoBand(labels, smoothed, masks, hu, underBand, inPlaneDenseDist, growAt, growDeep, bandOk);
  for (let v = 0; v < n; v++) { const l = labels[v] as number; if (l > 0) sizes[l] = (sizes[l] as number) + 1; }
  return { labels: withData(smoothed, labels), count, sizes, denseDistMm, parenchymaHu: level, noiseHu: smoothedNoise(smoothed, masks) };
}

/**
 * Blood in the through-plane bone band (excluded from seeding and from the main growth, see UNDER_BONE_HU), reached
 * only from a candidate that seeded outside it: in-plane (same slice, 4-connected), at most BAND_REACH_MM, through
 * voxels ≥ BAND_GROW_ABOVE over the band's own median HU at that distance from the inner table (its partial-volume
 * level) and over the ordinary grow threshold, ≤ BLOOD_HIGH. No new candidate can start here, so the band adds
 * volume to found bleeds but never a finding of its own. Tuning seeds 1–2 (Gaussian-SSP phantoms): subdurals
 * −37/−42/−22/−14/−21/−26 % → −33/−39/−19/−13/−17/−24 %, no new false positive; the real GE head's largest
 * rejected vertex component grows 4.55 → 4.84 mL and stays rejected (surroundings 46.8 HU). At 12 HU over the
 * band median its surroundings fell to 45.3 HU, 0.3 HU from being reported.
 * Only candidates holding a seed voxel grow here, not those seeded by a cluster alone (CLUSTER_SEED_ML).
 * Tried and rejected (0.4.0): band seeds (band components holding a voxel 25–40 HU over the band median). They
 * found every tuning bleed (the 4.7 mm subdural lying wholly in the band included) but flagged all 8 bleed-free
 * Gaussian-SSP phantoms of seeds 1–2 and 3–11 "bleeds" (0.3–2.9 mL) at the real GE head's vertex.
 */
export const BAND_REACH_MM = 6;
export const BAND_GROW_ABOVE = 20;

function growIntoBand(
  labels: Int32Array, smoothed: Float32Volume, masks: BrainMasks, hu: Int16Volume, band: MaskVolume,
  inPlaneDenseDist: Float32Volume, growAt: Float32Array, growDeep: number, fromLabel: readonly boolean[],
): void {
  const s = smoothed.data, cav = masks.cavity.data, td = masks.tableDistMm.data, bd = band.data, idd = inPlaneDenseDist.data;
  const n = s.length;
  const ok = (v: number): boolean => cav[v] !== 0 && bd[v] !== 0 && (hu.data[v] as number) < BONE_HU_FOR_PV && (idd[v] as number) >= DENSE_MARGIN_MM;
  // Band baseline per 1 mm of table distance: median smoothed HU of band voxels.
  const H = 200, LO = -50;
  const hist = new Int32Array((TABLE_PROFILE_MM + 1) * H);
  const counts = new Int32Array(TABLE_PROFILE_MM + 1);
  for (let v = 0; v < n; v++) {
    if (!ok(v)) continue;
    const d = Math.min(TABLE_PROFILE_MM, Math.floor(td[v] as number));
    const b = Math.min(H - 1, Math.max(0, Math.round(s[v] as number) - LO));
    hist[d * H + b] = (hist[d * H + b] as number) + 1;
    counts[d] = (counts[d] as number) + 1;
  }
  const need = new Float32Array(TABLE_PROFILE_MM + 1);
  let last = REFERENCE_PARENCHYMA_HU;
  for (let d = 0; d <= TABLE_PROFILE_MM; d++) {
    const c = counts[d] as number;
    if (c >= 50) {
      let acc = 0;
      for (let b = 0; b < H; b++) { acc += hist[d * H + b] as number; if (2 * acc >= c) { last = b + LO; break; } }
    }
    need[d] = Math.max(last + BAND_GROW_ABOVE, d < TABLE_PROFILE_MM ? (growAt[d] as number) : growDeep);
  }
  const [nx, ny] = smoothed.dims;
  let front: number[] = [];
  for (let v = 0; v < n; v++) if (labels[v] !== 0 && fromLabel[labels[v] as number]) front.push(v);
  const steps = Math.ceil(BAND_REACH_MM / smoothed.spacing[0]);
  for (let pass = 0; pass < steps && front.length > 0; pass++) {
    const next: number[] = [];
    for (const v of front) {
      const l = labels[v] as number;
      const i = v % nx, j = Math.floor(v / nx) % ny;
      const nb = [i > 0 ? v - 1 : -1, i < nx - 1 ? v + 1 : -1, j > 0 ? v - nx : -1, j < ny - 1 ? v + nx : -1];
      for (const w of nb) {
        if (w < 0 || labels[w] !== 0 || !ok(w)) continue;
        const x = s[w] as number;
        const d = Math.min(TABLE_PROFILE_MM, Math.floor(td[w] as number));
        if (x < (need[d] as number) || x > BLOOD_HIGH) continue;
        labels[w] = l;
        next.push(w);
      }
    }
    front = next;
  }
}
