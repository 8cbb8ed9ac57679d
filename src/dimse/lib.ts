/**
 * The one place that loads dcmjs-dimse (CommonJS, its own .d.ts) and the small extensions we need on top of it.
 * dcmjs-dimse logs every PDU through loglevel at TRACE by default: we silence it and log ourselves.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type * as DimseModule from 'dcmjs-dimse';

const dimse = createRequire(import.meta.url)('dcmjs-dimse') as typeof DimseModule;
dimse.log.setLevel('silent');

export const { Dataset, Client, Scp, constants, requests, responses, association, Implementation } = dimse;
export type DimseDataset = DimseModule.Dataset;
export type DimseScp = DimseModule.Scp;
export type DimseAssociation = DimseModule.association.Association;
export type DimsePresentationContext = DimseModule.association.PresentationContext;
export type DimseRequest = DimseModule.requests.Request;
export type DimseResponse = DimseModule.responses.Response;
export type CStoreRequestT = DimseModule.requests.CStoreRequest;
export type CFindRequestT = DimseModule.requests.CFindRequest;
export type CMoveRequestT = DimseModule.requests.CMoveRequest;
export type CGetRequestT = DimseModule.requests.CGetRequest;
export type CEchoRequestT = DimseModule.requests.CEchoRequest;
export type CCancelRequestT = DimseModule.requests.CCancelRequest;
export type CStoreResponseT = DimseModule.responses.CStoreResponse;

export const TS_IMPLICIT_LE = '1.2.840.10008.1.2';
export const TS_EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const TS_EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const UNCOMPRESSED = new Set([TS_IMPLICIT_LE, TS_EXPLICIT_LE, TS_EXPLICIT_BE]);

export const SOP = {
  Verification: '1.2.840.10008.1.1',
  PatientRootFind: '1.2.840.10008.5.1.4.1.2.1.1',
  PatientRootMove: '1.2.840.10008.5.1.4.1.2.1.2',
  PatientRootGet: '1.2.840.10008.5.1.4.1.2.1.3',
  StudyRootFind: '1.2.840.10008.5.1.4.1.2.2.1',
  StudyRootMove: '1.2.840.10008.5.1.4.1.2.2.2',
  StudyRootGet: '1.2.840.10008.5.1.4.1.2.2.3',
} as const;

/** DIMSE status codes we send or interpret (PS3.4 Annex C, PS3.7 Annex C). */
export const STATUS = {
  Success: 0x0000,
  Pending: 0xff00,
  PendingWarning: 0xff01,
  Cancel: 0xfe00,
  SubOperationsWarning: 0xb000,
  OutOfResources: 0xa700,
  OutOfResourcesMatches: 0xa701,
  OutOfResourcesSubOperations: 0xa702,
  MoveDestinationUnknown: 0xa801,
  IdentifierDoesNotMatch: 0xa900,
  CannotUnderstand: 0xc000,
  ProcessingFailure: 0x0110,
  SopClassNotSupported: 0x0122,
} as const;

/** Standard Storage SOP classes live under this root (PS3.4 Annex B); Q/R models are under ...5.1.4.1.2. */
export function isStorageSopClass(uid: string): boolean {
  return uid.startsWith('1.2.840.10008.5.1.4.1.1.') || uid.startsWith('1.2.840.10008.5.1.4.34.');
}

/**
 * A dataset whose bytes are already encoded (the dataset part of a stored Part 10 file): dcmjs-dimse sends what
 * getDenaturalizedDataset returns, so the instance goes out byte for byte as stored, with no dcmjs parse and
 * re-encode. Only when the peer accepted another (uncompressed) transfer syntax does dcmjs-dimse ask for the
 * elements, which we then parse on demand so its transcoder can rewrite them.
 */
export class RawDataset extends Dataset {
  private readonly load: () => Uint8Array;
  private readonly dataOffset: number;
  private parsed: Record<string, unknown> | undefined;

  constructor(ids: { SOPClassUID: string; SOPInstanceUID: string }, transferSyntaxUid: string, load: () => Uint8Array, dataOffset: number) {
    super({ SOPClassUID: ids.SOPClassUID, SOPInstanceUID: ids.SOPInstanceUID }, transferSyntaxUid);
    this.load = load;
    this.dataOffset = dataOffset;
  }

  override getDenaturalizedDataset(): Buffer {
    const bytes = this.load();
    return Buffer.from(bytes.buffer, bytes.byteOffset + this.dataOffset, bytes.byteLength - this.dataOffset);
  }

  override getElements(): Record<string, unknown> {
    if (!this.parsed) {
      const bytes = Buffer.from(this.load());
      const tmp = new Dataset(bytes.subarray(this.dataOffset), this.getTransferSyntaxUid());
      this.parsed = tmp.getElements();
    }
    return this.parsed;
  }
}

/** Loads a file synchronously each time it is asked (no caching: finished requests stay referenced by the library). */
export function fileLoader(path: string): () => Uint8Array {
  return () => readFileSync(path);
}

let nameMap: Record<string, { vr?: unknown }> | undefined;

/** The dictionary VR of a DICOM keyword (dcmjs's dictionary), or undefined for unknown keywords. */
export function vrOf(keyword: string): string | undefined {
  if (!nameMap) {
    const mod = createRequire(import.meta.url)('dcmjs') as { data?: { DicomMetaDictionary?: { nameMap?: Record<string, { vr?: unknown }> } } };
    nameMap = mod.data?.DicomMetaDictionary?.nameMap ?? {};
  }
  const vr = nameMap[keyword]?.vr;
  return typeof vr === 'string' ? vr : undefined;
}
