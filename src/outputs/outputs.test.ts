import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getSequence, getString, parseDicom } from '../dicom/index.ts';
import type { DicomDataset } from '../dicom/index.ts';
import { conceptMeaning, walkContent } from '../dicom/sr-content.ts';
import { unpackBinaryFrame } from '../dicom/seg.ts';
import { createVolume, ijkToLps } from '../imaging/index.ts';
import type { Int16Volume, MaskVolume } from '../imaging/index.ts';
import { buildResultObjects, outputSeries, renderKeyImages } from './index.ts';
import type { OutputProvenance, OutputSource } from './index.ts';
import { comparable, dciodvfy, dcmjsRead, dcmjsRoundTrip, dsrdump, haveDciodvfy, haveDsrdump } from './test-dicom-tools.ts';

const CT = '1.2.840.10008.5.1.4.1.1.2';

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
  // Oblique in-plane rotation, so a row/column mix-up in the SEG geometry cannot go unnoticed.
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const direction: [number, number, number, number, number, number, number, number, number] = [c, -s, 0, s, c, 0, 0, 0, 1];
  const geometry = { dims, spacing: [0.8, 0.7, 2] as [number, number, number], origin: [-16, -12, 0] as [number, number, number], direction };
  return { volume: createVolume(data, geometry), mask: createVolume(mask, geometry) };
}

function source(name: unknown = 'Doe^Jane'): OutputSource {
  return {
    attributes: { SOPClassUID: CT, FrameOfReferenceUID: '2.25.4444', PatientName: name, PatientID: 'P-1', PatientSex: 'F', PatientBirthDate: '19600102', PatientAge: '066Y', StudyDate: '20260101', StudyTime: '101010', AccessionNumber: 'ACC1', StudyID: '7', ReferringPhysicianName: '', SeriesNumber: 3 },
    studyInstanceUid: '2.25.1111',
    seriesInstanceUid: '2.25.2222',
    sliceSopInstanceUids: ['2.25.31', '2.25.32', '2.25.33', '2.25.34', '2.25.35'],
  };
}

const PROVENANCE: OutputProvenance = { resultId: '0b8f2a9e-4a7e-4c39-9d2e-6b1d2c3e4f50', analysisId: 'chest-ct-nodules', analysisVersion: '0.2.0', createdAt: '2026-11-30T09:08:37.857Z' };

function objects(over: { source?: OutputSource; provenance?: OutputProvenance; findings?: number; noMask?: boolean } = {}) {
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
    ...(over.noMask ? {} : { segmentation: { mask, labels: { 1: 'nodule n1', 2: 'nodule n2' } } }),
    result: {
      status: 'ok',
      findings: keyFindings.map((f) => ({
        id: f.id, kind: f.kind, centerMm: [1.5, -2.25, 4] as [number, number, number], probability: f.probability, label: f.label, reasons: ['solid nodule, 57.9 mm³, −186 ± 20 HU'],
        diameterMm: 4.8, measurements: { meanDiameterMm: 4.8, longAxisMm: 5.3, shortAxisMm: 4.3, volumeMm3: 57.9, meanHu: -186 }, noduleType: 'solid', location: { side: 'right' },
      })),
      measurements: { assistive: true, lungVolumeMl: { left: 1134, right: 1332 }, candidatesExamined: 359, lungRads: { category: '4A', drivingFindingId: 'n1' }, brock: { perNodule: { n1: { probability: 0.0321 } } }, lungZRangeMm: [-228.45, 36.55] },
    },
  });
}

function dataset(bytes: Uint8Array): DicomDataset {
  return parseDicom(bytes, 'test').dataset;
}

test('a result becomes one SC per key image, one SEG and one TID 1500 SR, in the source study, with deterministic UIDs', () => {
  const objs = objects();
  assert.deepEqual(objs.map((o) => o.name), ['key-image-n1.dcm', 'key-image-n2.dcm', 'seg.dcm', 'report.dcm']);
  assert.deepEqual(objects({ noMask: true }).map((o) => o.kind), ['key-image', 'key-image', 'report'], 'no label mask, no SEG');
  const series = outputSeries(PROVENANCE);
  for (const o of objs) {
    const ds = dataset(o.bytes);
    assert.equal(ds['StudyInstanceUID'], '2.25.1111');
    assert.equal(getString(ds, 'PatientID'), 'P-1');
    assert.equal(getString(ds, 'PatientName'), 'Doe^Jane');
    assert.equal(getString(ds, 'Manufacturer'), 'SecondReader');
    assert.equal(ds['SOPInstanceUID'], o.sopInstanceUid);
    assert.equal(ds['SeriesInstanceUID'], o.kind === 'report' ? series.report : o.kind === 'segmentation' ? series.segmentation : series.keyImages);
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

function srItems(ds: DicomDataset): DicomDataset[] {
  return [...walkContent(ds)];
}

function numValue(item: DicomDataset | undefined): { value: number; unit: unknown } | undefined {
  const mv = getSequence(item ?? {}, 'MeasuredValueSequence')[0];
  if (!mv) return undefined;
  return { value: Number(mv['NumericValue']), unit: getSequence(mv, 'MeasurementUnitsCodeSequence')[0]?.['CodeValue'] };
}

test('SR: Comprehensive 3D, TID 1500 with one TID 1411 group per finding referencing its SEG segment, UCUM units, standard codes', () => {
  const objs = objects();
  const sr = objs.find((o) => o.kind === 'report');
  const seg = objs.find((o) => o.kind === 'segmentation');
  assert.ok(sr && seg);
  const ds = dataset(sr.bytes);
  assert.equal(ds['SOPClassUID'], '1.2.840.10008.5.1.4.1.1.88.34');
  assert.equal(ds['VerificationFlag'], 'UNVERIFIED');
  assert.equal(getSequence(ds, 'ConceptNameCodeSequence')[0]?.['CodeValue'], '126000');
  assert.equal(getSequence(ds, 'ContentTemplateSequence')[0]?.['TemplateIdentifier'], '1500');
  const all = srItems(ds);
  const named = (meaning: string) => all.filter((i) => conceptMeaning(i) === meaning);
  assert.equal(getSequence(named('Language of Content Item and Descendants')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeValue'], 'en-US');
  assert.equal(getSequence(named('Observer Type')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeValue'], '121007');
  assert.equal(getSequence(named('Procedure reported')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeValue'], '24627-2');
  assert.match(String(named('Disclaimer')[0]?.['TextValue']), /not a diagnosis/);
  assert.ok(named('Algorithm Name').every((i) => i['TextValue'] === 'chest-ct-nodules') && named('Algorithm Name').length > 0);
  assert.ok(named('Algorithm Version').every((i) => i['TextValue'] === '0.2.0'));
  const groups = named('Measurement Group');
  assert.equal(groups.length, 2, 'one group per finding; no study numbers in this result');
  const segDs = dataset(seg.bytes);
  groups.forEach((g, n) => {
    const items = getSequence(g, 'ContentSequence');
    const by = (m: string) => items.filter((i) => conceptMeaning(i) === m);
    assert.equal(getSequence(g, 'ContentTemplateSequence')[0]?.['TemplateIdentifier'], '1411');
    assert.equal(by('Tracking Identifier')[0]?.['TextValue'], `n${n + 1}`);
    const trackingUid = by('Tracking Unique Identifier')[0]?.['UID'];
    assert.equal(getSequence(by('Finding')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeValue'], '27925004');
    assert.equal(getSequence(by('Finding Site')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodeValue'], '3341006', 'right lung');
    const ref = getSequence(by('Referenced Segment')[0] ?? {}, 'ReferencedSOPSequence')[0];
    assert.equal(ref?.['ReferencedSOPInstanceUID'], seg.sopInstanceUid);
    const segmentNumber = Number(ref?.['ReferencedSegmentNumber']);
    const segment = getSequence(segDs, 'SegmentSequence').find((x) => Number(x['SegmentNumber']) === segmentNumber);
    assert.equal(segment?.['TrackingUID'], trackingUid, 'the SR group and its SEG segment share the tracking UID');
    assert.equal(by('Source series for segmentation')[0]?.['UID'], '2.25.2222');
    assert.equal(numValue(by('Long Axis')[0])?.value, 5.3);
    assert.equal(numValue(by('Long Axis')[0])?.unit, 'mm');
    assert.equal(numValue(by('Short Axis')[0])?.value, 4.3);
    assert.equal(numValue(by('Volume')[0])?.unit, 'mm3');
    assert.equal(numValue(by('Attenuation Coefficient')[0])?.unit, "[hnsf'U]");
    assert.equal(numValue(by('Diameter')[0])?.value, 4.8);
    assert.equal(getSequence(by('Nodule type')[0] ?? {}, 'ConceptCodeSequence')[0]?.['CodingSchemeDesignator'], '99SECONDREADER');
    const center = by('Center')[0];
    assert.equal(center?.['ValueType'], 'SCOORD3D');
    assert.equal(center?.['GraphicType'], 'POINT');
    assert.equal(center?.['ReferencedFrameOfReferenceUID'], '2.25.4444');
    assert.equal(by('Illustration of ROI').length, 1, 'the key image');
    // Nested text in the default repertoire where it has a plain form (dcmjs reads nested strings as Latin-1).
    assert.equal(by('Reason flagged')[0]?.['TextValue'], 'solid nodule, 57.9 mm3, -186 +/- 20 HU');
  });
  assert.equal(numValue(named('Brock (PanCan) malignancy probability')[0])?.value, 3.21);
  const lungRads = named('Lung-RADS v2022 category')[0];
  assert.equal(getSequence(lungRads ?? {}, 'ConceptCodeSequence')[0]?.['CodeMeaning'], 'Lung-RADS 4A');
  assert.equal(getSequence(lungRads ?? {}, 'ContentSequence')[0]?.['TextValue'], 'n1');
  assert.equal(getSequence(ds, 'CodingSchemeIdentificationSequence')[0]?.['CodingSchemeDesignator'], '99SECONDREADER');
  assert.equal(getSequence(ds, 'CurrentRequestedProcedureEvidenceSequence').length, 1);
});

test('SEG: one segment per labelled finding, only frames holding it, every frame pixel at the patient point of its source voxel', () => {
  const { mask } = fixture();
  const seg = objects().find((o) => o.kind === 'segmentation');
  assert.ok(seg);
  const ds = dcmjsRead(seg.bytes);
  const arr = (v: unknown): DicomDataset[] => (Array.isArray(v) ? (v as DicomDataset[]) : v ? [v as DicomDataset] : []);
  assert.equal(ds['SOPClassUID'], '1.2.840.10008.5.1.4.1.1.66.4');
  assert.equal(ds['Modality'], 'SEG');
  assert.equal(ds['SegmentationType'], 'BINARY');
  assert.equal(ds['FrameOfReferenceUID'], '2.25.4444');
  assert.equal(ds['PatientID'], 'P-1');
  const segments = arr(ds['SegmentSequence']);
  assert.deepEqual(segments.map((s) => s['TrackingID']), ['n1', 'n2']);
  assert.equal(arr(segments[0]?.['SegmentedPropertyTypeCodeSequence'])[0]?.['CodeValue'], '27925004');
  assert.equal(arr(segments[0]?.['SegmentedPropertyCategoryCodeSequence'])[0]?.['CodeValue'], '49755003');
  const refSeries = arr(ds['ReferencedSeriesSequence'])[0];
  assert.equal(refSeries?.['SeriesInstanceUID'], '2.25.2222');
  const shared = arr(ds['SharedFunctionalGroupsSequence'])[0] ?? {};
  const iop = (arr(shared['PlaneOrientationSequence'])[0]?.['ImageOrientationPatient'] as number[]).map(Number);
  const spacing = (arr(shared['PixelMeasuresSequence'])[0]?.['PixelSpacing'] as number[]).map(Number);
  const perFrame = arr(ds['PerFrameFunctionalGroupsSequence']);
  assert.equal(Number(ds['NumberOfFrames']), perFrame.length);
  assert.equal(perFrame.length, 6, 'each segment on slices 1..3 only');
  const rows = Number(ds['Rows']);
  const cols = Number(ds['Columns']);
  const pixels = new Uint8Array((ds['PixelData'] as ArrayBuffer[])[0] as ArrayBuffer);
  const slices = ['2.25.31', '2.25.32', '2.25.33', '2.25.34', '2.25.35'];
  let checked = 0;
  perFrame.forEach((fg, n) => {
    const ipp = (arr(fg['PlanePositionSequence'])[0]?.['ImagePositionPatient'] as number[]).map(Number);
    const segNo = Number(arr(fg['SegmentIdentificationSequence'])[0]?.['ReferencedSegmentNumber']);
    const sourceSop = arr(arr(fg['DerivationImageSequence'])[0]?.['SourceImageSequence'])[0]?.['ReferencedSOPInstanceUID'];
    const k = slices.indexOf(String(sourceSop));
    assert.ok(k >= 0, 'each frame names its source slice');
    const frame = unpackBinaryFrame(pixels, n, rows, cols);
    let on = 0;
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
      // PS3.3 C.7.6.2.1.1: P = IPP + c·Δcol·row direction + r·Δrow·column direction.
      const p = [0, 1, 2].map((a) => (ipp[a] ?? 0) + c * (spacing[1] ?? 0) * (iop[a] ?? 0) + r * (spacing[0] ?? 0) * (iop[3 + a] ?? 0));
      const q = ijkToLps(mask, [c, r, k]);
      if (frame[r * cols + c]) {
        on++;
        assert.equal(mask.data[c + cols * (r + rows * k)], segNo, 'a set pixel is a voxel of its segment');
        for (let a = 0; a < 3; a++) assert.ok(Math.abs((p[a] ?? 0) - (q[a] ?? NaN)) < 1e-3, `frame ${n} pixel (${r},${c}) at ${p.join(',')} vs voxel ${q.join(',')}`);
        checked++;
      } else assert.notEqual(mask.data[c + cols * (r + rows * k)], segNo);
    }
    assert.ok(on > 0, 'no empty frames');
  });
  assert.equal(checked, 3 * (30 + 9));
});

test('SR and SEG round-trip through dcmjs (parse → write → parse, same content); SR readable by dsrdump with its values', { skip: haveDsrdump ? false : 'dsrdump (dcmtk) not installed: scripts/setup.sh installs it' }, () => {
  for (const o of objects().filter((x) => x.kind !== 'key-image')) {
    const { first, second } = dcmjsRoundTrip(o.bytes);
    assert.deepEqual(comparable(second), comparable(first), `${o.name} round trip`);
  }
  const sr = objects().find((o) => o.kind === 'report');
  assert.ok(sr);
  const r = dsrdump(sr.bytes);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /"Long Axis"\)="5\.3" \(mm,UCUM/);
  assert.match(r.output, /"Volume"\)="57\.9" \(mm3,UCUM/);
  assert.match(r.output, /Referenced Segment/);
});

test('a resampled volume: SEG frames keep their patient positions but name no source image; no FrameOfReferenceUID: no SEG, no SCOORD3D', { skip: haveDciodvfy ? false : 'dciodvfy not installed' }, () => {
  const resampled = { ...source(), volumeNotes: ['resampled for gantry tilt 12°'] };
  const seg = objects({ source: resampled }).find((o) => o.kind === 'segmentation');
  assert.ok(seg);
  const ds = dcmjsRead(seg.bytes);
  const frames = ds['PerFrameFunctionalGroupsSequence'] as DicomDataset[];
  assert.ok(frames.length > 0 && frames.every((f) => f['DerivationImageSequence'] === undefined && f['PlanePositionSequence'] !== undefined));
  assert.deepEqual(dciodvfy(seg.bytes).errors, []);
  const { FrameOfReferenceUID: _dropped, ...attributes } = source().attributes;
  const objs = objects({ source: { ...source(), attributes } });
  assert.deepEqual(objs.map((o) => o.kind), ['key-image', 'key-image', 'report']);
  const sr = objs.find((o) => o.kind === 'report');
  assert.ok(sr);
  assert.equal(srItems(dataset(sr.bytes)).filter((i) => i['ValueType'] === 'SCOORD3D').length, 0);
  assert.equal(srItems(dataset(sr.bytes)).filter((i) => conceptMeaning(i) === 'Measurement Group' && getSequence(i, 'ContentTemplateSequence')[0]?.['TemplateIdentifier'] === '1501').length, 2, 'groups without a segment are TID 1501');
});

test('a non-ASCII patient name is written as UTF-8 and declared so', () => {
  const [, , sr] = objects({ source: source({ Alphabetic: 'Müller^Zoë' }) });
  assert.ok(sr);
  const ds = dataset(sr.bytes);
  assert.equal(ds['SpecificCharacterSet'], 'ISO_IR 192');
  assert.equal(getString(ds, 'PatientName'), 'Müller^Zoë');
});

test('dciodvfy: no errors on the SC, SEG and SR objects; only explained warnings', { skip: haveDciodvfy ? false : 'dciodvfy not installed (scripts/setup.sh installs dicom3tools)' }, (t) => {
  for (const o of [...objects(), ...objects({ source: source({ Alphabetic: 'Müller^Zoë' }), findings: 0 })]) {
    const v = dciodvfy(o.bytes);
    if (v.warnings.length > 0) t.diagnostic(`${o.name}: ${v.warnings.length} warning(s), e.g. ${v.warnings[0]}`);
    assert.deepEqual(v.errors, [], `${o.name}:\n${v.report}`);
    assert.deepEqual(v.unexplained, [], `${o.name}: unexplained warnings:\n${v.report}`);
  }
});

test('the SR lists a sub-threshold finding a follow-up comparison shows (priorGuided + status), not a plain sub-threshold one nor a resolved placeholder', async () => {
  const { reportedFindings } = await import('./structured-report.ts');
  const f = (id: string, extra: Record<string, unknown> = {}) => ({ id, kind: 'lung-nodule', centerMm: [0, 0, 0] as [number, number, number], probability: 0.2, ...extra });
  const shown = reportedFindings({
    measurements: { displayThreshold: 0.5 },
    findings: [f('n1', { label: 1, probability: 0.9 }), f('n2', { priorGuided: true, status: 'stable' }), f('n3'), f('resolved-p1', { priorGuided: true, status: 'resolved' })],
  });
  assert.deepEqual(shown.map((x) => x.id), ['n1', 'n2']);
});
