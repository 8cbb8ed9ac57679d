/**
 * Trains the candidate classifier (model.ts) on synthetic chest phantoms — TUNING SEEDS ONLY (< 1000; the
 * evaluation uses seeds ≥ 100000). For each phantom: run the pipeline, label every segmented candidate by the
 * LUNA16 hit rule against the phantom's truth (centre within the nodule's radius), fit an L2 logistic
 * regression, and rewrite model.ts with the weights and this provenance.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/train.ts --stage 1|2 --from 1 --to 16 [--stress 1..3] [--cache DIR] [--dry-run]
 *
 * Stage 1 (model-first-stage.ts) learns from every candidate of the candidate stage (no segmentation); stage 2
 * (model.ts) from the candidates the current first stage sends to the fine segmentation — so train stage 1
 * first, then stage 2.
 *
 * Phantoms are cached as raw Int16 + JSON under the cache folder (default: os.tmpdir()/sr-chest-train).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createVolume } from '../../imaging/index.ts';
import type { Int16Volume, Mat3, Vec3 } from '../../imaging/index.ts';
import { fitLogistic, sigmoid, logit } from './classify.ts';
import { FEATURE_NAMES } from './features.ts';
import { FIRST_STAGE_FEATURES } from './first-stage.ts';
import type { LogisticModel } from './logistic-model.ts';
import { runPipeline } from './pipeline.ts';

export interface TruthNodule { id: string; centerMm: Vec3; diameterMm: number; type: string; volumeMm3: number; placement?: string; shape?: string; hu?: number }
export interface CachedCase { vol: Int16Volume; nodules: TruthNodule[] }

const TUNING_SEED_LIMIT = 1000;

/** `stress`: 10 sub-solid nodules per scan, half against a vessel and half against the pleura (the classic misses). */
export async function loadCase(seed: number, cache: string, stress = false): Promise<CachedCase> {
  const base = join(cache, stress ? `stress-${seed}` : `seed-${seed}`);
  if (!existsSync(`${base}.json`)) {
    const { generateChestPhantom } = await import('../../../eval/phantoms/chest.ts');
    const p = generateChestPhantom(stress
      ? { seed: `stress-${seed}`, noduleCount: 10, noduleTypes: ['ground-glass', 'part-solid'], nodulePlacements: ['juxta-vascular', 'juxta-pleural'] }
      : { seed });
    writeFileSync(`${base}.bin`, Buffer.from(p.volume.data.buffer, p.volume.data.byteOffset, p.volume.data.byteLength));
    writeFileSync(`${base}.json`, JSON.stringify({ dims: p.volume.dims, spacing: p.volume.spacing, origin: p.volume.origin, direction: p.volume.direction, truth: p.truth }));
  }
  const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as { dims: Vec3; spacing: Vec3; origin: Vec3; direction: Mat3; truth: { nodules: TruthNodule[] } };
  const buf = readFileSync(`${base}.bin`);
  const data = new Int16Array(buf.byteLength / 2);
  new Uint8Array(data.buffer).set(buf);
  return { vol: createVolume(data, { dims: meta.dims, spacing: meta.spacing, origin: meta.origin, direction: meta.direction }), nodules: meta.truth.nodules };
}

export interface LabelledCandidate {
  seed: number; x: number[]; y: 0 | 1; truthId: string | null;
  /** For inspection: found vs truth measurements of hits. */
  meta?: { type: string; diameterMm: number; volumeMm3: number; truthType?: string; truthDiameterMm?: number; truthVolumeMm3?: number };
}

function hitOf(p: Vec3, nodules: readonly TruthNodule[]): TruthNodule | undefined {
  return nodules.find((t) => Math.hypot(p[0] - t.centerMm[0], p[1] - t.centerMm[1], p[2] - t.centerMm[2]) < t.diameterMm / 2);
}

export async function collect(seeds: readonly number[], cache: string, log: (s: string) => void, stage: 1 | 2 = 2, stressSeeds: readonly number[] = []): Promise<LabelledCandidate[]> {
  const rows: LabelledCandidate[] = [];
  const all = [...seeds.map((seed) => ({ seed, stress: false })), ...stressSeeds.map((seed) => ({ seed, stress: true }))];
  for (const { seed, stress } of all) {
    if (seed >= TUNING_SEED_LIMIT) throw new Error(`seed ${seed} ≥ ${TUNING_SEED_LIMIT}: training uses tuning seeds only`);
    // Feature rows are cached per seed, stage and feature set, so refitting does not rerun the pipeline (delete
    // the stage-2 rows after retraining stage 1: they depend on its selection).
    const tag = stress ? `stress${seed}` : String(seed);
    const rowsPath = join(cache, stage === 1 ? `rows-s1-${tag}-${FIRST_STAGE_FEATURES.length}f.json` : `rows-s2-${tag}-${FEATURE_NAMES.length}f.json`);
    let mine: LabelledCandidate[];
    if (existsSync(rowsPath)) mine = JSON.parse(readFileSync(rowsPath, 'utf8')) as LabelledCandidate[];
    else if (stage === 1) {
      const c = await loadCase(seed, cache, stress);
      const res = runPipeline(c.vol, { fineCandidates: 0, coarseCandidates: 0 });
      mine = res.candidates.map((sc) => {
        const hit = hitOf(sc.candidate.lps, c.nodules);
        return { seed, x: sc.x, y: hit ? 1 : 0, truthId: hit ? `${seed}/${hit.id}` : null };
      });
      writeFileSync(rowsPath, JSON.stringify(mine));
      const found = new Set(mine.filter((r) => r.truthId).map((r) => r.truthId));
      log(`seed ${seed}: ${mine.length} candidates, ${found.size}/${c.nodules.length} nodules reached; ${JSON.stringify(res.stepTimesMs)}`);
    } else {
      const c = await loadCase(seed, cache, stress);
      const res = runPipeline(c.vol, { coarseCandidates: 0 });
      mine = [];
      for (const n of res.nodules) {
        const hit = hitOf(n.centerMm, c.nodules);
        mine.push({
          seed, x: n.features, y: hit ? 1 : 0, truthId: hit ? `${seed}/${hit.id}` : null,
          meta: {
            type: n.seg.type, diameterMm: n.measures.axes.meanDiameterMm, volumeMm3: n.seg.volumeMm3,
            ...(hit ? { truthType: hit.type, truthDiameterMm: hit.diameterMm, truthVolumeMm3: hit.volumeMm3 } : {}),
          },
        });
      }
      writeFileSync(rowsPath, JSON.stringify(mine));
      const found = new Set(mine.filter((r) => r.truthId).map((r) => r.truthId));
      log(`seed ${seed}: ${res.nodules.length} candidates, ${found.size}/${c.nodules.length} nodules reached; ${JSON.stringify(res.stepTimesMs)}`);
    }
    rows.push(...mine);
  }
  return rows;
}

function modelSource(model: LogisticModel, stage: 1 | 2): string {
  const arr = (a: readonly number[]) => `[${a.map((x) => Number(x.toPrecision(6))).join(', ')}]`;
  const header = stage === 1
    ? ` * Weights of the first-stage candidate score. GENERATED by train.ts --stage 1 — do not edit by hand
 * (tuning phantoms, seeds < 1000 only).`
    : ` * Weights of the candidate classifier. GENERATED by train.ts — do not edit by hand; rerun
 * \`node --import tsx src/analyses/chest-ct-nodules/train.ts\` (tuning phantoms, seeds < 1000 only).`;
  return `/**
${header}
 */
import type { LogisticModel } from './logistic-model.ts';

export const ${stage === 1 ? 'FIRST_STAGE_MODEL' : 'NODULE_MODEL'}: LogisticModel = {
  features: [${model.features.map((f) => `'${f}'`).join(', ')}],
  mean: ${arr(model.mean)},
  sd: ${arr(model.sd)},
  weights: ${arr(model.weights)},
  bias: ${Number(model.bias.toPrecision(6))},
  provenance: ${JSON.stringify(model.provenance)},
};
`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { stage: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, cache: { type: 'string' }, 'dry-run': { type: 'boolean' }, l2: { type: 'string' }, stress: { type: 'string' } } });
  const from = Number(values.from ?? 1), to = Number(values.to ?? 12);
  if (!(to < TUNING_SEED_LIMIT)) throw new Error('training seeds must be < 1000');
  const cache = values.cache ?? join(tmpdir(), 'sr-chest-train');
  mkdirSync(cache, { recursive: true });
  const seeds = Array.from({ length: to - from + 1 }, (_, i) => from + i);
  const stage = values.stage === '1' ? 1 : 2;
  // --stress A..B adds the stress phantoms (10 sub-solid juxtavascular/juxtapleural nodules each, seeds "stress-N").
  const [sa, sb] = (values.stress ?? '').split('..').map(Number);
  const stressSeeds = sa !== undefined && sb !== undefined && Number.isInteger(sa) && Number.isInteger(sb) ? Array.from({ length: sb - sa + 1 }, (_, i) => sa + i) : [];
  if (stressSeeds.some((x) => x >= TUNING_SEED_LIMIT)) throw new Error('stress seeds must be < 1000');
  const rows = await collect(seeds, cache, (s) => process.stdout.write(s + '\n'), stage, stressSeeds);
  const X = rows.map((r) => r.x), y = rows.map((r) => r.y);
  const fit = fitLogistic(X, y, { l2: Number(values.l2 ?? 2) });
  const names = stage === 1 ? FIRST_STAGE_FEATURES : FEATURE_NAMES;
  const model: LogisticModel = {
    features: [...names], ...fit,
    provenance: `${stage === 1 ? 'first stage: ' : ''}logistic regression (L2 ${values.l2 ?? 2}) on ${rows.length} candidates (${y.filter((v) => v === 1).length} on nodules) of chest phantoms seeds ${from}..${to}${stressSeeds.length ? ` + stress phantoms ${values.stress}` : ''}, train.ts --stage ${stage}`,
  };
  if (stage === 1) {
    // How many nodules the fine budget keeps: rank of each nodule's best candidate within its scan.
    const ranks: number[] = [];
    for (const seed of seeds) {
      const mine = rows.filter((r) => r.seed === seed).map((r) => ({ r, p: sigmoid(logit(model, r.x)) })).sort((a, b) => b.p - a.p);
      const seen = new Set<string>();
      mine.forEach(({ r }, i) => { if (r.truthId && !seen.has(r.truthId)) { seen.add(r.truthId); ranks.push(i); } });
    }
    ranks.sort((a, b) => a - b);
    process.stdout.write(`first-stage rank of each reached nodule (0 = best): ${ranks.join(' ')}\n`);
  }
  const ll = rows.reduce((s, r) => { const p = sigmoid(logit(model, r.x)); return s - Math.log(r.y ? Math.max(1e-9, p) : Math.max(1e-9, 1 - p)); }, 0) / rows.length;
  process.stdout.write(`fitted: mean log-loss ${ll.toFixed(4)}\n${names.map((f, i) => `  ${f}: ${(model.weights[i] as number).toFixed(3)}`).join('\n')}\n  bias: ${model.bias.toFixed(3)}\n`);
  if (!values['dry-run']) {
    const out = join(dirname(new URL(import.meta.url).pathname), stage === 1 ? 'model-first-stage.ts' : 'model.ts');
    writeFileSync(out, modelSource(model, stage));
    process.stdout.write(`wrote ${out}\n`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
