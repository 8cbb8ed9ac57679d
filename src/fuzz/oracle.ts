/**
 * The fuzz oracle: what counts as a correct rejection and what is a bug. A rejection is an SrError (or, at the
 * protocol layers, an HTTP 4xx / a dropped association). An SrError whose cause is a TypeError or RangeError is a
 * bug too: parseDicom and decodeFrame wrap anything they throw, so a DataView read past the end would otherwise
 * look like a clean DICOM_MALFORMED.
 */
import { SrError } from '../core/errors.ts';

export type FailureKind = 'untyped' | 'internal' | 'timeout' | 'server-error' | 'server-dead' | 'uncaught' | 'memory';

export interface Outcome {
  /** Undefined when the input was accepted or rejected properly. */
  readonly failure?: { readonly kind: FailureKind; readonly message: string };
  /** The rejection (error code, HTTP status, DIMSE outcome) or 'ok', for the statistics. */
  readonly result: string;
}

const BUG_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError];

function describe(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 6).join('\n') : String(e);
}

/** Node's own limits (a zlib output cap) surface as RangeErrors with a code: those are intended rejections. */
function isLimitError(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (code === 'ERR_BUFFER_TOO_LARGE' || code.startsWith('Z_'));
}

/** True when the innermost stack frame is inside node_modules. */
function thrownInDependency(e: unknown): boolean {
  const frame = e instanceof Error ? (e.stack ?? '').split('\n').find((l) => l.trimStart().startsWith('at ')) : undefined;
  return frame !== undefined && frame.includes('/node_modules/');
}

export function judgeError(e: unknown): Outcome {
  if (e instanceof SrError) {
    let cause: unknown = e.cause;
    for (let i = 0; i < 4 && cause instanceof SrError; i++) cause = cause.cause;
    if (BUG_ERRORS.some((c) => cause instanceof c) && !isLimitError(cause)) {
      // A third-party codec (jpeg-lossless-decoder-js...) tripping over a corrupt codestream: pixel-decode.ts wraps
      // its calls on purpose, so this is a contained rejection, counted apart so it stays visible.
      if (thrownInDependency(cause)) return { result: `${e.code}(dependency ${(cause as Error).name})` };
      return { result: e.code, failure: { kind: 'internal', message: `${e.code} wrapping ${describe(cause)}` } };
    }
    return { result: e.code };
  }
  return { result: 'untyped', failure: { kind: 'untyped', message: describe(e) } };
}

export const OK: Outcome = { result: 'ok' };

/** Runs `fn`; a throw is judged, a normal return is OK. */
export async function expectTyped(fn: () => unknown): Promise<Outcome> {
  try {
    await fn();
    return OK;
  } catch (e) {
    return judgeError(e);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FuzzTimeout(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export class FuzzTimeout extends Error {
  override readonly name = 'FuzzTimeout';
}
