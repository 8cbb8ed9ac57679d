/**
 * Synthetic follow-up pairs: one patient (one chest anatomy from eval/phantoms/chest-anatomy.ts), scanned twice —
 * a prior and a current study a known number of days later, the patient lying a little differently (known rigid
 * motion: a few mm, ≤ 3°), nodules stable, grown, shrunk, new or gone, with known volumes and so known VDT.
 *
 * Coordinates: the anatomy is built in the PRIOR patient frame (prior LPS = anatomy coordinates). The current scan
 * sees the patient moved by M (anatomy point a appears at current LPS M·a); it is painted on a grid placed at
 * M⁻¹(current grid) in anatomy space and then written with the plain axial geometry, so its DICOM LPS is the moved
 * patient. `truth.currentToPriorMm` = M⁻¹, the matrix a registration must find (current LPS → prior LPS).
 *
 * Growth is drawn as a volume ratio and applied by scaling the nodule about its centre (the larger state is the
 * one planned, so the smaller stays inside the lung). Truth volumes and diameters are measured on the painted
 * shapes (common.ts measureShape/measureVolume), and the truth VDT comes from them (Schwartz 1961 formula,
 * src/clinical growth.ts), as does the expected Lung-RADS v2022 growth status (> 1.5 mm mean diameter in 12 months).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SrError } from '../../src/core/errors.ts';
import { GENERATOR } from '../../src/core/version.ts';
import { writeCtSeries } from '../../src/dicom/index.ts';
import { lungRadsGrowthStatus, volumeDoublingTimeDays } from '../../src/clinical/index.ts';
import type { LungRadsGrowth } from '../../src/clinical/index.ts';
import { applyAffine, createVolume, invertAffine, rigidAffine, voxelCount } from '../../src/imaging/index.ts';
import type { Affine4, Int16Volume, Mat3, Vec3 } from '../../src/imaging/index.ts';
import { buildChestAnatomy, paintChestAnatomy } from './chest-anatomy.ts';
import { planNodules } from './chest-nodules.ts';
import type { NoduleSpec, NoduleType } from './chest-nodules.ts';
import { Rng, acquire, measureShape, measureVolume, rasterize } from './common.ts';
import type { Shape } from './common.ts';

export type NoduleFate = 'stable' | 'grown' | 'shrunk' | 'new' | 'resolved';

export interface FollowUpPhantomOptions {
  seed: number | string;
  /** Default [384, 384, ≈260–300 mm / slice spacing]. */
  dims?: Vec3;
  /** Default in-plane 0.8 mm, slices = the thickness. */
  spacingMm?: Vec3;
  /** Default drawn from 1, 1.25, 1.5, 2 mm. */
  sliceThicknessMm?: number;
  /** Default drawn 3–6. */
  noduleCount?: number;
  /** Diameter range of the larger state (mm). Default [7, 16]. */
  noduleDiameterRangeMm?: [number, number];
  /** Largest rotation per axis (degrees; total ≤ √3 × this). Default 1.7 (total ≤ 3°). */
  maxRotationDeg?: number;
  /** Largest translation per axis (mm). Default 6. */
  maxTranslationMm?: number;
  /** Fates to draw from (at least one nodule gets each of the first fates while nodules last). */
  fates?: readonly NoduleFate[];
  threads?: number;
}

export interface FollowUpNoduleState {
  centerMm: Vec3;
  diameterMm: number;
  volumeMm3: number;
}

export interface FollowUpNoduleTruth {
  id: string;
  fate: NoduleFate;
  type: NoduleType;
  /** In the prior scan's LPS; absent for 'new'. */
  prior?: FollowUpNoduleState;
  /** In the current scan's LPS; absent for 'resolved'. */
  current?: FollowUpNoduleState;
  /** Lung-RADS v2022 growth from the true mean diameters (present on both scans only). */
  lungRadsGrowth?: LungRadsGrowth;
  /** What a reader should call it: new / stable / grown / shrunk / resolved (growth per Lung-RADS). */
  expectedStatus: NoduleFate;
  /** True VDT (days) from the true volumes; null when unchanged or not on both scans. */
  vdtDays: number | null;
}

export interface FollowUpPairTruth {
  format: 'secondreader.followup-truth';
  version: 1;
  seed: string;
  generator: { name: string; version: string };
  coordinateSystem: 'LPS-mm';
  patientId: string;
  priorStudyDate: string;
  currentStudyDate: string;
  intervalDays: number;
  /** Current patient LPS mm → prior patient LPS mm (4×4 row-major): what registration must recover. */
  currentToPriorMm: Affine4;
  motion: { rotationDeg: Vec3; translationMm: Vec3; centerMm: Vec3 };
  acquisition: { dims: Vec3; spacingMm: Vec3; sliceThicknessMm: number; originMm: Vec3; noiseSigmaHu: [number, number] };
  nodules: FollowUpNoduleTruth[];
  dicom?: { prior: { StudyInstanceUID: string; SeriesInstanceUID: string; files: number }; current: { StudyInstanceUID: string; SeriesInstanceUID: string; files: number } };
}

export interface FollowUpPair {
  prior: Int16Volume;
  current: Int16Volume;
  truth: FollowUpPairTruth;
}

const THICKNESSES = [1, 1.25, 1.5, 2];
const DEFAULT_FATES: readonly NoduleFate[] = ['grown', 'stable', 'new', 'resolved', 'shrunk', 'grown'];

function invalid(message: string): SrError {
  return new SrError('PHANTOM_INVALID_OPTIONS', message);
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The shape scaled by f about c (sdf scales with it, so it stays a conservative distance). */
function scaled(shape: Shape, c: Vec3, f: number): Shape {
  if (f === 1) return shape;
  const b = shape.bbox;
  return {
    bbox: { min: [0, 1, 2].map((a) => c[a]! + (b.min[a]! - c[a]!) * f) as Vec3, max: [0, 1, 2].map((a) => c[a]! + (b.max[a]! - c[a]!) * f) as Vec3 },
    sdf: (x, y, z) => f * shape.sdf(c[0] + (x - c[0]) / f, c[1] + (y - c[1]) / f, c[2] + (z - c[2]) / f),
  };
}

function dateString(base: number, days: number): string {
  const d = new Date(base + days * 86400000);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}

interface NoduleState { full: Shape; body: Shape; core?: Shape }

function stateOf(n: NoduleSpec, f: number): NoduleState {
  return { full: scaled(n.full, n.center, f), body: scaled(n.body, n.center, f), ...(n.core ? { core: scaled(n.core, n.center, f) } : {}) };
}

function measure(s: NoduleState, toScan: (p: Vec3) => Vec3): FollowUpNoduleState {
  const m = measureShape(s.body);
  const volumeMm3 = s.full === s.body ? m.volumeMm3 : measureVolume(s.full, 128);
  return { centerMm: toScan(m.centroidMm).map(round3) as Vec3, diameterMm: round3(m.meanAxialDiameterMm), volumeMm3: round3(volumeMm3) };
}

/** Generates one follow-up pair in memory (pure: same options → same voxels and truth). */
export function generateFollowUpPair(options: FollowUpPhantomOptions): FollowUpPair {
  const seed = String(options.seed);
  const root = new Rng(`followup/${seed}`);
  const acq = root.fork('acquisition');
  const thickness = options.sliceThicknessMm ?? acq.pick(THICKNESSES);
  const spacing: Vec3 = options.spacingMm ? [...options.spacingMm] : [0.8, 0.8, thickness];
  const dims: Vec3 = options.dims ? [...options.dims] : [384, 384, Math.round(acq.uniform(260, 300) / spacing[2])];
  if (dims.some((d) => !Number.isInteger(d) || d < 8)) throw invalid(`dims must be integers ≥ 8, got ${dims.join('×')}`);
  if (spacing.some((s) => !(s > 0))) throw invalid('spacing must be positive');
  const maxRot = options.maxRotationDeg ?? 1.7;
  const maxT = options.maxTranslationMm ?? 6;
  if (!(maxRot >= 0 && maxRot <= 10) || !(maxT >= 0 && maxT <= 50)) throw invalid('motion limits out of range (rotation 0–10°, translation 0–50 mm)');
  const noise: [number, number] = [round3(acq.uniform(10, 25)), round3(acq.uniform(10, 25))];
  const psf = round3(acq.uniform(0.6, 0.9));

  const fovX = dims[0] * spacing[0], fovY = dims[1] * spacing[1];
  const centerX = acq.uniform(-0.02, 0.02) * fovX, centerY = acq.uniform(-0.02, 0.02) * fovY;
  const zStart = round3(acq.uniform(-220, -140));
  const origin: Vec3 = [round3(centerX - ((dims[0] - 1) / 2) * spacing[0]), round3(centerY - ((dims[1] - 1) / 2) * spacing[1]), zStart];
  const zMin = zStart, zMax = zStart + (dims[2] - 1) * spacing[2];
  if (!(zMax - zMin > 60)) throw invalid('the volume must cover more than 60 mm along z');
  const frame = { fovX, fovY, centerX, centerY, zMin, zMax, partialCoverage: false };
  const anatomy = buildChestAnatomy(root.fork('anatomy'), frame);

  // Motion M (anatomy = prior LPS → current LPS): rotation about the middle of the scan, then translation.
  const mot = root.fork('motion');
  const rotationDeg: Vec3 = [round3(mot.uniform(-maxRot, maxRot)), round3(mot.uniform(-maxRot, maxRot)), round3(mot.uniform(-maxRot, maxRot))];
  const translationMm: Vec3 = [round3(mot.uniform(-maxT, maxT)), round3(mot.uniform(-maxT, maxT)), round3(mot.uniform(-maxT, maxT))];
  const centerMm: Vec3 = [round3(centerX), round3(centerY), round3((zMin + zMax) / 2)];
  const M = rigidAffine(rotationDeg, translationMm, centerMm);
  const Minv = invertAffine(M);

  // Nodules: planned at the larger state, away from the ends of the scan (motion moves them along z).
  const nod = root.fork('nodules');
  const count = options.noduleCount ?? nod.int(3, 6);
  const range = options.noduleDiameterRangeMm ?? [7, 16];
  const specs = planNodules(nod, anatomy, {
    count, types: ['solid', 'solid', 'solid', 'part-solid', 'ground-glass'], placements: ['free', 'free', 'juxta-vascular'],
    diameterRangeMm: range, zMin: zMin + 15 + maxT, zMax: zMax - 15 - maxT,
  });
  const fates = options.fates ?? DEFAULT_FATES;
  if (fates.length === 0) throw invalid('fates must not be empty');
  const fateRng = root.fork('fates');
  const dates = root.fork('dates');
  const intervalDays = dates.int(90, 420);
  const base = Date.UTC(2022, 0, 3) + dates.int(0, 365) * 86400000;
  const priorStudyDate = dateString(base, 0), currentStudyDate = dateString(base, intervalDays);

  const plans = specs.map((n, idx) => {
    const fate: NoduleFate = idx < fates.length ? fates[idx]! : fateRng.pick(fates);
    // Volume ratio current/prior: grown 1.8–3.5×, shrunk 0.25–0.55×.
    const ratio = fate === 'grown' ? fateRng.uniform(1.8, 3.5) : fate === 'shrunk' ? fateRng.uniform(0.25, 0.55) : 1;
    const fPrior = fate === 'grown' ? Math.cbrt(1 / ratio) : 1;
    const fCurrent = fate === 'shrunk' ? Math.cbrt(ratio) : 1;
    return { n, fate, prior: fate === 'new' ? undefined : stateOf(n, fPrior), current: fate === 'resolved' ? undefined : stateOf(n, fCurrent) };
  });

  const paintScan = (which: 'prior' | 'current'): Int16Volume => {
    // The current grid sits at M⁻¹(plain grid) in anatomy space: direction columns R⁻¹·e, origin M⁻¹(origin).
    const direction: Mat3 = which === 'prior' ? [1, 0, 0, 0, 1, 0, 0, 0, 1] : [Minv[0], Minv[1], Minv[2], Minv[4], Minv[5], Minv[6], Minv[8], Minv[9], Minv[10]] as Mat3;
    const o = which === 'prior' ? origin : applyAffine(Minv, origin);
    const canvas = createVolume(new Float32Array(new SharedArrayBuffer(voxelCount(dims) * 4)).fill(-1000), { dims, spacing, origin: o, direction });
    paintChestAnatomy(canvas, anatomy, root.fork('paint'));
    for (const p of plans) {
      const s = which === 'prior' ? p.prior : p.current;
      if (!s) continue;
      rasterize(canvas, s.full, { value: p.n.hu, supersample: 4 });
      if (s.core && p.n.coreHu !== undefined) rasterize(canvas, s.core, { value: p.n.coreHu, supersample: 4 });
    }
    const vol = acquire(canvas, { psfSigmaMm: psf, sliceThicknessMm: thickness, noiseSigmaHu: which === 'prior' ? noise[0] : noise[1], rng: root.fork(`noise/${which}`), ...(options.threads ? { threads: options.threads } : {}) });
    // Written with the plain axial geometry: the patient, not the grid, has moved.
    return createVolume(vol.data, { dims, spacing, origin, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
  };
  const prior = paintScan('prior');
  const current = paintScan('current');

  const months = intervalDays / (365.25 / 12);
  const nodules: FollowUpNoduleTruth[] = plans.map((p) => {
    const pr = p.prior ? measure(p.prior, (a) => a) : undefined;
    const cu = p.current ? measure(p.current, (a) => applyAffine(M, a)) : undefined;
    let growth: LungRadsGrowth | undefined;
    let expected: NoduleFate = p.fate;
    let vdt: number | null = null;
    if (pr && cu) {
      growth = lungRadsGrowthStatus({ priorMm: pr.diameterMm, currentMm: cu.diameterMm, intervalMonths: months });
      expected = growth === 'growing' || growth === 'slowly-growing' ? 'grown' : growth === 'decreased' ? 'shrunk' : 'stable';
      const v = volumeDoublingTimeDays(pr.volumeMm3, cu.volumeMm3, intervalDays);
      vdt = p.fate === 'stable' || !Number.isFinite(v) ? null : round3(v);
    }
    return {
      id: p.n.id, fate: p.fate, type: p.n.type,
      ...(pr ? { prior: pr } : {}), ...(cu ? { current: cu } : {}), ...(growth ? { lungRadsGrowth: growth } : {}),
      expectedStatus: expected, vdtDays: vdt,
    };
  });
  const truth: FollowUpPairTruth = {
    format: 'secondreader.followup-truth', version: 1, seed, generator: { name: GENERATOR.name, version: GENERATOR.version },
    coordinateSystem: 'LPS-mm', patientId: `FOLLOWUP-${seed}`.slice(0, 64), priorStudyDate, currentStudyDate, intervalDays,
    currentToPriorMm: Minv.map((x) => Math.round(x * 1e9) / 1e9), motion: { rotationDeg, translationMm, centerMm },
    acquisition: { dims, spacingMm: spacing, sliceThicknessMm: thickness, originMm: origin, noiseSigmaHu: noise },
    nodules,
  };
  return { prior, current, truth };
}

export interface FollowUpPairWriteResult {
  dir: string;
  priorDicomDir: string;
  currentDicomDir: string;
  truthPath: string;
  truth: FollowUpPairTruth;
}

/** Writes `dir/prior/dicom`, `dir/current/dicom` (two studies of one PatientID) and `dir/truth.json`. */
export async function writeFollowUpPair(dir: string, options: FollowUpPhantomOptions): Promise<FollowUpPairWriteResult> {
  const pair = generateFollowUpPair(options);
  const t = pair.truth;
  const written: Record<'prior' | 'current', { StudyInstanceUID: string; SeriesInstanceUID: string; files: number }> = {
    prior: { StudyInstanceUID: '', SeriesInstanceUID: '', files: 0 }, current: { StudyInstanceUID: '', SeriesInstanceUID: '', files: 0 },
  };
  for (const which of ['prior', 'current'] as const) {
    const outDir = join(dir, which, 'dicom');
    await mkdir(outDir, { recursive: true });
    const date = which === 'prior' ? t.priorStudyDate : t.currentStudyDate;
    const w = await writeCtSeries(which === 'prior' ? pair.prior : pair.current, {
      outDir, uidSeed: `followup-phantom/${t.seed}/${which}`, storage: 'signed', fileNaming: 'ordered', instanceOrder: 'position',
      patient: { PatientName: `Phantom^FollowUp^${t.seed}`, PatientID: t.patientId, PatientSex: 'M', ageYears: 65 },
      study: { StudyDescription: `CT CHEST LOW DOSE (synthetic follow-up, ${which})`, StudyID: which === 'prior' ? '1' : '2', StudyDate: date },
      series: { SeriesDescription: `Chest ${t.acquisition.sliceThicknessMm} mm (synthetic ${which})`, BodyPartExamined: 'CHEST', ProtocolName: 'Chest follow-up phantom' },
      sliceThicknessMm: t.acquisition.sliceThicknessMm,
      acquisition: { ConvolutionKernel: 'STANDARD', KVP: 120 },
      window: { center: -600, width: 1500 },
    });
    written[which] = { StudyInstanceUID: w.StudyInstanceUID, SeriesInstanceUID: w.SeriesInstanceUID, files: w.files.length };
  }
  t.dicom = written;
  const truthPath = join(dir, 'truth.json');
  await writeFile(truthPath, JSON.stringify(t, null, 2) + '\n');
  return { dir, priorDicomDir: join(dir, 'prior', 'dicom'), currentDicomDir: join(dir, 'current', 'dicom'), truthPath, truth: t };
}

export interface FollowUpPairsOptions extends Omit<FollowUpPhantomOptions, 'seed'> {
  seed: number | string;
  cases: number;
  onProgress?: (done: number, total: number, id: string) => void;
}

/** Writes `cases` pairs as outDir/pair-0001, … (each seeded `${seed}/pair-000N`) and outDir/pairs.json. */
export async function writeFollowUpPairs(outDir: string, options: FollowUpPairsOptions): Promise<FollowUpPairWriteResult[]> {
  if (!(Number.isInteger(options.cases) && options.cases > 0)) throw invalid('cases must be a positive integer');
  const { cases, seed, onProgress, ...rest } = options;
  await mkdir(outDir, { recursive: true });
  const out: FollowUpPairWriteResult[] = [];
  for (let c = 1; c <= cases; c++) {
    const id = `pair-${String(c).padStart(4, '0')}`;
    out.push(await writeFollowUpPair(join(outDir, id), { ...rest, seed: `${String(seed)}/${id}` }));
    onProgress?.(c, cases, id);
  }
  await writeFile(join(outDir, 'pairs.json'), JSON.stringify({
    format: 'secondreader.followup-pairs', version: 1, seed: String(seed),
    pairs: out.map((r, i) => ({ id: `pair-${String(i + 1).padStart(4, '0')}`, prior: `pair-${String(i + 1).padStart(4, '0')}/prior/dicom`, current: `pair-${String(i + 1).padStart(4, '0')}/current/dicom`, truth: `pair-${String(i + 1).padStart(4, '0')}/truth.json` })),
  }, null, 2) + '\n');
  return out;
}
