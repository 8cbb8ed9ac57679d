/**
 * The DICOM outputs of a real chest-ct-nodules run (the analysis's own 160 × 160 × 80 test chest with two nodules,
 * written as a CT series and run through `analyze`): the SR's nodule measurements, Lung-RADS category and Brock
 * probability are those of findings.json, the SEG segments sit on the nodules, and both objects validate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chestCtNodules } from '../analyses/chest-ct-nodules/manifest.ts';
import { buildScene } from '../analyses/chest-ct-nodules/test-scene.ts';
import { analyzePaths } from '../cli/analyze.ts';
import type { AnalyzeResult } from '../cli/analyze.ts';
import { formatDS, getSequence, parseDicom, writeCtSeries } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { unpackBinaryFrame } from '../dicom/seg.ts';
import { conceptMeaning, walkContent } from '../dicom/sr-content.ts';
import { createRegistry } from '../engine/index.ts';
import { comparable, dciodvfy, dcmjsRead, dcmjsRoundTrip, dsrdump, haveDciodvfy, haveDsrdump } from './test-dicom-tools.ts';

let dir = '';
let result: AnalyzeResult;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sr-real-chest-'));
  const scene = buildScene();
  await writeCtSeries(scene.vol, {
    outDir: join(dir, 'in'), uidSeed: 'outputs-real-chest', series: { BodyPartExamined: 'CHEST' },
    patient: { PatientName: 'Phantom^Chest', PatientID: 'PC-1', PatientSex: 'M', ageYears: 64 },
  });
  result = await analyzePaths({ paths: [join(dir, 'in')], outDir: join(dir, 'out'), registry: createRegistry([chestCtNodules]) });
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const arr = (v: unknown): DicomDataset[] => (Array.isArray(v) ? (v as DicomDataset[]) : v ? [v as DicomDataset] : []);
const rec = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

function output(suffix: string): Uint8Array {
  const rel = result.dicomFiles.find((f) => f.endsWith(suffix));
  assert.ok(rel, `no ${suffix} in ${result.dicomFiles.join(', ')}`);
  return readFileSync(join(dir, 'out', rel));
}

function labelled() {
  const r = result.document.analyses[0];
  assert.equal(r?.status, 'ok', r?.reason);
  const shown = r.findings.filter((f) => f.label !== undefined);
  assert.ok(shown.length >= 2, 'both scene nodules are found and labelled');
  return { r, shown };
}

test('dciodvfy: 0 errors on the chest SEG and SR, only explained warnings; dsrdump reads the SR', { skip: haveDciodvfy && haveDsrdump ? false : 'dciodvfy / dsrdump not installed (scripts/setup.sh)' }, (t) => {
  for (const suffix of ['.seg.dcm', '.sr.dcm']) {
    const v = dciodvfy(output(suffix));
    t.diagnostic(`${suffix}: ${v.errors.length} error(s), ${v.warnings.length} warning(s)`);
    assert.deepEqual(v.errors, [], v.report);
    assert.deepEqual(v.unexplained, [], v.report);
  }
  const d = dsrdump(output('.sr.dcm'));
  assert.equal(d.status, 0, d.output);
  for (const f of labelled().shown) {
    const m = rec(f['measurements']);
    assert.ok(d.output.includes(`"Long Axis")="${formatDS(Number(m['longAxisMm']))}" (mm,UCUM,"millimeter")`), `long axis of ${f.id}`);
    assert.ok(d.output.includes(`"Volume")="${formatDS(Number(m['volumeMm3']))}" (mm3,UCUM,"cubic millimeter")`), `volume of ${f.id}`);
  }
});

test('SR: a group per reported nodule with the findings.json values; Lung-RADS with its driving nodule; Brock in %', () => {
  const { r, shown } = labelled();
  const ds = parseDicom(output('.sr.dcm'), 'sr').dataset;
  const items = [...walkContent(ds)];
  const groups = items.filter((i) => conceptMeaning(i) === 'Measurement Group');
  const threshold = Number(r.measurements['displayThreshold']);
  const reported = r.findings.filter((f) => f.label !== undefined || f.probability >= threshold);
  assert.ok(reported.length < r.findings.length, 'the scene has sub-threshold candidates, left out of the SR');
  assert.equal(groups.length, reported.length);
  const left = items.find((i) => conceptMeaning(i) === 'Candidates below display threshold');
  assert.match(String(left?.['TextValue']), new RegExp(`^${r.findings.length - reported.length} candidate`));
  const perNodule = rec(rec(r.measurements['brock'])['perNodule']);
  for (const f of shown) {
    const g = groups.find((x) => getSequence(x, 'ContentSequence').some((i) => conceptMeaning(i) === 'Tracking Identifier' && i['TextValue'] === f.id));
    assert.ok(g, `group of ${f.id}`);
    const by = (m: string) => getSequence(g, 'ContentSequence').filter((i) => conceptMeaning(i) === m);
    const num = (i: DicomDataset | undefined) => Number(getSequence(i ?? {}, 'MeasuredValueSequence')[0]?.['NumericValue']);
    const m = rec(f['measurements']);
    assert.equal(num(by('Short Axis')[0]), Number(formatDS(Number(m['shortAxisMm']))));
    assert.equal(num(by('Volume')[0]), Number(formatDS(Number(m['volumeMm3']))));
    const site = getSequence(by('Finding Site')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeMeaning'];
    assert.equal(site, rec(f['location'])['side'] === 'left' ? 'Left lung' : 'Right lung');
    assert.equal(getSequence(by('Nodule type')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeMeaning'], `${String(f['noduleType'])} nodule`);
    const brock = rec(perNodule[f.id])['probability'];
    if (typeof brock === 'number') assert.equal(num(by('Brock (PanCan) malignancy probability')[0]), Math.round(brock * 10000) / 100);
    const center = by('Center')[0];
    const xyz = (center?.['GraphicData'] as number[]).map(Number);
    f.centerMm.forEach((c, a) => assert.ok(Math.abs(c - (xyz[a] ?? NaN)) < 1e-3, 'SCOORD3D centre = finding centre'));
  }
  const lr = rec(r.measurements['lungRads']);
  const lungRads = items.find((i) => conceptMeaning(i) === 'Lung-RADS v2022 category');
  assert.equal(getSequence(lungRads ?? {}, 'ConceptCodeSequence')[0]?.['CodeMeaning'], `Lung-RADS ${String(lr['category'])}`);
  if (typeof lr['drivingFindingId'] === 'string') assert.equal(getSequence(lungRads ?? {}, 'ContentSequence')[0]?.['TextValue'], lr['drivingFindingId']);
});

test('SEG: one segment per labelled nodule, centred on its finding; SEG and SR round-trip through dcmjs', () => {
  const { shown } = labelled();
  const seg = dcmjsRead(output('.seg.dcm'));
  const segments = arr(seg['SegmentSequence']);
  assert.deepEqual(segments.map((s) => s['TrackingID']), shown.map((f) => f.id));
  const shared = arr(seg['SharedFunctionalGroupsSequence'])[0] ?? {};
  const iop = (arr(shared['PlaneOrientationSequence'])[0]?.['ImageOrientationPatient'] as number[]).map(Number);
  const spacing = (arr(shared['PixelMeasuresSequence'])[0]?.['PixelSpacing'] as number[]).map(Number);
  const rows = Number(seg['Rows']);
  const cols = Number(seg['Columns']);
  const pixels = new Uint8Array((seg['PixelData'] as ArrayBuffer[])[0] as ArrayBuffer);
  const sums = new Map<number, { n: number; p: [number, number, number] }>();
  arr(seg['PerFrameFunctionalGroupsSequence']).forEach((fg, n) => {
    const ipp = (arr(fg['PlanePositionSequence'])[0]?.['ImagePositionPatient'] as number[]).map(Number);
    const segNo = Number(arr(fg['SegmentIdentificationSequence'])[0]?.['ReferencedSegmentNumber']);
    const acc: { n: number; p: [number, number, number] } = sums.get(segNo) ?? { n: 0, p: [0, 0, 0] };
    const frame = unpackBinaryFrame(pixels, n, rows, cols);
    for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
      if (!frame[y * cols + x]) continue;
      acc.n++;
      for (let a = 0; a < 3; a++) acc.p[a as 0 | 1 | 2] += (ipp[a] ?? 0) + x * (spacing[1] ?? 0) * (iop[a] ?? 0) + y * (spacing[0] ?? 0) * (iop[3 + a] ?? 0);
    }
    sums.set(segNo, acc);
  });
  shown.forEach((f, n) => {
    const acc = sums.get(n + 1);
    assert.ok(acc && acc.n > 0, `segment ${n + 1} has pixels`);
    const centroid = acc.p.map((v) => v / acc.n);
    const dist = Math.hypot(...centroid.map((c, a) => c - (f.centerMm[a] ?? 0)));
    // The finding centre is the nodule's centre of mass on the same mask: within a voxel or two.
    assert.ok(dist < 3, `segment of ${f.id} centred ${dist.toFixed(2)} mm from the finding centre`);
  });
  for (const suffix of ['.seg.dcm', '.sr.dcm']) {
    const { first, second } = dcmjsRoundTrip(output(suffix));
    assert.deepEqual(comparable(second), comparable(first), suffix);
  }
});
