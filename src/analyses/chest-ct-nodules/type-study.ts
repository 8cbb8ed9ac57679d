/**
 * Development tool (tuning seeds only, < 1000): nodule TYPE accuracy of the whole pipeline on the cached chest
 * phantoms, scored as `secondreader eval chest` scores it (eval/metrics/nodules.ts: every reported finding is a
 * detection, the LUNA16 hit rule, the best-probability hit of each truth nodule is its measurement, the confusion
 * matrix over matched nodules), with the volume and mean-diameter errors of the same matches. It adds a confusion
 * matrix per size band and, for each wrongly typed nodule, the numbers the type rule saw (TypeEvidence) beside
 * the truth's.
 *
 *   node --import tsx src/analyses/chest-ct-nodules/type-study.ts --from 1 --to 12 [--stress 1..6] [--dense 1..4] [--cache DIR] [--offline [--stored | --no-refine]] [--all] [--no-retype] [--dump FILE]
 *
 * A real run prints the figures twice: first with the findings as detection left them ("before retype"), then as
 * reported, after the type model re-typed the kept findings (retype.ts; --no-retype: off, one block). Both come
 * from the same pipeline run (retype.ts's onRetype hands back each finding as it was before).
 *
 * Each run stores the reported findings with their evidence (typestudy-<case>.json in the cache); --offline reads
 * them back and re-decides the type with the current decideNoduleType, without rerunning the pipeline (a quick
 * look at a rule change; the threshold, and so volume and diameter, only change on a real run).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Vec3 } from '../../imaging/index.ts';
import { SrError } from '../../core/errors.ts';
import { MEASURE_MIN_DIAMETER_MM, SIZE_BANDS, computeNoduleMetrics, confusionMatrix, sizeBand } from '../../../eval/metrics/nodules.ts';
import type { ConfusionMatrix, NoduleDetection, NoduleTruth } from '../../../eval/metrics/nodules.ts';
import { runPipeline } from './pipeline.ts';
import type { DetectedNodule } from './pipeline.ts';
import type { RetypeEvent } from './retype.ts';
import { MAX_FINDINGS, REPORT_FLOOR } from './report.ts';
import { decideNoduleType, refineType } from './segment-nodule.ts';
import type { TypeEvidence, TypeRules } from './segment-nodule.ts';
import { loadCase } from './train.ts';
import type { TruthNodule } from './train.ts';

const TUNING_SEED_LIMIT = 1000;

interface StoredFinding {
  id: string;
  centerMm: Vec3;
  probability: number;
  type: string;
  diameterMm: number;
  volumeMm3: number;
  evidence: TypeEvidence;
}

/** "A..B" → [A, …, B] (empty when absent). */
function range(arg: string | undefined): number[] {
  if (arg === undefined) return [];
  const [a, b] = arg.split('..').map(Number);
  if (a === undefined || b === undefined || !Number.isInteger(a) || !Number.isInteger(b)) throw new SrError('USAGE', `bad range ${arg} (A..B)`);
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

export function formatMatrix(m: ConfusionMatrix, indent = '  '): string {
  const w = Math.max(12, ...m.labels.map((l) => l.length + 1));
  const head = `${indent}${'truth \\ found'.padEnd(w)}${m.labels.map((l) => l.padStart(w)).join('')}`;
  const rows = m.labels.map((l, i) => `${indent}${l.padEnd(w)}${(m.counts[i] ?? []).map((c) => String(c).padStart(w)).join('')}`);
  return [head, ...rows].join('\n');
}

const f0 = (x: number | null) => (x === null ? '—' : x.toFixed(0));

function truthText(t: TruthNodule & { solidComponentDiameterMm?: number; solidComponentHu?: number }): string {
  const core = t.solidComponentDiameterMm !== undefined ? ` core ${t.solidComponentDiameterMm.toFixed(1)} mm @ ${t.solidComponentHu ?? '?'} HU` : '';
  return `${t.type} ${t.shape ?? ''} ${t.placement ?? ''} ${t.diameterMm.toFixed(1)} mm @ ${t.hu ?? '?'} HU${core}`;
}

export function evidenceText(e: TypeEvidence): string {
  return `peak ${f0(e.peakHu)} plateau ${f0(e.plateauHu)} bg ${f0(e.bgHu)} solidFr ${e.solidFraction.toFixed(2)} core ${f0(e.coreMedianHu)} halo ${f0(e.haloHu)} `
    + `inside ${e.insideCount} gg ${f0(e.ggMedianHu)} rEst ${e.rEstMm.toFixed(1)} h ${e.gridMm.toFixed(2)}`
    + ` | pvMean ${f0(e.pvMeanHu ?? null)} maskVol ${(e.maskVolumeMm3 ?? NaN).toFixed(0)}`
    + (e.maskMaxHu !== undefined ? ` | mask max ${f0(e.maskMaxHu)} coreVol ${(e.coreVolumeMm3 ?? NaN).toFixed(1)} surf ${(e.coreSurfaceFraction ?? NaN).toFixed(2)}` : '')
    + (e.profile ? ` | profile rays ${e.profile.rays} half ${e.profile.halfMaxMm.toFixed(1)} floor ${e.profile.floorMm.toFixed(1)} plateau ${e.profile.plateauMm.toFixed(1)} (${e.profile.plateauRayFraction.toFixed(2)}) flat ${e.profile.flatMm.toFixed(1)}` : '');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, stress: { type: 'string' }, dense: { type: 'string' }, cache: { type: 'string' }, offline: { type: 'boolean' }, stored: { type: 'boolean' }, 'no-refine': { type: 'boolean' }, 'dimmed-solid': { type: 'boolean' }, all: { type: 'boolean' }, 'no-retype': { type: 'boolean' }, dump: { type: 'string' } } });
  const plain = values.from === undefined && values.to === undefined ? [] : range(`${values.from ?? 1}..${values.to ?? values.from ?? 1}`);
  const stress = range(values.stress);
  const dense = range(values.dense);
  if ([...plain, ...stress, ...dense].some((s) => s >= TUNING_SEED_LIMIT || s < 0)) throw new SrError('USAGE', `tuning seeds only (0 ≤ seed < ${TUNING_SEED_LIMIT})`);
  const cache = values.cache ?? join(tmpdir(), 'sr-chest-train');
  mkdirSync(cache, { recursive: true });
  const offline = values.offline === true;
  // --dimmed-solid: the optional rule of segment-nodule.ts (TypeRules); with --offline it re-decides stored evidence,
  // without it the pipeline runs with the rule (use a separate --cache: the cached findings are per rule set).
  const rules: TypeRules = { dimmedSolid: values['dimmed-solid'] === true };
  const retype = values['no-retype'] !== true && !offline;

  const truth: (NoduleTruth & { src: TruthNodule })[] = [];
  const detections: NoduleDetection[] = [];
  // The same findings before the retyping (retype.ts): the originals of those it replaced.
  const detectionsBefore: NoduleDetection[] = [];
  const events: { caseId: string; e: RetypeEvent<DetectedNodule> }[] = [];
  const stored = new Map<string, StoredFinding>();
  const caseIds: string[] = [];
  const cases = [...plain.map((seed) => ({ seed, kind: 'plain' as const })), ...stress.map((seed) => ({ seed, kind: 'stress' as const })), ...dense.map((seed) => ({ seed, kind: 'dense' as const }))];
  for (const { seed, kind } of cases) {
    const caseId = `${kind === 'plain' ? 'seed' : kind}-${seed}`;
    caseIds.push(caseId);
    const path = join(cache, `typestudy-${caseId}.json`);
    const c = await loadCase(seed, cache, kind);
    let list: StoredFinding[];
    let listBefore: StoredFinding[] | undefined;
    if (offline) {
      if (!existsSync(path)) throw new SrError('USAGE', `${path} missing: run once without --offline`);
      // --stored: the types the pipeline gave when the file was written (a baseline), else re-decided now.
      const rows = JSON.parse(readFileSync(path, 'utf8')) as StoredFinding[];
      // --no-refine: decideNoduleType alone (0.4.0's rule; the refinement on the mask does not change the mask).
      const retype = (e: TypeEvidence) => (values['no-refine'] ? decideNoduleType(e, rules).type : refineType(decideNoduleType(e, rules).type, e));
      list = values.stored ? rows : rows.map((f) => ({ ...f, type: retype(f.evidence) }));
    } else {
      const t0 = Date.now();
      const caseEvents: RetypeEvent<DetectedNodule>[] = [];
      const res = runPipeline(c.vol, { typeRules: rules, retype: retype ? { onRetype: (e) => caseEvents.push(e) } : false });
      const originals = new Map(caseEvents.map((e) => [e.after, e.before]));
      const row = (n: DetectedNodule, i: number): StoredFinding => ({
        id: `${caseId}/d${i}`, centerMm: n.centerMm, probability: n.probability, type: n.seg.type,
        diameterMm: n.measures.axes.meanDiameterMm, volumeMm3: Math.round(n.seg.volumeMm3 * 10) / 10, evidence: n.seg.typeEvidence,
      });
      // As the report: findings from the floor up, at most MAX_FINDINGS (report.ts).
      const reported = res.nodules.filter((n) => n.probability >= REPORT_FLOOR).slice(0, MAX_FINDINGS);
      list = reported.map(row);
      listBefore = reported.map((n, i) => row(originals.get(n) ?? n, i));
      for (const e of caseEvents) events.push({ caseId, e });
      writeFileSync(path, JSON.stringify(list));
      const ms = caseEvents.reduce((a, e) => a + e.ms, 0);
      process.stdout.write(`${caseId}: ${c.nodules.length} nodules, ${list.length} findings, ${((Date.now() - t0) / 1000).toFixed(0)} s`
        + (retype ? `, retype: ${caseEvents.filter((e) => !e.rejected).length} re-segmented of ${caseEvents.length} re-decided (${ms.toFixed(0)} ms)` : '') + '\n');
    }
    for (const f of list) {
      stored.set(f.id, f);
      detections.push({ caseId, id: f.id, centerMm: f.centerMm, probability: f.probability, diameterMm: f.diameterMm, volumeMm3: f.volumeMm3, type: f.type });
    }
    for (const f of listBefore ?? list) detectionsBefore.push({ caseId, id: f.id, centerMm: f.centerMm, probability: f.probability, diameterMm: f.diameterMm, volumeMm3: f.volumeMm3, type: f.type });
    for (const t of c.nodules) truth.push({ id: `${caseId}/${t.id}`, caseId, centerMm: t.centerMm, diameterMm: t.diameterMm, type: t.type, volumeMm3: t.volumeMm3, ...(t.placement ? { placement: t.placement } : {}), src: t });
  }

  // Threshold 0, as `secondreader eval chest` without --threshold (the figures in docs/validation.md).
  const m = computeNoduleMetrics(truth, detections, { caseIds });
  const byId = new Map(truth.map((t) => [t.id, t]));
  const out = (s: string) => process.stdout.write(`${s}\n`);
  if (retype) {
    const b = computeNoduleMetrics(truth, detectionsBefore, { caseIds });
    const v = b.volumeErrorPct5mm, d = b.diameterErrorMm5mm;
    out(`\nbefore retype: ${b.matched.length} matched, type accuracy ${(100 * b.typeConfusion.accuracy).toFixed(1)} % of ${b.typeConfusion.n}, CPM ${b.froc.cpm.toFixed(3)}`);
    out(formatMatrix(b.typeConfusion));
    out(`volume error median ${b.volumeErrorPct.median.toFixed(1)} % (|·| median ${b.volumeErrorPct.medianAbs.toFixed(1)} %, mean ${b.volumeErrorPct.meanAbs.toFixed(1)} %), n ${b.volumeErrorPct.n}`);
    out(`mean-diameter error median ${b.diameterErrorMm.median.toFixed(2)} mm (|·| median ${b.diameterErrorMm.medianAbs.toFixed(2)} mm, mean ${b.diameterErrorMm.meanAbs.toFixed(2)} mm), n ${b.diameterErrorMm.n}`);
    out(`≥ ${MEASURE_MIN_DIAMETER_MM} mm: volume error median ${v.median.toFixed(1)} % (|·| median ${v.medianAbs.toFixed(1)} %, mean ${v.meanAbs.toFixed(1)} %), mean-diameter error median ${d.median.toFixed(2)} mm (|·| median ${d.medianAbs.toFixed(2)} mm, mean ${d.meanAbs.toFixed(2)} mm), n ${v.n}`);
    const taken = events.filter((x) => !x.e.rejected);
    out(`\nretype: ${taken.length} of ${events.length} re-decided findings re-segmented (${events.reduce((a, x) => a + x.e.ms, 0).toFixed(0)} ms in all)`);
    for (const { caseId, e } of events) {
      out(`  ${caseId} p ${e.before.probability.toFixed(3)} ${e.before.seg.type} → ${e.after.seg.type}${e.rejected ? ` (kept: ${e.rejected})` : ''} vol ${e.before.seg.volumeMm3.toFixed(0)} → ${e.after.seg.volumeMm3.toFixed(0)} mm³, d ${e.before.measures.axes.meanDiameterMm.toFixed(1)} → ${e.after.measures.axes.meanDiameterMm.toFixed(1)} mm, ${e.ms.toFixed(0)} ms`);
    }
  }
  out(`\n${truth.length} nodules on ${caseIds.length} scans, ${m.matched.length} matched${offline ? ' (offline: types re-decided from stored evidence)' : retype ? ', after retype (as reported)' : ''}`);
  out(`type accuracy ${(100 * m.typeConfusion.accuracy).toFixed(1)} % of ${m.typeConfusion.n}`);
  out(formatMatrix(m.typeConfusion));
  for (const b of SIZE_BANDS) {
    const pairs = m.matched.filter((x) => sizeBand(x.truthDiameterMm) === b.label && x.truthType && x.foundType).map((x) => ({ truth: x.truthType as string, found: x.foundType as string }));
    if (pairs.length === 0) continue;
    const cm = confusionMatrix(pairs);
    out(`size ${b.label} mm: ${(100 * cm.accuracy).toFixed(1)} % of ${cm.n}`);
    out(formatMatrix(cm, '    '));
  }
  const v = m.volumeErrorPct, d = m.diameterErrorMm;
  out(`volume error median ${v.median.toFixed(1)} % (|·| median ${v.medianAbs.toFixed(1)} %, mean ${v.meanAbs.toFixed(1)} %), n ${v.n}`);
  out(`mean-diameter error median ${d.median.toFixed(2)} mm (|·| median ${d.medianAbs.toFixed(2)} mm, mean ${d.meanAbs.toFixed(2)} mm), n ${d.n}`);
  const v5 = m.volumeErrorPct5mm, d5 = m.diameterErrorMm5mm;
  out(`≥ ${MEASURE_MIN_DIAMETER_MM} mm: volume error median ${v5.median.toFixed(1)} % (|·| median ${v5.medianAbs.toFixed(1)} %, mean ${v5.meanAbs.toFixed(1)} %), mean-diameter error median ${d5.median.toFixed(2)} mm (|·| median ${d5.medianAbs.toFixed(2)} mm, mean ${d5.meanAbs.toFixed(2)} mm), n ${v5.n}`);
  out(`CPM ${m.froc.cpm.toFixed(3)} (reported findings only)`);
  // --dump FILE: the matched nodules with the evidence their type was decided from (type-model.ts trains on them).
  if (values.dump !== undefined) {
    const rows = m.matched.flatMap((x) => {
      const t = byId.get(x.truthId);
      const f = x.findingId !== undefined ? stored.get(x.findingId) : undefined;
      return t && f ? [{ truthId: x.truthId, truthType: t.type, truthDiameterMm: t.diameterMm, placement: t.placement ?? null, foundType: f.type, probability: f.probability, evidence: f.evidence }] : [];
    });
    writeFileSync(values.dump, JSON.stringify(rows));
    out(`${rows.length} matched nodules written to ${values.dump}`);
  }
  out('\nwrongly typed (truth → found):');
  for (const x of m.matched) {
    if (!values.all && x.truthType === x.foundType) continue;
    const t = byId.get(x.truthId);
    const f = x.findingId !== undefined ? stored.get(x.findingId) : undefined;
    if (!t || !f) continue;
    out(`  ${x.truthId} ${x.truthType} → ${x.foundType} p ${x.probability.toFixed(2)} | truth ${truthText(t.src)} | found ${f.diameterMm.toFixed(1)} mm vol ${(x.volumeErrorPct ?? NaN).toFixed(0)} % | ${evidenceText(f.evidence)}`);
  }
}

if (process.argv[1] && new URL(import.meta.url).pathname === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
}
