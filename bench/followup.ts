/**
 * Follow-up registration: time per pair and peak RSS of src/imaging/registration.ts on synthetic follow-up pairs
 * (eval/phantoms/followup.ts, 384×384×≈150–300, known motion), rigid and rigid + affine, with the lung masks of
 * the chest analysis's lung segmentation (timed separately), and the error against the known motion.
 *
 *   node --import tsx bench/followup.ts [--pairs N]      (npm run bench -- followup)
 *
 * Then the real-data check: each real CT in ../shared/data (IBSI CT phantom — a real lung-cancer CT —, the LIDC-IDRI-0003
 * excerpt, TotalSegmentator's chest-abdomen-pelvis example) registered to a copy of itself moved by a known rigid
 * transform (2.5°/−1.5°/2° and 5/−4/6 mm; the copy is resampled trilinearly, −1000 HU outside), error at the corners of
 * the central 60 % box and the centre.
 *
 * Side by side: itk-wasm elastix (@itk-wasm/elastix, a dev dependency; DEPENDENCIES.md) with its default rigid
 * parameter map (3 resolutions, Mattes mutual information, random sampling) on the same pairs, clipped HU as float32,
 * its Euler transform (fixed → moving, like ours) turned into a matrix and scored the same way.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { scanPaths } from '../src/dicom/index.ts';
import { seriesInputs } from '../src/engine/index.ts';
import {
  boxProbePoints, composeAffine, invertAffine, readNifti, registerVolumes, rigidAffine, rotationAngleDeg, transformDiscrepancyMm, warpVolume,
} from '../src/imaging/index.ts';
import type { Volume } from '../src/imaging/index.ts';
import { segmentLungs } from '../src/analyses/chest-ct-nodules/lung-segmentation.ts';
import { generateFollowUpPair } from '../eval/phantoms/followup.ts';

export interface BenchFollowUpRow {
  readonly pair: string;
  readonly voxels: number;
  readonly lungsMs: number;
  readonly rigidMs: number;
  readonly affineMs: number;
  readonly rigidErrorMm: number;
  readonly affineErrorMm: number;
}

function rssMb(): number {
  // resourceUsage().maxRSS is in kilobytes.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

export async function benchFollowUp(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<BenchFollowUpRow[]> {
  const i = process.argv.indexOf('--pairs');
  const n = i >= 0 ? Math.max(1, Number(process.argv[i + 1]) || 1) : 2;
  const rows: BenchFollowUpRow[] = [];
  log(`follow-up registration on ${n} synthetic pair(s) (current → prior, lungs masks; phantom generation not timed)`);
  log('pair            voxels     lungs×2    rigid      rigid+affine  error rigid / affine (mm)   peak RSS');
  for (let p = 1; p <= n; p++) {
    const pair = generateFollowUpPair({ seed: `bench-followup/${p}` });
    const t0 = performance.now();
    const fm = segmentLungs(pair.current).labels, mm = segmentLungs(pair.prior).labels;
    const lungsMs = performance.now() - t0;
    const probes = boxProbePoints(pair.current);
    const t1 = performance.now();
    const rigid = registerVolumes(pair.current, pair.prior, { transform: 'rigid', fixedMask: fm, movingMask: mm });
    const rigidMs = performance.now() - t1;
    const t2 = performance.now();
    const affine = registerVolumes(pair.current, pair.prior, { transform: 'affine', fixedMask: fm, movingMask: mm });
    const affineMs = performance.now() - t2;
    const row: BenchFollowUpRow = {
      pair: `bench-followup/${p}`, voxels: pair.current.data.length, lungsMs, rigidMs, affineMs,
      rigidErrorMm: transformDiscrepancyMm(rigid.matrix, pair.truth.currentToPriorMm, probes).mean,
      affineErrorMm: transformDiscrepancyMm(affine.matrix, pair.truth.currentToPriorMm, probes).mean,
    };
    rows.push(row);
    log(`${row.pair.padEnd(16)}${(row.voxels / 1e6).toFixed(1).padStart(5)} M  ${(lungsMs / 1000).toFixed(2).padStart(7)} s ${(rigidMs / 1000).toFixed(2).padStart(7)} s ${(affineMs / 1000).toFixed(2).padStart(10)} s    ${row.rigidErrorMm.toFixed(2)} / ${row.affineErrorMm.toFixed(2)}                 ${rssMb()} MB`);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  log(`median per pair: registration (rigid + affine) ${(med(rows.map((r) => r.affineMs)) / 1000).toFixed(2)} s, rigid only ${(med(rows.map((r) => r.rigidMs)) / 1000).toFixed(2)} s, ` +
    `lung masks ${(med(rows.map((r) => r.lungsMs)) / 1000).toFixed(2)} s; peak RSS ${rssMb()} MB (includes the phantom generator)`);
  return rows;
}

/** ITK Euler3DTransform (ComputeZYX false): R = Rz·Rx·Ry, x ↦ R(x − c) + c + t, as a 4×4. */
function eulerItkToAffine(p: readonly number[], c: readonly number[]): number[] {
  const [ax, ay, az] = [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0];
  const cx = Math.cos(ax), sx = Math.sin(ax), cy = Math.cos(ay), sy = Math.sin(ay), cz = Math.cos(az), sz = Math.sin(az);
  const rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1], rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx], ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const mul = (a: number[], b: number[]) => [0, 1, 2].flatMap((i) => [0, 1, 2].map((j) => [0, 1, 2].reduce((acc, q) => acc + a[i * 3 + q]! * b[q * 3 + j]!, 0)));
  const r = mul(mul(rz, rx), ry);
  const t = [p[3] ?? 0, p[4] ?? 0, p[5] ?? 0];
  const row = (i: number) => t[i]! + c[i]! - (r[i * 3]! * c[0]! + r[i * 3 + 1]! * c[1]! + r[i * 3 + 2]! * c[2]!);
  return [r[0]!, r[1]!, r[2]!, row(0), r[3]!, r[4]!, r[5]!, row(1), r[6]!, r[7]!, r[8]!, row(2), 0, 0, 0, 1];
}

export interface ElastixRow { readonly pair: string; readonly ms: number; readonly errorMm: number }

/** The same pairs registered by itk-wasm elastix (default rigid map). Reports "not installed" without the package. */
export async function benchElastix(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`), pairs = 1): Promise<ElastixRow[]> {
  let itk: typeof import('itk-wasm');
  let elx: typeof import('@itk-wasm/elastix');
  try {
    itk = await import('itk-wasm');
    elx = await import('@itk-wasm/elastix');
  } catch {
    log('\nitk-wasm elastix: not installed (npm install --save-dev @itk-wasm/elastix) — not measured');
    return [];
  }
  const toImage = (v: Volume) => {
    const im = new itk.Image(new itk.ImageType(3, itk.FloatTypes.Float32, itk.PixelTypes.Scalar, 1));
    im.size = [...v.dims];
    im.spacing = [...v.spacing];
    im.origin = [...v.origin];
    // itk-wasm direction: column-major 3×3; ours is row-major with the axes as columns — the transpose.
    const d = v.direction;
    im.direction = new Float64Array([d[0], d[3], d[6], d[1], d[4], d[7], d[2], d[5], d[8]]);
    im.data = Float32Array.from(v.data as ArrayLike<number>, (x) => (x < -1000 ? -1000 : x > 300 ? 300 : x));
    return im;
  };
  const { parameterMap } = await elx.defaultParameterMapNode('rigid', { numberOfResolutions: 3 });
  const rows: ElastixRow[] = [];
  log('\nitk-wasm elastix, default rigid parameter map (3 resolutions), same pairs, clipped HU');
  for (let p = 1; p <= pairs; p++) {
    const pair = generateFollowUpPair({ seed: `bench-followup/${p}` });
    const t0 = performance.now();
    const res = await elx.elastixNode([parameterMap], { fixed: toImage(pair.current), moving: toImage(pair.prior) });
    const ms = performance.now() - t0;
    const map = (res.transformParameterObject as Record<string, string[]>[])[0] ?? {};
    const matrix = eulerItkToAffine((map['TransformParameters'] ?? []).map(Number), (map['CenterOfRotationPoint'] ?? []).map(Number));
    const errorMm = transformDiscrepancyMm(matrix, pair.truth.currentToPriorMm, boxProbePoints(pair.current)).mean;
    rows.push({ pair: `bench-followup/${p}`, ms, errorMm });
    log(`  bench-followup/${p}: ${(ms / 1000).toFixed(2)} s, error ${errorMm.toFixed(2)} mm (${map['Transform']?.[0] ?? '?'})`);
  }
  return rows;
}

const DATA_ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..', '..', 'shared', 'data');

async function dicomVolume(dir: string): Promise<Volume> {
  const input = seriesInputs(await scanPaths([dir])).inputs.sort((a, b) => b.header.instanceCount - a.header.instanceCount)[0];
  if (!input) throw new Error(`no series in ${dir}`);
  return (await input.loadVolume(new AbortController().signal)).volume;
}

export interface RealRegistrationRow { readonly name: string; readonly dims: string; readonly errorMm: number; readonly maxErrorMm: number; readonly angleErrorDeg: number; readonly ms: number }

/** Real CTs registered to moved copies of themselves (known transform). Missing data is reported, not fatal. */
export async function benchRealRegistration(log: (s: string) => void = (s) => process.stdout.write(`${s}\n`), dataRoot = DATA_ROOT): Promise<RealRegistrationRow[]> {
  const sources: { name: string; load: () => Promise<Volume>; path: string }[] = [
    { name: 'IBSI CT phantom (real lung CT)', path: join(dataRoot, 'radiomics-ibsi', 'ibsi_1_ct_radiomics_phantom', 'dicom', 'image'), load: async () => dicomVolume(join(dataRoot, 'radiomics-ibsi', 'ibsi_1_ct_radiomics_phantom', 'dicom', 'image')) },
    { name: 'LIDC-IDRI-0003 excerpt (11 slices)', path: join(dataRoot, 'chest-ct-lidc', 'LIDC-IDRI-0003'), load: async () => dicomVolume(join(dataRoot, 'chest-ct-lidc', 'LIDC-IDRI-0003')) },
    { name: 'TotalSegmentator example_ct (3 mm)', path: join(dataRoot, 'ct-totalsegmentator', 'example_ct.nii.gz'), load: async () => (await readNifti(join(dataRoot, 'ct-totalsegmentator', 'example_ct.nii.gz'))).volume },
  ];
  const rows: RealRegistrationRow[] = [];
  log('\nreal CT registered to a moved copy of itself (known rigid transform)');
  for (const src of sources) {
    if (!existsSync(src.path)) {
      log(`  ${src.name}: not found under ${src.path}`);
      continue;
    }
    const fixed = await src.load();
    const c = boxProbePoints(fixed)[8] ?? [0, 0, 0];
    const truth = rigidAffine([2.5, -1.5, 2], [5, -4, 6], c);
    const moving = warpVolume(fixed, invertAffine(truth), fixed, -1000);
    // Thin stacks (the LIDC excerpt is 27.5 mm deep) cannot hold a 6 mm pyramid level along z; 3 mm then 1.5 mm.
    const thin = fixed.dims[2] * fixed.spacing[2] < 60;
    const t0 = performance.now();
    const reg = registerVolumes(fixed, moving, { transform: 'rigid', ...(thin ? { levelsMm: [3, 1.5] } : {}) });
    const ms = performance.now() - t0;
    // Errors inside the central 60 % of the volume (the moved copy is cut at the edges).
    const probes = boxProbePoints(fixed).map((p) => p.map((x, a) => c[a]! + 0.6 * (x - c[a]!)) as [number, number, number]);
    const e = transformDiscrepancyMm(reg.matrix, truth, probes);
    const row = { name: src.name, dims: fixed.dims.join('×') + ` @ ${fixed.spacing.map((x) => x.toFixed(2)).join('×')} mm`, errorMm: e.mean, maxErrorMm: e.max, angleErrorDeg: rotationAngleDeg(composeAffine(invertAffine(truth), reg.matrix)), ms };
    rows.push(row);
    log(`  ${row.name}: ${row.dims}: error mean ${row.errorMm.toFixed(2)} mm, max ${row.maxErrorMm.toFixed(2)} mm, rotation error ${row.angleErrorDeg.toFixed(2)}°, ${(ms / 1000).toFixed(2)} s`);
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await benchFollowUp();
  await benchElastix();
  await benchRealRegistration();
}
