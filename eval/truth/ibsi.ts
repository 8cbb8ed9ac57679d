/**
 * IBSI-1 CT radiomics phantom truth: the GTV mask (NIfTI) → tumour volume, centroid (LPS) and equivalent
 * diameter. Volume = foreground voxel count × voxel volume (no partial-voxel correction: the mask is
 * the truth as drawn). NIfTI RAS → LPS conversion is done by the project's NIfTI reader.
 */
import { join } from 'node:path';
import { readNifti } from '../../src/imaging/nifti.ts';
import type { Vec3, Volume } from '../../src/imaging/index.ts';
import { ijkToLps, voxelVolumeMm3 } from '../../src/imaging/volume.ts';
import { SrError } from '../../src/core/index.ts';
import { equivalentDiameterMm } from '../metrics/stats.ts';

export interface MaskTruth {
  readonly voxels: number;
  readonly volumeMm3: number;
  readonly centerMm: Vec3;
  readonly equivalentDiameterMm: number;
  /** LPS bounding box of the foreground voxel centres. */
  readonly boundsMm: { readonly min: Vec3; readonly max: Vec3 };
}

export function maskTruth(mask: Volume): MaskTruth {
  const [nx, ny, nz] = mask.dims;
  let n = 0;
  const s: Vec3 = [0, 0, 0];
  const min: Vec3 = [Infinity, Infinity, Infinity];
  const max: Vec3 = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (!((mask.data[i + nx * (j + ny * k)] as number) > 0)) continue;
        n++;
        const p = ijkToLps(mask, [i, j, k]);
        for (let a = 0; a < 3; a++) {
          const v = p[a] as number;
          s[a] = (s[a] as number) + v;
          min[a] = Math.min(min[a] as number, v);
          max[a] = Math.max(max[a] as number, v);
        }
      }
    }
  }
  if (n === 0) throw new SrError('TRUTH_INVALID', 'mask has no foreground voxel');
  const volumeMm3 = n * voxelVolumeMm3(mask);
  return { voxels: n, volumeMm3, centerMm: [s[0] / n, s[1] / n, s[2] / n], equivalentDiameterMm: equivalentDiameterMm(volumeMm3), boundsMm: { min, max } };
}

/** The phantom folder layout of theibsi/data_sets: nifti/mask/mask.nii.gz. */
export async function readIbsiCtPhantomTruth(phantomDir: string): Promise<MaskTruth> {
  const img = await readNifti(join(phantomDir, 'nifti', 'mask', 'mask.nii.gz'));
  return maskTruth(img.volume);
}
