/**
 * Development tool (tuning seeds only, < 1000): the follow-up evaluation (eval/metrics/followup-eval.ts, the same
 * runner and metrics as `secondreader eval followup`) on follow-up phantom pairs of a tuning seed, with the chest
 * analysis's own output cached per series (by SeriesInstanceUID, deterministic in the phantom writer) and the pairs
 * written once, so a change to the comparison (followup.ts, followup-manifest.ts) is measured in minutes instead of
 * re-running the detector on every scan.
 *
 *   nice node --import tsx src/analyses/chest-ct-nodules/followup-tuning.ts --seed 3 --cases 10 [--dir DIR] [--no-probe] [--probe-support P]
 *
 * The cache holds findings and measurements only (no label map); delete DIR/analysis-cache after a change to the
 * detector itself.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { AnalysisManifest, AnalysisOutput } from '../../engine/types.ts';
import type { FollowUpPairTruth, FollowUpPairWriteResult } from '../../../eval/phantoms/followup.ts';
import { evaluateFollowUp } from '../../../eval/metrics/followup-eval.ts';
import { withFollowUp } from './followup-manifest.ts';
import { chestCtNodules } from './manifest.ts';

function cached(base: AnalysisManifest, dir: string): AnalysisManifest {
  mkdirSync(dir, { recursive: true });
  return {
    ...base,
    run: async (ctx) => {
      const file = join(dir, `${ctx.header.seriesInstanceUid}.json`);
      // Without the label map the findings lose their mask labels too (the runner checks them against the map).
      const unlabelled = (o: AnalysisOutput): AnalysisOutput => ({ ...o, findings: o.findings.map(({ label: _l, ...f }) => f) });
      if (existsSync(file)) return unlabelled(JSON.parse(readFileSync(file, 'utf8')) as AnalysisOutput);
      const out = await base.run(ctx);
      const { labelMap: _mask, ...rest } = out;
      void _mask;
      writeFileSync(file, JSON.stringify(rest));
      return unlabelled(rest);
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string' }, cases: { type: 'string' }, dir: { type: 'string' }, 'no-probe': { type: 'boolean' }, 'probe-support': { type: 'string' } } });
  const seed = Number(values.seed ?? '3');
  const cases = Number(values.cases ?? '10');
  if (!(Number.isInteger(seed) && seed >= 0 && seed < 1000)) throw new Error('tuning seeds only (0..999)');
  const probeSupport = values['probe-support'] === undefined ? undefined : Number(values['probe-support']);
  // A typo would be NaN, and no probability is below NaN: every probed finding would pass the floor unnoticed.
  if (probeSupport !== undefined && !(probeSupport >= 0 && probeSupport <= 1)) throw new Error(`--probe-support must be a probability in [0, 1], got ${String(values['probe-support'])}`);
  const dir = values.dir ?? `/tmp/sr-followup-tune-${seed}`;
  const manifest = withFollowUp(cached(chestCtNodules, join(dir, 'analysis-cache')), { probe: values['no-probe'] !== true, ...(probeSupport !== undefined ? { probeSupport } : {}) });
  const writeFollowUpPairs = async (outDir: string, o: { seed: number; cases: number }): Promise<FollowUpPairWriteResult[]> => {
    const { writeFollowUpPair } = await import('../../../eval/phantoms/followup.ts');
    const out: FollowUpPairWriteResult[] = [];
    for (let c = 1; c <= o.cases; c++) {
      const id = `pair-${String(c).padStart(4, '0')}`;
      const pd = join(outDir, id);
      const truthPath = join(pd, 'truth.json');
      if (existsSync(truthPath)) {
        out.push({ dir: pd, priorDicomDir: join(pd, 'prior', 'dicom'), currentDicomDir: join(pd, 'current', 'dicom'), truthPath, truth: JSON.parse(readFileSync(truthPath, 'utf8')) as FollowUpPairTruth });
      } else {
        out.push(await writeFollowUpPair(pd, { seed: `${String(o.seed)}/${id}` }));
      }
    }
    return out;
  };
  const { exitCode } = await evaluateFollowUp({ cases, seed, dir, threshold: 0 }, { stdout: process.stdout, stderr: process.stderr, analyses: [manifest], writeFollowUpPairs });
  process.exitCode = exitCode;
}

await main();
