/**
 * Reference (undeformed) anatomy of the synthetic head, evaluated point by point in the HEAD FRAME: millimetres,
 * axes parallel to LPS when the head is not rotated (x → patient left, y → posterior, z → superior), origin near
 * the foramen of Monro. The ideal midline is the plane x = 0: everything that defines it (skull, scalp, falx
 * attachments) is mirror-symmetric in x, so the truth midline is exact.
 *
 * Shells (scalp, skull, CSF, cortex) are radial: a surface is r = R(u) along the unit direction u from the
 * origin, so a radial thickness is close to the normal thickness of these near-spherical shells.
 */
import type { Rng } from './common.ts';

/** Tissue classes; the renderer maps them to HU through a per-case table. */
export const Tissue = {
  AIR: 0, SKIN: 1, FAT: 2, MUSCLE: 3, CORTICAL: 4, DIPLOE: 5, SKULL_BASE: 6, SINUS_AIR: 7,
  CSF: 8, SULCUS: 9, FISSURE: 10, CISTERN: 11, VENTRICLE: 12, GM: 13, WM: 14, DEEP_GM: 15, FALX: 16,
  TENTORIUM: 17, VENOUS_SINUS: 18, CHOROID: 19, CALCIFICATION: 20, BLEED: 21, OEDEMA: 22, SUTURE: 23,
  CEREBELLUM_GM: 24, BRAINSTEM: 25, ORBIT_FAT: 26, GLOBE: 27, PETROUS: 28,
} as const;
export type TissueCode = (typeof Tissue)[keyof typeof Tissue];
export const TISSUE_COUNT = 29;

/** CSF spaces that subarachnoid blood may fill. */
export function isSubarachnoidCsf(t: number): boolean {
  return t === Tissue.SULCUS || t === Tissue.FISSURE || t === Tissue.CISTERN || t === Tissue.CSF;
}

export type CalcificationKind = 'pineal' | 'choroid-plexus' | 'falx' | 'basal-ganglia';

/** A physiological calcification: an ellipsoid in the reference head frame (semi-axes in mm). */
export interface CalcificationSpec {
  id: string;
  kind: CalcificationKind;
  center: [number, number, number];
  semi: [number, number, number];
  hu: number;
}

interface Segment { ax: number; ay: number; az: number; bx: number; by: number; bz: number; ra: number; rb: number }

export interface AnatomyParams {
  /** Scalp outer semi-axes (x, y, z-up); below z = 0 the envelope is longer (face, neck). */
  scalp: [number, number, number];
  zDownSemi: number;
  scalpThickness: number;
  skullThickness: number;
  /** Skull thickness modulation: thicker front/back (uy²), thinner temporal (ux²). */
  skullFrontBack: number;
  skullTemporal: number;
  /** Outer/inner cortical table thickness (mm). */
  tableThickness: number;
  /** Subarachnoid CSF over the convexity (mm); grows with atrophy. */
  csfThickness: number;
  gmThickness: number;
  sulcusHalfWidth: number;
  sulcusDepth: number;
  /** Plane waves of the sulcal pattern: wave vectors (per mm) and phases. */
  waves: Float64Array;
  fissureHalfWidth: number;
  falxHalfWidth: number;
  septumHalfWidth: number;
  ventricleScale: number;
  calcifications: CalcificationSpec[];
}

const SEG_COUNT_PER_SIDE = 6;

export function randomAnatomy(rng: Rng): AnatomyParams {
  const atrophy = rng.uniform(0, 1);
  const s = rng.uniform(0.93, 1.06);
  const nWaves = 6;
  const waves = new Float64Array(nWaves * 4);
  for (let w = 0; w < nWaves; w++) {
    const k = (2 * Math.PI) / rng.uniform(24, 34);
    const ct = rng.uniform(-1, 1);
    const ph = rng.uniform(0, 2 * Math.PI);
    const st = Math.sqrt(1 - ct * ct);
    waves[w * 4] = k * st * Math.cos(ph);
    waves[w * 4 + 1] = k * st * Math.sin(ph);
    waves[w * 4 + 2] = k * ct;
    waves[w * 4 + 3] = rng.uniform(0, 2 * Math.PI);
  }
  const vs = rng.uniform(0.9, 1.1) + 0.25 * atrophy;
  const calcifications: CalcificationSpec[] = [];
  // Choroid plexus glomus calcification in both atria: always present so that bleed-free cases carry dense
  // physiological foci an analysis must not call blood.
  for (const side of [1, -1]) {
    const r = rng.uniform(1.6, 2.8);
    calcifications.push({
      id: `choroid-${side > 0 ? 'left' : 'right'}`, kind: 'choroid-plexus',
      center: [side * 20 * vs, 25 + rng.uniform(-2, 2), 10 + rng.uniform(-1.5, 1.5)],
      semi: [r, r * 1.4, r], hu: rng.uniform(150, 400),
    });
  }
  if (rng.chance(0.85)) {
    const r = rng.uniform(1.8, 3.2);
    calcifications.push({ id: 'pineal', kind: 'pineal', center: [0, 19, 0], semi: [r, r * 1.2, r], hu: rng.uniform(100, 300) });
  }
  if (rng.chance(0.3)) {
    calcifications.push({
      id: 'falx', kind: 'falx', center: [0, rng.uniform(-40, -20), rng.uniform(40, 55)],
      semi: [0.9, rng.uniform(3, 7), rng.uniform(2, 4)], hu: rng.uniform(150, 350),
    });
  }
  if (rng.chance(0.2)) {
    for (const side of [1, -1]) {
      calcifications.push({
        id: `basal-ganglia-${side > 0 ? 'left' : 'right'}`, kind: 'basal-ganglia',
        center: [side * 19, -4, -2], semi: [1.5, 2.5, 2], hu: rng.uniform(100, 250),
      });
    }
  }
  return {
    scalp: [76 * s, 96 * s, 84 * s], zDownSemi: 130 * s, scalpThickness: rng.uniform(4.5, 7),
    skullThickness: rng.uniform(5.2, 6.5), skullFrontBack: rng.uniform(0.15, 0.35), skullTemporal: rng.uniform(0.25, 0.4),
    tableThickness: rng.uniform(1.3, 2), csfThickness: 1.2 + 2.5 * atrophy, gmThickness: rng.uniform(2.5, 3.3),
    sulcusHalfWidth: 0.5 + 1.2 * atrophy, sulcusDepth: rng.uniform(12, 17), waves,
    fissureHalfWidth: 1.6 + 1.4 * atrophy, falxHalfWidth: rng.uniform(0.6, 0.9), septumHalfWidth: rng.uniform(1.1, 1.5),
    ventricleScale: vs, calcifications,
  };
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.min(1, Math.max(0, (x - e0) / (e1 - e0)));
  return t * t * (3 - 2 * t);
}

/** The reference anatomy. `tissueAt` is the hot path: no allocation, results in fields. */
export class HeadAnatomy {
  readonly p: AnatomyParams;
  private readonly segs: Segment[] = [];
  /** Set by `tissueAt`: id index (1-based) of the calcification hit, else 0. */
  calcIndex = 0;

  constructor(p: AnatomyParams) {
    this.p = p;
    const v = p.ventricleScale;
    for (const sd of [1, -1]) {
      const pts: [number, number, number, number][] = [
        [5.5 * sd, -31, 8, 3.5], [5.8 * sd, -18, 12, 5.2], [6.5 * sd, 0, 15, 4.2], [19 * sd, 24, 10, 6.5],
        [15 * sd, 44, 6, 2.5],
      ];
      const temporal: [number, number, number, number][] = [[19 * sd, 24, 10, 5.5], [28 * sd, 12, -6, 3.5], [30 * sd, -8, -17, 2]];
      for (const chain of [pts, temporal]) {
        for (let i = 0; i + 1 < chain.length; i++) {
          const a = chain[i] as [number, number, number, number];
          const b = chain[i + 1] as [number, number, number, number];
          this.segs.push({ ax: a[0] * v, ay: a[1] * v, az: a[2], bx: b[0] * v, by: b[1] * v, bz: b[2], ra: a[3] * v, rb: b[3] * v });
        }
      }
    }
    if (this.segs.length !== SEG_COUNT_PER_SIDE * 2) throw new Error('ventricle model');
  }

  /** Outer scalp radius along unit direction u. */
  scalpRadius(ux: number, uy: number, uz: number): number {
    const [a, b, c] = this.p.scalp;
    const cz = uz >= 0 ? c : this.p.zDownSemi;
    return 1 / Math.sqrt((ux / a) ** 2 + (uy / b) ** 2 + (uz / cz) ** 2);
  }

  skullThicknessAt(ux: number, uy: number, uz: number): number {
    const p = this.p;
    const t = p.skullThickness * (1 + p.skullFrontBack * uy * uy - p.skullTemporal * ux * ux * (1 - Math.max(0, uz)));
    return Math.min(8, Math.max(4, t));
  }

  /** Inner-table radius along u (the intracranial boundary of the vault). */
  innerTableRadius(ux: number, uy: number, uz: number): number {
    return this.scalpRadius(ux, uy, uz) - this.p.scalpThickness - this.skullThicknessAt(ux, uy, uz);
  }

  /** z of the cranial floor (top of the skull base) below (x, y): anterior, middle and posterior fossae. */
  floorZ(x: number, y: number): number {
    const ax = Math.abs(x);
    const anterior = -17 - 4 * smoothstep(10, 30, ax);
    const middle = -30 - 12 * smoothstep(12, 22, ax);
    const posterior = -58 - 10 * (1 - smoothstep(0, 40, ax)) + 8 * smoothstep(60, 85, y);
    const am = smoothstep(-34, -26, y);
    const mp = smoothstep(10, 22, y);
    return (anterior * (1 - am) + middle * am) * (1 - mp) + posterior * mp;
  }

  /** z of the tentorium at y (posterior fossa roof), sloping down posteriorly. */
  tentoriumZ(x: number, y: number): number {
    return -8 - 0.32 * (y - 12) - 0.004 * x * x;
  }

  /** Bottom of the interhemispheric fissure (corpus callosum in the middle, deeper at both ends). */
  fissureBottomZ(y: number): number {
    return 22 - 45 * smoothstep(-28, -48, y) - 35 * smoothstep(32, 52, y);
  }

  /** Sutures as thin bands of the vault: coronal, sagittal, lambdoid (y positions at height z). */
  coronalY(z: number): number { return -14 + 0.25 * z; }
  lambdoidY(z: number): number { return 58 - 0.5 * z; }

  private inVentricle(x: number, y: number, z: number): boolean {
    if (Math.abs(x) < this.p.septumHalfWidth) return false;
    const sd = x > 0 ? 0 : SEG_COUNT_PER_SIDE;
    for (let s = sd; s < sd + SEG_COUNT_PER_SIDE; s++) {
      const g = this.segs[s] as Segment;
      const dx = g.bx - g.ax, dy = g.by - g.ay, dz = g.bz - g.az;
      const len2 = dx * dx + dy * dy + dz * dz;
      let t = ((x - g.ax) * dx + (y - g.ay) * dy + (z - g.az) * dz) / len2;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = x - g.ax - t * dx, ey = y - g.ay - t * dy, ez = z - g.az - t * dz;
      const r = g.ra + t * (g.rb - g.ra);
      // Ventricular bodies are flatter than wide: squash z.
      if (ex * ex + ey * ey + 1.6 * ez * ez < r * r) return true;
    }
    return false;
  }

  private sulcalField(ux: number, uy: number, uz: number): number {
    const w = this.p.waves;
    const R = 70;
    let g = 0;
    for (let i = 0; i < w.length; i += 4) {
      g += Math.cos(((w[i] as number) * ux + (w[i + 1] as number) * uy + (w[i + 2] as number) * uz) * R + (w[i + 3] as number));
    }
    return g / Math.sqrt(w.length / 8);
  }

  /**
   * Tissue at a point of the reference frame that lies inside the intracranial space (caller checks).
   * `depth` is the distance below the inner table (mm, radial), `floorDz` the height above the cranial floor.
   */
  intracranial(x: number, y: number, z: number, ux: number, uy: number, uz: number, depth: number, floorDz: number): number {
    const p = this.p;
    this.calcIndex = 0;
    const cal = p.calcifications;
    // All calcifications lie in this box (see randomAnatomy): skip the loop elsewhere.
    if (x > -32 && x < 32 && y > -48 && y < 36 && z > -10 && z < 62) for (let c = 0; c < cal.length; c++) {
      const s = cal[c] as CalcificationSpec;
      const qx = (x - s.center[0]) / s.semi[0], qy = (y - s.center[1]) / s.semi[1], qz = (z - s.center[2]) / s.semi[2];
      if (qx * qx + qy * qy + qz * qz < 1) {
        this.calcIndex = c + 1;
        return Tissue.CALCIFICATION;
      }
    }
    const ax = Math.abs(x);
    // Superior sagittal sinus: a triangle under the vertex midline.
    if (z > 0 && ax < 5 && depth < 7 && ax / 5 + depth / 7 < 1) return Tissue.VENOUS_SINUS;
    const surf = Math.min(depth, floorDz);
    if (surf < p.csfThickness) return Tissue.CSF;
    const tz = this.tentoriumZ(x, y);
    const infratentorial = y > 12 && z < tz;
    if (y > 12 && Math.abs(z - tz) < 0.7 && ax > p.fissureHalfWidth) return Tissue.TENTORIUM;
    const fb = this.fissureBottomZ(y);
    let medial = 1e9;
    if (!infratentorial && z > fb) {
      if (ax < p.falxHalfWidth) return Tissue.FALX;
      if (ax < p.fissureHalfWidth) return Tissue.FISSURE;
      medial = ax - p.fissureHalfWidth;
    }
    if (infratentorial) {
      // Brainstem (midbrain → pons), fourth ventricle, cerebellum with folia.
      const bx = x / 11, by = (y - 14 - 0.12 * -z) / 10;
      const b2 = bx * bx + by * by;
      if (z < -8 && b2 < 1) {
        const vx = x / 5, vy = (y - 27) / 3, vz = (z + 36) / 5;
        if (vx * vx + vy * vy + vz * vz < 1) return Tissue.VENTRICLE;
        return Tissue.BRAINSTEM;
      }
      if (z < -8 && z > -24 && b2 < 1.5) return Tissue.CISTERN;
      const fol = Math.cos(0.9 * z + 0.25 * y + 0.1 * ax);
      if (fol > 0.93 && surf < p.csfThickness + 12) return Tissue.SULCUS;
      const wx = (ax - 17) / 10, wy = (y - 45) / 12, wz = (z - tz + 22) / 8;
      if (wx * wx + wy * wy + wz * wz < 1) return Tissue.WM;
      return Tissue.CEREBELLUM_GM;
    }
    if (ax < 45 && y > -48 && y < 60 && z > -40 && z < 38) {
      const deep = this.deepStructures(x, y, z, ax);
      if (deep >= 0) return deep;
    }
    // Sylvian fissure: a CSF cleft entering from the lateral surface.
    if (ax > 28 && z > -24 && z < 4 && Math.abs(y + 6 + 0.55 * (ax - 28) - 0.25 * z) < 0.7 + p.sulcusHalfWidth) return Tissue.FISSURE;
    const cortexDepth = Math.min(surf - p.csfThickness, medial);
    if (cortexDepth < p.sulcusDepth) {
      const g = Math.abs(this.sulcalField(ux, uy, uz));
      // |∇g| ≈ 0.2 per mm on the cortex: convert half-widths in mm to field units.
      const taper = 1 - cortexDepth / p.sulcusDepth;
      if (g < 0.2 * p.sulcusHalfWidth * taper && medial > 1e8) return Tissue.SULCUS;
      if (cortexDepth < p.gmThickness || g < 0.2 * (p.sulcusHalfWidth * taper + p.gmThickness)) return Tissue.GM;
    }
    return Tissue.WM;
  }

  /** Ventricles, deep grey nuclei and basal cisterns; −1 when none. */
  private deepStructures(x: number, y: number, z: number, ax: number): number {
    const v = this.p.ventricleScale;
    // Choroid plexus glomus (soft tissue) around the calcified core, inside the atrium.
    const cx = (ax - 20 * v) / 4.5, cy = (y - 25) / 6, cz = (z - 10) / 4;
    if (cx * cx + cy * cy + cz * cz < 1) return Tissue.CHOROID;
    if (this.inVentricle(x, y, z)) return Tissue.VENTRICLE;
    const t3x = x / (2.2 * v), t3y = (y + 2) / 12, t3z = (z + 2) / 9;
    if (t3x * t3x + t3y * t3y + t3z * t3z < 1) return Tissue.VENTRICLE;
    const sx = x / 11, sy = (y + 12) / 8, sz = (z + 23) / 4.5;
    if (sx * sx + sy * sy + sz * sz < 1) return Tissue.CISTERN;
    const qx = x / 8, qy = (y - 28) / 5, qz = (z + 4) / 5;
    if (qx * qx + qy * qy + qz * qz < 1) return Tissue.CISTERN;
    const th = ((ax - 10) / 8) ** 2 + ((y - 6) / 13) ** 2 + (z / 10) ** 2;
    if (th < 1) return Tissue.DEEP_GM;
    const ca = ((ax - 12 * v) / 4.5) ** 2 + ((y + 16) / 8) ** 2 + ((z - 9) / 8) ** 2;
    if (ca < 1) return Tissue.DEEP_GM;
    const le = ((ax - 23) / 5.5) ** 2 + ((y + 4) / 14) ** 2 + (z / 10) ** 2;
    if (le < 1) return Tissue.DEEP_GM;
    return -1;
  }

  /**
   * Tissue outside the intracranial space (scalp, vault, skull base, face/neck); `r`, `rs` are the radius and
   * scalp radius along u. Returns a tissue code; `boneHu` receives the HU for bone classes.
   */
  extracranial(x: number, y: number, z: number, ux: number, uy: number, uz: number, r: number, rs: number, ri: number, fz: number): number {
    const p = this.p;
    const dOut = rs - r;
    if (dOut < 1.5) return Tissue.SKIN;
    if (dOut < 1.5 + 0.35 * p.scalpThickness) return Tissue.FAT;
    if (dOut < p.scalpThickness) return Tissue.MUSCLE;
    const ro = rs - p.scalpThickness;
    if (z > fz && r >= ri && r < ro) {
      // Vault: outer table, diploe, inner table; sutures as thin gaps.
      if (z > 0) {
        const ax = Math.abs(x);
        if (Math.abs(y - this.coronalY(z)) < 0.45 || Math.abs(y - this.lambdoidY(z)) < 0.45) return Tissue.SUTURE;
        if (ax < 0.45 && y > this.coronalY(z) && y < this.lambdoidY(z)) return Tissue.SUTURE;
      }
      if (ro - r < p.tableThickness || r - ri < p.tableThickness * 0.8) return Tissue.CORTICAL;
      return Tissue.DIPLOE;
    }
    // Skull base and below.
    const baseThk = 7 + 3 * Math.cos(0.21 * x) * Math.cos(0.17 * y);
    const ax = Math.abs(x);
    // Petrous ridges: dense oblique bars between middle and posterior fossae.
    const px = ax - 14, py = y - 10;
    const tp = Math.min(1, Math.max(0, (px * 30 + py * 26) / 1576));
    const dpx = px - tp * 30, dpy = py - tp * 26, dpz = z - (-33 - 4 * tp);
    if (dpx * dpx + dpy * dpy + dpz * dpz < 49) return Tissue.PETROUS;
    if (z > fz - baseThk && r < ro) {
      // Mastoid and sphenoid air within the base.
      const mx = (ax - 44) / 8, my = (y - 40) / 8, mz = (z + 45) / 7;
      if (mx * mx + my * my + mz * mz < 1 && Math.cos(1.3 * x) * Math.cos(1.1 * y) * Math.cos(1.2 * z) > -0.3) return Tissue.SINUS_AIR;
      return Tissue.SKULL_BASE;
    }
    if (r >= ro) return Tissue.MUSCLE;
    const sx = x / 12, sy = (y + 30) / 22, sz = (z + 46) / 14;
    if (sx * sx + sy * sy + sz * sz < 1) return Math.abs(Math.cos(0.8 * y)) < 0.15 ? Tissue.SKULL_BASE : Tissue.SINUS_AIR;
    const gx = (ax - 32) / 12, gy = (y + 68) / 12, gz = (z + 36) / 12;
    if (gx * gx + gy * gy + gz * gz < 1) return Tissue.GLOBE;
    const ox = (ax - 30) / 17, oy = (y + 55) / 22, oz = (z + 36) / 15;
    if (ox * ox + oy * oy + oz * oz < 1) return Tissue.ORBIT_FAT;
    if (Math.abs(ux) > 0.75 || uy > 0.3) return Math.cos(0.5 * z + 0.3 * y) > 0.8 ? Tissue.FAT : Tissue.MUSCLE;
    void uz;
    return Math.cos(0.45 * (x + y)) * Math.cos(0.4 * z) > 0.5 ? Tissue.SKULL_BASE : Tissue.MUSCLE;
  }
}
