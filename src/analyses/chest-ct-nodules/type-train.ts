/**
 * Development tool (tuning seeds only, < 1000): trains the nodule TYPE model (type-model.ts) on the matched nodules
 * type-study.ts dumps (`--dump FILE`: the evidence each reported nodule's type was decided from, beside its true
 * type), and reports it against the rules on nodules it did not train on: scans are split into folds, each fold
 * scored by a model trained on the others (cross-validation grouped by scan, so a scan's nodules never sit on both
 * sides). `--write` then trains on all rows and rewrites type-model-weights.ts (the defaults are the released model's).
 *
 *   node --import tsx src/analyses/chest-ct-nodules/type-train.ts FILE... [--folds 5] [--rounds 150] [--depth 4] [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fitTrees } from './boosted-trees.ts';
import type { TreeEnsembleModel } from './boosted-trees.ts';
import { NODULE_TYPES, TYPE_FEATURE_NAMES, typeFeatures, typeFromModel } from './type-model.ts';
import type { NoduleTypeModel } from './type-model.ts';
import type { NoduleType, TypeEvidence } from './segment-nodule.ts';
import { confusionMatrix } from '../../../eval/metrics/nodules.ts';
import { formatMatrix } from './type-study.ts';

interface Row { truthId: string; truthType: NoduleType; truthDiameterMm: number; placement: string | null; foundType: NoduleType; probability: number; evidence: TypeEvidence }

function train(rows: readonly Row[], opts: { rounds: number; depth: number }, provenance: string): NoduleTypeModel {
  const X = rows.map((r) => typeFeatures(r.evidence, r.foundType));
  const models = NODULE_TYPES.map((t): TreeEnsembleModel => ({
    kind: 'trees', features: TYPE_FEATURE_NAMES, provenance,
    ...fitTrees(X, rows.map((r) => (r.truthType === t ? 1 : 0)), { rounds: opts.rounds, depth: opts.depth, learningRate: 0.1, minChildWeight: 1, subsample: 0.8, colsample: 0.8, seed: 7 }),
  }));
  return { kind: 'one-vs-rest', types: NODULE_TYPES, models, provenance };
}

function main(): void {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { folds: { type: 'string' }, rounds: { type: 'string' }, depth: { type: 'string' }, write: { type: 'boolean' } } });
  const rows: Row[] = positionals.flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as Row[]);
  const scans = [...new Set(rows.map((r) => r.truthId.split('/')[0] as string))];
  const folds = Number(values.folds ?? 5), rounds = Number(values.rounds ?? 150), depth = Number(values.depth ?? 4);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out(`${rows.length} nodules on ${scans.length} scans: ${NODULE_TYPES.map((t) => `${t} ${rows.filter((r) => r.truthType === t).length}`).join(', ')}`);
  // Scans to folds by a fixed shuffle of their names (deterministic).
  const foldOf = new Map(scans.map((s) => [s, [...s].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7) % folds]));
  const predicted = new Array<NoduleType>(rows.length);
  for (let k = 0; k < folds; k++) {
    const trainRows = rows.filter((r) => foldOf.get(r.truthId.split('/')[0] as string) !== k);
    const model = train(trainRows, { rounds, depth }, 'cv');
    rows.forEach((r, i) => { if (foldOf.get(r.truthId.split('/')[0] as string) === k) predicted[i] = typeFromModel(model, r.evidence, r.foundType); });
  }
  const rules = confusionMatrix(rows.map((r) => ({ truth: r.truthType, found: r.foundType })));
  const cv = confusionMatrix(rows.map((r, i) => ({ truth: r.truthType, found: predicted[i] as string })));
  const show = (name: string, m: typeof rules) => {
    out(`${name}: ${(100 * m.accuracy).toFixed(1)} % of ${m.n}`);
    out(formatMatrix(m));
  };
  show('rules', rules);
  show(`model, ${folds}-fold cross-validation by scan`, cv);
  const changed = rows.map((r, i) => ({ r, p: predicted[i] as NoduleType })).filter((x) => x.p !== x.r.foundType);
  out(`model changes ${changed.length} types: ${changed.filter((x) => x.p === x.r.truthType).length} to right, ${changed.filter((x) => x.r.foundType === x.r.truthType).length} from right`);
  // The calls that change management most: a nodule called calcified (benign) that is not, and the reverse.
  for (const { r, p } of rows.map((r, i) => ({ r, p: predicted[i] as NoduleType }))) {
    if ((p === 'calcified') === (r.truthType === 'calcified')) continue;
    const e = r.evidence;
    out(`  ${r.truthId} ${r.truthType} ${r.truthDiameterMm.toFixed(1)} mm → ${p} (rules ${r.foundType}): peak ${e.peakHu.toFixed(0)} core ${e.coreMedianHu.toFixed(0)} pvMean ${(e.pvMeanHu ?? Number.NaN).toFixed(0)} maskVol ${(e.maskVolumeMm3 ?? Number.NaN).toFixed(0)}`);
  }
  if (values.write) {
    const provenance = `type-train.ts on ${rows.length} matched nodules of ${scans.length} tuning phantom scans (seeds < 1000), ${rounds} rounds of depth ${depth} per type; ${folds}-fold CV by scan ${(100 * cv.accuracy).toFixed(1)} % (rules ${(100 * rules.accuracy).toFixed(1)} %)`;
    const model = train(rows, { rounds, depth }, provenance);
    const path = join(import.meta.dirname, 'type-model-weights.ts');
    writeFileSync(path, `/**\n * Weights of the nodule type model (type-model.ts). GENERATED by type-train.ts — do not edit by hand; rerun\n * type-study.ts … --no-retype, type-study.ts … --offline --stored --no-retype --dump FILE, type-train.ts FILE… --write\n * (docs/validation.md, chest-ct-nodules 0.10.0).\n * ${provenance}.\n */\nimport type { NoduleTypeModel } from './type-model.ts';\n\nexport const NODULE_TYPE_MODEL: NoduleTypeModel = ${JSON.stringify(model, (_k, v: unknown) => (typeof v === 'number' ? Number(v.toPrecision(7)) : v))};\n`);
    out(`wrote ${path}`);
  }
}

main();
