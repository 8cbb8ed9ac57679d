import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { smallFollowUpPair, startCountingServer, writeStudy } from './engine-wiring-prior-fixtures.ts';
import type { CountingServer, Json } from './engine-wiring-prior-fixtures.ts';
import { waitFor } from './test-fixtures.ts';

describe('server follow-up: a prior that arrives after the current study', () => {
  const dirs: string[] = [];
  let s: CountingServer | undefined;
  after(async () => {
    await s?.server.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('nothing re-runs by itself; the manual run of the current series picks the prior up and reuses its result', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr-prior-late-'));
    dirs.push(dir);
    const pair = smallFollowUpPair();
    const t = pair.truth;
    const pid = `LATE-${t.patientId}`.slice(0, 64);
    const current = await writeStudy(dir, 'late-current', pair.current, pid, t.currentStudyDate);
    const prior = await writeStudy(dir, 'late-prior', pair.prior, pid, t.priorStudyDate);
    s = await startCountingServer(join(dir, 'data'));
    const { server, headers } = s;
    const jobsOf = async (series: string) => {
      const r = await fetch(`${server.httpUrl}/api/v1/jobs?series=${series}`, { headers });
      return ((await r.json()) as { items: Json[] }).items;
    };

    await s.ingest(current);
    const first = await s.result(current.seriesInstanceUid);
    assert.equal(first.document.measurements['followUp'], undefined, 'no prior yet: no follow-up');
    assert.equal((first.document.measurements['priorLookup'] as Json)['found'], false);

    await s.ingest(prior);
    const priorResult = await s.result(prior.seriesInstanceUid);
    // The prior's own job found no prior (the current study is later); the current result was not re-run.
    assert.equal((priorResult.document.measurements['priorLookup'] as Json)['found'], false);
    await waitFor('the prior job finished', async () => ((await jobsOf(prior.seriesInstanceUid)).every((j) => j['state'] === 'succeeded') ? true : undefined), 30_000);
    assert.equal((await jobsOf(current.seriesInstanceUid)).length, 1, 'no automatic re-run of the current series');
    assert.equal((await s.result(current.seriesInstanceUid)).id, first.id);
    assert.equal((await s.result(current.seriesInstanceUid)).createdAt, first.createdAt);

    // The manual re-run (POST /analyses/:id/run) looks the prior up now.
    const r = await fetch(`${server.httpUrl}/api/v1/analyses/chest-ct-nodules/run`, {
      method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ seriesInstanceUid: current.seriesInstanceUid, force: true }),
    });
    assert.equal(r.status, 202, await r.clone().text());
    const job = (await r.json()) as Json;
    await waitFor('the manual job finished', async () => {
      const j = (await jobsOf(current.seriesInstanceUid)).find((x) => x['id'] === job['id']);
      return j && j['state'] !== 'queued' && j['state'] !== 'running' ? j : undefined;
    }, 60_000, { intervalMs: 100 });
    const rerun = await s.result(current.seriesInstanceUid);
    assert.equal(rerun.jobId, job['id']);
    const lookup = rerun.document.measurements['priorLookup'] as Json;
    assert.equal(lookup['found'], true);
    assert.equal(lookup['studyInstanceUid'], prior.studyInstanceUid);
    assert.equal(lookup['storedResultId'], priorResult.id);
    const fu = rerun.document.measurements['followUp'] as Json;
    assert.equal(fu['compared'], true);
    assert.equal((fu['prior'] as Json)['source'], 'stored-result');
    assert.ok(rerun.document.findings.some((f) => typeof f['status'] === 'string'));
    assert.equal(s.detectorRuns.get(prior.seriesInstanceUid), 1, 'the prior was analysed once, by its own job');
    assert.equal(s.detectorRuns.get(current.seriesInstanceUid), 2, 'the current series: its first run and the manual one');
  });
});
