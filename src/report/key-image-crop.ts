/**
 * The report's key image: the axial slice through a finding, cropped around it and enlarged, the finding's label
 * outlined (yellow) and other labels on the slice outlined in cyan, as in the DICOM key images of src/outputs, so
 * the anatomy under the outline stays visible. No burned-in text: the report prints the text beside the picture.
 */
import type { MaskVolume, Volume } from '../imaging/volume.ts';
import { encodePng } from './png.ts';
import { drawOutlinedSlice } from './slice-image.ts';

export interface FindingCropOptions {
  readonly volume: Volume;
  readonly mask: MaskVolume;
  /** Label of the finding in `mask`. */
  readonly label: number;
  /** Slice index along k through the finding's centre. */
  readonly k: number;
  readonly window: { readonly center: number; readonly width: number };
  /** Side of the output picture in pixels (square). Default 256. */
  readonly size?: number;
  /** Crop side at least this many voxels (so a 3 mm nodule keeps context). Default 48. */
  readonly minCropVoxels?: number;
}

/** RGB crop; the crop is square, centred on the label's bounding box on slice k (whole slice if it is absent). */
export function renderFindingCropRgb(o: FindingCropOptions): { rgb: Uint8Array; width: number; height: number } {
  const [nx, ny, nz] = o.volume.dims;
  const k = Math.max(0, Math.min(nz - 1, Math.round(o.k)));
  const base = k * nx * ny;
  let i0 = nx, i1 = -1, j0 = ny, j1 = -1;
  for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if (o.mask.data[base + j * nx + i] === o.label) {
      if (i < i0) i0 = i;
      if (i > i1) i1 = i;
      if (j < j0) j0 = j;
      if (j > j1) j1 = j;
    }
  }
  const found = i1 >= 0;
  const side = found ? Math.min(Math.max(nx, ny), Math.max(o.minCropVoxels ?? 48, 3 * Math.max(i1 - i0 + 1, j1 - j0 + 1))) : Math.max(nx, ny);
  const ci = found ? (i0 + i1) / 2 : (nx - 1) / 2;
  const cj = found ? (j0 + j1) / 2 : (ny - 1) / 2;
  const left = Math.round(ci - side / 2);
  const top = Math.round(cj - side / 2);
  const size = o.size ?? 256;
  const scale = side / size;
  const rgb = new Uint8Array(size * size * 3);
  // Outline: an output pixel inside a label whose neighbour output pixel (±t) maps to another label.
  const t = Math.max(1, Math.round(size / 200));
  drawOutlinedSlice({ rgb, width: size }, { x: 0, y: 0, columns: size, rows: size }, {
    volume: o.volume, mask: o.mask, k, window: o.window, focusLabel: o.label, left, top, toVoxel: (x) => Math.floor(x * scale), thickness: t,
  });
  return { rgb, width: size, height: size };
}

export function renderFindingCropPng(o: FindingCropOptions): Buffer {
  const { rgb, width, height } = renderFindingCropRgb(o);
  return encodePng(rgb, width, height, 3);
}

/** PNG bytes → data: URI (the report is one self-contained file). */
export function pngDataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png.buffer, png.byteOffset, png.byteLength).toString('base64')}`;
}
