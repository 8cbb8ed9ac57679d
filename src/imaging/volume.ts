/**
 * Volume: voxels + geometry in DICOM patient coordinates (LPS, millimetres).
 *
 * Layout: voxel (i, j, k) is at index i + j*nx + k*nx*ny. i runs along a row (DICOM column index,
 * direction = first ImageOrientationPatient vector), j down the columns (second IOP vector), k across
 * slices (the stacking direction, normally row × column).
 *
 * Geometry: LPS = origin + direction · diag(spacing) · [i j k]ᵀ, where `direction` is a 3×3 matrix stored
 * row-major whose COLUMNS are the unit vectors of the i, j and k axes in LPS.
 */
import { SrError } from '../core/errors.ts';

export type Vec3 = [number, number, number];
/** Row-major 3×3 matrix. Columns are the LPS unit vectors of the i, j, k axes. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

export type VoxelArray = Int16Array | Uint16Array | Uint8Array | Int32Array | Uint32Array | Float32Array | Float64Array;

export interface Volume<T extends VoxelArray = VoxelArray> {
  readonly data: T;
  readonly dims: Vec3;
  readonly spacing: Vec3;
  readonly origin: Vec3;
  readonly direction: Mat3;
}

export type Int16Volume = Volume<Int16Array>;
export type Float32Volume = Volume<Float32Array>;
export type MaskVolume = Volume<Uint8Array>;

export const IDENTITY: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(dims: Vec3): number {
  return dims[0] * dims[1] * dims[2];
}

export function createVolume<T extends VoxelArray>(
  data: T,
  geometry: { dims: Vec3; spacing?: Vec3; origin?: Vec3; direction?: Mat3 },
): Volume<T> {
  const { dims } = geometry;
  const spacing = geometry.spacing ?? [1, 1, 1];
  if (dims.some((d) => !Number.isInteger(d) || d <= 0)) {
    throw new SrError('VOLUME_INVALID', `dims must be positive integers, got ${dims.join('×')}`);
  }
  if (data.length !== voxelCount(dims)) {
    throw new SrError('VOLUME_INVALID', `data length ${data.length} ≠ ${dims.join('×')}`);
  }
  if (spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new SrError('VOLUME_INVALID', `spacing must be positive, got ${spacing.join(',')}`);
  }
  return { data, dims: [...dims], spacing: [...spacing], origin: geometry.origin ?? [0, 0, 0], direction: geometry.direction ?? IDENTITY };
}

/** A new volume with the same geometry and different voxels (e.g. a mask or a filtered copy). */
export function withData<T extends VoxelArray>(like: Volume, data: T): Volume<T> {
  return createVolume(data, like);
}

export function ijkToLps(vol: Pick<Volume, 'spacing' | 'origin' | 'direction'>, ijk: readonly number[]): Vec3 {
  const d = vol.direction;
  const a = (ijk[0] ?? 0) * vol.spacing[0];
  const b = (ijk[1] ?? 0) * vol.spacing[1];
  const c = (ijk[2] ?? 0) * vol.spacing[2];
  return [
    vol.origin[0] + d[0] * a + d[1] * b + d[2] * c,
    vol.origin[1] + d[3] * a + d[4] * b + d[5] * c,
    vol.origin[2] + d[6] * a + d[7] * b + d[8] * c,
  ];
}

/** Continuous (fractional) voxel coordinates of an LPS point. Works for any non-singular direction. */
export function lpsToIjk(vol: Pick<Volume, 'spacing' | 'origin' | 'direction'>, lps: readonly number[]): Vec3 {
  const inv = invert3(vol.direction);
  const x = (lps[0] ?? 0) - vol.origin[0];
  const y = (lps[1] ?? 0) - vol.origin[1];
  const z = (lps[2] ?? 0) - vol.origin[2];
  return [
    (inv[0] * x + inv[1] * y + inv[2] * z) / vol.spacing[0],
    (inv[3] * x + inv[4] * y + inv[5] * z) / vol.spacing[1],
    (inv[6] * x + inv[7] * y + inv[8] * z) / vol.spacing[2],
  ];
}

/** 4×4 row-major affine IJK → LPS. */
export function affineIjkToLps(vol: Pick<Volume, 'spacing' | 'origin' | 'direction'>): number[] {
  const d = vol.direction;
  const s = vol.spacing;
  return [
    d[0] * s[0], d[1] * s[1], d[2] * s[2], vol.origin[0],
    d[3] * s[0], d[4] * s[1], d[5] * s[2], vol.origin[1],
    d[6] * s[0], d[7] * s[1], d[8] * s[2], vol.origin[2],
    0, 0, 0, 1,
  ];
}

export function det3(m: Mat3): number {
  return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

export function invert3(m: Mat3): Mat3 {
  const det = det3(m);
  if (Math.abs(det) < 1e-12) throw new SrError('VOLUME_INVALID', 'direction matrix is singular');
  const r = 1 / det;
  return [
    (m[4] * m[8] - m[5] * m[7]) * r, (m[2] * m[7] - m[1] * m[8]) * r, (m[1] * m[5] - m[2] * m[4]) * r,
    (m[5] * m[6] - m[3] * m[8]) * r, (m[0] * m[8] - m[2] * m[6]) * r, (m[2] * m[3] - m[0] * m[5]) * r,
    (m[3] * m[7] - m[4] * m[6]) * r, (m[1] * m[6] - m[0] * m[7]) * r, (m[0] * m[4] - m[1] * m[3]) * r,
  ];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return (a[0] ?? 0) * (b[0] ?? 0) + (a[1] ?? 0) * (b[1] ?? 0) + (a[2] ?? 0) * (b[2] ?? 0);
}

export function norm(a: readonly number[]): number {
  return Math.hypot(a[0] ?? 0, a[1] ?? 0, a[2] ?? 0);
}

/** Direction matrix from DICOM ImageOrientationPatient (row cosines, column cosines) and a slice axis. */
export function directionFromOrientation(iop: readonly number[], sliceAxis?: Vec3): Mat3 {
  const r: Vec3 = [iop[0] ?? 1, iop[1] ?? 0, iop[2] ?? 0];
  const c: Vec3 = [iop[3] ?? 0, iop[4] ?? 1, iop[5] ?? 0];
  const n = sliceAxis ?? cross(r, c);
  return [r[0], c[0], n[0], r[1], c[1], n[1], r[2], c[2], n[2]];
}

/** Volume in millilitres and in mm³ of one voxel. */
export function voxelVolumeMm3(vol: Pick<Volume, 'spacing' | 'direction'>): number {
  // For a sheared (tilted) grid the voxel is a parallelepiped: |det(direction)| scales the box volume.
  return vol.spacing[0] * vol.spacing[1] * vol.spacing[2] * Math.abs(det3(vol.direction));
}
