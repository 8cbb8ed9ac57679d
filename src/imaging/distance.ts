/** Exact Euclidean distance transform in mm for anisotropic grids. O(N), three separable passes. */
import type { Float32Volume, MaskVolume, Vec3 } from './volume.ts';
import { voxelCount, withData } from './volume.ts';
import type { KernelOptions } from './kernel-options.ts';
import { assertMask } from './kernel-options.ts';
import { allocFloat32, shareArray } from './arrays.ts';
import { resolveThreads, runChunks } from './parallel.ts';
import type { EdtParams } from './distance-core.ts';

export interface DistanceOptions extends KernelOptions {
  /**
   * true (default, as scipy's distance_transform_edt): each foreground voxel gets the distance to the nearest
   * background voxel centre, background voxels 0. false: each background voxel gets the distance to the nearest
   * foreground voxel, foreground voxels 0. With no seed at all every non-seed voxel is Infinity.
   * Voxels outside the volume are neither foreground nor background.
   */
  inside?: boolean;
  /** Return squared distances (mm²), skipping the square roots. */
  squared?: boolean;
}

/** The transform on raw arrays with an explicit spacing (morphology passes a scaled spacing for ellipsoids). */
export function edtRaw(mask: Uint8Array, dims: Vec3, spacing: Vec3, seedIsForeground: boolean, sqrt: boolean, threadsOpt?: number): Float32Array {
  const [nx, ny, nz] = dims;
  const threads = resolveThreads(threadsOpt, voxelCount(dims));
  const shared = threads > 1;
  const p: EdtParams = {
    mask: shared ? shareArray(mask) : mask,
    dist: allocFloat32(voxelCount(dims), shared),
    nx, ny, nz,
    spacing: [spacing[0], spacing[1], spacing[2]],
    seedIsForeground,
    sqrt,
  };
  runChunks('edtIJ', p, nz, threads);
  runChunks('edtK', p, ny, threads);
  return p.dist;
}

export function distanceTransform(mask: MaskVolume, opts: DistanceOptions = {}): Float32Volume {
  assertMask(mask, 'distanceTransform');
  const inside = opts.inside ?? true;
  return withData(mask, edtRaw(mask.data, mask.dims, mask.spacing, !inside, !opts.squared, opts.threads));
}
