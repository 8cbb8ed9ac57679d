/**
 * Per-slice geometry of a DICOM folder (SOPInstanceUID → ImagePositionPatient, ImageOrientationPatient,
 * PixelSpacing), read header-only through the project's DICOM reader. Used to place reader marks given in
 * pixel coordinates into patient LPS millimetres.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SrError } from '../../src/core/index.ts';
import { getNumbers, getString, readDicomHeader } from '../../src/dicom/index.ts';
import type { Vec3 } from '../../src/imaging/index.ts';

export interface SliceGeometry {
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string | undefined;
  readonly imagePositionPatient: Vec3;
  /** Row cosines then column cosines. */
  readonly imageOrientationPatient: readonly [number, number, number, number, number, number];
  /** [between rows (mm), between columns (mm)], as DICOM orders PixelSpacing. */
  readonly pixelSpacing: readonly [number, number];
}

export function pixelToLps(g: SliceGeometry, column: number, row: number): Vec3 {
  const [rx, ry, rz, cx, cy, cz] = g.imageOrientationPatient;
  const [dr, dc] = g.pixelSpacing;
  const p = g.imagePositionPatient;
  return [p[0] + column * dc * rx + row * dr * cx, p[1] + column * dc * ry + row * dr * cy, p[2] + column * dc * rz + row * dr * cz];
}

export function sliceNormal(g: SliceGeometry): Vec3 {
  const o = g.imageOrientationPatient;
  return [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]];
}

/** Median distance between neighbouring slice positions along the normal; undefined with < 2 slices. */
export function sliceSpacingMm(slices: readonly SliceGeometry[]): number | undefined {
  const first = slices[0];
  if (!first || slices.length < 2) return undefined;
  const n = sliceNormal(first);
  const d = slices.map((s) => s.imagePositionPatient[0] * n[0] + s.imagePositionPatient[1] * n[1] + s.imagePositionPatient[2] * n[2]).sort((a, b) => a - b);
  const gaps: number[] = [];
  for (let i = 1; i < d.length; i++) {
    const g = (d[i] as number) - (d[i - 1] as number);
    if (g > 1e-3) gaps.push(g);
  }
  gaps.sort((a, b) => a - b);
  return gaps.length === 0 ? undefined : gaps[gaps.length >> 1];
}

/** Geometry of every image file in `dir` (not recursive); files that are not images are skipped. */
export async function readSliceGeometries(dir: string): Promise<SliceGeometry[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (e) {
    throw new SrError('NOT_FOUND', `cannot list ${dir}`, { cause: e, details: { dir } });
  }
  const out: SliceGeometry[] = [];
  for (const name of names) {
    if (name.endsWith('.xml') || name.endsWith('.md') || name.endsWith('.json')) continue;
    let header;
    try {
      header = await readDicomHeader(join(dir, name));
    } catch (e) {
      if (e instanceof SrError && (e.code === 'DICOM_NOT_DICOM' || e.code === 'IO_ERROR')) continue;
      throw e;
    }
    const ds = header.dataset;
    const sop = getString(ds, 'SOPInstanceUID');
    const ipp = getNumbers(ds, 'ImagePositionPatient');
    const iop = getNumbers(ds, 'ImageOrientationPatient');
    const ps = getNumbers(ds, 'PixelSpacing');
    if (!sop || !ipp || ipp.length < 3 || !iop || iop.length < 6 || !ps || ps.length < 2) continue;
    out.push({
      sopInstanceUid: sop,
      seriesInstanceUid: getString(ds, 'SeriesInstanceUID'),
      imagePositionPatient: [ipp[0] as number, ipp[1] as number, ipp[2] as number],
      imageOrientationPatient: [iop[0] as number, iop[1] as number, iop[2] as number, iop[3] as number, iop[4] as number, iop[5] as number],
      pixelSpacing: [ps[0] as number, ps[1] as number],
    });
  }
  return out;
}
