/**
 * Connected-component labelling on runs: each row's foreground is cut into runs (maximal segments along i),
 * runs are merged with union–find against the overlapping runs of the already-scanned neighbouring rows, and
 * labels are written run by run. Work is O(N) for the scan plus O(runs·α) for the merging, which for
 * anatomical masks is a small fraction of N.
 */
import type { MaskVolume, Volume } from './volume.ts';
import { voxelVolumeMm3, withData } from './volume.ts';
import { assertMask, invalid } from './kernel-options.ts';

export type Connectivity = 6 | 18 | 26;

export interface ComponentsOptions {
  /** 6 (faces), 18 (faces + edges) or 26 (faces + edges + corners). Default 26. */
  connectivity?: Connectivity;
  /** Number labels by decreasing size (label 1 = largest); default: order of first voxel in scan order. */
  sortBySize?: boolean;
}

export interface ComponentsResult {
  /** 0 = background, 1..count = components. */
  labels: Volume<Int32Array>;
  count: number;
  /** Voxel count per label, length count + 1; sizes[0] is 0. */
  sizes: Int32Array;
}

export interface RemoveSmallOptions extends ComponentsOptions {
  /** Remove components with fewer voxels than this. */
  minVoxels?: number;
  /** Remove components with a smaller volume than this (mm³). */
  minVolumeMm3?: number;
}

interface Runs {
  start: Int32Array;
  end: Int32Array;
  /** Offset of the run's row (j·nx + k·nx·ny). */
  rowOffset: Int32Array;
  n: number;
  /** Label of each run, 1..count. */
  label: Int32Array;
  count: number;
  sizes: Int32Array;
}

function grow(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

function labelRuns(mask: MaskVolume, opts: ComponentsOptions): Runs {
  assertMask(mask, 'connectedComponents');
  const connectivity = opts.connectivity ?? 26;
  if (connectivity !== 6 && connectivity !== 18 && connectivity !== 26) throw invalid(`connectivity must be 6, 18 or 26, got ${String(connectivity)}`);
  const [nx, ny, nz] = mask.dims;
  const d = mask.data;
  const nRows = ny * nz;
  const rowFirst = new Int32Array(nRows + 1);
  let start: Int32Array = new Int32Array(1024);
  let end: Int32Array = new Int32Array(1024);
  let n = 0;
  // Scan four voxels at a time where rows are 4-byte aligned: skip all-zero words, and words with no zero byte.
  const words = nx % 4 === 0 && d.byteOffset % 4 === 0 ? new Uint32Array(d.buffer, d.byteOffset, d.length >> 2) : null;
  for (let r = 0; r < nRows; r++) {
    rowFirst[r] = n;
    const o = r * nx;
    let i = 0;
    while (i < nx) {
      if (words) {
        while (i < nx && (i & 3) === 0 && words[(o + i) >> 2] === 0) i += 4;
      }
      while (i < nx && d[o + i] === 0) i++;
      if (i >= nx) break;
      const s = i;
      if (words) {
        while ((i & 3) !== 0 && i < nx && d[o + i] !== 0) i++;
        for (;;) {
          if (i >= nx || (i & 3) !== 0) break;
          const w = words[(o + i) >> 2] as number;
          if (((w - 0x01010101) & ~w & 0x80808080) !== 0) break;
          i += 4;
        }
      }
      while (i < nx && d[o + i] !== 0) i++;
      if (n === start.length) {
        start = grow(start, n + 1);
        end = grow(end, n + 1);
      }
      start[n] = s;
      end[n] = i;
      n++;
    }
  }
  rowFirst[nRows] = n;

  const parent = new Int32Array(n);
  for (let q = 0; q < n; q++) parent[q] = q;
  const find = (x: number): number => {
    let r = x;
    while (parent[r] !== r) r = parent[r] as number;
    while (parent[x] !== r) {
      const next = parent[x] as number;
      parent[x] = r;
      x = next;
    }
    return r;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    // The smaller index becomes the root, so roots are the scan-order-first run of each component.
    if (ra < rb) parent[rb] = ra;
    else if (rb < ra) parent[ra] = rb;
  };
  const faceExt = connectivity === 6 ? 0 : 1;
  const edgeExt = connectivity === 26 ? 1 : 0;
  const mergeRows = (r: number, other: number, ext: number): void => {
    let a = rowFirst[r] as number;
    const aEnd = rowFirst[r + 1] as number;
    let b = rowFirst[other] as number;
    const bEnd = rowFirst[other + 1] as number;
    while (a < aEnd && b < bEnd) {
      const a0 = start[a] as number, a1 = end[a] as number, b0 = start[b] as number, b1 = end[b] as number;
      if (b0 < a1 + ext && a0 < b1 + ext) union(a, b);
      // Advance the run that finishes first; the other may still touch the next one.
      if (a1 < b1) a++;
      else b++;
    }
  };
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const r = j + k * ny;
      if (rowFirst[r] === rowFirst[r + 1]) continue;
      if (j > 0) mergeRows(r, r - 1, faceExt);
      if (k > 0) {
        mergeRows(r, r - ny, faceExt);
        if (connectivity !== 6) {
          if (j > 0) mergeRows(r, r - ny - 1, edgeExt);
          if (j < ny - 1) mergeRows(r, r - ny + 1, edgeExt);
        }
      }
    }
  }

  const label = new Int32Array(n);
  const sizesList: number[] = [0];
  let count = 0;
  for (let q = 0; q < n; q++) {
    const root = find(q);
    let l: number;
    if (root === q) {
      l = ++count;
      sizesList.push(0);
    } else {
      l = label[root] as number;
    }
    label[q] = l;
    sizesList[l] = (sizesList[l] as number) + (end[q] as number) - (start[q] as number);
  }
  let sizes = Int32Array.from(sizesList);
  if (opts.sortBySize && count > 1) {
    const order = Array.from({ length: count }, (_, i) => i + 1).sort((x, y) => (sizes[y] as number) - (sizes[x] as number) || x - y);
    const remap = new Int32Array(count + 1);
    const sorted = new Int32Array(count + 1);
    order.forEach((old, idx) => {
      remap[old] = idx + 1;
      sorted[idx + 1] = sizes[old] as number;
    });
    for (let q = 0; q < n; q++) label[q] = remap[label[q] as number] as number;
    sizes = sorted;
  }
  const rowOffset = new Int32Array(n);
  for (let r = 0; r < nRows; r++) rowOffset.fill(r * nx, rowFirst[r] as number, rowFirst[r + 1] as number);
  return { start, end, rowOffset, n, label, count, sizes };
}

/** Labels the connected components of the non-zero voxels. */
export function connectedComponents(mask: MaskVolume, opts: ComponentsOptions = {}): ComponentsResult {
  const runs = labelRuns(mask, opts);
  const labels = new Int32Array(mask.data.length);
  for (let q = 0; q < runs.n; q++) {
    const o = runs.rowOffset[q] as number;
    labels.fill(runs.label[q] as number, o + (runs.start[q] as number), o + (runs.end[q] as number));
  }
  return { labels: withData(mask, labels), count: runs.count, sizes: runs.sizes };
}

function maskFromRuns(mask: MaskVolume, runs: Runs, keep: (label: number) => boolean): MaskVolume {
  const out = new Uint8Array(mask.data.length);
  for (let q = 0; q < runs.n; q++) {
    if (!keep(runs.label[q] as number)) continue;
    const o = runs.rowOffset[q] as number;
    out.fill(1, o + (runs.start[q] as number), o + (runs.end[q] as number));
  }
  return withData(mask, out);
}

/** The largest component (ties: the first in scan order); an empty mask stays empty. */
export function largestComponent(mask: MaskVolume, opts: Pick<ComponentsOptions, 'connectivity'> = {}): MaskVolume {
  const runs = labelRuns(mask, { ...opts, sortBySize: true });
  return maskFromRuns(mask, runs, (l) => l === 1);
}

/** Removes the components smaller than minVoxels and/or minVolumeMm3. */
export function removeSmallComponents(mask: MaskVolume, opts: RemoveSmallOptions): MaskVolume {
  if (opts.minVoxels === undefined && opts.minVolumeMm3 === undefined) throw invalid('removeSmallComponents needs minVoxels or minVolumeMm3');
  const minVox = Math.max(opts.minVoxels ?? 0, (opts.minVolumeMm3 ?? 0) / voxelVolumeMm3(mask));
  const runs = labelRuns(mask, opts);
  return maskFromRuns(mask, runs, (l) => (runs.sizes[l] as number) >= minVox);
}

/** A mask of the voxels whose label is in `keep` (a list, or a predicate). */
export function selectLabels(labels: Volume<Int32Array>, keep: readonly number[] | ((label: number) => boolean)): MaskVolume {
  if (!(labels.data instanceof Int32Array)) throw invalid('selectLabels: labels must be an Int32Array volume');
  const pred = typeof keep === 'function' ? keep : ((set: Set<number>) => (l: number) => set.has(l))(new Set(keep));
  const out = new Uint8Array(labels.data.length);
  const cache = new Map<number, boolean>();
  for (let v = 0; v < out.length; v++) {
    const l = labels.data[v] as number;
    if (l === 0) continue;
    let k = cache.get(l);
    if (k === undefined) {
      k = pred(l);
      cache.set(l, k);
    }
    if (k) out[v] = 1;
  }
  return withData(labels, out);
}

/**
 * Background components of `mask` (with `connectivity`) that touch no face of the volume, as a mask: the holes.
 * Used by fillHoles.
 */
export function enclosedBackground(mask: MaskVolume, connectivity: Connectivity): MaskVolume {
  assertMask(mask, 'fillHoles');
  const [nx, ny, nz] = mask.dims;
  const inverted = new Uint8Array(mask.data.length);
  for (let v = 0; v < inverted.length; v++) inverted[v] = mask.data[v] === 0 ? 1 : 0;
  const runs = labelRuns(withData(mask, inverted), { connectivity });
  const touches = new Uint8Array(runs.count + 1);
  const plane = nx * ny;
  for (let q = 0; q < runs.n; q++) {
    const o = runs.rowOffset[q] as number;
    const j = (o % plane) / nx;
    const k = Math.floor(o / plane);
    if (runs.start[q] === 0 || runs.end[q] === nx || j === 0 || j === ny - 1 || k === 0 || k === nz - 1) {
      touches[runs.label[q] as number] = 1;
    }
  }
  return maskFromRuns(mask, runs, (l) => touches[l] === 0);
}
