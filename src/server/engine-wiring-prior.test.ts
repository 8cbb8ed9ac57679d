import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDays, smallFollowUpPair, startCountingServer, writeStudy } from './engine-wiring-prior-fixtures.ts';
import type { CountingServer, Json } from './engine-wiring-prior-fixtures.ts';
import { waitFor } from './test-fixtures.ts';

describe('server follow-up: the prior is looked up in the archive and its stored result reused', () => {
  const dirs: string[] = [];
  let s: CountingServer | undefined;
  after(async () => {
    await s?.server.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('prior first, then current: follow-up statuses, prior named in the result, prior not re-analysed; another patient never used', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sr-prior-'));
    dirs.push(dir);
    const pair = smallFollowUpPair();
    const t = pair.truth;
    const pid = t.patientId;
    const priorA = await writeStudy(dir, 'a-prior', pair.prior, pid, t.priorStudyDate);
    const currentA = await writeStudy(dir, 'a-current', pair.current, pid, t.currentStudyDate);
    // Another patient, scanned the day before A's current study (more recent than A's prior), with A's prior images:
    // if the lookup ignored the patient it would pick this one. It has no prior of its own.
    const other = await writeStudy(dir, 'other', pair.prior, `OTHER-${pid}`.slice(0, 64), addDays(t.currentStudyDate, -1));
    s = await startCountingServer(join(dir, 'data'));

    await s.ingest(priorA);
    await s.ingest(other);
    const priorResult = await s.result(priorA.seriesInstanceUid);
    const otherResult = await s.result(other.seriesInstanceUid);
    await s.ingest(currentA);
    const cur = await s.result(currentA.seriesInstanceUid);

    // The current result compares with A's prior (named in the result), reusing its stored result.
    const m = cur.document.measurements;
    const lookup = m['priorLookup'] as Json;
    assert.equal(lookup['found'], true);
    assert.equal(lookup['studyInstanceUid'], priorA.studyInstanceUid);
    assert.equal(lookup['seriesInstanceUid'], priorA.seriesInstanceUid);
    assert.equal(lookup['studyDate'], t.priorStudyDate);
    assert.equal(lookup['storedResultId'], priorResult.id);
    const fu = m['followUp'] as Json;
    assert.equal(fu['compared'], true, JSON.stringify(fu['reason'] ?? null));
    assert.equal(fu['intervalDays'], t.intervalDays);
    const fuPrior = fu['prior'] as Json;
    assert.equal(fuPrior['studyInstanceUid'], priorA.studyInstanceUid);
    assert.equal(fuPrior['source'], 'stored-result');
    assert.equal(fuPrior['resultId'], priorResult.id);
    // Not re-analysed: the detector ran once on each series (its own job), and the log says the result was reused.
    assert.equal(s.detectorRuns.get(priorA.seriesInstanceUid), 1);
    assert.equal(s.detectorRuns.get(currentA.seriesInstanceUid), 1);
    assert.ok(s.logLines.some((l) => l.includes('stored prior result reused') && l.includes(priorResult.id)));
    // Follow-up fields on the findings.
    const statuses = cur.document.findings.map((f) => f['status']).filter((x) => x !== undefined);
    assert.ok(statuses.length > 0, 'findings carry a follow-up status');
    for (const st of statuses) assert.ok(['new', 'stable', 'grown', 'shrunk', 'resolved'].includes(String(st)));
    const paired = cur.document.findings.filter((f) => Array.isArray(f['priorCenterMm']));
    assert.ok(paired.length > 0, 'some current nodule is paired with a prior one (priorCenterMm)');
    assert.ok(cur.document.findings.some((f) => typeof f['vdtDays'] === 'number'), 'a changed nodule has a VDT');
    // Each paired finding's prior centre is a nodule of the stored prior result, or one the follow-up probe found on
    // the prior at its registered position (named as such: its prior id, its reasons).
    const priorCenters = priorResult.document.findings.map((f) => JSON.stringify(f['centerMm']));
    for (const f of paired) {
      const probed = String((f['prior'] as Json | undefined)?.['id'] ?? '').startsWith('prior-probe-');
      if (probed) assert.ok((f['reasons'] as string[]).some((r) => r.includes('follow-up probe found')), `${String(f['id'])}: a probed prior is said so`);
      else assert.ok(priorCenters.includes(JSON.stringify(f['priorCenterMm'])), `${String(f['id'])} paired with a stored prior finding`);
    }

    // The result's DICOM objects (SR, SEG, key images) were built with the follow-up measurements beside them.
    // (The result is stored first, its objects right after: wait for them.)
    const srv = s;
    const outputs = await waitFor('the current result\'s DICOM objects', async () => {
      const d = (await (await fetch(`${srv.server.httpUrl}/api/v1/results/${cur.id}`, { headers: srv.headers })).json()) as { outputs: { error: unknown; objects: unknown[] } };
      return d.outputs.objects.length > 0 || d.outputs.error !== null ? d.outputs : undefined;
    }, 30_000, { intervalMs: 100 });
    assert.equal(outputs.error, null);

    // The other patient has no prior (A's studies are not its own): no follow-up fields, no error.
    for (const r of [otherResult, priorResult]) {
      assert.equal(r.document.measurements['followUp'], undefined);
      assert.ok(r.document.findings.every((f) => f['status'] === undefined && f['priorCenterMm'] === undefined));
      const l = r.document.measurements['priorLookup'] as Json;
      assert.equal(l['found'], false);
      assert.equal(l['code'], 'PRIOR_NOT_FOUND');
    }
    assert.ok(s.logLines.some((l) => l.includes('"code":"PRIOR_NOT_FOUND"') && l.includes(other.seriesInstanceUid)));
    assert.ok(!s.logLines.some((l) => l.includes('prior found') && l.includes(`"priorStudy":"${other.studyInstanceUid}"`)), 'the other patient is never a prior');
  });
});
