/**
 * `npm run bench:ingest`: how fast `secondreader serve` takes in, finds and serves images, beside the references
 * a hospital would compare it with, on this machine.
 *  1. C-STORE ingest: dcmtk storescu (TCP_NODELAY=1) sends the same ~520 full 512×512 CT slices to SecondReader,
 *     to Orthanc (files + SQLite index) and to dcmtk storescp (files only, no index), one after another.
 *  2. QIDO-RS latency with 100,000 indexed instances (tiny synthetic instances stored through the archive API).
 *  3. WADO-RS frame throughput of one 512×512 series from SecondReader and from Orthanc's DICOMweb plugin.
 * Options: --instances N (CT slices, default 520), --qido-instances N (default 100000), --qido-count N (queries,
 * default 500), --real (also send the real CT files under /work/shared/data), --keep (keep the temp folder),
 * --parallel N (N storescu processes at once, each on its own association with 1/N of the files; default 1),
 * --only sr,orthanc,storescp (receivers to measure), --no-wado, --qido-instances 0 (skip the QIDO part),
 * --profile DIR (serve runs under node --cpu-prof, profiles written to DIR), --serve-node-args="ARGS" (more node
 * options for serve, space-separated, e.g. --serve-node-args="--trace-gc").
 * Beside the ingest rates it prints each receiver's CPU per instance (user + system, /proc) and the disk's sync
 * latency before and after (what the acknowledgements wait for; it varies a lot on a shared machine).
 * Goals from issue #5: ingest ≥ 1.5× Orthanc; QIDO p95 ≤ 50 ms. No figure is asserted: they are read by people.
 */
import { closeSync, existsSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, startOrthanc } from '../test/support/orthanc.ts';
import type { RunningOrthanc } from '../test/support/orthanc.ts';
import { populateIndex, qidoLatency, wadoFrames } from './ingest-http.ts';
import type { LatencyRow } from './ingest-http.ts';
import { runStorescu, startServe, startStorescp } from './ingest-procs.ts';
import type { ServeProcess } from './ingest-procs.ts';
import { CT_IMAGE_STORAGE_UID, writeCtSet } from './ingest-synth.ts';
import { parseDicom } from '../src/dicom/index.ts';

const REAL_DIRS = ['/work/shared/data/ct-head-gantry-tilt', '/work/shared/data/radiomics-ibsi'];
const SLICES_PER_SERIES = 130;

/**
 * What each receiver has on disk when it answers C-STORE Success, printed beside the figures. Orthanc 1.10:
 * FilesystemStorage writes the file in place and fsyncs it when SyncStorageArea is true (its default since
 * 1.7.4), without syncing the folder; its SQLite index runs WAL with PRAGMA SYNCHRONOUS=NORMAL
 * (SQLiteDatabaseWrapper::Open), so the index commit is not fsynced (lost on power failure, kept on a crash).
 */
const SR_DURABILITY = 'embedded: ingest journal record (blob bytes + index facts) fdatasynced, shared by concurrent stores; blob placed and index committed unsynced beside it; blob synced after the response (ADR 0007)';
const ORTHANC_DURABILITY = 'SyncStorageArea=true: file fsync only (no folder fsync); SQLite WAL synchronous=NORMAL: index commit not fsynced';

const out = (s = ''): void => void process.stdout.write(`${s}\n`);
const fmt = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : '—');

/** Real CT Image Storage files under `dir` (DICOMDIRs, other modalities and non-DICOM files left out). */
async function listRealCt(dir: string, acc: string[] = []): Promise<string[]> {
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await listRealCt(p, acc);
    else if (ent.isFile()) {
      const bytes = await readFile(p);
      if (bytes.toString('latin1', 128, 132) !== 'DICM') continue;
      try {
        const { dataset } = parseDicom(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), p, { headerOnly: true, fileSize: bytes.length });
        if (dataset['SOPClassUID'] === CT_IMAGE_STORAGE_UID) acc.push(p);
      } catch (e) {
        void e; // unreadable: not part of the set
      }
    }
  }
  return acc;
}

interface SyncFloor {
  /** Median ms: fdatasync of a new 512 KiB file, fsync of its folder after a rename, fdatasync of a 48 KiB append. */
  readonly file: number;
  readonly folder: number;
  readonly wal: number;
}

/**
 * What the disk charges for the syncs a C-STORE waits for, measured where the receivers write, before and after
 * the ingest (on a shared machine it moves a lot between runs: read ratios from runs with similar figures). Per
 * association (storescu waits for each response) SecondReader waits for two syncs in a row — the blob (file ‖
 * folder), then the index WAL — and Orthanc for one (the file). Concurrent syncs on one filesystem may share a
 * journal commit, so these serial medians are context, not a bound.
 */
function measureSyncFloor(dir: string, n = 25): SyncFloor {
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)] ?? NaN;
  mkdirSync(join(dir, 'in'), { recursive: true });
  mkdirSync(join(dir, 'out'), { recursive: true });
  const blob = Buffer.alloc(512 * 1024, 0x5a);
  const page = Buffer.alloc(48 * 1024, 0xa5);
  const wal = openSync(join(dir, 'wal'), 'w');
  const file: number[] = [];
  const folder: number[] = [];
  const walMs: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const fd = openSync(join(dir, 'in', `${i}`), 'wx');
      writeSync(fd, blob);
      let t = performance.now();
      fdatasyncSync(fd);
      file.push(performance.now() - t);
      closeSync(fd);
      renameSync(join(dir, 'in', `${i}`), join(dir, 'out', `${i}`));
      const d = openSync(join(dir, 'out'), 'r');
      t = performance.now();
      fsyncSync(d);
      folder.push(performance.now() - t);
      closeSync(d);
      writeSync(wal, page);
      t = performance.now();
      fdatasyncSync(wal);
      walMs.push(performance.now() - t);
    }
  } finally {
    closeSync(wal);
  }
  return { file: median(file), folder: median(folder), wal: median(walMs) };
}

function printSyncFloor(label: string, f: SyncFloor): void {
  out(`  sync latency ${label}: new 512 KiB file fdatasync ${fmt(f.file, 2)} ms, folder fsync ${fmt(f.folder, 2)} ms, ` +
    `48 KiB WAL append fdatasync ${fmt(f.wal, 2)} ms (medians of 25)`);
}

interface IngestResult {
  readonly target: string;
  readonly acked: number;
  readonly failed: number;
  readonly seconds: number;
  readonly peakRssMb?: number;
  /** CPU seconds (user + system, all threads) the receiver process spent during the ingest, when known. */
  readonly cpuSeconds?: number;
}

/** User + system CPU seconds of a process so far (/proc/PID/stat fields 14 and 15), undefined off Linux. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks; USER_HZ is 100 on Linux
  } catch (e) {
    void e;
    return undefined;
  }
}

/** Round-robin split of the input files over `n` senders (folders are expanded first). */
async function splitInputs(inputs: readonly string[], n: number): Promise<string[][]> {
  if (n <= 1) return [[...inputs]];
  const files: string[] = [];
  for (const i of inputs) {
    if ((await stat(i)).isDirectory()) {
      for (const ent of await readdir(i, { recursive: true, withFileTypes: true })) if (ent.isFile()) files.push(join(ent.parentPath, ent.name));
    } else files.push(i);
  }
  files.sort();
  return Array.from({ length: n }, (_, k) => files.filter((_f, i) => i % n === k));
}

async function send(target: string, port: number, ae: string, groups: readonly string[][], serve?: ServeProcess, pid = serve?.pid): Promise<IngestResult> {
  const cpu0 = pid !== undefined ? cpuSecondsOf(pid) : undefined;
  const t0 = performance.now();
  // --no-halt: one refused file must not end the run (it is counted as failed).
  const runs = groups.map((inputs) => runStorescu({ port, calledAe: ae, inputs, extraArgs: ['--no-halt'] }));
  const exits = await Promise.all(runs.map((r) => r.exited));
  const seconds = (performance.now() - t0) / 1000;
  exits.forEach((exit, i) => {
    if (exit.code !== 0) out(`  ! storescu → ${target} exited ${exit.code ?? exit.signal}: ${runs[i]?.logTail().slice(-3).join(' | ')}`);
  });
  const rss = serve?.peakRssKb();
  const acked = runs.reduce((a, r) => a + r.acked.length, 0);
  const failed = runs.reduce((a, r) => a + r.failed.length, 0);
  const cpu1 = pid !== undefined ? cpuSecondsOf(pid) : undefined;
  return { target, acked, failed, seconds, ...(rss ? { peakRssMb: rss / 1024 } : {}), ...(cpu0 !== undefined && cpu1 !== undefined ? { cpuSeconds: cpu1 - cpu0 } : {}) };
}

export async function benchIngest(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      instances: { type: 'string', default: '520' }, 'qido-instances': { type: 'string', default: '100000' },
      'qido-count': { type: 'string', default: '500' }, real: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false },
      parallel: { type: 'string', default: '1' }, only: { type: 'string', default: 'sr,orthanc,storescp' }, 'no-wado': { type: 'boolean', default: false },
      profile: { type: 'string' }, 'serve-node-args': { type: 'string', default: '' },
    },
  });
  const instances = Math.max(1, Number(values.instances));
  const qidoInstances = Number(values['qido-instances']) === 0 ? 0 : Math.max(50, Number(values['qido-instances']));
  const parallel = Math.max(1, Number(values.parallel));
  const only = new Set(values.only.split(','));
  const wado = !values['no-wado'] && only.has('sr') && only.has('orthanc');
  const qidoCount = Math.max(5, Number(values['qido-count']));
  const root = await mkdtemp(join(os.tmpdir(), 'sr-bench-ingest-'));
  // The QIDO index lives in memory-backed /dev/shm when there is one: filling it is bounded by fsyncs otherwise,
  // and what is measured afterwards (query latency) reads from the page cache either way.
  const shm = existsSync('/dev/shm') ? await mkdtemp('/dev/shm/sr-bench-qido-') : join(root, 'qido');
  const stops: Array<() => Promise<unknown>> = [];
  const started = performance.now();
  out(`SecondReader ingest bench — node ${process.version}, ${os.availableParallelism()} CPU(s) (${os.cpus()[0]?.model ?? '?'}), ` +
    `load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  try {
    // 1. Source files.
    const series = Math.ceil(instances / SLICES_PER_SERIES);
    let t = performance.now();
    const srcDir = join(root, 'source');
    const all = await writeCtSet({ outDir: srcDir, series, slicesPerSeries: SLICES_PER_SERIES, matrix: 512, seed: 'bench-ingest' });
    const sources = all.slice(0, instances);
    for (const extra of all.slice(instances)) await rm(extra.path);
    const inputs = [srcDir];
    let files = sources.length;
    let bytes = sources.reduce((a, s) => a + s.sizeBytes, 0);
    if (values.real) {
      for (const dir of REAL_DIRS.filter((d) => existsSync(d))) {
        const real = await listRealCt(dir);
        inputs.push(...real);
        files += real.length;
        for (const p of real) bytes += (await stat(p)).size;
      }
    }
    out(`\nsource: ${files} CT files, ${fmt(bytes / 2 ** 20)} MiB (${sources.length} synthetic 512×512 slices${values.real ? ' + real CT' : ''}), written in ${fmt((performance.now() - t) / 1000)} s`);

    // 2. C-STORE ingest, one receiver after another.
    const floorBefore = measureSyncFloor(join(root, 'sync-floor-1'));
    const results: IngestResult[] = [];
    const groups = await splitInputs(inputs, parallel);
    let sr: ServeProcess | undefined;
    if (only.has('sr')) {
      const profile = values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [];
      const extra = values['serve-node-args'].split(' ').filter((a) => a !== '');
      sr = await startServe({ dataDir: join(root, 'sr-data'), nodeArgs: [...profile, ...extra] });
      const s = sr;
      stops.push(() => s.stop());
      results.push(await send('SecondReader serve', sr.dicomPort, sr.aeTitle, groups, sr));
    }
    let orthanc: RunningOrthanc | undefined;
    if (only.has('orthanc')) {
      // SyncStorageArea is Orthanc 1.10's default, set here so the comparison states it (see ORTHANC_DURABILITY).
      orthanc = await startOrthanc({ storageDir: join(root, 'orthanc'), dicomWeb: true, extraConfig: { SyncStorageArea: true } });
      const o = orthanc;
      stops.push(() => o.stop());
      results.push(await send('Orthanc 1.10', orthanc.dicomPort, orthanc.aet, groups, undefined, orthanc.process.pid));
    }
    if (only.has('storescp')) {
      await mkdir(join(root, 'storescp'));
      const scp = await startStorescp({ port: await freePort(), outDir: join(root, 'storescp') });
      results.push(await send('dcmtk storescp', scp.port, scp.aeTitle, groups));
      await scp.stop();
    }
    const floorAfter = measureSyncFloor(join(root, 'sync-floor-2'));
    out(`\nC-STORE ingest (storescu × ${parallel}, ${parallel === 1 ? 'one association' : 'one association each, at once'}, TCP_NODELAY=1)`);
    out('  receiver              stored  failed   seconds   inst/s     MB/s   peak RSS');
    for (const r of results) {
      out(`  ${r.target.padEnd(20)} ${String(r.acked).padStart(7)} ${String(r.failed).padStart(7)} ${fmt(r.seconds, 2).padStart(9)} ${fmt(r.acked / r.seconds).padStart(8)} ` +
        `${fmt((bytes * (r.acked / files)) / 1e6 / r.seconds).padStart(8)} ${r.peakRssMb ? `${fmt(r.peakRssMb, 0)} MB` : ''}` +
        `${r.cpuSeconds !== undefined && r.acked > 0 ? `  CPU ${fmt((1000 * r.cpuSeconds) / r.acked, 2)} ms/instance` : ''}`);
    }
    const rate = (name: string): number => {
      const r = results.find((x) => x.target.startsWith(name));
      return r && r.acked === files ? r.acked / r.seconds : NaN;
    };
    out(`  SecondReader / Orthanc:   ${fmt(rate('SecondReader') / rate('Orthanc'), 2)}× (goal ≥ 1.5×)`);
    printSyncFloor('before', floorBefore);
    printSyncFloor('after ', floorAfter);
    if (only.has('sr')) out(`  durability, SecondReader: ${SR_DURABILITY}`);
    if (only.has('orthanc')) out(`  durability, Orthanc:      ${ORTHANC_DURABILITY}`);
    out(`  SecondReader / storescp:  ${fmt(rate('SecondReader') / rate('dcmtk'), 2)}×`);

    // 3. WADO-RS frames of one series, from both servers (both hold the same instances now).
    const one = sources.filter((s) => s.seriesInstanceUid === sources[0]?.seriesInstanceUid);
    if (wado && sr && orthanc) out(`\nWADO-RS frames (one 512×512 series, ${one.length} frames, 4 requests at a time, uncompressed)`);
    const wadoTargets = wado && sr && orthanc ? [['SecondReader', `${sr.httpUrl}/dicom-web`, sr.authHeaders], ['Orthanc DICOMweb plugin', `${orthanc.url}/dicom-web`, {}]] as const : [];
    for (const [name, root0, auth] of wadoTargets) {
      try {
        const f = await wadoFrames(root0, one, 4, auth);
        out(`  ${name.padEnd(24)} ${fmt(f.frames / f.seconds).padStart(8)} frames/s ${fmt(f.bytes / 1e6 / f.seconds).padStart(8)} MB/s`);
      } catch (e) {
        out(`  ${name.padEnd(24)} failed: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    const srRss = sr?.peakRssKb();
    await sr?.stop();
    await orthanc?.stop();
    if (srRss) out(`  SecondReader serve peak RSS after ingest${wado ? ' + WADO' : ''}: ${fmt(srRss / 1024, 0)} MB`);
    if (qidoInstances === 0) {
      out(`\ntotal ${fmt((performance.now() - started) / 1000)} s, load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
      return 0;
    }

    // 4. QIDO-RS over 100k instances.
    t = performance.now();
    const fillSeconds = await populateIndex(shm, qidoInstances, (n) => process.stderr.write(`\r  indexing ${n}/${qidoInstances}`));
    process.stderr.write('\n');
    out(`\nQIDO-RS with ${qidoInstances.toLocaleString('en')} indexed instances (${qidoInstances / 25} series, ${qidoInstances / 50} studies)`);
    out(`  indexed through the archive API in ${fmt(fillSeconds)} s (${fmt(qidoInstances / fillSeconds, 0)} instances/s, 32 parallel stores, data on ${shm.startsWith('/dev/shm') ? 'tmpfs' : 'disk'})`);
    t = performance.now();
    const q = await startServe({ dataDir: shm, startTimeoutMs: 300_000 });
    stops.push(() => q.stop());
    out(`  serve started on it in ${fmt((performance.now() - t) / 1000)} s (recovery pass over the blob folder included)`);
    const rows: LatencyRow[] = await qidoLatency(`${q.httpUrl}/dicom-web`, qidoInstances, qidoCount, q.authHeaders);
    out('  query (one at a time, HTTP, application/dicom+json)    n   rows     p50 ms   p95 ms   p99 ms');
    for (const r of rows) {
      out(`  ${r.label.padEnd(50)} ${String(r.n).padStart(4)} ${fmt(r.meanRows).padStart(6)} ${fmt(r.p50, 2).padStart(9)} ${fmt(r.p95, 2).padStart(8)} ${fmt(r.p99, 2).padStart(8)}`);
    }
    out(`  goal: p95 ≤ 50 ms over all queries → ${fmt(rows[rows.length - 1]?.p95 ?? NaN, 2)} ms`);
    const qRss = q.peakRssKb();
    if (qRss) out(`  serve peak RSS: ${fmt(qRss / 1024, 0)} MB`);
    await q.stop();
    out(`\ntotal ${fmt((performance.now() - started) / 1000)} s, load average now ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
    return 0;
  } finally {
    for (const s of stops.reverse()) await s().catch((e: unknown) => out(`  ! cleanup: ${String(e)}`));
    if (!values.keep) {
      await rm(root, { recursive: true, force: true });
      await rm(shm, { recursive: true, force: true });
    } else out(`kept ${root} ${shm}`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await benchIngest(process.argv.slice(2));
}
