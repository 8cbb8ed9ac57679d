/**
 * Synthetic DICOM for the ingest bench and the server process tests: small real CT series (writeCtSeries) and
 * tiny header-only instances made by patching one template (dcmjs writes ~300 files/s on this machine; the
 * 100k-instance QIDO index needs ~100× that, so the template is written once and its fixed-width fields patched).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createVolume } from '../src/imaging/index.ts';
import { dicomToBuffer, parseDicom, writeCtSeries } from '../src/dicom/index.ts';

export const CT_IMAGE_STORAGE_UID = '1.2.840.10008.5.1.4.1.1.2';

export interface SourceInstance {
  readonly path: string;
  readonly sopInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
  /** SHA-256 of the whole file. */
  readonly sha256: string;
  /** SHA-256 of the data set after the file meta group: what a DIMSE transfer carries (the receiver writes its own meta). */
  readonly datasetSha256: string;
  readonly sizeBytes: number;
}

/**
 * Byte offset of the data set in a Part 10 file: after the 128-byte preamble, "DICM" and the group 0002 elements
 * (always explicit VR little endian, PS3.10 7.1).
 */
export function datasetOffset(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 132 || String.fromCharCode(b[128] ?? 0, b[129] ?? 0, b[130] ?? 0, b[131] ?? 0) !== 'DICM') throw new Error('not a Part 10 file');
  let p = 132;
  while (p + 8 <= b.length && dv.getUint16(p, true) === 0x0002) {
    const vr = String.fromCharCode(b[p + 4] ?? 0, b[p + 5] ?? 0);
    const long = ['OB', 'OD', 'OF', 'OL', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT'].includes(vr);
    p += long ? 12 + dv.getUint32(p + 8, true) : 8 + dv.getUint16(p + 6, true);
  }
  return p;
}

export function datasetSha256(b: Uint8Array): string {
  return createHash('sha256').update(b.subarray(datasetOffset(b))).digest('hex');
}

export interface CtSetOptions {
  readonly outDir: string;
  readonly series: number;
  readonly slicesPerSeries: number;
  /** Rows = Columns. */
  readonly matrix: number;
  /** Reproducible UIDs; also names the patients (one patient per two series). */
  readonly seed: string;
}

/** Writes `series` CT series (one folder each) with content that varies per slice; returns every file with its hash. */
export async function writeCtSet(o: CtSetOptions): Promise<SourceInstance[]> {
  const out: SourceInstance[] = [];
  const n = o.matrix;
  for (let s = 0; s < o.series; s++) {
    const data = new Int16Array(n * n * o.slicesPerSeries);
    // A smooth body-like disc plus a deterministic texture: real-looking values, every slice different.
    for (let k = 0; k < o.slicesPerSeries; k++) {
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < n; i++) {
          const r = Math.hypot(i - n / 2, j - n / 2) / (n / 2);
          const base = r < 0.8 ? 40 : -1000;
          data[(k * n + j) * n + i] = base + ((i * 31 + j * 17 + k * 7 + s * 13) % 64) - 32;
        }
      }
    }
    const vol = createVolume(data, { dims: [n, n, o.slicesPerSeries], spacing: [0.7, 0.7, 1.25] });
    const patient = Math.floor(s / 2);
    const res = await writeCtSeries(vol, {
      outDir: `${o.outDir}/series-${String(s).padStart(3, '0')}`,
      uidSeed: `${o.seed}/series-${s}`,
      patient: { PatientID: `${o.seed.toUpperCase()}-P${patient}`, PatientName: `Bench^Patient${patient}` },
      study: { StudyInstanceUID: undefined, StudyDescription: `Bench study ${patient}` },
      series: { SeriesNumber: s + 1, SeriesDescription: `Bench series ${s}` },
    });
    for (const inst of res.instances) {
      const bytes = await readFile(inst.path);
      out.push({
        path: inst.path, sopInstanceUid: inst.SOPInstanceUID, studyInstanceUid: res.StudyInstanceUID, seriesInstanceUid: res.SeriesInstanceUID,
        sha256: createHash('sha256').update(bytes).digest('hex'), datasetSha256: datasetSha256(bytes), sizeBytes: bytes.length,
      });
    }
  }
  return out;
}

export interface TinySpec {
  /** 0 ≤ patient < 10^6 */
  readonly patient: number;
  /** 0 ≤ study < 10^7 */
  readonly study: number;
  /** 0 ≤ series < 10 within the study */
  readonly series: number;
  /** 0 ≤ instance < 10^5 within the series */
  readonly instance: number;
  /** YYYYMMDD */
  readonly studyDate: string;
  readonly modality: 'CT' | 'MR';
}

const ROOT = '1.2.826.0.1.3680043.10.1199';
// Placeholders of the final widths, each unique in the template (so `place` finds the field, not a look-alike).
const F = {
  pid: 'PID444444', name: 'BENCH^PAT555555', acc: 'ACC6666666', date: '19000101', mod: 'XX',
  study: `${ROOT}.1.1111111`, series: `${ROOT}.2.2222222.2`, sop: `${ROOT}.3.3333333.3.33333`, inum: '77777',
};

function place(buf: Buffer, needle: string, from = 0): number {
  const at = buf.indexOf(needle, from, 'latin1');
  if (at < 0) throw new Error(`template field ${needle} not found`);
  return at;
}

/** A factory of tiny Part 10 CT instances (no pixel data, ~600 bytes) with the attributes QIDO matches on. */
export function tinyInstanceFactory(): (spec: TinySpec) => Buffer {
  const template = dicomToBuffer({
    SpecificCharacterSet: 'ISO_IR 100', SOPClassUID: CT_IMAGE_STORAGE_UID, SOPInstanceUID: F.sop, StudyDate: F.date, StudyTime: '101500',
    AccessionNumber: F.acc, Modality: F.mod, ReferringPhysicianName: '', StudyDescription: 'Bench QIDO study', SeriesDescription: 'Bench QIDO series',
    PatientName: F.name, PatientID: F.pid, PatientBirthDate: '19700101', PatientSex: 'O', StudyInstanceUID: F.study, SeriesInstanceUID: F.series,
    StudyID: '1', SeriesNumber: 1, InstanceNumber: F.inum,
  });
  // The SOP Instance UID appears twice (file meta and dataset): patch both.
  const sopAt = [place(template, F.sop), place(template, F.sop, place(template, F.sop) + 1)];
  const at = {
    pid: place(template, F.pid), name: place(template, F.name), acc: place(template, F.acc), date: place(template, F.date), mod: place(template, F.mod),
    study: place(template, F.study), series: place(template, F.series), inum: place(template, F.inum),
  };
  const pad = (v: number, w: number): string => String(v).padStart(w, '0');
  const make = (s: TinySpec): Buffer => {
    const b = Buffer.from(template);
    const studyUid = `${ROOT}.1.${pad(s.study, 7)}`;
    const seriesUid = `${ROOT}.2.${pad(s.study, 7)}.${s.series}`;
    const sop = `${ROOT}.3.${pad(s.study, 7)}.${s.series}.${pad(s.instance, 5)}`;
    for (const p of sopAt) b.write(sop, p, 'latin1');
    b.write(`PID${pad(s.patient, 6)}`, at.pid, 'latin1');
    b.write(`BENCH^PAT${pad(s.patient, 6)}`, at.name, 'latin1');
    b.write(`ACC${pad(s.study, 7)}`, at.acc, 'latin1');
    b.write(s.studyDate, at.date, 'latin1');
    b.write(s.modality, at.mod, 'latin1');
    b.write(studyUid, at.study, 'latin1');
    b.write(seriesUid, at.series, 'latin1');
    b.write(pad(s.instance + 1, 5), at.inum, 'latin1');
    return b;
  };
  // Patching is only right if every field landed where the reader finds it: check one instance once.
  const probe = parseDicom(new Uint8Array(make({ patient: 12, study: 345, series: 6, instance: 78, studyDate: '20210203', modality: 'MR' })), 'template probe').dataset;
  const want: Record<string, unknown> = {
    SOPInstanceUID: `${ROOT}.3.0000345.6.00078`, StudyInstanceUID: `${ROOT}.1.0000345`, SeriesInstanceUID: `${ROOT}.2.0000345.6`,
    PatientID: 'PID000012', AccessionNumber: 'ACC0000345', StudyDate: '20210203', Modality: 'MR', InstanceNumber: 79,
  };
  for (const [k, v] of Object.entries(want)) {
    if (probe[k] !== v) throw new Error(`tiny instance template: ${k} is ${JSON.stringify(probe[k])}, expected ${JSON.stringify(v)}`);
  }
  return make;
}
