/**
 * Measures the ingest hot-path header parse: our reader (parseDicom headerOnly) against dicom-parser with
 * untilTag PixelData, on the same in-memory files, each followed by the extraction of the index attributes.
 * Run: node --import tsx src/archive/header-bench.ts [files...]. Figures are recorded in docs/adr/0004.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import dicomParser from 'dicom-parser';
import { parseDicom } from '../dicom/index.ts';
import { indexedHeaderOf } from './header.ts';

const LIDC = '/work/shared/data/chest-ct-lidc/LIDC-IDRI-0003';

function findDcm(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.dcm')).map((d) => join(d.parentPath, d.name));
}

const KEYS = ['SOPInstanceUID', 'SOPClassUID', 'SeriesInstanceUID', 'StudyInstanceUID', 'PatientID', 'PatientName', 'PatientBirthDate', 'PatientSex',
  'StudyDate', 'StudyTime', 'AccessionNumber', 'ReferringPhysicianName', 'StudyDescription', 'StudyID', 'Modality', 'SeriesDescription', 'BodyPartExamined'];
const TAGS: Record<string, string> = {
  SOPInstanceUID: 'x00080018', SOPClassUID: 'x00080016', SeriesInstanceUID: 'x0020000e', StudyInstanceUID: 'x0020000d', PatientID: 'x00100020',
  PatientName: 'x00100010', PatientBirthDate: 'x00100030', PatientSex: 'x00100040', StudyDate: 'x00080020', StudyTime: 'x00080030',
  AccessionNumber: 'x00080050', ReferringPhysicianName: 'x00080090', StudyDescription: 'x00081030', StudyID: 'x00200010', Modality: 'x00080060',
  SeriesDescription: 'x0008103e', BodyPartExamined: 'x00180015',
};

function timeIt(label: string, files: Uint8Array[], fn: (b: Uint8Array) => unknown): number {
  for (let i = 0; i < 200; i++) fn(files[i % files.length] as Uint8Array);
  const n = 5000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn(files[i % files.length] as Uint8Array);
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`${label}: ${us.toFixed(1)} µs per file`);
  return us;
}

const paths = process.argv.length > 2 ? process.argv.slice(2) : findDcm(LIDC);
const files = paths.map((p) => new Uint8Array(readFileSync(p)));
console.log(`${files.length} files, mean ${(files.reduce((s, f) => s + f.byteLength, 0) / files.length / 1024).toFixed(0)} KiB`);
timeIt('ours   parseDicom headerOnly + index attributes', files, (b) => {
  const f = parseDicom(b, 'bench', { headerOnly: true, fileSize: b.byteLength });
  return indexedHeaderOf(f.dataset, f.transferSyntaxUID, f.frameCount, 'bench');
});
timeIt('dicom-parser untilTag PixelData + string()     ', files, (b) => {
  const ds = dicomParser.parseDicom(b, { untilTag: 'x7fe00010' });
  const out: Record<string, string | undefined> = {};
  for (const k of KEYS) out[k] = ds.string(TAGS[k] as string);
  return out;
});
timeIt('ours   parseDicom full (locates fragments)     ', files, (b) => parseDicom(b, 'bench'));
timeIt('sha256 of the whole file (for scale)          ', files, (b) => createHash('sha256').update(b).digest('hex'));
