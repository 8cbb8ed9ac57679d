/**
 * Shared DICOM types. Attributes keep their standard DICOM keywords (dcmjs "naturalized" style:
 * `dataset.SeriesInstanceUID`, `dataset.ImagePositionPatient`), never invented names.
 */
import type { VoxelArray } from '../imaging/volume.ts';

/** A naturalized dataset: DICOM keyword → value (string | number | arrays | nested datasets for SQ). */
export type DicomDataset = Record<string, unknown>;

export interface PixelDescription {
  readonly Rows: number;
  readonly Columns: number;
  readonly BitsAllocated: number;
  readonly BitsStored: number;
  readonly HighBit: number;
  /** 0 = unsigned, 1 = two's complement. */
  readonly PixelRepresentation: number;
  readonly SamplesPerPixel: number;
  readonly PhotometricInterpretation: string;
  readonly PlanarConfiguration: number;
  readonly NumberOfFrames: number;
}

/** One decoded frame: stored values (before Modality LUT / rescale), interleaved samples for colour. */
export interface DecodedFrame {
  readonly data: VoxelArray;
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
}

/** A parsed Part 10 file (or a dataset without file meta). Pixel data stays encoded until asked for. */
export interface DicomFile {
  /** Where it came from (path or label), named in every error. */
  readonly source: string;
  readonly transferSyntaxUID: string;
  /** Header attributes, naturalized; PixelData is not in here. */
  readonly dataset: DicomDataset;
  /** Present when the object has pixel data. */
  readonly pixel: PixelDescription | undefined;
  readonly frameCount: number;
  /** Decodes one frame (0-based) to stored values; throws SrError DICOM_DECODE_FAILED / DICOM_FRAME_OUT_OF_RANGE. */
  decodeFrame(index: number): Promise<DecodedFrame>;
}
