/**
 * DICOM RLE (PS3.5 Annex G): a 64-byte header (segment count ≤ 15 and their offsets), each segment a
 * PackBits byte stream of one byte plane (most significant byte of each sample first). Small and fully
 * specified, so decoded here rather than pulling a dependency. Every loop is bounded by the input and
 * output lengths.
 */

/**
 * Decodes one RLE frame to little-endian interleaved samples (bytesPerSample × samplesPerPixel per pixel).
 * `pixels` is the number of bytes each segment decodes to: Rows × Columns, or ⌈Rows × Columns / 8⌉ for
 * bit-packed (BitsAllocated 1) data, whose single byte plane is returned still packed.
 */
export function decodeRle(frame: Uint8Array, pixels: number, samplesPerPixel: number, bytesPerSample: number): Uint8Array {
  if (frame.length < 64) throw new Error(`RLE frame of ${frame.length} bytes is shorter than its 64-byte header`);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const nseg = dv.getUint32(0, true);
  const expected = samplesPerPixel * bytesPerSample;
  if (nseg !== expected) throw new Error(`RLE header has ${nseg} segments, expected ${expected}`);
  const out = new Uint8Array(pixels * expected);
  const stride = expected;
  for (let s = 0; s < nseg; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < nseg ? dv.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || start > frame.length || end < start || end > frame.length) {
      throw new Error(`RLE segment ${s} offsets ${start}..${end} are outside the ${frame.length}-byte frame`);
    }
    const sample = Math.floor(s / bytesPerSample);
    // Segment order is MSB first; output is little endian.
    const byteInSample = bytesPerSample - 1 - (s % bytesPerSample);
    let o = sample * bytesPerSample + byteInSample;
    let written = 0;
    let p = start;
    while (p < end && written < pixels) {
      const n = frame[p++] as number;
      if (n < 128) {
        // literal run of n+1 bytes
        const count = Math.min(n + 1, end - p, pixels - written);
        for (let k = 0; k < count; k++) {
          out[o] = frame[p + k] as number;
          o += stride;
        }
        p += n + 1;
        written += count;
      } else if (n > 128) {
        if (p >= end) break;
        const v = frame[p++] as number;
        const count = Math.min(257 - n, pixels - written);
        for (let k = 0; k < count; k++) {
          out[o] = v;
          o += stride;
        }
        written += count;
      }
      // n === 128: no-op
    }
    if (written < pixels) throw new Error(`RLE segment ${s} decodes to ${written} of ${pixels} bytes`);
  }
  return out;
}
