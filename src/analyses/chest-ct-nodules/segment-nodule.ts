/**
 * 3D segmentation of one nodule around a seed, on a local isotropic grid resampled from the original voxels
 * (fine enough that thick slices are interpolated rather than staircased):
 * 1. attenuation levels from the pixels: the parenchyma around it (bg) and the nodule's plateau, sampled in a
 *    ball at the seed; the plateau decides solid / part-solid / ground-glass / calcified;
 * 2. adaptive threshold at half way between bg and the plateau (the ground-glass plateau for sub-solid
 *    nodules), which puts the edge where partial volume is 50 %, inside the lung mask (stops at the pleura);
 * 3. the component at the seed, opened by a ball of half the nodule's inner radius (cuts attached vessels and
 *    pleural bridges thinner than that), the seed component of the opening, then the thresholded voxels within
 *    a small margin of it (restores the surface detail the opening rounded off);
 * 4. volume with partial-volume weighting over the mask and its one-voxel outer shell.
 */
import type { Float32Volume, Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import {
  connectedComponents, crop, dilate, distanceTransform, gaussian, ijkToLps, lpsToIjk, open, resampleToGrid, voxelVolumeMm3, withData,
} from '../../imaging/index.ts';
import type { Box } from '../../imaging/index.ts';
import type { Mat3 } from '../../imaging/index.ts';

export type NoduleType = 'solid' | 'part-solid' | 'ground-glass' | 'calcified';

export interface NoduleSegmentation {
  /** Nodule mask on the local grid (LPS geometry). */
  mask: MaskVolume;
  /** Smoothed HU on the local grid. */
  smooth: Float32Volume;
  /** Resampled (unsmoothed) HU on the local grid. */
  hu: Int16Volume;
  /** Lung mask on the local grid. */
  lung: MaskVolume;
  type: NoduleType;
  bgHu: number;
  /** Plateau of the nodule (ground-glass plateau for sub-solid nodules). */
  levelHu: number;
  peakHu: number;
  thresholdHu: number;
  /** Solid-component mask (part-solid only). */
  solid?: MaskVolume;
  /** Partial-volume weighted volume (mm³). */
  volumeMm3: number;
  /** Largest inscribed-ball radius near the seed (mm). */
  rInMm: number;
  /** Median over 26 directions of the distance from the peak to the edge (mm): the round part's radius. */
  rayRadiusMm: number;
  openingRadiusMm: number;
  /** Volume of the thresholded seed component before opening / after: ≫ 1 when attached to vessels. */
  attachmentRatio: number;
  /** The final mask reaches the local grid's faces (it continues beyond the box: a vessel or a wall). */
  touchesBorder: boolean;
  /** Fraction of mask voxels next to non-lung voxels (pleural contact). */
  pleuralContact: number;
  /** Fraction of the sampling ball with solid attenuation (> −250 HU). */
  solidFraction: number;
  /** Brightest smoothed voxel near the seed (LPS mm). */
  peakLps: Vec3;
}

const SOLID_HU = -250;
// Solid nodules and vessels are ≤ ~70 HU; anything brighter is calcium, even when partial volume dims a small one.
const CALCIFIED_HU = 115;
/** Core (ball median) attenuation above which a nodule is calcified whatever its size. */
export const CALCIFIED_CORE_HU = 200;
const CALCIFIED_PEAK_HU = 160;
/** Ground glass is −750…−300 HU: a halo at that level around a solid core makes the nodule part-solid. */
const GG_MIN_ABOVE_BG = 200;

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] as number;
}

/** Median of HU values by a 1-HU histogram over [lo, hi) (a sort of every parenchyma voxel costs ms per nodule). */
function histMedian(values: Float32Array | number[], count: number, lo: number, hi: number): number {
  const bins = new Uint32Array(hi - lo);
  for (let v = 0; v < count; v++) { const b = Math.min(hi - lo - 1, Math.max(0, Math.floor((values[v] as number) - lo))); bins[b] = (bins[b] as number) + 1; }
  let acc = 0;
  const half = Math.floor(count / 2);
  for (let b = 0; b < bins.length; b++) {
    acc += bins[b] as number;
    if (acc > half) return lo + b + 0.5;
  }
  return hi;
}

/** Median of `s` over the voxels within `rVox` of `c` (clipped to the grid). */
function ballMedian(s: Float32Array, dims: Vec3, c: Vec3, rVox: number): number {
  const [nx, ny, nz] = dims;
  const R = Math.ceil(rVox);
  const vals: number[] = [];
  for (let dk = -R; dk <= R; dk++) for (let dj = -R; dj <= R; dj++) for (let di = -R; di <= R; di++) {
    if (di * di + dj * dj + dk * dk > rVox * rVox + 1e-9) continue;
    const i = c[0] + di, j = c[1] + dj, k = c[2] + dk;
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    vals.push(s[i + j * nx + k * nx * ny] as number);
  }
  return vals.length > 0 ? median(vals) : -Infinity;
}

function percentile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] as number;
}

/**
 * Ground-glass level of a halo around the solid region of a nodule, or null when there is none. The solid
 * region is grown from the peak (smoothed HU > tSolid); the shell 1–3 mm outside it is sampled along rays: a
 * solid nodule's shell holds only the blur tail (near bg), a part-solid one's a ground-glass plateau.
 */
function haloLevel(s: Float32Array, lung: Uint8Array, dims: Vec3, peak: Vec3, h: number, tSolid: number, bg: number, rEst: number): number | null {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const vals: number[] = [];
  const maxR = Math.min(3 * rEst + 6, ((Math.min(nx, ny, nz) - 1) / 2) * h);
  for (let t = 0; t < 26; t++) {
    // 26 directions of the cube neighbourhood.
    const di = (t % 3) - 1, dj = (Math.floor(t / 3) % 3) - 1, dk = Math.floor(t / 9) - 1;
    if (di === 0 && dj === 0 && dk === 0) continue;
    const len = Math.hypot(di, dj, dk);
    const ui = di / len, uj = dj / len, uk = dk / len;
    let edge = -1;
    for (let r = 0; r <= maxR; r += h * 0.5) {
      const i = Math.round(peak[0] + (ui * r) / h), j = Math.round(peak[1] + (uj * r) / h), k = Math.round(peak[2] + (uk * r) / h);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) break;
      const v = i + j * nx + k * plane;
      if (edge < 0) {
        if ((s[v] as number) <= tSolid) edge = r;
        continue;
      }
      if (r < edge + 1) continue;
      if (r > edge + 3) break;
      if (lung[v] !== 0 && (s[v] as number) < tSolid) vals.push(s[v] as number);
    }
  }
  if (vals.length < 20) return null;
  const m = median(vals);
  return m > bg + GG_MIN_ABOVE_BG && m < SOLID_HU ? m : null;
}

/**
 * The nodule's own radius: median over the 26 cube directions of the distance from the peak to the first voxel
 * at or below `t` or outside `inside`. Attached vessels and the pleura take only a few directions, so the median
 * is the radius of the round part, however far the thresholded component runs along them.
 */
function rayRadiusMm(s: Float32Array, inside: Uint8Array, dims: Vec3, peak: Vec3, h: number, t: number): number {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const lens: number[] = [];
  for (let q = 0; q < 27; q++) {
    const di = (q % 3) - 1, dj = (Math.floor(q / 3) % 3) - 1, dk = Math.floor(q / 9) - 1;
    if (di === 0 && dj === 0 && dk === 0) continue;
    const len = Math.hypot(di, dj, dk);
    let r = 0;
    for (;; r += h * 0.5) {
      const i = Math.round(peak[0] + (di * r) / (len * h)), j = Math.round(peak[1] + (dj * r) / (len * h)), k = Math.round(peak[2] + (dk * r) / (len * h));
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) break;
      const v = i + j * nx + k * plane;
      if ((s[v] as number) <= t || inside[v] === 0) break;
    }
    lens.push(r);
  }
  return median(lens);
}

/** Label at `seed` of a component labelling, else the nearest labelled voxel within `radiusVox`. */
function labelNear(labels: Int32Array, dims: Vec3, seed: Vec3, radiusVox: number): number {
  const [nx, ny, nz] = dims;
  const at = (i: number, j: number, k: number) => labels[i + j * nx + k * nx * ny] as number;
  const l0 = at(seed[0], seed[1], seed[2]);
  if (l0 !== 0) return l0;
  let best = 0, bestD = Infinity;
  const r = Math.ceil(radiusVox);
  for (let dk = -r; dk <= r; dk++) {
    for (let dj = -r; dj <= r; dj++) {
      for (let di = -r; di <= r; di++) {
        const i = seed[0] + di, j = seed[1] + dj, k = seed[2] + dk;
        if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
        const d = di * di + dj * dj + dk * dk;
        if (d > radiusVox * radiusVox || d >= bestD) continue;
        const l = at(i, j, k);
        if (l !== 0) { best = l; bestD = d; }
      }
    }
  }
  return best;
}

function keepLabel(labels: Int32Array, label: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let v = 0; v < out.length; v++) out[v] = labels[v] === label ? 1 : 0;
  return out;
}

/** Bounding box of the non-zero voxels grown by `marginVox` (clamped to the grid), or null when empty. */
function maskBox(m: Uint8Array, dims: Vec3, marginVox: number): Box | null {
  const [nx, ny, nz] = dims;
  let i0 = nx, j0 = ny, k0 = nz, i1 = -1, j1 = -1, k1 = -1;
  let v = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
    if (m[v] === 0) continue;
    if (i < i0) i0 = i; if (i > i1) i1 = i;
    if (j < j0) j0 = j; if (j > j1) j1 = j;
    if (k < k0) k0 = k; if (k > k1) k1 = k;
  }
  if (i1 < 0) return null;
  return {
    start: [Math.max(0, i0 - marginVox), Math.max(0, j0 - marginVox), Math.max(0, k0 - marginVox)],
    end: [Math.min(nx, i1 + marginVox + 1), Math.min(ny, j1 + marginVox + 1), Math.min(nz, k1 + marginVox + 1)],
  };
}

/**
 * `op` applied to the mask's bounding box grown by `marginMm` (≥ the operation's reach plus a voxel, so the
 * result equals the whole-grid one) and pasted back: the local grids are mostly background, and every EDT pass
 * over the whole grid is what the per-nodule segmentation used to spend its time on.
 */
function inMaskBox<T extends Uint8Array | Float32Array>(mask: MaskVolume, marginMm: number, op: (sub: MaskVolume) => { data: T }, empty: T): T {
  const box = maskBox(mask.data, mask.dims, Math.ceil(marginMm / mask.spacing[0]) + 1);
  if (!box) return empty;
  const sub = crop(mask, box);
  const r = op(sub).data;
  const [nx, ny] = mask.dims;
  const [sx, sy, sz] = sub.dims;
  let v = 0;
  for (let k = 0; k < sz; k++) for (let j = 0; j < sy; j++) {
    const row = box.start[0] + (box.start[1] + j) * nx + (box.start[2] + k) * nx * ny;
    empty.set(r.subarray(v, v + sx) as never, row);
    v += sx;
  }
  return empty;
}

export interface SegmentOptions {
  /** Lung mask already widened by ~1.5–2 mm (any grid); saves a dilation per nodule. */
  lungWide?: MaskVolume;
  /** Local grid spacing (mm); default from the nodule size and the source in-plane spacing. */
  spacingMm?: number;
  /** Coarse path (candidates the first stage ranked low): ≥ 1 mm grid and a tighter box. */
  coarse?: boolean;
}

/**
 * Segments the nodule at `seedLps` (estimated radius `radiusMm`) in `vol`; `lungLabels` is the lung label
 * volume on any grid. Returns null when nothing above the parenchyma is found at the seed.
 */
export function segmentNodule(vol: Int16Volume, lungLabels: MaskVolume, seedLps: Vec3, radiusMm: number, opts: SegmentOptions = {}): NoduleSegmentation | null {
  let seg = segmentOnce(vol, lungLabels, seedLps, radiusMm, opts);
  // Scale-aware box: the box follows the candidate's size estimate, which for a mass is the radius of the core the
  // blob or opening saw, not of the mass. When the object's own (ray-median) radius says it reaches past the
  // box, segment again in a box sized by that radius; a vessel leaving the box has a small ray radius and does
  // not trigger this. Twice at most (≤ MAX_RADIUS_MM), so a mass costs at most three local segmentations.
  for (let round = 0; round < 2 && seg && !opts.coarse && seg.touchesBorder; round++) {
    const half = seg.mask.spacing[0] * (seg.mask.dims[0] - 1) / 2;
    if (!(1.7 * seg.rayRadiusMm + 2 > half) || radiusMm >= MAX_RADIUS_MM) break;
    radiusMm = Math.min(MAX_RADIUS_MM, Math.max(1.5 * radiusMm, seg.rayRadiusMm * 1.3));
    const next = segmentOnce(vol, lungLabels, seedLps, radiusMm, opts);
    if (!next) break;
    seg = next;
  }
  return seg;
}

/** Largest radius a local segmentation is sized for (a 10 cm mass). */
const MAX_RADIUS_MM = 60;

function segmentOnce(vol: Int16Volume, lungLabels: MaskVolume, seedLps: Vec3, radiusMm: number, opts: SegmentOptions): NoduleSegmentation | null {
  const rEst = Math.min(MAX_RADIUS_MM, Math.max(1.5, radiusMm));
  const half = opts.coarse ? Math.min(40, Math.max(8, 1.6 * rEst + 4)) : Math.min(1.8 * MAX_RADIUS_MM + 6, Math.max(10, 2.5 * rEst + 6));
  // Fine grid for small nodules; masses get a coarser one so the box stays ≤ ~130³ voxels.
  // (≈ 1/8 of the radius: the hull of voxel centres then overestimates a diameter by < 0.3 mm.)
  const h = opts.spacingMm ?? Math.max(opts.coarse ? 1.0 : Math.min(1.0, Math.max(rEst / 8, 0.5)), (2 * half) / (opts.coarse ? 64 : 130));
  const nSide = Math.ceil((2 * half) / h) + 1;
  const dims: Vec3 = [nSide, nSide, nSide];
  const d = vol.direction;
  // Local grid axes = the volume's axes; origin so the seed sits at the centre voxel.
  const c = (nSide - 1) / 2;
  const origin: Vec3 = [
    seedLps[0] - (d[0] + d[1] + d[2]) * c * h,
    seedLps[1] - (d[3] + d[4] + d[5]) * c * h,
    seedLps[2] - (d[6] + d[7] + d[8]) * c * h,
  ];
  const grid = { dims, spacing: [h, h, h] as Vec3, origin, direction: [...d] as Mat3 };
  // Outside the scan: air, so nothing is segmented there.
  // threads: 1 — the kernels size their thread count by the larger of the two grids, and a parallel run would copy
  // the whole source volume into shared memory for every candidate (≈ 0.15 s each on a 512² × 300 scan).
  const hu = resampleToGrid(vol, grid, { interpolation: 'linear', fill: -1000, threads: 1 });
  const lung = resampleToGrid(lungLabels, grid, { interpolation: 'nearest', fill: 0, threads: 1 });
  // The coarse lung mask ends up to a coarse voxel short of the pleura: allow 1.5 mm beyond it so juxtapleural
  // nodules keep their pleural side; the opening below cuts the thin wall layer this lets in.
  const lungWide = opts.lungWide
    ? resampleToGrid(opts.lungWide, grid, { interpolation: 'nearest', fill: 0, threads: 1 })
    : dilate(lung, { radiusMm: 1.5 });
  const smooth = gaussian(hu, { sigmaMm: Math.max(0.5, 0.6 * h) });
  const s = smooth.data;
  const n = s.length;
  const nx = nSide, plane = nSide * nSide;
  const seed: Vec3 = [Math.round(c), Math.round(c), Math.round(c)];
  const seedIdx = seed[0] + seed[1] * nx + seed[2] * plane;
  void seedIdx;

  // Parenchyma level: lung voxels clearly below any nodule attenuation.
  const bgVals = new Float32Array(Math.ceil(n / 3));
  let nBg = 0;
  for (let v = 0; v < n; v += 3) if (lung.data[v] !== 0 && (s[v] as number) < -600 && (s[v] as number) > -1000) bgVals[nBg++] = s[v] as number;
  const bg = nBg > 20 ? histMedian(bgVals, nBg, -1000, -600) : -850;

  // Peak near the seed and the sampling ball.
  const rSearch = Math.max(1.5, 0.5 * rEst);
  const rBall = Math.max(1.2 * h, 0.6 * rEst);
  let peak = -Infinity;
  let peakIjk: Vec3 = seed;
  let peakIn = -Infinity;
  let peakInIjk: Vec3 = seed;
  const ball: number[] = [];
  const R = Math.ceil(Math.max(rSearch, rBall) / h);
  for (let dk = -R; dk <= R; dk++) {
    for (let dj = -R; dj <= R; dj++) {
      for (let di = -R; di <= R; di++) {
        const dd = Math.sqrt(di * di + dj * dj + dk * dk) * h;
        const i = seed[0] + di, j = seed[1] + dj, k = seed[2] + dk;
        const v = i + j * nx + k * plane;
        const x = s[v] as number;
        if (dd <= rSearch && x > peak) { peak = x; peakIjk = [i, j, k]; }
        if (dd <= rSearch && x > peakIn && lung.data[v] !== 0) { peakIn = x; peakInIjk = [i, j, k]; }
        if (dd <= rBall) ball.push(x);
      }
    }
  }
  // A bone-bright peak outside the widened lung is a rib next to a juxtapleural mass, not the nodule: take the
  // peak inside the lung then. (Not always the in-lung peak: the coarse lung mask may miss a large nodule's core.)
  const pv = peakIjk[0] + peakIjk[1] * nx + peakIjk[2] * plane;
  if (peak >= CALCIFIED_PEAK_HU && lungWide.data[pv] === 0 && peakIn > -Infinity) { peak = peakIn; peakIjk = peakInIjk; }
  if (!(peak > bg + 60)) return null;
  const half50 = (peak + bg) / 2;
  const inside = ball.filter((x) => x > half50);
  const solidFraction = ball.filter((x) => x > SOLID_HU).length / Math.max(1, ball.length);
  // The plateau is a high percentile of the voxels above half maximum: the ball may reach the nodule's edge, and
  // a median there would sit below the plateau and put the threshold (and the surface) too far out.
  const plateau = inside.length > 0 ? percentile(inside, 0.8) : peak;
  let type: NoduleType;
  let level: number;
  // Calcified by the attenuation of the core, not of one voxel: the brightest smoothed voxel of a large solid mass
  // (noise, a rib at its edge) can pass CALCIFIED_HU, the median of a small ball at the peak does not. Fleischner /
  // Lung-RADS call a nodule benign-calcified at ≥ ~200 HU; a small one, dimmed by partial volume, needs
  // both a core above CALCIFIED_HU and a peak well above any solid tissue.
  const coreMedian = ballMedian(s, dims, peakIjk, Math.max(h, Math.min(2, 0.35 * rEst)) / h);
  if (coreMedian >= CALCIFIED_CORE_HU || (coreMedian >= CALCIFIED_HU && peak >= CALCIFIED_PEAK_HU)) {
    type = 'calcified';
    level = plateau;
  } else if (solidFraction >= 0.5 || (peak > SOLID_HU && inside.length < 8)) {
    type = 'solid';
    level = plateau;
    // A solid core with a ground-glass halo is part-solid: look at the shell just outside the solid contour.
    const halo = haloLevel(s, lung.data, dims, peakIjk, h, (level + bg) / 2, bg, rEst);
    if (halo !== null) {
      type = 'part-solid';
      level = halo;
    }
  } else if (peak > SOLID_HU - 50) {
    type = 'part-solid';
    const gg = ball.filter((x) => x <= SOLID_HU && x > bg + 0.5 * (SOLID_HU - bg) * 0.6);
    level = gg.length > 4 ? median(gg) : (SOLID_HU + bg) / 2;
  } else {
    type = 'ground-glass';
    level = plateau;
  }
  if (!Number.isFinite(level)) level = peak;
  const T = (level + bg) / 2;

  // Thresholded seed component inside the lung.
  const thr = new Uint8Array(n);
  for (let v = 0; v < n; v++) thr[v] = lungWide.data[v] !== 0 && (s[v] as number) > T ? 1 : 0;
  const thrVol = withData(hu, thr);
  const cc1 = connectedComponents(thrVol, { connectivity: 6 });
  const l1 = labelNear(cc1.labels.data, dims, peakIjk, rSearch / h + 1);
  if (l1 === 0) return null;
  const comp = withData(hu, keepLabel(cc1.labels.data, l1));
  const compSize = cc1.sizes[l1] as number;

  // Inner radius near the seed → opening scale.
  const edt = inMaskBox(comp, 0, (m) => distanceTransform(m), new Float32Array(n));
  let rIn = 0;
  const Rs = Math.ceil((rSearch + rEst * 0.5) / h);
  for (let dk = -Rs; dk <= Rs; dk++) {
    for (let dj = -Rs; dj <= Rs; dj++) {
      for (let di = -Rs; di <= Rs; di++) {
        const i = peakIjk[0] + di, j = peakIjk[1] + dj, k = peakIjk[2] + dk;
        if (i < 0 || j < 0 || k < 0 || i >= nx || j >= nx || k >= nx) continue;
        const x = edt[i + j * nx + k * plane] as number;
        if (x > rIn) rIn = x;
      }
    }
  }
  const rho = Math.min(4, Math.max(0.6, h, 0.5 * rIn));
  const opened = withData(hu, inMaskBox(comp, rho, (m) => open(m, { radiusMm: rho }), new Uint8Array(n)));
  const cc2 = connectedComponents(opened, { connectivity: 6 });
  const l2 = labelNear(cc2.labels.data, dims, peakIjk, (rSearch + rho) / h + 1);
  let core: MaskVolume;
  if (l2 === 0) core = comp;
  else core = withData(hu, keepLabel(cc2.labels.data, l2));
  // Restore only about a voxel of what the opening rounded off: a wider margin would also restore the stumps of
  // the cut vessels, which add nothing to the volume but lengthen the long axis.
  const growMm = Math.min(Math.max(h * 1.01, 0.25 * rho), Math.max(h * 1.01, 1));
  const grow = withData(hu, inMaskBox(core, growMm, (m) => dilate(m, { radiusMm: growMm }), new Uint8Array(n)));
  // Leakage cap: a vessel thicker than the opening ball survives the opening; nothing of the nodule lies beyond
  // ~1.6× its own (ray-median) radius from the peak even when lobulated, so what does is an attached structure.
  const rRay = Math.max(0.5 * rEst, rayRadiusMm(s, lungWide.data, dims, peakIjk, h, T));
  const capVox = (1.6 * rRay + 2 * h) / h;
  const cap2 = capVox * capVox;
  const fin = new Uint8Array(n);
  let count = 0;
  for (let v = 0; v < n; v++) {
    if (grow.data[v] === 0 || comp.data[v] === 0) continue;
    const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
    if ((i - peakIjk[0]) ** 2 + (j - peakIjk[1]) ** 2 + (k - peakIjk[2]) ** 2 > cap2) continue;
    fin[v] = 1;
    count++;
  }
  // The component at the peak (not the largest: a cut-off vessel stump can outgrow a small nodule).
  const cc3 = connectedComponents(withData(hu, fin), { connectivity: 6 });
  const l3 = cc3.count > 1 ? labelNear(cc3.labels.data, dims, peakIjk, (rSearch + rho) / h + 1) : 1;
  const mask = withData(hu, cc3.count > 1 ? keepLabel(cc3.labels.data, l3 || 1) : fin);
  if (cc3.count > 1) count = cc3.sizes[l3 || 1] as number;
  if (count === 0) return null;

  // Partial-volume weighted volume over the mask and its outer shell (shell voxels above T belong to cut-off structures).
  // The shell must hold the blur tail (PSF ≈ 0.6–1 mm σ), whatever the grid.
  const shellMm = Math.max(1.5 * h, 1.6);
  const shell = withData(hu, inMaskBox(mask, shellMm, (m) => dilate(m, { radiusMm: shellMm }), new Uint8Array(n)));
  let wsum = 0;
  const denom = Math.max(30, level - bg);
  let touches = false, contact = 0;
  for (let k = 0; k < nx; k++) {
    for (let j = 0; j < nx; j++) {
      for (let i = 0; i < nx; i++) {
        const v = i + j * nx + k * plane;
        if (shell.data[v] === 0) continue;
        const x = s[v] as number;
        if (mask.data[v] !== 0) {
          wsum += Math.min(1, Math.max(0, (x - bg) / denom));
          if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === nx - 1 || k === nx - 1) touches = true;
          else if (lung.data[v - 1] === 0 || lung.data[v + 1] === 0 || lung.data[v - nx] === 0 || lung.data[v + nx] === 0 || lung.data[v - plane] === 0 || lung.data[v + plane] === 0) contact++;
        } else if (x < T && lungWide.data[v] !== 0) wsum += Math.min(1, Math.max(0, (x - bg) / denom));
      }
    }
  }
  const voxVol = voxelVolumeMm3(hu);
  let solid: MaskVolume | undefined;
  if (type === 'part-solid') {
    const ts = (peak + level) / 2;
    const sm = new Uint8Array(n);
    for (let v = 0; v < n; v++) sm[v] = mask.data[v] !== 0 && (s[v] as number) > ts ? 1 : 0;
    const sc = connectedComponents(withData(hu, sm), { connectivity: 6, sortBySize: true });
    if (sc.count > 0) solid = withData(hu, keepLabel(sc.labels.data, 1));
  }
  return {
    mask, smooth, hu, lung, type, bgHu: bg, levelHu: level, peakHu: peak, thresholdHu: T,
    ...(solid ? { solid } : {}),
    volumeMm3: wsum * voxVol,
    rInMm: rIn,
    rayRadiusMm: rRay,
    openingRadiusMm: rho,
    attachmentRatio: compSize / count,
    touchesBorder: touches,
    pleuralContact: contact / count,
    solidFraction,
    peakLps: ijkToLps(hu, peakIjk),
  };
}

/** Voxel index (rounded) in `vol` of an LPS point, or null outside. */
export function voxelOf(vol: Pick<Int16Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, lps: Vec3): Vec3 | null {
  const q = lpsToIjk(vol, lps).map(Math.round) as Vec3;
  for (let a = 0; a < 3; a++) if ((q[a] as number) < 0 || (q[a] as number) >= (vol.dims[a] as number)) return null;
  return q;
}
