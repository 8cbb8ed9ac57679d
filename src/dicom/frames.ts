/**
 * One image plane of a DICOM object — a classic single-frame instance or one frame of an enhanced
 * multi-frame object — with the attributes that place it in space and turn stored values into modality
 * values. Enhanced objects keep those attributes in functional groups (PS3.3 C.7.6.16): the per-frame item
 * wins over the shared item, which wins over the top-level dataset.
 */
import type { Vec3 } from '../imaging/volume.ts';
import { getNumber, getNumbers, getSequence, getString, getStrings } from './dataset.ts';
import type { DicomDataset, DicomFile } from './types.ts';

export interface FrameRef {
  readonly file: DicomFile;
  /** 0-based frame index in `file`. */
  readonly frameIndex: number;
  readonly sopInstanceUid: string;
  readonly rows: number;
  readonly columns: number;
  /** ImagePositionPatient (LPS mm of the centre of the first transmitted pixel). */
  readonly position: Vec3 | undefined;
  /** ImageOrientationPatient: row cosines then column cosines. */
  readonly orientation: readonly number[] | undefined;
  /** DICOM PixelSpacing: [spacing between rows (along j), spacing between columns (along i)]. */
  readonly pixelSpacing: readonly [number, number] | undefined;
  readonly rescaleSlope: number;
  readonly rescaleIntercept: number;
  readonly sliceThickness: number | undefined;
  readonly instanceNumber: number | undefined;
}

type FunctionalGroupMacro = 'PlanePositionSequence' | 'PlaneOrientationSequence' | 'PixelMeasuresSequence' | 'PixelValueTransformationSequence';

/** The first item of `macro` in the per-frame group, else the shared group. */
function functionalGroupItem(ds: DicomDataset, frameIndex: number, macro: string): DicomDataset | undefined {
  const perFrame = getSequence(ds, 'PerFrameFunctionalGroupsSequence')[frameIndex];
  const fromPerFrame = perFrame ? getSequence(perFrame, macro)[0] : undefined;
  if (fromPerFrame) return fromPerFrame;
  const shared = getSequence(ds, 'SharedFunctionalGroupsSequence')[0];
  return shared ? getSequence(shared, macro)[0] : undefined;
}

function vec3(v: number[] | undefined): Vec3 | undefined {
  if (!v || v.length < 3) return undefined;
  return [v[0] as number, v[1] as number, v[2] as number];
}

function isEnhanced(ds: DicomDataset): boolean {
  return ds['PerFrameFunctionalGroupsSequence'] !== undefined || ds['SharedFunctionalGroupsSequence'] !== undefined;
}

/** All image planes of a parsed object (none when it has no pixel data). */
export function framesOf(file: DicomFile): FrameRef[] {
  const ds = file.dataset;
  const px = file.pixel;
  if (!px) return [];
  const sopInstanceUid = getString(ds, 'SOPInstanceUID') ?? file.source;
  const instanceNumber = getNumber(ds, 'InstanceNumber');
  const enhanced = isEnhanced(ds);
  const out: FrameRef[] = [];
  for (let f = 0; f < file.frameCount; f++) {
    const pick = (macro: FunctionalGroupMacro): DicomDataset =>
      (enhanced ? functionalGroupItem(ds, f, macro) : undefined) ?? ds;
    const posDs = pick('PlanePositionSequence');
    const oriDs = pick('PlaneOrientationSequence');
    const measDs = pick('PixelMeasuresSequence');
    const pvtDs = pick('PixelValueTransformationSequence');
    const ps = getNumbers(measDs, 'PixelSpacing') ?? getNumbers(ds, 'PixelSpacing');
    const iop = getNumbers(oriDs, 'ImageOrientationPatient') ?? getNumbers(ds, 'ImageOrientationPatient');
    const slope = getNumber(pvtDs, 'RescaleSlope') ?? getNumber(ds, 'RescaleSlope');
    const intercept = getNumber(pvtDs, 'RescaleIntercept') ?? getNumber(ds, 'RescaleIntercept');
    out.push({
      file,
      frameIndex: f,
      sopInstanceUid,
      rows: px.Rows,
      columns: px.Columns,
      position: vec3(getNumbers(posDs, 'ImagePositionPatient') ?? getNumbers(ds, 'ImagePositionPatient')),
      orientation: iop && iop.length >= 6 ? iop.slice(0, 6) : undefined,
      pixelSpacing: ps && ps.length >= 2 && ps[0]! > 0 && ps[1]! > 0 ? [ps[0]!, ps[1]!] : undefined,
      // A zero slope is never meant literally (it would erase the image): treat it as absent.
      rescaleSlope: slope !== undefined && slope !== 0 ? slope : 1,
      rescaleIntercept: intercept ?? 0,
      sliceThickness: getNumber(measDs, 'SliceThickness') ?? getNumber(ds, 'SliceThickness'),
      instanceNumber,
    });
  }
  return out;
}

/** ImageType values of the object (for enhanced objects FrameType of the shared group when ImageType is absent). */
export function imageTypeOf(ds: DicomDataset): string[] {
  const it = getStrings(ds, 'ImageType');
  if (it.length > 0) return it.map((s) => s.toUpperCase());
  const shared = getSequence(ds, 'SharedFunctionalGroupsSequence')[0];
  const ctFrameType = shared ? getSequence(shared, 'CTImageFrameTypeSequence')[0] : undefined;
  return ctFrameType ? getStrings(ctFrameType, 'FrameType').map((s) => s.toUpperCase()) : [];
}
