/**
 * Writes an Int16 HU volume as a CT Image Storage series (one single-frame file per slice, explicit VR little
 * endian) that dciodvfy accepts without errors: Patient, General Study, Patient Study, General Series, Frame of
 * Reference, General Equipment, General Acquisition, General Image, Image Plane, Image Pixel, CT Image, VOI LUT
 * and SOP Common modules.
 *
 * The series can be made deliberately awkward to read, as real exports are: opaque shuffled file names,
 * InstanceNumber that does not follow position, either RescaleIntercept convention, oblique orientation and a
 * gantry tilt (a volume whose k axis is not normal to its i/j plane).
 */
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SrError } from '../core/errors.ts';
import { GENERATOR } from '../core/version.ts';
import { cross, dot, ijkToLps, norm } from '../imaging/volume.ts';
import type { Int16Volume, Mat3, Vec3 } from '../imaging/volume.ts';
import type { DicomDataset } from './types.ts';
import { dicomToBuffer, formatDS, newUid, uidFromString, writeFileAtomic } from './write.ts';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

/**
 * 'signed': PixelRepresentation 1, BitsStored 16, RescaleIntercept 0 (stored value = HU).
 * 'unsigned': PixelRepresentation 0, BitsStored 12, RescaleIntercept −1024 (stored = HU + 1024, clipped to
 * 0..4095, i.e. HU −1024..3071, as many scanners do).
 */
export type CtPixelStorage = 'signed' | 'unsigned';
/** 'ordered': IM-00001.dcm in slice order; 'opaque': hash-like names without extension, unrelated to position. */
export type CtFileNaming = 'ordered' | 'opaque';
/** How InstanceNumber relates to the k index: 1..n along k, n..1, or a seeded permutation. */
export type CtInstanceOrder = 'position' | 'reversed' | 'shuffled';

export interface CtSeriesWriteOptions {
  outDir: string;
  /** Makes UIDs, opaque names and the shuffled order reproducible. Without it UIDs are random. */
  uidSeed?: string;
  storage?: CtPixelStorage;
  fileNaming?: CtFileNaming;
  instanceOrder?: CtInstanceOrder;
  patient?: {
    PatientName?: string;
    PatientID?: string;
    PatientSex?: 'M' | 'F' | 'O';
    /** Written as PatientAge "NNNY"; with StudyDate it also gives a PatientBirthDate. */
    ageYears?: number;
    PatientBirthDate?: string;
  };
  study?: {
    StudyInstanceUID?: string;
    /** YYYYMMDD; default 20240102 so output is reproducible. */
    StudyDate?: string;
    StudyTime?: string;
    StudyID?: string;
    AccessionNumber?: string;
    StudyDescription?: string;
    ReferringPhysicianName?: string;
  };
  series?: {
    SeriesInstanceUID?: string;
    SeriesNumber?: number;
    SeriesDescription?: string;
    BodyPartExamined?: string;
    ProtocolName?: string;
    /** Required for CT (Type 2C); default HFS. */
    PatientPosition?: string;
  };
  FrameOfReferenceUID?: string;
  /** Default: the distance between slice planes. */
  sliceThicknessMm?: number;
  acquisition?: {
    KVP?: number;
    XRayTubeCurrent?: number;
    ExposureTime?: number;
    ConvolutionKernel?: string;
    Manufacturer?: string;
    ManufacturerModelName?: string;
    InstitutionName?: string;
  };
  window?: { center: number; width: number };
  /** Extra attributes merged into every slice (e.g. ImageComments). They override the generated ones. */
  extraAttributes?: DicomDataset;
  onProgress?: (done: number, total: number) => void;
}

export interface CtSeriesInstance {
  path: string;
  /** Slice index k of the volume. */
  k: number;
  InstanceNumber: number;
  SOPInstanceUID: string;
  ImagePositionPatient: Vec3;
}

export interface CtSeriesWriteResult {
  /** File paths in k order. */
  files: string[];
  instances: CtSeriesInstance[];
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  FrameOfReferenceUID: string;
  /** Angle in degrees between the k axis and the slice normal (0 for an untilted series). */
  gantryTiltDeg: number;
}

function column(m: Mat3, c: number): Vec3 {
  return [m[c] ?? 0, m[3 + c] ?? 0, m[6 + c] ?? 0];
}

/**
 * Direction matrix of an axial series acquired with gantry tilt `deg` about the patient's left–right axis:
 * rows along +x, columns tilted in the y–z plane, slices stacked along +z (the table direction). Voxel grids
 * with this direction are sheared, which is what tilted CT series look like to a reader.
 */
export function gantryTiltDirection(deg: number): Mat3 {
  const t = (deg * Math.PI) / 180;
  // Columns: i = (1,0,0), j = (0,cos t, sin t) [tilted column cosine], k = (0,0,1) [table motion].
  return [1, 0, 0, 0, Math.cos(t), 0, 0, Math.sin(t), 1];
}

function seededHash(seed: string, label: string): string {
  return createHash('sha256').update(`${seed}/${label}`).digest('hex');
}

function instanceNumbers(n: number, order: CtInstanceOrder, seed: string): number[] {
  const ks = Array.from({ length: n }, (_, k) => k);
  if (order === 'position') return ks.map((k) => k + 1);
  if (order === 'reversed') return ks.map((k) => n - k);
  const perm = [...ks].sort((a, b) => (seededHash(seed, `in${a}`) < seededHash(seed, `in${b}`) ? -1 : 1));
  const out = new Array<number>(n);
  perm.forEach((k, rank) => {
    out[k] = rank + 1;
  });
  return out;
}

function ageString(years: number): string {
  if (!(years >= 0 && years < 1000)) throw new SrError('DICOM_WRITE_FAILED', `invalid age ${years}`);
  return `${String(Math.floor(years)).padStart(3, '0')}Y`;
}

function birthDateFromAge(studyDate: string, years: number): string {
  const y = Number(studyDate.slice(0, 4)) - Math.floor(years);
  return `${String(y).padStart(4, '0')}${studyDate.slice(4, 8)}`;
}

/** Writes the volume (HU) as a CT series. Each file is written atomically. */
export async function writeCtSeries(volume: Int16Volume, options: CtSeriesWriteOptions): Promise<CtSeriesWriteResult> {
  const [nx, ny, nz] = volume.dims;
  if (!(volume.data instanceof Int16Array)) throw new SrError('VOLUME_INVALID', 'writeCtSeries needs an Int16Array volume in HU');
  const dirI = column(volume.direction, 0);
  const dirJ = column(volume.direction, 1);
  const dirK = column(volume.direction, 2);
  if (Math.abs(norm(dirI) - 1) > 1e-6 || Math.abs(norm(dirJ) - 1) > 1e-6 || Math.abs(dot(dirI, dirJ)) > 1e-6) {
    throw new SrError('VOLUME_INVALID', 'row and column directions must be orthonormal to be written as ImageOrientationPatient');
  }
  const normal = cross(dirI, dirJ);
  const kLen = norm(dirK);
  const cosTilt = dot(dirK, normal) / kLen;
  if (Math.abs(cosTilt) < 0.5) throw new SrError('VOLUME_INVALID', 'slice axis is more than 60° from the slice normal');
  const gantryTiltDeg = (Math.acos(Math.min(1, Math.abs(cosTilt))) * 180) / Math.PI;
  const planeSpacing = volume.spacing[2] * kLen * Math.abs(cosTilt);

  const seed = options.uidSeed;
  const uid = (label: string): string => (seed === undefined ? newUid() : uidFromString(`${seed}/${label}`));
  const nameSeed = seed ?? newUid();
  const storage = options.storage ?? 'signed';
  const studyDate = options.study?.StudyDate ?? '20240102';
  const studyTime = options.study?.StudyTime ?? '101500';
  const StudyInstanceUID = options.study?.StudyInstanceUID ?? uid('study');
  const SeriesInstanceUID = options.series?.SeriesInstanceUID ?? uid('series');
  const FrameOfReferenceUID = options.FrameOfReferenceUID ?? uid('frame-of-reference');
  const patient = options.patient ?? {};
  const acq = options.acquisition ?? {};
  const win = options.window ?? { center: 40, width: 400 };
  const sliceThickness = options.sliceThicknessMm ?? planeSpacing;
  // Sign of the tilt follows the column direction's tip towards +z (head), the usual scanner convention.
  const signedTilt = gantryTiltDeg < 1e-6 ? 0 : Math.sign(dirJ[2] || 1) * gantryTiltDeg;

  const base: DicomDataset = {
    SpecificCharacterSet: 'ISO_IR 100',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    SOPClassUID: CT_IMAGE_STORAGE,
    StudyDate: studyDate,
    SeriesDate: studyDate,
    AcquisitionDate: studyDate,
    ContentDate: studyDate,
    StudyTime: studyTime,
    SeriesTime: studyTime,
    AccessionNumber: options.study?.AccessionNumber ?? '',
    Modality: 'CT',
    Manufacturer: acq.Manufacturer ?? 'SecondReader',
    InstitutionName: acq.InstitutionName ?? 'Synthetic',
    ReferringPhysicianName: options.study?.ReferringPhysicianName ?? '',
    StudyDescription: options.study?.StudyDescription ?? 'Synthetic CT',
    SeriesDescription: options.series?.SeriesDescription ?? 'Synthetic CT series',
    ManufacturerModelName: acq.ManufacturerModelName ?? 'Phantom',
    PatientName: patient.PatientName ?? 'Phantom^Synthetic',
    PatientID: patient.PatientID ?? 'PHANTOM',
    PatientBirthDate: patient.PatientBirthDate ?? (patient.ageYears === undefined ? '' : birthDateFromAge(studyDate, patient.ageYears)),
    PatientSex: patient.PatientSex ?? 'O',
    ...(patient.ageYears === undefined ? {} : { PatientAge: ageString(patient.ageYears) }),
    // The data are synthetic: say so in the standard way (PS3.15 E; DeidentificationMethod is 1C on it).
    PatientIdentityRemoved: 'YES',
    DeidentificationMethod: 'Synthetic phantom, no patient data',
    BodyPartExamined: options.series?.BodyPartExamined ?? 'CHEST',
    SliceThickness: formatDS(sliceThickness),
    KVP: formatDS(acq.KVP ?? 120),
    SpacingBetweenSlices: formatDS(planeSpacing),
    DataCollectionDiameter: formatDS(Math.max(nx * volume.spacing[0], ny * volume.spacing[1])),
    SoftwareVersions: `${GENERATOR.name} ${GENERATOR.version}`,
    ProtocolName: options.series?.ProtocolName ?? 'Synthetic chest',
    ReconstructionDiameter: formatDS(Math.max(nx * volume.spacing[0], ny * volume.spacing[1])),
    GantryDetectorTilt: formatDS(signedTilt),
    ExposureTime: acq.ExposureTime ?? 500,
    XRayTubeCurrent: acq.XRayTubeCurrent ?? 200,
    ConvolutionKernel: acq.ConvolutionKernel ?? 'STANDARD',
    PatientPosition: options.series?.PatientPosition ?? 'HFS',
    StudyInstanceUID,
    SeriesInstanceUID,
    StudyID: options.study?.StudyID ?? '1',
    SeriesNumber: options.series?.SeriesNumber ?? 1,
    AcquisitionNumber: 1,
    ImageOrientationPatient: [...dirI, ...dirJ].map(formatDS),
    FrameOfReferenceUID,
    PositionReferenceIndicator: '',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    // PixelSpacing is (row spacing = between rows = along j, column spacing = along i).
    PixelSpacing: [formatDS(volume.spacing[1]), formatDS(volume.spacing[0])],
    BitsAllocated: 16,
    BitsStored: storage === 'signed' ? 16 : 12,
    HighBit: storage === 'signed' ? 15 : 11,
    PixelRepresentation: storage === 'signed' ? 1 : 0,
    WindowCenter: formatDS(win.center),
    WindowWidth: formatDS(win.width),
    RescaleIntercept: storage === 'signed' ? '0' : '-1024',
    RescaleSlope: '1',
    LossyImageCompression: '00',
    _vrMap: { PixelData: 'OW' },
  };

  await mkdir(options.outDir, { recursive: true });
  const numbers = instanceNumbers(nz, options.instanceOrder ?? 'position', nameSeed);
  const sliceLen = nx * ny;
  const instances: CtSeriesInstance[] = [];
  for (let k = 0; k < nz; k++) {
    const src = volume.data.subarray(k * sliceLen, (k + 1) * sliceLen);
    let pixels: Int16Array | Uint16Array;
    if (storage === 'signed') {
      pixels = src.slice();
    } else {
      pixels = new Uint16Array(sliceLen);
      for (let p = 0; p < sliceLen; p++) {
        const v = (src[p] ?? 0) + 1024;
        pixels[p] = v < 0 ? 0 : v > 4095 ? 4095 : v;
      }
    }
    const ipp = ijkToLps(volume, [0, 0, k]);
    const instanceNumber = numbers[k] ?? k + 1;
    const SOPInstanceUID = uid(`instance/${k}`);
    const acqSeconds = 10 * 3600 + 16 * 60 + k * 0.1;
    const hh = Math.floor(acqSeconds / 3600);
    const mm = Math.floor((acqSeconds % 3600) / 60);
    const ss = acqSeconds % 60;
    const time = `${String(hh).padStart(2, '0')}${String(mm).padStart(2, '0')}${ss.toFixed(6).padStart(9, '0')}`;
    const ds: DicomDataset = {
      ...base,
      SOPInstanceUID,
      AcquisitionTime: time,
      ContentTime: time,
      InstanceNumber: instanceNumber,
      ImagePositionPatient: ipp.map(formatDS),
      SliceLocation: formatDS(dot(ipp, normal)),
      PixelData: [pixels.buffer],
      ...options.extraAttributes,
    };
    const name = options.fileNaming === 'opaque'
      ? seededHash(nameSeed, `file${k}`).slice(0, 16).toUpperCase()
      : `IM-${String(k + 1).padStart(5, '0')}.dcm`;
    const path = join(options.outDir, name);
    await writeFileAtomic(path, dicomToBuffer(ds));
    instances.push({ path, k, InstanceNumber: instanceNumber, SOPInstanceUID, ImagePositionPatient: ipp });
    options.onProgress?.(k + 1, nz);
  }
  return { files: instances.map((x) => x.path), instances, StudyInstanceUID, SeriesInstanceUID, FrameOfReferenceUID, gantryTiltDeg };
}
