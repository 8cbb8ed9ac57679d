/**
 * Helpers for the DIMSE interop tests and the ingest benchmark: a temp SQLite archive, dcmtk tools run
 * asynchronously (a synchronous spawn would block the SCP under test), a dcmtk storescp peer, a small CT series.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openArchive } from '../archive/index.ts';
import type { OpenedArchive } from '../archive/index.ts';
import { silentLogger } from '../core/log.ts';
import type { Logger } from '../core/log.ts';
import { writeCtSeries } from '../dicom/index.ts';
import type { CtSeriesWriteOptions, CtSeriesWriteResult } from '../dicom/index.ts';
import { createVolume } from '../imaging/index.ts';

/** dcmtk and Orthanc set TCP_NODELAY only when asked (DEPENDENCIES.md). */
export const TOOL_ENV = { ...process.env, TCP_NODELAY: '1' };

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runTool(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: TOOL_ENV, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface TempArchive {
  readonly archive: OpenedArchive;
  readonly dir: string;
  close(): Promise<void>;
}

export async function openTempArchive(log: Logger = silentLogger): Promise<TempArchive> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-dimse-'));
  const archive = await openArchive({ backend: 'sqlite', dataDir: join(dir, 'archive') }, log);
  return {
    archive,
    dir,
    async close() {
      await archive.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface RunningStorescp {
  readonly port: number;
  readonly aeTitle: string;
  stop(): Promise<void>;
}

/** dcmtk storescp writing what it receives under `outDir` (accepts every transfer syntax it knows). */
export async function startStorescp(outDir: string, aeTitle: string): Promise<RunningStorescp> {
  await mkdir(outDir, { recursive: true });
  const port = await freePort();
  const child = spawn('storescp', ['-aet', aeTitle, '+xa', '-od', outDir, String(port)], { env: TOOL_ENV, stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 100; i++) {
    const r = await runTool('echoscu', ['-aet', 'PROBE', '-aec', aeTitle, '127.0.0.1', String(port)], 5000);
    if (r.code === 0) return { port, aeTitle, stop };
    await new Promise((res) => setTimeout(res, 100));
  }
  await stop();
  throw new Error('storescp did not start');
}

/** A small CT series (16×16 pixels per slice) with distinct UIDs, explicit VR little endian. */
export async function writeSmallCtSeries(outDir: string, slices: number, options: Partial<CtSeriesWriteOptions> = {}): Promise<CtSeriesWriteResult> {
  const volume = createVolume(new Int16Array(16 * 16 * slices).fill(40), { dims: [16, 16, slices], spacing: [1, 1, 2] });
  return await writeCtSeries(volume, { ...options, outDir });
}

export const CONFORMANCE_DIR = join(import.meta.dirname, '../../../shared/data/dicom-conformance/pydicom/test_files');
