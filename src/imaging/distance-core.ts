/**
 * Exact Euclidean distance transform passes (Felzenszwalb & Huttenlocher, "Distance transforms of sampled
 * functions", 2012): a 1D two-scan along i, then the lower envelope of parabolas along j and along k, each in mm
 * with that axis's spacing. Lines along j and k are gathered into a transposed scratch so the envelope runs
 * on contiguous memory while the volume is only read and written row by row.
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

let f = new Float64Array(0);
let d = new Float64Array(0);
let z = new Float64Array(0);
let v = new Int32Array(0);
let h = new Float64Array(0);
let transposed = new Float32Array(0);

function ensure(n: number, scratch: number): void {
  if (f.length < n) {
    f = new Float64Array(n);
    d = new Float64Array(n);
    z = new Float64Array(n + 1);
    v = new Int32Array(n);
    h = new Float64Array(n);
  }
  if (transposed.length < scratch) transposed = new Float32Array(scratch);
}

/** Lower envelope of parabolas: d[p] = min_q (s·(p − q))² + f[q] over the first n entries of f. */
function envelope(n: number, s: number): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
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
    for (let p = 0; p < n; p++) d[p] = Infinity;
    return;
  }
  let j = 0;
  for (let p = 0; p < n; p++) {
    const x = p * s;
    while ((z[j + 1] as number) < x) j++;
    const q = v[j] as number;
    const dx = x - q * s;
    d[p] = dx * dx + (f[q] as number);
  }
}

/** Pass along i for slice k: squared distance to the nearest seed in the same row. */
export function edtAlongIChunk(p: EdtParams, k: number): void {
  const { mask, dist, nx, ny, spacing, seedIsForeground } = p;
  const s = spacing[0];
  const base = k * nx * ny;
  for (let j = 0; j < ny; j++) {
    const o = base + j * nx;
    let last = -1;
    for (let i = 0; i < nx; i++) {
      if (((mask[o + i] as number) !== 0) === seedIsForeground) last = i;
      dist[o + i] = last < 0 ? Infinity : (i - last) * s * ((i - last) * s);
    }
    last = -1;
    for (let i = nx - 1; i >= 0; i--) {
      if (((mask[o + i] as number) !== 0) === seedIsForeground) last = i;
      if (last >= 0) {
        const dd = (last - i) * s * ((last - i) * s);
        if (dd < (dist[o + i] as number)) dist[o + i] = dd;
      }
    }
  }
}

/** Pass along j for slice k. */
export function edtAlongJChunk(p: EdtParams, k: number): void {
  const { dist, nx, ny, spacing } = p;
  if (ny === 1) return;
  ensure(ny, nx * ny);
  const base = k * nx * ny;
  const t = transposed;
  for (let j = 0; j < ny; j++) {
    const o = base + j * nx;
    for (let i = 0; i < nx; i++) t[i * ny + j] = dist[o + i] as number;
  }
  for (let i = 0; i < nx; i++) {
    const o = i * ny;
    let any = false;
    for (let j = 0; j < ny; j++) {
      const x = t[o + j] as number;
      f[j] = x;
      if (x !== 0) any = true;
    }
    // A line of seeds only (e.g. background far from the mask) is already final.
    if (!any) continue;
    envelope(ny, spacing[1]);
    for (let j = 0; j < ny; j++) t[o + j] = d[j] as number;
  }
  for (let j = 0; j < ny; j++) {
    const o = base + j * nx;
    for (let i = 0; i < nx; i++) dist[o + i] = t[i * ny + j] as number;
  }
}

/** Pass along k for row j (all slices), taking square roots when asked. */
export function edtAlongKChunk(p: EdtParams, j: number): void {
  const { dist, nx, ny, nz, spacing, sqrt } = p;
  const plane = nx * ny;
  ensure(nz, nx * nz);
  const t = transposed;
  for (let k = 0; k < nz; k++) {
    const o = k * plane + j * nx;
    for (let i = 0; i < nx; i++) t[i * nz + k] = dist[o + i] as number;
  }
  if (nz > 1) {
    for (let i = 0; i < nx; i++) {
      const o = i * nz;
      let any = false;
      for (let k = 0; k < nz; k++) {
        const x = t[o + k] as number;
        f[k] = x;
        if (x !== 0) any = true;
      }
      if (!any) continue;
      envelope(nz, spacing[2]);
      for (let k = 0; k < nz; k++) t[o + k] = d[k] as number;
    }
  }
  for (let k = 0; k < nz; k++) {
    const o = k * plane + j * nx;
    if (sqrt) for (let i = 0; i < nx; i++) dist[o + i] = Math.sqrt(t[i * nz + k] as number);
    else for (let i = 0; i < nx; i++) dist[o + i] = t[i * nz + k] as number;
  }
}
