/**
 * Stack geometry: from the frames of one stack (same orientation and matrix size) to the sampling plan of a
 * Volume, without decoding a pixel. Pure functions, so every trap is testable with in-memory headers.
 *
 * Order: by ImagePositionPatient projected on the slice normal n = row × column cosines (file names and
 * InstanceNumber are not trusted). k therefore runs along +n and the origin is the sorted first slice.
 *
 * Gantry tilt: the slice centres then move along a stacking vector v that is not parallel to n. We keep the
 * acquired pixels and shear the grid instead of resampling in-plane: direction column k = v/|v| and
 * spacing[2] = |v| · Δ (Δ = slice distance along n), so direction columns are not orthogonal and
 * `ijkToLps` (full matrix) stays exact. Any stack whose centres do not lie on one line (variable tilt,
 * in-plane shifts) is refused rather than built wrong.
 *
 * Uneven spacing: resampled along k onto a uniform grid by linear interpolation between the two
 * neighbouring acquired slices (exact for a sheared grid too, since all centres lie on one line); refused
 * when a gap is so wide that interpolation would invent anatomy.
 */
import { SrError } from '../core/errors.ts';
import type { Mat3, Vec3 } from '../imaging/volume.ts';
import { cross, dot, norm } from '../imaging/volume.ts';
import type { FrameRef } from './frames.ts';

export interface StackPlanOptions {
  /** Uneven slice spacing: resample onto a uniform grid (default) or refuse. */
  readonly nonUniformSpacing?: 'resample' | 'refuse';
  /** Gaps that look like missing slices: refuse (default) or interpolate across them with a note. */
  readonly allowMissingSlices?: boolean;
  /** Largest gap, in multiples of the output spacing, that may be bridged by interpolation (default 3). */
  readonly maxGapRatio?: number;
}

/** One acquired slice position; several frames when positions repeat (resolved by the builder). */
export interface PlannedSlice {
  /** Distance along the slice normal (mm), ascending. */
  readonly offsetMm: number;
  readonly frames: readonly FrameRef[];
}

/** Output slice k = (1 - weight) · slices[lower] + weight · slices[lower + 1]. */
export interface OutputSlice {
  readonly lower: number;
  readonly weight: number;
}

export interface StackPlan {
  readonly rows: number;
  readonly columns: number;
  /** Unique acquired positions, sorted along the normal. */
  readonly slices: readonly PlannedSlice[];
  /** How each output slice k is made from the acquired ones. */
  readonly output: readonly OutputSlice[];
  readonly dims: Vec3;
  readonly spacing: Vec3;
  readonly origin: Vec3;
  readonly direction: Mat3;
  /** Angle between stacking vector and slice normal (degrees); 0 without tilt. */
  readonly tiltDeg: number;
  readonly sheared: boolean;
  readonly resampled: boolean;
  /** Distance between output slices along the normal (mm). */
  readonly sliceDistanceMm: number;
  /** Positions that hold more than one frame (to be compared pixel-wise by the builder). */
  readonly duplicatePositions: number;
  readonly notes: readonly string[];
}

const ORIENTATION_TOLERANCE = 5e-3;
const SPACING_REL_TOLERANCE = 1e-3;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function unit(v: Vec3): Vec3 {
  const n = norm(v);
  return [v[0] / n, v[1] / n, v[2] / n];
}

function fmt(x: number, digits = 2): string {
  return Number(x.toFixed(digits)).toString();
}

function frameLabel(f: FrameRef): string {
  return f.file.frameCount > 1 ? `${f.file.source}#${f.frameIndex}` : f.file.source;
}

/** Checks the in-plane attributes agree across the stack and returns them. */
function commonPlane(frames: readonly FrameRef[]): { row: Vec3; col: Vec3; pixelSpacing: readonly [number, number]; rows: number; columns: number } {
  const first = frames[0];
  if (!first) throw new SrError('SERIES_EMPTY', 'stack has no frames');
  for (const f of frames) {
    if (!f.position || !f.orientation || !f.pixelSpacing) {
      const missing = [!f.position && 'ImagePositionPatient', !f.orientation && 'ImageOrientationPatient', !f.pixelSpacing && 'PixelSpacing'].filter(Boolean);
      throw new SrError('SERIES_GEOMETRY_MISSING', `${frameLabel(f)} lacks ${missing.join(', ')}`, { details: { source: f.file.source, frame: f.frameIndex, missing } });
    }
  }
  const iop = first.orientation as readonly number[];
  const ps = first.pixelSpacing as readonly [number, number];
  for (const f of frames) {
    if (f.rows !== first.rows || f.columns !== first.columns) {
      throw new SrError('SERIES_INCONSISTENT', `${frameLabel(f)} is ${f.rows}×${f.columns}, the stack ${first.rows}×${first.columns}`, { details: { source: f.file.source, attribute: 'Rows/Columns' } });
    }
    const o = f.orientation as readonly number[];
    if (o.some((x, i) => Math.abs(x - (iop[i] ?? 0)) > ORIENTATION_TOLERANCE)) {
      throw new SrError('SERIES_INCONSISTENT', `${frameLabel(f)} has ImageOrientationPatient ${o.join('\\')}, the stack ${iop.join('\\')}`, { details: { source: f.file.source, attribute: 'ImageOrientationPatient' } });
    }
    const p = f.pixelSpacing as readonly [number, number];
    if (Math.abs(p[0] - ps[0]) > SPACING_REL_TOLERANCE * ps[0] || Math.abs(p[1] - ps[1]) > SPACING_REL_TOLERANCE * ps[1]) {
      throw new SrError('SERIES_INCONSISTENT', `${frameLabel(f)} has PixelSpacing ${p.join('\\')}, the stack ${ps.join('\\')}`, { details: { source: f.file.source, attribute: 'PixelSpacing' } });
    }
  }
  const rowRaw: Vec3 = [iop[0] ?? 0, iop[1] ?? 0, iop[2] ?? 0];
  const colRaw: Vec3 = [iop[3] ?? 0, iop[4] ?? 0, iop[5] ?? 0];
  if (Math.abs(norm(rowRaw) - 1) > 0.01 || Math.abs(norm(colRaw) - 1) > 0.01 || Math.abs(dot(rowRaw, colRaw)) > 0.01) {
    throw new SrError('SERIES_GEOMETRY_MISSING', `ImageOrientationPatient ${iop.join('\\')} is not two orthonormal vectors`, { details: { source: first.file.source } });
  }
  return { row: unit(rowRaw), col: unit(colRaw), pixelSpacing: ps, rows: first.rows, columns: first.columns };
}

/** Plans the volume of one stack; throws SrError SERIES_* when it cannot be built correctly. */
export function planStack(frames: readonly FrameRef[], options: StackPlanOptions = {}): StackPlan {
  const { row, col, pixelSpacing, rows, columns } = commonPlane(frames);
  const normal = unit(cross(row, col));
  const notes: string[] = [];
  const inPlaneMin = Math.min(pixelSpacing[0], pixelSpacing[1]);

  // Sort along the normal and merge frames at the same position.
  const withOffset = frames.map((f) => ({ f, d: dot(f.position as Vec3, normal) }));
  withOffset.sort((a, b) => a.d - b.d);
  const samePosTol = 0.01;
  const slices: { offsetMm: number; frames: FrameRef[] }[] = [];
  for (const { f, d } of withOffset) {
    const last = slices[slices.length - 1];
    if (last && d - last.offsetMm <= samePosTol) last.frames.push(f);
    else slices.push({ offsetMm: d, frames: [f] });
  }
  const duplicatePositions = slices.filter((s) => s.frames.length > 1).length;
  const firstSlice = slices[0] as { offsetMm: number; frames: FrameRef[] };
  const origin = firstSlice.frames[0]?.position as Vec3;

  // Same position along the normal but shifted in-plane is not a duplicate: it is a broken stack.
  for (const s of slices) {
    const p0 = s.frames[0]?.position as Vec3;
    for (const f of s.frames) {
      const p = f.position as Vec3;
      if (norm([p[0] - p0[0], p[1] - p0[1], p[2] - p0[2]]) > 0.5 * inPlaneMin) {
        throw new SrError('SERIES_INCONSISTENT', `${frameLabel(f)} lies in the plane of ${frameLabel(s.frames[0] as FrameRef)} but is shifted in-plane`, { details: { source: f.file.source } });
      }
    }
  }

  if (slices.length === 1) {
    const thickness = firstSlice.frames[0]?.sliceThickness;
    const sz = thickness !== undefined && thickness > 0 ? thickness : 1;
    notes.push(`single slice: slice spacing set to ${thickness !== undefined && thickness > 0 ? `SliceThickness ${fmt(sz)} mm` : '1 mm (no SliceThickness)'}`);
    return {
      rows, columns, slices, output: [{ lower: 0, weight: 0 }], dims: [columns, rows, 1],
      spacing: [pixelSpacing[1], pixelSpacing[0], sz], origin,
      direction: [row[0], col[0], normal[0], row[1], col[1], normal[1], row[2], col[2], normal[2]],
      tiltDeg: 0, sheared: false, resampled: false, sliceDistanceMm: sz, duplicatePositions, notes,
    };
  }

  // Stacking vector per mm along the normal (v·n = 1), from the end slices; every centre must be on that line.
  const lastSlice = slices[slices.length - 1] as { offsetMm: number; frames: FrameRef[] };
  const pLast = lastSlice.frames[0]?.position as Vec3;
  const extent = lastSlice.offsetMm - firstSlice.offsetMm;
  const v: Vec3 = [(pLast[0] - origin[0]) / extent, (pLast[1] - origin[1]) / extent, (pLast[2] - origin[2]) / extent];
  const lineTol = Math.max(0.05, 0.25 * inPlaneMin);
  for (const s of slices) {
    const p = s.frames[0]?.position as Vec3;
    const t = s.offsetMm - firstSlice.offsetMm;
    const dev = norm([p[0] - origin[0] - t * v[0], p[1] - origin[1] - t * v[1], p[2] - origin[2] - t * v[2]]);
    if (dev > lineTol) {
      throw new SrError('SERIES_INCONSISTENT', `slice centres do not lie on one line (${frameLabel(s.frames[0] as FrameRef)} is ${fmt(dev)} mm off): variable gantry tilt or shifted slices`, { details: { source: s.frames[0]?.file.source, deviationMm: dev } });
    }
  }
  const inPlaneShift: Vec3 = [v[0] - normal[0], v[1] - normal[1], v[2] - normal[2]];
  const totalShift = norm(inPlaneShift) * extent;
  const tiltDeg = (Math.atan(norm(inPlaneShift)) * 180) / Math.PI;
  // A sub-pixel drift over the whole stack is rounding in the DS strings, not tilt.
  const sheared = totalShift > 0.25 * inPlaneMin;
  const kAxis: Vec3 = sheared ? unit(v) : normal;
  const stretch = sheared ? norm(v) : 1;
  if (sheared) {
    const declared = firstSlice.frames[0] ? firstSlice.frames[0].file.dataset['GantryDetectorTilt'] : undefined;
    notes.push(
      `gantry tilt ${fmt(tiltDeg)}° (stacking direction vs slice normal${declared !== undefined ? `; GantryDetectorTilt ${String(declared)}` : ''}): ` +
        'volume kept on a sheared grid (k axis = stacking direction; direction columns not orthogonal), pixels not resampled',
    );
  }

  // Slice distances along the normal.
  const gaps: number[] = [];
  for (let i = 1; i < slices.length; i++) gaps.push((slices[i] as PlannedSlice).offsetMm - (slices[i - 1] as PlannedSlice).offsetMm);
  const typical = median(gaps);
  const jitter = Math.max(0.02, 0.02 * typical);
  const uniform = gaps.every((g) => Math.abs(g - typical) <= jitter);
  let sliceDistance = extent / (slices.length - 1);
  let resampled = false;
  let output: OutputSlice[] = slices.map((_, i) => ({ lower: i, weight: 0 }));

  if (!uniform) {
    const maxGapRatio = options.maxGapRatio ?? 3;
    const missing: { after: number; count: number; gap: number }[] = [];
    for (let i = 0; i < gaps.length; i++) {
      const r = (gaps[i] as number) / typical;
      const n = Math.round(r);
      if (n >= 2 && Math.abs(r - n) <= 0.15) missing.push({ after: i, count: n - 1, gap: gaps[i] as number });
    }
    const missingCount = missing.reduce((a, m) => a + m.count, 0);
    if (missing.length > 0 && !options.allowMissingSlices) {
      throw new SrError(
        'SERIES_MISSING_SLICES',
        `${missingCount} slice(s) missing: ${missing.map((m) => `gap of ${fmt(m.gap)} mm after slice ${m.after} (${m.count} × ${fmt(typical)} mm missing)`).join('; ')}`,
        { details: { typicalSpacingMm: typical, gaps: missing } },
      );
    }
    const maxGap = Math.max(...gaps);
    const minGap = Math.min(...gaps);
    if (options.nonUniformSpacing === 'refuse') {
      throw new SrError('SERIES_NONUNIFORM_SPACING', `slice spacing varies from ${fmt(minGap)} to ${fmt(maxGap)} mm (typical ${fmt(typical)} mm) and resampling is disabled`, { details: { minGapMm: minGap, maxGapMm: maxGap, typicalMm: typical } });
    }
    if (maxGap > maxGapRatio * typical) {
      const code = missing.length > 0 ? 'SERIES_MISSING_SLICES' : 'SERIES_NONUNIFORM_SPACING';
      throw new SrError(code, `slice spacing varies too much to interpolate: a gap of ${fmt(maxGap)} mm is more than ${maxGapRatio} × the typical ${fmt(typical)} mm`, { details: { minGapMm: minGap, maxGapMm: maxGap, typicalMm: typical } });
    }
    const count = Math.max(2, Math.round(extent / typical) + 1);
    sliceDistance = extent / (count - 1);
    output = [];
    let lower = 0;
    for (let k = 0; k < count; k++) {
      const d = firstSlice.offsetMm + k * sliceDistance;
      while (lower < slices.length - 2 && (slices[lower + 1] as PlannedSlice).offsetMm <= d) lower++;
      const a = (slices[lower] as PlannedSlice).offsetMm;
      const b = (slices[lower + 1] as PlannedSlice).offsetMm;
      const w = Math.min(1, Math.max(0, (d - a) / (b - a)));
      output.push(w > 1 - 1e-6 ? { lower: lower + 1 === slices.length - 1 ? lower : lower + 1, weight: lower + 1 === slices.length - 1 ? 1 : 0 } : { lower, weight: w < 1e-6 ? 0 : w });
    }
    resampled = true;
    if (missing.length > 0) notes.push(`${missingCount} missing slice(s) bridged by linear interpolation (${missing.map((m) => `${fmt(m.gap)} mm gap after slice ${m.after}`).join('; ')})`);
    notes.push(
      `non-uniform slice spacing (${fmt(minGap)}–${fmt(maxGap)} mm, typical ${fmt(typical)} mm): ${slices.length} acquired slices resampled ` +
        `to ${count} slices every ${fmt(sliceDistance, 3)} mm along the stack by linear interpolation`,
    );
  }

  const sz = sliceDistance * stretch;
  return {
    rows, columns, slices, output,
    dims: [columns, rows, output.length],
    spacing: [pixelSpacing[1], pixelSpacing[0], sz],
    origin,
    direction: [row[0], col[0], kAxis[0], row[1], col[1], kAxis[1], row[2], col[2], kAxis[2]],
    tiltDeg: sheared ? tiltDeg : 0,
    sheared, resampled, sliceDistanceMm: sliceDistance, duplicatePositions, notes,
  };
}
