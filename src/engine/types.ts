/**
 * The analysis plug-in contract. The engine knows nothing disease-specific: an analysis is a typed
 * manifest (imported by reference, validated at start-up) plus a `run` that turns a Volume into
 * findings, study measurements and an optional label mask.
 */
import type { Logger } from '../core/log.ts';
import type { DicomDataset } from '../dicom/types.ts';
import type { Int16Volume, MaskVolume, Vec3 } from '../imaging/volume.ts';

/** Bump when the contract below changes incompatibly; manifests declare the version they were written for. */
export const ANALYSIS_API_VERSION = 1;

/** What an analysis may learn about a series before any pixel is decoded. */
export interface SeriesHeader {
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly seriesDescription: string | undefined;
  readonly bodyPartExamined: string | undefined;
  /** SliceThickness (mm) when given, else undefined. */
  readonly sliceThicknessMm: number | undefined;
  readonly imageType: readonly string[];
  readonly instanceCount: number;
  /** PatientAge in years, PatientSex as coded in DICOM. */
  readonly patientAgeYears: number | undefined;
  readonly patientSex: 'M' | 'F' | 'O' | undefined;
  /** ContrastBolusAgent / ContrastBolusRoute present and non-empty. */
  readonly contrastAgent: string | undefined;
  /** Header of a representative instance, for anything else an analysis needs. */
  readonly attributes: DicomDataset;
}

/** The volume an analysis receives, plus where every slice came from. */
export interface SeriesVolume {
  /** Modality values: Hounsfield units for CT (RescaleSlope/Intercept applied per slice). */
  readonly volume: Int16Volume;
  /** SOPInstanceUID of the source of each k slice (for SEG/SR references). */
  readonly sliceSopInstanceUids: readonly string[];
  readonly frameOfReferenceUid: string | undefined;
  /** Non-fatal notes on how the volume was built (resampled for tilt, uneven spacing...). */
  readonly notes: readonly string[];
}

export type AcceptDecision = { readonly accept: true } | { readonly accept: false; readonly reason: string };

export interface MeasurementValue {
  readonly value: number | string | boolean | null;
  readonly unit?: string;
  readonly note?: string;
}

/** One thing an analysis found. Coordinates in DICOM patient LPS millimetres. */
export interface Finding {
  readonly id: string;
  readonly kind: string;
  readonly centerMm: Vec3;
  /** Calibrated 0..1 confidence that this finding is real, so FROC can sweep it. */
  readonly probability: number;
  /** Label value of this finding in the analysis label mask, if any. */
  readonly label?: number;
  /** Why it was flagged: the measurements a radiologist would judge it by. */
  readonly reasons?: readonly string[];
  readonly [extra: string]: unknown;
}

export interface LabelMap {
  readonly mask: MaskVolume;
  /** label value → description, e.g. 1 → "nodule n1". */
  readonly labels: Readonly<Record<number, string>>;
}

export interface AnalysisOutput {
  /** When the pixels show the series is not for this analysis after all. */
  readonly skipped?: { readonly reason: string };
  readonly findings: readonly Finding[];
  readonly measurements: Readonly<Record<string, unknown>>;
  readonly labelMap?: LabelMap;
  /** Wall time per step (ms), reported in findings.json provenance. */
  readonly stepTimesMs?: Readonly<Record<string, number>>;
}

/**
 * An earlier series of the same patient, offered for comparison (follow-up). Optional: given by the CLI
 * (`analyze --prior`) or a server; the engine does not look inside it. The analysis decides whether it can use it.
 */
export interface PriorSeries {
  readonly header: SeriesHeader;
  /** Decodes the prior series; the analysis calls it only if it compares. */
  loadVolume(signal: AbortSignal): Promise<SeriesVolume>;
  /**
   * The stored result of the SAME analysis (id and version) on this prior series, when the caller has one (the
   * server: from the archive). An analysis may use its findings instead of analysing the prior again. Additive,
   * optional: the CLI does not set it.
   */
  readonly result?: PriorResult;
}

/** A stored result of the same analysis on the prior series (src/engine/prior.ts builds it from a findings result). */
export interface PriorResult {
  readonly analysisId: string;
  readonly analysisVersion: string;
  /** Where it is stored (the archive result id), for provenance. */
  readonly resultId: string;
  readonly createdAt: string;
  readonly findings: readonly Finding[];
  readonly measurements: Readonly<Record<string, unknown>>;
}

/**
 * What an analysis that compares with a prior asks a server to look up for it (additive, optional; the registry
 * validates it). The server offers the most recent earlier study of the same patient with a series `accepts` takes.
 */
export interface PriorRequest {
  /** Only series of the current series' Modality (default true). */
  readonly sameModality?: boolean;
  /** Only studies at least this many days before the current one (default 0: any earlier StudyDate/StudyTime). */
  readonly minIntervalDays?: number;
}

export interface AnalysisContext {
  readonly header: SeriesHeader;
  readonly series: SeriesVolume;
  /** Prior series of the same patient for follow-up comparison, when one was given (additive, optional). */
  readonly prior?: PriorSeries;
  readonly log: Logger;
  /** Report progress: step name (one of manifest.steps) and fraction 0..1 of the whole analysis. */
  readonly progress: (step: string, fraction: number) => void;
  readonly signal: AbortSignal;
}

export interface AnalysisManifest {
  readonly apiVersion: typeof ANALYSIS_API_VERSION;
  /** kebab-case, stable: chest-ct-nodules */
  readonly id: string;
  /** semver */
  readonly version: string;
  readonly title: string;
  /** Intended use statement, shown to users: assistive, who, for what. */
  readonly intendedUse: string;
  readonly modalities: readonly string[];
  readonly resources: { readonly memoryMb: number; readonly threads: number };
  /**
   * How a person should look at this analysis's input (CT window, e.g. lung −600/1500, brain 40/80): used for
   * key images of findings. Display only; never affects a result.
   */
  readonly displayWindow?: { readonly center: number; readonly width: number };
  /** Names of the pipeline steps, in order, for progress display. */
  readonly steps: readonly string[];
  /** Header-only decision (cheap, before decoding). The pixels may still reject in `run` via `skipped`. */
  accepts(header: SeriesHeader): AcceptDecision;
  run(ctx: AnalysisContext): Promise<AnalysisOutput>;
  /** Present when the analysis compares with a prior series: a server looks one up in its archive (ctx.prior). */
  readonly prior?: PriorRequest;
}
