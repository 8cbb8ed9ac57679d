/**
 * Planar contour geometry for reader outlines: filling a closed pixel contour, and the Lung-RADS long and
 * short axes of a filled region.
 */

export type Pixel = readonly [number, number];

/** Pixels of the straight segment a→b (Bresenham), both ends included. */
function segment(a: Pixel, b: Pixel, out: Pixel[]): void {
  let [x0, y0] = a;
  const [x1, y1] = b;
  const dx = Math.abs(x1 - x0);
  const dy = -Math.abs(y1 - y0);
  const sx = x0 < x1 ? 1 : -1;
  const sy = y0 < y1 ? 1 : -1;
  let err = dx + dy;
  for (;;) {
    out.push([x0, y0]);
    if (x0 === x1 && y0 === y1) return;
    const e2 = 2 * err;
    if (e2 >= dy) { err += dy; x0 += sx; }
    if (e2 <= dx) { err += dx; y0 += sy; }
  }
}

/**
 * The pixels of a closed contour and everything it encloses. The outline itself is INCLUDED: LIDC readers
 * drew the outline just outside the nodule, and the LIDC size reports count the outline pixels (so do we;
 * this makes volumes a little larger than an inner-boundary convention would). Gaps between successive
 * points are closed with straight segments, the last point joins the first. `interiorOnly` drops the
 * outline: used for exclusion (inclusion=FALSE) contours, whose outline belongs to the nodule.
 */
export function fillContour(points: readonly Pixel[], interiorOnly = false): Pixel[] {
  if (points.length === 0) return [];
  const outline: Pixel[] = [];
  for (let i = 0; i < points.length; i++) segment(points[i] as Pixel, points[(i + 1) % points.length] as Pixel, outline);
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const [x, y] of outline) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x);
    minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  // Grid with a one-pixel margin so the exterior is connected around the contour.
  const w = maxX - minX + 3;
  const h = maxY - minY + 3;
  const grid = new Uint8Array(w * h); // 1 = outline, 2 = exterior
  for (const [x, y] of outline) grid[x - minX + 1 + (y - minY + 1) * w] = 1;
  const stack = [0];
  grid[0] = 2;
  while (stack.length > 0) {
    const p = stack.pop() as number;
    const x = p % w;
    const y = (p - x) / w;
    const next = [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1];
    for (const q of next) {
      if (q >= 0 && grid[q] === 0) { grid[q] = 2; stack.push(q); }
    }
  }
  const out: Pixel[] = [];
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const v = grid[x + y * w];
      if (v === 0 || (v === 1 && !interiorOnly)) out.push([x - 1 + minX, y - 1 + minY]);
    }
  }
  return out;
}

export interface Axes {
  /** Longest distance between two pixel centres of the region (mm). */
  readonly longMm: number;
  /** Longest chord perpendicular to the long axis (mm), pixel centre to pixel centre. */
  readonly shortMm: number;
}

/**
 * Long and short axis of a region given as points in millimetres (pixel centres in the image plane).
 * The short axis is the longest extent perpendicular to the long axis among points lying in the same strip
 * (one pixel wide) across the long axis — a chord, not the caliper width, as Lung-RADS measures it.
 */
export function regionAxes(pointsMm: readonly (readonly [number, number])[], pixelMm: number): Axes {
  if (pointsMm.length < 2) return { longMm: 0, shortMm: 0 };
  let best = -1;
  let a: readonly [number, number] = pointsMm[0] as readonly [number, number];
  let b = a;
  for (let i = 0; i < pointsMm.length; i++) {
    const p = pointsMm[i] as readonly [number, number];
    for (let j = i + 1; j < pointsMm.length; j++) {
      const q = pointsMm[j] as readonly [number, number];
      const d = (p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2;
      if (d > best) { best = d; a = p; b = q; }
    }
  }
  const longMm = Math.sqrt(best);
  if (longMm === 0) return { longMm: 0, shortMm: 0 };
  const ux = (b[0] - a[0]) / longMm;
  const uy = (b[1] - a[1]) / longMm;
  const strips = new Map<number, { min: number; max: number }>();
  for (const p of pointsMm) {
    const along = (p[0] - a[0]) * ux + (p[1] - a[1]) * uy;
    const across = -(p[0] - a[0]) * uy + (p[1] - a[1]) * ux;
    const k = Math.round(along / pixelMm);
    const s = strips.get(k);
    if (!s) strips.set(k, { min: across, max: across });
    else { s.min = Math.min(s.min, across); s.max = Math.max(s.max, across); }
  }
  let shortMm = 0;
  for (const s of strips.values()) shortMm = Math.max(shortMm, s.max - s.min);
  return { longMm, shortMm: Math.min(shortMm, longMm) };
}
