/** Local maxima (26-neighbourhood) with optional non-maximum suppression by distance in mm. */
import type { MaskVolume, Vec3, Volume } from './volume.ts';
import { ijkToLps } from './volume.ts';
import { assertMask, assertSameDims } from './kernel-options.ts';

export interface LocalMaximaOptions {
  /** Only voxels with value ≥ minValue (default −Infinity). */
  minValue?: number;
  /** Only voxels inside this mask. */
  mask?: MaskVolume;
  /** Keep a maximum only if no stronger kept maximum lies within this distance (mm). Default 0 (keep all). */
  minDistanceMm?: number;
  /** Keep at most this many (the strongest). */
  maxCount?: number;
}

export interface LocalMaximum {
  ijk: Vec3;
  lps: Vec3;
  value: number;
}

/**
 * Voxels not lower than any of their 26 neighbours, strongest first. On a plateau, a voxel must be strictly
 * higher than its neighbours earlier in scan order, so a flat peak is reported once rather than at every voxel
 * (a plateau of unusual shape may still report more than one).
 */
export function localMaxima(vol: Volume, opts: LocalMaximaOptions = {}): LocalMaximum[] {
  const [nx, ny, nz] = vol.dims;
  const plane = nx * ny;
  const d = vol.data;
  const minValue = opts.minValue ?? -Infinity;
  const mask = opts.mask;
  if (mask) {
    assertMask(mask, 'localMaxima');
    assertSameDims(vol, mask, 'localMaxima');
  }
  const found: { v: number; value: number }[] = [];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = i + j * nx + k * plane;
        const x = d[v] as number;
        if (!(x >= minValue) || (mask && mask.data[v] === 0)) continue;
        let isMax = true;
        for (let dk = -1; dk <= 1 && isMax; dk++) {
          const kk = k + dk;
          if (kk < 0 || kk >= nz) continue;
          for (let dj = -1; dj <= 1 && isMax; dj++) {
            const jj = j + dj;
            if (jj < 0 || jj >= ny) continue;
            for (let di = -1; di <= 1; di++) {
              const ii = i + di;
              if (ii < 0 || ii >= nx || (di === 0 && dj === 0 && dk === 0)) continue;
              const w = ii + jj * nx + kk * plane;
              const y = d[w] as number;
              if (y > x || (y === x && w < v)) {
                isMax = false;
                break;
              }
            }
          }
        }
        if (isMax) found.push({ v, value: x });
      }
    }
  }
  found.sort((a, b) => b.value - a.value || a.v - b.v);
  const minD2 = (opts.minDistanceMm ?? 0) ** 2;
  const maxCount = opts.maxCount ?? Infinity;
  const kept: LocalMaximum[] = [];
  for (const f of found) {
    if (kept.length >= maxCount) break;
    const i = f.v % nx;
    const j = Math.floor(f.v / nx) % ny;
    const k = Math.floor(f.v / plane);
    if (minD2 > 0) {
      const near = kept.some((m) => {
        const a = (m.ijk[0] - i) * vol.spacing[0];
        const b = (m.ijk[1] - j) * vol.spacing[1];
        const c = (m.ijk[2] - k) * vol.spacing[2];
        return a * a + b * b + c * c < minD2;
      });
      if (near) continue;
    }
    kept.push({ ijk: [i, j, k], lps: ijkToLps(vol, [i, j, k]), value: f.value });
  }
  return kept;
}
