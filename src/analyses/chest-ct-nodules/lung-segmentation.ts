/**
 * Lung segmentation on a coarse (~2 mm) grid: air inside the body (per-slice hole filling of the body), lung
 * components told from gas and the table gap by their thickness and their mean attenuation, trachea and main
 * bronchi removed (very dark components near the midline), left/right split, then per side a per-slice hole
 * fill (vessels, intrapulmonary airways, inner nodules) and a large closing that puts juxtapleural nodules —
 * the classic miss of threshold masks — back inside the lung. Everything is in mm, so it is grid-independent.
 */
import type { Box, Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import {
  close, connectedComponents, crop, dilate, embed, erode, expandBox, fillHoles2D, ijkToLps, lpsToIjk, maskAnd, maskBoundingBox,
  maskNot, resample, threshold, voxelVolumeMm3, withData,
} from '../../imaging/index.ts';

export const LUNG_LABEL = { right: 1, left: 2 } as const;

export interface LungSegmentationOptions {
  /** Coarse grid spacing in-plane (mm); default 2. */
  coarseMm?: number;
  /** Radius of the juxtapleural closing (mm); default 12. */
  pleuralClosingMm?: number;
}

export interface LungSegmentation {
  /** Coarse-grid labels (0, LUNG_LABEL.right, LUNG_LABEL.left) after the juxtapleural closing. */
  labels: MaskVolume;
  volumesMl: { right: number; left: number; total: number };
  /** Lung bounding box in the input volume's voxel indices (end exclusive), or null when no lung was found. */
  box: Box | null;
  /** LPS z range of the lung mask (mm). */
  zRangeMm: [number, number] | null;
  /** Airway voxels removed (mL). */
  airwayRemovedMl: number;
  /** Midline x (LPS mm) used to tell left from right. */
  midlineXMm: number;
  notes: string[];
}

const AIR_HU = -400;
const AIRWAY_HU = -950;
const OUTSIDE_AIR_HU = -950;
/** Lung parenchyma is −950…−600 HU on average; bowel gas, the table gap and the trachea are ≈ −1000. */
const LUNG_MEAN_MAX_HU = -965;

/** LPS x of voxel (i, j, k): the x row of the affine. */
function lpsXFn(vol: Pick<Int16Volume, 'origin' | 'direction' | 'spacing'>): (i: number, j: number, k: number) => number {
  const d = vol.direction, s = vol.spacing, o = vol.origin;
  return (i, j, k) => o[0] + d[0] * i * s[0] + d[1] * j * s[1] + d[2] * k * s[2];
}

export function segmentLungs(vol: Int16Volume, opts: LungSegmentationOptions = {}): LungSegmentation {
  const notes: string[] = [];
  const cmm = opts.coarseMm ?? 2;
  const cs: Vec3 = [Math.max(vol.spacing[0], cmm), Math.max(vol.spacing[1], cmm), Math.max(vol.spacing[2], cmm)];
  const coarse = resample(vol, { spacing: cs, interpolation: 'linear', fill: -1024 });
  const n = coarse.data.length;
  const vox = voxelVolumeMm3(coarse);
  const air = threshold(coarse, { high: AIR_HU });
  // Outside air = very dark (< −950 HU) regions reaching the slice edge. Filling the body's holes instead
  // would fail on a cropped field of view, where the body and the lung itself touch the edge of the image.
  const notOutside = fillHoles2D(maskNot(threshold(coarse, { high: OUTSIDE_AIR_HU })));
  const interiorAir = maskAnd(notOutside, air);

  // Thick, lung-dense components: erosion removes the table gap, thin gas and small airways.
  const cores = erode(interiorAir, { radiusMm: 4 });
  const cc = connectedComponents(interiorAir, { connectivity: 6 });
  const coreCount = new Int32Array(cc.count + 1);
  const sum = new Float64Array(cc.count + 1);
  for (let v = 0; v < n; v++) {
    const l = cc.labels.data[v] as number;
    if (l === 0) continue;
    sum[l] = (sum[l] as number) + (coarse.data[v] as number);
    if (cores.data[v] !== 0) coreCount[l] = (coreCount[l] as number) + 1;
  }
  let largest = 0;
  for (let l = 1; l <= cc.count; l++) largest = Math.max(largest, (cc.sizes[l] as number) * vox);
  const keep = new Uint8Array(cc.count + 1);
  for (let l = 1; l <= cc.count; l++) {
    const ml = ((cc.sizes[l] as number) * vox) / 1000;
    const mean = (sum[l] as number) / (cc.sizes[l] as number);
    if ((coreCount[l] as number) * vox >= 2000 && ml >= 15 && ml * 1000 >= 0.05 * largest && mean <= -550 && mean >= -1000 && mean > LUNG_MEAN_MAX_HU) keep[l] = 1;
  }
  const lungs = new Uint8Array(n);
  for (let v = 0; v < n; v++) lungs[v] = keep[cc.labels.data[v] as number] as number;
  const empty = (): LungSegmentation => ({
    labels: withData(coarse, new Uint8Array(n)), volumesMl: { right: 0, left: 0, total: 0 }, box: null, zRangeMm: null,
    airwayRemovedMl: 0, midlineXMm: 0, notes,
  });
  const lungMask = withData(coarse, lungs);
  const bb = maskBoundingBox(lungMask);
  if (!bb) return empty();

  // Airways: very dark components whose centre lies in the middle fifth of the lungs' width (trachea, main bronchi).
  const xOf = lpsXFn(coarse);
  const [nx, ny] = coarse.dims;
  const plane = nx * ny;
  const xLo = xOf(bb.start[0], bb.start[1], bb.start[2]), xHi = xOf(bb.end[0] - 1, bb.start[1], bb.start[2]);
  const xMid0 = (xLo + xHi) / 2, halfW = Math.abs(xHi - xLo) / 2;
  const dark = new Uint8Array(n);
  for (let v = 0; v < n; v++) dark[v] = lungs[v] !== 0 && (coarse.data[v] as number) <= AIRWAY_HU ? 1 : 0;
  const dcc = connectedComponents(withData(coarse, dark), { connectivity: 26 });
  const dsx = new Float64Array(dcc.count + 1);
  const dz0 = new Int32Array(dcc.count + 1).fill(1 << 30), dz1 = new Int32Array(dcc.count + 1).fill(-1);
  for (let v = 0; v < n; v++) {
    const l = dcc.labels.data[v] as number;
    if (l === 0) continue;
    const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
    dsx[l] = (dsx[l] as number) + xOf(i, j, k);
    if (k < (dz0[l] as number)) dz0[l] = k;
    if (k > (dz1[l] as number)) dz1[l] = k;
  }
  const airwayLab = new Uint8Array(dcc.count + 1);
  for (let l = 1; l <= dcc.count; l++) {
    const size = dcc.sizes[l] as number;
    const cx = (dsx[l] as number) / size;
    const zExtent = ((dz1[l] as number) - (dz0[l] as number) + 1) * cs[2];
    if (size * vox >= 1500 && Math.abs(cx - xMid0) < 0.2 * halfW && zExtent >= 12) airwayLab[l] = 1;
  }
  const airway = new Uint8Array(n);
  let airwayCount = 0;
  for (let v = 0; v < n; v++) if (airwayLab[dcc.labels.data[v] as number]) { airway[v] = 1; airwayCount++; }
  if (airwayCount > 0) {
    const grown = dilate(withData(coarse, airway), { radiusMm: 2.5 });
    for (let v = 0; v < n; v++) if (grown.data[v] !== 0) lungs[v] = 0;
    notes.push(`trachea/main bronchi removed: ${((airwayCount * vox) / 1000).toFixed(1)} mL`);
  } else notes.push('no trachea or main bronchus seen in the covered range');

  // Left/right: the two largest components after airway removal, else a split at the column valley.
  const lcc = connectedComponents(lungMask, { connectivity: 6, sortBySize: true });
  const sizes = lcc.sizes;
  const minKeep = Math.max(5000 / vox, 0.02 * (sizes[1] ?? 0));
  const compX = new Float64Array(lcc.count + 1);
  for (let v = 0; v < n; v++) {
    const l = lcc.labels.data[v] as number;
    if (l === 0) continue;
    const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
    compX[l] = (compX[l] as number) + xOf(i, j, k);
  }
  for (let l = 1; l <= lcc.count; l++) compX[l] = (compX[l] as number) / (sizes[l] as number);
  let midX: number;
  const two = lcc.count >= 2 && (sizes[2] as number) >= 0.15 * (sizes[1] as number);
  if (two) {
    midX = ((compX[1] as number) + (compX[2] as number)) / 2;
  } else {
    // One lung block (anterior junction) or one lung only: the valley of the x histogram in the middle band.
    const bins = 64;
    const hist = new Float64Array(bins);
    const x0 = Math.min(xLo, xHi), span = Math.max(1, Math.abs(xHi - xLo));
    for (let v = 0; v < n; v++) {
      if (lcc.labels.data[v] !== 1) continue;
      const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
      const b = Math.min(bins - 1, Math.max(0, Math.floor(((xOf(i, j, k) - x0) / span) * bins)));
      hist[b] = (hist[b] as number) + 1;
    }
    let best = -1, bestVal = Infinity;
    for (let b = Math.floor(bins * 0.3); b < Math.ceil(bins * 0.7); b++) if ((hist[b] as number) < bestVal) { bestVal = hist[b] as number; best = b; }
    const peak = Math.max(...hist);
    // A true valley is much lower than the lungs' bulk; otherwise there is one lung, on the side of the body centre.
    midX = bestVal < 0.35 * peak ? x0 + ((best + 0.5) / bins) * span : (compX[1] as number) > 0 ? x0 - 1e6 : x0 + span + 1e6;
    if (bestVal >= 0.35 * peak) notes.push('one lung only in the covered range');
  }
  const sides: Record<'right' | 'left', Uint8Array> = { right: new Uint8Array(n), left: new Uint8Array(n) };
  for (let v = 0; v < n; v++) {
    const l = lcc.labels.data[v] as number;
    if (l === 0 || (sizes[l] as number) < minKeep) continue;
    let left: boolean;
    if (two && (l === 1 || l === 2)) left = (compX[l] as number) > midX;
    else {
      const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
      left = xOf(i, j, k) > midX;
    }
    (left ? sides.left : sides.right)[v] = 1;
  }

  // Per side: per-slice hole filling (vessels, bronchi, inner nodules), then a closing that brings back juxtapleural nodules.
  const labels = new Uint8Array(n);
  const volumes = { right: 0, left: 0, total: 0 };
  const r = opts.pleuralClosingMm ?? 12;
  for (const side of ['right', 'left'] as const) {
    const m = withData(coarse, sides[side]);
    const sbb = maskBoundingBox(m);
    if (!sbb) continue;
    const box = expandBox(sbb, r + 2 * Math.max(...cs), coarse);
    const sub = crop(m, box);
    const filled = fillHoles2D(sub);
    let count = 0;
    for (let v = 0; v < filled.data.length; v++) count += filled.data[v] as number;
    volumes[side] = (count * vox) / 1000;
    const closed = fillHoles2D(close(filled, { radiusMm: r }));
    const full = embed(closed, coarse, box.start);
    const lab = LUNG_LABEL[side];
    for (let v = 0; v < n; v++) if (full.data[v] !== 0 && labels[v] === 0) labels[v] = lab;
  }
  volumes.total = volumes.left + volumes.right;
  const labelVol = withData(coarse, labels);
  const lbb = maskBoundingBox(labelVol);
  if (!lbb) return empty();
  // Lung box in the input grid: map the 8 corners of the coarse box.
  const lo: Vec3 = [Infinity, Infinity, Infinity], hi: Vec3 = [-Infinity, -Infinity, -Infinity];
  let zMin = Infinity, zMax = -Infinity;
  for (let c = 0; c < 8; c++) {
    const p = ijkToLps(coarse, [c & 1 ? lbb.end[0] : lbb.start[0] - 1, c & 2 ? lbb.end[1] : lbb.start[1] - 1, c & 4 ? lbb.end[2] : lbb.start[2] - 1]);
    zMin = Math.min(zMin, p[2]);
    zMax = Math.max(zMax, p[2]);
    const q = lpsToIjk(vol, p);
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a] as number, q[a] as number);
      hi[a] = Math.max(hi[a] as number, q[a] as number);
    }
  }
  const box: Box = {
    start: [0, 1, 2].map((a) => Math.max(0, Math.floor(lo[a] as number))) as Vec3,
    end: [0, 1, 2].map((a) => Math.min(vol.dims[a] as number, Math.ceil((hi[a] as number) + 1))) as Vec3,
  };
  return {
    labels: labelVol, volumesMl: volumes, box, zRangeMm: [zMin, zMax], airwayRemovedMl: (airwayCount * vox) / 1000, midlineXMm: midX, notes,
  };
}
