/**
 * `npm run bench:fuzz -- --inputs 100000 --seed S`: the fuzz harness of src/fuzz over the DICOM reader, the
 * P-DATA-TF parsing, STOW-RS and a real DIMSE association (src/fuzz/harness.ts), in a child process watched for
 * hangs: when the child reports no new input for --hang-ms it is killed, the input is recorded as a hang, and a
 * new child continues after it. A child that dies is recorded as a crash the same way.
 *
 * Options: --inputs N (default 100000), --seed S (default 1), --out DIR (failing inputs + summary.json; default
 * bench-out/fuzz-sS), --hang-ms MS (default 20000), --only I (run input I alone: reproduce a failure),
 * --decode-every N (decode frames of one parse input in N; default 8).
 * Prints inputs/s, outcomes per target, failures with their reproducer, peak RSS and heap growth. Exit code 1 when
 * anything failed. No figure is asserted.
 */
import { fork } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadCorpus } from '../src/fuzz/corpus.ts';
import { runFuzz, targetFor, DEFAULT_MIX } from '../src/fuzz/harness.ts';
import type { FuzzFailure, FuzzSummary, TargetName } from '../src/fuzz/harness.ts';
import { mutateDicom } from '../src/fuzz/mutators.ts';
import { inputRng } from '../src/fuzz/rng.ts';
import { stowRequest } from '../src/fuzz/targets.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    seed: { type: 'string', default: '1' },
    out: { type: 'string' },
    'hang-ms': { type: 'string', default: '20000' },
    only: { type: 'string' },
    'decode-every': { type: 'string', default: '8' },
    child: { type: 'boolean', default: false },
    start: { type: 'string', default: '0' },
  },
});
const seed = Number(values.seed);
const out = resolve(values.out ?? join('bench-out', `fuzz-s${seed}`));
const decodeEvery = Number(values['decode-every']);
/** Heap growth (after GC) from 10 % of the inputs to the end that counts as a leak. */
const HEAP_GROWTH_LIMIT_MIB = 64;

type ChildMessage =
  | { type: 'input'; index: number; target: TargetName }
  | { type: 'uncaught'; index: number; message: string }
  | { type: 'done'; summary: FuzzSummary; maxRssKb: number };

async function child(): Promise<void> {
  const send = (m: ChildMessage): void => {
    process.send?.(m);
  };
  let current = -1;
  const onUncaught = (e: unknown): void => send({ type: 'uncaught', index: current, message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  const corpus = loadCorpus();
  const summary = await runFuzz({
    seed, start: Number(values.start), count: Number(values.inputs), corpus, decodeEvery, failureDir: out,
    onInput: (index, target) => {
      current = index;
      send({ type: 'input', index, target });
    },
  });
  send({ type: 'done', summary, maxRssKb: process.resourceUsage().maxRSS });
  process.disconnect?.();
}

/** Regenerates input `index` (the child died on it) and writes it beside the other failing inputs. */
function writeReproducer(index: number, f: Omit<FuzzFailure, 'base' | 'ops' | 'file' | 'target'>): FuzzFailure {
  const corpus = loadCorpus();
  const target = targetFor(seed, index, DEFAULT_MIX);
  const rng = inputRng(seed, index);
  let bytes: Uint8Array;
  let base = '';
  let ops: readonly string[];
  if (target === 'stow') {
    const r = stowRequest(rng, corpus);
    bytes = r.payload;
    ops = r.ops;
  } else {
    const m = mutateDicom(rng, corpus);
    bytes = m.bytes;
    base = m.base;
    ops = m.ops;
  }
  mkdirSync(out, { recursive: true });
  const file = join(out, `${target}-s${seed}-i${index}.bin`);
  writeFileSync(file, bytes);
  const failure: FuzzFailure = { ...f, target, base, ops, file };
  writeFileSync(file.replace(/\.bin$/, '.json'), JSON.stringify(failure, null, 2));
  return failure;
}

async function supervise(): Promise<void> {
  const total = values.only !== undefined ? 1 : Number(values.inputs);
  const first = values.only !== undefined ? Number(values.only) : 0;
  const hangMs = Number(values['hang-ms']);
  mkdirSync(out, { recursive: true });
  const logFd = openSync(join(out, 'child.log'), 'w');
  const summaries: FuzzSummary[] = [];
  const extra: FuzzFailure[] = [];
  let peakRssKb = 0;
  let next = first;
  const end = first + total;
  const t0 = performance.now();
  console.log(`fuzz: seed ${seed}, inputs ${first}..${end - 1}, corpus ${loadCorpus().length} files, output ${out}`);
  while (next < end) {
    const startAt = next;
    const proc = fork(import.meta.filename, ['--child', '--seed', String(seed), '--start', String(startAt), '--inputs', String(end - startAt), '--out', out, '--decode-every', String(decodeEvery)], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', logFd, logFd, 'ipc'],
    });
    let last = startAt - 1;
    let lastAt = Date.now();
    let done = false;
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'input') {
        last = m.index;
        lastAt = Date.now();
        if ((m.index - first) % 10_000 === 0 && m.index > first) {
          const s = (performance.now() - t0) / 1000;
          console.log(`  ${m.index - first} inputs, ${s.toFixed(0)} s, ${((m.index - first) / s).toFixed(0)} inputs/s`);
        }
      } else if (m.type === 'uncaught') {
        extra.push(writeReproducer(m.index, { seed, index: m.index, kind: 'uncaught', message: m.message }));
      } else {
        summaries.push(m.summary);
        peakRssKb = Math.max(peakRssKb, m.maxRssKb);
        done = true;
      }
    });
    const exit = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const watchdog = setInterval(() => {
      if (Date.now() - lastAt > hangMs) {
        clearInterval(watchdog);
        extra.push(writeReproducer(last, { seed, index: last, kind: 'timeout', message: `no progress for ${hangMs} ms on input ${last}` }));
        proc.kill('SIGKILL');
      }
    }, 500);
    const code = await exit;
    clearInterval(watchdog);
    if (done) break;
    if (!extra.some((f) => f.index === last && f.kind === 'timeout')) {
      extra.push(writeReproducer(last, { seed, index: last, kind: 'uncaught', message: `the fuzz process died (exit ${String(code)}) on input ${last}` }));
    }
    next = last + 1;
  }
  const seconds = (performance.now() - t0) / 1000;
  const failures = [...summaries.flatMap((s) => s.failures), ...extra];
  const byTarget: Record<string, number> = {};
  const results: Record<string, number> = {};
  for (const s of summaries) {
    for (const [k, v] of Object.entries(s.byTarget)) byTarget[k] = (byTarget[k] ?? 0) + v;
    for (const [k, v] of Object.entries(s.results)) results[k] = (results[k] ?? 0) + v;
  }
  const last = summaries[summaries.length - 1];
  // Bounded memory: what stays on the heap after a GC must not grow with the number of inputs.
  const growthMiB = last ? (last.heapAtEnd - last.heapAfterWarmup) / 2 ** 20 : 0;
  if (growthMiB > HEAP_GROWTH_LIMIT_MIB) {
    failures.push({ seed, index: -1, target: 'final-check', kind: 'memory', message: `heap grew ${growthMiB.toFixed(1)} MiB between 10 % of the inputs and the end (limit ${HEAP_GROWTH_LIMIT_MIB})`, base: '', ops: [] });
  }
  const report = {
    seed, inputs: total, seconds, inputsPerSecond: total / seconds, byTarget, results, peakRssMiB: peakRssKb / 1024,
    heapAfterWarmupMiB: last ? last.heapAfterWarmup / 2 ** 20 : null, heapAtEndMiB: last ? last.heapAtEnd / 2 ** 20 : null,
    finalChecks: last?.finalChecks ?? null, failures,
  };
  writeFileSync(join(out, 'summary.json'), JSON.stringify(report, null, 2));
  console.log(`inputs: ${total} in ${seconds.toFixed(1)} s (${report.inputsPerSecond.toFixed(0)} inputs/s); per target ${JSON.stringify(byTarget)}`);
  console.log(`peak RSS ${report.peakRssMiB.toFixed(0)} MiB; heap after warm-up ${report.heapAfterWarmupMiB?.toFixed(1)} MiB, at end ${report.heapAtEndMiB?.toFixed(1)} MiB (after GC; a growth over ${HEAP_GROWTH_LIMIT_MIB} MiB fails the run)`);
  console.log(`after the run: STOW-RS of a pristine instance → ${String(report.finalChecks?.stowStatus)}, C-ECHO ok: ${String(report.finalChecks?.echoOk)}`);
  console.log('outcomes:');
  for (const [k, v] of Object.entries(results).sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`  ${String(v).padStart(7)}  ${k}`);
  console.log(`failures: ${failures.length}`);
  for (const f of failures.slice(0, 30)) {
    console.log(`  [${f.kind}] ${f.target} input ${f.index} (${f.base} ${f.ops.join('; ')}) — reproduce: npm run bench:fuzz -- --seed ${seed} --only ${f.index}`);
    console.log(`      ${f.message.split('\n').slice(0, 3).join('\n      ')}`);
  }
  console.log(`summary and failing inputs: ${out}`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

if (values.child) await child();
else await supervise();
