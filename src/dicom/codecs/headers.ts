/**
 * Reads the image size out of a codestream's header markers before any decoder sees it, so that a frame
 * whose codestream disagrees with Rows/Columns (or claims 65535² pixels) is refused before a decoder
 * allocates for it. Marker walking only (ITU T.81 B.1, T.87 / ISO 14495-1, ISO 15444-1 A.5.1) — no decoding.
 */

export interface CodestreamHeader {
  readonly width: number;
  readonly height: number;
  readonly components: number;
  readonly precision: number;
}

/** JPEG (all processes) and JPEG-LS: the first SOFn / SOF55 before SOS. */
export function jpegHeader(b: Uint8Array): CodestreamHeader | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return undefined;
    const m = b[p + 1] as number;
    if (m === 0xff) {
      p += 1; // fill byte
      continue;
    }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    const len = ((b[p + 2] as number) << 8) | (b[p + 3] as number);
    if (len < 2) return undefined;
    const isSof = (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) || m === 0xf7;
    if (isSof) {
      if (p + 10 > b.length) return undefined;
      return {
        precision: b[p + 4] as number,
        height: ((b[p + 5] as number) << 8) | (b[p + 6] as number),
        width: ((b[p + 7] as number) << 8) | (b[p + 8] as number),
        components: b[p + 9] as number,
      };
    }
    if (m === 0xda || m === 0xd9) return undefined;
    p += 2 + len;
  }
  return undefined;
}

/** JPEG 2000 / HTJ2K: the SIZ segment of the codestream (a JP2 wrapper is searched for its codestream). */
export function j2kHeader(b: Uint8Array): CodestreamHeader | undefined {
  let p = -1;
  const limit = Math.min(b.length - 4, 1 << 16);
  for (let i = 0; i <= limit; i++) {
    if (b[i] === 0xff && b[i + 1] === 0x4f && b[i + 2] === 0xff && b[i + 3] === 0x51) {
      p = i + 2;
      break;
    }
  }
  if (p < 0 || p + 41 > b.length) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const xsiz = dv.getUint32(p + 6);
  const ysiz = dv.getUint32(p + 10);
  const xo = dv.getUint32(p + 14);
  const yo = dv.getUint32(p + 18);
  const csiz = dv.getUint16(p + 38);
  const ssiz = b[p + 40] as number;
  return { width: xsiz - xo, height: ysiz - yo, components: csiz, precision: (ssiz & 0x7f) + 1 };
}
