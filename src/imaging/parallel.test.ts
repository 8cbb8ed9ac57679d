import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARALLEL_MIN_VOXELS, kernelPoolSize, kernelThreads, resolveThreads, runChunks, shutdownKernelPool, startKernelPool } from './parallel.ts';
import type { SeparableParams } from './gaussian-core.ts';
import { isSrError } from '../core/errors.ts';

test('thread count: small volumes stay on the calling thread, the option and env are honoured', () => {
  assert.equal(resolveThreads(4, PARALLEL_MIN_VOXELS - 1), 1);
  assert.equal(resolveThreads(3, PARALLEL_MIN_VOXELS), 3);
  assert.throws(() => resolveThreads(1.5, 10), (e) => isSrError(e, 'KERNEL_INVALID_ARGUMENT'));
  const saved = process.env['SR_KERNEL_THREADS'];
  process.env['SR_KERNEL_THREADS'] = '3';
  assert.equal(kernelThreads(), 3);
  process.env['SR_KERNEL_THREADS'] = 'x';
  assert.ok(kernelThreads() >= 1);
  if (saved === undefined) delete process.env['SR_KERNEL_THREADS'];
  else process.env['SR_KERNEL_THREADS'] = saved;
});

test('a failing chunk surfaces as an error, and the pool shuts down', async () => {
  const n = 64 * 64 * 64;
  const params: SeparableParams = {
    src: new Int16Array(new SharedArrayBuffer(n * 2)),
    dst: new Float32Array(new SharedArrayBuffer(n * 4)),
    nx: 64, ny: 64, nz: 64,
    // A non-array weight makes every chunk throw, on whichever thread runs it.
    wx: Float64Array.of(1), wy: Float64Array.of(1), wz: null as unknown as Float64Array,
  };
  assert.throws(() => runChunks('convolveZ', params, 64, 2));
  assert.ok(kernelPoolSize() >= 1);
  // The pool still works afterwards.
  params.wz = Float64Array.of(0.25, 0.5, 0.25);
  params.src.fill(4);
  runChunks('convolveZ', params, 64, 2);
  assert.ok(params.dst.every((x) => x === 4));
  await shutdownKernelPool();
  assert.equal(kernelPoolSize(), 0);
  assert.equal(startKernelPool(2), 1);
  await shutdownKernelPool();
});
