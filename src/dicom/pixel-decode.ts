/**
 * Frame decoding: native (incl. big endian, bit-packed, planar, YBR_FULL_422) and encapsulated pixel data
 * (RLE, JPEG lossless, JPEG 8-bit, JPEG-LS, JPEG 2000, HTJ2K) to stored values in the typed array the
 * pixel module implies, colour interleaved.
 *
 * Output rules (the contract of DecodedFrame):
 * - BitsAllocated 16 → Int16Array (PixelRepresentation 1) / Uint16Array; 32 → Int32Array / Uint32Array;
 *   8 → Uint8Array (signed 8-bit → Int16Array); 1 → Uint8Array of 0/1; Float/DoubleFloatPixelData →
 *   Float32Array / Float64Array.
 * - Bits above BitsStored are masked off, and signed values are sign-extended from bit BitsStored-1: the
 *   DICOM pixel module wins over whatever the codestream says (J2K_pixelrep_mismatch).
 * - Colour is interleaved (R,G,B,R,G,B…). Native planar data is interleaved here. JPEG baseline/extended
 *   YBR_FULL(_422) comes out as RGB because libjpeg-turbo converts colour as the JPEG markers say; JPEG 2000
 *   YBR_RCT/YBR_ICT comes out RGB because OpenJPEG applies the inverse component transform. Native
 *   YBR_FULL stays YBR (stored values); native YBR_FULL_422 is upsampled to YBR_FULL (not converted).
 * - Native little-endian frames that need no masking are views on the file bytes (no copy).
 */
import { inflateRawSync } from 'node:zlib';
import { SrError, toSrError } from '../core/errors.ts';
import type { DecodedFrame, PixelDescription } from './types.ts';
import type { VoxelArray } from '../imaging/volume.ts';
import { codecFor } from './transfer-syntax.ts';
import { decodeRle } from './codecs/rle.ts';
import { decodeJpegLossless } from './codecs/jpeg-lossless.ts';
import { wasmDecode, type WasmCodec } from './codecs/wasm.ts';
import { decodeJpegExtended } from './codecs/jpeg-extended.ts';
import { j2kHeader, jpegHeader, type CodestreamHeader } from './codecs/headers.ts';

export interface Fragment {
  /** Byte offset of the fragment's value in the (possibly inflated) buffer. */
  readonly offset: number;
  readonly length: number;
  /** Offset of the fragment's item tag from the first fragment item (what the Basic Offset Table counts). */
  readonly position: number;
}

export interface PixelLocation {
  readonly tag: number;
  readonly vr: string;
  readonly offset: number;
  /** Value length (native) or bytes up to the end of the sequence (encapsulated); -1 when header-only. */
  readonly length: number;
  readonly encapsulated: boolean;
  readonly fragments: readonly Fragment[];
  readonly basicOffsetTable: readonly number[];
  /** Extended Offset Table (7FE0,0001/0002) when present: offsets from the first fragment item. */
  extendedOffsetTable?: ReadonlyArray<{ offset: number; length: number }>;
}

export interface FrameSource {
  readonly source: string;
  readonly transferSyntaxUID: string;
  readonly bytes: Uint8Array;
  readonly little: boolean;
  readonly pixel: PixelLocation | undefined;
  readonly desc: PixelDescription | undefined;
}

const TAG_FLOAT = 0x7fe00008;
const TAG_DOUBLE = 0x7fe00009;

function decodeError(src: FrameSource, index: number, problem: string, cause?: unknown): SrError {
  return new SrError('DICOM_DECODE_FAILED', `${src.source}: frame ${index}: ${problem}`, {
    ...(cause === undefined ? {} : { cause }),
    details: { source: src.source, frame: index, transferSyntaxUID: src.transferSyntaxUID, problem },
  });
}

export async function decodeFrame(src: FrameSource, index: number): Promise<DecodedFrame> {
  const { pixel, desc } = src;
  if (!pixel || !desc) {
    throw new SrError('DICOM_NO_PIXEL_DATA', `${src.source}: no pixel data`, { details: { source: src.source } });
  }
  if (!Number.isInteger(index) || index < 0 || index >= desc.NumberOfFrames) {
    throw new SrError('DICOM_FRAME_OUT_OF_RANGE', `${src.source}: frame ${index} is outside 0..${desc.NumberOfFrames - 1}`, {
      details: { source: src.source, frame: index, frameCount: desc.NumberOfFrames },
    });
  }
  if (pixel.length < 0) {
    throw decodeError(src, index, 'the file was read header-only; read it with readDicomFile to decode pixels');
  }
  const codec = codecFor(src.transferSyntaxUID);
  if (codec === undefined) {
    throw new SrError('DICOM_UNSUPPORTED_TRANSFER_SYNTAX', `${src.source}: no decoder for transfer syntax ${src.transferSyntaxUID}`, {
      details: { source: src.source, transferSyntaxUID: src.transferSyntaxUID },
    });
  }
  try {
    if (!pixel.encapsulated) {
      if (codec !== 'native') throw decodeError(src, index, 'pixel data is not encapsulated although the transfer syntax is compressed');
      return decodeNative(src, pixel, desc, index);
    }
    if (codec === 'native') throw decodeError(src, index, 'pixel data is encapsulated although the transfer syntax is native');
    const frame = frameBytes(src, pixel, desc, index, codec);
    return await decodeEncapsulated(src, desc, index, codec, frame);
  } catch (e) {
    throw toSrError(e, 'DICOM_DECODE_FAILED', `${src.source}: frame ${index} could not be decoded`, {
      source: src.source,
      frame: index,
      transferSyntaxUID: src.transferSyntaxUID,
    });
  }
}

// ---------- native ----------

/**
 * The zero-copy case of the volume builder: a native little-endian, 16-bit, single-sample frame as a Uint16
 * view on the file bytes (bits above BitsStored not yet masked). undefined when the frame needs any other
 * work (big endian, odd byte offset, colour, other widths, float data, out of range): decodeFrame handles it.
 */
export function nativeWords16(src: FrameSource, index: number): { words: Uint16Array; bitsStored: number; signed: boolean } | undefined {
  const { pixel, desc } = src;
  if (!pixel || !desc || pixel.encapsulated || pixel.length < 0 || !src.little || pixel.tag !== 0x7fe00010) return undefined;
  if (desc.BitsAllocated !== 16 || desc.SamplesPerPixel !== 1 || codecFor(src.transferSyntaxUID) !== 'native') return undefined;
  if (!Number.isInteger(index) || index < 0 || index >= desc.NumberOfFrames) return undefined;
  const n = desc.Rows * desc.Columns;
  const rel = index * n * 2;
  if (rel + n * 2 > pixel.length) return undefined;
  const byteOffset = src.bytes.byteOffset + pixel.offset + rel;
  if (byteOffset % 2 !== 0) return undefined;
  return { words: new Uint16Array(src.bytes.buffer, byteOffset, n), bitsStored: Math.min(desc.BitsStored, 16), signed: desc.PixelRepresentation === 1 };
}

function decodeNative(src: FrameSource, pixel: PixelLocation, d: PixelDescription, index: number): DecodedFrame {
  const pixels = d.Rows * d.Columns;
  const ybr422 = d.PhotometricInterpretation === 'YBR_FULL_422' && d.SamplesPerPixel === 3;
  const storedSamples = ybr422 ? 2 : d.SamplesPerPixel;
  if (d.BitsAllocated === 1) {
    const nbits = pixels * d.SamplesPerPixel;
    const startBit = index * nbits;
    if (Math.ceil((startBit + nbits) / 8) > pixel.length) {
      throw new SrError('DICOM_TRUNCATED', `${src.source}: pixel data ends before frame ${index}`, { details: { source: src.source, frame: index } });
    }
    return unpackBits(src.bytes.subarray(pixel.offset, pixel.offset + pixel.length), startBit, nbits, d);
  }
  const bps = d.BitsAllocated >> 3;
  const frameLen = pixels * storedSamples * bps;
  const start = pixel.offset + index * frameLen;
  if (index * frameLen + frameLen > pixel.length) {
    throw new SrError('DICOM_TRUNCATED', `${src.source}: pixel data (${pixel.length} bytes) ends before frame ${index} (${frameLen} bytes each)`, {
      details: { source: src.source, frame: index, pixelDataLength: pixel.length, frameLength: frameLen },
    });
  }
  let raw = src.bytes.subarray(start, start + frameLen);
  // Big endian: samples wider than a byte are swapped; OW with 8-bit samples is swapped in 16-bit words.
  const swapWidth = !src.little ? (bps > 1 ? bps : pixel.vr === 'OW' ? 2 : 1) : 1;
  if (swapWidth > 1) {
    // Swap whole words of the value: an 8-bit frame in OW can start or end mid-word (odd sizes).
    const rel = index * frameLen;
    const a = pixel.offset + rel - (rel % swapWidth);
    const b = Math.min(pixel.offset + pixel.length, a + Math.ceil((start + frameLen - a) / swapWidth) * swapWidth);
    raw = swapBytes(src.bytes.subarray(a, b), swapWidth).subarray(start - a, start - a + frameLen);
  }
  if (ybr422) {
    raw = upsample422(raw, pixels, bps);
  }
  return finish(d, raw, bps, d.PlanarConfiguration === 1, pixel.tag);
}

/** PS3.5 8.1.1: bit-packed data, first pixel in the least significant bit. */
function unpackBits(b: Uint8Array, startBit: number, nbits: number, d: PixelDescription): DecodedFrame {
  if (Math.ceil((startBit + nbits) / 8) > b.length) throw new Error(`bit-packed data has ${b.length} bytes, need ${Math.ceil((startBit + nbits) / 8)}`);
  const out = new Uint8Array(nbits);
  for (let i = 0; i < nbits; i++) {
    const bit = startBit + i;
    out[i] = ((b[bit >> 3] as number) >> (bit & 7)) & 1;
  }
  return { data: out, rows: d.Rows, columns: d.Columns, samplesPerPixel: d.SamplesPerPixel };
}

function swapBytes(b: Uint8Array, w: number): Uint8Array {
  const out = new Uint8Array(b.length);
  const n = b.length - (b.length % w);
  for (let i = 0; i < n; i += w) for (let k = 0; k < w; k++) out[i + k] = b[i + w - 1 - k] as number;
  for (let i = n; i < b.length; i++) out[i] = b[i] as number;
  return out;
}

/** YBR_FULL_422 native (PS3.3 C.7.6.3.1.2): Y1 Y2 Cb Cr per pixel pair → Y Cb Cr per pixel. */
function upsample422(b: Uint8Array, pixels: number, bps: number): Uint8Array {
  const out = new Uint8Array(pixels * 3 * bps);
  const pairs = Math.floor(pixels / 2);
  for (let p = 0; p < pairs; p++) {
    for (let k = 0; k < bps; k++) {
      const y1 = b[(p * 4 + 0) * bps + k] as number;
      const y2 = b[(p * 4 + 1) * bps + k] as number;
      const cb = b[(p * 4 + 2) * bps + k] as number;
      const cr = b[(p * 4 + 3) * bps + k] as number;
      const o = p * 6 * bps + k;
      out[o] = y1; out[o + bps] = cb; out[o + 2 * bps] = cr;
      out[o + 3 * bps] = y2; out[o + 4 * bps] = cb; out[o + 5 * bps] = cr;
    }
  }
  return out;
}

// ---------- encapsulated ----------

function frameBytes(src: FrameSource, pixel: PixelLocation, d: PixelDescription, index: number, codec: string): Uint8Array {
  const frags = pixel.fragments;
  const nframes = d.NumberOfFrames;
  if (frags.length === 0) throw decodeError(src, index, 'encapsulated pixel data has no fragments');
  const firstItem = (frags[0] as Fragment).offset - 8;
  const eot = pixel.extendedOffsetTable;
  if (eot && eot.length === nframes) {
    const e = eot[index] as { offset: number; length: number };
    const s = firstItem + e.offset + 8;
    if (e.offset < 0 || s + e.length > src.bytes.length) throw decodeError(src, index, 'Extended Offset Table points outside the pixel data');
    return src.bytes.subarray(s, s + e.length);
  }
  let group: Fragment[];
  if (nframes === 1) group = [...frags];
  else {
    const bot = pixel.basicOffsetTable;
    if (bot.length === nframes && bot.every((v, i) => i === 0 || v > (bot[i - 1] as number))) {
      const lo = bot[index] as number;
      const hi = index + 1 < nframes ? (bot[index + 1] as number) : Infinity;
      group = frags.filter((f) => f.position >= lo && f.position < hi);
    } else if (frags.length === nframes) {
      group = [frags[index] as Fragment];
    } else {
      // Empty Basic Offset Table and fragments spanning frames: a frame starts where a codestream starts.
      const starts: number[] = [];
      frags.forEach((f, i) => {
        if (startsCodestream(src.bytes, f, codec)) starts.push(i);
      });
      if (starts.length !== nframes) {
        throw decodeError(src, index, `cannot map ${frags.length} fragments to ${nframes} frames (found ${starts.length} codestream starts)`);
      }
      const a = starts[index] as number;
      const b = index + 1 < nframes ? (starts[index + 1] as number) : frags.length;
      group = frags.slice(a, b);
    }
  }
  if (group.length === 0) throw decodeError(src, index, 'no fragments for this frame');
  if (group.length === 1) {
    const f = group[0] as Fragment;
    return src.bytes.subarray(f.offset, f.offset + f.length);
  }
  const total = group.reduce((s, f) => s + f.length, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const f of group) {
    out.set(src.bytes.subarray(f.offset, f.offset + f.length), o);
    o += f.length;
  }
  return out;
}

function startsCodestream(b: Uint8Array, f: Fragment, codec: string): boolean {
  const p = f.offset;
  if (f.length < 4) return false;
  const b0 = b[p], b1 = b[p + 1], b2 = b[p + 2], b3 = b[p + 3];
  if (codec === 'jpeg2000' || codec === 'htj2k') {
    return (b0 === 0xff && b1 === 0x4f && b2 === 0xff && b3 === 0x51) || (b0 === 0 && b1 === 0 && b2 === 0 && b3 === 0x0c);
  }
  if (codec === 'rle' || codec === 'deflate') return true;
  return b0 === 0xff && b1 === 0xd8;
}

function checkHeader(src: FrameSource, d: PixelDescription, index: number, h: CodestreamHeader | undefined, what: string): CodestreamHeader {
  if (!h) throw decodeError(src, index, `no ${what} header found in the frame`);
  if (h.width !== d.Columns || h.height !== d.Rows) {
    throw decodeError(src, index, `${what} codestream is ${h.width}×${h.height} but Columns×Rows is ${d.Columns}×${d.Rows}`);
  }
  if (h.components !== d.SamplesPerPixel) {
    throw decodeError(src, index, `${what} codestream has ${h.components} components but SamplesPerPixel is ${d.SamplesPerPixel}`);
  }
  return h;
}

async function decodeEncapsulated(src: FrameSource, d: PixelDescription, index: number, codec: string, frame: Uint8Array): Promise<DecodedFrame> {
  switch (codec) {
    case 'rle': {
      const pixels = d.Rows * d.Columns;
      const packed = d.BitsAllocated === 1;
      const bps = packed ? 1 : d.BitsAllocated >> 3;
      let raw: Uint8Array;
      try {
        raw = decodeRle(frame, packed ? Math.ceil(pixels / 8) : pixels, d.SamplesPerPixel, bps);
      } catch (e) {
        throw decodeError(src, index, e instanceof Error ? e.message : String(e), e);
      }
      return packed ? unpackBits(raw, 0, pixels * d.SamplesPerPixel, d) : finish(d, raw, bps, false, 0);
    }
    case 'deflate': {
      const pixels = d.Rows * d.Columns * d.SamplesPerPixel;
      const expected = d.BitsAllocated === 1 ? Math.ceil(pixels / 8) : pixels * (d.BitsAllocated >> 3);
      let raw: Uint8Array;
      try {
        // Bounded: a frame never inflates beyond its known size (+1 for an odd-length pad byte).
        const b = inflateRawSync(frame, { maxOutputLength: expected + 1 });
        raw = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        throw decodeError(src, index, `deflated frame could not be inflated: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      if (d.BitsAllocated === 1) return unpackBits(raw, 0, pixels, d);
      return finish(d, raw, d.BitsAllocated >> 3, d.PlanarConfiguration === 1, 0);
    }
    case 'jpeg-lossless': {
      const h = checkHeader(src, d, index, jpegHeader(frame), 'JPEG');
      const bps = h.precision > 8 ? 2 : 1;
      let raw: Uint8Array;
      try {
        raw = decodeJpegLossless(frame, bps);
      } catch (e) {
        throw decodeError(src, index, `JPEG lossless decoder: ${e instanceof Error ? e.message : String(e)}`, e);
      }
      return finish(d, raw, bps, false, 0);
    }
    case 'jpeg-8bit': {
      const h = checkHeader(src, d, index, jpegHeader(frame), 'JPEG');
      if (h.precision > 8) {
        if (d.SamplesPerPixel !== 1) throw decodeError(src, index, `${h.precision}-bit colour JPEG is not supported`);
        let raw: Uint8Array;
        try {
          raw = await decodeJpegExtended(frame, d.Columns, d.Rows, h.precision);
        } catch (e) {
          throw decodeError(src, index, `12-bit JPEG decoder: ${e instanceof Error ? e.message : String(e)}`, e);
        }
        return finish(d, raw, 2, false, 0);
      }
      return wasmFrame(src, d, index, 'jpeg-8bit', frame);
    }
    case 'jpeg-ls':
      checkHeader(src, d, index, jpegHeader(frame), 'JPEG-LS');
      return wasmFrame(src, d, index, 'jpeg-ls', frame);
    case 'jpeg2000':
    case 'htj2k':
      checkHeader(src, d, index, j2kHeader(frame), codec === 'htj2k' ? 'HTJ2K' : 'JPEG 2000');
      return wasmFrame(src, d, index, codec, frame);
    default:
      throw decodeError(src, index, `no decoder for ${codec}`);
  }
}

async function wasmFrame(src: FrameSource, d: PixelDescription, index: number, codec: WasmCodec, frame: Uint8Array): Promise<DecodedFrame> {
  let r;
  try {
    r = await wasmDecode(codec, frame);
  } catch (e) {
    throw decodeError(src, index, `${codec} decoder: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const samples = d.Rows * d.Columns * d.SamplesPerPixel;
  if (r.info.width !== d.Columns || r.info.height !== d.Rows || r.info.componentCount !== d.SamplesPerPixel) {
    throw decodeError(src, index, `decoded ${r.info.width}×${r.info.height}×${r.info.componentCount}, expected ${d.Columns}×${d.Rows}×${d.SamplesPerPixel}`);
  }
  const bps = r.bytes.length / samples;
  if (bps !== 1 && bps !== 2 && bps !== 4) throw decodeError(src, index, `decoder returned ${r.bytes.length} bytes for ${samples} samples`);
  const planar = codec === 'jpeg-ls' && r.interleaveMode === 0 && d.SamplesPerPixel > 1;
  return finish(d, r.bytes, bps, planar, 0);
}

// ---------- stored values ----------

type Ctor = Int16ArrayConstructor | Uint16ArrayConstructor | Uint8ArrayConstructor | Int32ArrayConstructor | Uint32ArrayConstructor | Float32ArrayConstructor | Float64ArrayConstructor;

/**
 * Raw little-endian samples → the frame's typed array. `raw` may be a view on the file bytes: it is
 * never written to; masking/sign extension writes a new array.
 */
function finish(d: PixelDescription, raw: Uint8Array, bps: number, planar: boolean, tag: number): DecodedFrame {
  const samples = d.Rows * d.Columns * d.SamplesPerPixel;
  if (raw.length < samples * bps) {
    throw new Error(`decoded data has ${raw.length} bytes, expected ${samples * bps}`);
  }
  let data: VoxelArray;
  if (tag === TAG_FLOAT || tag === TAG_DOUBLE) {
    const Target: Ctor = tag === TAG_FLOAT ? Float32Array : Float64Array;
    data = view(Target, raw, samples);
  } else {
    const signed = d.PixelRepresentation === 1;
    const outBytes = d.BitsAllocated <= 8 ? (signed ? 2 : 1) : d.BitsAllocated <= 16 ? 2 : 4;
    const Target: Ctor = outBytes === 1 ? Uint8Array : outBytes === 2 ? (signed ? Int16Array : Uint16Array) : signed ? Int32Array : Uint32Array;
    const bitsStored = Math.min(d.BitsStored, bps * 8, outBytes * 8);
    const fullWidth = bitsStored === bps * 8 && bps === outBytes;
    if (fullWidth) {
      data = view(Target, raw, samples);
    } else {
      const out = new Target(samples);
      if (bps === 2 && outBytes === 2) {
        // The common CT case (BitsStored 12 in 16 bits): one monomorphic pass, no polymorphic element access.
        mask16(view(Uint16Array, raw, samples), out as Uint16Array | Int16Array, bitsStored, signed);
      } else {
        const srcArr = bps === 1 ? raw.subarray(0, samples) : bps === 2 ? view(Uint16Array, raw, samples) : view(Uint32Array, raw, samples);
        if (signed) {
          const sh = 32 - bitsStored;
          for (let i = 0; i < samples; i++) out[i] = ((srcArr[i] as number) << sh) >> sh;
        } else {
          const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
          for (let i = 0; i < samples; i++) out[i] = ((srcArr[i] as number) & mask) >>> 0;
        }
      }
      data = out;
    }
  }
  if (planar && d.SamplesPerPixel > 1) data = interleave(data, d.Rows * d.Columns, d.SamplesPerPixel);
  return { data, rows: d.Rows, columns: d.Columns, samplesPerPixel: d.SamplesPerPixel };
}

/** 16-bit samples → masked (unsigned) or sign-extended (signed) values; split per output type to stay monomorphic. */
function mask16(src: Uint16Array, out: Uint16Array | Int16Array, bitsStored: number, signed: boolean): void {
  const n = src.length;
  if (signed) {
    const sh = 32 - bitsStored;
    const o = out as Int16Array;
    for (let i = 0; i < n; i++) o[i] = ((src[i] as number) << sh) >> sh;
  } else {
    const mask = (1 << bitsStored) - 1;
    const o = out as Uint16Array;
    for (let i = 0; i < n; i++) o[i] = (src[i] as number) & mask;
  }
}

/** A typed view on raw bytes when aligned, else an aligned copy. */
function view<C extends Ctor>(Target: C, raw: Uint8Array, count: number): InstanceType<C> {
  const width = Target.BYTES_PER_ELEMENT;
  if (raw.byteOffset % width === 0) {
    return new Target(raw.buffer as ArrayBuffer, raw.byteOffset, count) as InstanceType<C>;
  }
  const copy = raw.slice(0, count * width);
  return new Target(copy.buffer, 0, count) as InstanceType<C>;
}

function interleave(a: VoxelArray, pixels: number, spp: number): VoxelArray {
  const Target = a.constructor as Ctor;
  const out = new Target(pixels * spp);
  for (let s = 0; s < spp; s++) {
    const base = s * pixels;
    for (let i = 0; i < pixels; i++) out[i * spp + s] = a[base + i] as number;
  }
  return out;
}
