/** Per-slice body of resample()/resampleToGrid(): output voxel → input continuous index by one affine map. */
import type { VoxelArray } from './volume.ts';

export interface ResampleParams {
  src: VoxelArray;
  dst: VoxelArray;
  inDims: [number, number, number];
  outDims: [number, number, number];
  /** 3×4 row-major affine: input continuous ijk = M · [i j k 1] of the output voxel. */
  m: Float64Array;
  linear: boolean;
  /** Round to nearest (integer output arrays); typed-array stores would otherwise truncate. */
  round: boolean;
  fill: number;
}

/**
 * Output slice k. A point within half a voxel outside the input grid takes the edge value (so a grid that
 * covers the same field of view keeps its border voxels); farther out it takes `fill`.
 */
export function resampleChunk(p: ResampleParams, k: number): void {
  const { src, dst, inDims, outDims, m, linear, round, fill } = p;
  const [nx, ny, nz] = inDims;
  const [ox, oy] = outDims;
  const plane = nx * ny;
  const m0 = m[0] as number, m1 = m[1] as number, m2 = m[2] as number, m3 = m[3] as number;
  const m4 = m[4] as number, m5 = m[5] as number, m6 = m[6] as number, m7 = m[7] as number;
  const m8 = m[8] as number, m9 = m[9] as number, m10 = m[10] as number, m11 = m[11] as number;
  const xmax = nx - 1, ymax = ny - 1, zmax = nz - 1;
  let out = k * ox * oy;
  for (let j = 0; j < oy; j++) {
    const bx = m1 * j + m2 * k + m3;
    const by = m5 * j + m6 * k + m7;
    const bz = m9 * j + m10 * k + m11;
    for (let i = 0; i < ox; i++, out++) {
      let x = bx + m0 * i;
      let y = by + m4 * i;
      let z = bz + m8 * i;
      if (x < -0.5 || y < -0.5 || z < -0.5 || x > xmax + 0.5 || y > ymax + 0.5 || z > zmax + 0.5) {
        dst[out] = fill;
        continue;
      }
      x = x < 0 ? 0 : x > xmax ? xmax : x;
      y = y < 0 ? 0 : y > ymax ? ymax : y;
      z = z < 0 ? 0 : z > zmax ? zmax : z;
      if (!linear) {
        dst[out] = src[Math.round(x) + Math.round(y) * nx + Math.round(z) * plane] as number;
        continue;
      }
      const x0 = Math.floor(x), y0 = Math.floor(y), z0 = Math.floor(z);
      const fx = x - x0, fy = y - y0, fz = z - z0;
      const dx = x0 < xmax ? 1 : 0;
      const dy = y0 < ymax ? nx : 0;
      const dz = z0 < zmax ? plane : 0;
      const a = x0 + y0 * nx + z0 * plane;
      const c00 = (src[a] as number) + fx * ((src[a + dx] as number) - (src[a] as number));
      const c10 = (src[a + dy] as number) + fx * ((src[a + dy + dx] as number) - (src[a + dy] as number));
      const c01 = (src[a + dz] as number) + fx * ((src[a + dz + dx] as number) - (src[a + dz] as number));
      const c11 = (src[a + dz + dy] as number) + fx * ((src[a + dz + dy + dx] as number) - (src[a + dz + dy] as number));
      const c0 = c00 + fy * (c10 - c00);
      const c1 = c01 + fy * (c11 - c01);
      const val = c0 + fz * (c1 - c0);
      dst[out] = round ? Math.round(val) : val;
    }
  }
}
