/**
 * The ingest hot path: the attributes the index needs, from the header only (parsing stops at the top-level
 * PixelData). Uses our own reader (src/dicom parseDicom headerOnly) rather than dicom-parser: it decodes
 * Specific Character Set (dicom-parser returns raw bytes as Latin-1), reports truncation as DICOM_TRUNCATED, and
 * measured about as fast on the header-only path (figures in docs/adr/0004-archive-storage.md).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { SrError, toSrError } from '../core/errors.ts';
import { parseDicom, readDicomHeader } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import type { TempFileDigest } from './types.ts';

export interface IndexedHeader {
  readonly SOPInstanceUID: string;
  readonly SOPClassUID: string;
  readonly SeriesInstanceUID: string;
  readonly StudyInstanceUID: string;
  readonly TransferSyntaxUID: string;
  readonly PatientID: string;
  readonly PatientName: string | null;
  readonly PatientBirthDate: string | null;
  readonly PatientSex: string | null;
  readonly StudyDate: string | null;
  readonly StudyTime: string | null;
  readonly AccessionNumber: string | null;
  readonly ReferringPhysicianName: string | null;
  readonly StudyDescription: string | null;
  readonly StudyID: string | null;
  readonly Modality: string;
  readonly SeriesNumber: number | null;
  readonly SeriesDescription: string | null;
  readonly BodyPartExamined: string | null;
  readonly PerformedProcedureStepStartDate: string | null;
  readonly PerformedProcedureStepStartTime: string | null;
  readonly InstanceNumber: number | null;
  readonly Rows: number | null;
  readonly Columns: number | null;
  readonly NumberOfFrames: number;
}

function pnText(v: unknown): string {
  if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    const o = v as Record<string, unknown>;
    const groups = [o['Alphabetic'], o['Ideographic'], o['Phonetic']].map((g) => (typeof g === 'string' ? g : ''));
    while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
    return groups.join('=');
  }
  return String(v);
}

/** An attribute as DICOM text (multi-values joined by backslash); null when absent or empty. */
export function textOf(ds: DicomDataset, key: string): string | null {
  const v = ds[key];
  if (v === undefined || v === null || v instanceof Uint8Array) return null;
  const parts = Array.isArray(v) ? v : [v];
  const s = parts.map(pnText).join('\\').trim();
  return s === '' ? null : s;
}

function intOf(ds: DicomDataset, key: string): number | null {
  const v = ds[key];
  const x = Array.isArray(v) ? (v as unknown[])[0] : v;
  const n = typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN;
  return Number.isInteger(n) && Math.abs(n) < 2 ** 31 ? n : null;
}

function required(ds: DicomDataset, key: string, source: string): string {
  const v = textOf(ds, key);
  // A UID is at most 64 characters of digits and dots (PS3.5 9.1); anything else would make a bad blob key too.
  if (v === null || v.length > 64 || !/^[0-9]+(\.[0-9]+)*$/.test(v)) {
    throw new SrError('ARCHIVE_INSTANCE_INVALID', `${source}: ${key} ${v === null ? 'is missing' : `is not a valid UID (${JSON.stringify(v.slice(0, 80))})`}`, {
      details: { source, keyword: key },
    });
  }
  return v;
}

export function indexedHeaderOf(ds: DicomDataset, transferSyntaxUID: string, frameCount: number, source: string): IndexedHeader {
  return {
    SOPInstanceUID: required(ds, 'SOPInstanceUID', source),
    SOPClassUID: required(ds, 'SOPClassUID', source),
    SeriesInstanceUID: required(ds, 'SeriesInstanceUID', source),
    StudyInstanceUID: required(ds, 'StudyInstanceUID', source),
    TransferSyntaxUID: transferSyntaxUID,
    PatientID: textOf(ds, 'PatientID') ?? '',
    PatientName: textOf(ds, 'PatientName'),
    PatientBirthDate: textOf(ds, 'PatientBirthDate'),
    PatientSex: textOf(ds, 'PatientSex'),
    StudyDate: textOf(ds, 'StudyDate'),
    StudyTime: textOf(ds, 'StudyTime'),
    AccessionNumber: textOf(ds, 'AccessionNumber'),
    ReferringPhysicianName: textOf(ds, 'ReferringPhysicianName'),
    StudyDescription: textOf(ds, 'StudyDescription'),
    StudyID: textOf(ds, 'StudyID'),
    Modality: textOf(ds, 'Modality') ?? 'OT',
    SeriesNumber: intOf(ds, 'SeriesNumber'),
    SeriesDescription: textOf(ds, 'SeriesDescription'),
    BodyPartExamined: textOf(ds, 'BodyPartExamined'),
    PerformedProcedureStepStartDate: textOf(ds, 'PerformedProcedureStepStartDate'),
    PerformedProcedureStepStartTime: textOf(ds, 'PerformedProcedureStepStartTime'),
    InstanceNumber: intOf(ds, 'InstanceNumber'),
    Rows: intOf(ds, 'Rows'),
    Columns: intOf(ds, 'Columns'),
    NumberOfFrames: intOf(ds, 'NumberOfFrames') ?? (frameCount > 0 ? frameCount : 1),
  };
}

export interface ParsedInstance {
  readonly header: IndexedHeader;
  readonly sha256: string;
  readonly sizeBytes: number;
}

/** Parses and hashes Part 10 bytes. Throws DICOM_NOT_DICOM / DICOM_TRUNCATED / DICOM_MALFORMED / ARCHIVE_INSTANCE_INVALID. */
export function parseInstanceBytes(bytes: Uint8Array, source: string): ParsedInstance {
  const f = parseDicom(bytes, source, { headerOnly: true, fileSize: bytes.byteLength });
  const header = indexedHeaderOf(f.dataset, f.transferSyntaxUID, f.frameCount, source);
  return { header, sha256: createHash('sha256').update(bytes).digest('hex'), sizeBytes: bytes.byteLength };
}

/** Same for a file on disk: the header read in chunks, the hash streamed (multi-frame files can be large). */
export async function parseInstanceFile(path: string): Promise<ParsedInstance> {
  const f = await readDicomHeader(path);
  const header = indexedHeaderOf(f.dataset, f.transferSyntaxUID, f.frameCount, path);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of createReadStream(path)) {
      const b = chunk as Buffer;
      size += b.byteLength;
      hash.update(b);
    }
  } catch (e) {
    throw toSrError(e, 'IO_ERROR', `could not read ${path}`, { path });
  }
  return { header, sha256: hash.digest('hex'), sizeBytes: size };
}

/**
 * A temp file whose writer hashed it while writing (TempFileDigest): the header comes from the head bytes when
 * they hold all of it, else from the file; the file is never re-read for the hash.
 */
export async function parseInstanceDigested(path: string, digest: TempFileDigest): Promise<ParsedInstance> {
  let f: { dataset: DicomDataset; transferSyntaxUID: string; frameCount: number } | undefined;
  if (digest.head.byteLength >= digest.sizeBytes) {
    f = parseDicom(digest.head, path, { headerOnly: true, fileSize: digest.sizeBytes });
  } else {
    try {
      const h = parseDicom(digest.head, path, { headerOnly: true, fileSize: digest.sizeBytes });
      // Without pixel data the head may have ended on an element boundary: only the whole file is sure.
      if (h.pixel !== undefined) f = h;
    } catch (e) {
      // A header cut by the end of the head (or a deflated dataset) is read from the file; other errors are final.
      if (!(e instanceof SrError) || (e.code !== 'DICOM_TRUNCATED' && e.code !== 'DICOM_MALFORMED')) throw e;
    }
    if (!f) {
      // Its writer may still be completing the file (written: no fdatasync the ingest journal does not need).
      await (digest.written ?? digest.sync)?.();
      f = await readDicomHeader(path);
    }
  }
  const header = indexedHeaderOf(f.dataset, f.transferSyntaxUID, f.frameCount, path);
  return { header, sha256: digest.sha256, sizeBytes: digest.sizeBytes };
}
