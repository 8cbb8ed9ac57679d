/**
 * Shared option types and argument checks of the imaging kernels. Every kernel is a pure function
 * `kernel(volume, options)` that returns new volumes and never mutates its input; lengths are in mm.
 */
import { SrError } from '../core/errors.ts';
import type { Vec3, Volume, VoxelArray } from './volume.ts';

/** Options every kernel accepts. */
export interface KernelOptions {
  /**
   * Threads to use (the calling thread counts as one). Default: `kernelThreads()` (env SR_KERNEL_THREADS,
   * else os.availableParallelism() capped at 8). Volumes below ~2 M voxels always run on the calling thread.
   */
  threads?: number;
}

/** A length per axis (i, j, k) in mm, or one length for all three. */
export type MmLength = number | Vec3;

export function invalid(message: string, details?: Record<string, unknown>): SrError {
  return new SrError('KERNEL_INVALID_ARGUMENT', message, details ? { details } : {});
}

export function toVec3(v: MmLength, name: string, opts: { allowZero?: boolean } = {}): Vec3 {
  const out: Vec3 = typeof v === 'number' ? [v, v, v] : [v[0], v[1], v[2]];
  for (const x of out) {
    if (!Number.isFinite(x) || x < 0 || (x === 0 && !opts.allowZero)) {
      throw invalid(`${name} must be ${opts.allowZero ? 'non-negative' : 'positive'} and finite, got ${String(v)}`);
    }
  }
  return out;
}

export function assertSameDims(a: Pick<Volume, 'dims'>, b: Pick<Volume, 'dims'>, what: string): void {
  if (a.dims[0] !== b.dims[0] || a.dims[1] !== b.dims[1] || a.dims[2] !== b.dims[2]) {
    throw invalid(`${what}: dims ${a.dims.join('×')} ≠ ${b.dims.join('×')}`);
  }
}

export function assertMask(mask: Volume<VoxelArray>, what: string): asserts mask is Volume<Uint8Array> {
  if (!(mask.data instanceof Uint8Array)) throw invalid(`${what}: a mask must be a Uint8Array volume`);
}
