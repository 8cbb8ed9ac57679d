/**
 * Scan → patients / studies / series / stacks.
 *
 * A series may hold several stacks: frames are grouped by matrix size and orientation (within ~3°; smaller
 * differences stay in one stack and are refused there as SERIES_INCONSISTENT), and each multi-frame object
 * is a stack of its own. Objects that are not for analysis are kept, with the reason, rather than dropped
 * silently: no pixel data, segmentations, colour images, secondary captures (SOP Class or ImageType
 * DERIVED\SECONDARY), localizers (ImageType LOCALIZER, or a stack of 1–3 images orthogonal to the main one).
 * Files that cannot be read are problems with their SrError code; they never stop a scan.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ErrorCode } from '../core/errors.ts';
import { SrError, isSrError } from '../core/errors.ts';
import type { SeriesHeader } from '../engine/types.ts';
import type { Vec3 } from '../imaging/volume.ts';
import { cross, dot } from '../imaging/volume.ts';
import { getNumber, getSequence, getString, parseAgeYears } from './dataset.ts';
import type { FrameRef } from './frames.ts';
import { framesOf, imageTypeOf } from './frames.ts';
import type { StackPlanOptions } from './stack-geometry.ts';
import { planStack } from './stack-geometry.ts';
import { markFilePath, readDicomFile, readDicomHeader } from './parse.ts';
import type { DicomFile } from './types.ts';

export interface FileProblem {
  readonly source: string;
  readonly code: ErrorCode;
  readonly message: string;
}

export interface ExcludedInstance {
  readonly source: string;
  readonly sopInstanceUid: string | undefined;
  readonly reason: string;
}

export interface ImageStack {
  /** `${SeriesInstanceUID}#${n}`, n = 1 for the largest stack. */
  readonly id: string;
  /** In file order; sorting is the planner's job. */
  readonly frames: readonly FrameRef[];
  readonly rows: number;
  readonly columns: number;
  readonly orientation: readonly number[] | undefined;
  readonly multiFrame: boolean;
  /** Why the stack is not for analysis; undefined when it is. */
  readonly excluded: string | undefined;
}

export interface SeriesGroup {
  readonly seriesInstanceUid: string;
  readonly seriesNumber: number | undefined;
  readonly modality: string;
  readonly seriesDescription: string | undefined;
  readonly frameOfReferenceUid: string | undefined;
  readonly transferSyntaxUids: readonly string[];
  readonly files: readonly DicomFile[];
  readonly stacks: readonly ImageStack[];
  readonly excludedInstances: readonly ExcludedInstance[];
}

export interface StudyGroup {
  readonly studyInstanceUid: string;
  readonly studyDate: string | undefined;
  readonly studyDescription: string | undefined;
  readonly accessionNumber: string | undefined;
  readonly series: readonly SeriesGroup[];
}

export interface PatientGroup {
  readonly patientId: string;
  readonly patientName: string | undefined;
  readonly studies: readonly StudyGroup[];
}

export interface ScanResult {
  readonly patients: readonly PatientGroup[];
  /** Files that could not be read (not DICOM, truncated, malformed...). */
  readonly problems: readonly FileProblem[];
  /** Readable DICOM files that belong to no series (DICOMDIR media directories). */
  readonly ignored: readonly { readonly source: string; readonly reason: string }[];
  readonly fileCount: number;
}

export interface ScanOptions {
  /**
   * Reads one file. Default: header only (readDicomHeader), pixel data read again from disk when a frame is
   * decoded, so a scan of a large folder holds headers, not pixels.
   */
  readonly read?: (path: string) => Promise<DicomFile>;
  /** Called after each file: (files read, files found). */
  readonly onProgress?: (done: number, total: number) => void;
  /** Files read at once (default 8). */
  readonly concurrency?: number;
}

const SECONDARY_CAPTURE_PREFIX = '1.2.840.10008.5.1.4.1.1.7';
const SEGMENTATION_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
const UNKNOWN = '(unknown)';

/** Regular files under `paths` (folders recursively, sorted; hidden entries skipped). */
export async function listFiles(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const visit = async (p: string): Promise<void> => {
    let st;
    try {
      st = await stat(p);
    } catch (e) {
      throw new SrError('NOT_FOUND', `cannot read ${p}`, { cause: e, details: { path: p } });
    }
    if (st.isDirectory()) {
      const entries = (await readdir(p)).filter((n) => !n.startsWith('.')).sort();
      for (const name of entries) await visit(join(p, name));
    } else if (st.isFile()) {
      out.push(p);
    }
  };
  for (const p of paths) await visit(p);
  return out;
}

/** A DicomFile over a header whose frames are decoded from a fresh read of the file (multi-frame: kept while in use). */
export async function readLazyDicomFile(path: string): Promise<DicomFile> {
  const header = await readDicomHeader(path);
  let loaded: Promise<DicomFile> | undefined;
  return markFilePath({
    ...header,
    async decodeFrame(index: number) {
      const full = loaded ?? readDicomFile(path);
      if (header.frameCount > 1) loaded = full;
      return (await full).decodeFrame(index);
    },
  }, path);
}

/** Reads every file under `paths` and groups the DICOM objects; unreadable files become problems. */
export async function scanPaths(paths: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const files = await listFiles(paths);
  const read = options.read ?? readLazyDicomFile;
  const parsed: (DicomFile | undefined)[] = new Array<DicomFile | undefined>(files.length);
  const problems: FileProblem[] = [];
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const i = next++;
      const path = files[i] as string;
      try {
        parsed[i] = await read(path);
      } catch (e) {
        problems.push(isSrError(e)
          ? { source: path, code: e.code, message: e.message }
          : { source: path, code: 'DICOM_MALFORMED', message: e instanceof Error ? e.message : String(e) });
      }
      options.onProgress?.(++done, files.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));
  problems.sort((a, b) => a.source.localeCompare(b.source));
  const result = groupFiles(parsed.filter((f): f is DicomFile => f !== undefined), problems);
  return { ...result, fileCount: files.length };
}

/** Why an object is not for analysis, judged from its header alone; undefined when it is. */
export function instanceExclusion(file: DicomFile): string | undefined {
  const ds = file.dataset;
  const sopClass = getString(ds, 'SOPClassUID') ?? '';
  if (!file.pixel) return `no pixel data (SOP Class ${sopClass || 'unknown'})`;
  if (sopClass === SEGMENTATION_SOP_CLASS || file.pixel.BitsAllocated === 1) return 'segmentation / bitmap object, not an image';
  if (file.pixel.SamplesPerPixel !== 1) return `colour image (${file.pixel.PhotometricInterpretation}), not a grayscale modality image`;
  if (sopClass === SECONDARY_CAPTURE_PREFIX || sopClass.startsWith(SECONDARY_CAPTURE_PREFIX + '.')) return 'secondary capture (SOP Class Secondary Capture)';
  const imageType = imageTypeOf(ds);
  if (imageType[0] === 'DERIVED' && imageType[1] === 'SECONDARY') return `derived secondary image (ImageType ${imageType.join('\\')})`;
  if (imageType.includes('LOCALIZER')) return `localizer (ImageType ${imageType.join('\\')})`;
  return undefined;
}

function normalOf(iop: readonly number[] | undefined): Vec3 | undefined {
  if (!iop || iop.length < 6) return undefined;
  return cross([iop[0] ?? 0, iop[1] ?? 0, iop[2] ?? 0], [iop[3] ?? 0, iop[4] ?? 0, iop[5] ?? 0]);
}

function sameOrientation(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (!a || !b) return a === b;
  // ~3°: finer differences belong to one stack and are judged (and refused) by the planner.
  return a.every((x, i) => Math.abs(x - (b[i] ?? 0)) < 0.05);
}

function stacksOf(seriesUid: string, frames: readonly FrameRef[]): ImageStack[] {
  type Draft = { key: string; orientation: readonly number[] | undefined; rows: number; columns: number; multiFrame: boolean; frames: FrameRef[] };
  const drafts: Draft[] = [];
  for (const f of frames) {
    const multiFrame = f.file.frameCount > 1;
    const key = multiFrame ? `mf:${f.sopInstanceUid}:${f.file.source}` : 'sf';
    let d = drafts.find((x) => x.key === key && x.rows === f.rows && x.columns === f.columns && sameOrientation(x.orientation, f.orientation));
    if (!d) {
      d = { key, orientation: f.orientation, rows: f.rows, columns: f.columns, multiFrame, frames: [] };
      drafts.push(d);
    }
    d.frames.push(f);
  }
  drafts.sort((a, b) => b.frames.length - a.frames.length);
  const main = drafts[0];
  const mainNormal = normalOf(main?.orientation);
  return drafts.map((d, i) => {
    let excluded: string | undefined;
    const n = normalOf(d.orientation);
    if (d !== main && d.frames.length <= 3 && mainNormal && n && Math.abs(dot(mainNormal, n)) < 0.5) {
      excluded = `localizer: ${d.frames.length} image(s) orthogonal to the main stack`;
    }
    return { id: `${seriesUid}#${i + 1}`, frames: d.frames, rows: d.rows, columns: d.columns, orientation: d.orientation, multiFrame: d.multiFrame, excluded };
  });
}

/** Groups parsed objects into patients → studies → series → stacks. Pure; no decoding. */
export function groupFiles(files: readonly DicomFile[], problems: readonly FileProblem[] = []): ScanResult {
  const patients = new Map<string, { name: string | undefined; studies: Map<string, DicomFile[]> }>();
  const ignored: { source: string; reason: string }[] = [];
  for (const f of files) {
    if (f.dataset['DirectoryRecordSequence'] !== undefined && f.dataset['SOPInstanceUID'] === undefined) {
      ignored.push({ source: f.source, reason: 'DICOMDIR (media directory, no image)' });
      continue;
    }
    const pid = getString(f.dataset, 'PatientID') ?? UNKNOWN;
    const study = getString(f.dataset, 'StudyInstanceUID') ?? UNKNOWN;
    let p = patients.get(pid);
    if (!p) {
      p = { name: getString(f.dataset, 'PatientName'), studies: new Map() };
      patients.set(pid, p);
    }
    const list = p.studies.get(study) ?? [];
    list.push(f);
    p.studies.set(study, list);
  }
  const out: PatientGroup[] = [];
  for (const [patientId, p] of patients) {
    const studies: StudyGroup[] = [];
    for (const [studyUid, studyFiles] of p.studies) {
      const bySeries = new Map<string, DicomFile[]>();
      for (const f of studyFiles) {
        const uid = getString(f.dataset, 'SeriesInstanceUID') ?? UNKNOWN;
        const list = bySeries.get(uid) ?? [];
        list.push(f);
        bySeries.set(uid, list);
      }
      const series: SeriesGroup[] = [];
      for (const [seriesUid, seriesFiles] of bySeries) {
        const excludedInstances: ExcludedInstance[] = [];
        const frames: FrameRef[] = [];
        for (const f of seriesFiles) {
          const why = instanceExclusion(f);
          if (why) excludedInstances.push({ source: f.source, sopInstanceUid: getString(f.dataset, 'SOPInstanceUID'), reason: why });
          else frames.push(...framesOf(f));
        }
        const rep = (frames[0]?.file ?? seriesFiles[0]) as DicomFile;
        series.push({
          seriesInstanceUid: seriesUid,
          seriesNumber: getNumber(rep.dataset, 'SeriesNumber'),
          modality: getString(rep.dataset, 'Modality') ?? UNKNOWN,
          seriesDescription: getString(rep.dataset, 'SeriesDescription'),
          frameOfReferenceUid: getString(rep.dataset, 'FrameOfReferenceUID'),
          transferSyntaxUids: [...new Set(seriesFiles.map((f) => f.transferSyntaxUID))].sort(),
          files: seriesFiles,
          stacks: stacksOf(seriesUid, frames),
          excludedInstances,
        });
      }
      series.sort((a, b) => (a.seriesNumber ?? Infinity) - (b.seriesNumber ?? Infinity) || a.seriesInstanceUid.localeCompare(b.seriesInstanceUid));
      const rep = studyFiles[0] as DicomFile;
      studies.push({
        studyInstanceUid: studyUid,
        studyDate: getString(rep.dataset, 'StudyDate'),
        studyDescription: getString(rep.dataset, 'StudyDescription'),
        accessionNumber: getString(rep.dataset, 'AccessionNumber'),
        series,
      });
    }
    studies.sort((a, b) => (a.studyDate ?? '').localeCompare(b.studyDate ?? ''));
    out.push({ patientId, patientName: p.name, studies });
  }
  return { patients: out, problems, ignored, fileCount: files.length + problems.length };
}

export interface StackRef {
  readonly patient: PatientGroup;
  readonly study: StudyGroup;
  readonly series: SeriesGroup;
  readonly stack: ImageStack;
}

/** Every stack that is not excluded, in patient/study/series order. */
export function analyzableStacks(scan: ScanResult): StackRef[] {
  const out: StackRef[] = [];
  for (const patient of scan.patients) {
    for (const study of patient.studies) {
      for (const series of study.series) {
        for (const stack of series.stacks) if (!stack.excluded) out.push({ patient, study, series, stack });
      }
    }
  }
  return out;
}

/** The largest analyzable stack of a series. */
export function mainStack(series: SeriesGroup): ImageStack | undefined {
  return series.stacks.find((s) => !s.excluded);
}

function contrastAgentOf(ds: Record<string, unknown>): string | undefined {
  const direct = getString(ds, 'ContrastBolusAgent');
  if (direct) return direct;
  const item = getSequence(ds, 'ContrastBolusAgentSequence')[0];
  return item ? getString(item, 'CodeMeaning') ?? getString(item, 'CodeValue') : undefined;
}

/** Header-only description of a stack for `AnalysisManifest.accepts`. instanceCount = number of image frames in the stack. */
export function buildSeriesHeader(series: SeriesGroup, stack: ImageStack | undefined = mainStack(series)): SeriesHeader {
  const rep = (stack?.frames[0]?.file ?? series.files[0]) as DicomFile | undefined;
  if (!rep) throw new SrError('SERIES_EMPTY', `series ${series.seriesInstanceUid} has no objects`);
  const ds = rep.dataset;
  const sex = getString(ds, 'PatientSex')?.toUpperCase();
  return {
    studyInstanceUid: getString(ds, 'StudyInstanceUID') ?? UNKNOWN,
    seriesInstanceUid: series.seriesInstanceUid,
    modality: series.modality,
    seriesDescription: series.seriesDescription,
    bodyPartExamined: getString(ds, 'BodyPartExamined'),
    sliceThicknessMm: stack?.frames[0]?.sliceThickness,
    imageType: imageTypeOf(ds),
    instanceCount: stack?.frames.length ?? 0,
    patientAgeYears: parseAgeYears(getString(ds, 'PatientAge')),
    patientSex: sex === 'M' || sex === 'F' || sex === 'O' ? sex : undefined,
    contrastAgent: contrastAgentOf(ds),
    attributes: ds,
  };
}

// ---------------------------------------------------------------- summary for `secondreader inspect`

export interface StackSummary {
  readonly id: string;
  readonly sliceCount: number;
  readonly rows: number;
  readonly columns: number;
  readonly multiFrame: boolean;
  /** [column spacing (x), row spacing (y), slice spacing] in mm, when the stack can be planned. */
  readonly spacingMm: readonly [number, number, number] | undefined;
  readonly excluded: string | undefined;
  /** Notes on how its volume would be built (tilt, resampling...). */
  readonly notes: readonly string[];
  /** "CODE: message" strings. */
  readonly problems: readonly string[];
}

export interface SeriesSummary {
  readonly seriesInstanceUid: string;
  readonly seriesNumber: number | undefined;
  readonly modality: string;
  readonly description: string | undefined;
  readonly transferSyntaxUids: readonly string[];
  readonly instanceCount: number;
  readonly stacks: readonly StackSummary[];
  readonly excludedInstances: readonly ExcludedInstance[];
}

export interface ScanSummary {
  readonly fileCount: number;
  readonly patients: readonly {
    readonly patientId: string;
    readonly patientName: string | undefined;
    readonly studies: readonly {
      readonly studyInstanceUid: string;
      readonly studyDate: string | undefined;
      readonly description: string | undefined;
      readonly series: readonly SeriesSummary[];
    }[];
  }[];
  /** Unreadable files, "CODE: source: message". */
  readonly problems: readonly string[];
  readonly ignored: readonly string[];
}

function summarizeStack(stack: ImageStack, options: StackPlanOptions): StackSummary {
  const base = { id: stack.id, sliceCount: stack.frames.length, rows: stack.rows, columns: stack.columns, multiFrame: stack.multiFrame, excluded: stack.excluded };
  if (stack.excluded) return { ...base, spacingMm: undefined, notes: [], problems: [] };
  try {
    const plan = planStack(stack.frames, options);
    const notes = [...plan.notes];
    if (plan.duplicatePositions > 0) notes.push(`${plan.duplicatePositions} position(s) hold more than one image (compared pixel-wise when the volume is built)`);
    return { ...base, spacingMm: [plan.spacing[0], plan.spacing[1], plan.spacing[2]], notes, problems: [] };
  } catch (e) {
    const msg = isSrError(e) ? `${e.code}: ${e.message}` : `SERIES_INCONSISTENT: ${e instanceof Error ? e.message : String(e)}`;
    return { ...base, spacingMm: undefined, notes: [], problems: [msg] };
  }
}

/** Structured inventory of a scan (plans every stack without decoding pixels). */
export function summarizeScan(scan: ScanResult, options: StackPlanOptions = {}): ScanSummary {
  return {
    fileCount: scan.fileCount,
    patients: scan.patients.map((p) => ({
      patientId: p.patientId,
      patientName: p.patientName,
      studies: p.studies.map((st) => ({
        studyInstanceUid: st.studyInstanceUid,
        studyDate: st.studyDate,
        description: st.studyDescription,
        series: st.series.map((se) => ({
          seriesInstanceUid: se.seriesInstanceUid,
          seriesNumber: se.seriesNumber,
          modality: se.modality,
          description: se.seriesDescription,
          transferSyntaxUids: se.transferSyntaxUids,
          instanceCount: se.files.length,
          stacks: se.stacks.map((s) => summarizeStack(s, options)),
          excludedInstances: se.excludedInstances,
        })),
      })),
    })),
    problems: scan.problems.map((p) => `${p.code}: ${p.message.startsWith(p.source) ? p.message : `${p.source}: ${p.message}`}`),
    ignored: scan.ignored.map((x) => `${x.source}: ${x.reason}`),
  };
}

/** Plain-text rendering of a summary (one line per patient/study/series/stack). */
export function formatScanSummary(summary: ScanSummary): string {
  const lines: string[] = [`${summary.fileCount} file(s)`];
  for (const p of summary.patients) {
    lines.push(`Patient ${p.patientId}${p.patientName ? ` (${p.patientName})` : ''}`);
    for (const st of p.studies) {
      lines.push(`  Study ${st.studyInstanceUid}${st.studyDate ? ` ${st.studyDate}` : ''}${st.description ? ` "${st.description}"` : ''}`);
      for (const se of st.series) {
        lines.push(`    Series ${se.seriesNumber ?? '-'} ${se.modality}${se.description ? ` "${se.description}"` : ''}: ${se.instanceCount} object(s), ${se.transferSyntaxUids.join(', ')} [${se.seriesInstanceUid}]`);
        for (const s of se.stacks) {
          const sp = s.spacingMm ? `, spacing ${s.spacingMm.map((x) => x.toFixed(3)).join(' × ')} mm` : '';
          lines.push(`      Stack ${s.id.split('#')[1]}: ${s.sliceCount} slice(s) ${s.columns}×${s.rows}${s.multiFrame ? ' multi-frame' : ''}${sp}${s.excluded ? ` — excluded: ${s.excluded}` : ''}`);
          for (const n of s.notes) lines.push(`        note: ${n}`);
          for (const pr of s.problems) lines.push(`        problem: ${pr}`);
        }
        const reasons = new Map<string, number>();
        for (const x of se.excludedInstances) reasons.set(x.reason, (reasons.get(x.reason) ?? 0) + 1);
        for (const [r, n] of reasons) lines.push(`      excluded ${n} object(s): ${r}`);
      }
    }
  }
  for (const x of summary.ignored) lines.push(`Ignored: ${x}`);
  if (summary.problems.length > 0) {
    lines.push(`Problems (${summary.problems.length}):`);
    for (const pr of summary.problems) lines.push(`  ${pr}`);
  }
  return lines.join('\n');
}
