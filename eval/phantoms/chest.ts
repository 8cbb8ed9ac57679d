/**
 * Synthetic chest CT with lung nodules and analytic truth.
 *
 * generateChestPhantom → { volume (Int16 HU, LPS), truth, labels? } in memory; writeChestPhantomCase(s) write a
 * real CT series through src/dicom writeCtSeries plus truth.json (format: eval/phantoms/README.md). Everything is
 * drawn from the seed: the same options give the same voxels, UIDs and files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SrError } from '../../src/core/errors.ts';
import { GENERATOR } from '../../src/core/version.ts';
import { gantryTiltDirection, writeCtSeries } from '../../src/dicom/index.ts';
import type { CtFileNaming, CtInstanceOrder, CtPixelStorage } from '../../src/dicom/index.ts';
import { createVolume, ijkToLps, voxelCount, voxelVolumeMm3, writeNifti } from '../../src/imaging/index.ts';
import type { Int16Volume, Mat3, MaskVolume, Vec3 } from '../../src/imaging/index.ts';
import { buildChestAnatomy, paintChestAnatomy } from './chest-anatomy.ts';
import type { Lobe, Side } from './chest-anatomy.ts';
import { planNodules } from './chest-nodules.ts';
import type { NodulePlacement, NoduleShapeKind, NoduleType } from './chest-nodules.ts';
import { Rng, acquire, measureShape, measureVolume, rasterize } from './common.ts';

export type { NodulePlacement, NoduleShapeKind, NoduleType } from './chest-nodules.ts';
export { NODULE_PLACEMENTS, NODULE_SHAPES, NODULE_TYPES } from './chest-nodules.ts';
export type { Lobe, Side } from './chest-anatomy.ts';

export interface ChestPhantomOptions {
  seed: number | string;
  /** [columns, rows, slices]; default 512 × 512 × (≈280–340 mm / slice spacing). */
  dims?: Vec3;
  /** [column spacing, row spacing, slice spacing] mm; default in-plane drawn 0.6–0.9, slices from the thickness. */
  spacingMm?: Vec3;
  /** Default drawn from 0.625, 1, 1.25, 1.5, 2, 2.5, 3 (slice spacing = thickness, or 80 % of it). */
  sliceThicknessMm?: number;
  /** Default drawn 0–6. */
  noduleCount?: number;
  noduleTypes?: readonly NoduleType[];
  noduleShapes?: readonly NoduleShapeKind[];
  nodulePlacements?: readonly NodulePlacement[];
  /** Default [3, 30] (calcified ≤ 12, part-solid ≥ 6, ground-glass ≥ 5). */
  noduleDiameterRangeMm?: [number, number];
  /** Default drawn 10–30 HU. */
  noiseSigmaHu?: number;
  /** In-plane PSF σ (mm); default drawn 0.6–1.0. */
  psfSigmaMm?: number;
  /** 'partial': the scan covers only part of the lungs. Default 'full'. */
  coverage?: 'full' | 'partial';
  /** Gantry tilt (degrees, sheared grid); default 0. */
  gantryTiltDeg?: number;
  /** Also return a label volume (nodule index 1..n where coverage ≥ 50 %). */
  labels?: boolean;
  patient?: { sex?: 'M' | 'F'; ageYears?: number };
  /** Kernel threads for the blur. */
  threads?: number;
}

export interface ChestNoduleTruth {
  id: string;
  type: NoduleType;
  shape: NoduleShapeKind;
  placement: NodulePlacement;
  side: Side;
  lobe: Lobe;
  /** Centroid of the nodule body (LPS mm). */
  centerMm: Vec3;
  /** Lung-RADS mean diameter: (long + short axis) / 2 on the axial plane of greatest extent. */
  diameterMm: number;
  longAxisMm: number;
  shortAxisMm: number;
  /** Diameter of the sphere of equal volume. */
  equivalentDiameterMm: number;
  /** True volume of everything painted (body + spicules), mm³. */
  volumeMm3: number;
  /** Mean diameter of the solid component (part-solid only). */
  solidComponentDiameterMm?: number;
  solidComponentVolumeMm3?: number;
  /** Noise-free attenuation of the nodule (of the ground-glass part for part-solid), HU. */
  hu: number;
  solidComponentHu?: number;
}

export interface ChestPhantomTruth {
  format: 'secondreader.phantom-truth';
  version: 1;
  kind: 'chest-ct';
  seed: string;
  generator: { name: string; version: string };
  coordinateSystem: 'LPS-mm';
  acquisition: {
    dims: Vec3;
    spacingMm: Vec3;
    sliceThicknessMm: number;
    originMm: Vec3;
    direction: Mat3;
    psfSigmaMm: number;
    noiseSigmaHu: number;
    gantryTiltDeg: number;
    coverage: 'full' | 'partial';
  };
  patient: { sex: 'M' | 'F'; ageYears: number };
  anatomy: { bodyWidthMm: number; lungBaseZMm: number; lungApexZMm: number; fissures: boolean; vesselSegments: number };
  /** Filled in by writeChestPhantomCase. */
  dicom?: {
    storage: CtPixelStorage;
    fileNaming: CtFileNaming;
    instanceOrder: CtInstanceOrder;
    StudyInstanceUID: string;
    SeriesInstanceUID: string;
    files: number;
  };
  nodules: ChestNoduleTruth[];
}

export interface ChestPhantom {
  volume: Int16Volume;
  truth: ChestPhantomTruth;
  labels?: MaskVolume;
  /** What was actually painted, per nodule: Σ coverage × voxel volume, and voxels with coverage ≥ 50 %. */
  painted: { id: string; volumeMm3: number; voxelsHalf: number }[];
  /** CPU milliseconds per stage (process-wide: the blur's worker threads count too). */
  cpuMs: Record<string, number>;
  /** Wall-clock milliseconds per stage. */
  wallMs: Record<string, number>;
}

const THICKNESSES = [0.625, 1, 1.25, 1.5, 2, 2.5, 3];

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function invalid(message: string): SrError {
  return new SrError('PHANTOM_INVALID_OPTIONS', message);
}

/** Generates one chest phantom in memory (pure: same options → same result). */
export function generateChestPhantom(options: ChestPhantomOptions): ChestPhantom {
  const seed = String(options.seed);
  const root = new Rng(`chest/${seed}`);
  const cpuMs: Record<string, number> = {};
  const wallMs: Record<string, number> = {};
  let mark = process.cpuUsage();
  let wallMark = performance.now();
  const stage = (name: string): void => {
    const d = process.cpuUsage(mark);
    cpuMs[name] = Math.round((d.user + d.system) / 1000);
    mark = process.cpuUsage();
    const now = performance.now();
    wallMs[name] = Math.round(now - wallMark);
    wallMark = now;
  };
  const acqRng = root.fork('acquisition');

  const thickness = options.sliceThicknessMm ?? acqRng.pick(THICKNESSES);
  const inPlane = round3(acqRng.uniform(0.6, 0.9));
  const sliceSpacing = options.spacingMm?.[2] ?? (acqRng.chance(0.7) ? thickness : round3(thickness * 0.8));
  const spacing: Vec3 = options.spacingMm ? [...options.spacingMm] : [inPlane, inPlane, sliceSpacing];
  const nzDefault = Math.min(600, Math.round(acqRng.uniform(280, 340) / spacing[2]));
  const dims: Vec3 = options.dims ? [...options.dims] : [512, 512, nzDefault];
  const noiseSigmaHu = options.noiseSigmaHu ?? round3(acqRng.uniform(10, 30));
  const psfSigmaMm = options.psfSigmaMm ?? round3(acqRng.uniform(0.6, 1.0));
  const tilt = options.gantryTiltDeg ?? 0;
  const coverage = options.coverage ?? 'full';
  const sex = options.patient?.sex ?? (acqRng.chance(0.5) ? 'M' : 'F');
  const ageYears = options.patient?.ageYears ?? acqRng.int(40, 85);
  if (dims.some((d) => !Number.isInteger(d) || d < 8)) throw invalid(`dims must be integers ≥ 8, got ${dims.join('×')}`);
  if (spacing.some((s) => !(s > 0))) throw invalid('spacing must be positive');
  if (!(thickness > 0)) throw invalid('slice thickness must be positive');
  if (!(noiseSigmaHu >= 0) || !(psfSigmaMm >= 0)) throw invalid('noise and PSF must be ≥ 0');
  if (Math.abs(tilt) > 30) throw invalid('gantry tilt must be within ±30°');
  if (options.noduleCount !== undefined && !(Number.isInteger(options.noduleCount) && options.noduleCount >= 0)) {
    throw invalid('noduleCount must be a non-negative integer');
  }

  const fovX = dims[0] * spacing[0];
  const fovY = dims[1] * spacing[1];
  // The body sits at x = y = 0; the reconstruction centre is a little off, as with a real table position.
  const centerX = acqRng.uniform(-0.03, 0.03) * fovX;
  const centerY = acqRng.uniform(-0.03, 0.03) * fovY;
  const direction: Mat3 = tilt === 0 ? [1, 0, 0, 0, 1, 0, 0, 0, 1] : gantryTiltDirection(tilt);
  const zStart = round3(acqRng.uniform(-260, -140));
  const origin: Vec3 = [round3(centerX - ((dims[0] - 1) / 2) * spacing[0]), round3(centerY - ((dims[1] - 1) / 2) * spacing[1]), zStart];
  // Shared memory from the start: the blur's worker threads can then read the canvas without a 300 MB copy.
  const canvas = createVolume(new Float32Array(new SharedArrayBuffer(voxelCount(dims) * 4)).fill(-1000), { dims, spacing, origin, direction });
  // z range sampled by every column of the grid (narrower than the slice range when tilted).
  const zAt = (i: number, j: number, k: number) => ijkToLps(canvas, [i, j, k])[2];
  const cornersZ0 = [zAt(0, 0, 0), zAt(dims[0] - 1, dims[1] - 1, 0), zAt(0, dims[1] - 1, 0), zAt(dims[0] - 1, 0, 0)];
  const cornersZ1 = [0, 1, 2, 3].map((c) => zAt(c & 1 ? dims[0] - 1 : 0, c & 2 ? dims[1] - 1 : 0, dims[2] - 1));
  const zMin = Math.max(...cornersZ0);
  const zMax = Math.min(...cornersZ1);
  if (!(zMax - zMin > 10)) throw invalid('the volume must cover more than 10 mm along z');

  const frame = { fovX, fovY, centerX, centerY, zMin, zMax, partialCoverage: coverage === 'partial' };
  const anatomy = buildChestAnatomy(root.fork('anatomy'), frame);
  const noduleRng = root.fork('nodules');
  const noduleCount = options.noduleCount ?? noduleRng.int(0, 6);
  const nodules = planNodules(noduleRng, anatomy, {
    count: noduleCount,
    ...(options.noduleTypes ? { types: options.noduleTypes } : {}),
    ...(options.noduleShapes ? { shapes: options.noduleShapes } : {}),
    ...(options.nodulePlacements ? { placements: options.nodulePlacements } : {}),
    ...(options.noduleDiameterRangeMm ? { diameterRangeMm: options.noduleDiameterRangeMm } : {}),
    zMin: zMin + 1,
    zMax: zMax - 1,
  });

  stage('plan');
  paintChestAnatomy(canvas, anatomy, root.fork('paint'));
  stage('paintAnatomy');

  const labels = options.labels ? new Uint8Array(voxelCount(dims)) : undefined;
  const voxVol = voxelVolumeMm3(canvas);
  const painted: ChestPhantom['painted'] = [];
  nodules.forEach((n, idx) => {
    const label = idx + 1;
    const onCoverage = labels ? (i: number, f: number) => { if (f >= 0.5) labels[i] = label; } : undefined;
    const st = rasterize(canvas, n.full, { value: n.hu, supersample: 4, ...(onCoverage ? { onCoverage } : {}) });
    if (n.core && n.coreHu !== undefined) rasterize(canvas, n.core, { value: n.coreHu, supersample: 4 });
    painted.push({ id: n.id, volumeMm3: st.coverageSum * voxVol, voxelsHalf: st.voxelsHalf });
  });

  stage('paintNodules');
  const truthNodules: ChestNoduleTruth[] = nodules.map((n) => {
    const m = measureShape(n.body);
    const volumeMm3 = n.full === n.body ? m.volumeMm3 : measureVolume(n.full, 128);
    const t: ChestNoduleTruth = {
      id: n.id,
      type: n.type,
      shape: n.shape,
      placement: n.placement,
      side: n.side,
      lobe: n.lobe,
      centerMm: m.centroidMm.map(round3) as Vec3,
      diameterMm: round3(m.meanAxialDiameterMm),
      longAxisMm: round3(m.longAxisMm),
      shortAxisMm: round3(m.shortAxisMm),
      equivalentDiameterMm: round3(Math.cbrt((6 * volumeMm3) / Math.PI)),
      volumeMm3: round3(volumeMm3),
      hu: Math.round(n.hu),
    };
    if (n.core) {
      const c = measureShape(n.core);
      t.solidComponentDiameterMm = round3(c.meanAxialDiameterMm);
      t.solidComponentVolumeMm3 = round3(c.volumeMm3);
      if (n.coreHu !== undefined) t.solidComponentHu = Math.round(n.coreHu);
    }
    return t;
  });

  stage('measure');
  const volume = acquire(canvas, { psfSigmaMm, sliceThicknessMm: thickness, noiseSigmaHu, rng: root.fork('noise'), ...(options.threads ? { threads: options.threads } : {}) });
  stage('acquire');
  const truth: ChestPhantomTruth = {
    format: 'secondreader.phantom-truth',
    version: 1,
    kind: 'chest-ct',
    seed,
    generator: { name: GENERATOR.name, version: GENERATOR.version },
    coordinateSystem: 'LPS-mm',
    acquisition: { dims, spacingMm: spacing, sliceThicknessMm: thickness, originMm: origin, direction, psfSigmaMm, noiseSigmaHu, gantryTiltDeg: tilt, coverage },
    patient: { sex, ageYears },
    anatomy: {
      bodyWidthMm: round3(2 * anatomy.bodyHalfWidthMm),
      lungBaseZMm: round3(anatomy.zBase),
      lungApexZMm: round3(anatomy.zTop),
      fissures: anatomy.fissures,
      vesselSegments: anatomy.vessels.length,
    },
    nodules: truthNodules,
  };
  return { volume, truth, ...(labels ? { labels: createVolume(labels, volume) } : {}), painted, cpuMs, wallMs };
}

export interface ChestCaseWriteOptions extends ChestPhantomOptions {
  /** Default drawn per case. */
  storage?: CtPixelStorage;
  fileNaming?: CtFileNaming;
  instanceOrder?: CtInstanceOrder;
  /** Also write labels.nii (nodule index per voxel). */
  labelsNifti?: boolean;
  onSlice?: (done: number, total: number) => void;
}

export interface ChestCaseWriteResult {
  dir: string;
  dicomDir: string;
  files: string[];
  truthPath: string;
  truth: ChestPhantomTruth;
}

/** Writes one case: `dir/dicom/*` (CT series), `dir/truth.json`, and optionally `dir/labels.nii`. */
export async function writeChestPhantomCase(dir: string, options: ChestCaseWriteOptions): Promise<ChestCaseWriteResult> {
  const phantom = generateChestPhantom({ ...options, labels: options.labelsNifti === true || options.labels === true });
  const seed = String(options.seed);
  const rng = new Rng(`chest/${seed}`).fork('dicom');
  const storage = options.storage ?? rng.pick<CtPixelStorage>(['signed', 'unsigned']);
  const fileNaming = options.fileNaming ?? rng.pick<CtFileNaming>(['ordered', 'opaque']);
  const instanceOrder = options.instanceOrder ?? rng.pick<CtInstanceOrder>(['position', 'position', 'reversed', 'shuffled']);
  const dicomDir = join(dir, 'dicom');
  await mkdir(dicomDir, { recursive: true });
  const acq = phantom.truth.acquisition;
  const written = await writeCtSeries(phantom.volume, {
    outDir: dicomDir,
    uidSeed: `chest-phantom/${seed}`,
    storage,
    fileNaming,
    instanceOrder,
    patient: { PatientName: `Phantom^Chest^${seed}`, PatientID: `CHEST-${seed}`.slice(0, 64), PatientSex: phantom.truth.patient.sex, ageYears: phantom.truth.patient.ageYears },
    study: { StudyDescription: 'CT CHEST WO CONTRAST (synthetic phantom)', StudyID: '1' },
    series: { SeriesDescription: `Chest ${acq.sliceThicknessMm} mm (synthetic)`, BodyPartExamined: 'CHEST', ProtocolName: 'Chest phantom' },
    sliceThicknessMm: acq.sliceThicknessMm,
    acquisition: { ConvolutionKernel: 'STANDARD', KVP: 120 },
    window: { center: -600, width: 1500 },
    ...(options.onSlice ? { onProgress: options.onSlice } : {}),
  });
  phantom.truth.dicom = {
    storage, fileNaming, instanceOrder,
    StudyInstanceUID: written.StudyInstanceUID, SeriesInstanceUID: written.SeriesInstanceUID, files: written.files.length,
  };
  const truthPath = join(dir, 'truth.json');
  await writeFile(truthPath, JSON.stringify(phantom.truth, null, 2) + '\n');
  if (options.labelsNifti && phantom.labels) await writeNifti(join(dir, 'labels.nii'), phantom.labels);
  return { dir, dicomDir, files: written.files, truthPath, truth: phantom.truth };
}

export interface ChestCasesProgress {
  /** 1-based index of the case being worked on. */
  case: number;
  cases: number;
  caseId: string;
  stage: 'start' | 'done';
  nodules?: number;
}

export interface ChestCasesOptions extends Omit<ChestCaseWriteOptions, 'seed' | 'onSlice'> {
  seed: number | string;
  cases: number;
  onProgress?: (p: ChestCasesProgress) => void;
}

/**
 * Writes `cases` cases as outDir/case-0001, case-0002, … (each seeded `${seed}/case-000N`) and
 * outDir/cases.json listing them.
 */
export async function writeChestPhantomCases(outDir: string, options: ChestCasesOptions): Promise<ChestCaseWriteResult[]> {
  if (!(Number.isInteger(options.cases) && options.cases > 0)) throw invalid('cases must be a positive integer');
  const { cases, onProgress, seed, ...rest } = options;
  await mkdir(outDir, { recursive: true });
  const results: ChestCaseWriteResult[] = [];
  for (let c = 1; c <= cases; c++) {
    const caseId = `case-${String(c).padStart(4, '0')}`;
    onProgress?.({ case: c, cases, caseId, stage: 'start' });
    const res = await writeChestPhantomCase(join(outDir, caseId), { ...rest, seed: `${String(seed)}/${caseId}` });
    results.push(res);
    onProgress?.({ case: c, cases, caseId, stage: 'done', nodules: res.truth.nodules.length });
  }
  const index = {
    format: 'secondreader.phantom-cases',
    version: 1,
    kind: 'chest-ct',
    seed: String(seed),
    cases: results.map((r, i) => ({ id: `case-${String(i + 1).padStart(4, '0')}`, dicom: `case-${String(i + 1).padStart(4, '0')}/dicom`, truth: `case-${String(i + 1).padStart(4, '0')}/truth.json`, nodules: r.truth.nodules.length })),
  };
  await writeFile(join(outDir, 'cases.json'), JSON.stringify(index, null, 2) + '\n');
  return results;
}
