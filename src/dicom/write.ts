/**
 * Writing DICOM Part 10 files: a typed thin wrapper over dcmjs (which ships no TypeScript types) plus an
 * atomic file write (temp file in the same directory → fsync → rename), so a reader watching the folder
 * (a PACS import, a series-stability timer) never sees a half-written object.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { SrError, toSrError } from '../core/errors.ts';
import { GENERATOR } from '../core/version.ts';
import { writeFileAtomic } from '../core/atomic-file.ts';

export { writeFileAtomic, writeFileAtomicSync } from '../core/atomic-file.ts';
import type { DicomDataset } from './types.ts';

/** The part of the dcmjs API this module uses. */
interface DcmjsDicomDict {
  dict: Record<string, unknown>;
  write(options?: Record<string, unknown>): ArrayBuffer;
}
interface DcmjsApi {
  data: {
    DicomDict: new (meta: Record<string, unknown>) => DcmjsDicomDict;
    DicomMetaDictionary: { denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown> };
  };
}

// createRequire keeps the untyped CommonJS build behind one narrow interface, without a global `declare module`.
const dcmjs = createRequire(import.meta.url)('dcmjs') as DcmjsApi;

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
export const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

/**
 * Our implementation class UID: a 2.25 UID derived from the software name, stable across versions
 * (PS3.7 D.3.3.2 wants it to identify the implementation; the version goes in ImplementationVersionName).
 */
export const IMPLEMENTATION_CLASS_UID = uidFromString(`${GENERATOR.name}/implementation-class`);
/** SH: at most 16 characters. */
export const IMPLEMENTATION_VERSION_NAME = `SR_${GENERATOR.version}`.slice(0, 16);

export interface DicomWriteOptions {
  /** Default explicit VR little endian. Only uncompressed little-endian syntaxes are written. */
  transferSyntaxUID?: string;
}

/** A fresh random UID (2.25 + the decimal form of a v4 UUID, PS3.5 B.2). */
export function newUid(): string {
  return uidFromHex(randomUUID().replace(/-/g, ''));
}

/**
 * A deterministic UID from a string (e.g. `${seed}/series`): 2.25 + 128 bits of its SHA-256, shaped as a
 * name-based UUID so generated phantoms have reproducible UIDs.
 */
export function uidFromString(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50; // UUID version nibble (5: name-based, SHA)
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80; // RFC 4122 variant
  return uidFromHex(h.subarray(0, 16).toString('hex'));
}

function uidFromHex(hex: string): string {
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/**
 * A number formatted for a DS element (PS3.5 6.2: at most 16 characters). Rounds to as many decimals as fit.
 */
export function formatDS(n: number): string {
  if (!Number.isFinite(n)) throw new SrError('DICOM_WRITE_FAILED', `DS value must be finite, got ${n}`);
  for (let digits = 10; digits >= 0; digits--) {
    let s = n.toFixed(digits);
    if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
    if (s === '-0') s = '0';
    if (s.length <= 16) return s;
  }
  const e = n.toExponential(8);
  if (e.length <= 16) return e;
  throw new SrError('DICOM_WRITE_FAILED', `DS value ${n} does not fit 16 characters`);
}

/**
 * Serialises a naturalized dataset (dcmjs keywords) to a Part 10 byte stream. The file meta group is built
 * here from SOPClassUID / SOPInstanceUID. Use `_vrMap` in the dataset for ambiguous VRs (PixelData: 'OW').
 */
export function dicomToBuffer(dataset: DicomDataset, options: DicomWriteOptions = {}): Buffer {
  const ts = options.transferSyntaxUID ?? EXPLICIT_VR_LITTLE_ENDIAN;
  if (ts !== EXPLICIT_VR_LITTLE_ENDIAN && ts !== IMPLICIT_VR_LITTLE_ENDIAN) {
    throw new SrError('DICOM_UNSUPPORTED_TRANSFER_SYNTAX', `writing ${ts} is not supported`, { details: { transferSyntaxUID: ts } });
  }
  const sopClass = dataset['SOPClassUID'];
  const sopInstance = dataset['SOPInstanceUID'];
  if (typeof sopClass !== 'string' || typeof sopInstance !== 'string' || !sopClass || !sopInstance) {
    throw new SrError('DICOM_MISSING_ATTRIBUTE', 'SOPClassUID and SOPInstanceUID are needed to write a Part 10 file');
  }
  try {
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: sopClass,
      MediaStorageSOPInstanceUID: sopInstance,
      TransferSyntaxUID: ts,
      ImplementationClassUID: IMPLEMENTATION_CLASS_UID,
      ImplementationVersionName: IMPLEMENTATION_VERSION_NAME,
    };
    const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
    const ab = dict.write();
    return Buffer.from(ab);
  } catch (e) {
    throw toSrError(e, 'DICOM_WRITE_FAILED', 'dcmjs could not serialise the dataset', { SOPInstanceUID: sopInstance });
  }
}

/** Serialises and writes a Part 10 file atomically. */
export async function writeDicomFile(path: string, dataset: DicomDataset, options: DicomWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, dicomToBuffer(dataset, options));
}
