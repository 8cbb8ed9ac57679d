/**
 * head-ct-hemorrhage end to end on a 512×512×40 head CT (5 mm, a subdural bleed with midline shift): phantom →
 * DICOM (src/dicom writeCtSeries) → scan + series reader → analysis, printing the time of each step, the total,
 * and the peak RSS of the process. The phantom's own generation is not timed.
 *
 *   node --import tsx bench/head.ts [--keep]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeCtSeries } from '../src/dicom/index.ts';
import { kernelThreads } from '../src/imaging/index.ts';
import { scanPaths } from '../src/dicom/index.ts';
import { seriesInputs } from '../src/engine/index.ts';
import { runHeadCt } from '../src/analyses/head-ct-hemorrhage/manifest.ts';
import { generateHeadPhantom } from '../eval/phantoms/head.ts';
import { createLogger } from '../src/core/index.ts';

export interface BenchHeadResult {
  readonly stepTimesMs: Readonly<Record<string, number>>;
  readonly totalMs: number;
  readonly peakRssMb: number;
}

export async function benchHead(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<BenchHeadResult> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-bench-head-'));
  try {
    const phantom = generateHeadPhantom({ seed: 7, bleedType: 'subdural', sliceThicknessMm: 5, dims: [512, 512, 40] });
    await writeCtSeries(phantom.volume, { outDir: dir, uidSeed: 'bench-head', sliceThicknessMm: 5, series: { SeriesDescription: 'bench head 5 mm', BodyPartExamined: 'HEAD' } });
    const times: Record<string, number> = {};
    const t0 = performance.now();
    const scan = await scanPaths([dir]);
    const { inputs } = seriesInputs(scan);
    const input = inputs[0];
    if (!input) throw new Error('bench: the written series was not found');
    times['scan'] = Math.round(performance.now() - t0);
    const t1 = performance.now();
    const series = await input.loadVolume(new AbortController().signal);
    times['read-volume'] = Math.round(performance.now() - t1);
    const out = await runHeadCt({
      header: input.header, series, log: createLogger({ level: 'warn' }), progress: () => undefined, signal: new AbortController().signal,
    });
    const totalMs = Math.round(performance.now() - t0);
    Object.assign(times, out.stepTimesMs ?? {});
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    log(`volume ${series.volume.dims.join('×')} (${series.volume.spacing.map((s) => s.toFixed(2)).join(' × ')} mm), kernel threads ${kernelThreads()}`);
    for (const [k, v] of Object.entries(times)) log(`  ${k.padEnd(18)} ${String(v).padStart(6)} ms`);
    log(`  ${'total'.padEnd(18)} ${String(totalMs).padStart(6)} ms   (target ≤ 5000 ms on 2 cores)`);
    log(`  peak RSS ${peakRssMb} MB (process, including the phantom generator)`);
    const m = out.measurements;
    log(`  result: hasHemorrhage=${String(m['hasHemorrhage'])} volume=${String(m['hemorrhageVolumeMl'])} mL (truth ${phantom.truth.bleeds[0]?.volumeMl ?? 0}) shift=${String(m['midlineShiftMm'])} mm (truth ${phantom.truth.midlineShiftMm})`);
    return { stepTimesMs: times, totalMs, peakRssMb };
  } finally {
    if (!process.argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchHead();
}
