/**
 * Lung nodules of the chest phantom: type (solid, part-solid, ground-glass, calcified), shape (sphere,
 * lobulated, irregular, spiculated), placement (free in parenchyma, juxta-pleural against the chest wall,
 * juxta-vascular against a vessel), and their analytic truth. Every nodule is clipped to its lung, so the
 * painted shape and the measured truth are the same set (a juxta-pleural nodule ends flat at the pleura).
 */
import type { Vec3 } from '../../src/imaging/index.ts';
import { add, dot3, ellipsoid, intersection, len3, normalize, perpendicular, rotateAbout, scale, sphere, sub, tube, union } from './common.ts';
import type { Rng, Shape } from './common.ts';
import { lobeOf } from './chest-anatomy.ts';
import type { ChestAnatomy, Lobe, Side } from './chest-anatomy.ts';

export const NODULE_TYPES = ['solid', 'part-solid', 'ground-glass', 'calcified'] as const;
export type NoduleType = (typeof NODULE_TYPES)[number];
export const NODULE_SHAPES = ['sphere', 'lobulated', 'irregular', 'spiculated'] as const;
export type NoduleShapeKind = (typeof NODULE_SHAPES)[number];
export const NODULE_PLACEMENTS = ['free', 'juxta-pleural', 'juxta-vascular'] as const;
export type NodulePlacement = (typeof NODULE_PLACEMENTS)[number];

export interface NoduleSpec {
  id: string;
  type: NoduleType;
  shape: NoduleShapeKind;
  placement: NodulePlacement;
  side: Side;
  lobe: Lobe;
  /** Centre the shape was built around (LPS mm). */
  center: Vec3;
  nominalDiameterMm: number;
  /** Body without spicules, clipped to the lung: what diameters are measured on. */
  body: Shape;
  /** Everything painted (body + spicules), clipped to the lung: what the volume is measured on. */
  full: Shape;
  /** Solid component of a part-solid nodule, clipped to the lung. */
  core?: Shape;
  hu: number;
  coreHu?: number;
}

export interface NodulePlanOptions {
  count: number;
  /** Restrict the random choices (each entry equally likely); defaults: all. */
  types?: readonly NoduleType[];
  shapes?: readonly NoduleShapeKind[];
  placements?: readonly NodulePlacement[];
  /** Diameter range (mm) before per-type limits; default [3, 30]. */
  diameterRangeMm?: [number, number];
  /** z range (mm) the whole nodule must lie in (the volume's coverage). */
  zMin: number;
  zMax: number;
}

interface Built {
  body: Shape;
  full: Shape;
  /** Radius of a ball around the centre contained in the body. */
  rIn: number;
  /** Radius of a ball around the centre containing everything. */
  rOut: number;
}

const TYPE_DIAMETER: Record<NoduleType, [number, number]> = {
  solid: [3, 30],
  'part-solid': [6, 30],
  'ground-glass': [5, 30],
  calcified: [3, 12],
};

const SHAPES_FOR: Record<NoduleType, readonly NoduleShapeKind[]> = {
  solid: ['sphere', 'lobulated', 'irregular', 'spiculated'],
  'part-solid': ['sphere', 'lobulated'],
  'ground-glass': ['sphere', 'lobulated', 'irregular'],
  calcified: ['sphere', 'lobulated'],
};

/** Local shape parameters are drawn first, then instantiated at a centre (placement needs rIn/rOut up front). */
function drawShape(rng: Rng, kind: NoduleShapeKind, R: number): (c: Vec3) => Built {
  switch (kind) {
    case 'sphere':
      return (c) => {
        const s = sphere(c, R);
        return { body: s, full: s, rIn: R, rOut: R };
      };
    case 'lobulated': {
      const rc = R * rng.uniform(0.7, 0.8);
      const lobes = Array.from({ length: rng.int(4, 8) }, () => ({ u: rng.unitVector(), r: R * rng.uniform(0.3, 0.5) }));
      return (c) => {
        const s = union([sphere(c, rc), ...lobes.map((l) => sphere(add(c, scale(l.u, R - l.r)), l.r))]);
        return { body: s, full: s, rIn: rc, rOut: R };
      };
    }
    case 'irregular': {
      const main = { rot: rng.rotation(), radii: [R * rng.uniform(0.85, 1), R * rng.uniform(0.55, 0.8), R * rng.uniform(0.45, 0.7)] as Vec3 };
      const extra = Array.from({ length: rng.int(2, 4) }, () => {
        const rmax = R * rng.uniform(0.35, 0.6);
        return { rot: rng.rotation(), radii: [rmax, rmax * rng.uniform(0.5, 0.9), rmax * rng.uniform(0.4, 0.8)] as Vec3, off: scale(rng.unitVector(), (R - rmax) * rng.uniform(0.4, 1)) };
      });
      return (c) => {
        const s = union([ellipsoid(c, main.radii, main.rot), ...extra.map((e) => ellipsoid(add(c, e.off), e.radii, e.rot))]);
        return { body: s, full: s, rIn: Math.min(...main.radii), rOut: R };
      };
    }
    case 'spiculated': {
      const bodyMaker = drawShape(rng, rng.chance(0.5) ? 'lobulated' : 'sphere', R);
      const spicules = Array.from({ length: rng.int(6, 14) }, () => ({
        u: rng.unitVector(),
        len: R * rng.uniform(1.3, 1.9),
        r0: Math.max(0.45, Math.min(1.2, R * rng.uniform(0.08, 0.14))),
      }));
      return (c) => {
        const b = bodyMaker(c);
        const sp = spicules.map((x) => tube(add(c, scale(x.u, 0.6 * R)), add(c, scale(x.u, x.len)), x.r0, 0.15));
        return { body: b.body, full: union([b.body, ...sp]), rIn: b.rIn, rOut: Math.max(...spicules.map((x) => x.len)) };
      };
    }
  }
}

const PROBE_DIRS: Vec3[] = (() => {
  const out: Vec3[] = [];
  for (const x of [-1, 0, 1]) for (const y of [-1, 0, 1]) for (const z of [-1, 0, 1]) if (x || y || z) out.push(normalize([x, y, z]));
  return out;
})();

function distToSegment(p: Vec3, a: Vec3, b: Vec3): { d: number; t: number } {
  const ab = sub(b, a);
  const l2 = dot3(ab, ab);
  const t = l2 > 0 ? Math.max(0, Math.min(1, dot3(sub(p, a), ab) / l2)) : 0;
  return { d: len3(sub(p, add(a, scale(ab, t)))), t };
}

/** Plans `count` nodules (fewer if the lungs cannot hold them without overlap); deterministic per rng. */
export function planNodules(rng: Rng, anat: ChestAnatomy, opts: NodulePlanOptions): NoduleSpec[] {
  const out: NoduleSpec[] = [];
  const outerRadii: number[] = [];
  const { Cx, Cy, y0 } = anat.geom;
  const range = opts.diameterRangeMm ?? [3, 30];
  const bigVessels = anat.vessels.filter((v) => v.ra >= 1.2);
  const candidatesJV = anat.vessels.filter((v) => v.ra >= 1 && v.ra <= 5);
  for (let n = 0; n < opts.count; n++) {
    const type = rng.pick(opts.types ?? NODULE_TYPES);
    const [tlo, thi] = TYPE_DIAMETER[type];
    const lo = Math.max(range[0], tlo);
    const hi = Math.max(lo, Math.min(range[1], thi, 0.4 * Cx));
    const allowedShapes = SHAPES_FOR[type].filter((k) => !opts.shapes || opts.shapes.includes(k));
    let kind = rng.pick(allowedShapes.length > 0 ? allowedShapes : SHAPES_FOR[type]);
    const D = rng.logUniform(lo, hi);
    if (kind === 'spiculated' && D < 7) kind = 'lobulated';
    const R = D / 2;
    const make = drawShape(rng, kind, R);
    const placement = rng.pick(opts.placements ?? NODULE_PLACEMENTS);
    const probe = make([0, 0, 0]);
    const { rIn, rOut } = probe;
    let placed: { c: Vec3; side: Side } | undefined;
    for (let attempt = 0; attempt < 200 && !placed; attempt++) {
      const side: Side = rng.chance(0.5) ? 'left' : 'right';
      const sg = side === 'left' ? 1 : -1;
      const lung = anat.lungs[side];
      const z = rng.uniform(opts.zMin + rOut + 1, opts.zMax - rOut - 1);
      if (!(opts.zMax - opts.zMin > 2 * rOut + 2)) break;
      let c: Vec3;
      if (placement === 'free') {
        const b = lung.bbox;
        c = [rng.uniform(b.min[0], b.max[0]), rng.uniform(b.min[1], b.max[1]), z];
        if (!(lung.sdf(c[0], c[1], c[2]) < -(rOut + 2))) continue;
        if (bigVessels.some((v) => distToSegment(c, v.a, v.b).d < rOut + Math.max(v.ra, v.rb) + 1)) continue;
      } else if (placement === 'juxta-pleural') {
        const phi = rng.uniform(0.35, 2.75);
        const wall: Vec3 = [sg * Cx * Math.sin(phi), y0 + Cy * Math.cos(phi), z];
        const nIn = normalize([-wall[0] / (Cx * Cx), -(wall[1] - y0) / (Cy * Cy), 0]);
        const overlap = rIn * rng.uniform(0.15, 0.35);
        c = add(wall, scale(nIn, R - overlap));
        if (!(lung.sdf(c[0], c[1], c[2]) < 0)) continue;
        // The rest of the nodule (away from the wall) must be in this lung, not in the mediastinum.
        if (PROBE_DIRS.some((u) => dot3(u, nIn) > -0.3 && lung.sdf(c[0] + u[0] * rOut * 1.1, c[1] + u[1] * rOut * 1.1, c[2] + u[2] * rOut * 1.1) >= 0)) continue;
      } else {
        const v = candidatesJV.length > 0 ? rng.pick(candidatesJV) : undefined;
        if (!v) break;
        const t = rng.uniform(0.2, 0.8);
        const axis = normalize(sub(v.b, v.a));
        const q = add(v.a, scale(sub(v.b, v.a), t));
        const u = rotateAbout(perpendicular(axis), axis, rng.uniform(0, 2 * Math.PI));
        const rv = v.ra + (v.rb - v.ra) * t;
        c = add(q, scale(u, rv + rIn - rng.uniform(0.3, 0.8) * Math.min(rv, rIn)));
        if (c[2] < opts.zMin + rOut + 1 || c[2] > opts.zMax - rOut - 1) continue;
        if (lung.sdf(c[0], c[1], c[2]) >= 0) continue;
        if (PROBE_DIRS.some((p) => lung.sdf(c[0] + p[0] * rOut * 1.15, c[1] + p[1] * rOut * 1.15, c[2] + p[2] * rOut * 1.15) >= 0)) continue;
      }
      if (out.some((o, idx) => len3(sub(o.center, c)) < (outerRadii[idx] ?? 0) + rOut + 3)) continue;
      if (anat.airways.some((a) => distToSegment(c, a.a, a.b).d < rOut + Math.max(a.ra, a.rb) + a.wallMm + 1)) continue;
      placed = { c, side };
    }
    if (!placed) continue;
    const built = make(placed.c);
    const lung = anat.lungs[placed.side];
    // Clip to the lung only where the nodule can reach its boundary (conservative SDF: depth ≥ |sdf|).
    const needsClip = !(lung.sdf(placed.c[0], placed.c[1], placed.c[2]) < -(rOut + 0.5));
    const clip = (sh: Shape): Shape => (needsClip ? intersection([sh, lung], true) : sh);
    const body = clip(built.body);
    const spec: NoduleSpec = {
      id: `n${out.length + 1}`,
      type,
      shape: kind,
      placement,
      side: placed.side,
      lobe: lobeOf(anat, placed.side, placed.c),
      center: placed.c,
      nominalDiameterMm: D,
      body,
      full: built.full === built.body ? body : clip(built.full),
      hu: noduleHu(rng, type),
    };
    if (type === 'part-solid') {
      const rc = rIn * rng.uniform(0.3, 0.6);
      const off = scale(rng.unitVector(), Math.max(0, rIn - rc - 0.3) * rng.uniform(0, 0.6));
      const coreC = add(placed.c, off);
      const core = rng.chance(0.5) ? sphere(coreC, rc) : drawShape(rng, 'lobulated', rc)(coreC).body;
      spec.core = clip(core);
      spec.coreHu = rng.uniform(20, 60);
    }
    out.push(spec);
    outerRadii.push(rOut);
  }
  return out;
}

function noduleHu(rng: Rng, type: NoduleType): number {
  switch (type) {
    case 'solid': return rng.uniform(35, 65);
    case 'part-solid': return rng.uniform(-600, -300);
    case 'ground-glass': return rng.uniform(-700, -400);
    case 'calcified': return rng.uniform(250, 900);
  }
}
