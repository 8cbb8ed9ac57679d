/**
 * Scale-out on a real PostgreSQL: one `serve` process (no workers of its own) receives 4 studies over DIMSE and
 * queues their jobs; two `worker` processes share them. Each (analysis, series) must run exactly once.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { startCli } from './process-helpers.ts';
import type { Proc } from './process-helpers.ts';
import { signInHttp, TEST_PASSWORD, writeTinyCtSeries } from './test-fixtures.ts';
import { pgTestSchema } from '../../test/support/postgres.ts';

// pg-boss keeps its tables in `<schema>_pgboss`: dropped with ours.
const { connection: CONNECTION, schema: SCHEMA, drop: dropSchemas } = pgTestSchema('sr_t', { companions: ['_pgboss'] });
const STUDIES = 4;

const procs: Proc[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of procs) await p.stop('SIGTERM');
  await dropSchemas();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function pgReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: CONNECTION, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false; // no database on this machine: the test is skipped, not failed
  }
}

test('serve + 2 workers on PostgreSQL run each (analysis, series) job exactly once', { timeout: 600_000 }, async (t) => {
  if (!(await pgReachable()) || spawnSync('storescu', ['--version']).error) {
    t.skip('PostgreSQL or dcmtk storescu not available');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sr-scale-'));
  dirs.push(dir);
  const data = join(dir, 'data');
  const env = { SECONDREADER_DATABASE_SCHEMA: SCHEMA, SECONDREADER_LOG: 'warn', SECONDREADER_ADMIN_PASSWORD: TEST_PASSWORD };
  const server = startCli(['serve', '--data', data, '--database', CONNECTION, '--workers', '0', '--http-port', '0', '--dicom-port', '0', '--no-demo', '--stable-seconds', '1'], env);
  procs.push(server);
  const [, api] = await server.waitFor(/REST API: +(http:\/\/\S+\/api\/v1)/);
  const headers = await signInHttp((api ?? '').replace(/\/api\/v1$/, ''));
  const [, dicomPort] = await server.waitFor(/DICOM SCP: +AE \S+ on 127\.0\.0\.1:(\d+)/);
  for (let w = 0; w < 2; w++) {
    const worker = startCli(['worker', '--data', data, '--database', CONNECTION, '--concurrency', '2'], env);
    procs.push(worker);
    await worker.waitFor(/worker running/);
  }

  const series: string[] = [];
  for (let i = 0; i < STUDIES; i++) {
    const written = await writeTinyCtSeries(join(dir, 'in', String(i)), `scale-${SCHEMA}-${i}`);
    series.push(written.SeriesInstanceUID);
    await promisify(execFile)('storescu', ['-aet', 'MODALITY1', '-aec', 'SECONDREADER', '127.0.0.1', String(dicomPort), ...written.files]);
  }

  const end = Date.now() + 420_000;
  let results: { seriesInstanceUid: string; status: string }[] = [];
  while (Date.now() < end) {
    results = ((await (await fetch(`${api}/results?analysis=chest-ct-nodules`, { headers })).json()) as { items: typeof results }).items;
    if (results.length >= STUDIES) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.deepEqual(results.map((r) => r.seriesInstanceUid).sort(), [...series].sort(), `results: ${server.stderr.slice(-2000)}`);
  // A tiny cube is no chest: the analysis runs and says so (skipped), which is a successful job.
  assert.ok(results.every((r) => r.status === 'skipped'));

  // Let any duplicate delivery surface before counting.
  await new Promise((r) => setTimeout(r, 3000));
  const client = new pg.Client({ connectionString: CONNECTION });
  await client.connect();
  try {
    const rows = (await client.query<{ analysis_id: string; series_instance_uid: string; state: string; attempts: number; worker: string }>(
      `SELECT analysis_id, series_instance_uid, state, attempts, worker FROM ${SCHEMA}.jobs ORDER BY series_instance_uid`,
    )).rows;
    const chest = rows.filter((r) => r.analysis_id === 'chest-ct-nodules');
    assert.equal(chest.length, STUDIES, 'one job per (analysis, series)');
    assert.deepEqual(new Set(chest.map((r) => r.series_instance_uid)), new Set(series));
    for (const r of chest) {
      assert.equal(r.state, 'succeeded');
      assert.equal(r.attempts, 1);
    }
    const byWorker = new Map<string, number>();
    for (const r of chest) byWorker.set(r.worker, (byWorker.get(r.worker) ?? 0) + 1);
    t.diagnostic(`jobs per worker: ${JSON.stringify(Object.fromEntries(byWorker))}`);
    assert.ok(rows.every((r) => r.analysis_id === 'chest-ct-nodules'), 'head-ct-hemorrhage does not accept a CHEST series');
  } finally {
    await client.end();
  }
  for (const p of procs) assert.equal(await p.stop('SIGTERM'), 0, p.stderr.slice(-2000));
});
