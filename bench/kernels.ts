/**
 * Imaging-kernel benchmark: a synthetic 512×512×300 int16 chest-like CT (0.7×0.7×1.0 mm) through each kernel,
 * printing wall time, peak process RSS (sampled every 10 ms by a helper thread, since the kernels block the main
 * thread), ArrayBuffer memory after the call, and the thread count.
 *
 *   node --import tsx bench/kernels.ts [--threads N] [--single] [--dims 256,256,150] [--only gaussian,distance]
 */
import { pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import {
  connectedComponents, createVolume, dilate, distanceTransform, fillHoles2D, gaussian, hessianEigenvalues,
  kernelThreads, resample, resolveThreads, shutdownKernelPool, startKernelPool, threshold, crop,
} from '../src/imaging/index.ts';
import type { Int16Volume, Vec3 } from '../src/imaging/index.ts';

export interface BenchKernelsOptions {
  dims?: Vec3;
  /** Threads per kernel (default: kernelThreads()). */
  threads?: number;
  /** Also run every kernel on one thread, for comparison. */
  compareSingleThread?: boolean;
  /** Subset of kernel names to run. */
  only?: string[];
  log?: (line: string) => void;
}

export interface KernelBenchResult {
  kernel: string;
  threads: number;
  ms: number;
  /** CPU time of the process over the call, all threads (ms): less sensitive than wall time to a busy machine. */
  cpuMs: number;
  /** Highest process RSS seen while the kernel ran (MiB), and its rise over the RSS just before the call. */
  peakRssMiB: number;
  peakRssDeltaMiB: number;
  /** process.memoryUsage().arrayBuffers right after the call, result still alive (MiB). */
  arrayBuffersMiB: number;
}

/** A chest-like phantom: air, body ellipse with fat/soft tissue, two lungs, vessels and nodules, noise. */
export function syntheticChest(dims: Vec3 = [512, 512, 300], spacing: Vec3 = [0.7, 0.7, 1]): Int16Volume {
  const [nx, ny, nz] = dims;
  const data = new Int16Array(nx * ny * nz);
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  const blobs = Array.from({ length: 60 }, () => ({ i: nx * (0.2 + 0.6 * rand()), j: ny * (0.3 + 0.4 * rand()), k: nz * rand(), r: 2 + 6 * rand() }));
  const noise = Int16Array.from({ length: 4096 }, () => Math.round((rand() - 0.5) * 40));
  let v = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const y = (j - ny / 2) / (ny * 0.35);
      for (let i = 0; i < nx; i++, v++) {
        const x = (i - nx / 2) / (nx * 0.45);
        const body = x * x + y * y;
        let hu = -1000;
        if (body < 1) {
          hu = body > 0.85 ? -100 : 40;
          const lx = (Math.abs(i - nx / 2) - nx * 0.2) / (nx * 0.14);
          const ly = y / 0.8;
          if (lx * lx + ly * ly < 1) hu = -850;
        }
        data[v] = hu + (noise[(v * 7 + k) & 4095] as number);
      }
    }
  }
  for (const b of blobs) {
    const ri = Math.ceil(b.r / spacing[0]), rk = Math.ceil(b.r / spacing[2]);
    for (let k = Math.max(0, Math.floor(b.k - rk)); k < Math.min(nz, b.k + rk); k++) {
      for (let j = Math.max(0, Math.floor(b.j - ri)); j < Math.min(ny, b.j + ri); j++) {
        for (let i = Math.max(0, Math.floor(b.i - ri)); i < Math.min(nx, b.i + ri); i++) {
          const d2 = ((i - b.i) * spacing[0]) ** 2 + ((j - b.j) * spacing[1]) ** 2 + ((k - b.k) * spacing[2]) ** 2;
          if (d2 < b.r * b.r) data[i + j * nx + k * nx * ny] = 50;
        }
      }
    }
  }
  return createVolume(data, { dims, spacing, origin: [-180, -180, -300] });
}

const SAMPLER = `
const { workerData, parentPort } = require('node:worker_threads');
const peak = workerData;
const tick = () => { const mib = Math.round(process.memoryUsage.rss() / 1048576); if (mib > Atomics.load(peak, 0)) Atomics.store(peak, 0, mib); };
const t = setInterval(tick, 10);
parentPort.on('message', () => { clearInterval(t); process.exit(0); });
`;

/** Frees the previous kernel's output so each figure starts from the same baseline (gc exposed at run time). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function startSampler(): { peak: Int32Array; stop: () => Promise<void> } {
  const peak = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(SAMPLER, { eval: true, workerData: peak });
  return { peak, stop: () => new Promise((resolve) => { w.once('exit', () => resolve()); w.postMessage('stop'); }) };
}

export async function benchKernels(opts: BenchKernelsOptions = {}): Promise<KernelBenchResult[]> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const dims = opts.dims ?? [512, 512, 300];
  const t0 = performance.now();
  const vol = syntheticChest(dims);
  log(`synthetic volume ${dims.join('×')} int16 0.7×0.7×1.0 mm built in ${(performance.now() - t0).toFixed(0)} ms; default threads ${kernelThreads()}`);
  const body = threshold(vol, { low: -500 });
  const air = threshold(vol, { high: -400 });
  const half: Vec3 = [Math.floor(dims[0] / 2), Math.floor(dims[1] / 2), Math.floor(dims[2] / 2)];
  const quarter = crop(vol, { start: [Math.floor(dims[0] / 4), Math.floor(dims[1] / 4), Math.floor(dims[2] / 4)], end: [Math.floor(dims[0] / 4) + half[0], Math.floor(dims[1] / 4) + half[1], Math.floor(dims[2] / 4) + half[2]] });
  // [name, run, voxels that decide the thread count (0: single-threaded kernel)]
  const kernels: [string, (threads: number) => unknown, number][] = [
    ['threshold', () => threshold(vol, { low: -400, high: 200 }), 0],
    ['gaussian σ=1mm', (threads) => gaussian(vol, { sigmaMm: 1, threads }), vol.data.length],
    ['components 26 (air mask)', () => connectedComponents(air, { connectivity: 26 }), 0],
    ['components 6 (air mask)', () => connectedComponents(air, { connectivity: 6 }), 0],
    ['distance inside body', (threads) => distanceTransform(body, { threads }), vol.data.length],
    ['dilate r=3mm (air mask)', (threads) => dilate(air, { radiusMm: 3, threads }), vol.data.length],
    ['fillHoles2D (body)', () => fillHoles2D(body), 0],
    ['resample → 1 mm iso linear', (threads) => resample(vol, { spacing: 1, threads }), vol.data.length],
    [`hessian σ=1.5mm on ${half.join('×')} crop`, (threads) => hessianEigenvalues(quarter, { sigmaMm: 1.5, threads }), quarter.data.length],
  ];
  const tPool = performance.now();
  const workers = startKernelPool(opts.threads ?? kernelThreads());
  log(`kernel pool: ${workers} worker(s) started in ${(performance.now() - tPool).toFixed(0)} ms (not counted below)`);
  const results: KernelBenchResult[] = [];
  const threadSets = opts.compareSingleThread ? [opts.threads ?? kernelThreads(), 1] : [opts.threads ?? kernelThreads()];
  for (const [name, run, voxels] of kernels) {
    if (opts.only && !opts.only.some((o) => name.startsWith(o))) continue;
    for (const threads of threadSets) {
      collectGarbage();
      const rssBefore = Math.round(process.memoryUsage.rss() / 1048576);
      const sampler = startSampler();
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      let out: unknown = run(threads);
      const ms = performance.now() - start;
      const cpu = process.cpuUsage(cpu0);
      const mem = process.memoryUsage();
      Atomics.store(sampler.peak, 0, Math.max(Atomics.load(sampler.peak, 0), Math.round(mem.rss / 1048576)));
      await sampler.stop();
      const single = voxels === 0;
      const r: KernelBenchResult = { kernel: name, threads: single ? 1 : resolveThreads(threads, voxels), ms: Math.round(ms), cpuMs: Math.round((cpu.user + cpu.system) / 1000), peakRssMiB: Atomics.load(sampler.peak, 0), peakRssDeltaMiB: Atomics.load(sampler.peak, 0) - rssBefore, arrayBuffersMiB: Math.round(mem.arrayBuffers / 1048576) };
      out = undefined;
      void out;
      results.push(r);
      log(`${r.kernel.padEnd(36)} ${String(r.ms).padStart(6)} ms (cpu ${String(r.cpuMs).padStart(6)} ms)  threads ${r.threads}  peak RSS ${r.peakRssMiB} MiB (+${r.peakRssDeltaMiB})  arrayBuffers ${r.arrayBuffersMiB} MiB`);
      if (single) break;
    }
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i >= 0 ? process.argv[i + 1] : undefined;
  };
  const dimsArg = arg('--dims');
  const threadsArg = arg('--threads');
  const onlyArg = arg('--only');
  await benchKernels({
    ...(dimsArg ? { dims: dimsArg.split(',').map(Number) as Vec3 } : {}),
    ...(threadsArg ? { threads: Number(threadsArg) } : {}),
    ...(onlyArg ? { only: onlyArg.split(',') } : {}),
    compareSingleThread: process.argv.includes('--single'),
  });
  await shutdownKernelPool();
}
