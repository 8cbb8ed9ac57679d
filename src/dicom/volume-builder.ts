/**
 * Stack → SeriesVolume: writes modality values straight into the Int16 volume buffer.
 *
 * The usual stack (one image per position, no resampling) takes the fast path: each slice is decoded into the
 * volume at its offset, on worker threads for large compressed series (src/dicom/decode-pool.ts; the volume is
 * then backed by a SharedArrayBuffer) or on this thread, where native 16-bit files are read into a reused
 * buffer and converted in one pass from a view on the file bytes (src/dicom/slice-decode.ts). Other stacks
 * (interpolated, duplicates to compare) decode frames one at a time in output order, at most two decoded
 * slices alive.
 *
 * Modality values: stored × RescaleSlope + RescaleIntercept, per frame (slopes and intercepts may differ
 * between slices), rounded to the nearest integer and clamped to int16 with a note. The volume stays Int16
 * (the SeriesVolume contract; Hounsfield units are integers): a non-integer slope is applied exactly and
 * only the final rounding (≤ 0.5 unit) is lost, which is noted.
 */
import { SrError, isSrError } from '../core/errors.ts';
import { createVolume } from '../imaging/volume.ts';
import type { SeriesVolume } from '../engine/types.ts';
import { getString } from './dataset.ts';
import { decodeSlicesOnWorkers, decodeThreads, startDecodePool } from './decode-pool.ts';
import type { FrameRef } from './frames.ts';
import { filePathOf, frameSourceOf } from './parse.ts';
import type { SliceJob } from './slice-decode.ts';
import { ScratchBuffer, decodeFileSliceInto, decodeSliceFromPath, storedValues } from './slice-decode.ts';
import type { StackPlan, StackPlanOptions } from './stack-geometry.ts';
import { planStack } from './stack-geometry.ts';
import { codecFor } from './transfer-syntax.ts';

export interface BuildVolumeOptions extends StackPlanOptions {
  /** Called after each decoded frame: (frames decoded, frames to decode). */
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
  /**
   * Decode threads. 1: this thread only. Default: decodeThreads() (os.availableParallelism()) worker threads for
   * a compressed stack of at least PARALLEL_MIN_FRAMES single-frame files, else 1 (a native slice decodes in well
   * under a millisecond, less than it costs to start workers).
   */
  readonly threads?: number;
  /** Worker threads only: a worker that finishes no frame for this long is stopped (DICOM_DECODE_TIMEOUT). Default 120 s. */
  readonly frameTimeoutMs?: number;
}

/** Below this many frames a compressed stack is decoded on the calling thread by default. */
export const PARALLEL_MIN_FRAMES = 8;

/** The fast path's frame for each output slice (one image per position, no interpolation), or undefined. */
function directFrames(plan: StackPlan): FrameRef[] | undefined {
  if (plan.resampled) return undefined;
  const refs: FrameRef[] = [];
  for (const o of plan.output) {
    const only = plan.slices[o.lower]?.frames;
    if (o.weight !== 0 || only?.length !== 1) return undefined;
    refs.push(only[0] as FrameRef);
  }
  return refs;
}

/** Single-frame files that a worker can read again by path. */
function workerEligible(refs: readonly FrameRef[]): boolean {
  return refs.every((r) => r.file.frameCount === 1 && filePathOf(r.file) !== undefined);
}

/**
 * Decode threads the builder will use for a stack: `threads` when given (1 if the frames cannot go to
 * workers), else the default policy above.
 */
export function decodeThreadsFor(plan: StackPlan, options: Pick<BuildVolumeOptions, 'threads'> = {}): number {
  if (options.threads !== undefined && (!Number.isInteger(options.threads) || options.threads < 1)) {
    throw new SrError('CONFIG_INVALID', `threads must be a positive integer, got ${options.threads}`);
  }
  const refs = directFrames(plan);
  if (!refs || refs.length < 2 || !workerEligible(refs)) return 1;
  if (options.threads !== undefined) return Math.min(options.threads, refs.length);
  const compressed = refs.some((r) => codecFor(r.file.transferSyntaxUID) !== 'native');
  return compressed && refs.length >= PARALLEL_MIN_FRAMES ? Math.min(decodeThreads(), refs.length) : 1;
}

const INT16_MIN = -32768;
const INT16_MAX = 32767;

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
    return storedValues(frame.data, ref.file.pixel);
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

function sopUidsOf(plan: StackPlan): string[] {
  return plan.output.map((o) => {
    const idx = o.weight < 0.5 ? o.lower : o.lower + 1;
    return (plan.slices[idx]?.frames[0] ?? plan.slices[o.lower]?.frames[0])?.sopInstanceUid ?? '';
  });
}

/** Builds the analysis volume of a planned stack. Throws SrError SERIES_* / DICOM_* codes. */
export async function buildVolumeFromPlan(plan: StackPlan, options: BuildVolumeOptions = {}): Promise<SeriesVolume> {
  const n = plan.rows * plan.columns;
  const direct = directFrames(plan);
  if (direct) return buildDirect(plan, direct, options);
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
  return assemble(plan, data, [...source.notes], clamped);
}

function assemble(plan: StackPlan, data: Int16Array, extraNotes: readonly string[], clamped: number): SeriesVolume {
  const notes = [...plan.notes, ...extraNotes];
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

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
}

/** The fast path: output slice k is frame refs[k], decoded into the volume at k·rows·columns. */
async function buildDirect(plan: StackPlan, refs: readonly FrameRef[], options: BuildVolumeOptions): Promise<SeriesVolume> {
  const n = plan.rows * plan.columns;
  const total = refs.length;
  const notes: string[] = [];
  const odd = refs.find((r) => !Number.isInteger(r.rescaleSlope) || !Number.isInteger(r.rescaleIntercept));
  if (odd) notes.push(`non-integer RescaleSlope/Intercept (e.g. ${odd.rescaleSlope}/${odd.rescaleIntercept}): modality values rounded to integers`);
  const job = (r: FrameRef): SliceJob => ({
    path: filePathOf(r.file) ?? r.file.source, frameIndex: r.frameIndex, rows: plan.rows, columns: plan.columns,
    rescaleSlope: r.rescaleSlope, rescaleIntercept: r.rescaleIntercept,
  });
  let threads = decodeThreadsFor(plan, options);
  checkAborted(options.signal);
  if (threads > 1) {
    try {
      await startDecodePool(threads);
    } catch (e) {
      // Workers that cannot start (no tsx in the worker, resource limits) cost speed, not the volume.
      if (!isSrError(e, 'DICOM_WORKER_FAILED')) throw e;
      notes.push(`decode workers unavailable (${e.message}): decoded on one thread`);
      threads = 1;
    }
  }
  if (threads > 1) {
    const data = new Int16Array(new SharedArrayBuffer(n * total * 2));
    let done = 0;
    const r = await decodeSlicesOnWorkers(refs.map(job), refs.map((_, k) => k * n), data, {
      threads,
      signal: options.signal,
      frameTimeoutMs: options.frameTimeoutMs,
      onDone: () => options.onProgress?.(++done, total),
    });
    return assemble(plan, data, notes, r.clamped);
  }
  const data = new Int16Array(n * total);
  const scratch = new ScratchBuffer();
  let clamped = 0;
  for (let k = 0; k < total; k++) {
    checkAborted(options.signal);
    const ref = refs[k] as FrameRef;
    const path = filePathOf(ref.file);
    // A lazily read single-frame file: read it into the reused buffer rather than through decodeFrame's fresh read.
    clamped += path !== undefined && ref.file.frameCount === 1 && !frameSourceOf(ref.file)
      ? await decodeSliceFromPath(job(ref), data, k * n, scratch)
      : await decodeFileSliceInto(ref.file, job(ref), data, k * n);
    options.onProgress?.(k + 1, total);
  }
  return assemble(plan, data, notes, clamped);
}

/** planStack + buildVolumeFromPlan. */
export async function buildSeriesVolume(frames: readonly FrameRef[], options: BuildVolumeOptions = {}): Promise<SeriesVolume> {
  return buildVolumeFromPlan(planStack(frames, options), options);
}
