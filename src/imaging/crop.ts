/** Sub-volumes with their geometry: crop, paste back, and the bounding box of a mask. */
import type { MaskVolume, Vec3, Volume, VoxelArray } from './volume.ts';
import { createVolume, ijkToLps, voxelCount } from './volume.ts';
import type { MmLength } from './kernel-options.ts';
import { assertMask, invalid, toVec3 } from './kernel-options.ts';
import { allocLike } from './arrays.ts';

/** A box of voxel indices: start inclusive, end exclusive, per axis (i, j, k). */
export interface Box {
  start: Vec3;
  end: Vec3;
}

function checkBox(box: Box, dims: Vec3, clampToVolume: boolean): Box {
  const start = [0, 1, 2].map((a) => (clampToVolume ? Math.max(0, box.start[a] as number) : (box.start[a] as number))) as Vec3;
  const end = [0, 1, 2].map((a) => (clampToVolume ? Math.min(dims[a] as number, box.end[a] as number) : (box.end[a] as number))) as Vec3;
  for (let a = 0; a < 3; a++) {
    const s = start[a] as number;
    const e = end[a] as number;
    if (!Number.isInteger(s) || !Number.isInteger(e) || s < 0 || e > (dims[a] as number) || e <= s) {
      throw invalid(`box ${box.start.join(',')}..${box.end.join(',')} is empty or outside ${dims.join('×')}`);
    }
  }
  return { start, end };
}

/**
 * The sub-volume `box` (end exclusive). Its origin is the LPS position of voxel `start`; spacing and direction
 * are kept, so every voxel keeps its patient position. `clamp` trims a box reaching outside the volume.
 */
export function crop<T extends VoxelArray>(vol: Volume<T>, box: Box, opts: { clamp?: boolean } = {}): Volume<T> {
  const { start, end } = checkBox(box, vol.dims, opts.clamp ?? false);
  const dims: Vec3 = [end[0] - start[0], end[1] - start[1], end[2] - start[2]];
  const [nx, ny] = vol.dims;
  const out = allocLike(vol.data, voxelCount(dims), false);
  let o = 0;
  for (let k = start[2]; k < end[2]; k++) {
    for (let j = start[1]; j < end[1]; j++) {
      const s = start[0] + j * nx + k * nx * ny;
      (out as VoxelArray).set((vol.data as VoxelArray).subarray(s, s + dims[0]) as ArrayLike<number>, o);
      o += dims[0];
    }
  }
  return createVolume(out, { dims, spacing: vol.spacing, origin: ijkToLps(vol, start), direction: vol.direction });
}

/**
 * The inverse of crop: a volume with `like`'s grid, `fill` everywhere except `sub` pasted at voxel `start`
 * (as returned in the Box given to crop). `sub` must fit inside.
 */
export function embed<T extends VoxelArray>(sub: Volume<T>, like: Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, start: Vec3, fill = 0): Volume<T> {
  const box = checkBox({ start, end: [start[0] + sub.dims[0], start[1] + sub.dims[1], start[2] + sub.dims[2]] }, like.dims, false);
  const [nx, ny] = like.dims;
  const out = allocLike(sub.data, voxelCount(like.dims), false);
  if (fill !== 0) out.fill(fill);
  let o = 0;
  for (let k = box.start[2]; k < box.end[2]; k++) {
    for (let j = box.start[1]; j < box.end[1]; j++) {
      (out as VoxelArray).set((sub.data as VoxelArray).subarray(o, o + sub.dims[0]) as ArrayLike<number>, box.start[0] + j * nx + k * nx * ny);
      o += sub.dims[0];
    }
  }
  return createVolume(out, like);
}

/** Smallest box holding every non-zero voxel of the mask, or null for an empty mask. */
export function maskBoundingBox(mask: MaskVolume): Box | null {
  assertMask(mask, 'maskBoundingBox');
  const [nx, ny, nz] = mask.dims;
  const d = mask.data;
  let i0 = nx, j0 = ny, k0 = nz, i1 = -1, j1 = -1, k1 = -1;
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, v++) {
        if (d[v] === 0) continue;
        if (i < i0) i0 = i;
        if (i > i1) i1 = i;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (k < k0) k0 = k;
        k1 = k;
      }
    }
  }
  return i1 < 0 ? null : { start: [i0, j0, k0], end: [i1 + 1, j1 + 1, k1 + 1] };
}

/** `box` grown by `marginMm` on every side (rounded up to whole voxels) and clamped to the volume. */
export function expandBox(box: Box, marginMm: MmLength, vol: Pick<Volume, 'dims' | 'spacing'>): Box {
  const m = toVec3(marginMm, 'marginMm', { allowZero: true });
  const grow = [0, 1, 2].map((a) => Math.ceil((m[a] as number) / (vol.spacing[a] as number) - 1e-9));
  return {
    start: [0, 1, 2].map((a) => Math.max(0, (box.start[a] as number) - (grow[a] as number))) as Vec3,
    end: [0, 1, 2].map((a) => Math.min(vol.dims[a] as number, (box.end[a] as number) + (grow[a] as number))) as Vec3,
  };
}
