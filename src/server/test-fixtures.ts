/**
 * Builders for server tests: a tiny CT series on disk, an archive + queue in a temp folder, and a quick analysis
 * whose run can be held open (to test progress and cancel). Data builders only; no test runner code here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { ingestFolder, openArchive } from '../archive/index.ts';
import type { OpenedArchive } from '../archive/index.ts';
import { writeCtSeries } from '../dicom/index.ts';
import type { CtSeriesWriteResult } from '../dicom/index.ts';
import { ANALYSIS_API_VERSION } from '../engine/index.ts';
import type { AnalysisManifest } from '../engine/index.ts';
import { createVolume, ijkToLps, withData } from '../imaging/index.ts';
import { createSqliteJobQueue } from '../jobs/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { FastifyInstance } from 'fastify';
import type { Role } from './auth/context.ts';
import { AuthService } from './auth/service.ts';

/** A 16×16×6 CT series with a bright cube in the middle; PatientID and UIDs from `seed`. */
export async function writeTinyCtSeries(outDir: string, seed: string): Promise<CtSeriesWriteResult> {
  const dims: [number, number, number] = [16, 16, 6];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-1000);
  for (let k = 2; k < 4; k++) for (let j = 6; j < 10; j++) for (let i = 6; i < 10; i++) data[i + dims[0] * (j + dims[1] * k)] = 40;
  const volume = createVolume(data, { dims, spacing: [1, 1, 2], origin: [-8, -8, 0] });
  return writeCtSeries(volume, {
    outDir,
    uidSeed: `server-test/${seed}`,
    patient: { PatientName: `Test^${seed}`, PatientID: `P-${seed}` },
    study: { StudyDescription: 'server test', AccessionNumber: `A-${seed}` },
    series: { SeriesDescription: `tiny ${seed}`, BodyPartExamined: 'CHEST' },
  });
}

export interface Held {
  /** Resolves the pending runs. */
  release(): void;
  /** Resolves when a run has started. */
  started: Promise<void>;
}

/** A quick analysis: one finding at the volume centre with a one-voxel label; `hold` keeps run() waiting (cooperatively). */
export function quickAnalysis(options: { id?: string; hold?: boolean } = {}): AnalysisManifest & { held: Held } {
  let release: () => void = () => undefined;
  let onStart: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const started = new Promise<void>((r) => (onStart = r));
  return {
    held: { release: () => release(), started },
    apiVersion: ANALYSIS_API_VERSION,
    id: options.id ?? 'quick-test',
    version: '1.0.0',
    title: 'Quick test analysis',
    intendedUse: 'Tests only; not for clinical use.',
    modalities: ['CT'],
    resources: { memoryMb: 16, threads: 1 },
    steps: ['look'],
    accepts: (h) => (h.instanceCount >= 3 ? { accept: true } : { accept: false, reason: 'too few images' }),
    async run(ctx) {
      ctx.progress('look', 0.5);
      onStart();
      if (options.hold) {
        await new Promise<void>((resolve, reject) => {
          void gate.then(resolve);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
        });
      }
      const v = ctx.series.volume;
      const mask = withData(v, new Uint8Array(v.data.length));
      const c: [number, number, number] = [Math.floor(v.dims[0] / 2), Math.floor(v.dims[1] / 2), Math.floor(v.dims[2] / 2)];
      mask.data[c[0] + v.dims[0] * (c[1] + v.dims[1] * c[2])] = 1;
      const centerMm = ijkToLps(v, c);
      return { findings: [{ id: 'f1', kind: 'test', centerMm, probability: 0.9, label: 1 }], measurements: { voxels: v.data.length }, labelMap: { mask, labels: { 1: 'test finding' } } };
    },
  };
}

export interface TestServerParts {
  readonly dir: string;
  readonly archive: OpenedArchive;
  readonly queue: JobQueue;
  /** Users and sessions in the archive's index (no user yet: see signIn). */
  readonly auth: AuthService;
  close(): Promise<void>;
}

export async function openTestParts(log: Logger = silentLogger): Promise<TestServerParts> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-server-'));
  const archive = await openArchive({ backend: 'sqlite', dataDir: join(dir, 'data') }, log);
  const queue = createSqliteJobQueue({ db: join(dir, 'data', 'jobs.sqlite'), log, pollIntervalMs: 100, heartbeatMs: 100 });
  const auth = await AuthService.open({ db: archive.db, log });
  return {
    dir, archive, queue, auth,
    async close() {
      await queue.close();
      await archive.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function ingestTiny(parts: TestServerParts, seed: string): Promise<CtSeriesWriteResult> {
  const written = await writeTinyCtSeries(join(parts.dir, 'in', seed), seed);
  const summary = await ingestFolder(parts.archive, [join(parts.dir, 'in', seed)], { origin: { via: 'import', sourceAe: 'TESTSCU' } });
  if (summary.stored !== written.files.length) throw new Error(`ingest stored ${summary.stored} of ${written.files.length}`);
  return written;
}

/**
 * Polls `fn` until it returns a value (not undefined); throws after `timeoutMs` naming `what`, plus `context()`
 * (e.g. a child process's stderr) when given.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
  options: { intervalMs?: number; context?: () => string } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${options.context ? `; ${options.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
}

/** The password of every user the helpers below create, and of `admin` in servers started by tests. */
export const TEST_PASSWORD = 'test-password-not-secret-0001';

/** The username signIn creates for a role: `test-<role>`. */
export const testUsername = (role: Role): string => `test-${role}`;

/**
 * Auth headers of a signed-in user of `role` for `app.inject`: creates `test-<role>` (password TEST_PASSWORD, no
 * forced change) when missing, logs in through POST /api/v1/auth/login and returns `{ authorization: 'Bearer …' }`.
 */
export async function signIn(app: FastifyInstance, auth: AuthService, role: Role = 'admin'): Promise<Record<string, string>> {
  const username = testUsername(role);
  if (!(await auth.getUser(username))) await auth.createUser({ username, password: TEST_PASSWORD, role, mustChangePassword: false }, { actor: null, source: 'test' });
  const r = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password: TEST_PASSWORD } });
  if (r.statusCode !== 200) throw new Error(`test login of ${username} failed: ${r.statusCode} ${r.body}`);
  return { authorization: `Bearer ${r.json<{ token: string }>().token}` };
}

/**
 * Auth headers for `fetch` against a running server (`httpUrl` without /api/v1): logs in as `username`
 * (default admin, whose password servers started by tests get from SECONDREADER_ADMIN_PASSWORD = TEST_PASSWORD).
 */
export async function signInHttp(httpUrl: string, username = 'admin', password = TEST_PASSWORD): Promise<Record<string, string>> {
  const r = await fetch(`${httpUrl}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }), signal: AbortSignal.timeout(30_000),
  });
  if (r.status !== 200) throw new Error(`test login of ${username} failed: ${r.status} ${await r.text()}`);
  return { authorization: `Bearer ${((await r.json()) as { token: string }).token}` };
}
