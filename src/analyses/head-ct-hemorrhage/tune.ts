/**
 * Development tool (not shipped behaviour): runs head-ct-hemorrhage on the fair phantom case plan for TUNING seeds
 * (< 1000 only; `secondreader eval head` refuses them) and prints the eval metrics (eval/metrics/hemorrhage.ts)
 * plus per-case details: every reported bleed and every rejected candidate ≥ 0.2 mL with its features.
 *
 *   node --import tsx src/analyses/head-ct-hemorrhage/tune.ts --seeds 1,2 [--cases 24] [--only head-007] [--quiet]
 *
 * The case plan (type, thickness, tilt per case index) is the one of eval/phantoms/head.ts writeHeadPhantomCases;
 * volumes run in memory (no DICOM round trip). Phantoms are cached under $TMPDIR/sr-head-tune (they are slow to
 * generate and never change for a seed).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SrError } from '../../core/errors.ts';
import type { FindingJson } from '../../engine/index.ts';
import { createVolume } from '../../imaging/index.ts';
import type { Int16Volume } from '../../imaging/index.ts';
import { BLEED_TYPES } from '../../../eval/phantoms/head-lesions.ts';
import { generateHeadPhantom } from '../../../eval/phantoms/head.ts';
import type { HeadBleedChoice, HeadPhantomTruth } from '../../../eval/phantoms/head.ts';
import { computeHemorrhageMetrics } from '../../../eval/metrics/hemorrhage.ts';
import type { HeadCasePrediction, HeadCaseTruth } from '../../../eval/metrics/hemorrhage.ts';
import { headPrediction } from '../../../eval/run-eval.ts';
import { formatHemorrhageMetrics } from '../../../eval/report.ts';
import { reproducibleFaint, requiredContrastHu } from './classify-type.ts';
import { headOutput } from './manifest.ts';
import { runPipeline } from './pipeline.ts';
import type { PipelineResult } from './pipeline.ts';

const TUNING_SEED_MAX = 1000;
// Renamed whenever the phantom's voxels change (ssp: Gaussian slice profile, 2026-11-30).
const CACHE = join(tmpdir(), 'sr-head-tune-ssp');

interface PlannedCase { caseId: string; seed: string; bleedType: HeadBleedChoice; thickness: 2.5 | 5; tilt: number }

/** The case plan of writeHeadPhantomCases (eval/phantoms/head.ts), without writing DICOM. */
export function casePlan(seed: number, cases: number): PlannedCase[] {
  const types: HeadBleedChoice[] = ['none', ...BLEED_TYPES];
  const out: PlannedCase[] = [];
  for (let c = 0; c < cases; c++) {
    const caseId = `head-${String(c + 1).padStart(3, '0')}`;
    const mix = c + Math.floor(c / types.length);
    out.push({ caseId, seed: `${seed}/${caseId}`, bleedType: types[c % types.length] as HeadBleedChoice, thickness: mix % 2 === 0 ? 5 : 2.5, tilt: mix % 4 === 3 ? 12 + (c % 9) : 0 });
  }
  return out;
}

function loadCase(p: PlannedCase): { volume: Int16Volume; truth: HeadPhantomTruth } {
  const dir = join(CACHE, p.seed.replace(/\//g, '_'));
  const meta = join(dir, 'meta.json'), raw = join(dir, 'hu.bin');
  if (existsSync(meta) && existsSync(raw)) {
    const m = JSON.parse(readFileSync(meta, 'utf8')) as { geometry: Pick<Int16Volume, 'dims' | 'spacing' | 'origin' | 'direction'>; truth: HeadPhantomTruth };
    const buf = readFileSync(raw);
    const data = new Int16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2).slice();
    return { volume: createVolume(data, m.geometry), truth: m.truth };
  }
  const ph = generateHeadPhantom({ seed: p.seed, bleedType: p.bleedType, sliceThicknessMm: p.thickness, tiltDeg: p.tilt });
  mkdirSync(dir, { recursive: true });
  const { dims, spacing, origin, direction } = ph.volume;
  // Temporary names, renamed when whole (the volume last): a run killed mid-write leaves no truncated case behind.
  const tmp = join(dir, `.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify({ geometry: { dims, spacing, origin, direction }, truth: ph.truth }));
  renameSync(tmp, meta);
  writeFileSync(tmp, Buffer.from(ph.volume.data.buffer, ph.volume.data.byteOffset, ph.volume.data.byteLength));
  renameSync(tmp, raw);
  return { volume: ph.volume, truth: ph.truth };
}

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : 'NaN');

function printComponents(r: PipelineResult): void {
  for (const b of r.bleeds) {
    const f = b.features;
    const faint = f.coreHu - f.backgroundHu < requiredContrastHu(f) && reproducibleFaint(f) ? ' [faint, reproducible]' : '';
    process.stdout.write(`   + ${b.type}${faint} ${f.volumeMl.toFixed(2)} mL (${f.voxels} vox) core ${f1(f.coreHu)} bg ${f1(f.backgroundHu)} thick ${f1(f.thicknessMm)} table ${f1(f.tableFraction)} maxTd ${f1(f.maxTableDistMm)} surf ${f1(f.surfaceFraction)} mid ${f1(f.midlineDistMm)} midF ${f1(f.midlineFraction)} sup ${f1(f.superiorMm)} dense ${f1(f.denseNearFraction)} maxRaw ${f.maxRawHu} xs ${f1(f.crossSliceHu)} σ ${f1(f.noiseHu)} p ${b.probability}\n`);
  }
  for (const x of r.rejected) {
    const f = x.features;
    if (f.volumeMl < 0.2) continue;
    process.stdout.write(`   - ${x.why}: ${f.volumeMl.toFixed(2)} mL (${f.voxels} vox) core ${f1(f.coreHu)} bg ${f1(f.backgroundHu)} thick ${f1(f.thicknessMm)} table ${f1(f.tableFraction)} dense ${f1(f.denseNearFraction)} maxRaw ${f.maxRawHu} xs ${f1(f.crossSliceHu)} σ ${f1(f.noiseHu)} mid ${f1(f.midlineDistMm)} midF ${f1(f.midlineFraction)} sup ${f1(f.superiorMm)} post ${f1(f.posteriorMm)} ext ${f.extentsMm.map(f1).join('/')}\n`);
  }
}

/** The real GE head CT of the shared data (no bleed expected), as a volume (dev tools). */
export async function loadRealHead(): Promise<Int16Volume> {
  const dir = new URL('../../../../shared/data/ct-head-gantry-tilt/GE-human-head', import.meta.url).pathname;
  const { scanPaths } = await import('../../dicom/index.ts');
  const { seriesInputs } = await import('../../engine/index.ts');
  const inp = seriesInputs(await scanPaths([dir])).inputs[0];
  if (!inp) throw new SrError('NOT_FOUND', `no series under ${dir}`);
  return (await inp.loadVolume(new AbortController().signal)).volume;
}

/** The real GE head CT: every component, reported or rejected. */
async function real(): Promise<void> {
  const r = runPipeline(await loadRealHead());
  process.stdout.write(`GE-human-head: smoothed σ ${r.noiseHu?.toFixed(2)}, ${r.bleeds.length} bleed(s)\n`);
  printComponents(r);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, cases: { type: 'string' }, only: { type: 'string' }, quiet: { type: 'boolean' }, real: { type: 'boolean' } } });
  if (values.real) { await real(); return; }
  const seeds = (values.seeds ?? '1').split(',').map(Number);
  if (seeds.some((s) => !Number.isInteger(s) || s < 0 || s >= TUNING_SEED_MAX)) throw new SrError('USAGE', `tuning seeds must be integers 0..${TUNING_SEED_MAX - 1}`);
  const cases = Number(values.cases ?? 24);
  const only = values.only?.split(',');
  const truths: HeadCaseTruth[] = [];
  const preds: HeadCasePrediction[] = [];
  const t0 = performance.now();
  for (const seed of seeds) {
    for (const p of casePlan(seed, cases)) {
      if (only && !only.includes(p.caseId) && !only.includes(p.seed)) continue;
      const { volume, truth } = loadCase(p);
      const id = p.seed;
      const r = runPipeline(volume);
      const noise = r.noiseHu;
      const out = headOutput(r, volume);
      const findings = JSON.parse(JSON.stringify(out.findings)) as FindingJson[];
      preds.push(headPrediction(id, findings, out.measurements, 0));
      truths.push({
        caseId: id, hasHemorrhage: truth.hasHemorrhage, midlineShiftMm: truth.midlineShiftMm,
        bleeds: truth.bleeds.map((b) => ({ id: b.id, type: b.type, volumeMl: b.volumeMl, centerMm: b.centerMm, ...(b.extentMm ? { extentMm: b.extentMm } : {}) })),
      });
      if (values.quiet) continue;
      const tb = truth.bleeds[0];
      const par = truth.parameters;
      process.stdout.write(`${id} ${p.bleedType} ${par.sliceThicknessMm} mm tilt ${par.tiltDeg}° noise ${par.noiseSigmaHu} (smoothed σ ${noise?.toFixed(2)})` +
        (tb ? ` | truth ${tb.volumeMl.toFixed(2)} mL ${tb.hu} HU ${tb.site}${tb.maxThicknessMm !== undefined ? ` ${tb.maxThicknessMm} mm thick` : ''}` : '') + '\n');
      printComponents(r);
    }
  }
  const m = computeHemorrhageMetrics(truths, preds);
  process.stdout.write(`\n${formatHemorrhageMetrics(m)}\n\n${truths.length} cases in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`); process.exit(1); });
}
