/**
 * Synthetic non-contrast head CT with ground truth for the haemorrhage analysis (format: README-head.md).
 *
 * generateHeadPhantom → { volume (Int16 HU, LPS), labels, truth } in memory; writeHeadPhantomCase(s) write a
 * CT series through the shared writer (src/dicom writeCtSeries) plus truth.json. Everything is drawn from the
 * seed: the same options give the same voxels.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SrError } from '../../src/core/errors.ts';
import { writeCtSeries } from '../../src/dicom/index.ts';
import { createVolume } from '../../src/imaging/index.ts';
import type { Int16Volume, Mat3, MaskVolume, Vec3 } from '../../src/imaging/index.ts';
import { HeadAnatomy, randomAnatomy } from './head-anatomy.ts';
import type { CalcificationKind } from './head-anatomy.ts';
import { BLEED_TYPES, SEPTUM_REFERENCE, massEffectField, planLesions } from './head-lesions.ts';
import type { BleedType } from './head-lesions.ts';
import { HeadModel, randomArtefacts, randomHuTable } from './head-model.ts';
import { integrateBleed, renderHead } from './head-render.ts';
import type { HeadGrid } from './head-render.ts';
import { Rng, acquire } from './common.ts';

export type { BleedType } from './head-lesions.ts';
export type HeadBleedChoice = 'none' | BleedType;

export interface HeadPhantomOptions {
  seed: number | string;
  /** Forces the bleed type; default: drawn (≈ 1 in 6 cases bleed-free). */
  bleedType?: HeadBleedChoice;
  /** Default: drawn from 2.5 and 5. */
  sliceThicknessMm?: 2.5 | 5;
  /** [columns, rows, slices]; default 512 × 512 × ⌈150 mm / thickness⌉. */
  dims?: Vec3;
  /** Reconstruction field of view (mm); default drawn 220–250. */
  fovMm?: number;
  /** Noise standard deviation (HU); default drawn 3–8. */
  noiseSigmaHu?: number;
  /** Gantry tilt (degrees); default 0. */
  tiltDeg?: number;
  /** Head pose (degrees); default drawn within ±4 (yaw, roll) and ±3 (pitch). `false`: straight head. */
  rotationDeg?: { yaw: number; roll: number; pitch: number } | false;
  /** Beam-hardening band/streaks near the skull base and slight cupping; default true. */
  artefacts?: boolean;
  /** Samples across each slab; default 5 for 5 mm and 3 for 2.5 mm. */
  subsamples?: number;
  /** Forces the midline shift (mm, 0–15) instead of deriving it from the bleed size. */
  midlineShiftMm?: number;
  /** Points of the fine grid that integrates the true bleed volume (default 8 M; ≥ 0.5 mm step). */
  truthMaxPoints?: number;
}

export interface HeadBleedTruth {
  id: string;
  type: BleedType;
  /** True volume: the analytic shape integrated on a fine isotropic grid (mL). */
  volumeMl: number;
  /** Σ partial-volume fraction × voxel volume of the generated grid (mL). */
  rasterVolumeMl: number;
  centerMm: Vec3;
  /** LPS bounding box of the bleed's voxels (label 1: ≥ half a voxel of blood), corners of the voxels included. */
  extentMm?: { minMm: Vec3; maxMm: Vec3 };
  /** Extra-axial collections: largest thickness perpendicular to the inner table (mm). */
  maxThicknessMm?: number;
  /** Noise-free attenuation of the blood (HU). */
  hu: number;
  /** Where it is: 'basal-ganglia' | 'thalamus' | 'lobar' | 'convexity' | 'basal' | 'left' | 'right' … */
  site: string;
}

export interface HeadCalcificationTruth {
  id: string;
  kind: CalcificationKind;
  centerMm: Vec3;
  volumeMl: number;
  hu: number;
}

export interface HeadPhantomTruth {
  schema: 'secondreader/head-phantom-truth@1';
  hasHemorrhage: boolean;
  bleeds: HeadBleedTruth[];
  /** Distance of the septum pellucidum landmark from the ideal midline plane (mm). */
  midlineShiftMm: number;
  /** Towards which side of the patient the midline structures moved; null without shift. */
  midlineShiftTowards: 'left' | 'right' | null;
  landmarks: {
    /** Septum pellucidum in the image (LPS mm). */
    septumMm: Vec3;
    /** Where the septum would be without mass effect (on the ideal midline). */
    septumIdealMm: Vec3;
    /** Ideal midline: anterior and posterior falx attachments at the septum's level, and the plane normal. */
    idealMidline: { anteriorMm: Vec3; posteriorMm: Vec3; normal: Vec3 };
  };
  calcifications: HeadCalcificationTruth[];
  parameters: {
    seed: number | string;
    bleedType: HeadBleedChoice;
    dims: Vec3;
    spacingMm: Vec3;
    sliceThicknessMm: number;
    fovMm: number;
    noiseSigmaHu: number;
    tiltDeg: number;
    rotationDeg: { yaw: number; roll: number; pitch: number };
    subsamples: number;
    artefacts: boolean;
    truthVolumeStepMm: number | null;
  };
}

export interface HeadPhantom {
  volume: Int16Volume;
  /** 1 = bleed (≥ half a voxel), 2 = holds some calcification, 0 otherwise; same grid as `volume`. */
  labels: MaskVolume;
  truth: HeadPhantomTruth;
}

function rotationMatrix(yawDeg: number, rollDeg: number, pitchDeg: number): Mat3 {
  const y = (yawDeg * Math.PI) / 180, r = (rollDeg * Math.PI) / 180, p = (pitchDeg * Math.PI) / 180;
  const cz = Math.cos(y), sz = Math.sin(y), cy = Math.cos(r), sy = Math.sin(r), cx = Math.cos(p), sx = Math.sin(p);
  // Rz(yaw) · Ry(roll) · Rx(pitch); yaw turns the nose left/right, roll tilts an ear towards a shoulder.
  return [
    cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
    sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
    -sy, cy * sx, cy * cx,
  ];
}

function apply(R: Mat3, v: readonly number[]): Vec3 {
  const x = v[0] ?? 0, y = v[1] ?? 0, z = v[2] ?? 0;
  return [R[0] * x + R[1] * y + R[2] * z, R[3] * x + R[4] * y + R[5] * z, R[6] * x + R[7] * y + R[8] * z];
}

function round3(v: readonly number[]): Vec3 {
  return [Math.round((v[0] ?? 0) * 1000) / 1000, Math.round((v[1] ?? 0) * 1000) / 1000, Math.round((v[2] ?? 0) * 1000) / 1000];
}

function checkOptions(o: HeadPhantomOptions): void {
  const bad = (m: string): SrError => new SrError('PHANTOM_INVALID_OPTIONS', m, { details: { options: o } });
  if (o.bleedType !== undefined && o.bleedType !== 'none' && !BLEED_TYPES.includes(o.bleedType)) throw bad(`unknown bleedType ${String(o.bleedType)}`);
  if (o.sliceThicknessMm !== undefined && o.sliceThicknessMm !== 2.5 && o.sliceThicknessMm !== 5) throw bad('sliceThicknessMm must be 2.5 or 5');
  if (o.dims && (o.dims.some((d) => !Number.isInteger(d) || d < 8) || o.dims[0] > 1024 || o.dims[1] > 1024 || o.dims[2] > 400)) throw bad('dims must be integers 8..1024 (slices ≤ 400)');
  if (o.tiltDeg !== undefined && !(Math.abs(o.tiltDeg) <= 30)) throw bad('tiltDeg must be within ±30');
  if (o.noiseSigmaHu !== undefined && !(o.noiseSigmaHu >= 0 && o.noiseSigmaHu <= 50)) throw bad('noiseSigmaHu must be 0..50');
  if (o.midlineShiftMm !== undefined && !(o.midlineShiftMm >= 0 && o.midlineShiftMm <= 15)) throw bad('midlineShiftMm must be 0..15');
  if (o.fovMm !== undefined && !(o.fovMm >= 150 && o.fovMm <= 500)) throw bad('fovMm must be 150..500');
}

/** Generates one case in memory. */
export function generateHeadPhantom(options: HeadPhantomOptions): HeadPhantom {
  checkOptions(options);
  const root = new Rng(`head/${String(options.seed)}`);
  const rng = root.fork('case');
  const bleedType: HeadBleedChoice = options.bleedType ?? (rng.chance(1 / 6) ? 'none' : rng.pick(BLEED_TYPES));
  const thickness = options.sliceThicknessMm ?? (rng.chance(0.5) ? 2.5 : 5);
  const fov = options.fovMm ?? rng.uniform(220, 250);
  const noise = options.noiseSigmaHu ?? rng.uniform(3, 8);
  const rot = options.rotationDeg === false ? { yaw: 0, roll: 0, pitch: 0 }
    : (options.rotationDeg ?? { yaw: rng.uniform(-4, 4), roll: rng.uniform(-4, 4), pitch: rng.uniform(-3, 3) });
  const tilt = options.tiltDeg ?? 0;
  const dims: Vec3 = options.dims ? [...options.dims] : [512, 512, Math.ceil(150 / thickness)];
  // SSP samples over ±1.2 thicknesses (head-render.ts): 1.2 mm apart for 5 mm slices, 1.0 mm for 2.5 mm.
  const subsamples = options.subsamples ?? (thickness === 5 ? 11 : 7);
  const artefactsOn = options.artefacts ?? true;

  const anatomyParams = randomAnatomy(root.fork('anatomy'));
  const R = rotationMatrix(rot.yaw, rot.roll, rot.pitch);
  // Gravity (patient supine: towards LPS posterior) in the head frame = Rᵀ·(0, 1, 0).
  const gravity: [number, number, number] = [R[3], R[4], R[5]];
  const anatomy = new HeadAnatomy(anatomyParams);
  const plan = planLesions(root.fork(`lesion/${bleedType}`), anatomy, bleedType, gravity);
  if (options.midlineShiftMm !== undefined) {
    plan.shiftMm = options.midlineShiftMm;
    plan.massEffect = massEffectField(anatomy, options.midlineShiftMm, plan.shiftDirection);
  }
  const model = new HeadModel(anatomy, plan, randomHuTable(root.fork('hu')), randomArtefacts(root.fork('artefacts'), artefactsOn));
  const headCenter: Vec3 = [rng.uniform(-8, 8), rng.uniform(-10, 6), -120 + rng.uniform(-5, 5)];

  // Acquisition grid: axial, rows → +x, columns → +y tilted about x by the gantry, slices along +z (table).
  const t = (tilt * Math.PI) / 180;
  const direction: Mat3 = [1, 0, 0, 0, Math.cos(t), 0, 0, Math.sin(t), 1];
  const sp = fov / dims[0];
  const spacing: Vec3 = [sp, sp, thickness / Math.cos(t)];
  const coverage = dims[2] * thickness;
  const zStart = Math.max(-62, Math.min(92 - coverage, 10 - coverage / 2));
  // The centre of slice k lies on the head's vertical axis at head-frame height zStart + (k + ½)·thickness.
  const c0 = apply(R, [0, 0, zStart + 0.5 * thickness]);
  const sliceCenter: Vec3 = [headCenter[0] + c0[0], headCenter[1] + c0[1], headCenter[2] + c0[2]];
  const origin: Vec3 = [
    sliceCenter[0] - ((dims[0] - 1) / 2) * sp,
    sliceCenter[1] - ((dims[1] - 1) / 2) * sp * Math.cos(t),
    sliceCenter[2] - ((dims[1] - 1) / 2) * sp * Math.sin(t),
  ];
  const grid: HeadGrid = { dims, spacing, origin, direction, sliceThicknessMm: thickness, headCenter, rotation: R };

  const rendered = renderHead(model, grid, subsamples);
  const geometry = { dims, spacing, origin, direction };
  // The rendering integrates the whole slice profile (Gaussian SSP, head-render.ts), so acquire() adds no
  // through-plane blur (sliceThicknessMm 0), only the in-plane PSF and correlated noise (shared with the chest phantom).
  const volume = acquire(createVolume(rendered.hu, geometry), {
    psfSigmaMm: 0.5, sliceThicknessMm: 0, noiseSigmaHu: noise, rng: root.fork('noise'),
  });
  const labels = createVolume(rendered.labels, geometry);

  const toLps = (p: readonly number[]): Vec3 => {
    const q = apply(R, p);
    return round3([headCenter[0] + q[0], headCenter[1] + q[1], headCenter[2] + q[2]]);
  };
  const bleeds: HeadBleedTruth[] = [];
  const integral = integrateBleed(model, options.truthMaxPoints ?? 8e6);
  const b = plan.bleed;
  if (b && integral) {
    const site = b.kind === 'subarachnoid' ? b.site : b.kind === 'subdural' || b.kind === 'epidural' ? (b.side > 0 ? 'left' : 'right')
      : b.kind === 'intraventricular' ? b.sides.map((s) => (s > 0 ? 'left' : 'right')).join('+') + (b.thirdVentricle ? '+third' : '')
        : siteOfIph(b.center);
    const extent = labelExtentMm(labels, 1);
    bleeds.push({
      id: 'bleed-1', type: b.kind, volumeMl: round(integral.volumeMl, 3), rasterVolumeMl: round(rendered.bleedFractionMl, 3),
      centerMm: toLps(integral.center), ...(extent ? { extentMm: extent } : {}), ...(integral.maxThicknessMm === undefined ? {} : { maxThicknessMm: round(integral.maxThicknessMm, 2) }),
      hu: round(b.hu, 1), site,
    });
  }
  const septumImage = model.referenceToImage(SEPTUM_REFERENCE);
  const an = model.anatomy;
  const tableY = (sign: number): number => {
    // Inner table along the midline at the septum's height (bisection on y).
    let lo = 0, hi = sign * 150;
    for (let i = 0; i < 50; i++) {
      const mid = (lo + hi) / 2;
      const r = Math.hypot(mid, SEPTUM_REFERENCE[2]);
      if (r < an.innerTableRadius(0, mid / r, SEPTUM_REFERENCE[2] / r)) lo = mid;
      else hi = mid;
    }
    return lo;
  };
  const shift = Math.abs(septumImage[0]);
  const truth: HeadPhantomTruth = {
    schema: 'secondreader/head-phantom-truth@1',
    hasHemorrhage: bleeds.length > 0,
    bleeds,
    midlineShiftMm: round(shift, 3),
    midlineShiftTowards: shift < 1e-6 ? null : septumImage[0] > 0 ? 'left' : 'right',
    landmarks: {
      septumMm: toLps(septumImage),
      septumIdealMm: toLps(SEPTUM_REFERENCE),
      idealMidline: {
        anteriorMm: toLps([0, tableY(-1), SEPTUM_REFERENCE[2]]),
        posteriorMm: toLps([0, tableY(1), SEPTUM_REFERENCE[2]]),
        normal: round3(apply(R, [1, 0, 0])),
      },
    },
    calcifications: an.p.calcifications.map((c) => ({
      id: c.id, kind: c.kind, centerMm: toLps(model.referenceToImage(c.center)),
      volumeMl: round(((4 / 3) * Math.PI * c.semi[0] * c.semi[1] * c.semi[2]) / 1000, 4), hu: round(c.hu, 1),
    })),
    parameters: {
      seed: options.seed, bleedType, dims, spacingMm: round3(spacing), sliceThicknessMm: thickness, fovMm: round(fov, 2),
      noiseSigmaHu: round(noise, 2), tiltDeg: tilt, rotationDeg: { yaw: round(rot.yaw, 3), roll: round(rot.roll, 3), pitch: round(rot.pitch, 3) },
      subsamples, artefacts: artefactsOn, truthVolumeStepMm: integral ? round(integral.stepMm, 3) : null,
    },
  };
  return { volume, labels, truth };
}

/** LPS axis-aligned box around every voxel (with its half-voxel corners) carrying `label`; undefined when none. */
function labelExtentMm(labels: MaskVolume, label: number): { minMm: Vec3; maxMm: Vec3 } | undefined {
  const [nx, ny, nz] = labels.dims;
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if (labels.data[i + nx * (j + ny * k)] !== label) continue;
    const ijk = [i, j, k];
    for (let a = 0; a < 3; a++) { if ((ijk[a] as number) < (lo[a] as number)) lo[a] = ijk[a] as number; if ((ijk[a] as number) > (hi[a] as number)) hi[a] = ijk[a] as number; }
  }
  if (!(lo[0] as number <= (hi[0] as number))) return undefined;
  const min: Vec3 = [Infinity, Infinity, Infinity], max: Vec3 = [-Infinity, -Infinity, -Infinity];
  const d = labels.direction, o = labels.origin, sp = labels.spacing;
  for (let c = 0; c < 8; c++) {
    const q = [0, 1, 2].map((a) => ((c >> a) & 1 ? (hi[a] as number) + 0.5 : (lo[a] as number) - 0.5) * (sp[a] as number));
    for (let r = 0; r < 3; r++) {
      const x = (o[r] as number) + (d[3 * r] as number) * (q[0] as number) + (d[3 * r + 1] as number) * (q[1] as number) + (d[3 * r + 2] as number) * (q[2] as number);
      if (x < (min[r] as number)) min[r] = x;
      if (x > (max[r] as number)) max[r] = x;
    }
  }
  return { minMm: round3(min), maxMm: round3(max) };
}

function round(v: number, d: number): number {
  const f = 10 ** d;
  return Math.round(v * f) / f;
}

function siteOfIph(c: readonly number[]): string {
  const ax = Math.abs(c[0] ?? 0);
  if (ax < 16 && Math.abs((c[1] ?? 0) - 6) < 6) return 'thalamus';
  if (ax < 30 && Math.abs(c[2] ?? 0) < 6) return 'basal-ganglia';
  return 'lobar';
}

export interface HeadCaseWriteOptions extends HeadPhantomOptions {
  /** Passed to the series writer: 'signed' (default) or 'unsigned' pixel storage. */
  storage?: 'signed' | 'unsigned';
}

export interface HeadCaseWriteResult {
  dir: string;
  dicomDir: string;
  files: string[];
  truth: HeadPhantomTruth;
}

/** Writes one case: `dir/dicom/*` (CT series) and `dir/truth.json`. */
export async function writeHeadPhantomCase(dir: string, options: HeadCaseWriteOptions): Promise<HeadCaseWriteResult> {
  const phantom = generateHeadPhantom(options);
  const dicomDir = join(dir, 'dicom');
  await mkdir(dicomDir, { recursive: true });
  const seed = String(options.seed);
  const written = await writeCtSeries(phantom.volume, {
    outDir: dicomDir,
    uidSeed: `head-phantom/${seed}`,
    ...(options.storage ? { storage: options.storage } : {}),
    patient: { PatientName: `Phantom^Head${seed}`, PatientID: `HEAD-${seed}`, PatientSex: 'O', ageYears: 60 },
    study: { StudyDescription: 'CT HEAD WO CONTRAST (synthetic phantom)' },
    series: { SeriesDescription: `Head ${phantom.truth.parameters.sliceThicknessMm} mm (synthetic)`, BodyPartExamined: 'HEAD', ProtocolName: 'Head phantom' },
    sliceThicknessMm: phantom.truth.parameters.sliceThicknessMm,
    acquisition: { KVP: 120, ConvolutionKernel: 'H30s' },
    window: { center: 40, width: 80 },
  });
  await writeFile(join(dir, 'truth.json'), `${JSON.stringify(phantom.truth, null, 2)}\n`);
  return { dir, dicomDir, files: written.files, truth: phantom.truth };
}

export interface HeadCasesOptions {
  seed: number | string;
  cases: number;
  /** Options applied to every case (seed excluded); unspecified ones are drawn per case. */
  base?: Omit<HeadCaseWriteOptions, 'seed'>;
  onProgress?: (done: number, total: number, caseId: string) => void;
}

/**
 * Writes `cases` cases under outDir/head-NNN. Bleed types cycle through none + the five types so every type is
 * represented; every fourth case is acquired with a gantry tilt (12–20°) unless `base.tiltDeg` is set.
 * Thickness and tilt follow c + ⌊c/6⌋, not c, so that across a cycle of six types every type — bleed-free
 * included — also gets 2.5 mm and tilted acquisitions (with c alone, bleed-free cases were always 5 mm, untilted).
 */
export async function writeHeadPhantomCases(outDir: string, options: HeadCasesOptions): Promise<HeadCaseWriteResult[]> {
  if (!(Number.isInteger(options.cases) && options.cases > 0)) throw new SrError('PHANTOM_INVALID_OPTIONS', 'cases must be a positive integer');
  const types: HeadBleedChoice[] = ['none', ...BLEED_TYPES];
  const results: HeadCaseWriteResult[] = [];
  for (let c = 0; c < options.cases; c++) {
    const caseId = `head-${String(c + 1).padStart(3, '0')}`;
    const caseSeed = `${String(options.seed)}/${caseId}`;
    const mix = c + Math.floor(c / types.length);
    const tilt = options.base?.tiltDeg ?? (mix % 4 === 3 ? 12 + (c % 9) : 0);
    const res = await writeHeadPhantomCase(join(outDir, caseId), {
      ...options.base,
      seed: caseSeed,
      bleedType: options.base?.bleedType ?? (types[c % types.length] as HeadBleedChoice),
      sliceThicknessMm: options.base?.sliceThicknessMm ?? (mix % 2 === 0 ? 5 : 2.5),
      tiltDeg: tilt,
    });
    results.push(res);
    options.onProgress?.(c + 1, options.cases, caseId);
  }
  return results;
}
