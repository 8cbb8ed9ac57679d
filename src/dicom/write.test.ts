import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError } from '../core/errors.ts';
import { dicomToBuffer, formatDS, newUid, uidFromString, writeDicomFile, writeFileAtomic, writeFileAtomicSync } from './write.ts';

test('formatDS fits 16 characters and keeps precision where it can', () => {
  assert.equal(formatDS(1.25), '1.25');
  assert.equal(formatDS(-0), '0');
  assert.equal(formatDS(-1024), '-1024');
  assert.equal(formatDS(0.965925826289068), '0.9659258263');
  for (const v of [-123456.123456789, 1e-9, 98765432109.87654, Math.PI * 1e6]) {
    const s = formatDS(v);
    assert.ok(s.length <= 16, `${s} too long`);
    assert.ok(Math.abs(Number(s) - v) <= Math.abs(v) * 1e-6 + 1e-9, `${s} vs ${v}`);
  }
  assert.throws(() => formatDS(Number.NaN), (e: unknown) => isSrError(e, 'DICOM_WRITE_FAILED'));
});

test('UIDs are valid 2.25 UIDs; uidFromString is deterministic', () => {
  const re = /^2\.25\.(0|[1-9]\d*)$/;
  const a = newUid();
  assert.match(a, re);
  assert.ok(a.length <= 64);
  assert.notEqual(a, newUid());
  assert.equal(uidFromString('seed/1'), uidFromString('seed/1'));
  assert.notEqual(uidFromString('seed/1'), uidFromString('seed/2'));
  assert.match(uidFromString('x'), re);
});

test('dicomToBuffer writes a Part 10 preamble and needs SOP UIDs', () => {
  const buf = dicomToBuffer({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: uidFromString('t'), Modality: 'OT' });
  assert.equal(buf.subarray(128, 132).toString('latin1'), 'DICM');
  assert.throws(() => dicomToBuffer({ Modality: 'OT' }), (e: unknown) => isSrError(e, 'DICOM_MISSING_ATTRIBUTE'));
  assert.throws(
    () => dicomToBuffer({ SOPClassUID: '1.2', SOPInstanceUID: '1.3' }, { transferSyntaxUID: '1.2.840.10008.1.2.4.50' }),
    (e: unknown) => isSrError(e, 'DICOM_UNSUPPORTED_TRANSFER_SYNTAX'),
  );
});

test('atomic writes leave no temp files and replace the target', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-write-'));
  try {
    const p = join(dir, 'a.bin');
    await writeFileAtomic(p, new Uint8Array([1, 2, 3]));
    writeFileAtomicSync(p, new Uint8Array([4, 5]));
    assert.deepEqual([...readFileSync(p)], [4, 5]);
    await writeDicomFile(join(dir, 'b.dcm'), { SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: '1.2.3', Modality: 'OT' });
    assert.deepEqual(readdirSync(dir).sort(), ['a.bin', 'b.dcm']);
    await assert.rejects(writeFileAtomic(join(dir, 'missing', 'c.bin'), new Uint8Array(1)), (e: unknown) => isSrError(e, 'IO_ERROR'));
    assert.deepEqual(readdirSync(dir).sort(), ['a.bin', 'b.dcm']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
