/**
 * JPEG extended (process 2/4, 12-bit precision). No WASM build of a 12-bit libjpeg is published on npm; the
 * Cornerstone DICOM image loader ships the pdf.js-derived JpegImage decoder for exactly this case, so we load
 * that file from @cornerstonejs/dicom-image-loader (by path: the package does not export it) instead of writing
 * a DCT decoder of our own. It runs in Node as plain ESM.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface JpegImage {
  parse(data: Uint8Array): void;
  colorTransform: boolean | undefined;
  getData16(width: number, height: number): Uint16Array;
  getData(width: number, height: number): Uint8Array;
}
type JpegImageCtor = new () => JpegImage;

let ctor: Promise<JpegImageCtor> | undefined;

function loadCtor(): Promise<JpegImageCtor> {
  ctor ??= (async () => {
    const req = createRequire(import.meta.url);
    const pkgDir = dirname(req.resolve('@cornerstonejs/dicom-image-loader/package.json'));
    const mod = (await import(pathToFileURL(join(pkgDir, 'dist/esm/codecs/jpeg.js')).href)) as { default?: unknown };
    if (typeof mod.default !== 'function') throw new Error('dicom-image-loader codecs/jpeg.js has no default export');
    return mod.default as JpegImageCtor;
  })();
  ctor.catch(() => { ctor = undefined; });
  return ctor;
}

/**
 * The decoder's final descale adds 2056/bitConversion before `>> 4`, i.e. 2056·(2^P−1)/255, where the level
 * shift of ITU T.81 A.3.1 is 2^(P−1) (×16 for the fixed-point IDCT, +8 to round). For P = 8 the two agree; for
 * P = 12 every sample comes out ⌊(33017.6 − 32776)/16⌋ = 15 too high (checked against dcmtk's libijg12 in
 * pixel-decode.test.ts). We subtract that bias, which leaves the result within ±1 of IJG except for the few
 * samples above 4079 that the decoder's upper clamp (which has the same bias) saturates.
 */
export function levelShiftBias(precision: number): number {
  const theirs = (2056 * ((1 << precision) - 1)) / 255;
  const correct = (1 << (precision - 1)) * 16 + 8;
  return Math.floor((theirs - correct) / 16);
}

/** Decodes one 12-bit (or 8-bit) JPEG DCT frame to little-endian 16-bit samples. */
export async function decodeJpegExtended(frame: Uint8Array, columns: number, rows: number, precision: number): Promise<Uint8Array> {
  const Jpeg = await loadCtor();
  const img = new Jpeg();
  img.parse(frame);
  // Monochrome DICOM: no YCbCr→RGB transform on 12-bit data.
  img.colorTransform = false;
  const out = img.getData16(columns, rows);
  const bias = levelShiftBias(precision);
  if (bias > 0) for (let i = 0; i < out.length; i++) out[i] = Math.max(0, (out[i] ?? 0) - bias);
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
