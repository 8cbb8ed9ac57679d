/**
 * A measuring helper for bench/: reads, parses and decodes every frame of the given files `repeat`
 * times and reports the work done. Timing lives here (not in tests) so figures come from `npm run bench`.
 */
import { readFile } from 'node:fs/promises';
import { parseDicom } from './parse.ts';

export interface DecodeThroughput {
  readonly files: number;
  readonly frames: number;
  /** Decoded bytes (stored values) produced. */
  readonly decodedBytes: number;
  /** Encoded file bytes read. */
  readonly fileBytes: number;
  readonly ms: number;
  readonly framesPerSecond: number;
  /** Decoded MB (10^6 bytes) per second. */
  readonly decodedMBps: number;
}

export async function measureDecodeThroughput(paths: readonly string[], repeat = 1): Promise<DecodeThroughput> {
  const buffers = await Promise.all(paths.map(async (p) => ({ p, b: await readFile(p) })));
  let frames = 0;
  let decodedBytes = 0;
  let fileBytes = 0;
  const t0 = performance.now();
  for (let r = 0; r < repeat; r++) {
    for (const { p, b } of buffers) {
      const f = parseDicom(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), p);
      fileBytes += b.byteLength;
      for (let i = 0; i < f.frameCount; i++) {
        const fr = await f.decodeFrame(i);
        decodedBytes += fr.data.byteLength;
        frames++;
      }
    }
  }
  const ms = performance.now() - t0;
  return {
    files: paths.length * repeat,
    frames,
    decodedBytes,
    fileBytes,
    ms,
    framesPerSecond: (frames * 1000) / ms,
    decodedMBps: decodedBytes / 1e3 / ms,
  };
}
