/**
 * Binary morphology with ellipsoidal structuring elements given in mm, computed exactly through the Euclidean
 * distance transform (so the cost does not grow with the radius), and hole filling.
 *
 * A voxel x is in dilate(M, r) when some voxel of M lies within the ellipsoid of radii r (mm) centred on x:
 * Σ_a ((x_a − y_a)·s_a / r_a)² ≤ 1. Erosion is the dual. Voxels outside the volume count as neither foreground
 * nor background, so erosion does not eat masks that touch the volume's border.
 */
import type { MaskVolume, Vec3 } from './volume.ts';
import { withData } from './volume.ts';
import type { KernelOptions, MmLength } from './kernel-options.ts';
import { assertMask, invalid, toVec3 } from './kernel-options.ts';
import { edtRaw } from './distance.ts';
import { enclosedBackground } from './components.ts';
import type { Connectivity } from './components.ts';

export interface MorphologyOptions extends KernelOptions {
  /** Radius of the sphere in mm, or the ellipsoid's radii along (i, j, k). */
  radiusMm: MmLength;
}

export interface FillHoles2DOptions {
  /** Axis normal to the slices: 2 = axial slices k (default), 1 = planes j, 0 = planes i. */
  axis?: 0 | 1 | 2;
}

// Squared distances are stored in Float32; this keeps voxels lying exactly on the ellipsoid inside it.
const ON_SURFACE = 1 + 1e-5;

function scaledSpacing(mask: MaskVolume, radiusMm: MmLength): Vec3 {
  const r = toVec3(radiusMm, 'radiusMm');
  return [mask.spacing[0] / r[0], mask.spacing[1] / r[1], mask.spacing[2] / r[2]];
}

export function dilate(mask: MaskVolume, opts: MorphologyOptions): MaskVolume {
  assertMask(mask, 'dilate');
  const d2 = edtRaw(mask.data, mask.dims, scaledSpacing(mask, opts.radiusMm), true, false, opts.threads);
  const out = new Uint8Array(d2.length);
  for (let v = 0; v < out.length; v++) out[v] = (d2[v] as number) <= ON_SURFACE ? 1 : 0;
  return withData(mask, out);
}

export function erode(mask: MaskVolume, opts: MorphologyOptions): MaskVolume {
  assertMask(mask, 'erode');
  const d2 = edtRaw(mask.data, mask.dims, scaledSpacing(mask, opts.radiusMm), false, false, opts.threads);
  const out = new Uint8Array(d2.length);
  for (let v = 0; v < out.length; v++) out[v] = mask.data[v] !== 0 && (d2[v] as number) > ON_SURFACE ? 1 : 0;
  return withData(mask, out);
}

/** Erosion then dilation: removes parts thinner than the element. */
export function open(mask: MaskVolume, opts: MorphologyOptions): MaskVolume {
  return dilate(erode(mask, opts), opts);
}

/** Dilation then erosion: closes gaps narrower than the element. */
export function close(mask: MaskVolume, opts: MorphologyOptions): MaskVolume {
  return erode(dilate(mask, opts), opts);
}

/**
 * Fills the background regions that do not reach a face of the volume (3D). `connectivity` is the background's
 * (default 6, the dual of the foreground's 26).
 */
export function fillHoles(mask: MaskVolume, opts: { connectivity?: Connectivity } = {}): MaskVolume {
  const holes = enclosedBackground(mask, opts.connectivity ?? 6);
  const out = new Uint8Array(mask.data.length);
  for (let v = 0; v < out.length; v++) out[v] = mask.data[v] !== 0 || holes.data[v] !== 0 ? 1 : 0;
  return withData(mask, out);
}

/**
 * Fills holes slice by slice (4-connected background not reaching the slice's edge). Lung masks need this: an
 * airway or the hilum connects a hole to the outside in 3D but not within a slice.
 */
export function fillHoles2D(mask: MaskVolume, opts: FillHoles2DOptions = {}): MaskVolume {
  assertMask(mask, 'fillHoles2D');
  const axis = opts.axis ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw invalid(`axis must be 0, 1 or 2, got ${String(axis)}`);
  const [nx, ny, nz] = mask.dims;
  const strides = [1, nx, nx * ny];
  const dims = [nx, ny, nz];
  const [ua, va] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const nu = dims[ua] as number, nv = dims[va] as number, ns = dims[axis] as number;
  const su = strides[ua] as number, sv = strides[va] as number, ss = strides[axis] as number;
  const src = mask.data;
  const out = new Uint8Array(src.length);
  for (let v = 0; v < out.length; v++) out[v] = src[v] !== 0 ? 1 : 0;
  // 0 = unvisited background, 1 = foreground, 2 = background reached from the slice's edge.
  const state = new Uint8Array(nu * nv);
  const stack = new Int32Array(nu * nv);
  for (let s = 0; s < ns; s++) {
    const base = s * ss;
    let top = 0;
    for (let v = 0; v < nv; v++) {
      for (let u = 0; u < nu; u++) {
        const p = u + v * nu;
        const fg = src[base + u * su + v * sv] !== 0;
        state[p] = fg ? 1 : 0;
        if (!fg && (u === 0 || v === 0 || u === nu - 1 || v === nv - 1)) {
          state[p] = 2;
          stack[top++] = p;
        }
      }
    }
    while (top > 0) {
      const p = stack[--top] as number;
      const u = p % nu;
      const v = (p - u) / nu;
      if (u > 0 && state[p - 1] === 0) { state[p - 1] = 2; stack[top++] = p - 1; }
      if (u < nu - 1 && state[p + 1] === 0) { state[p + 1] = 2; stack[top++] = p + 1; }
      if (v > 0 && state[p - nu] === 0) { state[p - nu] = 2; stack[top++] = p - nu; }
      if (v < nv - 1 && state[p + nu] === 0) { state[p + nu] = 2; stack[top++] = p + nu; }
    }
    for (let v = 0; v < nv; v++) {
      for (let u = 0; u < nu; u++) {
        if (state[u + v * nu] === 0) out[base + u * su + v * sv] = 1;
      }
    }
  }
  return withData(mask, out);
}
