/**
 * A stored result → its DICOM objects (Part 10 bytes): the key image series (Secondary Capture, one per finding
 * with a label), the segmentation (DICOM SEG, one segment per labelled finding) and the measurement report
 * (Comprehensive 3D SR, TID 1500) that references both. UIDs are deterministic per (result id, object).
 */
import { dicomToBuffer } from '../dicom/index.ts';
import { toSrError } from '../core/index.ts';
import type { OutputProvenance, OutputSource } from './dicom-common.ts';
import { buildKeyImageSeries, keyImageSeriesDescription, keyImageSeriesUid, SECONDARY_CAPTURE_IMAGE_STORAGE } from './secondary-capture.ts';
import type { RenderedKeyImage } from './secondary-capture.ts';
import { buildSegmentation, SEGMENTATION_STORAGE, segSeriesUid } from './segmentation.ts';
import type { ResultSegmentation } from './segmentation.ts';
import { buildFindingsReport, COMPREHENSIVE_3D_SR_STORAGE, reportSeriesUid } from './structured-report.ts';
import type { SrFinding } from './structured-report.ts';

/** The result attachment that lists a result's DICOM objects and their forwarding state (the API's `outputs`). */
export const OUTPUTS_ATTACHMENT = 'outputs.json';

export interface OutputObject {
  /** File-name-like label, e.g. key-image-n1.dcm, seg.dcm, report.dcm. */
  readonly name: string;
  readonly kind: 'key-image' | 'segmentation' | 'report';
  readonly seriesInstanceUid: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
  readonly bytes: Uint8Array;
}

export interface ResultObjectsInput {
  readonly provenance: OutputProvenance;
  readonly source: OutputSource;
  readonly result: {
    readonly status: string;
    readonly reason?: string;
    readonly findings: readonly SrFinding[];
    readonly measurements: Readonly<Record<string, unknown>>;
  };
  readonly keyImages: readonly RenderedKeyImage[];
  /** The analysis label mask (on the analysed volume's grid): makes the SEG. Without it, no SEG. */
  readonly segmentation?: ResultSegmentation;
}

/** Output series of one result, by kind: what the archive replaces on a re-run. */
export function outputSeries(p: OutputProvenance): { keyImages: string; segmentation: string; report: string } {
  return { keyImages: keyImageSeriesUid(p), segmentation: segSeriesUid(p), report: reportSeriesUid(p) };
}

export { keyImageSeriesDescription };

export function buildResultObjects(input: ResultObjectsInput): OutputObject[] {
  const p = input.provenance;
  try {
    const objects: OutputObject[] = [];
    const scs = buildKeyImageSeries({ provenance: p, source: input.source, images: input.keyImages });
    const keyImageUids: Record<string, string> = {};
    scs.forEach((ds, n) => {
      const fid = input.keyImages[n]?.finding.id ?? String(n + 1);
      const sop = String(ds['SOPInstanceUID']);
      keyImageUids[fid] = sop;
      objects.push({ name: `key-image-${fid}.dcm`, kind: 'key-image', seriesInstanceUid: keyImageSeriesUid(p), sopInstanceUid: sop, sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE, bytes: dicomToBuffer(ds) });
    });
    const seg = input.segmentation ? buildSegmentation({ provenance: p, source: input.source, findings: input.result.findings, segmentation: input.segmentation }) : undefined;
    if (seg) {
      objects.push({ name: 'seg.dcm', kind: 'segmentation', seriesInstanceUid: segSeriesUid(p), sopInstanceUid: String(seg.dataset['SOPInstanceUID']), sopClassUid: SEGMENTATION_STORAGE, bytes: dicomToBuffer(seg.dataset) });
    }
    const sr = buildFindingsReport({
      provenance: p, source: input.source, status: input.result.status, findings: input.result.findings, measurements: input.result.measurements,
      keyImages: keyImageUids, keyImageSeriesUid: keyImageSeriesUid(p),
      ...(seg ? { segmentation: { sopInstanceUid: String(seg.dataset['SOPInstanceUID']), seriesInstanceUid: segSeriesUid(p), segments: seg.segments } } : {}),
      ...(input.result.reason !== undefined ? { reason: input.result.reason } : {}),
    });
    objects.push({ name: 'report.dcm', kind: 'report', seriesInstanceUid: reportSeriesUid(p), sopInstanceUid: String(sr['SOPInstanceUID']), sopClassUid: COMPREHENSIVE_3D_SR_STORAGE, bytes: dicomToBuffer(sr) });
    return objects;
  } catch (e) {
    throw toSrError(e, 'OUTPUT_BUILD_FAILED', `DICOM objects of result ${p.resultId} could not be built`, { resultId: p.resultId });
  }
}
