/**
 * Child processes for the ingest bench and the server process tests: `secondreader serve`, dcmtk storescu /
 * echoscu / storescp. Every child is registered and SIGKILLed when this process exits, so a failed test or an
 * interrupted bench never leaves a server holding ports and data folders.
 *
 * dcmtk sets TCP_NODELAY only when the environment says TCP_NODELAY=1 (without it Nagle + delayed ACK cap an
 * association at ~20 instances/s on loopback): every dcmtk child gets it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(REPO_ROOT, 'bin', 'secondreader.js');

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function track(child: ChildProcess): Promise<Exit> {
  live.add(child);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
    child.once('error', () => {
      live.delete(child);
      resolve({ code: -1, signal: null });
    });
  });
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One line of serve's JSON log (stderr). */
export type LogLine = Readonly<Record<string, unknown>> & { readonly msg?: string; readonly level?: string };

/** The `admin` password of every serve started here (SECONDREADER_ADMIN_PASSWORD; the bench's own data folders). */
export const BENCH_ADMIN_PASSWORD = 'bench-only-password-not-secret';

export interface ServeProcess {
  readonly pid: number;
  readonly httpUrl: string;
  /** HTTP Basic for admin: what a PACS or viewer configuration sends to /dicom-web (docs/security.md). */
  readonly authHeaders: Readonly<Record<string, string>>;
  readonly dicomPort: number;
  readonly aeTitle: string;
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  /** Parsed JSON log lines so far (non-JSON lines are kept as {msg: line, raw: true}). */
  logs(): readonly LogLine[];
  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** VmHWM of the process in kB (Linux), while it runs. */
  peakRssKb(): number | undefined;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<Exit>;
  /** SIGTERM (clean stop), SIGKILL after `graceMs`; waits for the exit. */
  stop(graceMs?: number): Promise<Exit>;
}

export interface ServeOptions {
  readonly dataDir: string;
  /** Default 86400: no series becomes stable, so no analysis starts during a test. */
  readonly stableSeconds?: number;
  readonly workers?: number;
  readonly aeTitle?: string;
  /** Extra environment (e.g. SECONDREADER_MAX_UPLOAD_BYTES). */
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for node itself (e.g. --cpu-prof), before the script. */
  readonly nodeArgs?: readonly string[];
  readonly startTimeoutMs?: number;
}

/** `secondreader serve` on free ports (0), without the demo study; resolves once it prints its addresses. */
export async function startServe(o: ServeOptions): Promise<ServeProcess> {
  const aeTitle = o.aeTitle ?? 'SECONDREADER';
  const args = [...(o.nodeArgs ?? []), CLI, 'serve', '--data', o.dataDir, '--http-port', '0', '--dicom-port', '0', '--ae-title', aeTitle, '--no-demo',
    '--workers', String(o.workers ?? 0), '--stable-seconds', String(o.stableSeconds ?? 86400)];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, env: { ...process.env, SECONDREADER_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = track(child);
  const lines: LogLine[] = [];
  const waiters = new Set<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let stdout = '';
  createInterface({ input: child.stderr! }).on('line', (line) => {
    let l: LogLine;
    try {
      l = JSON.parse(line) as LogLine;
    } catch (e) {
      void e; // not JSON (a stack trace from a crash): keep the text
      l = { msg: line, raw: true };
    }
    lines.push(l);
    for (const w of waiters) {
      if (w.match(l)) {
        waiters.delete(w);
        w.resolve(l);
      }
    }
  });
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  const tail = (): string => `stdout:\n${stdout}\nstderr (last lines):\n${lines.slice(-15).map((l) => JSON.stringify(l)).join('\n')}`;
  const started = (async () => {
    const deadline = Date.now() + (o.startTimeoutMs ?? 90_000);
    for (;;) {
      const http = /REST API:\s+(http:\/\/[^\s/]+)/.exec(stdout);
      const dicom = /DICOM SCP:\s+AE \S+ on [^\s:]+:(\d+)/.exec(stdout);
      if (http?.[1] && dicom?.[1]) return { httpUrl: http[1], dicomPort: Number(dicom[1]) };
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`serve exited before it started\n${tail()}`);
      if (Date.now() > deadline) throw new Error(`serve did not start in time\n${tail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  let addr: { httpUrl: string; dicomPort: number };
  try {
    addr = await started;
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    throw e;
  }
  const stop = async (graceMs = 30_000): Promise<Exit> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    try {
      return await within(exited, graceMs, 'serve stop');
    } catch (e) {
      void e; // did not stop cleanly in time: kill it
      child.kill('SIGKILL');
      return await exited;
    }
  };
  return {
    pid: child.pid ?? -1, ...addr, aeTitle, child, exited,
    authHeaders: { authorization: `Basic ${Buffer.from(`admin:${BENCH_ADMIN_PASSWORD}`).toString('base64')}` },
    logs: () => lines,
    waitForLog(match, timeoutMs = 30_000) {
      const seen = lines.find(match);
      if (seen) return Promise.resolve(seen);
      return within(new Promise<LogLine>((resolve) => waiters.add({ match, resolve })), timeoutMs, 'waiting for a serve log line');
    },
    peakRssKb() {
      try {
        const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m?.[1] ? Number(m[1]) : undefined;
      } catch (e) {
        void e; // not Linux, or the process is gone
        return undefined;
      }
    },
    async kill() {
      child.kill('SIGKILL');
      return await exited;
    },
    stop,
  };
}

export interface StoreAck {
  readonly path: string;
  /** storescu's status text: "Success", "Warning...", "Refused: ..." */
  readonly status: string;
}

export interface StorescuRun {
  readonly child: ChildProcess;
  /** Files storescu reported a Success response for, in order. */
  readonly acked: string[];
  /** Files with any other response status. */
  readonly failed: StoreAck[];
  readonly exited: Promise<Exit>;
  /** storescu's log lines (stderr), last 200. */
  logTail(): string[];
}

export interface StorescuOptions {
  readonly port: number;
  readonly calledAe: string;
  readonly host?: string;
  /** Files or folders (folders are scanned recursively: +sd +r). */
  readonly inputs: readonly string[];
  /** Called on every Success response with the running count. */
  readonly onAck?: (count: number, path: string) => void;
  readonly extraArgs?: readonly string[];
}

/**
 * storescu -v: it sends one request at a time, logging "Sending file: PATH" before each and "Received Store
 * Response (STATUS)" after it, so each response belongs to the last file named.
 */
export function runStorescu(o: StorescuOptions): StorescuRun {
  const args = ['-v', '-aec', o.calledAe, '-aet', 'BENCHSCU', '+sd', '+r', ...(o.extraArgs ?? []), o.host ?? '127.0.0.1', String(o.port), ...o.inputs];
  const child = spawn('storescu', args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = track(child);
  const acked: string[] = [];
  const failed: StoreAck[] = [];
  const tail: string[] = [];
  let current: string | undefined;
  createInterface({ input: child.stderr! }).on('line', (line) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
    const sending = /^I: Sending file: (.*)$/.exec(line);
    if (sending?.[1] !== undefined) {
      current = sending[1];
      return;
    }
    const resp = /^I: Received Store Response \((.*)\)\s*$/.exec(line);
    if (resp?.[1] !== undefined && current !== undefined) {
      if (resp[1] === 'Success') {
        acked.push(current);
        o.onAck?.(acked.length, current);
      } else failed.push({ path: current, status: resp[1] });
      current = undefined;
    }
  });
  return { child, acked, failed, exited, logTail: () => [...tail] };
}

async function runTool(cmd: string, args: readonly string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  const child = spawn(cmd, args, { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = track(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  try {
    const e = await within(exited, timeoutMs, cmd);
    return { code: e.code, output };
  } catch (e) {
    child.kill('SIGKILL');
    await exited;
    return { code: null, output: `${output}\n${e instanceof Error ? e.message : String(e)}` };
  }
}

/** dcmtk echoscu; true on a successful C-ECHO. */
export async function echoscu(port: number, calledAe: string, timeoutMs = 30_000): Promise<{ ok: boolean; output: string }> {
  const r = await runTool('echoscu', ['-aec', calledAe, '-aet', 'BENCHSCU', '-to', '20', '127.0.0.1', String(port)], timeoutMs);
  return { ok: r.code === 0, output: r.output };
}

export interface Storescp {
  readonly port: number;
  readonly aeTitle: string;
  readonly exited: Promise<Exit>;
  stop(): Promise<Exit>;
}

/** dcmtk storescp writing every instance to `outDir` (the no-index reference point of the bench). */
export async function startStorescp(o: { port: number; outDir: string; aeTitle?: string }): Promise<Storescp> {
  const aeTitle = o.aeTitle ?? 'STORESCP';
  const child = spawn('storescp', ['-aet', aeTitle, '-od', o.outDir, '--accept-all', String(o.port)], {
    env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = track(child);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const stop = async (): Promise<Exit> => {
    child.kill('SIGTERM');
    try {
      return await within(exited, 10_000, 'storescp stop');
    } catch (e) {
      void e; // still running: kill
      child.kill('SIGKILL');
      return await exited;
    }
  };
  const deadline = Date.now() + 30_000;
  while (!(await echoscu(o.port, aeTitle, 5000)).ok) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`storescp did not start: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port: o.port, aeTitle, exited, stop };
}
