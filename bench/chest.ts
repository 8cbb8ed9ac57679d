/**
 * chest-ct-nodules end to end on a 512×512×300 chest CT (1 mm slices, nodules of every type): phantom → DICOM
 * (src/dicom writeCtSeries) → scan + series reader → analysis, printing the time of each step, the total and
 * the peak RSS of the process. The phantom's own generation is not timed (it is slow: an analytic painter).
 *
 *   node --import tsx bench/chest.ts [--keep] [--no-dicom]
 *
 * --no-dicom skips the DICOM round trip and times the analysis on the in-memory volume only.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeCtSeries } from '../src/dicom/index.ts';
import { kernelThreads } from '../src/imaging/index.ts';
import { scanPaths } from '../src/dicom/index.ts';
import { seriesInputs } from '../src/engine/index.ts';
import { chestCtNodules } from '../src/analyses/chest-ct-nodules/manifest.ts';
import type { SeriesHeader, SeriesVolume } from '../src/engine/types.ts';
import { generateChestPhantom } from '../eval/phantoms/chest.ts';
import { createLogger } from '../src/core/index.ts';

export interface BenchChestResult {
  readonly stepTimesMs: Readonly<Record<string, number>>;
  readonly totalMs: number;
  readonly peakRssMb: number;
}

export async function benchChest(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<BenchChestResult> {
  const dicom = !process.argv.includes('--no-dicom');
  const dir = await mkdtemp(join(tmpdir(), 'sr-bench-chest-'));
  try {
    const phantom = generateChestPhantom({ seed: 'bench-chest', dims: [512, 512, 300], spacingMm: [0.7, 0.7, 1], sliceThicknessMm: 1, noduleCount: 5 });
    const times: Record<string, number> = {};
    let header: SeriesHeader;
    let series: SeriesVolume;
    let t0 = performance.now();
    if (dicom) {
      await writeCtSeries(phantom.volume, { outDir: dir, uidSeed: 'bench-chest', sliceThicknessMm: 1, patient: { PatientSex: 'F', ageYears: 63 }, series: { SeriesDescription: 'bench chest 1 mm', BodyPartExamined: 'CHEST' } });
      // The write is the test fixture, not part of the analysis: the total starts at the scan.
      t0 = performance.now();
      const ts = t0;
      const scan = await scanPaths([dir]);
      const { inputs } = seriesInputs(scan);
      const input = inputs[0];
      if (!input) throw new Error('bench: the written series was not found');
      times['scan'] = Math.round(performance.now() - ts);
      const t1 = performance.now();
      series = await input.loadVolume(new AbortController().signal);
      times['read-volume'] = Math.round(performance.now() - t1);
      header = input.header;
    } else {
      series = { volume: phantom.volume, sliceSopInstanceUids: [], frameOfReferenceUid: undefined, notes: [] };
      header = {
        studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', modality: 'CT', seriesDescription: 'bench', bodyPartExamined: 'CHEST',
        sliceThicknessMm: 1, imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'], instanceCount: 300, patientAgeYears: 63, patientSex: 'F', contrastAgent: undefined, attributes: {},
      };
    }
    const ta = performance.now();
    const out = await chestCtNodules.run({ header, series, log: createLogger({ level: 'warn' }), progress: () => undefined, signal: new AbortController().signal });
    const analysisMs = Math.round(performance.now() - ta);
    const totalMs = dicom ? Math.round(performance.now() - t0) : analysisMs;
    Object.assign(times, Object.fromEntries(Object.entries(out.stepTimesMs ?? {}).map(([k, v]) => [k, Math.round(v)])));
    const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
    log(`volume ${series.volume.dims.join('×')} (${series.volume.spacing.map((s) => s.toFixed(2)).join(' × ')} mm), kernel threads ${kernelThreads()}${dicom ? '' : ' (no DICOM round trip)'}`);
    for (const [k, v] of Object.entries(times)) log(`  ${k.padEnd(20)} ${String(v).padStart(6)} ms`);
    log(`  ${'analysis'.padEnd(20)} ${String(analysisMs).padStart(6)} ms`);
    log(`  ${'total'.padEnd(20)} ${String(totalMs).padStart(6)} ms   (target ≤ 15000 ms on 2 cores, decode included; the DICOM write is not timed)`);
    log(`  peak RSS ${peakRssMb} MB (process, including the phantom generator; target ≤ 2048 MB)`);
    const shown = out.findings.filter((f) => f.probability >= 0.5);
    log(`  result: ${out.findings.length} finding(s), ${shown.length} ≥ 0.5; truth ${phantom.truth.nodules.length} nodule(s): ${phantom.truth.nodules.map((n) => `${n.type} ${n.diameterMm.toFixed(1)} mm`).join(', ')}`);
    return { stepTimesMs: times, totalMs, peakRssMb };
  } finally {
    if (!process.argv.includes('--keep')) await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchChest();
}
