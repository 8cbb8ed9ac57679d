/**
 * The working grid: every step runs on one orthogonal grid whose slices are the acquired image planes.
 *
 * A gantry-tilted series arrives sheared (direction column k = stacking vector, not the plane normal; see
 * src/dicom/stack-geometry.ts). Each acquired slice is still a plane with normal n = row × column, so a grid
 * with axes (row, column, n) and slice spacing Δ·(k̂·n) puts every output slice exactly on an acquired one:
 * the resampling only shifts pixels within the plane, it never mixes slices. In-plane the grid is coarsened to
 * ≈ WORK_SPACING_MM (the 512² matrix of a head CT is 0.4–0.5 mm; 0.9 mm keeps bleeds of a few mm and the
 * septum, and cuts the voxel count 4×). Everything measured on this grid maps to LPS through its own geometry.
 */
import type { GridGeometry, Int16Volume, Mat3, Vec3 } from '../../imaging/index.ts';
import { crop, cross, dot, expandBox, ijkToLps, maskBoundingBox, norm, resampleToGrid, threshold } from '../../imaging/index.ts';

export const WORK_SPACING_MM = 0.9;

function column(m: Mat3, c: number): Vec3 {
  return [m[c] as number, m[3 + c] as number, m[6 + c] as number];
}

function unit(v: Vec3): Vec3 {
  const l = norm(v) || 1;
  return [v[0] / l, v[1] / l, v[2] / l];
}

export interface WorkingGrid {
  readonly hu: Int16Volume;
  /** True when the input had to be de-sheared (gantry tilt). */
  readonly desheared: boolean;
}

/** The orthogonal working grid of a (possibly sheared) CT volume. */
export function workingGridGeometry(vol: Pick<Int16Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, spacingMm = WORK_SPACING_MM): GridGeometry & { desheared: boolean } {
  const u = unit(column(vol.direction, 0));
  const c1 = column(vol.direction, 1);
  const vRaw: Vec3 = [c1[0] - dot(c1, u) * u[0], c1[1] - dot(c1, u) * u[1], c1[2] - dot(c1, u) * u[2]];
  const v = unit(vRaw);
  const kdir = unit(column(vol.direction, 2));
  let n = unit(cross(u, v));
  if (dot(n, kdir) < 0) n = [-n[0], -n[1], -n[2]];
  const cosk = Math.abs(dot(n, kdir));
  const desheared = cosk < 0.99999;
  const sIn = Math.max(vol.spacing[0], vol.spacing[1]);
  const s = Math.max(sIn, spacingMm);
  const sk = vol.spacing[2] * cosk;
  // Extent of the input in (u, v, n) relative to its origin.
  let uMin = Infinity, uMax = -Infinity, vMin = Infinity, vMax = -Infinity;
  for (const ci of [0, vol.dims[0] - 1]) {
    for (const cj of [0, vol.dims[1] - 1]) {
      for (const ck of [0, vol.dims[2] - 1]) {
        const p = ijkToLps(vol, [ci, cj, ck]);
        const d: Vec3 = [p[0] - vol.origin[0], p[1] - vol.origin[1], p[2] - vol.origin[2]];
        const a = dot(d, u), b = dot(d, v);
        uMin = Math.min(uMin, a); uMax = Math.max(uMax, a); vMin = Math.min(vMin, b); vMax = Math.max(vMax, b);
      }
    }
  }
  // Coarsening by ≈ 2: starting half an input pixel in puts each output sample between 2 × 2 input pixels, so
  // the bilinear weights average them (a box pre-filter: less noise and aliasing, at no extra pass).
  if (s > 1.5 * sIn) { uMin += 0.5 * vol.spacing[0]; vMin += 0.5 * vol.spacing[1]; }
  const dims: Vec3 = [Math.floor((uMax - uMin) / s + 1e-6) + 1, Math.floor((vMax - vMin) / s + 1e-6) + 1, vol.dims[2]];
  const origin: Vec3 = [
    vol.origin[0] + uMin * u[0] + vMin * v[0],
    vol.origin[1] + uMin * u[1] + vMin * v[1],
    vol.origin[2] + uMin * u[2] + vMin * v[2],
  ];
  return { dims, spacing: [s, s, sk], origin, direction: [u[0], v[0], n[0], u[1], v[1], n[1], u[2], v[2], n[2]], desheared };
}

export function toWorkingGrid(vol: Int16Volume, spacingMm = WORK_SPACING_MM): WorkingGrid {
  const g = workingGridGeometry(vol, spacingMm);
  const { desheared, ...grid } = g;
  const full = resampleToGrid(vol, grid, { interpolation: 'linear', fill: -1024 });
  // Crop to the head (and whatever else is denser than air): everything downstream scales with the voxel count.
  const box = maskBoundingBox(threshold(full, { low: -300 }));
  if (!box) return { hu: full, desheared };
  const hu = crop(full, expandBox(box, [3, 3, 0.01], full), { clamp: true });
  return { hu, desheared };
}
