/** DICOMweb (PS3.18): STOW-RS, QIDO-RS, WADO-RS (instances, metadata, frames, rendered, thumbnails). See docs/dicomweb.md. */
export { registerDicomWeb, toHttpError } from './plugin.ts';
export type { DicomWebOptions } from './context.ts';
export { readMultipart, writeMultipart, newBoundary } from './multipart.ts';
export type { Part, OutPart, ReadMultipartOptions } from './multipart.ts';
export { parseAccept, parseMediaType } from './media.ts';
export type { MediaRange } from './media.ts';
export { datasetToJson } from './dicom-json.ts';
export type { DicomJson, JsonAttribute } from './dicom-json.ts';
export { FAILURE as STOW_FAILURE_REASON } from './stow.ts';
export { DEFAULT_LIMIT as QIDO_DEFAULT_LIMIT, MAX_LIMIT as QIDO_MAX_LIMIT } from './qido.ts';
