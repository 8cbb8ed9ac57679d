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
