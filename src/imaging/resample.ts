/** Resampling onto a new spacing or onto any other grid (trilinear or nearest neighbour). */
import type { Float32Volume, Mat3, Vec3, Volume, VoxelArray } from './volume.ts';
import { createVolume, invert3, voxelCount, withData } from './volume.ts';
import type { KernelOptions, MmLength } from './kernel-options.ts';
import { invalid, toVec3 } from './kernel-options.ts';
import { allocLike, shareArray } from './arrays.ts';
import { resolveThreads, runChunks } from './parallel.ts';
import type { ResampleParams } from './resample-core.ts';

export type Interpolation = 'linear' | 'nearest';

/** The geometry of a voxel grid (a Volume without its voxels). */
export interface GridGeometry {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

export interface ResampleToGridOptions extends KernelOptions {
  /** Default 'linear'. Use 'nearest' for masks and label volumes. */
  interpolation?: Interpolation;
  /** Value of output voxels more than half a voxel outside the input grid (default 0; −1024 suits CT). */
  fill?: number;
}

export interface ResampleOptions extends ResampleToGridOptions {
  /** New voxel spacing in mm. */
  spacing: MmLength;
}

const INTEGER_ARRAYS = [Int16Array, Uint16Array, Uint8Array, Int32Array, Uint32Array];

/**
 * Resamples `vol` onto `grid`: each output voxel centre is mapped to patient LPS and back into the input's index
 * space. Works for any two direction matrices. The result has the input's array type (integers are rounded).
 */
export function resampleToGrid<T extends VoxelArray>(vol: Volume<T>, grid: GridGeometry, opts: ResampleToGridOptions = {}): Volume<T> {
  if (grid.dims.some((d) => !Number.isInteger(d) || d <= 0) || grid.spacing.some((x) => !(x > 0) || !Number.isFinite(x))) {
    throw invalid(`invalid target grid ${grid.dims.join('×')} @ ${grid.spacing.join(',')} mm`);
  }
  // in_ijk = S_in⁻¹ D_in⁻¹ (D_out S_out ijk + o_out − o_in)
  const dinv = invert3(vol.direction);
  const a = new Float64Array(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      let s = 0;
      for (let q = 0; q < 3; q++) s += (dinv[r * 3 + q] as number) * (grid.direction[q * 3 + c] as number);
      a[r * 3 + c] = (s * (grid.spacing[c] as number)) / (vol.spacing[r] as number);
    }
  }
  const m = new Float64Array(12);
  for (let r = 0; r < 3; r++) {
    let t = 0;
    for (let q = 0; q < 3; q++) t += (dinv[r * 3 + q] as number) * ((grid.origin[q] as number) - (vol.origin[q] as number));
    m[r * 4] = a[r * 3] as number;
    m[r * 4 + 1] = a[r * 3 + 1] as number;
    m[r * 4 + 2] = a[r * 3 + 2] as number;
    m[r * 4 + 3] = t / (vol.spacing[r] as number);
  }
  const interpolation = opts.interpolation ?? 'linear';
  if (interpolation !== 'linear' && interpolation !== 'nearest') throw invalid(`unknown interpolation ${String(interpolation)}`);
  // The work is one interpolation per OUTPUT voxel: a small grid taken from a large scan stays on this thread
  // (threading it would first copy the whole scan into shared memory, which cost analyses seconds).
  const threads = resolveThreads(opts.threads, voxelCount(grid.dims));
  const shared = threads > 1;
  const p: ResampleParams = {
    src: shared ? shareArray(vol.data) : vol.data,
    dst: allocLike(vol.data, voxelCount(grid.dims), shared),
    inDims: [...vol.dims],
    outDims: [...grid.dims],
    m,
    linear: interpolation === 'linear',
    round: INTEGER_ARRAYS.some((c) => vol.data instanceof c),
    fill: opts.fill ?? 0,
  };
  runChunks('resample', p, grid.dims[2], threads);
  return createVolume(p.dst as T, grid);
}

/**
 * Resamples to a new spacing over the same field of view: origin and direction are kept and each axis gets
 * round(n·s/s′) voxels (at least 1).
 */
export function resample<T extends VoxelArray>(vol: Volume<T>, opts: ResampleOptions): Volume<T> {
  const spacing = toVec3(opts.spacing, 'spacing');
  const dims = [0, 1, 2].map((a) => Math.max(1, Math.round(((vol.dims[a] as number) * (vol.spacing[a] as number)) / (spacing[a] as number)))) as Vec3;
  return resampleToGrid(vol, { dims, spacing, origin: vol.origin, direction: vol.direction }, opts);
}

/** A Float32 copy of any volume, same geometry. */
export function toFloat32(vol: Volume): Float32Volume {
  return withData(vol, Float32Array.from(vol.data as ArrayLike<number>));
}

/**
 * Trilinear value of `vol` at a continuous voxel position (i, j, k): `fill` beyond the outermost voxel centres
 * (half a voxel of tolerance, as resampleToGrid), the border voxel's value within that half voxel. For sampling a
 * few hundred points (profiles, shells around a point); use resampleToGrid for whole grids.
 */
export function sampleLinear(vol: Pick<Volume, 'dims' | 'data'>, i: number, j: number, k: number, fill = 0): number {
  const [nx, ny, nz] = vol.dims;
  if (!(i > -0.5 && j > -0.5 && k > -0.5 && i < nx - 0.5 && j < ny - 0.5 && k < nz - 0.5)) return fill;
  const x = Math.min(nx - 1, Math.max(0, i)), y = Math.min(ny - 1, Math.max(0, j)), z = Math.min(nz - 1, Math.max(0, k));
  const i0 = Math.min(nx - 2, Math.floor(x)), j0 = Math.min(ny - 2, Math.floor(y)), k0 = Math.min(nz - 2, Math.floor(z));
  // One-voxel axes: the only plane.
  const fx = nx > 1 ? x - i0 : 0, fy = ny > 1 ? y - j0 : 0, fz = nz > 1 ? z - k0 : 0;
  const dx = nx > 1 ? 1 : 0, dy = ny > 1 ? nx : 0, dz = nz > 1 ? nx * ny : 0;
  const d = vol.data, a = Math.max(0, i0) + Math.max(0, j0) * nx + Math.max(0, k0) * nx * ny;
  const c00 = (d[a] as number) + fx * ((d[a + dx] as number) - (d[a] as number));
  const c10 = (d[a + dy] as number) + fx * ((d[a + dy + dx] as number) - (d[a + dy] as number));
  const c01 = (d[a + dz] as number) + fx * ((d[a + dz + dx] as number) - (d[a + dz] as number));
  const c11 = (d[a + dz + dy] as number) + fx * ((d[a + dz + dy + dx] as number) - (d[a + dz + dy] as number));
  const c0 = c00 + fy * (c10 - c00), c1 = c01 + fy * (c11 - c01);
  return c0 + fz * (c1 - c0);
}
