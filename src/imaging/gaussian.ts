/** Gaussian smoothing and Gaussian derivatives with anisotropic voxel spacing (σ in mm). */
import type { Float32Volume, Vec3, Volume } from './volume.ts';
import { voxelCount, withData } from './volume.ts';
import type { KernelOptions, MmLength } from './kernel-options.ts';
import { invalid, toVec3 } from './kernel-options.ts';
import { allocFloat32, shareArray } from './arrays.ts';
import { resolveThreads, runChunks } from './parallel.ts';
import type { SeparableParams } from './gaussian-core.ts';

export interface GaussianOptions extends KernelOptions {
  /** Standard deviation in mm, one for all axes or one per axis (i, j, k); 0 leaves an axis unsmoothed. */
  sigmaMm: MmLength;
  /** Kernel half-width in standard deviations (default 3). */
  truncate?: number;
}

export interface GaussianDerivativeOptions extends GaussianOptions {
  /** Derivative order per axis (i, j, k), each 0, 1 or 2. The result is in units of intensity per mm^order. */
  order: Vec3;
}

/**
 * Correlation weights (length 2r+1, index t ↔ offset t − r) of a sampled Gaussian of σ = `sigmaVox` voxels, or
 * of its first/second derivative, normalised in voxel units so that the filter is exact on polynomials of that
 * order: Σw = 1 (order 0); Σ t·w = 1 (order 1); Σw = 0 and Σ t²·w = 2 (order 2). Divide by spacing^order for mm.
 */
export function gaussianKernel1D(sigmaVox: number, order: 0 | 1 | 2 = 0, truncate = 3): Float64Array {
  if (!(sigmaVox >= 0) || !Number.isFinite(sigmaVox)) throw invalid(`sigma must be ≥ 0, got ${sigmaVox}`);
  if (!(truncate > 0)) throw invalid(`truncate must be > 0, got ${truncate}`);
  if (sigmaVox === 0) {
    if (order !== 0) throw invalid('a derivative needs sigma > 0');
    return Float64Array.of(1);
  }
  const r = Math.max(order === 0 ? 0 : order, Math.ceil(truncate * sigmaVox));
  const w = new Float64Array(2 * r + 1);
  const s2 = sigmaVox * sigmaVox;
  for (let t = -r; t <= r; t++) {
    const g = Math.exp((-t * t) / (2 * s2));
    w[t + r] = order === 0 ? g : order === 1 ? t * g : (t * t / s2 - 1) * g;
  }
  if (order === 0) {
    const sum = w.reduce((a, b) => a + b, 0);
    for (let t = 0; t < w.length; t++) w[t] = (w[t] as number) / sum;
  } else if (order === 1) {
    let m = 0;
    for (let t = -r; t <= r; t++) m += t * (w[t + r] as number);
    for (let t = 0; t < w.length; t++) w[t] = (w[t] as number) / m;
  } else {
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    let m = 0;
    for (let t = -r; t <= r; t++) {
      w[t + r] = (w[t + r] as number) - mean;
      m += t * t * (w[t + r] as number);
    }
    for (let t = 0; t < w.length; t++) w[t] = (2 * (w[t] as number)) / m;
  }
  return w;
}

function checkOrder(o: number): 0 | 1 | 2 {
  if (o !== 0 && o !== 1 && o !== 2) throw invalid(`derivative order must be 0, 1 or 2, got ${o}`);
  return o;
}

/** Runs the separable correlation with per-axis weights; returns a Float32 volume on the input's grid. */
export function separableFilter(vol: Volume, weights: [Float64Array, Float64Array, Float64Array], opts: KernelOptions = {}): Float32Volume {
  const [nx, ny, nz] = vol.dims;
  const threads = resolveThreads(opts.threads, voxelCount(vol.dims));
  const shared = threads > 1;
  const params: SeparableParams = {
    src: shared ? shareArray(vol.data) : vol.data,
    dst: allocFloat32(voxelCount(vol.dims), shared),
    nx, ny, nz,
    wx: weights[0], wy: weights[1], wz: weights[2],
  };
  runChunks('convolve', params, nz, threads);
  return withData(vol, params.dst);
}

/** Gaussian smoothing, σ in mm (anisotropic spacing handled), edge voxels replicated. O(N·Σ taps). */
export function gaussian(vol: Volume, opts: GaussianOptions): Float32Volume {
  return gaussianDerivative(vol, { ...opts, order: [0, 0, 0] });
}

/** ∂^(a+b+c) (G_σ * f) / ∂i^a ∂j^b ∂k^c with each axis in mm (i.e. along the direction cosines of that axis). */
export function gaussianDerivative(vol: Volume, opts: GaussianDerivativeOptions): Float32Volume {
  const sigma = toVec3(opts.sigmaMm, 'sigmaMm', { allowZero: true });
  const truncate = opts.truncate ?? 3;
  const weights = [0, 1, 2].map((a) => {
    const order = checkOrder(opts.order[a] ?? 0);
    const s = vol.spacing[a] as number;
    const w = gaussianKernel1D((sigma[a] as number) / s, order, truncate);
    if (order > 0) {
      const scale = 1 / s ** order;
      for (let t = 0; t < w.length; t++) w[t] = (w[t] as number) * scale;
    }
    return w;
  }) as [Float64Array, Float64Array, Float64Array];
  return separableFilter(vol, weights, opts);
}

/** |∇(G_σ * f)| in intensity per mm. */
export function gradientMagnitude(vol: Volume, opts: GaussianOptions): Float32Volume {
  const acc = gaussianDerivative(vol, { ...opts, order: [1, 0, 0] }).data;
  for (let v = 0; v < acc.length; v++) acc[v] = (acc[v] as number) * (acc[v] as number);
  for (const order of [[0, 1, 0], [0, 0, 1]] as Vec3[]) {
    const d = gaussianDerivative(vol, { ...opts, order }).data;
    for (let v = 0; v < acc.length; v++) acc[v] = (acc[v] as number) + (d[v] as number) * (d[v] as number);
  }
  for (let v = 0; v < acc.length; v++) acc[v] = Math.sqrt(acc[v] as number);
  return withData(vol, acc);
}
