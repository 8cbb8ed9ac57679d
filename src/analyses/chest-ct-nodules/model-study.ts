/**
 * Development tool (tuning seeds only, < 1000): compares candidate classifiers by scan-grouped cross-validation on
 * the rows train.ts caches (one pipeline run per phantom), scored as a FROC/CPM over the fine-stage candidates
 * (each nodule counts once at its best candidate; candidates on no nodule are false positives; nodules never
 * reached lower the sensitivity). No pipeline rerun, so a model family or a parameter is compared in seconds.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/model-study.ts --stage 2 --from 1 --to 12 --stress 1..8 --dense 1..30 [--solid 1..12] [--folds 5]
 *     [--without f1,f2]   (ablation: drop these features, by name, from every row)
 */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CPM_FP_RATES, frocCurve, sensitivityAt } from '../../../eval/metrics/froc.ts';
import { fitTrees, treeProbability } from './boosted-trees.ts';
import type { TreeFitOptions } from './boosted-trees.ts';
import { fitLogistic, logit, sigmoid } from './classify.ts';
import { FEATURE_NAMES } from './features.ts';
import { FIRST_STAGE_FEATURES } from './first-stage.ts';
import { fineOrder } from './pipeline.ts';
import type { ScoredCandidate } from './pipeline.ts';
import { collect } from './train.ts';
import type { LabelledCandidate } from './train.ts';

export interface StudyScan { tag: string; nodules: number }

/** FROC/CPM of scored rows over the given scans (see the module comment). */
export function rowsCpm(rows: readonly { scan?: string; truthId: string | null; p: number }[], scans: readonly StudyScan[]): { cpm: number; sens: number[] } {
  const best = new Map<string, number>();
  const fp: number[] = [];
  for (const r of rows) {
    if (r.truthId) best.set(r.truthId, Math.max(best.get(r.truthId) ?? 0, r.p));
    else fp.push(r.p);
  }
  const relevant = scans.reduce((s, x) => s + x.nodules, 0);
  const curve = frocCurve({ scans: scans.length, relevant, tp: [...best.values()], fp });
  const sens = CPM_FP_RATES.map((x) => sensitivityAt(curve, x));
  return { cpm: sens.reduce((a, b) => a + b, 0) / sens.length, sens };
}

function scanList(rows: readonly LabelledCandidate[], cache: string): StudyScan[] {
  const tags = [...new Set(rows.map((r) => r.scan as string))];
  return tags.map((tag) => {
    const file = /^\d+$/.test(tag) ? `seed-${tag}` : tag.replace(/^(stress|dense|solid)(\d+)$/, '$1-$2');
    const meta = JSON.parse(readFileSync(join(cache, `${file}.json`), 'utf8')) as { truth: { nodules: unknown[] } };
    return { tag, nodules: meta.truth.nodules.length };
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    stage: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, stress: { type: 'string' }, dense: { type: 'string' }, solid: { type: 'string' },
    cache: { type: 'string' }, folds: { type: 'string' }, rounds: { type: 'string' }, depth: { type: 'string' }, lr: { type: 'string' }, wpos: { type: 'string' },
    without: { type: 'string' },
  } });
  const range = (arg: string | undefined): number[] => {
    const [a, b] = (arg ?? '').split('..').map(Number);
    return a !== undefined && b !== undefined && Number.isInteger(a) && Number.isInteger(b) ? Array.from({ length: b - a + 1 }, (_, i) => a + i) : [];
  };
  const from = Number(values.from ?? 1), to = Number(values.to ?? 12);
  const cache = values.cache ?? join(tmpdir(), 'sr-chest-train');
  const stage = values.stage === '1' ? 1 : 2;
  const allRows = await collect(range(`${from}..${to}`), cache, (s) => process.stdout.write(`${s}\n`), stage, range(values.stress), range(values.dense), false, range(values.solid));
  const names: readonly string[] = stage === 1 ? FIRST_STAGE_FEATURES : FEATURE_NAMES;
  const drop = new Set((values.without ?? '').split(',').filter((f) => f.length > 0));
  for (const f of drop) if (!names.includes(f)) throw new Error(`--without: no feature ${f}`);
  const keep = names.map((f, i) => (drop.has(f) ? -1 : i)).filter((i) => i >= 0);
  const rows = drop.size === 0 ? allRows : allRows.map((r) => ({ ...r, x: keep.map((i) => r.x[i] as number) }));
  const scans = scanList(rows, cache);
  const k = Number(values.folds ?? 5);
  const fold = new Map(scans.map((s, i) => [s.tag, i % k]));
  const treeOpts = (over: TreeFitOptions): TreeFitOptions => ({
    rounds: Number(values.rounds ?? 200), depth: Number(values.depth ?? 3), learningRate: Number(values.lr ?? 0.1), weightPositive: Number(values.wpos ?? 1), ...over,
  });
  const variants: { name: string; fit: (X: number[][], y: number[]) => (x: readonly number[]) => number }[] = [
    { name: 'logistic L2 2', fit: (X, y) => { const m = fitLogistic(X, y, { l2: 2 }); const model = { ...m, features: [], provenance: '' }; return (x) => sigmoid(logit(model, x)); } },
    ...[2, 3, 4].map((depth) => ({ name: `trees depth ${depth}`, fit: (X: number[][], y: number[]) => { const m = fitTrees(X, y, treeOpts({ depth })); const model = { kind: 'trees' as const, features: [], provenance: '', ...m }; return (x: readonly number[]) => treeProbability(model, x); } })),
  ];
  process.stdout.write(`${rows.length} rows (${rows.filter((r) => r.y === 1).length} positive) on ${scans.length} scans, ${scans.reduce((s, x) => s + x.nodules, 0)} nodules; ${k}-fold by scan\n`);
  for (const v of variants) {
    const scored: { scan?: string; truthId: string | null; p: number; cand?: LabelledCandidate['cand'] }[] = [];
    for (let f = 0; f < k; f++) {
      const train = rows.filter((r) => fold.get(r.scan as string) !== f), test = rows.filter((r) => fold.get(r.scan as string) === f);
      const predict = v.fit(train.map((r) => r.x), train.map((r) => r.y));
      for (const r of test) scored.push({ scan: r.scan, truthId: r.truthId, p: predict(r.x), ...(r.cand ? { cand: r.cand } : {}) });
    }
    if (stage === 1) {
      // First stage: how many nodules have a candidate within the first N of their scan (the fine budget).
      const reached = (n: number): number => {
        let hit = 0;
        for (const s of scans) {
          const mine = scored.filter((r) => r.scan === s.tag).sort((a, b) => b.p - a.p).slice(0, n);
          hit += new Set(mine.filter((r) => r.truthId).map((r) => r.truthId)).size;
        }
        return hit;
      };
      // The pipeline's fine order (cores by radius, then this score and the blob response interleaved), without
      // its skipping of candidates inside objects already segmented.
      const inOrder = (n: number, interleave: boolean, coreShare: number): number => {
        let hit = 0;
        for (const s of scans) {
          const sc = scored.filter((r) => r.scan === s.tag).map((r) => ({ row: r, c: { candidate: { source: r.cand?.source ?? 'blob', radiusMm: r.cand?.radiusMm ?? 0, blob: r.cand?.blob ?? 0 }, p1: r.p } }));
          const order = fineOrder(sc.map((x) => x.c as unknown as ScoredCandidate), n, interleave, coreShare).slice(0, n);
          const back = new Map(sc.map((x) => [x.c as unknown as ScoredCandidate, x.row]));
          hit += new Set(order.map((o) => back.get(o)?.truthId).filter((t): t is string => typeof t === 'string')).size;
        }
        return hit;
      };
      const total = scans.reduce((s, x) => s + x.nodules, 0);
      process.stdout.write(`${''.padEnd(16)} in the pipeline's fine order, first 40/60/80: ${[40, 60, 80].map((n) => inOrder(n, true, 0.25)).join(' / ')}; cores then score only: ${[40, 60, 80].map((n) => inOrder(n, false, 0.25)).join(' / ')}; 5 % cores: ${[40, 60, 80].map((n) => inOrder(n, false, 0.05)).join(' / ')}; 5 % cores + blob: ${[40, 60, 80].map((n) => inOrder(n, true, 0.05)).join(' / ')}\n`);
      process.stdout.write(`${v.name.padEnd(16)} nodules with a candidate in the first 20/40/60/100: ${[20, 40, 60, 100].map((n) => reached(n)).join(' / ')} of ${total} (${new Set(rows.filter((r) => r.truthId).map((r) => r.truthId)).size} with any candidate)\n`);
      continue;
    }
    const all = rowsCpm(scored, scans);
    const plain = scans.filter((s) => /^\d+$/.test(s.tag));
    const onPlain = rowsCpm(scored.filter((r) => /^\d+$/.test(r.scan ?? '')), plain);
    process.stdout.write(`${v.name.padEnd(16)} CPM all ${all.cpm.toFixed(3)} [${all.sens.map((s) => (100 * s).toFixed(0)).join(' ')}]  plain ${onPlain.cpm.toFixed(3)} [${onPlain.sens.map((s) => (100 * s).toFixed(0)).join(' ')}]\n`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
