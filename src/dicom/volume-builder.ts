/**
 * Stack → SeriesVolume: decodes frames one at a time in output order and writes modality values straight
 * into the Int16 volume buffer (at most two decoded slices alive, for interpolation).
 *
 * Modality values: stored × RescaleSlope + RescaleIntercept, per frame (slopes and intercepts may differ
 * between slices), rounded to the nearest integer and clamped to int16 with a note. The volume stays Int16
 * (the SeriesVolume contract; Hounsfield units are integers): a non-integer slope is applied exactly and
 * only the final rounding (≤ 0.5 unit) is lost, which is noted.
 */
import { SrError } from '../core/errors.ts';
import { createVolume } from '../imaging/volume.ts';
import type { SeriesVolume } from '../engine/types.ts';
import { getString } from './dataset.ts';
import type { FrameRef } from './frames.ts';
import type { StackPlan, StackPlanOptions } from './stack-geometry.ts';
import { planStack } from './stack-geometry.ts';
import type { DecodedFrame } from './types.ts';

export interface BuildVolumeOptions extends StackPlanOptions {
  /** Called after each decoded frame: (frames decoded, frames to decode). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

const INT16_MIN = -32768;
const INT16_MAX = 32767;

/** Stored values as true numbers: fixes the signedness when the decoded array type disagrees with PixelRepresentation. */
function storedView(frame: DecodedFrame, ref: FrameRef): ArrayLike<number> {
  const px = ref.file.pixel;
  const data = frame.data;
  if (!px) return data;
  const bits = px.BitsStored;
  if (px.PixelRepresentation === 1 && (data instanceof Uint16Array || data instanceof Uint8Array || data instanceof Uint32Array)) {
    const shift = 32 - bits;
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = ((data[i] as number) << shift) >> shift;
    return out;
  }
  if (px.PixelRepresentation === 0 && (data instanceof Int16Array || data instanceof Int8Array)) {
    const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    const out = new Uint32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = (data[i] as number) & mask;
    return out;
  }
  return data;
}

class SliceSource {
  readonly notes = new Set<string>();
  clamped = 0;
  decoded = 0;
  private readonly cache = new Map<number, Float32Array>();

  constructor(
    private readonly plan: StackPlan,
    private readonly total: number,
    private readonly options: BuildVolumeOptions,
  ) {}

  /** Decodes one frame and checks its shape; returns its stored values with the right signedness. */
  async stored(ref: FrameRef): Promise<ArrayLike<number>> {
    if (this.options.signal?.aborted) throw this.options.signal.reason instanceof Error ? this.options.signal.reason : new Error('aborted');
    const frame = await ref.file.decodeFrame(ref.frameIndex);
    this.decoded++;
    this.options.onProgress?.(this.decoded, this.total);
    const n = this.plan.rows * this.plan.columns;
    if (frame.rows !== this.plan.rows || frame.columns !== this.plan.columns || frame.samplesPerPixel !== 1 || frame.data.length < n) {
      throw new SrError('SERIES_INCONSISTENT', `${ref.file.source} frame ${ref.frameIndex} decodes to ${frame.rows}×${frame.columns}×${frame.samplesPerPixel}, expected ${this.plan.rows}×${this.plan.columns}×1`, { details: { source: ref.file.source } });
    }
    if (!Number.isInteger(ref.rescaleSlope) || !Number.isInteger(ref.rescaleIntercept)) {
      this.notes.add(`non-integer RescaleSlope/Intercept (e.g. ${ref.rescaleSlope}/${ref.rescaleIntercept}): modality values rounded to integers`);
    }
    return storedView(frame, ref);
  }

  private async decode(ref: FrameRef): Promise<Float32Array> {
    const stored = await this.stored(ref);
    const n = this.plan.rows * this.plan.columns;
    const slope = ref.rescaleSlope;
    const intercept = ref.rescaleIntercept;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (stored[i] as number) * slope + intercept;
    return out;
  }

  /** Modality values of acquired slice s; frames at the same position must be identical, or the stack is refused. */
  async slice(s: number): Promise<Float32Array> {
    const hit = this.cache.get(s);
    if (hit) return hit;
    const planned = this.plan.slices[s];
    if (!planned) throw new SrError('SERIES_EMPTY', `no slice ${s}`);
    const [first, ...others] = planned.frames as [FrameRef, ...FrameRef[]];
    const values = await this.decode(first);
    for (const other of others) {
      if (other.file === first.file && other.frameIndex === first.frameIndex) continue;
      const b = await this.decode(other);
      let same = true;
      for (let i = 0; i < values.length; i++) if (values[i] !== b[i]) { same = false; break; }
      if (!same) {
        throw new SrError('SERIES_DUPLICATE_POSITIONS', `${first.file.source} and ${other.file.source} are at the same position (${planned.offsetMm.toFixed(2)} mm along the normal) with different pixels`, { details: { sources: [first.file.source, other.file.source], offsetMm: planned.offsetMm } });
      }
      this.notes.add('identical duplicate images at the same position dropped');
    }
    // Only the two most recent acquired slices are ever needed again.
    for (const key of this.cache.keys()) if (key < s - 1) this.cache.delete(key);
    this.cache.set(s, values);
    return values;
  }
}

/** Writes stored × slope + intercept, rounded and clamped to int16, into `out` at `base`; returns the clamp count. */
function writeRescaled(stored: ArrayLike<number>, ref: FrameRef, out: Int16Array, base: number, n: number): number {
  const slope = ref.rescaleSlope;
  const intercept = ref.rescaleIntercept;
  let clamped = 0;
  if (slope === 1 && Number.isInteger(intercept)) {
    for (let i = 0; i < n; i++) {
      const v = (stored[i] as number) + intercept;
      if (v < INT16_MIN) { out[base + i] = INT16_MIN; clamped++; }
      else if (v > INT16_MAX) { out[base + i] = INT16_MAX; clamped++; }
      else out[base + i] = v;
    }
    return clamped;
  }
  for (let i = 0; i < n; i++) {
    const v = Math.round((stored[i] as number) * slope + intercept);
    if (v < INT16_MIN) { out[base + i] = INT16_MIN; clamped++; }
    else if (v > INT16_MAX) { out[base + i] = INT16_MAX; clamped++; }
    else out[base + i] = v;
  }
  return clamped;
}

function sopUidsOf(plan: StackPlan): string[] {
  return plan.output.map((o) => {
    const idx = o.weight < 0.5 ? o.lower : o.lower + 1;
    return (plan.slices[idx]?.frames[0] ?? plan.slices[o.lower]?.frames[0])?.sopInstanceUid ?? '';
  });
}

/** Builds the analysis volume of a planned stack. Throws SrError SERIES_* / DICOM_* codes. */
export async function buildVolumeFromPlan(plan: StackPlan, options: BuildVolumeOptions = {}): Promise<SeriesVolume> {
  const n = plan.rows * plan.columns;
  const data = new Int16Array(n * plan.output.length);
  const needed = new Set<number>();
  for (const o of plan.output) {
    needed.add(o.lower);
    if (o.weight > 0) needed.add(o.lower + 1);
  }
  let total = 0;
  for (const s of needed) total += plan.slices[s]?.frames.length ?? 0;
  const source = new SliceSource(plan, total, options);
  let clamped = 0;
  for (let k = 0; k < plan.output.length; k++) {
    const o = plan.output[k] as { lower: number; weight: number };
    const only = plan.slices[o.lower]?.frames;
    if (!plan.resampled && o.weight === 0 && only?.length === 1) {
      // Fast path (the usual case): stored values → modality values straight into the volume buffer.
      clamped += writeRescaled(await source.stored(only[0] as FrameRef), only[0] as FrameRef, data, k * n, n);
      continue;
    }
    const a = await source.slice(o.lower);
    const b = o.weight > 0 ? await source.slice(o.lower + 1) : a;
    const w = o.weight;
    const base = k * n;
    for (let i = 0; i < n; i++) {
      const v = Math.round(w > 0 ? (a[i] as number) * (1 - w) + (b[i] as number) * w : (a[i] as number));
      if (v < INT16_MIN) { data[base + i] = INT16_MIN; clamped++; }
      else if (v > INT16_MAX) { data[base + i] = INT16_MAX; clamped++; }
      else data[base + i] = v;
    }
  }
  const notes = [...plan.notes, ...source.notes];
  if (clamped > 0) notes.push(`${clamped} voxel(s) outside the int16 range clamped to [${INT16_MIN}, ${INT16_MAX}]`);
  const firstFrame = plan.slices[0]?.frames[0];
  const volume = createVolume(data, { dims: plan.dims, spacing: plan.spacing, origin: plan.origin, direction: plan.direction });
  return {
    volume,
    sliceSopInstanceUids: sopUidsOf(plan),
    frameOfReferenceUid: firstFrame ? getString(firstFrame.file.dataset, 'FrameOfReferenceUID') : undefined,
    notes,
  };
}

/** planStack + buildVolumeFromPlan. */
export async function buildSeriesVolume(frames: readonly FrameRef[], options: BuildVolumeOptions = {}): Promise<SeriesVolume> {
  return buildVolumeFromPlan(planStack(frames, options), options);
}
