/**
 * The "AI key images" series: one Secondary Capture Image (PS3.3 A.8.1) per finding with a label, RGB, the
 * finding outlined and the assistive disclaimer + provenance burned in (BurnedInAnnotation YES). The pixels are
 * a derived picture for reading, not for measuring: no PixelSpacing is claimed, and DerivationDescription says
 * exactly what was done to the source slice.
 */
import { formatDS } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import type { Int16Volume, MaskVolume } from '../imaging/index.ts';
import { DISCLAIMER, DISCLAIMER_SHORT, dicomDateTime, equipmentModule, orientationLetters, outputUid, patientStudyModules, seriesFromSource, sopCommon, withCharset } from './dicom-common.ts';
import type { OutputProvenance, OutputSource } from './dicom-common.ts';
import { renderKeyImage } from './key-image.ts';
import type { KeyImage } from './key-image.ts';

export const SECONDARY_CAPTURE_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';
export const KEY_IMAGE_SERIES_NUMBER = 9901;

export interface KeyImageFinding {
  readonly id: string;
  readonly kind: string;
  readonly probability: number;
  readonly label: number;
  /** Slice index along k through the finding's centre. */
  readonly k: number;
  /** One short line about the finding (size...), burned in under the image. */
  readonly summary?: string;
}

/** A finding's key image, rendered while the volume is in memory; the DICOM object is made from it later. */
export interface RenderedKeyImage {
  readonly finding: KeyImageFinding;
  readonly image: KeyImage;
  readonly sliceCount: number;
  readonly window: { readonly center: number; readonly width: number };
  /** LPS directions of the image rows and columns (PatientOrientation). */
  readonly rowDirection: readonly number[];
  readonly columnDirection: readonly number[];
}

export interface RenderKeyImagesInput {
  readonly analysisId: string;
  readonly analysisVersion: string;
  readonly volume: Int16Volume;
  readonly mask: MaskVolume;
  readonly window: { readonly center: number; readonly width: number };
  readonly findings: readonly KeyImageFinding[];
}

export function renderKeyImages(input: RenderKeyImagesInput): RenderedKeyImage[] {
  const dir = input.volume.direction;
  const nz = input.volume.dims[2];
  return input.findings.map((f) => {
    const k = Math.max(0, Math.min(nz - 1, Math.round(f.k)));
    const image = renderKeyImage({
      volume: input.volume, mask: input.mask, k, window: input.window, label: f.label,
      header: [DISCLAIMER_SHORT, 'REQUIRES PHYSICIAN CONFIRMATION'],
      footer: [
        `AI ${input.analysisId} ${input.analysisVersion}`,
        `FINDING ${f.id}: ${f.kind} P=${f.probability.toFixed(2)}${f.summary ? ` ${f.summary}` : ''}`,
        `SLICE ${k + 1}/${nz}`,
      ],
    });
    return { finding: { ...f, k }, image, sliceCount: nz, window: input.window, rowDirection: [dir[0], dir[3], dir[6]], columnDirection: [dir[1], dir[4], dir[7]] };
  });
}

export interface KeyImageSeriesInput {
  readonly provenance: OutputProvenance;
  readonly source: OutputSource;
  readonly images: readonly RenderedKeyImage[];
}

export function keyImageSeriesUid(p: OutputProvenance): string {
  return outputUid(p, 'key-images/series');
}

export function keyImageSeriesDescription(p: OutputProvenance): string {
  return `AI key images ${p.analysisId} ${p.analysisVersion} (${DISCLAIMER_SHORT})`.slice(0, 64);
}

export function keyImageUid(p: OutputProvenance, findingId: string): string {
  return outputUid(p, `key-images/${findingId}`);
}

/** One SC dataset per rendered key image, InstanceNumber in finding order. */
export function buildKeyImageSeries(input: KeyImageSeriesInput): DicomDataset[] {
  const p = input.provenance;
  const seriesUid = keyImageSeriesUid(p);
  const { date, time } = dicomDateTime(p.createdAt);
  return input.images.map((r, n) => {
    const { finding: f, image: img } = r;
    const k = f.k;
    const sourceSop = input.source.sliceSopInstanceUids?.[k];
    const sourceClass = typeof input.source.attributes['SOPClassUID'] === 'string' ? input.source.attributes['SOPClassUID'] : undefined;
    const resampled = (input.source.volumeNotes ?? []).length > 0;
    const derivation = [
      `Axial slice ${k + 1} of ${r.sliceCount} of series ${input.source.seriesInstanceUid}${resampled ? ' (volume built with notes: ' + (input.source.volumeNotes ?? []).join('; ') + ')' : ''}`,
      `window ${r.window.center}/${r.window.width} to 8-bit grey`,
      img.zoom > 1 ? `enlarged ${img.zoom}x nearest neighbour` : 'not resampled in plane',
      `outline of the AI label mask of ${p.analysisId} ${p.analysisVersion} (finding ${f.id} yellow, other findings cyan) and text burned in`,
      'not for measurement',
    ].join('; ');
    const ds: DicomDataset = {
      ...sopCommon(p, SECONDARY_CAPTURE_IMAGE_STORAGE, keyImageUid(p, f.id)),
      ...patientStudyModules(input.source),
      // General Series. OT, not the source modality: routing rules then never send our own output back into a CT analysis.
      Modality: 'OT',
      SeriesInstanceUID: seriesUid,
      SeriesNumber: KEY_IMAGE_SERIES_NUMBER,
      SeriesDescription: keyImageSeriesDescription(p),
      SeriesDate: date,
      SeriesTime: time,
      ...seriesFromSource(input.source),
      ...equipmentModule(p),
      // SC Equipment: a workstation made these pictures; the analysis is the "device".
      ConversionType: 'WSD',
      SecondaryCaptureDeviceManufacturer: 'SecondReader',
      SecondaryCaptureDeviceManufacturerModelName: p.analysisId.slice(0, 64),
      SecondaryCaptureDeviceSoftwareVersions: [p.analysisVersion],
      // General Image
      InstanceNumber: n + 1,
      PatientOrientation: [orientationLetters(r.rowDirection), orientationLetters(r.columnDirection)],
      ContentDate: date,
      ContentTime: time,
      ImageType: ['DERIVED', 'SECONDARY'],
      DerivationDescription: derivation.slice(0, 1024),
      ...(sourceSop && sourceClass && !resampled
        ? { SourceImageSequence: [{ ReferencedSOPClassUID: sourceClass, ReferencedSOPInstanceUID: sourceSop }] }
        : {}),
      ImageComments: `${DISCLAIMER} Analysis ${p.analysisId} ${p.analysisVersion}, result ${p.resultId}. Finding ${f.id} (${f.kind}), probability ${formatDS(f.probability)}.`,
      BurnedInAnnotation: 'YES',
      RecognizableVisualFeatures: 'NO',
      LossyImageCompression: '00',
      // SC Image
      DateOfSecondaryCapture: date,
      TimeOfSecondaryCapture: time,
      // Image Pixel
      SamplesPerPixel: 3,
      PhotometricInterpretation: 'RGB',
      PlanarConfiguration: 0,
      Rows: img.height,
      Columns: img.width,
      BitsAllocated: 8,
      BitsStored: 8,
      HighBit: 7,
      PixelRepresentation: 0,
      PixelData: [img.rgb.buffer.slice(img.rgb.byteOffset, img.rgb.byteOffset + img.rgb.byteLength)],
      _vrMap: { PixelData: 'OB' },
    };
    return withCharset(ds);
  });
}
