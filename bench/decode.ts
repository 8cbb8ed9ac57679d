/**
 * Decode throughput per transfer syntax, stated as "seconds to decode a 512×512×300 int16 CT" (read + parse +
 * decode every frame, single thread; rate of decoded bytes scaled to 150 MiB). The slice is a synthetic chest CT slice written as a real CT Image
 * Storage file, then transcoded by dcmtk (the reference implementation) into each syntax dcmtk can write;
 * JPEG 2000 uses the real TotalSegmentator CT series (512², JPEG 2000 lossless) and the NEMA 512² CT pair.
 * Then "series → volume" (benchSeriesVolume; SR_BENCH_SERIES=0 skips it, SR_BENCH_SERIES_SLICES sets N).
 *   node --import tsx bench/decode.ts
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { promisify } from 'node:util';
import { analyzableStacks, buildSeriesVolume, decodeThreadsFor, measureDecodeThroughput, planStack, scanPaths, shutdownDecodePool, startDecodePool, writeCtSeries } from '../src/dicom/index.ts';
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
  if (process.env['SR_BENCH_SERIES'] !== '0') await benchSeriesVolume(log);
  return rows;
}

export interface SeriesBenchRow {
  readonly syntax: string;
  readonly slices: number;
  readonly scanSeconds: number;
  readonly threads: number;
  readonly buildSeconds: number;
  readonly slicesPerSecond: number;
}

/**
 * Series → volume: a 512×512×N synthetic chest series written by writeCtSeries (explicit VR LE, unsigned + intercept),
 * transcoded file by file with dcmtk to JPEG-LS lossless and JPEG lossless SV1; each scanned (headers) and built
 * with buildSeriesVolume on one thread and with the default policy (decode workers for compressed series).
 * N = env SR_BENCH_SERIES_SLICES (default 300).
 */
export async function benchSeriesVolume(log: (s: string) => void = (s) => process.stdout.write(s + '\n')): Promise<SeriesBenchRow[]> {
  const slices = Math.max(2, Number(process.env['SR_BENCH_SERIES_SLICES'] ?? 300) || 300);
  const dir = mkdtempSync(join(tmpdir(), 'sr-bench-series-'));
  const rows: SeriesBenchRow[] = [];
  const run = promisify(execFile);
  try {
    const chest = syntheticChest([512, 512, slices]);
    const le = join(dir, 'le');
    await writeCtSeries(chest, { outDir: le, storage: 'unsigned', uidSeed: 'bench-series' });
    const names = readdirSync(le).sort();
    const variants: Array<[string, string, string | undefined, string[]]> = [
      ['Explicit VR little endian', le, undefined, []],
      ['JPEG-LS lossless', join(dir, 'jls'), 'dcmcjpls', ['+el']],
      ['JPEG lossless process 14 SV1', join(dir, 'jpl'), 'dcmcjpeg', ['+e1']],
    ];
    const t0 = performance.now();
    const poolSize = await startDecodePool();
    log(`series → volume, 512×512×${slices}; decode pool of ${poolSize} worker(s) started in ${((performance.now() - t0) / 1000).toFixed(2)} s (once per process, not counted below)`);
    for (const [label, out, tool, args] of variants) {
      if (tool) {
        try {
          mkdirSync(out, { recursive: true });
          let next = 0;
          const worker = async (): Promise<void> => {
            while (next < names.length) {
              const f = names[next++] as string;
              await run(tool, [...args, join(le, f), join(out, f)]);
            }
          };
          await Promise.all(Array.from({ length: availableParallelism() }, worker));
        } catch (e) {
          log(`${label.padEnd(32)} (skipped: ${tool} unavailable or failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)})`);
          continue;
        }
      }
      let t = performance.now();
      const scan = await scanPaths([out]);
      const scanSeconds = (performance.now() - t) / 1000;
      const stack = analyzableStacks(scan)[0]?.stack;
      if (!stack) throw new Error(`no stack in ${out}`);
      const auto = decodeThreadsFor(planStack(stack.frames));
      for (const threads of auto > 1 ? [1, auto] : [1]) {
        t = performance.now();
        const sv = await buildSeriesVolume(stack.frames, { threads });
        const buildSeconds = (performance.now() - t) / 1000;
        if (sv.volume.dims[2] !== slices) throw new Error(`built ${sv.volume.dims[2]} slices, expected ${slices}`);
        const row = { syntax: label, slices, scanSeconds, threads, buildSeconds, slicesPerSecond: slices / buildSeconds };
        rows.push(row);
        log(`${label.padEnd(32)} scan ${scanSeconds.toFixed(2).padStart(5)} s; build on ${String(threads).padStart(2)} thread(s) ${buildSeconds.toFixed(2).padStart(6)} s = ${row.slicesPerSecond.toFixed(0).padStart(5)} slices/s; scan+build ${(scanSeconds + buildSeconds).toFixed(2)} s`);
      }
    }
  } finally {
    await shutdownDecodePool();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchDecode();
}
