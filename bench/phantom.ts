/**
 * Chest phantom generation (eval/phantoms/chest.ts) on a 512×512×300 case (0.7 mm pixels, 1 mm slices, 5 nodules):
 * wall and CPU milliseconds per stage, the total, and the peak RSS of the process. CPU time counts every thread of
 * the process (the blur's workers too), so on a loaded machine the CPU figures are the steadier ones.
 *
 *   node --import tsx bench/phantom.ts [--seed S] [--cases N]
 */
import { pathToFileURL } from 'node:url';
import { kernelThreads } from '../src/imaging/index.ts';
import { generateChestPhantom } from '../eval/phantoms/chest.ts';

export interface BenchPhantomResult {
  /** Per stage, the mean over cases. */
  readonly wallMs: Readonly<Record<string, number>>;
  readonly cpuMs: Readonly<Record<string, number>>;
  readonly totalWallMs: number;
  readonly peakRssMb: number;
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export async function benchPhantom(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<BenchPhantomResult> {
  const seed = argValue('--seed') ?? 'bench-phantom';
  const cases = Math.max(1, Number(argValue('--cases') ?? 1) || 1);
  const wall: Record<string, number> = {};
  const cpu: Record<string, number> = {};
  let totalWall = 0;
  let segments = 0;
  for (let c = 0; c < cases; c++) {
    const t0 = performance.now();
    const p = generateChestPhantom({ seed: cases === 1 ? seed : `${seed}/${c}`, dims: [512, 512, 300], spacingMm: [0.7, 0.7, 1], sliceThicknessMm: 1, noduleCount: 5 });
    totalWall += performance.now() - t0;
    for (const [k, v] of Object.entries(p.wallMs)) wall[k] = (wall[k] ?? 0) + v / cases;
    for (const [k, v] of Object.entries(p.cpuMs)) cpu[k] = (cpu[k] ?? 0) + v / cases;
    segments += p.truth.anatomy.vesselSegments / cases;
  }
  const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  log(`chest phantom 512×512×300 (0.7 × 0.7 × 1 mm), ${cases} case(s), kernel threads ${kernelThreads()}, ~${Math.round(segments)} vessel segments`);
  log(`  ${'stage'.padEnd(16)} ${'wall ms'.padStart(8)} ${'cpu ms'.padStart(8)}`);
  for (const k of Object.keys(wall)) log(`  ${k.padEnd(16)} ${String(Math.round(wall[k] ?? 0)).padStart(8)} ${String(Math.round(cpu[k] ?? 0)).padStart(8)}`);
  const mean = totalWall / cases;
  log(`  ${'total'.padEnd(16)} ${String(Math.round(mean)).padStart(8)} ${String(Math.round(Object.values(cpu).reduce((a, b) => a + b, 0))).padStart(8)}   (target ≤ 5000 ms wall on 2 cores)`);
  log(`  peak RSS ${peakRssMb} MB`);
  return { wallMs: wall, cpuMs: cpu, totalWallMs: Math.round(mean), peakRssMb };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchPhantom();
}
