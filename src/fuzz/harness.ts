/**
 * The fuzz loop shared by the CI test (src/fuzz/fuzz.test.ts) and the benchmark (bench/fuzz.ts): input i of run
 * `seed` is generated from (seed, i) alone, fed to one target, judged by the oracle (oracle.ts); failures are
 * written to a folder as reproducers. The STOW-RS app and the DIMSE SCP are started once, on a temp SQLite
 * archive, and checked to still serve at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { openArchive } from '../archive/index.ts';
import type { OpenedArchive } from '../archive/index.ts';
import { silentLogger } from '../core/log.ts';
import { registerDicomWeb } from '../dicomweb/index.ts';
import { echo, startDimseServer } from '../dimse/index.ts';
import type { DimseServer } from '../dimse/index.ts';
import type { CorpusFile } from './corpus.ts';
import { mutateDicom } from './mutators.ts';
import type { FailureKind, Outcome } from './oracle.ts';
import { inputRng } from './rng.ts';
import { STOW_BOUNDARY, fuzzAssociation, fuzzMultipart, fuzzParse, fuzzPdata, fuzzStow, stowRequest } from './targets.ts';

export const TARGETS = ['parse', 'pdata', 'stow', 'association'] as const;
export type TargetName = (typeof TARGETS)[number];

/** Share of inputs per target: the reader is cheap and the most exposed; a real association costs milliseconds. */
export const DEFAULT_MIX: Readonly<Record<TargetName, number>> = { parse: 0.75, pdata: 0.14, stow: 0.105, association: 0.005 };

export interface FuzzOptions {
  readonly seed: number;
  /** First input index (a restarted run continues after the input that hung). Default 0. */
  readonly start?: number;
  readonly count: number;
  readonly corpus: readonly CorpusFile[];
  readonly mix?: Readonly<Partial<Record<TargetName, number>>>;
  /** Decode frames for one parse input in this many. Default 8. */
  readonly decodeEvery?: number;
  /** Per-input limit for the asynchronous targets (STOW, association). Default 10 s. */
  readonly timeoutMs?: number;
  /** Where failing inputs are written (created on the first failure). */
  readonly failureDir?: string;
  /** Called before each input (the benchmark's hang watchdog listens). */
  readonly onInput?: (index: number, target: TargetName) => void;
}

export interface FuzzFailure {
  readonly seed: number;
  readonly index: number;
  readonly target: TargetName | 'final-check';
  readonly kind: FailureKind;
  readonly message: string;
  readonly base: string;
  readonly ops: readonly string[];
  readonly file?: string;
}

export interface FuzzSummary {
  readonly seed: number;
  readonly start: number;
  readonly inputs: number;
  readonly seconds: number;
  readonly byTarget: Record<TargetName, number>;
  /** Outcome label → count (error codes, HTTP statuses, how associations ended). */
  readonly results: Record<string, number>;
  readonly failures: FuzzFailure[];
  /** Heap used (bytes) after the first tenth of the inputs and at the end, each after a GC when exposed. */
  readonly heapAfterWarmup: number;
  readonly heapAtEnd: number;
  readonly finalChecks: { readonly stowStatus: number | null; readonly echoOk: boolean | null };
}

export function targetFor(seed: number, index: number, mix: Readonly<Record<TargetName, number>>): TargetName {
  const total = TARGETS.reduce((a, t) => a + mix[t], 0);
  let r = inputRng(seed ^ 0x5bd1e995, index).next() * total;
  for (const t of TARGETS) {
    if (r < mix[t]) return t;
    r -= mix[t];
  }
  return 'parse';
}

interface Servers {
  readonly archive: OpenedArchive;
  readonly dir: string;
  app?: FastifyInstance;
  dimse?: DimseServer;
}

async function stowApp(s: Servers): Promise<FastifyInstance> {
  if (s.app) return s.app;
  const app = Fastify({ logger: false });
  await app.register(registerDicomWeb, { prefix: '/dicom-web', archive: s.archive, log: silentLogger, maxUploadBytes: 8 * 1024 * 1024 });
  await app.ready();
  s.app = app;
  return app;
}

async function dimseServer(s: Servers): Promise<DimseServer> {
  s.dimse ??= await startDimseServer({
    archive: s.archive,
    log: silentLogger,
    config: { port: 0, tempDir: join(s.dir, 'incoming'), allow: [{ aeTitle: '*', address: 'loopback' }], timeouts: { associationMs: 1500, idleMs: 800 } },
  });
  return s.dimse;
}

function heapNow(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return process.memoryUsage().heapUsed;
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const start = options.start ?? 0;
  const decodeEvery = Math.max(1, options.decodeEvery ?? 8);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'sr-fuzz-'));
  const servers: Servers = { archive: await openArchive({ backend: 'sqlite', dataDir: join(dir, 'archive') }, silentLogger), dir };
  const byTarget: Record<TargetName, number> = { parse: 0, pdata: 0, stow: 0, association: 0 };
  const results: Record<string, number> = {};
  const failures: FuzzFailure[] = [];
  const record = (f: FuzzFailure, bytes: Uint8Array | undefined): void => {
    let file: string | undefined;
    if (options.failureDir) {
      mkdirSync(options.failureDir, { recursive: true });
      const stem = join(options.failureDir, `${f.target}-s${f.seed}-i${f.index}`);
      if (bytes) writeFileSync((file = `${stem}.bin`), bytes);
      writeFileSync(`${stem}.json`, JSON.stringify({ ...f, file }, null, 2));
    }
    failures.push({ ...f, ...(file ? { file } : {}) });
  };
  const t0 = performance.now();
  let heapAfterWarmup = heapNow();
  const warmupAt = start + Math.max(1, Math.floor(options.count / 10));
  try {
    for (let i = start; i < start + options.count; i++) {
      if (i === warmupAt) heapAfterWarmup = heapNow();
      const target = targetFor(options.seed, i, mix);
      options.onInput?.(i, target);
      byTarget[target]++;
      const rng = inputRng(options.seed, i);
      let outcome: Outcome;
      let bytes: Uint8Array;
      let base = '';
      let ops: readonly string[] = [];
      if (target === 'stow') {
        const req = stowRequest(rng, options.corpus);
        bytes = req.payload;
        ops = [`content-type: ${req.headers['content-type'] ?? ''}`, ...req.ops];
        const multipart = await fuzzMultipart(rng, req);
        outcome = multipart.failure ? multipart : await fuzzStow(await stowApp(servers), req, timeoutMs);
      } else {
        const m = mutateDicom(rng, options.corpus);
        bytes = m.bytes;
        base = m.base;
        ops = m.ops;
        if (target === 'parse') outcome = await fuzzParse(m.bytes, `fuzz#${i}`, i % decodeEvery === 0);
        else if (target === 'pdata') outcome = fuzzPdata(rng, m.bytes);
        else {
          const scp = await dimseServer(servers);
          outcome = await fuzzAssociation(rng, scp.port, scp.aeTitle, m.bytes, Math.min(timeoutMs, 2000));
        }
      }
      const label = `${target}:${outcome.result}`;
      results[label] = (results[label] ?? 0) + 1;
      if (outcome.failure) record({ seed: options.seed, index: i, target, kind: outcome.failure.kind, message: outcome.failure.message, base, ops }, bytes);
    }
    // The servers must still serve: a pristine instance over STOW-RS, a C-ECHO over DIMSE.
    let stowStatus: number | null = null;
    let echoOk: boolean | null = null;
    if (servers.app) {
      const pristine = options.corpus.find((c) => c.name.endsWith('CT_small.dcm')) ?? options.corpus[0];
      if (pristine) {
        const body = Buffer.concat([
          Buffer.from(`--${STOW_BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(pristine.bytes), Buffer.from(`\r\n--${STOW_BOUNDARY}--\r\n`),
        ]);
        const r = await servers.app.inject({ method: 'POST', url: '/dicom-web/studies', headers: { 'content-type': `multipart/related; type="application/dicom"; boundary=${STOW_BOUNDARY}` }, payload: body });
        stowStatus = r.statusCode;
        if (r.statusCode >= 300 && r.statusCode !== 409) {
          record({ seed: options.seed, index: -1, target: 'final-check', kind: 'server-dead', message: `STOW of ${pristine.name} after the run: HTTP ${r.statusCode} ${r.body.slice(0, 300)}`, base: pristine.name, ops: [] }, undefined);
        }
      }
    }
    if (servers.dimse) {
      try {
        await echo({ aeTitle: servers.dimse.aeTitle, host: '127.0.0.1', port: servers.dimse.port }, { callingAe: 'FUZZSCU', operationMs: 10_000 });
        echoOk = true;
      } catch (e) {
        echoOk = false;
        record({ seed: options.seed, index: -1, target: 'final-check', kind: 'server-dead', message: `C-ECHO after the run failed: ${e instanceof Error ? e.message : String(e)}`, base: '', ops: [] }, undefined);
      }
    }
    return {
      seed: options.seed, start, inputs: options.count, seconds: (performance.now() - t0) / 1000, byTarget, results, failures,
      heapAfterWarmup, heapAtEnd: heapNow(), finalChecks: { stowStatus, echoOk },
    };
  } finally {
    await servers.app?.close();
    await servers.dimse?.close();
    await servers.archive.close();
    await rm(dir, { recursive: true, force: true });
  }
}
