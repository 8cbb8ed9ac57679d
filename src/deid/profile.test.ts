/** The profile table against the data dictionary, the options, pseudonyms, date shifts and the burned-in refusal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { dicomToBuffer, lookupKeyword, lookupTag } from '../dicom/index.ts';
import { parseDicom } from '../dicom/parse.ts';
import type { DicomDataset } from '../dicom/types.ts';
import { createDeidentifier, effectiveAction } from './deidentify.ts';
import { PROFILE, groupPatternAction } from './profile.ts';
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
  it('every row names the tag the data dictionary gives its keyword', () => {
    const unknown: string[] = [];
    for (const r of PROFILE) {
      const k = lookupKeyword(r.keyword);
      if (k === undefined) {
        // A few keywords are missing from dcmjs's dictionary; their tag must then be unknown to it as well.
        if (lookupTag(r.tag) !== undefined) unknown.push(`${r.keyword}: tag known as ${lookupTag(r.tag)?.keyword}`);
        continue;
      }
      if (k.tag !== r.tag) unknown.push(`${r.keyword}: table ${r.tag.toString(16)} dictionary ${k.tag.toString(16)}`);
    }
    assert.deepEqual(unknown, []);
    assert.equal(new Set(PROFILE.map((r) => r.tag)).size, PROFILE.length, 'duplicate rows');
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
    for (const k of ['SeriesDate', 'PatientAge', 'PatientWeight']) assert.equal(a[k], undefined, k);
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
