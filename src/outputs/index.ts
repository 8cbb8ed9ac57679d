/**
 * Result → DICOM objects (analysis → outputs → archive): key image Secondary Captures, a DICOM SEG and a
 * Comprehensive 3D SR (TID 1500 Measurement Report) per result, plus the durable, retried C-STORE forwarding of those objects. Knows no archive and no network library:
 * the wiring (src/server) stores the objects and passes the delivery store (the archive index) and the sender in.
 */
export { buildResultObjects, outputSeries, OUTPUTS_ATTACHMENT } from './build.ts';
export type { OutputObject, ResultObjectsInput } from './build.ts';
export { outputUid, MANUFACTURER, DISCLAIMER_SHORT } from './dicom-common.ts';
export type { OutputProvenance, OutputSource } from './dicom-common.ts';
export { renderKeyImages, buildKeyImageSeries, keyImageSeriesUid, SECONDARY_CAPTURE_IMAGE_STORAGE } from './secondary-capture.ts';
export type { KeyImageFinding, RenderedKeyImage } from './secondary-capture.ts';
export { buildFindingsReport, reportSeriesUid, COMPREHENSIVE_3D_SR_STORAGE } from './structured-report.ts';
export type { SrFinding } from './structured-report.ts';
export { buildSegmentation, segSeriesUid, SEGMENTATION_STORAGE } from './segmentation.ts';
export type { ResultSegmentation } from './segmentation.ts';
export { PRIVATE_SCHEME } from './codes.ts';
export { createForwardQueue, destinationsFor, destinationLabel, forwardStatus } from './forward-queue.ts';
export type {
  DeliveryStore, ForwardClaim, ForwardDelivery, ForwardDeliveryInput, ForwardDestination, ForwardFile, ForwardOutcome, ForwardQueue, ForwardQueueOptions,
  ForwardSender, ForwardState, ForwardStatus, ForwardTask, SendOutcome,
} from './forward-queue.ts';
