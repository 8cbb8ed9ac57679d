/**
 * Development tool (tuning seeds only, < 1000): the whole pipeline on the cached chest phantoms, scored like
 * `secondreader eval chest` (LUNA16 FROC/CPM via eval/metrics, the report's floor and cap on findings), plus the
 * stage that lost each nodule: outside the lung mask / no candidate near it / candidate past the fine budget /
 * reached but no detection (segmentation or dedupe) / detected with a low probability.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/froc-tuning.ts --from 1 --to 12 [--cache DIR] [--stress | --dense | --solid]
 *     (--stress / --dense: the stress or dense phantom family of train.ts instead of the default draw)
 *     [--first-stage-model FILE]   (A/B: a saved model-first-stage.ts, its FIRST_STAGE_MODEL, instead of the current one)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { lpsToIjk } from '../../imaging/index.ts';
import type { Vec3 } from '../../imaging/index.ts';
import { computeNoduleMetrics } from '../../../eval/metrics/nodules.ts';
import type { NoduleDetection, NoduleTruth } from '../../../eval/metrics/nodules.ts';
import type { CandidateModel } from './logistic-model.ts';
import { FINE_CANDIDATES, fineOrder, runPipeline } from './pipeline.ts';
import { MAX_FINDINGS, REPORT_FLOOR } from './report.ts';
import { loadCase } from './train.ts';

const dist = (a: Vec3, b: Vec3) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, cache: { type: 'string' }, stress: { type: 'boolean' }, dense: { type: 'boolean' }, solid: { type: 'boolean' }, fine: { type: 'string' }, 'first-stage-model': { type: 'string' } } });
  const firstStageModel = values['first-stage-model'] ? ((await import(resolve(values['first-stage-model']))) as { FIRST_STAGE_MODEL: CandidateModel }).FIRST_STAGE_MODEL : undefined;
  const from = Number(values.from ?? 1), to = Number(values.to ?? 12);
  if (!(to < 1000)) throw new Error('tuning seeds only (< 1000)');
  const cache = values.cache ?? join(tmpdir(), 'sr-chest-train');
  mkdirSync(cache, { recursive: true });
  const nFine = Number(values.fine ?? FINE_CANDIDATES);
  const truth: NoduleTruth[] = [];
  const detections: NoduleDetection[] = [];
  const caseIds: string[] = [];
  const lost = new Map<string, number>();
  const times: Record<string, number> = {};
  for (let seed = from; seed <= to; seed++) {
    const kind = values.dense === true ? 'dense' : values.solid === true ? 'solid' : values.stress === true ? 'stress' : 'plain';
    const c = await loadCase(seed, cache, kind);
    const caseId = `${kind === 'plain' ? 'seed' : kind}-${seed}`;
    caseIds.push(caseId);
    const res = runPipeline(c.vol, { fineCandidates: nFine, ...(firstStageModel ? { firstStageModel } : {}) });
    for (const [k, v] of Object.entries(res.stepTimesMs)) times[k] = (times[k] ?? 0) + v;
    const list = res.nodules.filter((n) => n.probability >= REPORT_FLOOR).slice(0, MAX_FINDINGS);
    list.forEach((n, i) => detections.push({ caseId, id: `${caseId}/d${i}`, centerMm: n.centerMm, probability: n.probability, diameterMm: n.measures.axes.meanDiameterMm, type: n.seg.type }));
    // Findings with their features and labels, for re-scoring offline (model studies without rerunning the pipeline).
    writeFileSync(join(cache, `findings-${caseId}.json`), JSON.stringify(list.map((n) => ({
      features: n.features, stage: n.stage, probability: n.probability, firstStage: n.firstStage, type: n.seg.type, meanDiameterMm: n.measures.axes.meanDiameterMm,
      centerMm: n.centerMm, source: n.candidate.source, truthId: c.nodules.find((t) => dist(n.centerMm, t.centerMm) < t.diameterMm / 2)?.id ?? null,
    }))));
    const order = fineOrder(res.candidates, nFine);
    let fpHigh = 0;
    for (const n of list) if (n.probability >= 0.5 && !c.nodules.some((t) => dist(n.centerMm, t.centerMm) < t.diameterMm / 2)) fpHigh++;
    process.stdout.write(`${caseId}: ${c.nodules.length} nodules, ${res.candidates.length} candidates, ${list.length} findings (${fpHigh} FP ≥ 0.5) ${JSON.stringify(Object.fromEntries(Object.entries(res.stepTimesMs).map(([k, v]) => [k, Math.round(v)])))}\n`);
    for (const t of c.nodules) {
      truth.push({ id: `${caseId}/${t.id}`, caseId, centerMm: t.centerMm, diameterMm: t.diameterMm, type: t.type, ...(t.placement ? { placement: t.placement } : {}), volumeMm3: t.volumeMm3 });
      const q = lpsToIjk(res.lungs.labels, t.centerMm).map(Math.round) as Vec3;
      const [nx, ny, nz] = res.lungs.labels.dims;
      const inLung = q.every((x, a) => x >= 0 && x < ([nx, ny, nz][a] as number)) && res.lungs.labels.data[q[0] + q[1] * nx + q[2] * nx * ny] !== 0;
      const hits = res.candidates.filter((sc) => dist(sc.candidate.lps, t.centerMm) < t.diameterMm / 2);
      const rank = Math.min(Infinity, ...hits.map((h) => order.indexOf(h)).filter((r) => r >= 0));
      const det = list.filter((n) => dist(n.centerMm, t.centerMm) < t.diameterMm / 2).sort((a, b) => b.probability - a.probability)[0];
      // Nearest detection (for segmentation / dedupe losses: was the nodule merged into a neighbour or drifted?).
      const near = [...res.nodules].sort((a, b) => dist(a.centerMm, t.centerMm) - dist(b.centerMm, t.centerMm))[0];
      let stage: string;
      if (det && det.probability >= 0.5) stage = 'ok';
      else if (det) stage = `low-prob(${det.stage})`;
      else if (!inLung && hits.length === 0) stage = 'outside-lung';
      else if (hits.length === 0) stage = 'no-candidate';
      else if (rank >= nFine) stage = 'past-fine-budget';
      else stage = 'seg-or-dedupe';
      lost.set(stage, (lost.get(stage) ?? 0) + 1);
      if (stage !== 'ok') {
        const nearTxt = near ? `nearest det ${dist(near.centerMm, t.centerMm).toFixed(1)} mm p=${near.probability.toFixed(2)} ${near.stage} ${near.seg.type} ${near.measures.axes.meanDiameterMm.toFixed(1)}mm` : '';
        process.stdout.write(`  ${t.id} ${t.type} ${t.placement} ${t.shape} ${t.diameterMm.toFixed(1)} mm ${t.hu ?? ''}HU inLung=${inLung}: ${stage} ${det ? `p=${det.probability.toFixed(3)} ` : ''}rank ${rank} hits ${hits.map((h) => `${h.candidate.source}/b${h.candidate.blob.toFixed(0)}/p1=${h.p1.toFixed(2)}`).join(',')} | ${nearTxt}\n`);
      }
    }
  }
  const m = computeNoduleMetrics(truth, detections, { caseIds });
  const pct = (x: number) => (100 * x).toFixed(1);
  process.stdout.write(`\n${truth.length} nodules on ${caseIds.length} scans; max FP/scan ${m.froc.maxFpPerScan.toFixed(2)}\n`);
  process.stdout.write(`CPM ${m.froc.cpm.toFixed(3)}  FROC ${m.froc.sensitivities.map((s) => pct(s.sensitivity)).join(' ')}\n`);
  process.stdout.write(`≥4 mm: CPM ${m.froc4mm.cpm.toFixed(3)}; sensitivity at ≤1 FP/scan ${pct(m.sensitivityAt1FpPerScan4mm.sensitivity)} % (thr ${m.sensitivityAt1FpPerScan4mm.threshold.toFixed(3)})\n`);
  process.stdout.write(`loss attribution: ${JSON.stringify(Object.fromEntries(lost))}\n`);
  for (const r of m.breakdown) process.stdout.write(`  ${r.group}:${r.value} ${r.detected}/${r.nodules}\n`);
  process.stdout.write(`step times (mean ms): ${JSON.stringify(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, Math.round(v / caseIds.length)])))}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
