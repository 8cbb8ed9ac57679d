import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { createRegistry } from '../engine/index.ts';
import { chestCtNodules } from '../analyses/chest-ct-nodules/manifest.ts';
import { DEFAULT_CONFIG } from './config.ts';
import type { ServerConfig } from './config.ts';
import { startServer } from './runtime.ts';
import type { RunningServer } from './runtime.ts';
import { quickAnalysis, signInHttp, TEST_PASSWORD, waitFor, writeTinyCtSeries } from './test-fixtures.ts';

type Json = Record<string, unknown>;

async function getJson(url: string, headers: Record<string, string>): Promise<Json> {
  const r = await fetch(url, { headers });
  assert.equal(r.status, 200, url);
  return (await r.json()) as Json;
}

function config(dataDir: string, over: Partial<ServerConfig> = {}): ServerConfig {
  return { ...DEFAULT_CONFIG, dataDir, httpPort: 0, dicomPort: 0, stableQuietSeconds: 1, logLevel: 'warn', ...over };
}

describe('serve, in-process, on real SQLite', () => {
  const dirs: string[] = [];
  const servers: RunningServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('the demo study of an empty archive is analysed by chest-ct-nodules and its result is served with findings', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr-serve-demo-'));
    dirs.push(dir);
    const { writeChestPhantomCase } = await import('../../eval/phantoms/chest.ts');
    // A small phantom (128×128×80, 3 mm) keeps this test at about a minute on a 2-core machine.
    const writeDemoSeries = async (d: string) => (await writeChestPhantomCase(d, {
      seed: 'server-e2e', dims: [128, 128, 80], spacingMm: [2.8, 2.8, 3], sliceThicknessMm: 3, noduleCount: 4, noduleDiameterRangeMm: [8, 20],
      storage: 'signed', fileNaming: 'ordered', instanceOrder: 'position',
    })).dicomDir;
    const server = await startServer({ config: config(join(dir, 'data')), registry: createRegistry([chestCtNodules]), log: silentLogger, writeDemoSeries, adminPassword: TEST_PASSWORD });
    servers.push(server);
    const h = await signInHttp(server.httpUrl);
    await server.demo;
    const series = (await getJson(`${server.httpUrl}/api/v1/studies`, h))['items'] as Json[];
    assert.equal(series.length, 1, 'the demo study is in the archive');
    const result = await waitFor('the chest result', async () => {
      const items = (await getJson(`${server.httpUrl}/api/v1/results?analysis=chest-ct-nodules`, h))['items'] as Json[];
      return items[0];
    }, 540_000, { intervalMs: 200 });
    assert.equal(result['status'], 'ok');
    const doc = result['document'] as { findings: { centerMm: number[]; probability: number }[]; measurements: Json };
    assert.ok(doc.findings.length > 0, 'findings');
    // The result is stored before the job is marked succeeded: wait for the job to finish.
    const jobs = await waitFor('the chest job finished', async () => {
      const items = (await getJson(`${server.httpUrl}/api/v1/jobs`, h))['items'] as Json[];
      return items.length > 0 && items.every((j) => j['state'] !== 'running' && j['state'] !== 'queued') ? items : undefined;
    }, 60_000, { intervalMs: 200 });
    assert.deepEqual(jobs.map((j) => [j['analysisId'], j['trigger'], j['state'], j['attempts']]), [['chest-ct-nodules', 'auto', 'succeeded', 1]]);
    assert.equal(jobs[0]?.['resultId'], result['id']);
    // Its DICOM objects (a key image SC per labelled finding + the SR) are in the archive and pass dciodvfy.
    const outputs = (await getJson(`${server.httpUrl}/api/v1/results/${String(result['id'])}`, h))['outputs'] as { objects: { sopInstanceUid: string; kind: string }[]; error: unknown };
    assert.equal(outputs.error, null);
    assert.equal(outputs.objects.filter((o) => o.kind === 'report').length, 1);
    assert.ok(outputs.objects.filter((o) => o.kind === 'key-image').length > 0);
    if (existsSync('/usr/bin/dciodvfy')) {
      for (const o of outputs.objects) {
        const file = join(dir, `${o.kind}-${o.sopInstanceUid}.dcm`);
        await writeFile(file, await server.archive.readInstance(o.sopInstanceUid));
        const r = spawnSync('/usr/bin/dciodvfy', [file], { encoding: 'utf8' });
        const errors = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('Error'));
        assert.deepEqual(errors, [], `${o.kind} ${o.sopInstanceUid}`);
      }
    }
  });

  test('a series sent by storescu (dcmtk) over DIMSE is analysed once it is stable', { timeout: 180_000 }, async (t) => {
    if (spawnSync('storescu', ['--version']).error) {
      t.skip('dcmtk storescu is not installed');
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'sr-serve-dimse-'));
    dirs.push(dir);
    const server = await startServer({ config: config(join(dir, 'data'), { demo: false }), registry: createRegistry([quickAnalysis()]), log: silentLogger, adminPassword: TEST_PASSWORD });
    servers.push(server);
    const h = await signInHttp(server.httpUrl);
    const written = await writeTinyCtSeries(join(dir, 'in'), 'dimse');
    // Asynchronous: the SCP answering it runs in this very process.
    await promisify(execFile)('storescu', ['-aet', 'MODALITY1', '-aec', server.dicom.aeTitle, '127.0.0.1', String(server.dicom.port), ...written.files]);
    const s = await getJson(`${server.httpUrl}/api/v1/series/${written.SeriesInstanceUID}`, h);
    assert.equal(s['instanceCount'], written.files.length);
    assert.equal(s['sourceAe'], 'MODALITY1');
    const result = await waitFor('the quick result', async () => {
      const items = (await getJson(`${server.httpUrl}/api/v1/results?series=${written.SeriesInstanceUID}`, h))['items'] as Json[];
      return items[0];
    }, 120_000, { intervalMs: 200 });
    assert.equal(result['analysisId'], 'quick-test');
    assert.equal((result['document'] as { findings: unknown[] }).findings.length, 1);
  });
});
