/** Transfer Syntax UIDs (PS3.6 Annex A) and what each needs to decode its pixel data. */
export const TS = {
  ImplicitLE: '1.2.840.10008.1.2',
  ExplicitLE: '1.2.840.10008.1.2.1',
  Deflated: '1.2.840.10008.1.2.1.99',
  /** Deflated Image Frame Compression: encapsulated, each frame raw-deflated (not the dataset). */
  DeflatedImage: '1.2.840.10008.1.2.8.1',
  ExplicitBE: '1.2.840.10008.1.2.2',
  JpegBaseline: '1.2.840.10008.1.2.4.50',
  JpegExtended: '1.2.840.10008.1.2.4.51',
  JpegLossless: '1.2.840.10008.1.2.4.57',
  JpegLosslessSV1: '1.2.840.10008.1.2.4.70',
  JpegLsLossless: '1.2.840.10008.1.2.4.80',
  JpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  Jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  Jpeg2000: '1.2.840.10008.1.2.4.91',
  Htj2kLossless: '1.2.840.10008.1.2.4.201',
  Htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  Htj2k: '1.2.840.10008.1.2.4.203',
  Rle: '1.2.840.10008.1.2.5',
} as const;

export type PixelCodec = 'native' | 'deflate' | 'rle' | 'jpeg-8bit' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg2000' | 'htj2k';

const CODEC: Record<string, PixelCodec> = {
  [TS.ImplicitLE]: 'native',
  [TS.ExplicitLE]: 'native',
  [TS.Deflated]: 'native',
  [TS.DeflatedImage]: 'deflate',
  [TS.ExplicitBE]: 'native',
  [TS.JpegBaseline]: 'jpeg-8bit',
  [TS.JpegExtended]: 'jpeg-8bit',
  [TS.JpegLossless]: 'jpeg-lossless',
  [TS.JpegLosslessSV1]: 'jpeg-lossless',
  [TS.JpegLsLossless]: 'jpeg-ls',
  [TS.JpegLsNearLossless]: 'jpeg-ls',
  [TS.Jpeg2000Lossless]: 'jpeg2000',
  [TS.Jpeg2000]: 'jpeg2000',
  [TS.Htj2kLossless]: 'htj2k',
  [TS.Htj2kLosslessRpcl]: 'htj2k',
  [TS.Htj2k]: 'htj2k',
  [TS.Rle]: 'rle',
};

/** Encapsulated syntaxes whose dataset we can read although no codec is bundled (MPEG, HEVC, JPIP...). */
const READABLE_ONLY = /^1\.2\.840\.10008\.1\.2\.(4\.\d+|6\.\d+|7\.\d+|8\.\d+)$/;

export function codecFor(ts: string): PixelCodec | undefined {
  return CODEC[ts];
}

export function isKnownTransferSyntax(ts: string): boolean {
  return ts in CODEC || READABLE_ONLY.test(ts);
}
