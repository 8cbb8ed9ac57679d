/** Typed-array allocation helpers: plain buffers for single-threaded runs, shared ones when workers take part. */
import type { VoxelArray } from './volume.ts';

type ArrayCtor<T> = new (buffer: ArrayBuffer | SharedArrayBuffer, byteOffset: number, length: number) => T;

/** A zeroed array of the same element type as `like`, `length` long, shared when `shared`. */
export function allocLike<T extends VoxelArray>(like: T, length: number, shared: boolean): T {
  const ctor = like.constructor as unknown as ArrayCtor<T> & { BYTES_PER_ELEMENT: number };
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  return new ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes), 0, length);
}

export function allocFloat32(length: number, shared: boolean): Float32Array {
  return shared ? new Float32Array(new SharedArrayBuffer(length * 4)) : new Float32Array(length);
}

export function allocUint8(length: number, shared: boolean): Uint8Array {
  return shared ? new Uint8Array(new SharedArrayBuffer(length)) : new Uint8Array(length);
}

export function isShared(a: VoxelArray): boolean {
  return a.buffer instanceof SharedArrayBuffer;
}

/** `a` itself when it already lives in a SharedArrayBuffer, else a shared copy (workers can only see shared memory). */
export function shareArray<T extends VoxelArray>(a: T): T {
  if (isShared(a)) return a;
  const copy = allocLike(a, a.length, true);
  (copy as VoxelArray).set(a as ArrayLike<number>);
  return copy;
}
