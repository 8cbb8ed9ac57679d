/** What every DICOMweb route shares: the archive, the logger, URLs, and the lookups that turn a path into instances. */
import type { FastifyRequest } from 'fastify';
import type { Archive, InstanceRecord, StoreOutcome } from '../archive/types.ts';
import { SrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { parseDicom, readDicomFile, readDicomHeader } from '../dicom/index.ts';
import type { DicomFile, DicomHeader } from '../dicom/index.ts';

export interface DicomWebOptions {
  readonly archive: Archive;
  readonly log: Logger;
  /** Hard limit on one STOW-RS request body (bytes). */
  readonly maxUploadBytes: number;
  /** Called after each instance a STOW-RS request stored (not for rejected parts); errors are logged, never fatal. */
  readonly onStored?: (outcome: StoreOutcome) => void | Promise<void>;
}

export interface DicomWebContext extends DicomWebOptions {
  /** Mount prefix of the plugin ('/dicom-web' in the server). */
  readonly prefix: string;
}

/** The service root URL as the client addressed it (RetrieveURL, BulkDataURI, Content-Location). */
export function serviceRoot(ctx: DicomWebContext, req: FastifyRequest): string {
  return `${req.protocol}://${req.host}${ctx.prefix}`;
}

export function studyUrl(root: string, study: string): string {
  return `${root}/studies/${study}`;
}
export function seriesUrl(root: string, study: string, series: string): string {
  return `${studyUrl(root, study)}/series/${series}`;
}
export function instanceUrl(root: string, study: string, series: string, sop: string): string {
  return `${seriesUrl(root, study, series)}/instances/${sop}`;
}

/** UIDs are at most 64 characters of digits and dots (PS3.5 9.1); anything else in a path is a bad request. */
export function checkUid(value: string | undefined, what: string): string {
  if (value === undefined || !/^[0-9.]{1,64}$/.test(value)) {
    throw new SrError('HTTP_BAD_REQUEST', `${what} "${String(value).slice(0, 80)}" is not a valid UID`, { details: { [what]: value ?? null } });
  }
  return value;
}

export interface ResourcePath {
  readonly study: string;
  readonly series?: string;
  readonly instance?: string;
}

export function pathOf(params: unknown): ResourcePath {
  const p = (typeof params === 'object' && params !== null ? params : {}) as Record<string, string | undefined>;
  const study = checkUid(p['study'], 'StudyInstanceUID');
  const series = p['series'] === undefined ? undefined : checkUid(p['series'], 'SeriesInstanceUID');
  const instance = p['instance'] === undefined ? undefined : checkUid(p['instance'], 'SOPInstanceUID');
  return { study, ...(series ? { series } : {}), ...(instance ? { instance } : {}) };
}

function notFound(path: ResourcePath): SrError {
  const what = path.instance ? `instance ${path.instance}` : path.series ? `series ${path.series}` : `study ${path.study}`;
  return new SrError('NOT_FOUND', `${what} is not in the archive`, { details: { ...path } });
}

/** The instances a study / series / instance path names, in series then InstanceNumber order; 404 when none. */
export async function instancesOf(ctx: DicomWebContext, path: ResourcePath): Promise<InstanceRecord[]> {
  let list: InstanceRecord[];
  if (path.instance) {
    const rec = await ctx.archive.getInstance(path.instance);
    list = rec && rec.studyInstanceUid === path.study && (!path.series || rec.seriesInstanceUid === path.series) ? [rec] : [];
  } else if (path.series) {
    list = (await ctx.archive.listInstances({ seriesInstanceUid: path.series })).filter((r) => r.studyInstanceUid === path.study);
  } else {
    list = await ctx.archive.listInstances({ studyInstanceUid: path.study });
  }
  if (list.length === 0) throw notFound(path);
  return list;
}

/** The header of a stored instance (pixel data located, not read). */
export async function readHeader(ctx: DicomWebContext, rec: InstanceRecord): Promise<DicomHeader> {
  const local = ctx.archive.blobs.localPath(rec.blobKey);
  if (local) return readDicomHeader(local);
  const bytes = await ctx.archive.readInstance(rec.sopInstanceUid);
  return parseDicom(bytes, rec.sopInstanceUid, { headerOnly: true, fileSize: bytes.length });
}

/** A stored instance parsed whole, ready to decode frames. */
export async function readWhole(ctx: DicomWebContext, rec: InstanceRecord): Promise<DicomFile> {
  const local = ctx.archive.blobs.localPath(rec.blobKey);
  if (local) return readDicomFile(local);
  return parseDicom(await ctx.archive.readInstance(rec.sopInstanceUid), rec.sopInstanceUid);
}
