/**
 * The AI segmentation of a result as a DICOM SEG (BINARY, PS3.3 A.51): one segment per finding that has a label in
 * the analysis label mask, coded (category "Morphologically Altered Structure", type Nodule / Hemorrhage, anatomic
 * region lung side / brain), in the source series' Frame of Reference, every frame naming its source slice when the
 * analysed volume is the source stack (not resampled). Tracking ID / UID match the SR's measurement groups.
 */
import { getString } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { binarySegmentationModules, SEGMENTATION_STORAGE } from '../dicom/seg.ts';
import type { SegSegment } from '../dicom/seg.ts';
import type { MaskVolume } from '../imaging/index.ts';
import { FINDING, privateCode, SITE } from './codes.ts';
import type { CodedEntry } from './codes.ts';
import { DISCLAIMER, DISCLAIMER_SHORT, dicomDateTime, equipmentModule, outputUid, patientStudyModules, portableText, seriesFromSource, sopCommon, withCharset } from './dicom-common.ts';
import type { OutputProvenance, OutputSource } from './dicom-common.ts';

export { SEGMENTATION_STORAGE };
export const SEG_SERIES_NUMBER = 9903;

/** The analysis label mask as the sink received it: voxels on the analysed volume's grid, label → description. */
export interface ResultSegmentation {
  readonly mask: MaskVolume;
  readonly labels: Readonly<Record<number, string>>;
}

/** What the SEG needs of a finding. */
export interface SegFinding {
  readonly id: string;
  readonly kind: string;
  readonly label?: number;
  readonly [extra: string]: unknown;
}

export function segSeriesUid(p: OutputProvenance): string {
  return outputUid(p, 'seg/series');
}

export function segInstanceUid(p: OutputProvenance): string {
  return outputUid(p, 'seg/instance');
}

/** Tracking UID of a finding: the same in the SEG segment and the SR measurement group. */
export function trackingUid(p: OutputProvenance, findingId: string): string {
  return outputUid(p, `finding/${findingId}`);
}

interface SegmentCoding {
  readonly type: CodedEntry;
  readonly region?: CodedEntry;
  readonly regionModifier?: CodedEntry;
  readonly rgb: readonly [number, number, number];
}

function side(f: SegFinding): 'left' | 'right' | undefined {
  const loc = f['location'];
  const s = loc && typeof loc === 'object' ? (loc as Record<string, unknown>)['side'] : undefined;
  return s === 'left' || s === 'right' ? s : undefined;
}

/** How a finding kind is coded in a segment (and, for its type and site, in the SR). */
export function findingCoding(f: SegFinding): SegmentCoding {
  if (f.kind === 'lung-nodule') {
    const s = side(f);
    return { type: FINDING.nodule, region: SITE.lung, ...(s ? { regionModifier: s === 'left' ? SITE.left : SITE.right } : {}), rgb: [255, 230, 0] };
  }
  if (f.kind === 'hemorrhage') return { type: FINDING.hemorrhage, region: SITE.brain, rgb: [255, 40, 40] };
  return { type: privateCode(`kind-${f.kind}`, f.kind), rgb: [0, 200, 255] };
}

/** Body part and laterality of the source; in the SEG IOD an empty Type 2C Laterality is an error (dciodvfy), so it is left out. */
function segSeries(source: OutputSource): DicomDataset {
  const ds = seriesFromSource(source);
  if (ds['Laterality'] === '') delete ds['Laterality'];
  return ds;
}

export interface SegmentationBuild {
  readonly dataset: DicomDataset;
  /** Finding id → segment number. */
  readonly segments: ReadonlyMap<string, number>;
}

export interface SegmentationInput {
  readonly provenance: OutputProvenance;
  readonly source: OutputSource;
  readonly findings: readonly SegFinding[];
  readonly segmentation: ResultSegmentation;
}

/**
 * The SEG of a result, or undefined when nothing can be segmented: no finding has a label present in the mask, or
 * the source has no FrameOfReferenceUID (a SEG without one could not be placed on the images).
 */
export function buildSegmentation(input: SegmentationInput): SegmentationBuild | undefined {
  const p = input.provenance;
  const { mask } = input.segmentation;
  const frameOfReferenceUid = getString(input.source.attributes, 'FrameOfReferenceUID');
  if (!frameOfReferenceUid) return undefined;
  const present = new Set<number>();
  for (const v of mask.data) if (v !== 0) present.add(v);
  const segments: SegSegment[] = [];
  const byFinding = new Map<string, number>();
  for (const f of input.findings) {
    if (f.label === undefined || !present.has(f.label) || byFinding.has(f.id)) continue;
    if (segments.some((s) => s.maskValue === f.label)) continue;
    const c = findingCoding(f);
    const number = segments.length + 1;
    const described = input.segmentation.labels[f.label];
    segments.push({
      number, maskValue: f.label,
      label: portableText(`${f.id} ${c.type.CodeMeaning}`),
      description: portableText(`${described ?? f.kind}. ${DISCLAIMER}`),
      category: FINDING.category, type: c.type,
      ...(c.region ? { anatomicRegion: c.region } : {}),
      ...(c.regionModifier ? { anatomicRegionModifier: c.regionModifier } : {}),
      algorithmName: p.analysisId, algorithmVersion: p.analysisVersion,
      trackingId: f.id, trackingUid: trackingUid(p, f.id), rgb: c.rgb,
    });
    byFinding.set(f.id, number);
  }
  if (segments.length === 0) return undefined;
  const { date, time } = dicomDateTime(p.createdAt);
  const sourceClass = getString(input.source.attributes, 'SOPClassUID');
  const resampled = (input.source.volumeNotes ?? []).length > 0;
  const modules = binarySegmentationModules({
    grid: mask, labels: mask.data, segments,
    source: {
      studyInstanceUid: input.source.studyInstanceUid, seriesInstanceUid: input.source.seriesInstanceUid, frameOfReferenceUid,
      ...(sourceClass ? { sopClassUid: sourceClass } : {}),
      // A resampled volume's slices are not the source images: frames then carry positions, not source references.
      ...(input.source.sliceSopInstanceUids && !resampled ? { sliceSopInstanceUids: input.source.sliceSopInstanceUids } : {}),
    },
    dimensionOrganizationUid: outputUid(p, 'seg/dimensions'),
    contentLabel: 'AI_SEGMENTATION',
    contentDescription: `${p.analysisId} ${p.analysisVersion} ${DISCLAIMER_SHORT}`,
    contentDate: date, contentTime: time,
  });
  const ds: DicomDataset = {
    ...sopCommon(p, SEGMENTATION_STORAGE, segInstanceUid(p)),
    ...patientStudyModules(input.source),
    // General Series + Segmentation Series: Modality SEG.
    Modality: 'SEG',
    SeriesInstanceUID: segSeriesUid(p),
    SeriesNumber: SEG_SERIES_NUMBER,
    SeriesDescription: `AI segmentation ${p.analysisId} ${p.analysisVersion} (${DISCLAIMER_SHORT})`.slice(0, 64),
    SeriesDate: date,
    SeriesTime: time,
    ...segSeries(input.source),
    ...equipmentModule(p),
    ...modules,
  };
  return { dataset: withCharset(ds), segments: byFinding };
}
