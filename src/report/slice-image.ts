/**
 * Renders one axial slice (k) of a Volume with a CT window, optionally with a label overlay in colour, to
 * RGB pixels: the picture a radiologist would rather see than a table.
 */
import type { MaskVolume, Volume } from '../imaging/volume.ts';
import { encodePng } from './png.ts';

export interface SliceImageOptions {
  readonly k: number;
  /** CT window: centre and width in the volume's units (HU). */
  readonly window: { readonly center: number; readonly width: number };
  readonly overlay?: MaskVolume;
  /** Overlay opacity 0..1. */
  readonly alpha?: number;
}

const PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [255, 60, 60], [60, 200, 255], [255, 210, 40], [120, 255, 120], [230, 100, 255], [255, 140, 0],
];

export function renderSliceRgb(vol: Volume, options: SliceImageOptions): { rgb: Uint8Array; width: number; height: number } {
  const [nx, ny, nz] = vol.dims;
  const k = Math.max(0, Math.min(nz - 1, Math.round(options.k)));
  const lo = options.window.center - options.window.width / 2;
  const scale = 255 / options.window.width;
  const alpha = options.alpha ?? 0.45;
  const rgb = new Uint8Array(nx * ny * 3);
  const base = k * nx * ny;
  for (let p = 0; p < nx * ny; p++) {
    const g = Math.max(0, Math.min(255, ((vol.data[base + p] ?? 0) - lo) * scale));
    let r = g;
    let gg = g;
    let b = g;
    const label = options.overlay ? (options.overlay.data[base + p] ?? 0) : 0;
    if (label > 0) {
      const c = PALETTE[(label - 1) % PALETTE.length] ?? [255, 0, 0];
      r = g * (1 - alpha) + c[0] * alpha;
      gg = g * (1 - alpha) + c[1] * alpha;
      b = g * (1 - alpha) + c[2] * alpha;
    }
    rgb[p * 3] = r;
    rgb[p * 3 + 1] = gg;
    rgb[p * 3 + 2] = b;
  }
  return { rgb, width: nx, height: ny };
}

export function renderSlicePng(vol: Volume, options: SliceImageOptions): Buffer {
  const { rgb, width, height } = renderSliceRgb(vol, options);
  return encodePng(rgb, width, height, 3);
}

/** Outline colours of the key images (report crop and DICOM key image): the finding's label, other labels. */
const OUTLINE_FOCUS = [255, 230, 0] as const;
const OUTLINE_OTHER = [0, 200, 255] as const;

export interface OutlinedSliceOptions {
  readonly volume: Volume;
  readonly mask: MaskVolume;
  /** Slice index along k (rounded and clamped to the volume). */
  readonly k: number;
  /** CT window: centre and width in the volume's units (HU). */
  readonly window: { readonly center: number; readonly width: number };
  /** Label outlined in yellow; every other label on the slice is outlined in cyan. */
  readonly focusLabel: number | undefined;
  /**
   * Canvas → voxel mapping: canvas pixel (x, y) of the region shows voxel (left + toVoxel(x), top + toVoxel(y))
   * of slice k; voxels outside the slice are black and unlabelled. `toVoxel` must return integers, also for
   * offsets up to `thickness` outside the region (the outline test looks that far). It is a function, not a
   * factor, so that each caller keeps its own exact arithmetic (x / zoom and x · (side / size) differ in the
   * last bit for some x).
   */
  readonly left: number;
  readonly top: number;
  readonly toVoxel: (canvasOffset: number) => number;
  /** Outline thickness in canvas pixels: a labelled pixel with another label within ±thickness is outline. */
  readonly thickness: number;
}

/**
 * Draws slice k windowed to grey, with label outlines (not fills: the anatomy under them stays visible), into the
 * region (x, y, columns × rows) of an RGB canvas `width` pixels wide. Shared by the report's finding crop
 * (key-image-crop.ts) and the DICOM key image (src/outputs/key-image.ts).
 */
export function drawOutlinedSlice(
  canvas: { readonly rgb: Uint8Array; readonly width: number },
  region: { readonly x: number; readonly y: number; readonly columns: number; readonly rows: number },
  o: OutlinedSliceOptions,
): void {
  const [nx, ny, nz] = o.volume.dims;
  const k = Math.max(0, Math.min(nz - 1, Math.round(o.k)));
  const base = k * nx * ny;
  const lo = o.window.center - o.window.width / 2;
  const gain = 255 / Math.max(1e-6, o.window.width);
  const t = o.thickness;
  // Voxel column / row of every canvas offset from -t to columns + t - 1 (rows alike), computed once.
  const table = (origin: number, n: number): Int32Array => {
    const out = new Int32Array(n + 2 * t);
    for (let d = -t; d < n + t; d++) out[d + t] = origin + o.toVoxel(d);
    return out;
  };
  const col = table(o.left, region.columns);
  const row = table(o.top, region.rows);
  const labelAt = (i: number, j: number): number => (i < 0 || j < 0 || i >= nx || j >= ny ? 0 : (o.mask.data[base + j * nx + i] ?? 0));
  for (let y = 0; y < region.rows; y++) {
    const j = row[y + t] ?? -1;
    for (let x = 0; x < region.columns; x++) {
      const i = col[x + t] ?? -1;
      const inside = i >= 0 && j >= 0 && i < nx && j < ny;
      const g = inside ? Math.max(0, Math.min(255, Math.round(((o.volume.data[base + j * nx + i] ?? 0) - lo) * gain))) : 0;
      let c: readonly [number, number, number] = [g, g, g];
      const lab = labelAt(i, j);
      if (lab > 0) {
        let edge = false;
        for (let dy = -t; dy <= t && !edge; dy++) {
          for (let dx = -t; dx <= t; dx++) {
            if (labelAt(col[x + dx + t] ?? -1, row[y + dy + t] ?? -1) !== lab) {
              edge = true;
              break;
            }
          }
        }
        if (edge) c = lab === o.focusLabel ? OUTLINE_FOCUS : OUTLINE_OTHER;
      }
      const p = ((region.y + y) * canvas.width + region.x + x) * 3;
      canvas.rgb[p] = c[0];
      canvas.rgb[p + 1] = c[1];
      canvas.rgb[p + 2] = c[2];
    }
  }
}
