/**
 * The Cornerstone WASM codecs (Emscripten factories). Each module is instantiated once, lazily, and
 * reused; a decoder object is created per frame and deleted after (embind objects live on the WASM heap).
 * An Emscripten abort leaves a module unusable, so any failure drops the cached module.
 */
import { createRequire } from 'node:module';

export interface FrameInfo {
  readonly width: number;
  readonly height: number;
  readonly bitsPerSample: number;
  readonly componentCount: number;
  readonly isSigned: boolean;
}

interface EmbindDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): FrameInfo;
  getInterleaveMode?: () => number;
  delete?: () => void;
}

type DecoderCtor = new () => EmbindDecoder;

export type WasmCodec = 'jpeg-8bit' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

const SPEC: Record<WasmCodec, { module: string; cls: string }> = {
  'jpeg-8bit': { module: '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', cls: 'JPEGDecoder' },
  'jpeg-ls': { module: '@cornerstonejs/codec-charls/decodewasmjs', cls: 'JpegLSDecoder' },
  jpeg2000: { module: '@cornerstonejs/codec-openjpeg/decodewasmjs', cls: 'J2KDecoder' },
  htj2k: { module: '@cornerstonejs/codec-openjph/wasmjs', cls: 'HTJ2KDecoder' },
};

const loaded = new Map<WasmCodec, Promise<DecoderCtor>>();

function load(codec: WasmCodec): Promise<DecoderCtor> {
  let p = loaded.get(codec);
  if (!p) {
    const spec = SPEC[codec];
    p = (async () => {
      const req = createRequire(import.meta.url);
      const factory: unknown = req(spec.module);
      if (typeof factory !== 'function') throw new Error(`${spec.module} is not an Emscripten factory`);
      const mod: unknown = await (factory as (arg?: object) => Promise<unknown>)({
        // Keep the codec's own console output (warnings about the codestream) out of ours.
        print: () => undefined,
        printErr: () => undefined,
      });
      const ctor = (mod as Record<string, unknown>)[spec.cls];
      if (typeof ctor !== 'function') throw new Error(`${spec.module} has no ${spec.cls}`);
      return ctor as DecoderCtor;
    })();
    loaded.set(codec, p);
    p.catch(() => loaded.delete(codec));
  }
  return p;
}

export interface WasmResult {
  /** A copy of the decoded samples (little endian, interleaved as the codec gives them). */
  readonly bytes: Uint8Array;
  readonly info: FrameInfo;
  /** JPEG-LS only: 0 means the codec returned planar (component by component) samples. */
  readonly interleaveMode: number | undefined;
}

export async function wasmDecode(codec: WasmCodec, encoded: Uint8Array): Promise<WasmResult> {
  const Ctor = await load(codec);
  let dec: EmbindDecoder | undefined;
  try {
    dec = new Ctor();
    dec.getEncodedBuffer(encoded.length).set(encoded);
    dec.decode();
    const info = dec.getFrameInfo();
    const view = dec.getDecodedBuffer();
    const interleaveMode = codec === 'jpeg-ls' && dec.getInterleaveMode ? dec.getInterleaveMode() : undefined;
    return { bytes: view.slice(), info: { ...info }, interleaveMode };
  } catch (e) {
    loaded.delete(codec);
    throw e;
  } finally {
    try {
      dec?.delete?.();
    } catch (e) {
      loaded.delete(codec);
      void e;
    }
  }
}
