/**
 * Development tool (not shipped behaviour): statistics of the "through-plane bone band" (cavity voxels < 200 HU
 * with ≥ 200 HU on the slice above or below; blood.ts UNDER_BONE_HU) against the rest of the cavity, per
 * distance from the inner table, on the real GE head CT and on bleed-free tuning phantoms (seed < 1000).
 *
 *   node --import tsx src/analyses/head-ct-hemorrhage/band-stats.ts [--seeds 1] [--real]
 */
import { parseArgs } from 'node:util';
import { SrError } from '../../core/errors.ts';
import type { Int16Volume } from '../../imaging/index.ts';
import { generateHeadPhantom } from '../../../eval/phantoms/head.ts';
import { extractBrain } from './brain-extraction.ts';
import { smoothForBlood } from './blood.ts';
import { toWorkingGrid } from './grid.ts';
import { casePlan, loadRealHead } from './tune.ts';

const BINS = [0, 2.5, 5, 10, 15, 1e9];

function q(a: number[], p: number): number {
  if (a.length === 0) return NaN;
  a.sort((x, y) => x - y);
  return a[Math.min(a.length - 1, Math.floor(p * a.length))] as number;
}

export function bandStats(volume: Int16Volume, name: string): void {
  const hu = toWorkingGrid(volume).hu;
  const masks = extractBrain(hu);
  const s = smoothForBlood(hu).data;
  const [nx, ny, nz] = hu.dims;
  const plane = nx * ny;
  const band: number[][] = BINS.slice(1).map(() => []), rest: number[][] = BINS.slice(1).map(() => []);
  for (let k = 0; k < nz; k++) {
    for (let p = 0; p < plane; p++) {
      const v = k * plane + p;
      if (masks.cavity.data[v] === 0 || (hu.data[v] as number) >= 200) continue;
      const t = masks.tableDistMm.data[v] as number;
      let b = 0;
      while (t >= (BINS[b + 1] as number)) b++;
      const inBand = (k + 1 < nz && (hu.data[v + plane] as number) >= 200) || (k > 0 && (hu.data[v - plane] as number) >= 200);
      (inBand ? band : rest)[b]?.push(s[v] as number);
    }
  }
  const f = (x: number): string => x.toFixed(0).padStart(4);
  let line = `${name.padEnd(34)} sp ${hu.spacing.map((x) => x.toFixed(2)).join('x')} |`;
  for (let b = 0; b < band.length; b++) {
    const bb = band[b] as number[], rr = rest[b] as number[];
    line += ` ${BINS[b]}-${BINS[b + 1] === 1e9 ? '∞' : String(BINS[b + 1])}: band n${String(bb.length).padStart(6)} med${f(q(bb, 0.5))} p90${f(q(bb, 0.9))} / rest med${f(q(rr, 0.5))} p90${f(q(rr, 0.9))} |`;
  }
  process.stdout.write(line + '\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seeds: { type: 'string' }, real: { type: 'boolean' }, cases: { type: 'string' } } });
  if (values.real) {
    bandStats(await loadRealHead(), 'GE-human-head');
  }
  if (values.seeds === undefined) return;
  for (const seed of values.seeds.split(',').map(Number)) {
    if (!Number.isInteger(seed) || seed < 0 || seed >= 1000) throw new SrError('USAGE', 'tuning seeds only (0..999)');
    for (const p of casePlan(seed, Number(values.cases ?? 24))) {
      if (p.bleedType !== 'none') continue;
      const ph = generateHeadPhantom({ seed: p.seed, bleedType: p.bleedType, sliceThicknessMm: p.thickness, tiltDeg: p.tilt });
      bandStats(ph.volume, `${p.seed} ${p.thickness}mm tilt ${p.tilt}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => { process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`); process.exit(1); });
}
