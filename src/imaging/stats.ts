/** Intensity and shape statistics of a masked region or of every label of a label volume. */
import type { MaskVolume, Vec3, Volume } from './volume.ts';
import { ijkToLps, voxelVolumeMm3 } from './volume.ts';
import { assertMask, assertSameDims, invalid } from './kernel-options.ts';
import type { Box } from './crop.ts';

export interface RegionStats {
  /** The label (1 for regionStats). */
  label: number;
  count: number;
  volumeMm3: number;
  /** Intensity statistics of `vol` inside the region; NaN when count is 0. `sd` is the population SD. */
  mean: number;
  sd: number;
  min: number;
  max: number;
  sum: number;
  /** Mean voxel index (unweighted) and its LPS position; NaN when count is 0. */
  centroidIjk: Vec3;
  centroidLps: Vec3;
  /** Bounding box, end exclusive; null when count is 0. */
  bbox: Box | null;
}

class Acc {
  count = 0; sum = 0; sum2 = 0; min = Infinity; max = -Infinity;
  si = 0; sj = 0; sk = 0;
  i0 = Infinity; j0 = Infinity; k0 = Infinity; i1 = -1; j1 = -1; k1 = -1;
  add(x: number, i: number, j: number, k: number): void {
    this.count++;
    this.sum += x;
    this.sum2 += x * x;
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
    this.si += i; this.sj += j; this.sk += k;
    if (i < this.i0) this.i0 = i;
    if (i > this.i1) this.i1 = i;
    if (j < this.j0) this.j0 = j;
    if (j > this.j1) this.j1 = j;
    if (k < this.k0) this.k0 = k;
    if (k > this.k1) this.k1 = k;
  }
  result(label: number, vol: Volume): RegionStats {
    const n = this.count;
    const mean = n > 0 ? this.sum / n : NaN;
    const c: Vec3 = n > 0 ? [this.si / n, this.sj / n, this.sk / n] : [NaN, NaN, NaN];
    return {
      label,
      count: n,
      volumeMm3: n * voxelVolumeMm3(vol),
      mean,
      sd: n > 0 ? Math.sqrt(Math.max(0, this.sum2 / n - mean * mean)) : NaN,
      min: n > 0 ? this.min : NaN,
      max: n > 0 ? this.max : NaN,
      sum: this.sum,
      centroidIjk: c,
      centroidLps: n > 0 ? ijkToLps(vol, c) : [NaN, NaN, NaN],
      bbox: n > 0 ? { start: [this.i0, this.j0, this.k0], end: [this.i1 + 1, this.j1 + 1, this.k1 + 1] } : null,
    };
  }
}

/** Statistics of `vol` over the non-zero voxels of `mask` (pass the mask itself as `vol` for shape only). */
export function regionStats(vol: Volume, mask: MaskVolume): RegionStats {
  assertMask(mask, 'regionStats');
  assertSameDims(vol, mask, 'regionStats');
  const [nx, ny, nz] = vol.dims;
  const acc = new Acc();
  const m = mask.data;
  const d = vol.data;
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, v++) if (m[v] !== 0) acc.add(d[v] as number, i, j, k);
    }
  }
  return acc.result(1, vol);
}

/**
 * Statistics of `vol` for labels 1..count of `labels` (count defaults to the largest label); entry l−1 is
 * label l. Labels ≤ 0 are background.
 */
export function labelStats(vol: Volume, labels: Volume<Int32Array>, opts: { count?: number } = {}): RegionStats[] {
  if (!(labels.data instanceof Int32Array)) throw invalid('labelStats: labels must be an Int32Array volume');
  assertSameDims(vol, labels, 'labelStats');
  const l = labels.data;
  let count = opts.count ?? 0;
  if (opts.count === undefined) for (let v = 0; v < l.length; v++) if ((l[v] as number) > count) count = l[v] as number;
  const accs = Array.from({ length: count }, () => new Acc());
  const [nx, ny, nz] = vol.dims;
  const d = vol.data;
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, v++) {
        const lab = l[v] as number;
        if (lab > 0 && lab <= count) (accs[lab - 1] as Acc).add(d[v] as number, i, j, k);
      }
    }
  }
  return accs.map((a, idx) => a.result(idx + 1, vol));
}
