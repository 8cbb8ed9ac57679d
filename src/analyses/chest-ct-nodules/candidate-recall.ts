/**
 * Development tool (tuning seeds only): candidate recall of the candidate stage on the chest phantoms, broken
 * down by nodule type, placement and size, and the rank of each nodule's best candidate in the fine-segmentation
 * order (pipeline.ts) — a nodule ranked past the fine budget is only reachable by the coarse path.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/candidate-recall.ts --from 1 --to 12 [--cache DIR] [--stress | --dense | --solid] [--no-fine-subsolid]
 *     [--fine N] [--max-blob N] [--blob-nms MM] [--max-subsolid N] [--max-subsolid-fine N]   (A/B of the caps in candidates.ts)
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FINE_CANDIDATES, fineOrder, runPipeline } from './pipeline.ts';
import { loadCase } from './train.ts';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, cache: { type: 'string' }, fine: { type: 'string' }, channel: { type: 'string' }, 'min-blob': { type: 'string' }, stress: { type: 'boolean' }, dense: { type: 'boolean' }, solid: { type: 'boolean' }, 'no-fine-subsolid': { type: 'boolean' }, 'max-blob': { type: 'string' }, 'blob-nms': { type: 'string' }, 'max-subsolid': { type: 'string' }, 'max-subsolid-fine': { type: 'string' } } });
  const from = Number(values.from ?? 1), to = Number(values.to ?? 12);
  if (!(to < 1000)) throw new Error('tuning seeds only (< 1000)');
  const nFine = Number(values.fine ?? FINE_CANDIDATES);
  const cache = values.cache ?? join(tmpdir(), 'sr-chest-train');
  mkdirSync(cache, { recursive: true });
  const groups = new Map<string, [number, number, number]>();
  const bump = (key: string, reached: boolean, inFine: boolean) => {
    const g = groups.get(key) ?? [0, 0, 0];
    g[0]++; if (reached) g[1]++; if (inFine) g[2]++;
    groups.set(key, g);
  };
  let candTotal = 0, tCand = 0;
  for (let seed = from; seed <= to; seed++) {
    const c = await loadCase(seed, cache, values.dense ? 'dense' : values.solid ? 'solid' : values.stress === true);
    const t0 = performance.now();
    const res = runPipeline(c.vol, { fineCandidates: 0, coarseCandidates: 0, candidateOptions: { channel: values.channel === 'hu' ? 'hu' : 'lung-window', ...(values['min-blob'] ? { minBlob: Number(values['min-blob']) } : {}), ...(values['no-fine-subsolid'] ? { subsolidFineScalesMm: [] } : {}),
      ...(values['max-blob'] ? { maxBlobCandidates: Number(values['max-blob']) } : {}), ...(values['blob-nms'] ? { blobMinDistanceMm: Number(values['blob-nms']) } : {}),
      ...(values['max-subsolid'] ? { maxSubsolidCandidates: Number(values['max-subsolid']) } : {}), ...(values['max-subsolid-fine'] ? { maxSubsolidFineCandidates: Number(values['max-subsolid-fine']) } : {}) } });
    tCand += performance.now() - t0;
    candTotal += res.candidates.length;
    const order = fineOrder(res.candidates, nFine);
    for (const n of c.nodules) {
      const hits = res.candidates.filter((sc) => Math.hypot(sc.candidate.lps[0] - n.centerMm[0], sc.candidate.lps[1] - n.centerMm[1], sc.candidate.lps[2] - n.centerMm[2]) < n.diameterMm / 2);
      const rank = Math.min(...hits.map((h) => order.indexOf(h)).filter((r) => r >= 0), Infinity);
      const reached = hits.length > 0, inFine = rank < nFine;
      const size = n.diameterMm < 4 ? '<4' : n.diameterMm < 6 ? '4-6' : n.diameterMm < 10 ? '6-10' : n.diameterMm < 20 ? '10-20' : '>=20';
      for (const k of ['all', `type:${n.type}`, `place:${n.placement ?? '?'}`, `size:${size}`]) bump(k, reached, inFine);
      if (!inFine) process.stdout.write(`  seed ${seed} ${n.id} ${n.type} ${n.placement} ${n.shape} ${n.diameterMm.toFixed(1)} mm ${n.hu} HU: ${reached ? `rank ${rank} (${hits.map((h) => `${h.candidate.source} b${h.candidate.blob.toFixed(0)}`).join(',')})` : 'MISSED'}\n`);
    }
    process.stdout.write(`seed ${seed}: ${res.candidates.length} candidates ${JSON.stringify(res.stepTimesMs)}\n`);
  }
  process.stdout.write(`\n${candTotal} candidates (${(candTotal / (to - from + 1)).toFixed(0)}/scan), lungs+candidates ${(tCand / (to - from + 1) / 1000).toFixed(2)} s/scan\n`);
  for (const [k, [n, r, f]] of [...groups].sort()) process.stdout.write(`${k.padEnd(22)} ${String(n).padStart(3)} nodules  reached ${r} (${((100 * r) / n).toFixed(0)} %)  in fine top-${nFine} ${f} (${((100 * f) / n).toFixed(0)} %)\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
