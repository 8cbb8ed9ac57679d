import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../core/errors.ts';
import { isSrError } from '../core/errors.ts';
import type { Vec3 } from '../imaging/volume.ts';
import { cross, ijkToLps, lpsToIjk } from '../imaging/volume.ts';
import { framesOf } from './frames.ts';
import { buildSeriesHeader, formatScanSummary, groupFiles, mainStack, summarizeScan } from './series.ts';
import { planStack } from './stack-geometry.ts';
import type { DicomDataset, DicomFile } from './types.ts';
import { buildSeriesVolume } from './volume-builder.ts';

interface SliceSpec {
  readonly position: Vec3;
  readonly values: (i: number, j: number) => number;
  readonly slope?: number;
  readonly intercept?: number;
  readonly instanceNumber?: number;
  readonly sop?: string;
  readonly extra?: DicomDataset;
  readonly pixelSpacing?: [number, number];
  readonly orientation?: number[];
}

interface SeriesSpec {
  readonly rows: number;
  readonly columns: number;
  readonly orientation: number[];
  readonly pixelSpacing: [number, number];
  readonly signed?: boolean;
  readonly series?: string;
}

let uidCounter = 0;

function makeFile(s: SeriesSpec, slice: SliceSpec): DicomFile {
  const sop = slice.sop ?? `1.2.3.${++uidCounter}`;
  const dataset: DicomDataset = {
    PatientID: 'P1', StudyInstanceUID: '1.2.3', SeriesInstanceUID: s.series ?? '1.2.3.4', SeriesNumber: 2, Modality: 'CT',
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SOPInstanceUID: sop, FrameOfReferenceUID: '1.2.3.9',
    ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'], ImagePositionPatient: [...slice.position],
    ImageOrientationPatient: slice.orientation ?? s.orientation, PixelSpacing: slice.pixelSpacing ?? s.pixelSpacing,
    RescaleSlope: slice.slope ?? 1, RescaleIntercept: slice.intercept ?? 0, InstanceNumber: slice.instanceNumber, SliceThickness: 1,
    ...slice.extra,
  };
  return {
    source: `mem/${sop}.dcm`, transferSyntaxUID: '1.2.840.10008.1.2.1', dataset, frameCount: 1,
    pixel: { Rows: s.rows, Columns: s.columns, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: s.signed === false ? 0 : 1, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', PlanarConfiguration: 0, NumberOfFrames: 1 },
    async decodeFrame(index: number) {
      assert.equal(index, 0);
      const data = s.signed === false ? new Uint16Array(s.rows * s.columns) : new Int16Array(s.rows * s.columns);
      for (let j = 0; j < s.rows; j++) for (let i = 0; i < s.columns; i++) data[i + j * s.columns] = slice.values(i, j);
      return { data, rows: s.rows, columns: s.columns, samplesPerPixel: 1 };
    },
  };
}

function shuffled<T>(a: readonly T[]): T[] {
  // Deterministic reversal + interleave: any order but the sorted one.
  const r = [...a].reverse();
  return [...r.filter((_, i) => i % 2 === 0), ...r.filter((_, i) => i % 2 === 1)];
}

function add(a: Vec3, b: Vec3, t = 1): Vec3 {
  return [a[0] + b[0] * t, a[1] + b[1] * t, a[2] + b[2] * t];
}

function framesFromFiles(files: readonly DicomFile[]) {
  return files.flatMap((f) => framesOf(f));
}

async function rejectsWith(p: Promise<unknown> | (() => unknown), code: ErrorCode): Promise<void> {
  await assert.rejects(async () => (typeof p === 'function' ? p() : p), (e: unknown) => isSrError(e, code));
}

/** An oblique rotation: row and column cosines from two rotations (not aligned with any patient axis). */
function obliqueOrientation(): number[] {
  const a = 0.5, b = 0.3;
  const r: Vec3 = [Math.cos(a), Math.sin(a), 0];
  const c0: Vec3 = [-Math.sin(a), Math.cos(a), 0];
  const c: Vec3 = [c0[0] * Math.cos(b), c0[1] * Math.cos(b), Math.sin(b)];
  return [...r, ...c];
}

describe('stack geometry and volume assembly', () => {
  it('maps a known LPS point of an oblique, shuffled series to the voxel holding the marker', async () => {
    const iop = obliqueOrientation();
    const r: Vec3 = [iop[0]!, iop[1]!, iop[2]!];
    const c: Vec3 = [iop[3]!, iop[4]!, iop[5]!];
    const n = cross(r, c);
    const spec: SeriesSpec = { rows: 12, columns: 10, orientation: iop, pixelSpacing: [0.7, 0.5] };
    const origin: Vec3 = [-20.5, 33.1, 101.7];
    const marker = { i: 7, j: 3, k: 4 };
    const files = Array.from({ length: 9 }, (_, k) => makeFile(spec, {
      position: add(origin, n, 2.5 * k), instanceNumber: 9 - k,
      values: (i, j) => (i === marker.i && j === marker.j && k === marker.k ? 1000 : k),
    }));
    // The marker's LPS: slice position + i × column spacing (PixelSpacing[1]) along r + j × row spacing along c.
    const markerLps = add(add(add(origin, n, 2.5 * marker.k), r, marker.i * 0.5), c, marker.j * 0.7);
    const sv = await buildSeriesVolume(framesFromFiles(shuffled(files)));
    const vol = sv.volume;
    assert.deepEqual(vol.dims, [10, 12, 9]);
    assert.deepEqual(vol.spacing.map((x) => Number(x.toFixed(6))), [0.5, 0.7, 2.5]);
    const ijk = lpsToIjk(vol, markerLps);
    ijk.forEach((x, a) => assert.ok(Math.abs(x - [marker.i, marker.j, marker.k][a]!) < 1e-6, `ijk ${ijk.join(',')}`));
    assert.equal(vol.data[marker.i + marker.j * 10 + marker.k * 120], 1000);
    const back = ijkToLps(vol, [marker.i, marker.j, marker.k]);
    back.forEach((x, a) => assert.ok(Math.abs(x - markerLps[a]!) < 1e-6));
    // Slices in spatial order, and each k slice keeps its source SOPInstanceUID.
    for (let k = 0; k < 9; k++) assert.equal(vol.data[k * 120], k);
    assert.equal(sv.sliceSopInstanceUids[4], files[4]!.dataset['SOPInstanceUID']);
    assert.equal(sv.frameOfReferenceUid, '1.2.3.9');
  });

  it('sorts sagittal and coronal stacks along their normal whatever the file order', () => {
    for (const iop of [[0, 1, 0, 0, 0, -1], [1, 0, 0, 0, 0, -1]]) {
      const n = cross([iop[0]!, iop[1]!, iop[2]!], [iop[3]!, iop[4]!, iop[5]!]);
      const spec: SeriesSpec = { rows: 4, columns: 4, orientation: iop, pixelSpacing: [1, 1] };
      const files = [3, 0, 2, 1].map((k) => makeFile(spec, { position: add([10, 20, 30], n, 3 * k), values: () => k }));
      const plan = planStack(framesFromFiles(files));
      assert.deepEqual(plan.slices.map((s) => s.frames[0]!.position), [0, 1, 2, 3].map((k) => add([10, 20, 30], n, 3 * k)));
      assert.deepEqual(plan.origin, [10, 20, 30]);
      assert.ok(Math.abs(plan.spacing[2] - 3) < 1e-9);
    }
  });

  it('keeps a gantry-tilted stack on a sheared grid that places every voxel correctly', async () => {
    const tilt = (20 * Math.PI) / 180;
    const iop = [1, 0, 0, 0, Math.cos(tilt), -Math.sin(tilt)];
    const spec: SeriesSpec = { rows: 6, columns: 5, orientation: iop, pixelSpacing: [0.8, 0.6] };
    // Table moves along z (LPS S) by 3 mm per slice, the image plane is tilted.
    const files = Array.from({ length: 6 }, (_, k) => makeFile(spec, { position: [-1, -2, 3 * k], values: (i, j) => 100 * k + 10 * j + i }));
    const sv = await buildSeriesVolume(framesFromFiles(shuffled(files)));
    assert.ok(sv.notes.some((x) => x.includes('gantry tilt') && x.includes('sheared')));
    const vol = sv.volume;
    assert.deepEqual([vol.direction[2], vol.direction[5], vol.direction[8]], [0, 0, 1]);
    assert.ok(Math.abs(vol.spacing[2] - 3) < 1e-9);
    const plan = planStack(framesFromFiles(files));
    assert.ok(Math.abs(plan.tiltDeg - 20) < 1e-6);
    assert.ok(Math.abs(plan.sliceDistanceMm - 3 * Math.cos(tilt)) < 1e-9);
    // Voxel (i=2, j=4, k=3) is at slice position + 2·0.6·r + 4·0.8·c.
    const lps: Vec3 = [-1 + 2 * 0.6, -2 + 4 * 0.8 * Math.cos(tilt), 9 - 4 * 0.8 * Math.sin(tilt)];
    const ijk = lpsToIjk(vol, lps);
    [2, 4, 3].forEach((x, a) => assert.ok(Math.abs(ijk[a]! - x) < 1e-9));
    assert.equal(vol.data[2 + 4 * 5 + 3 * 30], 342);
  });

  it('refuses centres that do not lie on one line (variable tilt)', () => {
    const spec: SeriesSpec = { rows: 4, columns: 4, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const files = [0, 1, 2, 3].map((k) => makeFile(spec, { position: [k === 2 ? 3 : 0, 0, 2 * k], values: () => 0 }));
    assert.throws(() => planStack(framesFromFiles(files)), (e: unknown) => isSrError(e, 'SERIES_INCONSISTENT'));
  });

  it('drops identical duplicates with a note and refuses different images at one position', async () => {
    const spec: SeriesSpec = { rows: 3, columns: 3, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const base = [0, 1, 2].map((k) => makeFile(spec, { position: [0, 0, k], values: () => k }));
    const same = makeFile(spec, { position: [0, 0, 1], values: () => 1 });
    const sv = await buildSeriesVolume(framesFromFiles([...base, same]));
    assert.equal(sv.volume.dims[2], 3);
    assert.ok(sv.notes.some((n) => n.includes('duplicate')));
    const different = makeFile(spec, { position: [0, 0, 1], values: () => 7 });
    await rejectsWith(buildSeriesVolume(framesFromFiles([...base, different])), 'SERIES_DUPLICATE_POSITIONS');
  });

  it('refuses missing slices, or bridges them by interpolation when allowed', async () => {
    const spec: SeriesSpec = { rows: 2, columns: 2, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const files = [0, 1, 2, 4, 5].map((k) => makeFile(spec, { position: [0, 0, 2 * k], values: () => 10 * k }));
    assert.throws(() => planStack(framesFromFiles(files)), (e: unknown) => isSrError(e, 'SERIES_MISSING_SLICES'));
    const sv = await buildSeriesVolume(framesFromFiles(files), { allowMissingSlices: true });
    assert.equal(sv.volume.dims[2], 6);
    assert.equal(sv.volume.data[3 * 4], 30);
    assert.ok(sv.notes.some((n) => n.includes('missing')));
  });

  it('resamples uneven spacing linearly, and refuses extreme or disallowed variation', async () => {
    const spec: SeriesSpec = { rows: 2, columns: 2, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const z = [0, 2, 4, 5.2, 7, 9, 11];
    const files = z.map((zz) => makeFile(spec, { position: [0, 0, zz], values: () => Math.round(zz * 100) }));
    const sv = await buildSeriesVolume(framesFromFiles(files));
    assert.ok(sv.notes.some((n) => n.includes('resampled')));
    const dz = sv.volume.spacing[2];
    assert.equal(sv.volume.dims[2], Math.round(11 / dz) + 1);
    for (let k = 0; k < sv.volume.dims[2]; k++) assert.ok(Math.abs(sv.volume.data[k * 4]! - k * dz * 100) <= 0.5 + 1e-9, `slice ${k}`);
    assert.throws(() => planStack(framesFromFiles(files), { nonUniformSpacing: 'refuse' }), (e: unknown) => isSrError(e, 'SERIES_NONUNIFORM_SPACING'));
    const extreme = [0, 2, 4, 14.7, 16.7].map((zz) => makeFile(spec, { position: [0, 0, zz], values: () => 0 }));
    assert.throws(() => planStack(framesFromFiles(extreme)), (e: unknown) => isSrError(e, 'SERIES_NONUNIFORM_SPACING'));
  });

  it('refuses inconsistent PixelSpacing or orientation and missing geometry', () => {
    const spec: SeriesSpec = { rows: 2, columns: 2, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const ok = [0, 1].map((k) => makeFile(spec, { position: [0, 0, k], values: () => 0 }));
    const badPs = makeFile(spec, { position: [0, 0, 2], values: () => 0, pixelSpacing: [1.2, 1] });
    assert.throws(() => planStack(framesFromFiles([...ok, badPs])), (e: unknown) => isSrError(e, 'SERIES_INCONSISTENT'));
    const a = (1 * Math.PI) / 180;
    const badIop = makeFile(spec, { position: [0, 0, 2], values: () => 0, orientation: [1, 0, 0, 0, Math.cos(a), Math.sin(a)] });
    assert.throws(() => planStack(framesFromFiles([...ok, badIop])), (e: unknown) => isSrError(e, 'SERIES_INCONSISTENT'));
    const noPos = makeFile(spec, { position: [0, 0, 2], values: () => 0, extra: { ImagePositionPatient: undefined } });
    assert.throws(() => planStack(framesFromFiles([...ok, noPos])), (e: unknown) => isSrError(e, 'SERIES_GEOMETRY_MISSING'));
  });

  it('applies RescaleSlope/Intercept per slice for signed and unsigned storage, clamping to int16 with a note', async () => {
    const unsigned: SeriesSpec = { rows: 2, columns: 2, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1], signed: false };
    const files = [
      makeFile(unsigned, { position: [0, 0, 0], values: () => 1024, slope: 1, intercept: -1024 }),
      makeFile(unsigned, { position: [0, 0, 1], values: () => 60000, slope: 1, intercept: -1024 }),
      makeFile(unsigned, { position: [0, 0, 2], values: () => 100, slope: 2, intercept: -3000 }),
      makeFile(unsigned, { position: [0, 0, 3], values: () => 3, slope: 0.5, intercept: 0 }),
    ];
    const sv = await buildSeriesVolume(framesFromFiles(files));
    assert.deepEqual([0, 1, 2, 3].map((k) => sv.volume.data[k * 4]), [0, 32767, -2800, 2]);
    assert.ok(sv.notes.some((n) => n.includes('clamped')));
    assert.ok(sv.notes.some((n) => n.includes('non-integer')));
    const signed: SeriesSpec = { ...unsigned, signed: true };
    const sfiles = [0, 1].map((k) => makeFile(signed, { position: [0, 0, k], values: () => -2000 + k, slope: 1, intercept: k === 0 ? 0 : -1 }));
    const sv2 = await buildSeriesVolume(framesFromFiles(sfiles));
    assert.deepEqual([sv2.volume.data[0], sv2.volume.data[4]], [-2000, -2000]);
  });

  it('reads enhanced multi-frame geometry and rescale from shared and per-frame functional groups', async () => {
    const rows = 3, columns = 2;
    const dataset: DicomDataset = {
      PatientID: 'P1', StudyInstanceUID: '1.2.3', SeriesInstanceUID: '1.2.3.7', Modality: 'CT', SOPInstanceUID: '1.2.3.70',
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.2.1', ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      SharedFunctionalGroupsSequence: [{
        PlaneOrientationSequence: [{ ImageOrientationPatient: [-1, 0, 0, 0, 1, 0] }],
        PixelMeasuresSequence: [{ PixelSpacing: [0.4, 0.3], SliceThickness: 10 }],
        PixelValueTransformationSequence: [{ RescaleSlope: 1, RescaleIntercept: -1024 }],
      }],
      PerFrameFunctionalGroupsSequence: [-159, -149, -139].map((z, f) => ({
        PlanePositionSequence: [{ ImagePositionPatient: [99.5, -301.5, z] }],
        ...(f === 2 ? { PixelValueTransformationSequence: [{ RescaleSlope: 2, RescaleIntercept: 0 }] } : {}),
      })),
    };
    const file: DicomFile = {
      source: 'mem/enhanced.dcm', transferSyntaxUID: '1.2.840.10008.1.2.1', dataset, frameCount: 3,
      pixel: { Rows: rows, Columns: columns, BitsAllocated: 16, BitsStored: 16, HighBit: 15, PixelRepresentation: 0, SamplesPerPixel: 1, PhotometricInterpretation: 'MONOCHROME2', PlanarConfiguration: 0, NumberOfFrames: 3 },
      async decodeFrame(i: number) {
        return { data: new Uint16Array(rows * columns).fill(1100 + i), rows, columns, samplesPerPixel: 1 };
      },
    };
    const scan = groupFiles([file]);
    const stack = mainStack(scan.patients[0]!.studies[0]!.series[0]!)!;
    assert.equal(stack.multiFrame, true);
    const sv = await buildSeriesVolume(stack.frames);
    // Normal = (-1,0,0) × (0,1,0) = (0,0,-1): the frame at z = -139 comes first.
    assert.deepEqual(sv.volume.origin, [99.5, -301.5, -139]);
    assert.deepEqual([sv.volume.direction[2], sv.volume.direction[5], sv.volume.direction[8]], [0, 0, -1]);
    assert.deepEqual(sv.volume.spacing, [0.3, 0.4, 10]);
    assert.deepEqual([0, 1, 2].map((k) => sv.volume.data[k * 6]), [2204, 77, 76]);
  });

  it('groups a scan into stacks and excludes localizers, orthogonal scouts and secondary captures with reasons', async () => {
    const axial: SeriesSpec = { rows: 4, columns: 4, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const main = [0, 1, 2, 3, 4].map((k) => makeFile(axial, { position: [0, 0, 2 * k], values: () => k }));
    const coronal: SeriesSpec = { ...axial, orientation: [1, 0, 0, 0, 0, -1] };
    const scout = [0, 1].map((k) => makeFile(coronal, { position: [0, k, 0], values: () => 0 }));
    const loc = makeFile(axial, { position: [0, 0, 50], values: () => 0, extra: { ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] } });
    const sc = makeFile(axial, { position: [0, 0, 0], values: () => 0, extra: { SeriesInstanceUID: '1.2.3.5', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7' } });
    const derived = makeFile(axial, { position: [0, 0, 60], values: () => 0, extra: { ImageType: ['DERIVED', 'SECONDARY', 'AXIAL'] } });
    const scan = groupFiles([...scout, ...main, loc, sc, derived], [{ source: 'junk.txt', code: 'DICOM_NOT_DICOM', message: 'no DICM' }]);
    const study = scan.patients[0]!.studies[0]!;
    assert.equal(study.series.length, 2);
    const series = study.series.find((s) => s.seriesInstanceUid === '1.2.3.4')!;
    assert.equal(series.stacks.length, 2);
    assert.equal(series.stacks[0]!.frames.length, 5);
    assert.equal(series.stacks[0]!.excluded, undefined);
    assert.match(series.stacks[1]!.excluded ?? '', /orthogonal/);
    assert.deepEqual(series.excludedInstances.map((x) => x.reason.split(' ')[0]).sort(), ['derived', 'localizer']);
    const scSeries = study.series.find((s) => s.seriesInstanceUid === '1.2.3.5')!;
    assert.match(scSeries.excludedInstances[0]!.reason, /secondary capture/);
    assert.equal(mainStack(scSeries), undefined);
    const header = buildSeriesHeader(series);
    assert.equal(header.instanceCount, 5);
    assert.equal(header.modality, 'CT');
    const summary = summarizeScan(scan);
    const text = formatScanSummary(summary);
    assert.match(text, /5 slice\(s\)/);
    assert.match(text, /DICOM_NOT_DICOM: junk.txt/);
    assert.deepEqual(summary.patients[0]!.studies[0]!.series[0]!.stacks[0]!.spacingMm, [1, 1, 2]);
  });

  it('reports progress for every decoded frame', async () => {
    const spec: SeriesSpec = { rows: 2, columns: 2, orientation: [1, 0, 0, 0, 1, 0], pixelSpacing: [1, 1] };
    const files = [0, 1, 2, 3].map((k) => makeFile(spec, { position: [0, 0, k], values: () => k }));
    const seen: string[] = [];
    await buildSeriesVolume(framesFromFiles(files), { onProgress: (d, t) => seen.push(`${d}/${t}`) });
    assert.deepEqual(seen, ['1/4', '2/4', '3/4', '4/4']);
  });
});
