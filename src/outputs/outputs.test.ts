import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getSequence, getString, parseDicom } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { createVolume } from '../imaging/index.ts';
import type { Int16Volume, MaskVolume } from '../imaging/index.ts';
import { buildResultObjects, outputSeries, renderKeyImages, unitOfPath } from './index.ts';
import type { OutputProvenance, OutputSource } from './index.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const DCIODVFY = '/usr/bin/dciodvfy';

/** 40×30×5 volume, −1000 HU with a 6×5 block of 40 HU on slices 1–3 labelled 1 and a second blob labelled 2. */
function fixture(): { volume: Int16Volume; mask: MaskVolume } {
  const dims: [number, number, number] = [40, 30, 5];
  const data = new Int16Array(40 * 30 * 5).fill(-1000);
  const mask = new Uint8Array(data.length);
  for (let k = 1; k <= 3; k++) {
    for (let j = 10; j < 15; j++) for (let i = 12; i < 18; i++) {
      data[i + 40 * (j + 30 * k)] = 40;
      mask[i + 40 * (j + 30 * k)] = 1;
    }
    for (let j = 20; j < 23; j++) for (let i = 30; i < 33; i++) mask[i + 40 * (j + 30 * k)] = 2;
  }
  const geometry = { dims, spacing: [0.8, 0.8, 2] as [number, number, number], origin: [-16, -12, 0] as [number, number, number] };
  return { volume: createVolume(data, geometry), mask: createVolume(mask, geometry) };
}

function source(name: unknown = 'Doe^Jane'): OutputSource {
  return {
    attributes: { SOPClassUID: CT, PatientName: name, PatientID: 'P-1', PatientSex: 'F', PatientBirthDate: '19600102', PatientAge: '066Y', StudyDate: '20260101', StudyTime: '101010', AccessionNumber: 'ACC1', StudyID: '7', ReferringPhysicianName: '', SeriesNumber: 3 },
    studyInstanceUid: '2.25.1111',
    seriesInstanceUid: '2.25.2222',
    sliceSopInstanceUids: ['2.25.31', '2.25.32', '2.25.33', '2.25.34', '2.25.35'],
  };
}

const PROVENANCE: OutputProvenance = { resultId: '0b8f2a9e-4a7e-4c39-9d2e-6b1d2c3e4f50', analysisId: 'chest-ct-nodules', analysisVersion: '0.2.0', createdAt: '2026-11-30T09:08:37.857Z' };

function objects(over: { source?: OutputSource; provenance?: OutputProvenance; findings?: number } = {}) {
  const { volume, mask } = fixture();
  const p = over.provenance ?? PROVENANCE;
  const keyFindings = [
    { id: 'n1', kind: 'lung-nodule', probability: 0.93, label: 1, k: 2, summary: '4.8 MM' },
    { id: 'n2', kind: 'lung-nodule', probability: 0.61, label: 2, k: 3 },
  ].slice(0, over.findings ?? 2);
  const keyImages = renderKeyImages({ analysisId: p.analysisId, analysisVersion: p.analysisVersion, volume, mask, window: { center: -600, width: 1500 }, findings: keyFindings });
  return buildResultObjects({
    provenance: p,
    source: over.source ?? source(),
    keyImages,
    result: {
      status: 'ok',
      findings: keyFindings.map((f) => ({ id: f.id, kind: f.kind, centerMm: [1.5, -2.25, 4] as [number, number, number], probability: f.probability, label: f.label, reasons: ['solid nodule, mean diameter 4.8 mm'], diameterMm: 4.8, measurements: { volumeMm3: 57.9, meanHu: -186 }, noduleType: 'solid' })),
      measurements: { assistive: true, lungVolumeMl: { left: 1134, right: 1332 }, candidatesExamined: 359, lungRads: { category: '4A' }, lungZRangeMm: [-228.45, 36.55] },
    },
  });
}

function dataset(bytes: Uint8Array): DicomDataset {
  return parseDicom(bytes, 'test').dataset;
}

test('a result becomes one SC per key image and one Comprehensive SR, in the source study, with deterministic UIDs', () => {
  const objs = objects();
  assert.deepEqual(objs.map((o) => o.name), ['key-image-n1.dcm', 'key-image-n2.dcm', 'report.dcm']);
  const series = outputSeries(PROVENANCE);
  for (const o of objs) {
    const ds = dataset(o.bytes);
    assert.equal(ds['StudyInstanceUID'], '2.25.1111');
    assert.equal(getString(ds, 'PatientID'), 'P-1');
    assert.equal(getString(ds, 'PatientName'), 'Doe^Jane');
    assert.equal(getString(ds, 'Manufacturer'), 'SecondReader');
    assert.equal(ds['SOPInstanceUID'], o.sopInstanceUid);
    assert.equal(ds['SeriesInstanceUID'], o.kind === 'report' ? series.report : series.keyImages);
    assert.match(getString(ds, 'SeriesDescription') ?? '', /ASSISTIVE/);
    assert.match(o.sopInstanceUid, /^2\.25\.\d+$/);
  }
  const again = objects();
  assert.deepEqual(again.map((o) => o.sopInstanceUid), objs.map((o) => o.sopInstanceUid), 'same result id → same UIDs');
  assert.deepEqual(again.map((o) => Buffer.from(o.bytes).toString('hex')), objs.map((o) => Buffer.from(o.bytes).toString('hex')), 'same inputs → same bytes');
  const other = objects({ provenance: { ...PROVENANCE, resultId: 'another-result' } });
  assert.ok(other.every((o) => !objs.some((x) => x.sopInstanceUid === o.sopInstanceUid || x.seriesInstanceUid === o.seriesInstanceUid)));
});

test('key images: RGB, burned-in annotation declared, finding outlined, text drawn, source slice referenced', async () => {
  const [sc] = objects({ findings: 1 });
  assert.ok(sc);
  const file = parseDicom(sc.bytes, 'sc');
  const ds = file.dataset;
  assert.equal(ds['SOPClassUID'], '1.2.840.10008.5.1.4.1.1.7');
  assert.equal(ds['BurnedInAnnotation'], 'YES');
  assert.equal(ds['PhotometricInterpretation'], 'RGB');
  assert.equal(ds['Modality'], 'OT');
  assert.deepEqual(ds['ImageType'], ['DERIVED', 'SECONDARY']);
  assert.match(getString(ds, 'ImageComments') ?? '', /not a diagnosis/);
  assert.match(getString(ds, 'DerivationDescription') ?? '', /slice 3 of 5 .*enlarged 13x nearest neighbour/);
  assert.equal(getSequence(ds, 'SourceImageSequence')[0]?.['ReferencedSOPInstanceUID'], '2.25.33');
  assert.equal(ds['PixelSpacing'], undefined, 'a picture for reading: no spacing claimed');
  const frame = await file.decodeFrame(0);
  const rows = Number(ds['Rows']);
  const cols = Number(ds['Columns']);
  assert.ok(cols >= 512 && cols % 2 === 0);
  const px = (x: number, y: number) => [0, 1, 2].map((c) => Number(frame.data[(y * cols + x) * 3 + c]));
  let amber = 0;
  let yellow = 0;
  let cyan = 0;
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
    const [r, g, b] = px(x, y);
    if (r === 255 && g === 200 && b === 0) amber++;
    if (r === 255 && g === 230 && b === 0) yellow++;
    if (r === 0 && g === 200 && b === 255) cyan++;
  }
  assert.ok(amber > 200, `disclaimer text drawn (${amber} px)`);
  assert.ok(yellow > 100, `the finding is outlined (${yellow} px)`);
  assert.ok(cyan > 50, `other findings on the slice are outlined too (${cyan} px)`);
  // Outlined, not filled: the 6×5-voxel block at 13× would be ~5000 px filled.
  assert.ok(yellow < 2500, `outline, not a fill (${yellow} px)`);
});

test('SR: findings and measurements as NUM items with UCUM units, disclaimer, algorithm name/version, UNVERIFIED', () => {
  const sr = objects().find((o) => o.kind === 'report');
  assert.ok(sr);
  const ds = dataset(sr.bytes);
  assert.equal(ds['SOPClassUID'], '1.2.840.10008.5.1.4.1.1.88.33');
  assert.equal(ds['VerificationFlag'], 'UNVERIFIED');
  const all: DicomDataset[] = [];
  const walk = (d: DicomDataset) => {
    for (const item of getSequence(d, 'ContentSequence')) {
      all.push(item);
      walk(item);
    }
  };
  walk(ds);
  const named = (meaning: string) => all.filter((i) => getSequence(i, 'ConceptNameCodeSequence')[0]?.['CodeMeaning'] === meaning);
  const unitOf = (i: DicomDataset | undefined) => getSequence(getSequence(i ?? {}, 'MeasuredValueSequence')[0] ?? {}, 'MeasurementUnitsCodeSequence')[0]?.['CodeValue'];
  assert.match(String(named('Disclaimer')[0]?.['TextValue']), /not a diagnosis/);
  assert.equal(named('Algorithm Name')[0]?.['TextValue'], 'chest-ct-nodules');
  assert.equal(named('Algorithm Version')[0]?.['TextValue'], '0.2.0');
  assert.equal(named('Measurement Group').length, 2);
  assert.equal(unitOf(named('measurements.volumeMm3')[0]), 'mm3');
  assert.equal(unitOf(named('diameterMm')[0]), 'mm');
  assert.equal(unitOf(named('measurements.meanHu')[0]), "[hnsf'U]");
  assert.equal(unitOf(named('lungVolumeMl.left')[0]), 'mL');
  assert.equal(unitOf(named('Probability the finding is real (calibrated)')[0]), '1');
  assert.equal(named('candidatesExamined')[0]?.['ValueType'], 'TEXT', 'a number without a known unit is not given a guessed one');
  assert.equal(named('Key image').length, 2);
  assert.equal(getSequence(ds, 'CurrentRequestedProcedureEvidenceSequence').length, 1);
  assert.equal(unitOfPath(['perNodule', 'n1', 'sizeMm'])?.code, 'mm');
  assert.equal(unitOfPath(['lungVolumeMl', 'left'])?.code, 'mL');
  assert.equal(unitOfPath(['candidatesExamined']), undefined);
});

test('a non-ASCII patient name is written as UTF-8 and declared so', () => {
  const [, , sr] = objects({ source: source({ Alphabetic: 'Müller^Zoë' }) });
  assert.ok(sr);
  const ds = dataset(sr.bytes);
  assert.equal(ds['SpecificCharacterSet'], 'ISO_IR 192');
  assert.equal(getString(ds, 'PatientName'), 'Müller^Zoë');
});

test('dciodvfy: no errors on the SC and SR objects', { skip: existsSync(DCIODVFY) ? false : `${DCIODVFY} not installed (scripts/setup.sh installs dicom3tools)` }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-outputs-'));
  try {
    for (const o of [...objects(), ...objects({ source: source({ Alphabetic: 'Müller^Zoë' }), findings: 0 })]) {
      const path = join(dir, o.name);
      writeFileSync(path, o.bytes);
      const r = spawnSync(DCIODVFY, [path], { encoding: 'utf8' });
      const report = `${r.stdout}${r.stderr}`;
      const errors = report.split('\n').filter((l) => /^Error/.test(l));
      const warnings = report.split('\n').filter((l) => /^Warning/.test(l));
      const distinct = [...new Set(warnings)].map((w) => `${warnings.filter((x) => x === w).length}× ${w}`);
      if (warnings.length > 0) t.diagnostic(`${o.name}: dciodvfy warnings: ${distinct.join(' | ')}`);
      assert.deepEqual(errors, [], `${o.name}:\n${report}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
