/**
 * Nodule candidates on an isotropic grid of the lung box (spacing-aware: every size is in mm):
 * - multi-scale blob filter: γ-normalised Hessian eigenvalues (σ² λ) at σ = 1…4 mm; a bright blob has three
 *   negative eigenvalues of similar size, so the dot measure |λ1|²/|λ3| (|λ1| ≤ |λ2| ≤ |λ3|) is high for blobs and
 *   ≈ 0 for tubes (λ1 ≈ 0) and plates (λ1, λ2 ≈ 0); its local maxima are the candidates, strongest first;
 * - dense cores: solid tissue (and, at a lower level, ground glass) opened by a ball removes the vessels thinner
 *   than the ball and keeps the cores of large nodules and masses, whose centres the blob filter cannot see
 *   (the Hessian is flat deep inside a large sphere); ground glass also on the sub-solid channel, without the
 *   vessels it touches (SUBSOLID_CORE);
 * - calcium: the brightest points of calcium attenuation in the lung (a small calcified nodule on a vessel, which the
 *   lung window flattens into the vessel).
 */
import type { Float32Volume, Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import { connectedComponents, distanceTransform, erode, hessianEigenvalues, ijkToLps, localMaxima, lpsToIjk, maskAnd, open, resample, resampleToGrid, threshold, withData } from '../../imaging/index.ts';

export interface Candidate {
  /** Voxel of the detection grid. */
  ijk: Vec3;
  lps: Vec3;
  /** Estimated radius (mm). */
  radiusMm: number;
  /** Best blob response (HU, γ-normalised) at the candidate, and its scale. */
  blob: number;
  sigmaMm: number;
  source: 'blob' | 'subsolid-blob' | 'solid-blob' | 'solid-core' | 'ground-glass-core' | 'calcium';
}

export interface CandidateOptions {
  scalesMm?: readonly number[];
  /** Blob filter input: 'lung-window' (default; see lungWindow) or the raw HU. */
  channel?: 'lung-window' | 'hu';
  /** Minimum blob response (HU) for a blob candidate. */
  minBlob?: number;
  /**
   * Cap on blob maxima (default 250, which binds: the 250th response is ≈ 26–38 on stress phantoms 4–6). Uncapped
   * (minBlob 4), the juxtavascular ground-glass nodules without a candidate there had lung-window responses of only
   * 7–22 (rank 1300–4000 among ≈ 6000 maxima): the window's clipping hands the maximum to the vessel, so a larger
   * cap does not reach them.
   */
  maxBlobCandidates?: number;
  /** Non-maximum suppression distance (mm) between blob candidates. */
  blobMinDistanceMm?: number;
  /**
   * Caps on the sub-solid maxima of the 2 mm core grid and of the detection grid (development A/B). Raising both
   * to 2000 (stress phantoms 3, 5, 6) gave candidates to 3 of 5 juxtavascular / juxtapleural ground-glass nodules
   * that had none, but at first-stage scores 0.01–0.16 (fine-order ranks 69–340) for 2–3× the candidates: no gain
   * without a first stage that ranks them, so the caps stay.
   */
  maxSubsolidCandidates?: number;
  maxSubsolidFineCandidates?: number;
  /** Scales (mm) of the sub-solid channel on the detection grid itself, for small ground glass; [] turns it off. */
  subsolidFineScalesMm?: readonly number[];
  /** Ground-glass cores on the sub-solid channel (SUBSOLID_CORE); default true. */
  subsolidCores?: boolean;
  /** Scales (mm) of the solid blob pass on the raw HU (SOLID_BLOB_SCALES_MM); [] turns it off. */
  solidBlobScalesMm?: readonly number[];
  /** Cap on its maxima (default SOLID_BLOB_MAX_CANDIDATES). */
  maxSolidBlobCandidates?: number;
}

export const DEFAULT_SCALES_MM = [1, 1.6, 2.5, 4] as const;

export interface BlobMap {
  response: Float32Volume;
  /** Index into the scale list of the best response per voxel. */
  scaleIndex: Uint8Array;
  scalesMm: readonly number[];
}

/** Upper end of the lung window: ground glass (−750…−300 HU) keeps its contrast, solid tissue saturates here. */
export const LUNG_WINDOW_MAX_HU = -300;

/**
 * The blob filter's input: HU clipped to [−1000, LUNG_WINDOW_MAX_HU] inside the lung and set to the parenchyma
 * level outside it. Clipping takes away most of the contrast advantage of solid tissue, so a ground-glass
 * nodule (150–450 HU above the parenchyma) is no longer drowned by the vessel it touches (≈ 900 HU above); filling
 * the outside with parenchyma removes the chest wall, so a juxtapleural nodule is a blob rather than a bump on a
 * bright plate. The lung mask holds juxtapleural nodules (its pleural closing), so they keep their voxels.
 */
export function lungWindow(iso: Int16Volume, lung: MaskVolume): Int16Volume & { bgHu: number } {
  const n = iso.data.length;
  const hist = new Uint32Array(400);
  let count = 0;
  for (let v = 0; v < n; v += 7) {
    const x = iso.data[v] as number;
    if (lung.data[v] === 0 || x < -1000 || x >= -600) continue;
    hist[x + 1000] = (hist[x + 1000] as number) + 1;
    count++;
  }
  let bg = -860, acc = 0;
  for (let b = 0; b < hist.length && count > 0; b++) { acc += hist[b] as number; if (acc > count / 2) { bg = b - 1000; break; } }
  const out = new Int16Array(n);
  for (let v = 0; v < n; v++) {
    const x = iso.data[v] as number;
    out[v] = lung.data[v] === 0 ? bg : x > LUNG_WINDOW_MAX_HU ? LUNG_WINDOW_MAX_HU : x < -1000 ? -1000 : x;
  }
  return Object.assign(withData(iso, out), { bgHu: bg });
}

/** Sub-solid window: ground glass is −800…−300 HU; solid tissue above it is replaced by the parenchyma. */
export const SUBSOLID_HU: [number, number] = [-800, -300];
export const SUBSOLID_SCALES_MM = [2, 3, 4.5] as const;
/**
 * Sub-solid scales run on the detection grid: a 4–5 mm ground-glass nodule (radius ≈ 2.2 mm, best σ ≈ r/√3 ≈ 1.3 mm)
 * is below what the 2 mm grid resolves, and against a vessel or the pleura the lung-window blob filter gives its
 * maximum to the vessel. These were most of the nodules without any candidate on the tuning phantoms; the pass
 * raised candidate recall on dense1..8 from 66 to 69 of 79 nodules, for ≈ 50 more candidates per scan.
 */
export const SUBSOLID_FINE_SCALES_MM = [1.4] as const;
/**
 * Ground-glass cores on the sub-solid channel (solid tissue set to the parenchyma): attenuation ≥ lowHu opened by a
 * ball of radiusMm. The ground-glass core on the HU (≥ −720 HU, a 4.5 mm ball) takes the vessels in with the nodule,
 * so a ground-glass nodule on a vessel is one component with the vessel tree and its one candidate (the deepest
 * voxel) lies in a hilar vessel; and the sub-solid blob filter gives such a nodule little response, because the
 * partial-volume rims of its vessel continue it as a tube (seed 27 of the plain tuning draw: a 13.5 mm juxtavascular
 * ground-glass nodule at −673 HU, response 15, rank 230 of the sub-solid maxima, no candidate). Without the solid
 * tissue the nodule is its own component. On plain tuning scans 27, 28, 37, 43, 44: 1–33 components per scan at
 * (−740 HU, 3 mm), which reached that nodule and two part-solid ones; (−760 HU, 2.5 mm) gave 160–260 per scan.
 */
export const SUBSOLID_CORE = { lowHu: -740, radiusMm: 3 } as const;
/**
 * The solid blob pass: the blob filter on the raw HU at small scales. The lung window clips a small solid nodule and
 * the vessel it sits on to the same −300 HU, so only their shapes differ, and the blob maximum goes to the vessel
 * junction; on the raw HU the nodule (3–6 mm, ≈ 40 HU at its centre) is brighter than a small vessel, whose centre
 * partial volume keeps well below soft tissue. On 10 tuning scans of 10 small solid nodules against a vessel or the
 * pleura (train.ts family 'solid', seeds 101..110), the lung window alone reached 28 of 49 juxtavascular ones, this
 * channel alone 33 (but 17 of 51 juxtapleural, against 35: the chest wall). So it runs beside the lung window, and
 * its maxima near the chest wall are dropped (the window handles those).
 */
export const SOLID_BLOB_SCALES_MM = [1, 1.6] as const;
export const SOLID_BLOB_MAX_CANDIDATES = 120;
/** Least HU at a solid blob candidate (soft tissue blurred by the partial volume of a 3 mm nodule). */
const SOLID_BLOB_MIN_HU = -350;

/** Least attenuation above the parenchyma at a sub-solid candidate's centre (the faintest ground glass is ≈ 150). */
const SUBSOLID_MIN_CONTRAST_HU = 100;

/**
 * The sub-solid channel: ground-glass attenuation kept, everything solid (vessels, walls, solid nodules) set to
 * the parenchyma level. A ground-glass nodule against a vessel is then a blob with a bite taken out rather than a
 * bump on a tube, which no Hessian of the combined image calls a blob. The partial-volume rims of vessels
 * that remain are thin hollow tubes: no blob response at these scales.
 */
export function subSolidChannel(win: Int16Volume, bg: number): Int16Volume {
  const out = new Int16Array(win.data.length);
  for (let v = 0; v < out.length; v++) {
    const x = win.data[v] as number;
    out[v] = x >= SUBSOLID_HU[1] ? bg : x < SUBSOLID_HU[0] ? Math.max(bg, x) : x;
  }
  return withData(win, out);
}

/** Mean of `vol` over the cube of half-width `r` voxels at `c` (clipped to the grid). */
function ballMean(vol: Int16Volume, c: Vec3, r: number): number {
  const [nx, ny, nz] = vol.dims;
  let sum = 0, n = 0;
  for (let dk = -r; dk <= r; dk++) for (let dj = -r; dj <= r; dj++) for (let di = -r; di <= r; di++) {
    const i = c[0] + di, j = c[1] + dj, k = c[2] + dk;
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    sum += vol.data[i + j * nx + k * nx * ny] as number;
    n++;
  }
  return n > 0 ? sum / n : -1000;
}

/** Max over scales of the normalised dot response, inside the mask. */
export function blobResponse(iso: Int16Volume, lung: MaskVolume, scalesMm: readonly number[]): BlobMap {
  const n = iso.data.length;
  const best = new Float32Array(n);
  const scaleIndex = new Uint8Array(n);
  scalesMm.forEach((sigmaMm, s) => {
    const { l1, l2, l3 } = hessianEigenvalues(iso, { sigmaMm, normalize: true, mask: lung, truncate: 2.5 });
    const a = l1.data, b = l2.data, c = l3.data;
    for (let v = 0; v < n; v++) {
      const e1 = a[v] as number, e3 = c[v] as number;
      if (!(e1 < 0 && (b[v] as number) < 0 && e3 < 0)) continue;
      const r = (e1 * e1) / -e3;
      if (r > (best[v] as number)) { best[v] = r; scaleIndex[v] = s; }
    }
  });
  return { response: withData(iso, best), scaleIndex, scalesMm };
}

/** Candidate centres of dense cores: the deepest voxel of each opened component. */
function coreCandidates(iso: Int16Volume, lung: MaskVolume, lowHu: number, radiusMm: number, source: Candidate['source']): Candidate[] {
  const dense = maskAnd(threshold(iso, { low: lowHu }), lung);
  const opened = open(dense, { radiusMm });
  const cc = connectedComponents(opened, { connectivity: 26 });
  if (cc.count === 0) return [];
  const dist = distanceTransform(opened).data;
  const bestV = new Int32Array(cc.count + 1).fill(-1);
  const bestD = new Float32Array(cc.count + 1);
  for (let v = 0; v < dist.length; v++) {
    const l = cc.labels.data[v] as number;
    if (l !== 0 && (dist[v] as number) > (bestD[l] as number)) { bestD[l] = dist[v] as number; bestV[l] = v; }
  }
  const [nx, ny] = iso.dims;
  const out: Candidate[] = [];
  const minVox = ((4 / 3) * Math.PI * radiusMm ** 3) / (iso.spacing[0] * iso.spacing[1] * iso.spacing[2]);
  for (let l = 1; l <= cc.count; l++) {
    const v = bestV[l] as number;
    if (v < 0 || (cc.sizes[l] as number) < minVox) continue;
    const k = Math.floor(v / (nx * ny)), j = Math.floor((v - k * nx * ny) / nx), i = v - k * nx * ny - j * nx;
    out.push({ ijk: [i, j, k], lps: ijkToLps(iso, [i, j, k]), radiusMm: Math.max(radiusMm, bestD[l] as number), blob: 0, sigmaMm: 0, source });
  }
  return out;
}

export function detectCandidates(iso: Int16Volume, lung: MaskVolume, opts: CandidateOptions = {}): { candidates: Candidate[]; blob: BlobMap } {
  const scales = opts.scalesMm ?? DEFAULT_SCALES_MM;
  const useWindow = (opts.channel ?? 'lung-window') === 'lung-window';
  const win = useWindow ? lungWindow(iso, lung) : undefined;
  const blob = blobResponse(win ?? iso, lung, scales);
  const maxima = localMaxima(blob.response, { mask: lung, minValue: opts.minBlob ?? 12, minDistanceMm: opts.blobMinDistanceMm ?? 3, maxCount: opts.maxBlobCandidates ?? 250 });
  const [nx, ny] = iso.dims;
  const candidates: Candidate[] = maxima.map((m) => {
    const v = m.ijk[0] + m.ijk[1] * nx + m.ijk[2] * nx * ny;
    const sigmaMm = scales[blob.scaleIndex[v] as number] as number;
    // A ball of radius r gives its strongest normalised response at σ ≈ r / √3 in 3D.
    return { ijk: m.ijk, lps: m.lps, radiusMm: sigmaMm * 1.7, blob: m.value, sigmaMm, source: 'blob' as const };
  });
  // Cores are ≥ 3 mm in radius: a 2 mm grid finds them at an eighth of the cost of the detection grid (the
  // openings and distance maps over the whole lung box were half of this step's time).
  const coreMm = 2;
  const cIso = iso.spacing[0] < coreMm ? resample(iso, { spacing: coreMm, interpolation: 'linear', fill: -1000 }) : iso;
  const cLung = cIso === iso ? lung : resampleToGrid(lung, cIso, { interpolation: 'nearest', fill: 0 });
  const toIso = (c: Candidate): Candidate => {
    const q = lpsToIjk(iso, c.lps).map((x, a) => Math.min((iso.dims[a] as number) - 1, Math.max(0, Math.round(x)))) as Vec3;
    return { ...c, ijk: q, lps: ijkToLps(iso, q) };
  };
  const subsolidCores: Candidate[] = [];
  if (win) {
    // Sub-solid channel on the 2 mm core grid: ground glass worth reporting is ≥ 5 mm (Fleischner: < 6 mm needs no
    // follow-up), so σ ≥ 2 mm suffices, at an eighth of the detection grid's cost.
    const cWin = cIso === iso ? win : resampleToGrid(win, cIso, { interpolation: 'linear', fill: win.bgHu });
    const subCh = subSolidChannel(cWin, win.bgHu);
    if (opts.subsolidCores ?? true) subsolidCores.push(...coreCandidates(subCh, cLung, SUBSOLID_CORE.lowHu, SUBSOLID_CORE.radiusMm, 'ground-glass-core'));
    const sub = blobResponse(subCh, cLung, SUBSOLID_SCALES_MM);
    const [cx, cy] = cIso.dims;
    const subMax = localMaxima(sub.response, { mask: cLung, minValue: opts.minBlob ?? 12, minDistanceMm: 6, maxCount: opts.maxSubsolidCandidates ?? 120 });
    const ch = subCh.data;
    for (const m of subMax) {
      const v = m.ijk[0] + m.ijk[1] * cx + m.ijk[2] * cx * cy;
      // The centre must itself be ground glass: the partial-volume rim of a solid nodule or a vessel crossing is a
      // hollow shell at ground-glass attenuation, which the Hessian at σ ≥ 2 mm also calls a blob.
      if (!((ch[v] as number) > win.bgHu + SUBSOLID_MIN_CONTRAST_HU)) continue;
      const sigmaMm = SUBSOLID_SCALES_MM[sub.scaleIndex[v] as number] as number;
      const c = toIso({ ijk: m.ijk, lps: m.lps, radiusMm: sigmaMm * 1.7, blob: m.value, sigmaMm, source: 'subsolid-blob' });
      // …and ground glass on the detection grid too: on the 2 mm grid a thin vessel crossing averages to ground glass.
      const centre = ballMean(win, c.ijk, 1);
      if (centre >= SUBSOLID_HU[1] || centre <= win.bgHu + SUBSOLID_MIN_CONTRAST_HU) continue;
      candidates.push(c);
    }
  }
  const fineScales = opts.subsolidFineScalesMm ?? SUBSOLID_FINE_SCALES_MM;
  if (win && fineScales.length > 0) {
    const subCh = subSolidChannel(win, win.bgHu);
    const sub = blobResponse(subCh, lung, fineScales);
    const subMax = localMaxima(sub.response, { mask: lung, minValue: opts.minBlob ?? 12, minDistanceMm: 4, maxCount: opts.maxSubsolidFineCandidates ?? 80 });
    for (const m of subMax) {
      const centre = ballMean(win, m.ijk, 1);
      if (centre >= SUBSOLID_HU[1] || centre <= win.bgHu + SUBSOLID_MIN_CONTRAST_HU) continue;
      const v = m.ijk[0] + m.ijk[1] * nx + m.ijk[2] * nx * ny;
      const sigmaMm = fineScales[sub.scaleIndex[v] as number] as number;
      candidates.push({ ijk: m.ijk, lps: m.lps, radiusMm: sigmaMm * 1.7, blob: m.value, sigmaMm, source: 'subsolid-blob' });
    }
  }
  const solidScales = opts.solidBlobScalesMm ?? SOLID_BLOB_SCALES_MM;
  if (solidScales.length > 0) {
    // Away from the chest wall: the lung mask eroded by 3 mm (on the raw HU the wall is the strongest blob edge).
    const inner = erode(lung, { radiusMm: 3 });
    const solid = blobResponse(iso, inner, solidScales);
    const solidMax = localMaxima(solid.response, { mask: inner, minValue: opts.minBlob ?? 12, minDistanceMm: 3, maxCount: opts.maxSolidBlobCandidates ?? SOLID_BLOB_MAX_CANDIDATES });
    for (const m of solidMax) {
      const v = m.ijk[0] + m.ijk[1] * nx + m.ijk[2] * nx * ny;
      if ((iso.data[v] as number) < SOLID_BLOB_MIN_HU) continue;
      const sigmaMm = solidScales[solid.scaleIndex[v] as number] as number;
      candidates.push({ ijk: m.ijk, lps: m.lps, radiusMm: sigmaMm * 1.7, blob: m.value, sigmaMm, source: 'solid-blob' });
    }
  }
  for (const c of coreCandidates(cIso, cLung, -400, 3, 'solid-core')) candidates.push(toIso(c));
  for (const c of coreCandidates(cIso, cLung, -720, 4.5, 'ground-glass-core')) candidates.push(toIso(c));
  for (const c of subsolidCores) candidates.push(toIso(c));
  // Merge: a core candidate within the radius of a blob candidate adds nothing new except a size hint.
  const kept: Candidate[] = [];
  for (const c of candidates) {
    const dup = kept.find((k) => Math.hypot(k.lps[0] - c.lps[0], k.lps[1] - c.lps[1], k.lps[2] - c.lps[2]) < Math.max(2.5, 0.6 * Math.min(k.radiusMm, c.radiusMm)));
    if (dup) {
      if (c.radiusMm > dup.radiusMm) dup.radiusMm = c.radiusMm;
      continue;
    }
    kept.push(c);
  }
  // Calcium after the merge: its point is the calcification itself, which a vessel junction's blob maximum
  // 2–3 mm away would otherwise absorb.
  for (const c of calciumCandidates(iso, lung)) {
    if (!kept.some((k) => Math.hypot(k.lps[0] - c.lps[0], k.lps[1] - c.lps[1], k.lps[2] - c.lps[2]) < 1)) kept.push(c);
  }
  for (const c of kept) {
    const v = c.ijk[0] + c.ijk[1] * nx + c.ijk[2] * nx * ny;
    if (c.source === 'solid-core' || c.source === 'ground-glass-core' || c.source === 'calcium' || c.source === 'solid-blob') { c.blob = blob.response.data[v] as number; c.sigmaMm = scales[blob.scaleIndex[v] as number] as number; }
  }
  return { candidates: kept, blob };
}

/**
 * Least attenuation (HU) at a calcium candidate's point on the detection grid. Benign calcification is ≥ ≈ 200 HU
 * (Hansell et al., Radiology 2008; Lung-RADS v2022); on the tuning phantoms (dense 1..20 and 41..50, plain 1..24)
 * the brightest voxel of a calcified nodule ≥ 3.3 mm read 205–580 HU, of a solid juxtavascular nodule (40–65 HU, on a
 * vessel of the same attenuation) at most 163 HU; 2.7–3.2 mm calcified nodules of < 450 HU are blurred below it.
 */
export const CALCIUM_MIN_HU = 200;
/** …and the mean of its six face neighbours (a single noisy voxel in a vessel is no calcification). */
const CALCIUM_NEIGHBOUR_HU = 100;
/** Calcium candidates per scan, brightest first (a contrast-enhanced vessel tree gives one per 3 mm, so a cap). */
export const CALCIUM_MAX_CANDIDATES = 12;

/**
 * Calcium candidates: the brightest points of calcium attenuation inside the lung. The lung window clips at −300 HU,
 * so a small calcified nodule on a vessel is only a bump on the vessel there, and the blob maximum sits at the
 * junction (on unseen seed 800000, 6 calcified juxtavascular nodules of 2.4–5.2 mm and 436–816 HU had no
 * candidate). On the raw HU the calcification is the brightest thing around.
 */
export function calciumCandidates(iso: Int16Volume, lung: MaskVolume): Candidate[] {
  const n = iso.data.length;
  const bright = new Uint8Array(n);
  let any = false;
  for (let v = 0; v < n; v++) if (lung.data[v] !== 0 && (iso.data[v] as number) >= CALCIUM_MIN_HU) { bright[v] = 1; any = true; }
  if (!any) return [];
  const maxima = localMaxima(iso, { mask: withData(lung, bright), minDistanceMm: 3, maxCount: 20 * CALCIUM_MAX_CANDIDATES });
  const out: { c: Candidate; hu: number }[] = [];
  const [nx, ny, nz] = iso.dims;
  for (const m of maxima) {
    const [i, j, k] = m.ijk;
    if (i < 1 || j < 1 || k < 1 || i >= nx - 1 || j >= ny - 1 || k >= nz - 1) continue;
    const v = i + j * nx + k * nx * ny, d = iso.data;
    const around = ((d[v - 1] as number) + (d[v + 1] as number) + (d[v - nx] as number) + (d[v + nx] as number) + (d[v - nx * ny] as number) + (d[v + nx * ny] as number)) / 6;
    if (around < CALCIUM_NEIGHBOUR_HU) continue;
    out.push({ c: { ijk: m.ijk, lps: m.lps, radiusMm: 2, blob: 0, sigmaMm: 0, source: 'calcium' }, hu: m.value });
  }
  return out.sort((a, b) => b.hu - a.hu).slice(0, CALCIUM_MAX_CANDIDATES).map((x) => x.c);
}
