/**
 * Specific Character Set decoding against pydicom's charset_files. FileInfo.txt gives, per file, the
 * character set and the raw (encoded) Patient's Name bytes; the expected Unicode values are those of
 * pydicom's own charset tests (and, where dcmtk can convert them, `dcmdump +U8` agrees).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicomFile } from './parse.ts';
import { decodeString, resolveCharset } from './charset.ts';
import { getSequence } from './dataset.ts';

const DIR = join(import.meta.dirname, '../../../shared/data/dicom-conformance/pydicom/charset_files');

/** Unicode Patient's Name per file (components joined with '='), independent of our decoder. */
const EXPECTED: Record<string, string> = {
  'chrArab.dcm': 'قباني^لنزار',
  'chrFren.dcm': 'Buc^Jérôme',
  'chrFrenMulti.dcm': 'Buc^Jérôme',
  'chrGerm.dcm': 'Äneas^Rüdiger',
  'chrGreek.dcm': 'Διονυσιος',
  'chrH31.dcm': 'Yamada^Tarou=山田^太郎=やまだ^たろう',
  'chrH32.dcm': 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
  'chrHbrw.dcm': 'שרון^דבורה',
  'chrI2.dcm': 'Hong^Gildong=洪^吉洞=홍^길동',
  'chrRuss.dcm': 'Люкceмбypг',
  'chrX1.dcm': 'Wang^XiaoDong=王^小東',
  'chrX2.dcm': 'Wang^XiaoDong=王^小东',
};

/** FileInfo.txt rows: file name, charset column, raw name bytes (Python escape notation). */
function fileInfo(): Array<{ file: string; raw: Uint8Array }> {
  const rows: Array<{ file: string; raw: Uint8Array }> = [];
  for (const line of readFileSync(join(DIR, 'FileInfo.txt'), 'latin1').split('\n')) {
    const m = /^(chr\S+\.dcm)\s+.*\s'(.*)'\s*$/.exec(line);
    if (!m || !m[1] || m[2] === undefined) continue;
    const bytes: number[] = [];
    const s = m[2];
    for (let i = 0; i < s.length; i++) {
      if (s[i] === '\\' && s[i + 1] === 'x') {
        bytes.push(parseInt(s.slice(i + 2, i + 4), 16));
        i += 3;
      } else bytes.push(s.charCodeAt(i));
    }
    rows.push({ file: m[1], raw: Uint8Array.from(bytes) });
  }
  return rows;
}

function pnText(v: unknown): string {
  const o = (Array.isArray(v) ? v[0] : v) as Record<string, string>;
  return [o['Alphabetic'], o['Ideographic'], o['Phonetic']].filter((x) => x !== undefined).join('=');
}

test('every file listed in FileInfo.txt decodes to the expected Patient\'s Name', async () => {
  const rows = fileInfo();
  assert.equal(rows.length, 12, 'FileInfo.txt lists 12 files');
  for (const { file, raw } of rows) {
    const f = await readDicomFile(join(DIR, file));
    const expected = EXPECTED[file];
    assert.ok(expected !== undefined, `no expectation for ${file}`);
    assert.equal(pnText(f.dataset['PatientName']), expected, file);
    // The listed raw bytes decode to the same text with the file's character set.
    const terms = ([] as unknown[]).concat(f.dataset['SpecificCharacterSet']).map(String);
    const cs = resolveCharset(terms.length === 1 && terms[0] === '' ? [] : terms, file);
    assert.equal(decodeString(raw, cs).replace(/=+$/, ''), expected, `${file} (FileInfo bytes)`);
  }
});

test('multi-valued PN and LO in a single-byte character set', async () => {
  const f = await readDicomFile(join(DIR, 'chrFrenMulti.dcm'));
  assert.deepEqual(f.dataset['OtherPatientNames'], [{ Alphabetic: 'Buc^Jérôme' }, { Alphabetic: 'Buc^Jérôme' }]);
  assert.deepEqual(f.dataset['OtherPatientIDs'], ['eggs', 'spam']);
});

test('Japanese and Korean ISO 2022 files without a FileInfo row', async () => {
  for (const [file, name] of [
    ['chrJapMulti.dcm', 'やまだ^たろう'],
    ['chrJapMultiExplicitIR6.dcm', 'やまだ^たろう'],
    ['chrKoreanMulti.dcm', '김희중'],
  ] as const) {
    const f = await readDicomFile(join(DIR, file));
    assert.equal(pnText(f.dataset['PatientName']), name, file);
  }
});

test('a sequence item uses its own Specific Character Set, or inherits the dataset\'s', async () => {
  for (const file of ['chrSQEncoding.dcm', 'chrSQEncoding1.dcm']) {
    const f = await readDicomFile(join(DIR, file));
    const item = getSequence(f.dataset, 'RequestedProcedureCodeSequence')[0];
    assert.ok(item, file);
    assert.equal(pnText(item['PatientName']), 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう', file);
  }
});

test('unknown character set terms are refused with a coded error', () => {
  assert.throws(() => resolveCharset(['ISO_IR 999'], 'x'), { code: 'DICOM_CHARSET_UNSUPPORTED' });
  assert.throws(() => resolveCharset(['', 'ISO 2022 IR 999'], 'x'), { code: 'DICOM_CHARSET_UNSUPPORTED' });
});

test('ISO 2022 decoding switches G1 sets (Latin-1 / Greek) by escape sequence', () => {
  const cs = resolveCharset(['ISO 2022 IR 100', 'ISO 2022 IR 126'], 't');
  // "é" in Latin-1, then ESC - F (Greek G1) and "Δ"
  const bytes = Uint8Array.from([0xe9, 0x1b, 0x2d, 0x46, 0xc4]);
  assert.equal(decodeString(bytes, cs), 'éΔ');
});
