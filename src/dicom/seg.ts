/**
 * Generic BINARY Segmentation (PS3.3 A.51 Segmentation IOD) from a label volume on a patient-space grid: the
 * Segmentation Image, Multi-frame Functional Groups, Multi-frame Dimension, Frame of Reference, Image Pixel and
 * Common Instance Reference modules. One frame per (segment, slice k) that holds the segment, so a 5-voxel nodule
 * on a 300-slice CT is 3 frames, not 300. The caller adds Patient / Study / Series / Equipment / SOP Common.
 *
 * Geometry (PS3.3 C.7.6.2.1.1): frame k of the grid has ImagePositionPatient = origin + k·spacing_k·dir_k,
 * ImageOrientationPatient = (dir_i, dir_j), PixelSpacing = (row spacing = spacing_j, column spacing = spacing_i),
 * so pixel (row r, column c) of a frame is the voxel (i = c, j = r, k) at the same patient LPS point.
 * Pixels are 1 bit, packed across frames without per-frame padding, least significant bit first (PS3.5 8.1.1).
 */
import type { CodedEntry } from './sr-content.ts';
import { codedEntry } from './sr-content.ts';
import type { DicomDataset } from './types.ts';
import { formatDS } from './write.ts';
import { SrError } from '../core/errors.ts';

export const SEGMENTATION_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';

/** Purpose of reference of a segmentation's source image (PS3.16 CID 7202: 121322 DCM). */
const SOURCE_FOR_PROCESSING = codedEntry('121322', 'DCM', 'Source image for image processing operation');
/** Derivation of a segmentation (PS3.16 CID 7203: 113076 DCM). */
const DERIVATION_SEGMENTATION = codedEntry('113076', 'DCM', 'Segmentation');

/** Data element tags used as dimension index pointers (PS3.6): values of AT elements. */
const TAG = {
  ReferencedSegmentNumber: 0x0062000b,
  SegmentIdentificationSequence: 0x0062000a,
  ImagePositionPatient: 0x00200032,
  PlanePositionSequence: 0x00209113,
} as const;

export interface SegGrid {
  /** [nx, ny, nz]: columns, rows, slices. */
  readonly dims: readonly [number, number, number];
  /** mm along i, j, k. */
  readonly spacing: readonly [number, number, number];
  /** LPS of voxel (0, 0, 0). */
  readonly origin: readonly [number, number, number];
  /** Row-major 3×3; columns are the LPS unit vectors of i, j, k. */
  readonly direction: readonly number[];
}

export interface SegSegment {
  /** SegmentNumber, 1..n, in order. */
  readonly number: number;
  /** Voxel value of this segment in the label array. */
  readonly maskValue: number;
  readonly label: string;
  readonly description?: string;
  readonly category: CodedEntry;
  readonly type: CodedEntry;
  readonly typeModifier?: CodedEntry;
  readonly anatomicRegion?: CodedEntry;
  readonly anatomicRegionModifier?: CodedEntry;
  readonly algorithmName: string;
  readonly algorithmVersion: string;
  readonly trackingId?: string;
  readonly trackingUid?: string;
  /** sRGB 0..255, written as RecommendedDisplayCIELabValue. */
  readonly rgb?: readonly [number, number, number];
}

export interface SegSource {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly frameOfReferenceUid: string;
  /** SOP class of the source images; needed to reference them. */
  readonly sopClassUid?: string;
  /**
   * SOPInstanceUID of the source image of each k slice of the grid. Only when the grid IS the source stack (not
   * resampled): then every frame names its source image (DerivationImageSequence).
   */
  readonly sliceSopInstanceUids?: readonly string[];
}

export interface BinarySegmentationInput {
  readonly grid: SegGrid;
  /** nx·ny·nz voxel labels, index i + nx·(j + ny·k). */
  readonly labels: Uint8Array;
  readonly segments: readonly SegSegment[];
  readonly source: SegSource;
  readonly dimensionOrganizationUid: string;
  /** CS, ≤ 16 characters of A–Z 0–9 space and _. */
  readonly contentLabel: string;
  readonly contentDescription?: string;
  readonly instanceNumber?: number;
  readonly contentDate: string;
  readonly contentTime: string;
}

export interface BinarySegmentationFrame {
  readonly segmentNumber: number;
  readonly k: number;
}

function lab(rgb: readonly [number, number, number]): [number, number, number] {
  // sRGB → CIE XYZ (D65) → CIELab, then scaled as PS3.3 C.10.7.1.1 requires (L 0..100 → 0..65535, a/b −128..127 → 0..65535).
  const lin = rgb.map((v) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  }) as [number, number, number];
  const x = (0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2]) / 0.95047;
  const y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  const z = (0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2]) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const L = 116 * f(y) - 16;
  const a = 500 * (f(x) - f(y));
  const b = 200 * (f(y) - f(z));
  const clamp = (v: number) => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((b + 128) * 65535) / 255)];
}

/** Frames in output order: by segment, then along k. */
export function segmentationFrames(input: Pick<BinarySegmentationInput, 'grid' | 'labels' | 'segments'>): BinarySegmentationFrame[] {
  const [nx, ny, nz] = input.grid.dims;
  const plane = nx * ny;
  const present = new Map<number, Set<number>>();
  for (const s of input.segments) present.set(s.maskValue, new Set());
  for (let k = 0; k < nz; k++) {
    const base = k * plane;
    for (let p = 0; p < plane; p++) {
      const v = input.labels[base + p] ?? 0;
      if (v !== 0) present.get(v)?.add(k);
    }
  }
  return input.segments.flatMap((s) => [...(present.get(s.maskValue) ?? [])].sort((a, b) => a - b).map((k) => ({ segmentNumber: s.number, k })));
}

function framePosition(grid: SegGrid, k: number): [number, number, number] {
  const d = grid.direction;
  const t = k * grid.spacing[2];
  return [grid.origin[0] + (d[2] ?? 0) * t, grid.origin[1] + (d[5] ?? 0) * t, grid.origin[2] + (d[8] ?? 0) * t];
}

/** The SEG-specific modules of one BINARY segmentation instance (everything but patient/study/series/equipment/SOP common). */
export function binarySegmentationModules(input: BinarySegmentationInput): DicomDataset {
  const { grid, labels, source } = input;
  const [nx, ny, nz] = grid.dims;
  if (labels.length !== nx * ny * nz) throw new SrError('DICOM_WRITE_FAILED', `label array has ${labels.length} voxels, the grid ${nx}×${ny}×${nz}`);
  if (input.segments.length === 0) throw new SrError('DICOM_WRITE_FAILED', 'a segmentation needs at least one segment');
  input.segments.forEach((s, n) => {
    if (s.number !== n + 1) throw new SrError('DICOM_WRITE_FAILED', `segment numbers must be 1..n in order (got ${s.number} at ${n + 1})`);
  });
  const frames = segmentationFrames(input);
  if (frames.length === 0) throw new SrError('DICOM_WRITE_FAILED', 'no segment has a voxel in the label array');
  const byNumber = new Map(input.segments.map((s) => [s.number, s]));
  const d = grid.direction;
  const rowDir = [d[0] ?? 1, d[3] ?? 0, d[6] ?? 0];
  const colDir = [d[1] ?? 0, d[4] ?? 1, d[7] ?? 0];
  const plane = nx * ny;
  const bits = frames.length * plane;
  const bytes = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
  frames.forEach((f, n) => {
    const value = byNumber.get(f.segmentNumber)?.maskValue ?? 0;
    const base = f.k * plane;
    const bit0 = n * plane;
    for (let p = 0; p < plane; p++) {
      if (labels[base + p] === value) {
        const b = bit0 + p;
        bytes[b >> 3] = (bytes[b >> 3] ?? 0) | (1 << (b & 7));
      }
    }
  });
  const slices = source.sliceSopInstanceUids;
  const canReference = source.sopClassUid !== undefined && slices !== undefined && slices.length === nz;
  const perFrame = frames.map((f) => {
    const sop = canReference ? slices[f.k] : undefined;
    return {
      FrameContentSequence: [{ DimensionIndexValues: [f.segmentNumber, f.k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: framePosition(grid, f.k).map(formatDS) }],
      ...(sop && source.sopClassUid
        ? {
          DerivationImageSequence: [{
            SourceImageSequence: [{ ReferencedSOPClassUID: source.sopClassUid, ReferencedSOPInstanceUID: sop, PurposeOfReferenceCodeSequence: [SOURCE_FOR_PROCESSING] }],
            DerivationCodeSequence: [DERIVATION_SEGMENTATION],
          }],
        }
        : {}),
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: f.segmentNumber }],
    };
  });
  const referenced = source.sopClassUid && slices && slices.length > 0 ? [...new Set(slices)] : [];
  const segments = input.segments.map((s) => ({
    SegmentNumber: s.number,
    SegmentLabel: s.label.slice(0, 64),
    ...(s.description ? { SegmentDescription: s.description.slice(0, 1024) } : {}),
    SegmentedPropertyCategoryCodeSequence: [s.category],
    SegmentedPropertyTypeCodeSequence: [{ ...s.type, ...(s.typeModifier ? { SegmentedPropertyTypeModifierCodeSequence: [s.typeModifier] } : {}) }],
    ...(s.anatomicRegion ? { AnatomicRegionSequence: [{ ...s.anatomicRegion, ...(s.anatomicRegionModifier ? { AnatomicRegionModifierSequence: [s.anatomicRegionModifier] } : {}) }] } : {}),
    SegmentAlgorithmType: 'AUTOMATIC',
    SegmentAlgorithmName: s.algorithmName.slice(0, 64),
    ...(s.trackingId ? { TrackingID: s.trackingId.slice(0, 64) } : {}),
    ...(s.trackingUid ? { TrackingUID: s.trackingUid } : {}),
    ...(s.rgb ? { RecommendedDisplayCIELabValue: lab(s.rgb) } : {}),
  }));
  return {
    // Frame of Reference: the source's, so the segmentation overlays the images it was made from.
    FrameOfReferenceUID: source.frameOfReferenceUid,
    PositionReferenceIndicator: '',
    // Segmentation Image (PS3.3 C.8.20.2)
    ImageType: ['DERIVED', 'PRIMARY'],
    ContentLabel: input.contentLabel.toUpperCase().replace(/[^A-Z0-9 _]/g, '_').slice(0, 16),
    ...(input.contentDescription ? { ContentDescription: input.contentDescription.slice(0, 64) } : {}),
    ContentCreatorName: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelRepresentation: 0,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    Rows: ny,
    Columns: nx,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    SegmentSequence: segments,
    // Multi-frame Functional Groups (PS3.3 C.7.6.16)
    InstanceNumber: input.instanceNumber ?? 1,
    ContentDate: input.contentDate,
    ContentTime: input.contentTime,
    NumberOfFrames: frames.length,
    SharedFunctionalGroupsSequence: [{
      PixelMeasuresSequence: [{
        PixelSpacing: [formatDS(grid.spacing[1]), formatDS(grid.spacing[0])],
        SliceThickness: formatDS(grid.spacing[2]),
        SpacingBetweenSlices: formatDS(grid.spacing[2]),
      }],
      PlaneOrientationSequence: [{ ImageOrientationPatient: [...rowDir, ...colDir].map((v) => formatDS(Math.abs(v) < 1e-12 ? 0 : v)) }],
    }],
    PerFrameFunctionalGroupsSequence: perFrame,
    // Multi-frame Dimension (PS3.3 C.7.6.17): segment, then position along k.
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: input.dimensionOrganizationUid }],
    DimensionIndexSequence: [
      { DimensionOrganizationUID: input.dimensionOrganizationUid, DimensionIndexPointer: TAG.ReferencedSegmentNumber, FunctionalGroupPointer: TAG.SegmentIdentificationSequence, DimensionDescriptionLabel: 'Segment Number' },
      { DimensionOrganizationUID: input.dimensionOrganizationUid, DimensionIndexPointer: TAG.ImagePositionPatient, FunctionalGroupPointer: TAG.PlanePositionSequence, DimensionDescriptionLabel: 'Image Position Patient' },
    ],
    // Common Instance Reference (PS3.3 C.12.2): the source series and its slices.
    ...(referenced.length > 0 && source.sopClassUid
      ? { ReferencedSeriesSequence: [{ SeriesInstanceUID: source.seriesInstanceUid, ReferencedInstanceSequence: referenced.map((uid) => ({ ReferencedSOPClassUID: source.sopClassUid, ReferencedSOPInstanceUID: uid })) }] }
      : {}),
    PixelData: [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)],
    _vrMap: { PixelData: 'OB' },
  };
}

/** Unpacks frame n (0-based) of BINARY pixel data into 0/1 values, rows × columns. */
export function unpackBinaryFrame(pixelData: Uint8Array, n: number, rows: number, columns: number): Uint8Array {
  const plane = rows * columns;
  const out = new Uint8Array(plane);
  const bit0 = n * plane;
  for (let p = 0; p < plane; p++) {
    const b = bit0 + p;
    out[p] = ((pixelData[b >> 3] ?? 0) >> (b & 7)) & 1;
  }
  return out;
}
