/**
 * Decode throughput per transfer syntax, stated as "seconds to decode a 512×512×300 int16 CT" (read + parse +
 * decode every frame, single thread; rate of decoded bytes scaled to 150 MiB). The slice is a synthetic chest CT slice written as a real CT Image
 * Storage file, then transcoded by dcmtk (the reference implementation) into each syntax dcmtk can write;
 * JPEG 2000 uses the real TotalSegmentator CT series (512², JPEG 2000 lossless) and the NEMA 512² CT pair.
 *   node --import tsx bench/decode.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { measureDecodeThroughput, writeCtSeries } from '../src/dicom/index.ts';
import { createVolume } from '../src/imaging/index.ts';
import { syntheticChest } from './kernels.ts';

const DATA = join(import.meta.dirname, '../../shared/data');

export interface DecodeBenchRow {
  readonly syntax: string;
  readonly source: string;
  readonly framesPerSecond: number;
  readonly decodedMBps: number;
  /** Time to decode 512×512×300 × 2 bytes at this rate of decoded bytes per second (s). */
  readonly secondsFor300: number;
}

/** [label, dcmtk command + args (input and output appended)] */
const TRANSCODES: ReadonlyArray<[string, string, string[]]> = [
  ['Implicit VR little endian', 'dcmconv', ['+ti']],
  ['Explicit VR big endian', 'dcmconv', ['+tb']],
  ['Deflated explicit VR LE', 'dcmconv', ['+td']],
  ['RLE lossless', 'dcmcrle', []],
  ['JPEG lossless process 14 SV1', 'dcmcjpeg', ['+e1']],
  ['JPEG lossless process 14 (SV 6)', 'dcmcjpeg', ['+el', '+sv', '6']],
  ['JPEG-LS lossless', 'dcmcjpls', ['+el']],
  ['JPEG-LS near-lossless (NEAR=2)', 'dcmcjpls', ['+en', '+md', '2']],
];

const VOLUME_BYTES = 512 * 512 * 300 * 2;

async function measure(label: string, path: string, log: (s: string) => void): Promise<DecodeBenchRow> {
  await measureDecodeThroughput([path], 2); // warm-up: codec instantiation, JIT
  let repeat = 4;
  let r = await measureDecodeThroughput([path], repeat);
  while (r.ms < 400 && repeat < 2000) {
    repeat *= 4;
    r = await measureDecodeThroughput([path], repeat);
  }
  const row = { syntax: label, source: path, framesPerSecond: r.framesPerSecond, decodedMBps: r.decodedMBps, secondsFor300: VOLUME_BYTES / 1e6 / r.decodedMBps };
  log(`${label.padEnd(40)} ${row.framesPerSecond.toFixed(0).padStart(6)} frames/s ${row.decodedMBps.toFixed(1).padStart(7)} MB/s   512×512×300: ${row.secondsFor300.toFixed(2).padStart(6)} s`);
  return row;
}

export async function benchDecode(log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<DecodeBenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sr-bench-decode-'));
  const rows: DecodeBenchRow[] = [];
  try {
    const chest = syntheticChest([512, 512, 3]);
    const slice = createVolume(chest.data.slice(512 * 512, 2 * 512 * 512), { dims: [512, 512, 1], spacing: chest.spacing });
    // Unsigned storage with intercept −1024: the common scanner convention, and within 12 bits for JPEG.
    const written = await writeCtSeries(slice, { outDir: join(dir, 'le'), storage: 'unsigned', uidSeed: 'bench' });
    const le = written.files[0];
    if (!le) throw new Error('no slice written');
    log('single thread; each row = read + parse + decode, repeated ≥ 0.4 s');
    rows.push(await measure('Explicit VR little endian', le, log));
    for (const [label, tool, args] of TRANSCODES) {
      const out = join(dir, `${tool}${args.join('')}.dcm`);
      try {
        execFileSync(tool, [...args, le, out], { stdio: 'pipe' });
      } catch (e) {
        log(`${label.padEnd(40)} (skipped: ${tool} unavailable or failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
        continue;
      }
      rows.push(await measure(label, out, log));
    }
    const totalSeg = join(DATA, 'ct-totalsegmentator/example_ct_dicom');
    const real: ReadonlyArray<[string, string]> = [
      ['JPEG 2000 lossless (real CT, 512²)', existsSync(totalSeg) ? join(totalSeg, readdirSync(totalSeg).sort()[0] ?? '') : ''],
      ['JPEG 2000 lossless (NEMA CT, 512²)', join(DATA, 'dicom-conformance/pydicom-data/693_J2KR.dcm')],
      ['JPEG 2000 lossy (NEMA CT, 512²)', join(DATA, 'dicom-conformance/pydicom/test_files/693_J2KI.dcm')],
      ['JPEG extended 12-bit (NEMA NM)', join(DATA, 'dicom-conformance/pydicom/test_files/JPGExtended.dcm')],
      ['JPEG baseline 8-bit (RGB)', join(DATA, 'dicom-conformance/pydicom/test_files/SC_rgb_jpeg_dcmtk.dcm')],
      ['HTJ2K lossless (RGB)', join(DATA, 'dicom-conformance/pydicom-data/HTJ2KLossless_08_RGB.dcm')],
    ];
    for (const [label, path] of real) {
      if (!existsSync(path)) {
        log(`${label.padEnd(40)} (skipped: ${path} not found)`);
        continue;
      }
      rows.push(await measure(label, path, log));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchDecode();
}
