/**
 * Haemorrhages and mass effect of the head phantom, in the IMAGE head frame (the deformed head; see
 * head-anatomy.ts for the frame). Image → reference mapping: first undo the cortical compression under an
 * extra-axial collection, then undo the midline shift field.
 *
 * Midline shift field (x component only): u(p) = S·(1 − q)² for q < 1, where q is the normalised squared
 * distance from the field centre (just below the septum). It is largest at the septum / third ventricle /
 * lower falx and exactly zero well inside the inner table, so the skull and the falx attachments never move.
 * The image shows the reference at p − u(p); the reference septum point s therefore appears at x with
 * x = S·w(x) — we choose the true shift T first and set S = T / w(T) so the septum lands exactly at T.
 */
import type { HeadAnatomy } from './head-anatomy.ts';
import type { Rng } from './common.ts';

export type BleedType = 'intraparenchymal' | 'intraventricular' | 'subdural' | 'epidural' | 'subarachnoid';
export const BLEED_TYPES: readonly BleedType[] = ['intraparenchymal', 'intraventricular', 'subdural', 'epidural', 'subarachnoid'];

/** Reference position of the septum landmark (body of the septum pellucidum, between the frontal horns). */
export const SEPTUM_REFERENCE: [number, number, number] = [0, -10, 12];

export interface ExtraAxialSpec {
  kind: 'subdural' | 'epidural';
  /** Unit direction of the thickest point, and the tangent basis of the footprint. */
  center: [number, number, number];
  e1: [number, number, number];
  e2: [number, number, number];
  /** Footprint half-extents as sines of the half-angles along e1, e2. */
  h1: number;
  h2: number;
  maxThickness: number;
  /** +1: patient left (+x); −1: right. */
  side: number;
  hu: number;
}

export interface IphSpec {
  kind: 'intraparenchymal';
  center: [number, number, number];
  semi: [number, number, number];
  /** Lobulation coefficients. */
  lob: [number, number, number, number, number];
  hu: number;
  oedemaScale: number;
  oedemaHu: number;
}

export interface IvhSpec {
  kind: 'intraventricular';
  /** Blood where the gravity-dependent coordinate p·g exceeds `level` (g: unit posterior in LPS, head frame). */
  gravity: [number, number, number];
  level: number;
  sides: number[];
  thirdVentricle: boolean;
  hu: number;
}

export interface SahSpec {
  kind: 'subarachnoid';
  site: 'convexity' | 'basal';
  center: [number, number, number];
  radius: number;
  hu: number;
}

export type BleedSpec = ExtraAxialSpec | IphSpec | IvhSpec | SahSpec;

export interface MassEffect {
  /** Field amplitude S (mm) and sign (direction of displacement along head x). */
  amplitude: number;
  center: [number, number, number];
  semi: [number, number, number];
}

const COMPRESSION_BAND = 20;

function normalize(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}

function crossV(a: [number, number, number], b: [number, number, number]): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function massEffectField(anatomy: HeadAnatomy, shiftMm: number, towardsX: number): MassEffect {
  const [a, b, c] = anatomy.p.scalp;
  const semi: [number, number, number] = [0.8 * (a - 14), 0.8 * (b - 14), 0.75 * (c - 14)];
  const center: [number, number, number] = [0, -7, 10];
  const me: MassEffect = { amplitude: 0, center, semi };
  if (shiftMm > 0) {
    const w = fieldWeight(me, shiftMm * towardsX, SEPTUM_REFERENCE[1], SEPTUM_REFERENCE[2]);
    me.amplitude = (shiftMm * towardsX) / w;
  }
  return me;
}

export function fieldWeight(me: MassEffect, x: number, y: number, z: number): number {
  const qx = (x - me.center[0]) / me.semi[0], qy = (y - me.center[1]) / me.semi[1], qz = (z - me.center[2]) / me.semi[2];
  const q = qx * qx + qy * qy + qz * qz;
  return q < 1 ? (1 - q) * (1 - q) : 0;
}

/** Footprint thickness (mm) of an extra-axial collection along unit direction u; 0 outside. */
export function extraAxialThickness(s: ExtraAxialSpec, anatomy: HeadAnatomy, ux: number, uy: number, uz: number, x: number, y: number, z: number): number {
  const cu = ux * s.center[0] + uy * s.center[1] + uz * s.center[2];
  if (cu <= 0) return 0;
  const a1 = (ux * s.e1[0] + uy * s.e1[1] + uz * s.e1[2]) / s.h1;
  const a2 = (ux * s.e2[0] + uy * s.e2[1] + uz * s.e2[2]) / s.h2;
  const a = a1 * a1 + a2 * a2;
  if (a >= 1) return 0;
  // The falx stops both collections at the midline.
  const med = Math.min(1, Math.max(0, (ux * s.side) / 0.12));
  if (s.kind === 'subdural') return s.maxThickness * (1 - a) ** 1.3 * med;
  // Epidural: lens (circle-segment) profile, and the dura is stuck at the sutures, so it tapers to 0 there.
  const sut = Math.min(1, Math.max(0, (y - anatomy.coronalY(z)) / 6)) * Math.min(1, Math.max(0, (anatomy.lambdoidY(z) - y) / 6));
  return s.maxThickness * Math.sqrt(1 - a) * sut * med;
}

/** Lobulated ellipsoid test of an intraparenchymal haematoma, `scale` 1 for blood, > 1 for oedema. */
export function inIph(s: IphSpec, x: number, y: number, z: number, scale: number): boolean {
  const dx = (x - s.center[0]) / (s.semi[0] * scale), dy = (y - s.center[1]) / (s.semi[1] * scale), dz = (z - s.center[2]) / (s.semi[2] * scale);
  const q = dx * dx + dy * dy + dz * dz;
  if (q > 1.6) return false;
  const n = Math.sqrt(q) || 1;
  const vx = dx / n, vy = dy / n, vz = dz / n;
  const l = s.lob;
  const m = 1 + l[0] * vx * vy + l[1] * vy * vz + l[2] * vz * vx + l[3] * (vx * vx - vy * vy) + l[4] * Math.cos(3 * Math.atan2(vy, vx) + 4 * vz);
  return n < m;
}

export interface LesionPlan {
  bleed: BleedSpec | undefined;
  massEffect: MassEffect;
  shiftMm: number;
  /** +1 if structures move towards +x (patient left), −1 towards right. */
  shiftDirection: number;
}

/** Chooses the bleed and its mass effect. `gravity` is LPS posterior expressed in the head frame. */
export function planLesions(rng: Rng, anatomy: HeadAnatomy, type: BleedType | 'none', gravity: [number, number, number]): LesionPlan {
  const side = rng.chance(0.5) ? 1 : -1;
  let shift = 0;
  let bleed: BleedSpec | undefined;
  switch (type) {
    case 'none':
      break;
    case 'subdural':
    case 'epidural': {
      const epi = type === 'epidural';
      const yc = epi ? rng.uniform(-0.1, 0.35) : rng.uniform(-0.3, 0.3);
      const zc = epi ? rng.uniform(0.05, 0.35) : rng.uniform(0.1, 0.45);
      const center = normalize([side, yc, zc]);
      const e1 = normalize(crossV(center, [0, 0, 1]));
      const e2 = crossV(e1, center);
      const maxThickness = epi ? rng.uniform(8, 28) : rng.uniform(3, 20);
      bleed = {
        kind: type, center, e1, e2, side, maxThickness,
        h1: epi ? rng.uniform(0.35, 0.5) : rng.uniform(0.75, 0.92), h2: epi ? rng.uniform(0.3, 0.45) : rng.uniform(0.6, 0.8),
        hu: epi ? rng.uniform(60, 90) : rng.uniform(50, 80),
      };
      shift = Math.max(0, Math.min(15, (epi ? 0.45 : 0.6) * maxThickness * rng.uniform(0.7, 1.2) - 2));
      break;
    }
    case 'intraparenchymal': {
      const volumeMl = Math.exp(rng.uniform(Math.log(1), Math.log(60)));
      const site = rng.pick(['basal-ganglia', 'thalamus', 'lobar'] as const);
      const el: [number, number, number] = [rng.uniform(0.8, 1.2), rng.uniform(0.9, 1.4), rng.uniform(0.8, 1.1)];
      const k = Math.cbrt((volumeMl * 1000) / ((4 / 3) * Math.PI * el[0] * el[1] * el[2]));
      const semi: [number, number, number] = [k * el[0], k * el[1], k * el[2]];
      const rMax = Math.max(...semi);
      let center: [number, number, number];
      if (site === 'basal-ganglia') center = [side * 24, -4, 2];
      else if (site === 'thalamus') center = [side * 12, 6, 2];
      else {
        const u = normalize([side, rng.uniform(-0.6, 0.6), rng.uniform(0.2, 0.7)]);
        const ri = anatomy.innerTableRadius(u[0], u[1], u[2]);
        const d = Math.max(25, ri - anatomy.p.csfThickness - 1.15 * rMax - 3);
        center = [u[0] * d, u[1] * d, u[2] * d];
      }
      if (site !== 'lobar') center[0] = side * Math.max(Math.abs(center[0]), 0.9 * semi[0] + 6);
      const lob: [number, number, number, number, number] = [rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(-0.25, 0.25), rng.uniform(-0.15, 0.15), rng.uniform(0, 0.08)];
      bleed = { kind: 'intraparenchymal', center, semi, lob, hu: rng.uniform(50, 90), oedemaScale: rng.uniform(1.15, 1.5), oedemaHu: rng.uniform(15, 20) };
      shift = Math.max(0, Math.min(15, (volumeMl / 4.5) * rng.uniform(0.7, 1.2) - 1.5));
      break;
    }
    case 'intraventricular': {
      const both = rng.chance(0.5);
      bleed = { kind: 'intraventricular', gravity, level: rng.uniform(8, 26), sides: both ? [1, -1] : [side], thirdVentricle: rng.chance(0.3), hu: rng.uniform(55, 80) };
      break;
    }
    case 'subarachnoid': {
      const site = rng.pick(['convexity', 'basal'] as const);
      let center: [number, number, number];
      if (site === 'basal') center = [rng.uniform(-8, 8), rng.uniform(-14, -4), rng.uniform(-22, -14)];
      else {
        const u = normalize([side, rng.uniform(-0.5, 0.5), rng.uniform(0.1, 0.6)]);
        const ri = anatomy.innerTableRadius(u[0], u[1], u[2]);
        center = [u[0] * (ri - 10), u[1] * (ri - 10), u[2] * (ri - 10)];
      }
      bleed = { kind: 'subarachnoid', site, center, radius: rng.uniform(24, 38), hu: rng.uniform(45, 70) };
      break;
    }
  }
  const direction = -side;
  return { bleed, massEffect: massEffectField(anatomy, shift, direction), shiftMm: shift, shiftDirection: direction };
}

/** Radial remapping of the brain under an extra-axial collection of thickness t (image r → reference r). */
export function uncompressRadius(r: number, ri: number, t: number): number {
  const inner = ri - t - COMPRESSION_BAND;
  if (t <= 0 || r <= inner) return r;
  return inner + (r - inner) * ((COMPRESSION_BAND + t) / COMPRESSION_BAND);
}
