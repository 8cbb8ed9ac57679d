/**
 * Chest anatomy of the synthetic CT phantom, in patient LPS mm (x → patient left, y → posterior, z → head):
 * body wall (fat, muscle), ribs, spine, sternum, scapulae, heart and aorta, two lungs with diaphragm domes and
 * optional fissures, trachea and bronchi with walls, and branching pulmonary vessel trees (arteries from the
 * hila, veins towards the left atrium) whose radii follow Murray's law from ~6 mm down to < 0.5 mm.
 * Everything scales with the body size, which follows the reconstruction field of view.
 */
import type { Vec3 } from '../../src/imaging/index.ts';
import {
  aabb, add, ellipsoid, ellipticCylinderZ, halfSpace, intersection, normalize, perpendicular, rasterize,
  rotateAbout, scale, slab, sub, subtract, textureField, tube, union,
} from './common.ts';
import type { Box3, Canvas, Rng, Shape } from './common.ts';

export type Side = 'left' | 'right';
export type Lobe = 'RUL' | 'RML' | 'RLL' | 'LUL' | 'LLL';

export interface TubeSegment {
  a: Vec3;
  b: Vec3;
  ra: number;
  rb: number;
}

export interface ChestAnatomy {
  /** Body size relative to an adult of 300 mm chest width. */
  scale: number;
  bodyHalfWidthMm: number;
  lungs: Record<Side, Shape>;
  /** Thoracic cavity (inner chest wall): juxta-pleural nodules touch its boundary. */
  cavity: Shape;
  /** Lung apex/base z (mm). */
  zBase: number;
  zTop: number;
  vessels: TubeSegment[];
  /** Airway lumens; walls are these plus `wallMm`. */
  airways: (TubeSegment & { wallMm: number })[];
  fissures: boolean;
  /** Oblique fissure planes n·p = offset per side; horizontal fissure z (right). */
  oblique: Record<Side, { n: Vec3; offset: number }>;
  horizontalZ: number;
  hu: { fat: number; muscle: number; lung: number; vessel: number; bone: number; marrow: number; airwayWall: number };
  /** Body (Bx, By), cavity (Cx, Cy centred at y0), painted z range, vertebral body radius/centre y. */
  geom: { Bx: number; By: number; Cx: number; Cy: number; y0: number; zLo: number; zHi: number; vbR: number; vbY: number };
  heart: Shape;
  aorta: Shape;
  /** Called by the painter; kept here so the texture stays tied to the anatomy's random stream. */
  lungTexture: (x: number, y: number, z: number) => number;
}

export interface AnatomyFrame {
  /** In-plane field of view (mm) along x and y. */
  fovX: number;
  fovY: number;
  /** LPS centre of the field of view in x/y. */
  centerX: number;
  centerY: number;
  /** z range covered by the volume (mm). */
  zMin: number;
  zMax: number;
  partialCoverage: boolean;
}

const WORLD: Box3 = { min: [-1e4, -1e4, -1e4], max: [1e4, 1e4, 1e4] };

export function lobeOf(anat: ChestAnatomy, side: Side, p: Vec3): Lobe {
  const o = anat.oblique[side];
  // Below/behind the oblique fissure = lower lobe.
  const lower = o.n[0] * p[0] + o.n[1] * p[1] + o.n[2] * p[2] > o.offset;
  if (side === 'left') return lower ? 'LLL' : 'LUL';
  if (lower) return 'RLL';
  return p[2] > anat.horizontalZ ? 'RUL' : 'RML';
}

export function buildChestAnatomy(rng: Rng, frame: AnatomyFrame): ChestAnatomy {
  const Bx = Math.min(frame.fovX, frame.fovY / 0.75) * rng.uniform(0.39, 0.45);
  const s = Bx / 150;
  const By = Bx * rng.uniform(0.62, 0.72);
  const fat = s * rng.uniform(6, 24);
  const muscle = s * rng.uniform(9, 14);
  const ribRing = 9 * s;
  const Cx = Bx - fat - muscle - ribRing;
  const Cy = By - fat - muscle - ribRing;
  const y0 = 0.04 * Cy;
  const cov = frame.zMax - frame.zMin;
  let H: number;
  let zBase: number;
  if (frame.partialCoverage) {
    H = 255 * s * rng.uniform(0.92, 1.08);
    zBase = H > cov ? frame.zMin - rng.uniform(0, H - cov) : frame.zMin + rng.uniform(0, cov - H);
  } else {
    H = Math.min(cov * rng.uniform(0.8, 0.88), 270 * s);
    zBase = frame.zMin + (cov - H) * rng.uniform(0.45, 0.7);
  }
  const zTop = zBase + H;
  const zLo = Math.min(frame.zMin, zBase) - 80 * s;
  const zHi = Math.max(frame.zMax, zTop) + 80 * s;

  const cavity = ellipticCylinderZ(0, y0, Cx, Cy, zLo, zHi);
  const vbR = 17 * s;
  const vbY = y0 + Cy - 0.9 * vbR;
  const heartC: Vec3 = [0.2 * Cx, y0 - 0.28 * Cy, zBase + 0.2 * H];
  const heartR: Vec3 = [0.42 * Cx, 0.5 * Cy, Math.min(0.2 * H, 75 * s)];
  const heartRot = rotZ(rng.uniform(-0.45, -0.2));
  const carinaZ = zBase + 0.62 * H;
  const aortaPath: Vec3[] = [
    [0.05 * Cx, y0 - 0.2 * Cy, zBase + 0.3 * H],
    [0.02 * Cx, y0 - 0.22 * Cy, carinaZ + 0.08 * H],
    [0.12 * Cx, y0 + 0.15 * Cy, carinaZ + 0.13 * H],
    [0.2 * Cx, y0 + 0.6 * Cy, carinaZ + 0.05 * H],
    [0.2 * Cx, y0 + 0.62 * Cy, zLo],
  ];
  const aortaR = 12 * s * rng.uniform(0.9, 1.15);
  const aorta = union(aortaPath.slice(1).map((p, i) => tube(aortaPath[i]!, p, aortaR, aortaR)));
  const aortaPlus = union(aortaPath.slice(1).map((p, i) => tube(aortaPath[i]!, p, aortaR + 3 * s, aortaR + 3 * s)));
  const mediastinum = ellipticCylinderZ(0.04 * Cx, y0 - 0.1 * Cy, 0.19 * Cx, 0.95 * Cy, zLo, zHi);
  const spinePlus = ellipticCylinderZ(0, vbY, vbR + 6 * s, vbR + 6 * s, zLo, zHi);

  const lungs = {} as Record<Side, Shape>;
  const domeTop: Record<Side, number> = { right: rng.uniform(0.2, 0.3) * H, left: rng.uniform(0.15, 0.24) * H };
  for (const side of ['left', 'right'] as Side[]) {
    const sg = side === 'left' ? 1 : -1;
    const body = ellipsoid([sg * 0.52 * Cx, y0 + 0.05 * Cy, zBase + 0.3 * H], [0.78 * Cx, 1.2 * Cy, 0.7 * H]);
    const domeDz = 0.35 * H;
    const dome = ellipsoid([sg * 0.5 * Cx, y0 - 0.1 * Cy, zBase + domeTop[side] - domeDz], [0.62 * Cx, 0.95 * Cy, domeDz]);
    const sideHalf = halfSpace([-sg, 0, 0], -0.02 * Cx, WORLD);
    const floor = halfSpace([0, 0, -1], -zBase, WORLD);
    lungs[side] = subtract(intersection([cavity, body, sideHalf, floor]), [
      dome, mediastinum, spinePlus, aortaPlus, ellipsoid(heartC, add(heartR, [4 * s, 4 * s, 4 * s]), heartRot),
    ]);
  }

  // Oblique fissure: from high posteriorly to the anterior diaphragm; lobes are on either side of it.
  const oblique = {} as Record<Side, { n: Vec3; offset: number }>;
  for (const side of ['left', 'right'] as Side[]) {
    const zPost = zBase + rng.uniform(0.6, 0.7) * H;
    const zAnt = zBase + rng.uniform(0.0, 0.1) * H;
    // Plane through (·, y0 + Cy, zPost) and (·, y0 − Cy, zAnt): z − zAnt − (y − (y0 − Cy))·slope = 0.
    const slope = (zPost - zAnt) / (2 * Cy);
    const n = normalize([0, slope, -1]);
    const pAnt: Vec3 = [0, y0 - Cy, zAnt];
    // Positive side (n·p > offset) is below the plane = lower lobe.
    oblique[side] = { n, offset: n[0] * pAnt[0] + n[1] * pAnt[1] + n[2] * pAnt[2] };
  }
  const horizontalZ = zBase + rng.uniform(0.45, 0.55) * H;

  const anatomy: ChestAnatomy = {
    scale: s,
    bodyHalfWidthMm: Bx,
    lungs,
    cavity,
    zBase,
    zTop,
    vessels: [],
    airways: [],
    fissures: rng.chance(0.6),
    oblique,
    horizontalZ,
    geom: { Bx, By, Cx, Cy, y0, zLo, zHi, vbR, vbY },
    heart: ellipsoid(heartC, heartR, heartRot),
    aorta,
    hu: {
      fat: rng.uniform(-110, -85),
      muscle: rng.uniform(35, 55),
      lung: rng.uniform(-880, -820),
      vessel: rng.uniform(30, 50),
      bone: rng.uniform(600, 1000),
      marrow: rng.uniform(180, 320),
      airwayWall: rng.uniform(-60, 40),
    },
    lungTexture: textureField(rng.fork('lung-texture'), { min: [-Bx, -By, zLo], max: [Bx, By, zHi] }, 6 * Math.max(s, 0.5)),
  };

  // --- airways: trachea to the carina, main bronchi to the hila, then a few lobar/segmental generations.
  const tracheaR = 8 * s * rng.uniform(0.85, 1.15);
  const carina: Vec3 = [0, y0 + 0.25 * Cy, carinaZ];
  anatomy.airways.push({ a: [0, y0 + 0.1 * Cy, zHi], b: carina, ra: tracheaR, rb: tracheaR, wallMm: 1.8 * s });
  const hilum: Record<Side, Vec3> = {
    right: [-0.38 * Cx, y0 + 0.2 * Cy, carinaZ - 28 * s],
    left: [0.4 * Cx, y0 + 0.25 * Cy, carinaZ - 45 * s],
  };
  const lungCentre = (side: Side): Vec3 => [(side === 'left' ? 1 : -1) * 0.55 * Cx, y0, zBase + 0.45 * H];
  for (const side of ['left', 'right'] as Side[]) {
    const r0 = (side === 'right' ? 6.5 : 5.5) * s;
    anatomy.airways.push({ a: carina, b: hilum[side], ra: r0, rb: r0 * 0.9, wallMm: 1.4 * s });
    const airwayRng = rng.fork(`airway-${side}`);
    const out: TubeSegment[] = [];
    for (const target of lobeTargets(side, Cx, Cy, y0, zBase, H)) {
      growTree(airwayRng, lungs[side], out, hilum[side], normalize(sub(target, hilum[side])), r0 * 0.7, {
        minRadius: 1.2 * s, lengthFactor: [4, 7], maxSegments: 60, looseDepth: 1, centre: lungCentre(side),
      });
    }
    for (const t of out) anatomy.airways.push({ ...t, wallMm: Math.max(0.5, 0.22 * t.ra) });
  }

  // --- vessels: arteries from the hila (beside the bronchi), veins from the left atrium region.
  const maxSegs = Math.round(9000 * Math.min(1.5, Math.max(0.4, s)));
  for (const side of ['left', 'right'] as Side[]) {
    const sg = side === 'left' ? 1 : -1;
    const vRng = rng.fork(`vessels-${side}`);
    const artRoot = add(hilum[side], [-sg * 6 * s, -8 * s, 6 * s]);
    const veinRoot: Vec3 = [sg * 0.22 * Cx, y0 - 0.05 * Cy, zBase + 0.3 * H];
    const roots: [Vec3, number][] = [[artRoot, 5.5 * s], [veinRoot, 4.5 * s]];
    for (const [root, r] of roots) {
      for (const target of lobeTargets(side, Cx, Cy, y0, zBase, H)) {
        growTree(vRng, lungs[side], anatomy.vessels, root, normalize(sub(target, root)), r * vRng.uniform(0.8, 1.05), {
          minRadius: 0.35, lengthFactor: [5, 9], maxSegments: Math.round(maxSegs / 6), looseDepth: 2, centre: lungCentre(side),
        });
      }
    }
  }
  return anatomy;
}

/** Directions of the lobar trunks: apex, lateral/middle, posterior base, anterior base. */
function lobeTargets(side: Side, Cx: number, Cy: number, y0: number, zBase: number, H: number): Vec3[] {
  const sg = side === 'left' ? 1 : -1;
  return [
    [sg * 0.5 * Cx, y0 + 0.1 * Cy, zBase + 0.9 * H],
    [sg * 0.85 * Cx, y0 - 0.4 * Cy, zBase + 0.45 * H],
    [sg * 0.6 * Cx, y0 + 0.7 * Cy, zBase + 0.05 * H],
    [sg * 0.6 * Cx, y0 - 0.5 * Cy, zBase + 0.1 * H],
  ];
}

interface TreeOptions {
  minRadius: number;
  lengthFactor: [number, number];
  maxSegments: number;
  /** Depths allowed outside the lung (the trunks start in the mediastinum). */
  looseDepth: number;
  centre: Vec3;
}

/**
 * Recursive bifurcating tube tree: each segment is 5–9 radii long and tapers a little; children split the
 * flow by Murray's law (r³ = r₁³ + r₂³) with an asymmetry, the larger child deviating less. Branches that
 * would leave the lung are retried in another direction, then dropped. Breadth-first so a segment budget
 * thins the tree evenly instead of finishing one branch.
 */
function growTree(rng: Rng, lung: Shape, out: TubeSegment[], start: Vec3, dir: Vec3, r0: number, o: TreeOptions): void {
  const queue: { p: Vec3; d: Vec3; r: number; depth: number }[] = [{ p: start, d: dir, r: r0, depth: 0 }];
  let made = 0;
  while (queue.length > 0 && made < o.maxSegments) {
    const node = queue.shift()!;
    const { p, r, depth } = node;
    let d = node.d;
    let end: Vec3 | undefined;
    for (let attempt = 0; attempt < 5 && !end; attempt++) {
      const L = Math.max(1.5, r * rng.uniform(o.lengthFactor[0], o.lengthFactor[1]));
      const cand = add(p, scale(d, L));
      if (depth < o.looseDepth || lung.sdf(cand[0], cand[1], cand[2]) < -r) {
        end = cand;
      } else {
        // Turn towards the lung centre and try again.
        const toC = normalize(sub(o.centre, p));
        d = normalize(add(scale(d, 0.6), scale(toC, 0.4 + 0.1 * attempt)));
        if (attempt >= 2) d = normalize(add(d, scale(rng.unitVector(), 0.3)));
      }
    }
    if (!end) continue;
    const rEnd = r * rng.uniform(0.88, 0.96);
    out.push({ a: p, b: end, ra: r, rb: rEnd });
    made++;
    if (rEnd < o.minRadius * 1.26) continue;
    const kids = rng.chance(0.12) ? 3 : 2;
    const asym = rng.uniform(0.55, 1);
    const weights = kids === 2 ? [1, asym] : [1, asym, asym * rng.uniform(0.6, 1)];
    const sum3 = weights.reduce((acc, w) => acc + w * w * w, 0);
    const plane = rotateAbout(perpendicular(d), d, rng.uniform(0, 2 * Math.PI));
    weights.forEach((w, idx) => {
      const rc = (rEnd * w) / Math.cbrt(sum3);
      if (rc < o.minRadius) return;
      const angle = (idx === 0 ? rng.uniform(10, 35) : rng.uniform(30, 65)) * (Math.PI / 180);
      const axis = rotateAbout(plane, d, idx === 0 ? 0 : Math.PI + (idx - 1) * rng.uniform(-1, 1));
      queue.push({ p: end, d: normalize(rotateAbout(d, axis, angle)), r: rc, depth: depth + 1 });
    });
  }
}

function rotZ(a: number): [number, number, number, number, number, number, number, number, number] {
  const c = Math.cos(a), s = Math.sin(a);
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

/** Paints the anatomy (everything but nodules) onto an air-filled canvas. */
export function paintChestAnatomy(canvas: Canvas, anat: ChestAnatomy, rng: Rng): void {
  const s = anat.scale;
  const hu = anat.hu;
  const { Bx, By, Cx, Cy, y0, zLo, zHi, vbR, vbY } = anat.geom;
  const fatT = rng.uniform(0.35, 0.65) * (Bx - Cx);

  // Body wall: fat envelope, muscle, then the cavity's soft tissue (mediastinal fat/soft-tissue mix).
  rasterize(canvas, ellipticCylinderZ(0, 0.02 * By, Bx, By, zLo, zHi), { value: hu.fat, supersample: 2 });
  rasterize(canvas, ellipticCylinderZ(0, 0.02 * By, Bx - fatT, By - fatT, zLo, zHi), { value: hu.muscle, supersample: 2 });
  rasterize(canvas, anat.cavity, { value: rng.uniform(-40, 10), supersample: 2 });

  // Skeleton: ribs (cortex + marrow) in the ring between cavity and muscle, spine, sternum, scapulae.
  const ribR = 4.5 * s;
  const ribRx = Cx + 4.5 * s, ribRy = Cy + 4.5 * s;
  const ribStep = rng.uniform(22, 27) * s;
  for (let zr = anat.zTop + 10 * s; zr > zLo; zr -= ribStep) {
    for (const sg of [-1, 1]) {
      const pts: Vec3[] = [];
      const drop = rng.uniform(35, 55) * s;
      for (let t = 0; t <= 14; t++) {
        const phi = 0.28 + (t / 14) * 2.3;
        pts.push([sg * ribRx * Math.sin(phi), y0 + ribRy * Math.cos(phi), zr - drop * (1 - Math.cos(phi)) / 2]);
      }
      // Segment by segment (small boxes); repainting a joint with the same value composites as a union.
      for (let t = 1; t < pts.length; t++) rasterize(canvas, tube(pts[t - 1]!, pts[t]!, ribR, ribR), { value: hu.bone, supersample: 2 });
      for (let t = 1; t < pts.length; t++) rasterize(canvas, tube(pts[t - 1]!, pts[t]!, ribR - 1.6 * s, ribR - 1.6 * s), { value: hu.marrow, supersample: 2 });
    }
  }
  rasterize(canvas, ellipticCylinderZ(0, vbY, vbR, vbR, zLo, zHi), { value: rng.uniform(60, 100), supersample: 2 }); // discs
  const level = rng.uniform(24, 28) * s;
  for (let zv = zHi; zv > zLo - level; zv -= level) {
    const top = zv - 2.5 * s, bottom = zv - level + 2.5 * s;
    rasterize(canvas, ellipticCylinderZ(0, vbY, vbR, vbR, bottom, top), { value: hu.bone * 0.8, supersample: 2 });
    rasterize(canvas, ellipticCylinderZ(0, vbY, vbR - 2 * s, vbR - 2 * s, bottom + 1.5 * s, top - 1.5 * s), { value: hu.marrow, supersample: 2 });
    // Posterior arch and spinous process.
    const canalY = vbY + vbR + 7 * s;
    rasterize(canvas, tube([0, canalY + 6 * s, (top + bottom) / 2], [0, canalY + 26 * s, (top + bottom) / 2 - 8 * s], 4 * s, 3 * s), { value: hu.bone * 0.7, supersample: 2 });
    for (const sg of [-1, 1]) {
      rasterize(canvas, tube([0, canalY + 6 * s, (top + bottom) / 2], [sg * 26 * s, canalY - 2 * s, (top + bottom) / 2], 3.5 * s, 3.5 * s), { value: hu.bone * 0.7, supersample: 2 });
    }
    rasterize(canvas, ellipticCylinderZ(0, canalY, 7 * s, 7 * s, bottom - 2.5 * s, top + 2.5 * s), { value: rng.uniform(5, 25), supersample: 2 });
  }
  rasterize(canvas, aabb([-14 * s, y0 - Cy - 12 * s, anat.zBase + 0.35 * (anat.zTop - anat.zBase)], [14 * s, y0 - Cy - 2 * s, anat.zTop]), { value: hu.bone * 0.6, supersample: 2 });

  // Heart and great vessels.
  rasterize(canvas, anat.heart, { value: rng.uniform(35, 50), supersample: 2 });
  rasterize(canvas, anat.aorta, { value: rng.uniform(35, 50), supersample: 2 });

  // Lungs with gravity-dependent density and low-frequency texture.
  const tex = anat.lungTexture;
  const lungHu = hu.lung;
  const grad = rng.uniform(25, 60) / Cy;
  const texAmp = rng.uniform(12, 25);
  const lungValue = (x: number, y: number, z: number): number => lungHu + grad * (y - y0) + texAmp * tex(x, y, z);
  for (const side of ['left', 'right'] as Side[]) rasterize(canvas, anat.lungs[side], { value: lungValue, supersample: 2 });

  if (anat.fissures) {
    const t = rng.uniform(0.35, 0.6);
    const fissureHu = rng.uniform(-300, -50);
    for (const side of ['left', 'right'] as Side[]) {
      const o = anat.oblique[side];
      rasterize(canvas, intersection([slab(o.n, o.offset, t, anat.lungs[side].bbox), anat.lungs[side]], true), { value: fissureHu, supersample: 3 });
    }
    const o = anat.oblique.right;
    const horiz = intersection([
      slab([0, 0, 1], anat.horizontalZ, t, anat.lungs.right.bbox),
      halfSpace(o.n, o.offset, anat.lungs.right.bbox),
      anat.lungs.right,
    ], true);
    rasterize(canvas, horiz, { value: fissureHu, supersample: 3 });
  }

  for (const v of anat.vessels) rasterize(canvas, tube(v.a, v.b, v.ra, v.rb), { value: hu.vessel, supersample: 3 });
  // Airway walls first, then all lumens, so a child's wall never paints inside its parent's lumen.
  for (const a of anat.airways) rasterize(canvas, tube(a.a, a.b, a.ra + a.wallMm, a.rb + a.wallMm), { value: hu.airwayWall, supersample: 3 });
  for (const a of anat.airways) rasterize(canvas, tube(a.a, a.b, a.ra, a.rb), { value: -1000 + rng.uniform(0, 20), supersample: 3 });
}
