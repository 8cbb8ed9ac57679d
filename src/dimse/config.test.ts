import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAllowed, resolveServerConfig } from './config.ts';
import { buildIdentifier, identifierToRow, parseIdentifier, responseIdentifier } from './identifier.ts';
import { buildPart10Header, readPart10Info } from './part10.ts';

test('config: defaults, allow-list (peers on loopback only), loud failure on bad values', () => {
  const c = resolveServerConfig({ peers: [{ aeTitle: 'PACS', host: '10.0.0.5', port: 104 }] });
  assert.equal(c.aeTitle, 'SECONDREADER');
  assert.equal(c.host, '127.0.0.1');
  assert.ok(isAllowed(c.allow, 'PACS', '127.0.0.1'));
  assert.ok(isAllowed(c.allow, 'PACS', '::ffff:127.0.0.1'));
  assert.ok(!isAllowed(c.allow, 'PACS', '10.0.0.5'));
  assert.ok(!isAllowed(c.allow, 'OTHER', '127.0.0.1'));
  const open = resolveServerConfig({ allow: [{ aeTitle: '*', address: '10.1.0.0/16' }] });
  assert.ok(isAllowed(open.allow, 'ANY', '10.1.2.3'));
  assert.ok(!isAllowed(open.allow, 'ANY', '10.2.0.1'));
  assert.throws(() => resolveServerConfig({ aeTitle: 'WAY_TOO_LONG_AE_TITLE' }), { code: 'CONFIG_INVALID' });
  assert.throws(() => resolveServerConfig({ peers: [{ aeTitle: 'A', host: 'h', port: 70000 }] }), { code: 'CONFIG_INVALID' });
  assert.throws(() => resolveServerConfig({ allow: [{ address: 'not-an-ip' }] }), { code: 'CONFIG_INVALID' });
});

test('part10: the header we write reads back; a file without preamble is refused', () => {
  const head = buildPart10Header({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.4.5', transferSyntaxUid: '1.2.840.10008.1.2.4.90', sourceAe: 'CT1' });
  const file = Buffer.concat([head, Buffer.from([0x08, 0x00, 0x16, 0x00, 2, 0, 0, 0, 0x31, 0x00])]);
  const info = readPart10Info(file, 'x');
  assert.deepEqual(info, { sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: '1.2.3.4.5', transferSyntaxUid: '1.2.840.10008.1.2.4.90', dataOffset: head.length });
  assert.throws(() => readPart10Info(Buffer.alloc(300), 'y'), { code: 'DICOM_NOT_DICOM' });
});

test('identifiers: match keys, requested keys only in responses, PN and lists', () => {
  const id = parseIdentifier({ QueryRetrieveLevel: 'STUDY', PatientName: [{ Alphabetic: 'DOE*' }], StudyDate: '20240101-20240131', StudyInstanceUID: '', _vrMap: {} });
  assert.equal(id.level, 'STUDY');
  assert.deepEqual(id.keys, ['PatientName', 'StudyDate', 'StudyInstanceUID']);
  assert.deepEqual(id.match, { PatientName: 'DOE*', StudyDate: '20240101-20240131' });
  const out = responseIdentifier({ PatientName: 'DOE^J', StudyDate: '20240115', StudyInstanceUID: '1.2', StudyDescription: 'X' }, id.keys, 'STUDY');
  assert.deepEqual(out, { SpecificCharacterSet: 'ISO_IR 192', QueryRetrieveLevel: 'STUDY', PatientName: [{ Alphabetic: 'DOE^J' }], StudyDate: '20240115', StudyInstanceUID: '1.2' });
  assert.deepEqual(buildIdentifier('SERIES', { SeriesInstanceUID: '1\\2', Modality: '' }), { QueryRetrieveLevel: 'SERIES', SeriesInstanceUID: ['1', '2'], Modality: '' });
  assert.deepEqual(identifierToRow({ PatientName: [{ Alphabetic: 'A^B' }], NumberOfStudyRelatedInstances: 3, Modality: '' }), { PatientName: 'A^B', NumberOfStudyRelatedInstances: 3, Modality: null });
});
