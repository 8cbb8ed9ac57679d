/**
 * The complete head phantom as a function of position: anatomy + lesions + mass effect + HU (with the
 * texture of bone and the low-frequency artefacts of head CT: interpetrous beam-hardening band and streaks,
 * slight cupping). Points are in the IMAGE head frame; head-render.ts maps LPS to it.
 */
import { Tissue, TISSUE_COUNT, isSubarachnoidCsf } from './head-anatomy.ts';
import type { HeadAnatomy } from './head-anatomy.ts';
import * as lesions from './head-lesions.ts';
import type { ExtraAxialSpec, LesionPlan } from './head-lesions.ts';
import type { Rng } from './common.ts';

// Bound once: calls through an imported binding cost a getter per call under some loaders (hot path).
const extraAxialThickness = lesions.extraAxialThickness;
const fieldWeight = lesions.fieldWeight;
const inIph = lesions.inIph;
const uncompressRadius = lesions.uncompressRadius;
const isCsf = isSubarachnoidCsf;

export interface Artefacts {
  /** Centre-darkening (HU) at the centre of the brain. */
  cupping: number;
  /** Depth (HU) of the interpetrous dark band. */
  petrousBand: number;
  /** Streak lines through the posterior fossa: [angle, offset, depth] triples. */
  streaks: number[];
}

export function randomHuTable(rng: Rng): Float64Array {
  const t = new Float64Array(TISSUE_COUNT);
  const gm = rng.uniform(35, 40);
  const wm = Math.min(gm - 7, rng.uniform(25, 30));
  const csf = rng.uniform(2, 8);
  t[Tissue.AIR] = -1000; t[Tissue.SKIN] = rng.uniform(40, 55); t[Tissue.FAT] = rng.uniform(-100, -80);
  t[Tissue.MUSCLE] = rng.uniform(40, 55); t[Tissue.CORTICAL] = rng.uniform(1000, 1450); t[Tissue.DIPLOE] = rng.uniform(380, 650);
  t[Tissue.SKULL_BASE] = rng.uniform(800, 1200); t[Tissue.SINUS_AIR] = rng.uniform(-980, -900);
  t[Tissue.CSF] = csf; t[Tissue.SULCUS] = csf; t[Tissue.FISSURE] = csf; t[Tissue.CISTERN] = csf; t[Tissue.VENTRICLE] = csf;
  t[Tissue.GM] = gm; t[Tissue.WM] = wm; t[Tissue.DEEP_GM] = gm - rng.uniform(0, 3); t[Tissue.FALX] = rng.uniform(50, 80);
  t[Tissue.TENTORIUM] = rng.uniform(45, 60); t[Tissue.VENOUS_SINUS] = rng.uniform(40, 55); t[Tissue.CHOROID] = rng.uniform(25, 35);
  t[Tissue.CALCIFICATION] = 200; t[Tissue.BLEED] = 65; t[Tissue.OEDEMA] = 17; t[Tissue.SUTURE] = rng.uniform(150, 350);
  t[Tissue.CEREBELLUM_GM] = gm - 1; t[Tissue.BRAINSTEM] = wm + 2; t[Tissue.ORBIT_FAT] = rng.uniform(-110, -85);
  t[Tissue.GLOBE] = rng.uniform(5, 15); t[Tissue.PETROUS] = rng.uniform(1300, 1800);
  return t;
}

export function randomArtefacts(rng: Rng, enabled: boolean): Artefacts {
  if (!enabled) return { cupping: 0, petrousBand: 0, streaks: [] };
  const streaks: number[] = [];
  const n = rng.int(2, 5);
  for (let i = 0; i < n; i++) streaks.push(rng.uniform(-0.5, 0.5), rng.uniform(-25, 25), rng.uniform(6, 18));
  return { cupping: rng.uniform(1, 4), petrousBand: rng.uniform(8, 22), streaks };
}

export class HeadModel {
  readonly anatomy: HeadAnatomy;
  readonly plan: LesionPlan;
  readonly hu: Float64Array;
  readonly art: Artefacts;
  /** Outputs of the last `evaluate`. */
  tissue = 0;
  bleed = false;
  calcIndex = 0;
  private readonly extra: ExtraAxialSpec | undefined;

  constructor(anatomy: HeadAnatomy, plan: LesionPlan, hu: Float64Array, art: Artefacts) {
    this.anatomy = anatomy;
    this.plan = plan;
    this.hu = hu;
    this.art = art;
    const b = plan.bleed;
    this.extra = b && (b.kind === 'subdural' || b.kind === 'epidural') ? b : undefined;
  }

  /**
   * Tissue at an image-frame point; sets `tissue`, `bleed`, `calcIndex`. Returns the tissue code. With
   * `bleedOnly`, points that cannot be blood return early (tissue then means nothing, `bleed` is exact).
   */
  classify(x: number, y: number, z: number, bleedOnly = false): number {
    this.bleed = false;
    this.calcIndex = 0;
    const an = this.anatomy;
    const r = Math.sqrt(x * x + y * y + z * z) || 1e-9;
    const ux = x / r, uy = y / r, uz = z / r;
    const rs = an.scalpRadius(ux, uy, uz);
    if (r >= rs) return (this.tissue = Tissue.AIR);
    const ri = rs - an.p.scalpThickness - an.skullThicknessAt(ux, uy, uz);
    const fz = an.floorZ(x, y);
    if (r >= ri || z <= fz) return (this.tissue = an.extracranial(x, y, z, ux, uy, uz, r, rs, ri, fz));
    // Intracranial. Extra-axial blood first: it lies against the inner table and displaces the brain.
    let rr = r;
    if (this.extra) {
      const t = extraAxialThickness(this.extra, an, ux, uy, uz, x, y, z);
      if (t > 0 && r > ri - t) {
        this.bleed = true;
        return (this.tissue = Tissue.BLEED);
      }
      if (bleedOnly) return (this.tissue = Tissue.WM);
      rr = uncompressRadius(r, ri, t);
    }
    const b = this.plan.bleed;
    if (bleedOnly && !this.mayBleed(x, y, z)) return (this.tissue = Tissue.WM);
    let qx = ux * rr;
    const qy = uy * rr, qz = uz * rr;
    const me = this.plan.massEffect;
    if (me.amplitude !== 0) qx -= me.amplitude * fieldWeight(me, qx, qy, qz);
    let depth: number, floorDz: number, vx = ux, vy = uy, vz = uz;
    if (qx === x && rr === r) {
      depth = ri - r;
      floorDz = z - fz;
    } else {
      // The mapping keeps points intracranial except within rounding at the very edge.
      const rq = Math.sqrt(qx * qx + qy * qy + qz * qz) || 1e-9;
      vx = qx / rq; vy = qy / rq; vz = qz / rq;
      depth = Math.max(0, an.innerTableRadius(vx, vy, vz) - rq);
      floorDz = Math.max(0, qz - an.floorZ(qx, qy));
    }
    let tissue = an.intracranial(qx, qy, qz, vx, vy, vz, depth, floorDz);
    this.calcIndex = an.calcIndex;
    if (b !== undefined && b.kind !== 'subdural' && b.kind !== 'epidural') {
      if (b.kind === 'intraparenchymal') {
        const parenchyma = tissue === Tissue.GM || tissue === Tissue.WM || tissue === Tissue.DEEP_GM || tissue === Tissue.VENTRICLE ||
          tissue === Tissue.CHOROID || tissue === Tissue.SULCUS;
        if (parenchyma && inIph(b, x, y, z, 1)) {
          this.bleed = true;
          tissue = Tissue.BLEED;
        } else if ((tissue === Tissue.GM || tissue === Tissue.WM || tissue === Tissue.DEEP_GM) && inIph(b, x, y, z, b.oedemaScale)) {
          tissue = Tissue.OEDEMA;
        }
      } else if (b.kind === 'intraventricular') {
        if (tissue === Tissue.VENTRICLE && x * b.gravity[0] + y * b.gravity[1] + z * b.gravity[2] > b.level) {
          const lateral = Math.abs(qx) > 3;
          const side = qx > 0 ? 1 : -1;
          if ((lateral && b.sides.includes(side)) || (!lateral && b.thirdVentricle)) {
            this.bleed = true;
            tissue = Tissue.BLEED;
          }
        }
      } else if (b.kind === 'subarachnoid' && isCsf(tissue)) {
        const dx = x - b.center[0], dy = y - b.center[1], dz = z - b.center[2];
        if (dx * dx + dy * dy + dz * dz < b.radius * b.radius) {
          this.bleed = true;
          tissue = Tissue.BLEED;
        }
      }
    }
    if (tissue !== Tissue.CALCIFICATION) this.calcIndex = 0;
    return (this.tissue = tissue);
  }

  /** Cheap necessary condition for the (non extra-axial) bleed at an image-frame point. */
  private mayBleed(x: number, y: number, z: number): boolean {
    const b = this.plan.bleed;
    if (!b) return false;
    switch (b.kind) {
      case 'intraparenchymal':
        return inIph(b, x, y, z, 1);
      case 'intraventricular':
        return x * b.gravity[0] + y * b.gravity[1] + z * b.gravity[2] > b.level;
      case 'subarachnoid': {
        const dx = x - b.center[0], dy = y - b.center[1], dz = z - b.center[2];
        return dx * dx + dy * dy + dz * dz < b.radius * b.radius;
      }
      default:
        return true;
    }
  }

  /** HU (noise-free) at an image-frame point. */
  evaluate(x: number, y: number, z: number): number {
    const t = this.classify(x, y, z);
    let v = this.hu[t] as number;
    switch (t) {
      case Tissue.AIR:
        return v;
      case Tissue.DIPLOE:
        return v + 160 * Math.cos(0.9 * x + 0.4 * z) * Math.cos(0.8 * y - 0.5 * z);
      case Tissue.CORTICAL:
        return v + 120 * Math.cos(0.05 * y + 0.07 * z);
      case Tissue.SKULL_BASE:
        return v + 320 * Math.cos(0.7 * x + 0.2 * y) * Math.cos(0.6 * y - 0.4 * z) + 150 * Math.cos(1.3 * z + 0.5 * x);
      case Tissue.CALCIFICATION: {
        const c = this.anatomy.p.calcifications[this.calcIndex - 1];
        return c ? c.hu : v;
      }
      case Tissue.BLEED: {
        const b = this.plan.bleed;
        v = b ? b.hu : v;
        v += 3 * Math.cos(0.6 * x + 0.3 * y) * Math.cos(0.5 * z - 0.4 * y);
        break;
      }
      case Tissue.OEDEMA: {
        const b = this.plan.bleed;
        if (b && b.kind === 'intraparenchymal') v = b.oedemaHu;
        break;
      }
      default:
        break;
    }
    if (t >= Tissue.CSF && t !== Tissue.SUTURE && t !== Tissue.ORBIT_FAT && t !== Tissue.GLOBE && t !== Tissue.PETROUS) v += this.artefact(x, y, z);
    return v;
  }

  private artefact(x: number, y: number, z: number): number {
    const a = this.art;
    if (a.cupping === 0 && a.petrousBand === 0) return 0;
    const rho2 = (x * x) / 3600 + (y * y) / 6400 + ((z - 10) * (z - 10)) / 3600;
    let d = -a.cupping * Math.max(0, 1 - rho2);
    const dz = z + 33;
    if (dz > -14 && dz < 14 && y > 0) {
      const fz = Math.exp(-(dz * dz) / 50);
      d -= a.petrousBand * fz * Math.exp(-((y - 20) * (y - 20)) / 32);
      const s = a.streaks;
      for (let i = 0; i + 2 < s.length; i += 3) {
        const ang = s[i] as number, off = s[i + 1] as number;
        const dist = (y - 20) * Math.cos(ang) - x * Math.sin(ang) - off * 0.2;
        d -= (s[i + 2] as number) * fz * Math.exp(-(dist * dist) / 1.2) * (Math.abs(x) < 50 ? 1 : 0);
      }
    }
    return d;
  }

  /**
   * Image-frame position of a reference-frame point (inverse of the image → reference mapping), by fixed-point
   * iteration; the mapping is a small smooth perturbation of the identity, so it converges quickly.
   */
  referenceToImage(q: readonly [number, number, number]): [number, number, number] {
    const me = this.plan.massEffect;
    let x = q[0];
    for (let i = 0; i < 60; i++) {
      const nx = q[0] + me.amplitude * fieldWeight(me, x, q[1], q[2]);
      if (Math.abs(nx - x) < 1e-9) {
        x = nx;
        break;
      }
      x = nx;
    }
    return [x, q[1], q[2]];
  }
}
