/**
 * The loop a decode worker runs: each job reads one file, decodes one frame and writes its modality values into
 * the shared volume. Jobs run strictly one after another (they share one scratch read buffer, and WASM decoders
 * are synchronous anyway); every outcome is reported as a message, errors with their SrError code.
 */
import type { MessagePort } from 'node:worker_threads';
import { isSrError } from '../core/errors.ts';
import type { SliceJob } from './slice-decode.ts';
import { ScratchBuffer, decodeSliceFromPath } from './slice-decode.ts';

export interface DecodeJobMessage {
  readonly type: 'decode';
  readonly id: number;
  readonly job: SliceJob;
  /** Index of the job's first voxel in `out`. */
  readonly base: number;
  /** The volume, backed by a SharedArrayBuffer. */
  readonly out: Int16Array;
}

/** Test hook: the worker exits (as a crash would) when it receives its next decode job. */
export interface CrashNextMessage {
  readonly type: 'crash-next';
}

export type ToWorker = DecodeJobMessage | CrashNextMessage;

export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'start-error'; readonly error: string }
  | { readonly type: 'done'; readonly id: number; readonly clamped: number }
  | { readonly type: 'error'; readonly id: number; readonly code: string; readonly message: string; readonly details: Record<string, unknown> };

export function serveDecodeJobs(port: MessagePort): void {
  const scratch = new ScratchBuffer();
  let crashNext = false;
  let chain: Promise<void> = Promise.resolve();
  const run = async (msg: DecodeJobMessage): Promise<void> => {
    if (crashNext) process.exit(70);
    try {
      const clamped = await decodeSliceFromPath(msg.job, msg.out, msg.base, scratch);
      port.postMessage({ type: 'done', id: msg.id, clamped } satisfies FromWorker);
    } catch (e) {
      const reply: FromWorker = isSrError(e)
        ? { type: 'error', id: msg.id, code: e.code, message: e.message, details: plainDetails(e.details) }
        : { type: 'error', id: msg.id, code: 'DICOM_DECODE_FAILED', message: `${msg.job.path}: ${e instanceof Error ? e.message : String(e)}`, details: { source: msg.job.path } };
      port.postMessage(reply);
    }
  };
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'crash-next') {
      crashNext = true;
      return;
    }
    chain = chain.then(() => run(msg));
  });
}

/** Details that survive structured cloning (drops functions and other uncloneable values). */
function plainDetails(d: unknown): Record<string, unknown> {
  if (typeof d !== 'object' || d === null) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(d)) {
    if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) out[k] = v;
    else if (Array.isArray(v) && v.every((x) => ['string', 'number', 'boolean'].includes(typeof x))) out[k] = v;
  }
  return out;
}
