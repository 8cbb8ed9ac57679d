/**
 * Embedded `serve` runs its analyses in a supervised `secondreader worker` child: the job is run by another pid,
 * the API answers while it runs, and a child killed mid-job is restarted and the job re-run to success.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startCli } from './process-helpers.ts';
import type { Proc } from './process-helpers.ts';
import { signInHttp, TEST_PASSWORD, waitFor } from './test-fixtures.ts';

type Json = Record<string, unknown>;

const procs: Proc[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of procs) await p.stop('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

let headers: Record<string, string> = {};

async function getJson(url: string): Promise<Json> {
  const r = await fetch(url, { headers, signal: AbortSignal.timeout(60_000) });
  assert.equal(r.status, 200, url);
  return (await r.json()) as Json;
}

function pidOf(worker: unknown): number {
  assert.equal(typeof worker, 'string');
  return Number(String(worker).slice(String(worker).lastIndexOf(':') + 1));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

test('serve runs a chest analysis in its worker process, stays responsive, and survives the worker being SIGKILLed', { timeout: 900_000 }, async (t) => {
  if (spawnSync('storescu', ['--version']).error) {
    t.skip('dcmtk storescu is not installed');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'sr-worker-proc-'));
  dirs.push(dir);
  const { writeChestPhantomCase } = await import('../../eval/phantoms/chest.ts');
  // Small (128×128×80, 3 mm) but a real chest: the analysis runs for seconds, long enough to be caught running.
  const phantom = await writeChestPhantomCase(join(dir, 'in'), {
    seed: 'worker-process', dims: [128, 128, 80], spacingMm: [2.8, 2.8, 3], sliceThicknessMm: 3, noduleCount: 4, noduleDiameterRangeMm: [8, 20],
    storage: 'signed', fileNaming: 'ordered', instanceOrder: 'position',
  });
  const server = startCli(['serve', '--data', join(dir, 'data'), '--http-port', '0', '--dicom-port', '0', '--no-demo', '--workers', '1', '--stable-seconds', '1'],
    { SECONDREADER_LOG: 'info', SECONDREADER_ADMIN_PASSWORD: TEST_PASSWORD });
  procs.push(server);
  const [, api] = await server.waitFor(/REST API: +(http:\/\/\S+\/api\/v1)/);
  headers = await signInHttp((api ?? '').replace(/\/api\/v1$/, ''));
  const [, dicomPort] = await server.waitFor(/DICOM SCP: +AE \S+ on 127\.0\.0\.1:(\d+)/);
  const serverPid = server.child.pid;
  assert.ok(serverPid);
  await promisify(execFile)('storescu', ['-aet', 'MODALITY1', '-aec', 'SECONDREADER', '+sd', '127.0.0.1', String(dicomPort), phantom.dicomDir]);

  const chestJob = async (): Promise<Json | undefined> => ((await getJson(`${api}/jobs?analysis=chest-ct-nodules`))['items'] as Json[])[0];
  // Running and past loading: the analysis itself is under way in the worker.
  const running = await waitFor('the chest job to run', async () => {
    const j = await chestJob();
    return j?.['state'] === 'running' && Number(j['progress']) > 0 ? j : undefined;
  }, 300_000, { intervalMs: 100, context: () => `server stderr:\n${server.stderr.slice(-4000)}` });
  const firstPid = pidOf(running['worker']);
  assert.notEqual(firstPid, serverPid, 'the job runs in another process than the server');

  const health = await getJson(`${api}/health`);
  assert.equal(health['status'], 'ok');
  const still = await getJson(`${api}/jobs/${String(running['id'])}`);
  assert.equal(still['state'], 'running', 'the API answered while the job was running');

  process.kill(firstPid, 'SIGKILL');
  const done = await waitFor('the chest job to be re-run and finish', async () => {
    const j = await getJson(`${api}/jobs/${String(running['id'])}`);
    return j['state'] === 'succeeded' || j['state'] === 'failed' ? j : undefined;
  }, 600_000, { intervalMs: 100, context: () => `server stderr:\n${server.stderr.slice(-4000)}` });
  assert.equal(done['state'], 'succeeded', JSON.stringify(done));
  assert.equal(done['attempts'], 2, 'the killed attempt counts; the second one succeeded');
  const secondPid = pidOf(done['worker']);
  assert.ok(secondPid !== firstPid && secondPid !== serverPid, `re-run by the restarted worker (pids ${firstPid} → ${secondPid}, server ${serverPid})`);
  assert.equal(alive(firstPid), false);

  const result = await getJson(`${api}/results/${String(done['resultId'])}`);
  assert.equal(result['status'], 'ok');
  assert.ok(((result['document'] as { findings: unknown[] }).findings).length > 0, 'findings');

  // The child's exit, its restart and its log lines (tagged with its name) reach the server's stderr.
  const lines = server.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Json);
  const exit = lines.find((l) => l['msg'] === 'worker process exited unexpectedly; restarting it');
  assert.equal(exit?.['signal'], 'SIGKILL', server.stderr.slice(-3000));
  assert.equal(exit['pid'], firstPid);
  assert.ok(lines.some((l) => l['msg'] === 'recovered jobs whose worker disappeared' && l['worker'] === `${String(done['worker'])}`), 'the new worker put the lost job back');
  assert.ok(lines.some((l) => l['msg'] === 'result stored' && l['worker'] === done['worker']));

  assert.equal(await server.stop('SIGTERM'), 0, server.stderr.slice(-3000));
  assert.ok(server.stderr.includes('"msg":"worker process exited"'), 'the worker stopped with the server');
  assert.equal(alive(secondPid), false, 'no worker outlives the server');
});
