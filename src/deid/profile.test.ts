/** The profile table against the data dictionary, the options, pseudonyms, date shifts and the burned-in refusal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { dicomToBuffer, lookupKeyword, lookupTag, tagHex } from '../dicom/index.ts';
import { parseDicom } from '../dicom/parse.ts';
import type { DicomDataset } from '../dicom/types.ts';
import { createDeidentifier, effectiveAction } from './deidentify.ts';
import { PROFILE, PROFILE_BY_TAG, PROJECT_ADDITIONS, TABLE_E1_1_ROW_COUNT, groupPatternAction } from './profile.ts';
import { KEEP_TEXT, safetyNetAction } from './safety-net.ts';
import { createPseudonymizer, shiftDate, shiftDateTime } from './pseudonym.ts';

const SECRET = 'another-test-secret-with-32-bytes!';

function instance(extra: DicomDataset = {}): Buffer {
  return dicomToBuffer({
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: '1.2.3.4.5.6.7.1', StudyInstanceUID: '1.2.3.4.5.6', SeriesInstanceUID: '1.2.3.4.5.6.7',
    PatientName: { Alphabetic: 'Doe^Jane' }, PatientID: 'MRN-0042', PatientBirthDate: '19610304', PatientSex: 'F', PatientAge: '063Y', PatientWeight: 61.5,
    StudyDate: '20240117', StudyTime: '101500', SeriesDate: '20240117', AccessionNumber: 'ACC77', InstitutionName: 'St Example Hospital',
    ReferringPhysicianName: { Alphabetic: 'House^Greg' }, Modality: 'OT', ImageType: ['DERIVED', 'SECONDARY'],
    ...extra,
  });
}

describe('profile table', () => {
  it('has every row of PS3.15 2024b Table E.1-1, each with the data dictionary\'s tag and keyword, no tag twice', () => {
    assert.equal(PROFILE.length, TABLE_E1_1_ROW_COUNT);
    assert.equal(TABLE_E1_1_ROW_COUNT, 617); // PS3.15 2024b Table E.1-1: 617 single-attribute rows (+3 repeating groups)
    const wrong: string[] = [];
    for (const r of [...PROFILE, ...PROJECT_ADDITIONS]) {
      const d = lookupTag(r.tag);
      if (d?.keyword !== r.keyword) wrong.push(`${tagHex(r.tag)} ${r.keyword}: dictionary says ${d?.keyword ?? 'unknown'}`);
    }
    assert.deepEqual(wrong, []);
    const tags = [...PROFILE, ...PROJECT_ADDITIONS].map((r) => r.tag);
    assert.equal(new Set(tags).size, tags.length, 'duplicate rows');
  });

  it('marks every date/time row for the Modified Dates option and only those', () => {
    const wrong = PROFILE.filter((r) => Boolean(r.dates) !== ['DA', 'DT', 'TM'].includes(lookupTag(r.tag)?.vr ?? '')).map((r) => r.keyword);
    assert.deepEqual(wrong, []);
    const kept = PROFILE.filter((r) => r.chars === 'K').map((r) => r.keyword).sort();
    assert.deepEqual(kept, ['EthnicGroup', 'PatientAge', 'PatientSex', 'PatientSexNeutered', 'PatientSize', 'PatientWeight', 'PregnancyStatus', 'SmokingStatus']);
  });

  it('safety net: PN and free text outside the table are removed unless on the keep-list', () => {
    assert.equal(safetyNetAction('CameraOwnerName', 'PN'), 'X');
    assert.equal(safetyNetAction('EvaluatorName', 'PN'), 'X');
    assert.equal(safetyNetAction('TextValue', 'UT'), 'X');
    assert.equal(safetyNetAction(undefined, 'LO'), 'X');
    assert.equal(safetyNetAction('ConvolutionKernel', 'SH'), 'K');
    assert.equal(safetyNetAction('CodeMeaning', 'LO'), 'K');
    assert.equal(safetyNetAction('ContentDescription', 'LO'), 'Z');
    assert.equal(safetyNetAction('Modality', 'CS'), 'K');
    assert.equal(safetyNetAction('PixelSpacing', 'DS'), 'K');
    for (const k of KEEP_TEXT) {
      assert.ok(lookupKeyword(k) !== undefined, `keep-list keyword ${k} is not in the dictionary`);
      assert.ok(!PROFILE_BY_TAG.has(lookupKeyword(k)?.tag ?? 0), `${k} is a table row, not a keep-list entry`);
      assert.notEqual(lookupKeyword(k)?.entry.vr, 'PN', `${k}: no PN may be kept`);
    }
  });

  it('resolves compound actions and options', () => {
    assert.equal(effectiveAction({ action: 'X/Z' }, {}), 'Z');
    assert.equal(effectiveAction({ action: 'X/Z/D' }, {}), 'D');
    assert.equal(effectiveAction({ action: 'X/Z/U*' }, {}), 'U');
    assert.equal(effectiveAction({ action: 'Z', dates: true }, {}), 'Z');
    assert.equal(effectiveAction({ action: 'Z', dates: true }, { retainModifiedDates: true }), 'C');
    assert.equal(effectiveAction({ action: 'X', chars: 'K' }, { retainPatientCharacteristics: true }), 'K');
    assert.equal(effectiveAction({ action: 'X', chars: 'C' }, { retainPatientCharacteristics: true }), 'X');
    assert.equal(groupPatternAction(0x50020010), 'X');
    assert.equal(groupPatternAction(0x60003000), 'X');
    assert.equal(groupPatternAction(0x60000010), undefined);
  });
});

describe('pseudonyms, UIDs and dates', () => {
  it('are deterministic per secret and differ between secrets', () => {
    const a = createPseudonymizer(SECRET);
    const b = createPseudonymizer(SECRET);
    const c = createPseudonymizer(`${SECRET}x`);
    assert.equal(a.patient('MRN-1'), b.patient('MRN-1'));
    assert.notEqual(a.patient('MRN-1'), a.patient('MRN-2'));
    assert.notEqual(a.patient('MRN-1'), c.patient('MRN-1'));
    assert.equal(a.uid('1.2.3'), b.uid('1.2.3'));
    assert.notEqual(a.uid('1.2.3'), c.uid('1.2.3'));
    assert.ok(a.uid('1.2.3').length <= 64);
    const days = a.dateShiftDays('MRN-1');
    assert.ok(days >= 1 && days <= 3650);
    assert.throws(() => createPseudonymizer('short'), (e) => isSrError(e, 'CONFIG_INVALID'));
  });

  it('shifts DA and DT values', () => {
    assert.equal(shiftDate('20240301', 1), '20240229');
    assert.equal(shiftDate('2024', 1), undefined);
    assert.equal(shiftDateTime('20240101083000.5', 1), '20231231083000.5');
  });
});

describe('deidentify', () => {
  it('basic profile: identifiers replaced, dates removed, one pseudonym per patient across studies', () => {
    const d = createDeidentifier({ secret: SECRET });
    const a = parseDicom(d.deidentify(instance(), 'a').bytes, 'a').dataset;
    const b = parseDicom(d.deidentify(instance({ StudyInstanceUID: '1.2.3.9', SeriesInstanceUID: '1.2.3.9.1', SOPInstanceUID: '1.2.3.9.1.1' }), 'b').bytes, 'b').dataset;
    assert.equal(a['PatientID'], b['PatientID'], 'same patient, two studies: same pseudonym');
    assert.notEqual(a['StudyInstanceUID'], b['StudyInstanceUID']);
    assert.notEqual(a['PatientID'], 'MRN-0042');
    assert.deepEqual(a['PatientName'], { Alphabetic: a['PatientID'] });
    for (const k of ['PatientBirthDate', 'StudyDate', 'AccessionNumber', 'ReferringPhysicianName', 'PatientSex']) assert.ok(a[k] === undefined || a[k] === '' || (Array.isArray(a[k]) && a[k].length === 0), `${k}=${JSON.stringify(a[k])}`);
    for (const k of ['PatientAge', 'PatientWeight']) assert.equal(a[k], undefined, k);
    assert.equal(a['SeriesDate'], '19000101', 'X/D: a dummy date'); // PS3.15 2024b Table E.1-1: Series Date X/D
    assert.equal(a['InstitutionName'], 'ANONYMIZED');
    assert.equal(a['LongitudinalTemporalInformationModified'], 'REMOVED');
    assert.equal(a['Modality'], 'OT');
  });

  it('options: dates shifted by the same days for the patient, characteristics kept, coded in the method sequence', () => {
    const d = createDeidentifier({ secret: SECRET, retainModifiedDates: true, retainPatientCharacteristics: true });
    const ds = parseDicom(d.deidentify(instance(), 'a').bytes, 'a').dataset;
    const days = createPseudonymizer(SECRET).dateShiftDays('MRN-0042');
    assert.equal(ds['StudyDate'], shiftDate('20240117', days));
    assert.equal(ds['PatientBirthDate'], shiftDate('19610304', days));
    assert.equal(ds['StudyTime'], '101500');
    assert.equal(ds['PatientSex'], 'F');
    assert.equal(ds['PatientAge'], '063Y');
    assert.equal(ds['LongitudinalTemporalInformationModified'], 'MODIFIED');
    const codes = (ds['DeidentificationMethodCodeSequence'] as DicomDataset[]).map((c) => c['CodeValue']);
    assert.deepEqual(codes, ['113100', '113107', '113108']);
  });

  it('safety net: a PN or free text outside the table is removed at any depth; keep-list text stays', () => {
    const bytes = instance({
      SecondaryReviewerName: { Alphabetic: 'Second^Reader' }, ContentDescription: 'seen by Dr Hyde', DetectorDescription: 'ward 7 portable',
      ConvolutionKernel: 'B30f', Manufacturer: 'ACME',
      ReferencedSeriesSequence: [{ SeriesInstanceUID: '1.2.3.4.5.6.7', DetectorDescription: 'nested text of Doe' }],
    });
    const ds = parseDicom(createDeidentifier({ secret: SECRET }).deidentify(bytes, 's').bytes, 's').dataset;
    assert.equal(ds['SecondaryReviewerName'], undefined);
    assert.equal(ds['DetectorDescription'], undefined);
    assert.deepEqual([ds['ContentDescription']].flat().filter((v) => v !== '' && v !== undefined), [], 'ContentDescription emptied');
    assert.equal(ds['ConvolutionKernel'], 'B30f');
    assert.equal(ds['Manufacturer'], 'ACME');
    const item = (ds['ReferencedSeriesSequence'] as DicomDataset[])[0];
    assert.ok(item, 'the kept sequence keeps its item');
    assert.equal(item['DetectorDescription'], undefined);
    assert.match(String(item['SeriesInstanceUID']), /^2\.25\./);
  });

  it('refuses BurnedInAnnotation = YES with a coded error unless allowed', () => {
    const bytes = instance({ BurnedInAnnotation: 'YES' });
    assert.throws(() => createDeidentifier({ secret: SECRET }).deidentify(bytes, 'x'), (e) => isSrError(e, 'DEID_BURNED_IN_ANNOTATION'));
    const ds = parseDicom(createDeidentifier({ secret: SECRET, allowBurnedInAnnotation: true }).deidentify(bytes, 'x').bytes, 'x').dataset;
    assert.equal(ds['BurnedInAnnotation'], 'YES');
  });

  it('gives coded errors for garbage and truncation', () => {
    const d = createDeidentifier({ secret: SECRET });
    const good = instance();
    for (const bad of [Buffer.alloc(0), Buffer.from('hello world, not dicom at all'), good.subarray(0, good.length - 7), good.subarray(0, 200)]) {
      assert.throws(() => d.deidentify(bad, 'bad'), (e) => isSrError(e));
    }
  });
});
