/**
 * The DICOM outputs of a real analysis run: a head CT phantom with a subdural bleed written as a CT series, run
 * through `analyze` (head-ct-hemorrhage), and its SEG and TID 1500 SR checked with dciodvfy, dsrdump and dcmjs,
 * and against the source series (same patient / study / frame of reference, every SEG pixel on its source voxel).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateHeadPhantom } from '../../eval/phantoms/head.ts';
import { headCtHemorrhage } from '../analyses/head-ct-hemorrhage/manifest.ts';
import { analyzePaths } from '../cli/analyze.ts';
import type { AnalyzeResult } from '../cli/analyze.ts';
import { formatDS, writeCtSeries } from '../dicom/index.ts';
import type { CtSeriesWriteResult, DicomDataset } from '../dicom/index.ts';
import { unpackBinaryFrame } from '../dicom/seg.ts';
import { createRegistry } from '../engine/index.ts';
import { lpsToIjk, readNifti } from '../imaging/index.ts';
import { comparable, dciodvfy, dcmjsRead, dcmjsRoundTrip, dsrdump, haveDciodvfy, haveDsrdump } from './test-dicom-tools.ts';

let dir = '';
let series: CtSeriesWriteResult;
let result: AnalyzeResult;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sr-real-outputs-'));
  // Small (192 × 192 × 30, 5 mm) so the whole analysis runs in a few seconds.
  const phantom = generateHeadPhantom({ seed: 1, bleedType: 'subdural', dims: [192, 192, 30], sliceThicknessMm: 5 });
  series = await writeCtSeries(phantom.volume, {
    outDir: join(dir, 'in'), uidSeed: 'outputs-real-analysis', instanceOrder: 'shuffled', fileNaming: 'opaque',
    series: { BodyPartExamined: 'HEAD' }, patient: { PatientName: 'Phantom^Head', PatientID: 'PH-7', PatientSex: 'F', ageYears: 71 },
    study: { AccessionNumber: 'ACC-7', StudyID: 'S7', StudyTime: '101500' },
  });
  result = await analyzePaths({ paths: [join(dir, 'in')], outDir: join(dir, 'out'), registry: createRegistry([headCtHemorrhage]) });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const arr = (v: unknown): DicomDataset[] => (Array.isArray(v) ? (v as DicomDataset[]) : v ? [v as DicomDataset] : []);

function output(suffix: string): Uint8Array {
  const rel = result.dicomFiles.find((f) => f.endsWith(suffix));
  assert.ok(rel, `no ${suffix} in ${result.dicomFiles.join(', ')}`);
  return readFileSync(join(dir, 'out', rel));
}

test('analyze --out writes seg.dcm and sr.dcm (and key images) next to findings.json', () => {
  const r = result.document.analyses[0];
  assert.equal(r?.status, 'ok', r?.reason);
  assert.ok((r?.findings.length ?? 0) > 0, 'the phantom bleed is found');
  assert.deepEqual(result.dicomErrors, []);
  const stem = series.SeriesInstanceUID;
  assert.ok(result.dicomFiles.includes(`head-ct-hemorrhage/${stem}.seg.dcm`));
  assert.ok(result.dicomFiles.includes(`head-ct-hemorrhage/${stem}.sr.dcm`));
  assert.ok(result.dicomFiles.some((f) => f.startsWith(`head-ct-hemorrhage/${stem}/key-image-`)));
});

test('dciodvfy: 0 errors on the real SEG and SR, only explained warnings', { skip: haveDciodvfy ? false : 'dciodvfy not installed (scripts/setup.sh installs dicom3tools)' }, (t) => {
  for (const suffix of ['.seg.dcm', '.sr.dcm']) {
    const v = dciodvfy(output(suffix));
    t.diagnostic(`${suffix}: ${v.errors.length} error(s), ${v.warnings.length} warning(s) (${[...new Set(v.warnings)].join(' | ')})`);
    assert.deepEqual(v.errors, [], v.report);
    assert.deepEqual(v.unexplained, [], v.report);
  }
});

test('dsrdump reads the SR (exit 0) and shows the measured volume of each bleed', { skip: haveDsrdump ? false : 'dsrdump (dcmtk) not installed' }, () => {
  const r = dsrdump(output('.sr.dcm'));
  assert.equal(r.status, 0, r.output);
  for (const f of result.document.analyses[0]?.findings ?? []) {
    const v = f['volumeMl'];
    assert.equal(typeof v, 'number');
    assert.ok(r.output.includes(`"Volume")="${formatDS(v as number)}" (mL,UCUM,"milliliter")`), `volume ${String(v)} of ${f.id} in:\n${r.output}`);
    assert.ok(r.output.includes(`"Tracking Identifier")="${f.id}"`));
  }
  assert.match(r.output, /Imaging Measurement Report/);
  assert.match(r.output, /\(50960005,SCT,"Hemorrhage"\)/);
  // Study level: midline shift and total volume in the "study" group, triage as a qualitative evaluation.
  const m = result.document.analyses[0]?.measurements ?? {};
  const shift = m['midlineShiftMm'];
  if (typeof shift === 'number') assert.ok(r.output.includes(`"Midline shift")="${formatDS(shift)}" (mm,UCUM,"millimeter")`), r.output);
  assert.ok(r.output.includes(`"Total hemorrhage volume")="${formatDS(Number(m['hemorrhageVolumeMl']))}" (mL,UCUM`), r.output);
  assert.ok(r.output.includes(`"Triage priority")=(triage-${String(m['triagePriority'])},99SECONDREADER`), r.output);
});

test('SEG and SR round-trip through dcmjs with the same content', () => {
  for (const suffix of ['.seg.dcm', '.sr.dcm']) {
    const { first, second } = dcmjsRoundTrip(output(suffix));
    assert.deepEqual(comparable(second), comparable(first), suffix);
  }
});

test('SEG: same patient, study and frame of reference as the source; each frame on its source slice; every pixel on a voxel of its label', async () => {
  const seg = dcmjsRead(output('.seg.dcm'));
  const src = dcmjsRead(readFileSync(series.files[0] ?? ''));
  for (const k of ['PatientName', 'PatientID', 'PatientSex', 'PatientBirthDate', 'StudyInstanceUID', 'AccessionNumber', 'StudyID', 'StudyDate', 'FrameOfReferenceUID']) {
    assert.deepEqual(seg[k], src[k], k);
  }
  const r = result.document.analyses[0];
  assert.ok(r?.labelMap);
  const labels = (await readNifti(join(dir, 'out', r.labelMap.path))).volume;
  const bySop = new Map(series.instances.map((i) => [i.SOPInstanceUID, i]));
  const shared = arr(seg['SharedFunctionalGroupsSequence'])[0] ?? {};
  const iop = (arr(shared['PlaneOrientationSequence'])[0]?.['ImageOrientationPatient'] as number[]).map(Number);
  const spacing = (arr(shared['PixelMeasuresSequence'])[0]?.['PixelSpacing'] as number[]).map(Number);
  const segments = new Map(arr(seg['SegmentSequence']).map((s) => [Number(s['SegmentNumber']), String(s['TrackingID'])]));
  const labelOf = new Map((r.findings).map((f) => [f.id, f.label]));
  const rows = Number(seg['Rows']);
  const cols = Number(seg['Columns']);
  const pixels = new Uint8Array((seg['PixelData'] as ArrayBuffer[])[0] as ArrayBuffer);
  const perFrame = arr(seg['PerFrameFunctionalGroupsSequence']);
  assert.ok(perFrame.length > 0 && perFrame.length < series.instances.length * segments.size, 'only frames that hold a segment');
  let onPixels = 0;
  let mismatched = 0;
  perFrame.forEach((fg, n) => {
    const ipp = (arr(fg['PlanePositionSequence'])[0]?.['ImagePositionPatient'] as number[]).map(Number);
    const sop = String(arr(arr(fg['DerivationImageSequence'])[0]?.['SourceImageSequence'])[0]?.['ReferencedSOPInstanceUID']);
    const inst = bySop.get(sop);
    assert.ok(inst, `frame ${n} references a source instance`);
    inst.ImagePositionPatient.forEach((x, a) => assert.ok(Math.abs(x - (ipp[a] ?? NaN)) < 1e-3, `frame ${n} lies on its source slice`));
    const segNo = Number(arr(fg['SegmentIdentificationSequence'])[0]?.['ReferencedSegmentNumber']);
    const label = labelOf.get(segments.get(segNo) ?? '');
    assert.ok(label !== undefined);
    const frame = unpackBinaryFrame(pixels, n, rows, cols);
    let on = 0;
    for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
      if (!frame[y * cols + x]) continue;
      on++;
      // Patient point of the SEG pixel (PS3.3 C.7.6.2.1.1) → voxel of the label map saved beside findings.json.
      const p = [0, 1, 2].map((a) => (ipp[a] ?? 0) + x * (spacing[1] ?? 0) * (iop[a] ?? 0) + y * (spacing[0] ?? 0) * (iop[3 + a] ?? 0));
      const [i, j, k] = lpsToIjk(labels, p).map(Math.round) as [number, number, number];
      const [nx, ny] = labels.dims;
      if (labels.data[i + nx * (j + ny * k)] !== label) mismatched++;
    }
    assert.ok(on > 0, `frame ${n} is not empty`);
    onPixels += on;
  });
  assert.ok(onPixels > 50, `${onPixels} segmented pixels`);
  assert.equal(mismatched, 0, 'every SEG pixel maps back onto a voxel of its finding label');
});
