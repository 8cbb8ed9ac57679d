/**
 * Series → volume on real files (read in place from ../shared/data) and on series written by our own CT
 * writer with awkward geometry; plus the NIfTI ↔ DICOM cross-check on the IBSI CT phantom.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { readNifti } from '../imaging/nifti.ts';
import type { Int16Volume, Mat3, Vec3 } from '../imaging/volume.ts';
import { createVolume, ijkToLps, lpsToIjk } from '../imaging/volume.ts';
import { gantryTiltDirection, writeCtSeries } from './ct-series-writer.ts';
import { readDicomFile } from './parse.ts';
import type { ScanResult } from './series.ts';
import { analyzableStacks, buildSeriesHeader, scanPaths, summarizeScan } from './series.ts';
import { planStack } from './stack-geometry.ts';
import { buildSeriesVolume } from './volume-builder.ts';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;
const skip = !existsSync(DATA);

function near(a: readonly number[], b: readonly number[], tol: number, label = ''): void {
  a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] ?? NaN)) <= tol, `${label} ${a.join(',')} vs ${b.join(',')}`));
}

function onlyStack(scan: ScanResult) {
  const stacks = analyzableStacks(scan);
  assert.equal(stacks.length, 1, `stacks: ${stacks.map((s) => s.stack.id).join(' ')}`);
  return stacks[0]!;
}

describe('series → volume on written series', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'sr-series-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('rebuilds an oblique, gantry-tilted, shuffled, unsigned-storage series voxel for voxel', async () => {
    const [nx, ny, nz] = [24, 20, 12];
    const data = new Int16Array(nx * ny * nz);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[i + nx * (j + ny * k)] = -1000 + 7 * i + 31 * j + 97 * k;
    // Tilt the grid, then rotate it all about the patient's S axis: oblique and sheared at once.
    const tilt = gantryTiltDirection(12);
    const a = 0.4;
    const rz: Mat3 = [Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a), 0, 0, 0, 1];
    const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => rz[r * 3]! * tilt[c]! + rz[r * 3 + 1]! * tilt[3 + c]! + rz[r * 3 + 2]! * tilt[6 + c]!)) as Mat3;
    const vol: Int16Volume = createVolume(data, { dims: [nx, ny, nz], spacing: [0.6, 0.8, 2.5], origin: [-30, 12, 250], direction });
    await writeCtSeries(vol, { outDir: join(dir, 'tilted'), uidSeed: 'tilted', storage: 'unsigned', fileNaming: 'opaque', instanceOrder: 'shuffled' });
    const progress: number[] = [];
    const scan = await scanPaths([dir], { onProgress: (d) => progress.push(d) });
    assert.equal(progress.at(-1), nz);
    const ref = onlyStack(scan);
    const sv = await buildSeriesVolume(ref.stack.frames);
    assert.ok(sv.notes.some((n) => n.includes('gantry tilt 12°')), sv.notes.join('|'));
    assert.deepEqual(sv.volume.dims, [nx, ny, nz]);
    assert.deepEqual(Array.from(sv.volume.data), Array.from(data));
    for (const ijk of [[0, 0, 0], [nx - 1, ny - 1, nz - 1], [5, 17, 9]]) near(ijkToLps(sv.volume, ijk), ijkToLps(vol, ijk), 1e-3, `ijk ${ijk.join(',')}`);
    const header = buildSeriesHeader(ref.series, ref.stack);
    assert.equal(header.instanceCount, nz);
    assert.equal(header.bodyPartExamined, 'CHEST');
  });
});

describe('series → volume on real data', { skip }, () => {
  it('GE head with 18.5° gantry tilt and 1.08–6.99 mm spacing: sheared grid, resampled along the stack', async () => {
    const scan = await scanPaths([join(DATA, 'ct-head-gantry-tilt/GE-human-head')]);
    assert.ok(scan.problems.every((p) => p.code === 'DICOM_NOT_DICOM'), 'only the JSON sidecar is not DICOM');
    const { stack } = onlyStack(scan);
    assert.equal(stack.frames.length, 28);
    assert.throws(() => planStack(stack.frames, { nonUniformSpacing: 'refuse' }), (e: unknown) => isSrError(e, 'SERIES_NONUNIFORM_SPACING'));
    const plan = planStack(stack.frames);
    assert.ok(plan.sheared && plan.resampled);
    assert.ok(Math.abs(plan.tiltDeg - 18.5) < 0.1, `tilt ${plan.tiltDeg}`);
    // The table moves along patient z: the k axis is +z, not the slice normal.
    near([plan.direction[2], plan.direction[5], plan.direction[8]], [0, 0, 1], 1e-6);
    const sv = await buildSeriesVolume(stack.frames);
    // Every output slice origin lies on the line of acquired slice origins (x, y fixed), from first to last.
    const first = stack.frames.map((f) => f.position!).sort((p, q) => p[2] - q[2]);
    for (let k = 0; k < sv.volume.dims[2]; k++) near(ijkToLps(sv.volume, [0, 0, k]).slice(0, 2), first[0]!.slice(0, 2), 1e-6);
    near(ijkToLps(sv.volume, [0, 0, sv.volume.dims[2] - 1]), first.at(-1)!, 1e-3);
    // Where an output slice coincides with an acquired one, the voxels are that slice's HU exactly.
    const lowest = stack.frames.find((f) => f.position === first[0])!;
    const decoded = await lowest.file.decodeFrame(0);
    const n = 512 * 512;
    for (let i = 0; i < n; i += 997) assert.equal(sv.volume.data[i], Math.round((decoded.data[i] as number) * lowest.rescaleSlope + lowest.rescaleIntercept));
    // A pixel of acquired slice 6 (uniform region) maps back to integer i, j and its own slice position.
    const s6 = first[6]!;
    const lps: Vec3 = [s6[0] + 100 * 0.48828, s6[1] + 200 * 0.48828 * 0.9483237, s6[2] - 200 * 0.48828 * 0.3173047];
    const ijk = lpsToIjk(sv.volume, lps);
    near(ijk.slice(0, 2), [100, 200], 1e-2, 'ij');
    assert.ok(Math.abs(ijk[2] - (s6[2] - first[0]![2]) / sv.volume.spacing[2]) < 1e-6);
  });

  it('Philips head phantom: 28 slices sorted by position (not InstanceNumber), DICOMDIR ignored', async () => {
    const scan = await scanPaths([join(DATA, 'ct-head-gantry-tilt/Philips-phantom-S2010')]);
    assert.equal(scan.ignored.length, 1);
    const { stack } = onlyStack(scan);
    const plan = planStack(stack.frames);
    assert.equal(plan.dims[2], 28);
    assert.equal(plan.sheared, false);
    near(plan.origin, [-115.5, -1.85, 696.21], 1e-6);
    near(plan.spacing, [0.451172, 0.451172, 5], 1e-5);
  });

  it('LIDC-IDRI-0003: 11 axial slices, k order follows the z in the file names', async () => {
    const scan = await scanPaths([join(DATA, 'chest-ct-lidc/LIDC-IDRI-0003')]);
    const { stack } = onlyStack(scan);
    const sv = await buildSeriesVolume(stack.frames);
    assert.deepEqual(sv.volume.dims, [512, 512, 11]);
    near([sv.volume.spacing[2]], [2.5], 1e-6);
    for (let k = 0; k < 11; k++) {
      const f = stack.frames.find((x) => x.sopInstanceUid === sv.sliceSopInstanceUids[k])!;
      const z = Number(/(-?\d+\.\d+)\.dcm$/.exec(f.file.source)?.[1]);
      near([ijkToLps(sv.volume, [0, 0, k])[2]], [z], 1e-3);
    }
  });

  it('enhanced multi-frame CT (eCT_Supplemental): geometry from functional groups', async () => {
    const scan = await scanPaths([join(DATA, 'dicom-conformance/pydicom-data/eCT_Supplemental.dcm')]);
    const { stack } = onlyStack(scan);
    const sv = await buildSeriesVolume(stack.frames);
    assert.deepEqual(sv.volume.dims, [512, 512, 2]);
    near(sv.volume.origin, [99.5, -301.5, -149], 1e-6);
    near(sv.volume.spacing, [0.388672, 0.388672, 10], 1e-6);
    near([sv.volume.direction[2], sv.volume.direction[5], sv.volume.direction[8]], [0, 0, -1], 1e-9);
    assert.deepEqual(sv.sliceSopInstanceUids, [stack.frames[0]!.sopInstanceUid, stack.frames[0]!.sopInstanceUid]);
  });

  it('keeps scanning past malformed and non-image files, reporting each with its code', async () => {
    const td = join(DATA, 'dicom-conformance/pydicom/test_files');
    const scan = await scanPaths(['MR_truncated.dcm', 'rtplan_truncated.dcm', 'badVR.dcm', 'CT_small.dcm', 'rtstruct.dcm', 'SC_rgb_rle.dcm', 'README.txt'].map((f) => join(td, f)));
    const summary = summarizeScan(scan);
    const codes = scan.problems.map((p) => p.code);
    assert.ok(codes.includes('DICOM_NOT_DICOM'));
    assert.ok(summary.problems.every((p) => /^[A-Z_]+: /.test(p)));
    const all = analyzableStacks(scan);
    assert.ok(all.some((s) => s.series.modality === 'CT' && s.stack.frames.length === 1));
    const excluded = scan.patients.flatMap((p) => p.studies.flatMap((s) => s.series.flatMap((x) => x.excludedInstances.map((e) => e.reason))));
    assert.ok(excluded.some((r) => r.startsWith('no pixel data')));
    assert.ok(excluded.some((r) => r.startsWith('colour image')));
  });

  it('TotalSegmentator JPEG 2000 series lies on the same LPS grid as its NIfTI segmentation (j flipped)', async () => {
    const scan = await scanPaths([join(DATA, 'ct-totalsegmentator/example_ct_dicom')]);
    const plan = planStack(onlyStack(scan).stack.frames);
    const seg = (await readNifti(join(DATA, 'ct-totalsegmentator/example_seg_dicom.nii.gz'))).volume;
    assert.deepEqual(plan.dims, seg.dims);
    for (const [i, j, k] of [[0, 0, 0], [511, 0, 19], [100, 300, 7]] as const) near(ijkToLps(plan, [i, j, k]), ijkToLps(seg, [i, 511 - j, k]), 1e-3);
  });

  it('IBSI CT phantom: DICOM series and NIfTI give the same voxels and the same LPS geometry', async () => {
    const scan = await scanPaths([join(DATA, 'radiomics-ibsi/ibsi_1_ct_radiomics_phantom/dicom/image')]);
    const { stack } = onlyStack(scan);
    const dcm = (await buildSeriesVolume(stack.frames)).volume;
    const nii = (await readNifti(join(DATA, 'radiomics-ibsi/ibsi_1_ct_radiomics_phantom/nifti/image/phantom.nii.gz'))).volume;
    assert.deepEqual(dcm.dims, nii.dims);
    near(dcm.origin, nii.origin, 1e-3, 'origin');
    near(dcm.spacing, nii.spacing, 1e-5, 'spacing');
    near(dcm.direction, nii.direction, 1e-6, 'direction');
    let diff = 0;
    for (let i = 0; i < dcm.data.length; i++) if (dcm.data[i] !== Math.round(nii.data[i] as number)) diff++;
    assert.equal(diff, 0);
  });

  it('reads a single classic file directly too', async () => {
    const f = await readDicomFile(join(DATA, 'dicom-conformance/pydicom/test_files/CT_small.dcm'));
    assert.equal(f.frameCount, 1);
  });
});
