/**
 * The follow-up evaluation end to end on one tiny pair: DICOM written, `analyzePaths` with `priorPaths` (the
 * `analyze --prior` path), the follow-up wrapper (lung masks, registration, pairing), findings.json read back,
 * metrics. The detector is a stand-in that reports the truth nodules of the scan it is given (with a small volume
 * error), so the test checks the plumbing, registration and pairing, not the chest analysis's detection (that is
 * measured by `secondreader eval followup` on full-size pairs).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ANALYSIS_API_VERSION } from '../../src/engine/types.ts';
import type { AnalysisManifest, Finding } from '../../src/engine/types.ts';
import { withFollowUp } from '../../src/analyses/chest-ct-nodules/followup-manifest.ts';
import { writeFollowUpPairs } from '../phantoms/followup.ts';
import type { FollowUpPairTruth, FollowUpPairWriteResult } from '../phantoms/followup.ts';
import { evaluateFollowUp } from './followup-eval.ts';

test('eval followup on one tiny pair: pairs, new/resolved, VDT and registration measured through analyze --prior', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sr-fu-eval-test-'));
  let truth: FollowUpPairTruth | undefined;
  const oracle: AnalysisManifest = {
    apiVersion: ANALYSIS_API_VERSION, id: 'chest-ct-nodules', version: '0.0.0-test', title: 'truth oracle', intendedUse: 'test only',
    modalities: ['CT'], resources: { memoryMb: 100, threads: 1 }, steps: ['detect'],
    accepts: () => ({ accept: true }),
    run: async (ctx) => {
      const t = truth as FollowUpPairTruth;
      const isPrior = ctx.header.attributes['StudyDate'] === t.priorStudyDate;
      const findings: Finding[] = t.nodules.flatMap((n, i) => {
        const s = isPrior ? n.prior : n.current;
        if (!s) return [];
        // ±2 % volume error, alternating, as a segmentation would make.
        const vol = s.volumeMm3 * (i % 2 === 0 ? 1.02 : 0.98);
        return [{ id: `n${i + 1}`, kind: 'lung-nodule', centerMm: s.centerMm, probability: 0.9, noduleType: n.type, diameterMm: s.diameterMm, measurements: { meanDiameterMm: s.diameterMm, volumeMm3: vol, solidComponentMeanDiameterMm: s.diameterMm / 2 } }];
      });
      return { findings, measurements: {} };
    },
  };
  const out: string[] = [];
  try {
    const res = await evaluateFollowUp({ cases: 1, seed: 11, dir, threshold: 0 }, {
      stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) },
      // Without the probe: it runs the real detector where the stand-in left a nodule alone, and on this 3.4 mm-voxel
      // toy the real detector finds false positives at empty places, which the stand-in's truth cannot be checked
      // against (the probe is measured on full-size pairs by `secondreader eval followup`, and in followup.test.ts).
      analyses: [withFollowUp(oracle, { probe: false })],
      writeFollowUpPairs: async (d, o): Promise<readonly FollowUpPairWriteResult[]> => {
        const written = await writeFollowUpPairs(d, { ...o, dims: [96, 96, 52], spacingMm: [3, 3, 3], sliceThicknessMm: 3, noduleCount: 5, noduleDiameterRangeMm: [10, 16], threads: 1 });
        truth = written[0]?.truth;
        return written;
      },
    });
    assert.equal(res.exitCode, 0, out.join(''));
    const m = res.report['metrics'] as Record<string, unknown> & { registrationErrorMm: { mean: number }; outcomes: unknown[] };
    assert.equal(m['casesCompared'], 1, out.join(''));
    assert.equal(m['pairsMatchedPct'], 100, out.join(''));
    assert.equal(m['newResolvedRightPct'], 100, out.join(''));
    assert.ok((m['medianVdtErrorPct'] as number) < 15, out.join(''));
    assert.ok(m.registrationErrorMm.mean < 1.5, `registration error ${m.registrationErrorMm.mean} mm`);
    const report = JSON.parse(await readFile(join(dir, 'eval-report.json'), 'utf8')) as { target: string };
    assert.equal(report.target, 'followup');
    // findings.json of the pair holds the follow-up fields (validated against docs/findings.schema.json on write).
    const doc = JSON.parse(await readFile(join(dir, 'findings', 'pair-0001', 'findings.json'), 'utf8')) as { analyses: { findings: Record<string, unknown>[]; measurements: Record<string, unknown> }[] };
    const fs = doc.analyses[0]?.findings ?? [];
    assert.ok(fs.some((f) => f['status'] === 'resolved' && f['probability'] === 0));
    assert.ok(fs.some((f) => f['status'] === 'new'));
    assert.ok(fs.some((f) => typeof f['priorVolumeMm3'] === 'number' && Array.isArray(f['priorCenterMm'])));
    assert.equal((doc.analyses[0]?.measurements['followUp'] as Record<string, unknown>)['compared'], true);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('eval arguments: followup is a target, with the evaluation seed rule', async () => {
  const { parseEvalArgs } = await import('../run-eval.ts');
  const o = parseEvalArgs(['followup', '--cases', '10', '--seed', '580000']);
  assert.ok(o !== 'help' && o.target === 'followup' && o.cases === 10 && o.seed === 580000);
  const { isSrError } = await import('../../src/core/errors.ts');
  assert.throws(() => parseEvalArgs(['followup', '--seed', '7']), (e) => isSrError(e, 'USAGE'));
});
