/**
 * Test helpers for the DICOM outputs (not production code): dciodvfy / dsrdump runs and a dcmjs
 * parse → write → parse round trip, so each test file checks its objects with the same tools.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const DCIODVFY = '/usr/bin/dciodvfy';
export const DSRDUMP = '/usr/bin/dsrdump';
export const haveDciodvfy = existsSync(DCIODVFY);
export const haveDsrdump = existsSync(DSRDUMP);

/**
 * Warnings we accept, each for a stated reason (docs/outputs.md): our private coding scheme is declared in the
 * SR's CodingSchemeIdentificationSequence but dciodvfy only knows the standard designators; DICOMDIR hints about
 * StudyTime / StudyID concern the source study (copied as they are), not our objects; the key images keep an empty
 * Type 2C Laterality when the source names no body part (secondary-capture.ts: the side is then unknown).
 */
export const EXPLAINED_WARNINGS: readonly RegExp[] = [
  /is only permitted to be empty when actually unknown; should be absent \(not empty\) if an unpaired body part, and have a value if a paired body part - attribute <Laterality>/,
  /Unrecognized defined term <99SECONDREADER> for value 1 of attribute <Coding Scheme Designator>/,
  /Missing attribute or value that would be needed to build DICOMDIR - (Study Time|Study ID|Patient ID)/,
];

export interface Verification {
  readonly errors: string[];
  readonly warnings: string[];
  readonly unexplained: string[];
  readonly report: string;
}

function withFile<T>(bytes: Uint8Array, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'sr-dicom-check-'));
  try {
    const path = join(dir, 'object.dcm');
    writeFileSync(path, bytes);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function dciodvfy(bytes: Uint8Array): Verification {
  return withFile(bytes, (path) => {
    const r = spawnSync(DCIODVFY, [path], { encoding: 'utf8' });
    const report = `${r.stdout}${r.stderr}`;
    const lines = report.split('\n');
    const errors = lines.filter((l) => /^Error/.test(l));
    const warnings = lines.filter((l) => /^Warning/.test(l));
    return { errors, warnings, unexplained: warnings.filter((w) => !EXPLAINED_WARNINGS.some((re) => re.test(w))), report };
  });
}

export function dsrdump(bytes: Uint8Array): { status: number | null; output: string } {
  return withFile(bytes, (path) => {
    const r = spawnSync(DSRDUMP, [path], { encoding: 'utf8' });
    return { status: r.status, output: `${r.stdout}${r.stderr}` };
  });
}

interface DcmjsDict {
  meta: Record<string, unknown>;
  dict: Record<string, unknown>;
  write(): ArrayBuffer;
}
interface Dcmjs {
  data: {
    DicomMessage: { readFile(buffer: ArrayBuffer): DcmjsDict };
    DicomDict: new (meta: Record<string, unknown>) => DcmjsDict;
    DicomMetaDictionary: { naturalizeDataset(ds: Record<string, unknown>): Record<string, unknown>; denaturalizeDataset(ds: Record<string, unknown>): Record<string, unknown> };
  };
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as Dcmjs;

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** dcmjs parse → naturalized dataset. */
export function dcmjsRead(bytes: Uint8Array): Record<string, unknown> {
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(arrayBuffer(bytes)).dict);
}

/** dcmjs parse → naturalize → denaturalize → write → parse: both naturalized datasets, to compare. */
export function dcmjsRoundTrip(bytes: Uint8Array): { first: Record<string, unknown>; second: Record<string, unknown>; rewritten: Uint8Array } {
  const file = dcmjs.data.DicomMessage.readFile(arrayBuffer(bytes));
  const first = dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict);
  const out = new dcmjs.data.DicomDict(file.meta);
  out.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(first);
  const rewritten = new Uint8Array(out.write());
  const second = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(arrayBuffer(rewritten)).dict);
  return { first: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(arrayBuffer(bytes)).dict), second, rewritten };
}

/** JSON-comparable form: ArrayBuffers → hex, so PixelData compares by content. */
export function comparable(v: unknown): unknown {
  if (v instanceof ArrayBuffer) return `hex:${Buffer.from(v).toString('hex')}`;
  if (ArrayBuffer.isView(v)) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`;
  if (Array.isArray(v)) return v.map(comparable);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).filter(([k]) => k !== '_vrMap').map(([k, x]) => [k, comparable(x)]));
  return v;
}
