/**
 * Exact Euclidean distance transform passes (Felzenszwalb & Huttenlocher, "Distance transforms of sampled
 * functions", 2012): a 1D two-scan along i, then the lower envelope of parabolas along j and along k, each in mm
 * with that axis's spacing.
 *
 * Cache behaviour decides the speed here. Lines along j (stride nx) and k (stride nx·ny) are gathered BLOCK
 * columns at a time into a small contiguous block (each strided read brings in BLOCK neighbouring voxels, one
 * cache line, instead of one voxel per line), the envelope runs on one contiguous Float64 line, and the block is
 * scattered back the same way. The i and j passes of a slice run in the same chunk, while the slice is in cache.
 * All scratch is per thread and reused: no allocation per line.
 */

export interface EdtParams {
  mask: Uint8Array;
  /** Squared distances in mm² (Infinity where no seed is reachable yet); after the last pass, see `sqrt`. */
  dist: Float32Array;
  nx: number;
  ny: number;
  nz: number;
  spacing: [number, number, number];
  /** Seeds (distance 0) are the voxels where (mask ≠ 0) === seedIsForeground. */
  seedIsForeground: boolean;
  /** Take the square root in the last pass (along k). */
  sqrt: boolean;
}

/** Columns gathered per block: 64 Float32 = 4 cache lines per strided read; a block of lines (≤ 128 KiB) stays in L2. */
const BLOCK = 64;

let f = new Float64Array(0);
let d = new Float64Array(0);
let z = new Float64Array(0);
let v = new Int32Array(0);
let h = new Float64Array(0);
let block = new Float32Array(0);

function ensure(n: number): void {
  if (f.length < n) {
    f = new Float64Array(n);
    d = new Float64Array(n);
    z = new Float64Array(n + 1);
    v = new Int32Array(n);
    h = new Float64Array(n);
  }
  if (block.length < BLOCK * n) block = new Float32Array(BLOCK * n);
}

/**
 * Lower envelope of parabolas on the sub-line lo ≤ q < hi: d[p] = min_q (s·(p − q))² + f[q]. Positions stay
 * absolute (p·s, not (p − lo)·s), so a sub-line computes what the whole line would for its points.
 */
function envelope(lo: number, hi: number, s: number): void {
  let k = -1;
  for (let q = lo; q < hi; q++) {
    const fq = f[q] as number;
    if (fq === Infinity) continue;
    const hq = fq + (q * s) * (q * s);
    h[q] = hq;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
      continue;
    }
    let x = 0;
    for (;;) {
      const p = v[k] as number;
      x = (hq - (h[p] as number)) / (2 * s * (q - p));
      if (x <= (z[k] as number)) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = x;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    for (let p = lo; p < hi; p++) d[p] = Infinity;
    return;
  }
  let j = 0;
  for (let p = lo; p < hi; p++) {
    const x = p * s;
    while ((z[j + 1] as number) < x) j++;
    const q = v[j] as number;
    const dx = x - q * s;
    d[p] = dx * dx + (f[q] as number);
  }
}

/**
 * Runs the envelope on the `width` lines of length n held in `block` (line c at c·n) in place.
 * Zeros are seeds: they stay 0, and every parabola beyond the nearest seed on either side of a point lies above
 * that seed's, so each run of non-zero values only needs the envelope of itself and its two bounding seeds.
 * Background far from the mask (all seeds) then costs one scan, and a body's interior ignores the air around it.
 */
function envelopeBlock(width: number, n: number, s: number): void {
  const b = block;
  for (let c = 0; c < width; c++) {
    const o = c * n;
    let q = 0;
    while (q < n) {
      while (q < n && (b[o + q] as number) === 0) q++;
      if (q === n) break;
      const a = q;
      while (q < n && (b[o + q] as number) !== 0) q++;
      const lo = a > 0 ? a - 1 : 0;
      const hi = q < n ? q + 1 : n;
      for (let t = lo; t < hi; t++) f[t] = b[o + t] as number;
      envelope(lo, hi, s);
      for (let t = a; t < q; t++) b[o + t] = d[t] as number;
    }
  }
}

/**
 * Pass along i for slice k: squared distance to the nearest seed in the same row. One write per voxel: each gap
 * between two seeds is filled once from both ends (the nearer seed's distance, computed as the two-scan would).
 */
function alongI(p: EdtParams, k: number): void {
  const { mask, dist, nx, ny, spacing, seedIsForeground } = p;
  const s = spacing[0];
  const base = k * nx * ny;
  for (let j = 0; j < ny; j++) {
    const o = base + j * nx;
    let last = -1; // previous seed in this row, -1 before the first
    for (let i = 0; i <= nx; i++) {
      if (i < nx && ((mask[o + i] as number) !== 0) !== seedIsForeground) continue;
      // i is a seed (or the row's end, nx): fill last+1 .. i−1.
      if (last < 0) {
        if (i === nx) {
          for (let t = 0; t < nx; t++) dist[o + t] = Infinity;
        } else {
          for (let t = 0; t < i; t++) dist[o + t] = (i - t) * s * ((i - t) * s);
        }
      } else if (i === nx) {
        for (let t = last + 1; t < nx; t++) dist[o + t] = (t - last) * s * ((t - last) * s);
      } else {
        const mid = (last + i) >> 1; // t ≤ mid is at least as near to last as to i
        for (let t = last + 1; t <= mid; t++) dist[o + t] = (t - last) * s * ((t - last) * s);
        for (let t = mid + 1; t < i; t++) dist[o + t] = (i - t) * s * ((i - t) * s);
      }
      if (i < nx) dist[o + i] = 0;
      last = i;
    }
  }
}

/** Pass along j for slice k (the i pass must be done for that slice). */
function alongJ(p: EdtParams, k: number): void {
  const { dist, nx, ny, spacing } = p;
  if (ny === 1) return;
  ensure(ny);
  const b = block;
  const base = k * nx * ny;
  for (let i0 = 0; i0 < nx; i0 += BLOCK) {
    const w = Math.min(BLOCK, nx - i0);
    for (let j = 0; j < ny; j++) {
      const o = base + j * nx + i0;
      for (let c = 0; c < w; c++) b[c * ny + j] = dist[o + c] as number;
    }
    envelopeBlock(w, ny, spacing[1]);
    for (let j = 0; j < ny; j++) {
      const o = base + j * nx + i0;
      for (let c = 0; c < w; c++) dist[o + c] = b[c * ny + j] as number;
    }
  }
}

/** Passes along i then j for slice k. */
export function edtAlongIJChunk(p: EdtParams, k: number): void {
  alongI(p, k);
  alongJ(p, k);
}

/** Pass along k for row j (all slices), taking square roots when asked. */
export function edtAlongKChunk(p: EdtParams, j: number): void {
  const { dist, nx, ny, nz, spacing, sqrt } = p;
  const plane = nx * ny;
  ensure(nz);
  const b = block;
  for (let i0 = 0; i0 < nx; i0 += BLOCK) {
    const w = Math.min(BLOCK, nx - i0);
    const row = j * nx + i0;
    if (nz > 1) {
      for (let k = 0; k < nz; k++) {
        const o = k * plane + row;
        for (let c = 0; c < w; c++) b[c * nz + k] = dist[o + c] as number;
      }
      envelopeBlock(w, nz, spacing[2]);
      for (let k = 0; k < nz; k++) {
        const o = k * plane + row;
        if (sqrt) for (let c = 0; c < w; c++) dist[o + c] = Math.sqrt(b[c * nz + k] as number);
        else for (let c = 0; c < w; c++) dist[o + c] = b[c * nz + k] as number;
      }
    } else if (sqrt) {
      for (let c = 0; c < w; c++) dist[row + c] = Math.sqrt(dist[row + c] as number);
    }
  }
}
