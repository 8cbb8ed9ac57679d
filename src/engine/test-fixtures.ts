/**
 * Fixtures for engine tests (and for anyone testing against the analysis contract): a fake series and a
 * manifest factory. No test runner code in here, only data builders.
 */
import { createVolume } from '../imaging/index.ts';
import type { SeriesInput } from './runner.ts';
import { ANALYSIS_API_VERSION } from './types.ts';
import type { AnalysisManifest, SeriesHeader, SeriesVolume } from './types.ts';

export function fakeHeader(overrides: Partial<SeriesHeader> = {}): SeriesHeader {
  return {
    studyInstanceUid: '1.2.826.0.1.3680043.8.498.1',
    seriesInstanceUid: '1.2.826.0.1.3680043.8.498.1.1',
    modality: 'CT',
    seriesDescription: 'fake chest',
    bodyPartExamined: 'CHEST',
    sliceThicknessMm: 1,
    imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    instanceCount: 4,
    patientAgeYears: 60,
    patientSex: 'F',
    contrastAgent: undefined,
    attributes: {},
    ...overrides,
  };
}

export function fakeSeriesVolume(dims: [number, number, number] = [8, 8, 4]): SeriesVolume {
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-1000);
  return {
    volume: createVolume(data, { dims, spacing: [0.7, 0.7, 1], origin: [-100, -120, -50] }),
    sliceSopInstanceUids: Array.from({ length: dims[2] }, (_, k) => `1.2.826.0.1.3680043.8.498.2.${k + 1}`),
    frameOfReferenceUid: '1.2.826.0.1.3680043.8.498.3',
    notes: [],
  };
}

/** A series whose loader counts its calls, so tests can check the volume is loaded once. */
export function fakeSeriesInput(header: SeriesHeader = fakeHeader(), volume: () => Promise<SeriesVolume> = async () => fakeSeriesVolume()): SeriesInput & { loads: number } {
  const input = {
    header,
    loads: 0,
    async loadVolume(): Promise<SeriesVolume> {
      input.loads += 1;
      return volume();
    },
  };
  return input;
}

/** A valid manifest with some fields replaced. */
export function fakeManifest(overrides: Partial<AnalysisManifest> = {}): AnalysisManifest {
  const m: AnalysisManifest = {
    apiVersion: ANALYSIS_API_VERSION,
    id: 'test-analysis',
    version: '1.0.0',
    title: 'Test analysis',
    intendedUse: 'Tests only; not for clinical use.',
    modalities: ['CT'],
    resources: { memoryMb: 64, threads: 1 },
    steps: ['measure'],
    accepts: () => ({ accept: true }),
    run: async ({ series, progress }) => {
      progress('measure', 0.5);
      const v = series.volume;
      return {
        findings: [{ id: 'f1', kind: 'test-blob', centerMm: [v.origin[0], v.origin[1], v.origin[2]], probability: 0.5, diameterMm: 4 }],
        measurements: { voxels: { value: v.data.length } },
      };
    },
  };
  return { ...m, ...overrides };
}

/** A manifest with any field replaced by anything, for validation tests (a JS plug-in can send anything). */
export function rawManifest(overrides: Record<string, unknown>): unknown {
  return { ...fakeManifest(), ...overrides };
}
