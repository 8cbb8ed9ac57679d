/**
 * A key image as a person reads it on a PACS: the axial slice through a finding's centre in the analysis's CT
 * window, the finding's label outlined (not filled: the anatomy under it stays visible), and black banners above
 * and below the pixels with the burned-in text. Small matrices are enlarged (nearest neighbour, whole factors) so
 * the text stays legible; the enlargement factor is returned so the DICOM object can say so.
 */
import type { Int16Volume, MaskVolume } from '../imaging/index.ts';
import { drawOutlinedSlice } from '../report/slice-image.ts';
import { CHAR_ADVANCE, drawText, LINE_ADVANCE, wrapText } from './font.ts';
import type { RgbCanvas } from './font.ts';

export interface KeyImageOptions {
  readonly volume: Int16Volume;
  readonly mask: MaskVolume;
  /** Slice index along k. */
  readonly k: number;
  readonly window: { readonly center: number; readonly width: number };
  /** Label of the finding this image is about: outlined in yellow; other labels on the slice in cyan. */
  readonly label: number | undefined;
  /** Lines above the image (the disclaimer goes first). */
  readonly header: readonly string[];
  /** Lines below the image (provenance). */
  readonly footer: readonly string[];
}

export interface KeyImage extends RgbCanvas {
  /** Enlargement of the source pixels (nearest neighbour), 1 = none. */
  readonly zoom: number;
  /** First canvas row of the image pixels (below the header banner). */
  readonly imageTop: number;
  readonly imageRows: number;
  readonly imageColumns: number;
}

/** Narrow matrices are enlarged to at least this width so 2× text of the disclaimer fits on one line or two. */
const MIN_WIDTH = 512;
const MARGIN = 8;
const WHITE = [255, 255, 255] as const;
const AMBER = [255, 200, 0] as const;

export function renderKeyImage(o: KeyImageOptions): KeyImage {
  const [nx, ny, nz] = o.volume.dims;
  const k = Math.max(0, Math.min(nz - 1, Math.round(o.k)));
  const zoom = Math.max(1, Math.ceil(MIN_WIDTH / nx));
  const imageColumns = nx * zoom;
  const imageRows = ny * zoom;
  // Even width: RGB with an odd row count × odd width would need a pad byte some readers mishandle.
  const width = imageColumns + (imageColumns % 2);
  const fontScale = width >= 900 ? 3 : 2;
  const maxChars = Math.max(8, Math.floor((width - 2 * MARGIN) / (CHAR_ADVANCE * fontScale)));
  const headerLines = o.header.flatMap((l, n) => wrapText(l, maxChars).map((text) => ({ text, color: n === 0 ? AMBER : WHITE })));
  const footerLines = o.footer.flatMap((l) => wrapText(l, maxChars).map((text) => ({ text, color: WHITE })));
  const bannerHeight = (lines: number) => (lines === 0 ? 0 : lines * LINE_ADVANCE * fontScale + MARGIN);
  const imageTop = bannerHeight(headerLines.length);
  const height = imageTop + imageRows + bannerHeight(footerLines.length);
  const canvas: KeyImage = { rgb: new Uint8Array(width * height * 3), width, height, zoom, imageTop, imageRows, imageColumns };

  // Outline pixels: inside a label, with a pixel of another label within `t` canvas pixels (2 when enlarged).
  const t = zoom >= 3 ? 2 : 1;
  drawOutlinedSlice(canvas, { x: 0, y: imageTop, columns: imageColumns, rows: imageRows }, {
    volume: o.volume, mask: o.mask, k, window: o.window, focusLabel: o.label, left: 0, top: 0, toVoxel: (x) => Math.floor(x / zoom), thickness: t,
  });
  const lineHeight = LINE_ADVANCE * fontScale;
  headerLines.forEach((l, n) => drawText(canvas, l.text, MARGIN, MARGIN / 2 + n * lineHeight, { scale: fontScale, color: l.color }));
  const footerTop = imageTop + imageRows + MARGIN / 2;
  footerLines.forEach((l, n) => drawText(canvas, l.text, MARGIN, footerTop + n * lineHeight, { scale: fontScale, color: l.color }));
  return canvas;
}
