/**
 * The table of chunk functions that can run on kernel workers. Each takes (params, chunkIndex) and writes a
 * disjoint part of its output, so chunks can run in any order on any thread.
 */
import { convolveSliceChunk, convolveZChunk } from './gaussian-core.ts';
import { edtAlongIJChunk, edtAlongKChunk } from './distance-core.ts';
import { resampleChunk } from './resample-core.ts';
import { hessianChunk } from './hessian-core.ts';

const TASKS = {
  convolveZ: convolveZChunk,
  convolve: convolveSliceChunk,
  edtIJ: edtAlongIJChunk,
  edtK: edtAlongKChunk,
  resample: resampleChunk,
  hessian: hessianChunk,
} as const;

export type TaskName = keyof typeof TASKS;
export type TaskParams<N extends TaskName> = Parameters<(typeof TASKS)[N]>[0];

export function runTaskChunk<N extends TaskName>(name: N, params: TaskParams<N>, chunk: number): void {
  const fn = TASKS[name] as (p: TaskParams<N>, c: number) => void;
  fn(params, chunk);
}
