/**
 * Overlap metrics for binary masks (any voxel > 0 is foreground). Both masks must share a voxel grid;
 * comparing masks on different grids silently is how overlap numbers go wrong, so that is an error.
 */
import { SrError } from '../../src/core/index.ts';
import type { Volume, VoxelArray } from '../../src/imaging/index.ts';

export interface Overlap {
  readonly dice: number;
  readonly jaccard: number;
  readonly intersection: number;
  readonly truthVoxels: number;
  readonly predictedVoxels: number;
}

export function overlapOfArrays(truth: ArrayLike<number>, predicted: ArrayLike<number>): Overlap {
  if (truth.length !== predicted.length) {
    throw new SrError('KERNEL_INVALID_ARGUMENT', `mask sizes differ: ${truth.length} vs ${predicted.length}`);
  }
  let a = 0;
  let b = 0;
  let both = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = (truth[i] as number) > 0;
    const p = (predicted[i] as number) > 0;
    if (t) a++;
    if (p) b++;
    if (t && p) both++;
  }
  // Two empty masks agree perfectly; report 1 rather than 0/0.
  const dice = a + b === 0 ? 1 : (2 * both) / (a + b);
  const union = a + b - both;
  const jaccard = union === 0 ? 1 : both / union;
  return { dice, jaccard, intersection: both, truthVoxels: a, predictedVoxels: b };
}

function sameGrid(a: Volume, b: Volume): boolean {
  const close = (x: readonly number[], y: readonly number[]) => x.every((v, i) => Math.abs(v - (y[i] ?? NaN)) < 1e-4);
  return close(a.dims, b.dims) && close(a.spacing, b.spacing) && close(a.origin, b.origin) && close(a.direction, b.direction);
}

export function maskOverlap(truth: Volume<VoxelArray>, predicted: Volume<VoxelArray>): Overlap {
  if (!sameGrid(truth, predicted)) throw new SrError('KERNEL_INVALID_ARGUMENT', 'masks are not on the same voxel grid');
  return overlapOfArrays(truth.data, predicted.data);
}

export function dice(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  return overlapOfArrays(truth, predicted).dice;
}

export function jaccard(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  return overlapOfArrays(truth, predicted).jaccard;
}
