/**
 * JPEG lossless, processes 14 and 14 SV1 (ITU T.81 Annex H), with jpeg-lossless-decoder-js (pure JS; no
 * WASM build of a lossless JPEG decoder is published). The package ships no types: narrowed here.
 */
import { createRequire } from 'node:module';

interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
}
type Ctor = new () => LosslessDecoder;

let ctor: Ctor | undefined;

function decoderCtor(): Ctor {
  if (!ctor) {
    const req = createRequire(import.meta.url);
    const mod = req('jpeg-lossless-decoder-js') as { Decoder?: unknown };
    if (typeof mod.Decoder !== 'function') throw new Error('jpeg-lossless-decoder-js has no Decoder');
    ctor = mod.Decoder as Ctor;
  }
  return ctor;
}

/** Returns little-endian samples: 1 byte each for precision ≤ 8, else 2. */
export function decodeJpegLossless(frame: Uint8Array, bytesPerSample: 1 | 2): Uint8Array {
  const Decoder = decoderCtor();
  const out = new Decoder().decode(frame.buffer as ArrayBuffer, frame.byteOffset, frame.byteLength, bytesPerSample);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
