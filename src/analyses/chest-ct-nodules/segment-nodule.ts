/**
 * 3D segmentation of one nodule around a seed, on a local isotropic grid resampled from the original voxels
 * (fine enough that thick slices are interpolated rather than staircased):
 * 1. attenuation levels from the pixels: the parenchyma around it (bg) and the nodule's plateau, sampled in a
 *    ball at the seed; the plateau decides solid / part-solid / ground-glass / calcified, with the radial profile
 *    from the peak (a ground-glass plateau around the core, or only the blur of a small solid nodule whose peak
 *    partial volume dimmed below solid attenuation);
 * 2. adaptive threshold at half way between bg and the plateau (the ground-glass plateau for sub-solid
 *    nodules), which puts the edge where partial volume is 50 %, inside the lung mask (stops at the pleura);
 * 3. the component at the seed, opened by a ball of half the nodule's inner radius (cuts attached vessels and
 *    pleural bridges thinner than that), the seed component of the opening, then the thresholded voxels within
 *    a small margin of it (restores the surface detail the opening rounded off); a sub-solid mask is then cut
 *    radially to its own extent (SUBSOLID_RADIAL_CAP: vessels blurred to ground-glass attenuation pass its threshold);
 * 4. volume with partial-volume weighting over the mask and its one-voxel outer shell.
 * Beyond the lung mask: a juxtapleural nodule is cut at the pleural line extrapolated from the aerated lung
 * around it (a closing of that lung), so no slab of chest wall joins it; a large solid object, or one whose peak
 * lies outside the lung mask, may be a mass that replaces lung, and grows inside a pleural envelope (per slice
 * the convex hull of each lung) within its own attenuation band, which keeps it out of fat, bone, enhanced blood
 * and liver. A seed in the collapsed lung beside a mass is moved to the mass's solid centre.
 */
import type { Float32Volume, Int16Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import {
  close, connectedComponents, crop, dilate, distanceTransform, fillHoles, fillHoles2D, gaussian, ijkToLps, lpsToIjk, open, radialCap, resampleToGrid, voxelVolumeMm3, withData,
} from '../../imaging/index.ts';
import type { Box, RadialCapOptions } from '../../imaging/index.ts';
import type { Mat3 } from '../../imaging/index.ts';
import { convexHull2D, shapeMoments } from './measure.ts';

export type NoduleType = 'solid' | 'part-solid' | 'ground-glass' | 'calcified';

export interface NoduleSegmentation {
  /** Nodule mask on the local grid (LPS geometry). */
  mask: MaskVolume;
  /** Smoothed HU on the local grid. */
  smooth: Float32Volume;
  /** Resampled (unsmoothed) HU on the local grid. */
  hu: Int16Volume;
  /** Lung mask on the local grid. */
  lung: MaskVolume;
  type: NoduleType;
  /** Set when the type model (retype.ts) overrode the rules: the type the rules gave. */
  rulesType?: NoduleType;
  bgHu: number;
  /** Plateau of the nodule (ground-glass plateau for sub-solid nodules). */
  levelHu: number;
  peakHu: number;
  thresholdHu: number;
  /** Solid-component mask (part-solid only). */
  solid?: MaskVolume;
  /** Partial-volume weighted volume (mm³). */
  volumeMm3: number;
  /** Largest inscribed-ball radius near the seed (mm). */
  rInMm: number;
  /** Median over 26 directions of the distance from the peak to the edge (mm): the round part's radius. */
  rayRadiusMm: number;
  openingRadiusMm: number;
  /** Volume of the thresholded seed component before opening / after: ≫ 1 when attached to vessels. */
  attachmentRatio: number;
  /** The final mask reaches the local grid's faces (it continues beyond the box: a vessel or a wall). */
  touchesBorder: boolean;
  /** Fraction of mask voxels next to non-lung voxels (pleural contact). */
  pleuralContact: number;
  /** Fraction of the sampling ball with solid attenuation (> −250 HU). */
  solidFraction: number;
  /** Brightest smoothed voxel near the seed (LPS mm). */
  peakLps: Vec3;
  /** Where the mask was measured from (LPS mm): the peak, or for ground glass the centre of its largest inscribed
   * ball of ground-glass attenuation (its peak is often the vessel it touches). */
  centreLps: Vec3;
  /** Segmented as a mass that may replace lung: grown inside the pleural envelope, not only the lung mask. */
  mass?: boolean;
  /** The attenuation measurements the type was decided on (decideNoduleType). */
  typeEvidence: TypeEvidence;
}

/** What the type rule sees (smoothed HU on the local grid). */
export interface TypeEvidence {
  /** Brightest voxel near the seed. */
  peakHu: number;
  /** 80th percentile of the sampling ball's voxels above half maximum. */
  plateauHu: number;
  bgHu: number;
  /** Fraction of the sampling ball above −250 HU. */
  solidFraction: number;
  /** Median of a small ball at the peak. */
  coreMedianHu: number;
  /** Ground-glass level of a halo around the solid region (haloLevel), or null. */
  haloHu: number | null;
  /** Voxels of the sampling ball above half maximum. */
  insideCount: number;
  /** Median of the sampling ball's ground-glass voxels, or null when too few. */
  ggMedianHu: number | null;
  /** Radius estimate the box was sized for (mm). */
  rEstMm: number;
  /** Local grid spacing (mm). */
  gridMm: number;
  /** Partial-volume-corrected mean attenuation: parenchyma + the excess over mask and shell / the mask's volume. */
  pvMeanHu?: number;
  /** Volume of the mask (voxels, mm³). */
  maskVolumeMm3?: number;
  /** Sub-solid only, measured on the final mask: its brightest voxel (smoothed HU). */
  maskMaxHu?: number;
  /** Volume of the solid component within the mask (coreInMask: the largest enclosed solid region, else the one
   * around the brightest voxel) (mm³). */
  coreVolumeMm3?: number;
  /** Fraction of that region's voxels on the mask's surface (a vessel crossing the mask lies on it); 0 for an
   * enclosed component (coreInMask). */
  coreSurfaceFraction?: number;
  /** Radial profile from the peak (profileEvidence), over the rays that stay in the lung. */
  profile?: ProfileEvidence;
}

/** The radial profile around a nodule's peak: a blurred solid falls within the blur, sub-solid keeps a ground-glass plateau. */
export interface ProfileEvidence {
  /** Rays (of 26) that stay in the lung until the profile reaches the parenchyma. */
  rays: number;
  /** Median distance from the peak to half way between the peak and bg (mm). */
  halfMaxMm: number;
  /** Median distance from the peak to ground-glass floor (bg + GG_MIN_ABOVE_BG) (mm). */
  floorMm: number;
  /** Median longest flat run (spread < HALO_MAX_SPREAD_HU) at ground-glass level, below the peak's own top (mm). */
  plateauMm: number;
  /** Fraction of the rays whose flat run is at least PLATEAU_MIN_MM. */
  plateauRayFraction: number;
  /** Median flat run at ground-glass level, the peak's top included (mm). */
  flatMm: number;
}

export const SOLID_HU = -250;
// Solid nodules and vessels are ≤ ~70 HU; anything brighter is calcium, even when partial volume dims a small one.
const CALCIFIED_HU = 115;
/** Core (ball median) attenuation above which a nodule is calcified whatever its size. */
export const CALCIFIED_CORE_HU = 200;
const CALCIFIED_PEAK_HU = 160;
/** Ground glass is −750…−300 HU: a halo at that level around a solid core makes the nodule part-solid. */
const GG_MIN_ABOVE_BG = 200;
/** A halo surrounds the core: at least half the rays that sample lung must find ground glass. */
const HALO_MIN_RAY_FRACTION = 0.5;
const MASS_CORE_RADIUS_MM = 15;
const HALO_SOLID_EDGE_HU = SOLID_HU;
/** Spread (max − min, smoothed HU) of a ray's shell samples above which they are no plateau. */
const HALO_MAX_SPREAD_HU = 150;
/** Rays (of 26) whose shell lies in the lung: fewer, and the halo cannot be told from the lung on one side. */
const HALO_MIN_RAYS = 8;
/**
 * The shell a halo is looked for in (mm beyond the solid edge along each ray). A part-solid nodule's ground-glass rim
 * can be only 2 mm thick (a 5.8 mm component in a 9.7 mm nodule); 1–3 mm out, its plateau and the fall to the
 * parenchyma beyond share the window and the spread rule calls it no plateau. 0.5–1.5 mm holds the rim's plateau,
 * while a solid edge's blur tail still falls ≈ 300 HU across it. Type study (tuning scans, --no-retype): dense 1..8
 * 83.6 → 87.7 % (part-solid called solid 3 → 0, no solid newly called part-solid), plain 1..16 86.1 → 86.1 %.
 */
const HALO_SHELL_MM: readonly [number, number] = [0.5, 1.5];

function median(values: number[]): number {
  if (values.length === 0) return NaN;
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] as number;
}

/** Median of HU values by a 1-HU histogram over [lo, hi) (a sort of every parenchyma voxel costs ms per nodule). */
function histMedian(values: Float32Array | number[], count: number, lo: number, hi: number): number {
  const bins = new Uint32Array(hi - lo);
  for (let v = 0; v < count; v++) { const b = Math.min(hi - lo - 1, Math.max(0, Math.floor((values[v] as number) - lo))); bins[b] = (bins[b] as number) + 1; }
  let acc = 0;
  const half = Math.floor(count / 2);
  for (let b = 0; b < bins.length; b++) {
    acc += bins[b] as number;
    if (acc > half) return lo + b + 0.5;
  }
  return hi;
}

/** Median of `s` over the voxels within `rVox` of `c` (clipped to the grid). */
function ballMedian(s: Float32Array, dims: Vec3, c: Vec3, rVox: number): number {
  const [nx, ny, nz] = dims;
  const R = Math.ceil(rVox);
  const vals: number[] = [];
  for (let dk = -R; dk <= R; dk++) for (let dj = -R; dj <= R; dj++) for (let di = -R; di <= R; di++) {
    if (di * di + dj * dj + dk * dk > rVox * rVox + 1e-9) continue;
    const i = c[0] + di, j = c[1] + dj, k = c[2] + dk;
    if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
    vals.push(s[i + j * nx + k * nx * ny] as number);
  }
  return vals.length > 0 ? median(vals) : -Infinity;
}

function percentile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(q * values.length))] as number;
}

/**
 * Ground-glass level of a halo around the solid region of a nodule, or null when there is none. The solid
 * region is grown from the peak (smoothed HU > tSolid); the shell HALO_SHELL_MM outside it is sampled along rays: a
 * solid nodule's shell holds only the blur tail (near bg), a part-solid one's a ground-glass plateau.
 */
function haloLevel(s: Float32Array, lung: Uint8Array, dims: Vec3, peak: Vec3, h: number, tSolid: number, bg: number, rEst: number): number | null {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const vals: number[] = [];
  // A halo surrounds the core: count the rays whose shell holds ground glass, not only the pooled values (a mass
  // with collapsed or infiltrated lung on one side has a ground-glass shell on a few rays only).
  let raysSampled = 0, raysGg = 0;
  const edges: number[] = [];
  const maxR = Math.min(3 * rEst + 6, ((Math.min(nx, ny, nz) - 1) / 2) * h);
  for (let t = 0; t < 26; t++) {
    // 26 directions of the cube neighbourhood.
    const di = (t % 3) - 1, dj = (Math.floor(t / 3) % 3) - 1, dk = Math.floor(t / 9) - 1;
    if (di === 0 && dj === 0 && dk === 0) continue;
    const len = Math.hypot(di, dj, dk);
    const ui = di / len, uj = dj / len, uk = dk / len;
    let edge = -1;
    const ray: number[] = [];
    for (let r = 0; r <= maxR; r += h * 0.5) {
      const i = Math.round(peak[0] + (ui * r) / h), j = Math.round(peak[1] + (uj * r) / h), k = Math.round(peak[2] + (uk * r) / h);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) break;
      const v = i + j * nx + k * plane;
      if (edge < 0) {
        if ((s[v] as number) <= tSolid) edge = r;
        continue;
      }
      if (r < edge + HALO_SHELL_MM[0]) continue;
      if (r > edge + HALO_SHELL_MM[1]) break;
      if (lung[v] !== 0 && (s[v] as number) < tSolid) ray.push(s[v] as number);
    }
    // A ray that never leaves the solid part within reach counts as reaching past it.
    edges.push(edge >= 0 ? edge : maxR);
    if (ray.length === 0) continue;
    raysSampled++;
    const rm = median(ray.slice());
    // Ground glass is a plateau: the blur tail of a solid edge falls steeply across the shell, collapsed or
    // consolidated lung beside a mass is mottled; neither is flat.
    let lo = Infinity, hi = -Infinity;
    for (const x of ray) { if (x < lo) lo = x; if (x > hi) hi = x; }
    if (rm > bg + GG_MIN_ABOVE_BG && hi - lo < HALO_MAX_SPREAD_HU) raysGg++;
    for (const x of ray) vals.push(x);
  }
  // A solid core over 3 cm across is a mass (Fleischner Society glossary, Hansell et al., Radiology 2008): what
  // borders it is collapsed or infiltrated lung far more often than a ground-glass component, and Lung-RADS v2022
  // puts a solid part ≥ 15 mm in 4B whether or not a halo is there.
  if (median(edges) > MASS_CORE_RADIUS_MM) return null;
  if (vals.length < 20 || raysSampled < HALO_MIN_RAYS || raysGg < HALO_MIN_RAY_FRACTION * raysSampled) return null;
  const m = median(vals);
  return m > bg + GG_MIN_ABOVE_BG && m < SOLID_HU ? m : null;
}

/** A ground-glass plateau is wider than the blur: a flat run along a ray at least this long (mm). */
const PLATEAU_MIN_MM = 1.5;
/** The peak's own top (within this fraction of the contrast below the peak) is no plateau around it. */
const PLATEAU_BELOW_PEAK = 0.15;

/**
 * Radial profile from the peak along the 26 cube directions (smoothed HU), over the rays that stay in the lung
 * until the profile reaches the parenchyma. A small solid nodule blurred by the scanner's PSF and slice profile
 * has a dimmed peak and a smooth monotone fall-off as wide as the blur; a part-solid one keeps a ground-glass
 * plateau (−750…−300 HU, flat) of finite width around its core.
 */
export function profileEvidence(s: Float32Array, lung: Uint8Array, dims: Vec3, peak: Vec3, h: number, peakHu: number, bg: number, rEst: number): ProfileEvidence {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const floor = bg + GG_MIN_ABOVE_BG;
  const half = (peakHu + bg) / 2;
  const top = peakHu - PLATEAU_BELOW_PEAK * (peakHu - bg);
  const maxR = Math.min(3 * rEst + 6, ((Math.min(nx, ny, nz) - 1) / 2) * h);
  const step = h * 0.5;
  const halfs: number[] = [], floors: number[] = [], plateaus: number[] = [], flats: number[] = [];
  // Longest run of consecutive samples within `ok` whose spread stays below HALO_MAX_SPREAD_HU (mm).
  const longestRun = (p: number[], ok: (x: number) => boolean): number => {
    let best = 0;
    for (let a = 0; a < p.length; a++) {
      if (!ok(p[a] as number)) continue;
      let lo = p[a] as number, hi = lo, b = a;
      while (b + 1 < p.length && ok(p[b + 1] as number)) {
        const x = p[b + 1] as number;
        if (Math.max(hi, x) - Math.min(lo, x) >= HALO_MAX_SPREAD_HU) break;
        lo = Math.min(lo, x); hi = Math.max(hi, x); b++;
      }
      best = Math.max(best, (b - a) * step);
    }
    return best;
  };
  for (let t = 0; t < 27; t++) {
    const di = (t % 3) - 1, dj = (Math.floor(t / 3) % 3) - 1, dk = Math.floor(t / 9) - 1;
    if (di === 0 && dj === 0 && dk === 0) continue;
    const len = Math.hypot(di, dj, dk);
    const ui = di / len, uj = dj / len, uk = dk / len;
    const p: number[] = [];
    let reached = false;
    for (let r = 0; r <= maxR; r += step) {
      const i = Math.round(peak[0] + (ui * r) / h), j = Math.round(peak[1] + (uj * r) / h), k = Math.round(peak[2] + (uk * r) / h);
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) break;
      const v = i + j * nx + k * plane;
      if (lung[v] === 0) break;
      const x = s[v] as number;
      p.push(x);
      if (x <= floor - 0.5 * GG_MIN_ABOVE_BG) { reached = true; break; }
    }
    if (!reached) continue;
    const firstBelow = (level: number) => { const q = p.findIndex((x) => x <= level); return (q < 0 ? p.length : q) * step; };
    halfs.push(firstBelow(half));
    floors.push(firstBelow(floor));
    const gg = (x: number) => x > floor && x < SOLID_HU - 50;
    const run = longestRun(p, (x) => gg(x) && x < top);
    plateaus.push(run);
    flats.push(longestRun(p, gg));
  }
  const rays = halfs.length;
  return {
    rays,
    halfMaxMm: median(halfs), floorMm: median(floors), plateauMm: median(plateaus.slice()), flatMm: median(flats),
    plateauRayFraction: rays > 0 ? plateaus.filter((x) => x >= PLATEAU_MIN_MM).length / rays : 0,
  };
}

/** Whether the sampling ball reads solid: the type rule's solid branch, where a ground-glass halo makes it part-solid. */
function solidByBall(e: Pick<TypeEvidence, 'solidFraction' | 'peakHu' | 'insideCount'>): boolean {
  return e.solidFraction >= 0.5 || (e.peakHu > SOLID_HU && e.insideCount < 8);
}

/**
 * Type of a nodule from its attenuation, and the level its threshold is set from (the ground-glass plateau for a
 * sub-solid one, whose edge is the ground glass's).
 */
/**
 * Optional type rules. `dimmedSolid` (dimmedSolid(): a dimmed peak without a ground-glass plateau is solid, cut at
 * half its peak) is OFF during detection: it changes the masks of small dimmed nodules, which the
 * second-stage classifier was trained on with the old masks, and with it on a 3.8 mm structure on the real IBSI CT
 * rose to p 0.58 (0 false positives ≥ 0.5 without it; `eval chest --real --threshold 0.5`, 2026-11-30), and a second
 * stage retrained on its masks gave 3 real false positives. From 0.6.0 to 0.9.1 it was applied after scoring to the
 * kept findings (retype.ts); since 0.10.0 the type model does that (it reads the same radial profile), and the rule
 * stays a development option (type-study.ts --dimmed-solid).
 */
export interface TypeRules {
  readonly dimmedSolid?: boolean;
  /** The type to segment as, whatever the rules say (the type model's call, retype.ts); the mask refinements of the
   * type (refineType) are then skipped. Its level: the rules' own where they agree on sub-solid vs solid, else
   * forcedLevel. */
  readonly force?: NoduleType;
}

/** Part-solid or ground glass. */
export const isSubSolid = (t: NoduleType): boolean => t === 'part-solid' || t === 'ground-glass';

/**
 * The level a forced type is segmented from when the rules put the nodule on the other side of sub-solid vs solid:
 * sub-solid from its ground glass (the halo, else the ball's ground-glass voxels, else half way between solid
 * attenuation and the parenchyma), solid from its plateau — or, when partial volume dimmed it below solid
 * attenuation, from its peak (cut at half its contrast, as dimmedSolid).
 */
function forcedLevel(type: NoduleType, e: TypeEvidence): number {
  if (isSubSolid(type)) return e.haloHu ?? e.ggMedianHu ?? (SOLID_HU + e.bgHu) / 2;
  return solidByBall(e) ? e.plateauHu : e.peakHu;
}

export function decideNoduleType(e: TypeEvidence, rules: TypeRules = {}): { type: NoduleType; level: number } {
  const d = decideByRules(e, rules);
  const f = rules.force;
  if (f === undefined || f === d.type) return d;
  return { type: f, level: isSubSolid(f) === isSubSolid(d.type) ? d.level : forcedLevel(f, e) };
}

function decideByRules(e: TypeEvidence, rules: TypeRules): { type: NoduleType; level: number } {
  const { peakHu: peak, plateauHu: plateau, bgHu: bg, coreMedianHu: coreMedian, haloHu: halo, rEstMm: rEst } = e;
  // Calcified by the attenuation of the core, not of one voxel: the brightest smoothed voxel of a large solid mass
  // (noise, a rib at its edge) can pass CALCIFIED_HU, the median of a small ball at the peak does not. Fleischner /
  // Lung-RADS call a nodule benign-calcified at ≥ ~200 HU; a small one, dimmed by partial volume, needs
  // both a core above CALCIFIED_HU and a peak well above any solid tissue.
  // Inside a mass the partial-volume rule does not apply (an enhancing vessel or the heart's edge is ≥ 115 HU).
  if (coreMedian >= CALCIFIED_CORE_HU || (coreMedian >= CALCIFIED_HU && peak >= CALCIFIED_PEAK_HU && rEst < MASS_MIN_RADIUS_MM)) {
    return { type: 'calcified', level: plateau };
  }
  if (solidByBall(e)) {
    // A solid core with a ground-glass halo is part-solid.
    return halo !== null ? { type: 'part-solid', level: halo } : { type: 'solid', level: plateau };
  }
  // A peak dimmed by partial volume below solid attenuation, with no ground-glass plateau around it, is a small solid
  // nodule (or vessel) blurred by the PSF and the slice profile: solid, its edge at half the peak's contrast.
  if (peak > SOLID_HU - 50) return rules.dimmedSolid === true && dimmedSolid(e) ? { type: 'solid', level: peak } : { type: 'part-solid', level: e.ggMedianHu ?? (SOLID_HU + bg) / 2 };
  return { type: 'ground-glass', level: plateau };
}

/**
 * Whether a peak below solid attenuation is a small solid nodule dimmed by partial volume: its radial profile falls
 * from the peak to the parenchyma within the blur (no ground-glass plateau on the rays: no flat run at ground-glass
 * level wider than the blur, and no tail at ground-glass level beyond the half-maximum contour), and it is small
 * (partial volume dims only objects a few PSF widths across).
 */
export function dimmedSolid(e: Pick<TypeEvidence, 'profile'>): boolean {
  const p = e.profile;
  if (!p || p.rays < HALO_MIN_RAYS) return false;
  return p.plateauRayFraction < HALO_MIN_RAY_FRACTION && p.flatMm < PLATEAU_MIN_MM && p.floorMm - p.halfMaxMm < DIMMED_MAX_TAIL_MM && p.halfMaxMm <= DIMMED_MAX_RADIUS_MM;
}

/** Width (mm) of ground-glass-level profile beyond the half-maximum contour above which a halo is there (blur tail: < 1 mm). */
const DIMMED_MAX_TAIL_MM = 1;
/** Half-maximum radius (mm) beyond which partial volume cannot dim a solid nodule's peak below solid attenuation. */
const DIMMED_MAX_RADIUS_MM = 3;

/**
 * Part-solid vs ground glass on the final mask: a part-solid nodule is ground glass with a solid component within it
 * (Fleischner Society glossary, Hansell et al., Radiology 2008;246:697–722: "part-solid nodule"; Lung-RADS v2022
 * measures that solid component). A region of solid attenuation (> −250 HU) enclosed by the ground-glass mask —
 * none of it on the mask's surface, or a compact region barely touching it (coreInMask reads it as 0), so no vessel
 * crossing or touching the nodule, which enters from outside — of at least the volume of a 2 mm ball makes a
 * ground-glass nodule part-solid, wherever it lies in the mask.
 */
export function refineSubSolidType(type: NoduleType, e: TypeEvidence): NoduleType {
  if (type !== 'ground-glass' || e.coreVolumeMm3 === undefined || e.coreSurfaceFraction === undefined) return type;
  return e.coreVolumeMm3 >= ENCLOSED_CORE_MIN_MM3 && e.coreSurfaceFraction === 0 ? 'part-solid' : type;
}

/**
 * A small "solid" nodule whose partial-volume-corrected mean attenuation (TypeEvidence.pvMeanHu: the parenchyma plus
 * the whole excess over the mask and its shell, over the mask's volume) is calcium's: calcified. Below ≈ 4 mm the
 * PSF and the slice profile dim a calcified nodule's peak to solid tissue, so the peak and core rules of
 * decideNoduleType miss it, but the excess attenuation it spreads around is conserved. Benign calcification is
 * ≥ ≈ 200 HU (Fleischner glossary, Hansell et al., Radiology 2008; Lung-RADS v2022 "benign calcification"); the
 * cut is 300 HU because pvMeanHu over-reads small solid nodules (up to 232 HU for 4–6 mm solids of ≈ 50 HU on the
 * tuning phantoms, `type-study.ts --from 1 --to 12 --dense 1..8`, where calcified ones called solid read 276–526).
 * Only below 6 mm (mask volume < 113 mm³): there solid (Lung-RADS v2022 category 2) and calcified (category 1)
 * have the same management, 12-month LDCT, so a wrong call cannot lower the care of a nodule that needs more.
 */
export const CALCIFIED_PV_MEAN_HU = 300;
export const CALCIFIED_PV_MAX_MM3 = (Math.PI / 6) * 6 ** 3;

/** The refinements of the type on the final mask (refineSubSolidType, then the small calcified nodule above). */
export function refineType(type: NoduleType, e: TypeEvidence): NoduleType {
  const t = refineSubSolidType(type, e);
  if (t === 'solid' && e.pvMeanHu !== undefined && e.maskVolumeMm3 !== undefined && e.pvMeanHu >= CALCIFIED_PV_MEAN_HU && e.maskVolumeMm3 < CALCIFIED_PV_MAX_MM3) return 'calcified';
  return t;
}

/** Smallest enclosed solid component that makes a nodule part-solid: a ball 2 mm across (≈ 4.2 mm³). */
const ENCLOSED_CORE_MIN_MM3 = (4 / 3) * Math.PI;

/**
 * A solid region that touches the mask's surface counts as enclosed when at most this share of its voxels lies on
 * the surface and it is compact (CORE_MIN_ELONGATION): a solid component inside the ground glass touches the surface,
 * if at all, at a few voxels where the mask's edge passes close to it (tuning seed 2: a 7 mm component, 4 % on the
 * surface). The share alone cannot tell it from a vessel crossing the nodule — that meets the surface only with its
 * end discs (a 3 mm vessel through a 14 mm nodule: 3 %) — its shape can.
 */
export const CORE_MAX_SURFACE_FRACTION = 0.08;
/** sd_min / sd_max of the principal axes (shapeMoments) of a touching solid region for it to be a component, not a
 * vessel segment (a 3 × 14 mm segment ≈ 0.2; a ball 1, a lobulated component ≳ 0.6). */
export const CORE_MIN_ELONGATION = 0.5;

/**
 * The solid component of a sub-solid nodule's mask: of the 6-connected regions of solid attenuation (> −250 HU)
 * within it, the largest enclosed one (CORE_MAX_SURFACE_FRACTION); when none is enclosed, the region around the
 * brightest voxel (a vessel or the chest wall at the mask's edge), whose surface share then says so. Every region,
 * not only the brightest's: at the pleura or a vessel the brightest voxel is often theirs, not the component's
 * (tuning seed 16: a 7.6 mm component at 44 HU beside a 176 HU pleural edge).
 */
export function coreInMask(mask: MaskVolume, s: Float32Array, voxVol: number): Pick<TypeEvidence, 'maskMaxHu' | 'coreVolumeMm3' | 'coreSurfaceFraction'> {
  const m = mask.data;
  const n = m.length;
  let best = -Infinity, bestV = -1;
  for (let v = 0; v < n; v++) if (m[v] !== 0 && (s[v] as number) > best) { best = s[v] as number; bestV = v; }
  if (bestV < 0) return {};
  if (!(best > SOLID_HU)) return { maskMaxHu: best, coreVolumeMm3: 0, coreSurfaceFraction: 0 };
  const [nx, ny, nz] = mask.dims;
  const plane = nx * ny;
  const solid = new Uint8Array(n);
  for (let v = 0; v < n; v++) solid[v] = m[v] !== 0 && (s[v] as number) > SOLID_HU ? 1 : 0;
  const cc = connectedComponents(withData(mask, solid), { connectivity: 6 });
  const labels = cc.labels.data;
  const vol = cc.sizes, surf = new Float64Array(cc.count + 1);
  for (let v = 0; v < n; v++) {
    const l = labels[v] as number;
    if (l === 0) continue;
    const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
    const onSurface = i === 0 || i === nx - 1 || j === 0 || j === ny - 1 || k === 0 || k === nz - 1
      || m[v - 1] === 0 || m[v + 1] === 0 || m[v - nx] === 0 || m[v + nx] === 0 || m[v - plane] === 0 || m[v + plane] === 0;
    if (onSurface) surf[l] = (surf[l] as number) + 1;
  }
  const compact = (l: number): boolean => shapeMoments(withData(mask, Uint8Array.from(labels, (x) => (x === l ? 1 : 0)))).elongation >= CORE_MIN_ELONGATION;
  let pick = labels[bestV] as number;
  let enclosedVol = 0;
  for (let l = 1; l <= cc.count; l++) {
    const vl = vol[l] as number, sl = surf[l] as number;
    if (vl > enclosedVol && vl * voxVol >= ENCLOSED_CORE_MIN_MM3 && (sl === 0 || (sl <= CORE_MAX_SURFACE_FRACTION * vl && compact(l)))) { enclosedVol = vl; pick = l; }
  }
  const pv = vol[pick] as number, ps = surf[pick] as number;
  // An enclosed component reads 0 on the surface: the type rule's test; a touching one that is not enclosed keeps its share.
  return { maskMaxHu: best, coreVolumeMm3: pv * voxVol, coreSurfaceFraction: enclosedVol > 0 ? 0 : pv > 0 ? ps / pv : 0 };
}

/**
 * The nodule's own radius: median over the 26 cube directions of the distance from the peak to the first voxel
 * at or below `t` or outside `inside`. Attached vessels and the pleura take only a few directions, so the median
 * is the radius of the round part, however far the thresholded component runs along them.
 */
function rayRadiusMm(s: Float32Array, inside: Uint8Array, dims: Vec3, peak: Vec3, h: number, t: number): number {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  const lens: number[] = [];
  for (let q = 0; q < 27; q++) {
    const di = (q % 3) - 1, dj = (Math.floor(q / 3) % 3) - 1, dk = Math.floor(q / 9) - 1;
    if (di === 0 && dj === 0 && dk === 0) continue;
    const len = Math.hypot(di, dj, dk);
    let r = 0;
    for (;; r += h * 0.5) {
      const i = Math.round(peak[0] + (di * r) / (len * h)), j = Math.round(peak[1] + (dj * r) / (len * h)), k = Math.round(peak[2] + (dk * r) / (len * h));
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) break;
      const v = i + j * nx + k * plane;
      if ((s[v] as number) <= t || inside[v] === 0) break;
    }
    lens.push(r);
  }
  return median(lens);
}

/** Binary closing by a ball of `radiusMm`, computed on a grid of twice the spacing and read back nearest. */
function closeCoarse(m: MaskVolume, radiusMm: number): Uint8Array {
  const h2 = 2 * m.spacing[0];
  const dims2 = m.dims.map((d) => Math.max(1, Math.ceil(d / 2))) as Vec3;
  // Same origin: coarse voxel c covers fine voxels 2c and 2c + 1 (nearest lookup of 2c + ½).
  const grid = { dims: dims2, spacing: [h2, h2, h2] as Vec3, origin: ijkToLps(m, [0.5, 0.5, 0.5]), direction: m.direction };
  const coarse = resampleToGrid(withData(m, Float32Array.from(m.data)), grid, { interpolation: 'linear', fill: 0, threads: 1 });
  const cm = withData(coarse, Uint8Array.from(coarse.data, (x) => (x >= 0.5 ? 1 : 0)));
  const closed = close(cm, { radiusMm, threads: 1 });
  return resampleToGrid(closed, m, { interpolation: 'nearest', fill: 0, threads: 1 }).data;
}

/** Voxels of `allowed` above `t`, 6-connected, and the label of the component at (or nearest to) `at`. */
function seedComponent(allowed: Uint8Array, s: Float32Array, t: number, dims: Vec3, at: Vec3, nearVox: number): { labels: Int32Array; label: number; size: number } | null {
  const thr = new Uint8Array(s.length);
  for (let v = 0; v < s.length; v++) thr[v] = allowed[v] !== 0 && (s[v] as number) > t ? 1 : 0;
  const cc = connectedComponents({ dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], data: thr }, { connectivity: 6 });
  const label = labelNear(cc.labels.data, dims, at, nearVox);
  return label === 0 ? null : { labels: cc.labels.data, label, size: cc.sizes[label] as number };
}

/** Label at `seed` of a component labelling, else the nearest labelled voxel within `radiusVox`. */
function labelNear(labels: Int32Array, dims: Vec3, seed: Vec3, radiusVox: number): number {
  const [nx, ny, nz] = dims;
  const at = (i: number, j: number, k: number) => labels[i + j * nx + k * nx * ny] as number;
  const l0 = at(seed[0], seed[1], seed[2]);
  if (l0 !== 0) return l0;
  let best = 0, bestD = Infinity;
  const r = Math.ceil(radiusVox);
  for (let dk = -r; dk <= r; dk++) {
    for (let dj = -r; dj <= r; dj++) {
      for (let di = -r; di <= r; di++) {
        const i = seed[0] + di, j = seed[1] + dj, k = seed[2] + dk;
        if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) continue;
        const d = di * di + dj * dj + dk * dk;
        if (d > radiusVox * radiusVox || d >= bestD) continue;
        const l = at(i, j, k);
        if (l !== 0) { best = l; bestD = d; }
      }
    }
  }
  return best;
}

function keepLabel(labels: Int32Array, label: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let v = 0; v < out.length; v++) out[v] = labels[v] === label ? 1 : 0;
  return out;
}

/** Bounding box of the non-zero voxels grown by `marginVox` (clamped to the grid), or null when empty. */
function maskBox(m: Uint8Array, dims: Vec3, marginVox: number): Box | null {
  const [nx, ny, nz] = dims;
  let i0 = nx, j0 = ny, k0 = nz, i1 = -1, j1 = -1, k1 = -1;
  let v = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
    if (m[v] === 0) continue;
    if (i < i0) i0 = i; if (i > i1) i1 = i;
    if (j < j0) j0 = j; if (j > j1) j1 = j;
    if (k < k0) k0 = k; if (k > k1) k1 = k;
  }
  if (i1 < 0) return null;
  return {
    start: [Math.max(0, i0 - marginVox), Math.max(0, j0 - marginVox), Math.max(0, k0 - marginVox)],
    end: [Math.min(nx, i1 + marginVox + 1), Math.min(ny, j1 + marginVox + 1), Math.min(nz, k1 + marginVox + 1)],
  };
}

/**
 * `op` applied to the mask's bounding box grown by `marginMm` (≥ the operation's reach plus a voxel, so the
 * result equals the whole-grid one) and pasted back: the local grids are mostly background, and every EDT pass
 * over the whole grid is what the per-nodule segmentation used to spend its time on.
 */
function inMaskBox<T extends Uint8Array | Float32Array>(mask: MaskVolume, marginMm: number, op: (sub: MaskVolume) => { data: T }, empty: T): T {
  const box = maskBox(mask.data, mask.dims, Math.ceil(marginMm / mask.spacing[0]) + 1);
  if (!box) return empty;
  const sub = crop(mask, box);
  const r = op(sub).data;
  const [nx, ny] = mask.dims;
  const [sx, sy, sz] = sub.dims;
  let v = 0;
  for (let k = 0; k < sz; k++) for (let j = 0; j < sy; j++) {
    const row = box.start[0] + (box.start[1] + j) * nx + (box.start[2] + k) * nx * ny;
    empty.set(r.subarray(v, v + sx) as never, row);
    v += sx;
  }
  return empty;
}

export interface SegmentOptions {
  /** Lung mask already widened by ~1.5–2 mm (any grid); saves a dilation per nodule. */
  lungWide?: MaskVolume;
  /** Local grid spacing (mm); default from the nodule size and the source in-plane spacing. */
  spacingMm?: number;
  /** Coarse path (candidates the first stage ranked low): ≥ 1 mm grid and a tighter box. */
  coarse?: boolean;
  /** Type rules beyond the default ones (TypeRules); off by default. */
  typeRules?: TypeRules;
  /** Radial cap of sub-solid masks (SUBSOLID_RADIAL_CAP; false: off — development A/B). */
  subSolidRadialCap?: RadialCapOptions | false;
}

/**
 * Segments the nodule at `seedLps` (estimated radius `radiusMm`) in `vol`; `lungLabels` is the lung label
 * volume on any grid. Returns null when nothing above the parenchyma is found at the seed.
 */
export function segmentNodule(vol: Int16Volume, lungLabels: MaskVolume, seedLps: Vec3, radiusMm: number, opts: SegmentOptions = {}, reseeded = 0): NoduleSegmentation | null {
  let first = segmentOnce(vol, lungLabels, seedLps, radiusMm, opts);
  // A seed inside a mass that replaces lung: segment once more in a box large enough for the pleural envelope.
  for (let round = 0; round < 2 && first && 'retryRadiusMm' in first; round++) {
    radiusMm = first.retryRadiusMm;
    first = segmentOnce(vol, lungLabels, seedLps, radiusMm, opts);
  }
  let seg = first && 'retryRadiusMm' in first ? null : first;
  // Scale-aware box: the box follows the candidate's size estimate, which for a mass is the radius of the core the
  // blob or opening saw, not of the mass. When the object's own (ray-median) radius says it reaches past the
  // box, segment again in a box sized by that radius; a vessel leaving the box has a small ray radius and does
  // not trigger this. Twice at most (≤ MAX_RADIUS_MM), so a mass costs at most three local segmentations.
  for (let round = 0; round < 2 && seg && !opts.coarse && seg.touchesBorder; round++) {
    const half = seg.mask.spacing[0] * (seg.mask.dims[0] - 1) / 2;
    if (!(1.7 * seg.rayRadiusMm + 2 > half) || radiusMm >= MAX_RADIUS_MM) break;
    radiusMm = Math.min(MAX_RADIUS_MM, Math.max(1.5 * radiusMm, seg.rayRadiusMm * 1.3));
    const next = segmentOnce(vol, lungLabels, seedLps, radiusMm, opts);
    if (!next || 'retryRadiusMm' in next) break;
    seg = next;
  }
  // Seeded beside a mass (in the collapsed or infiltrated lung at its edge, which looks part-solid): when the
  // segmentation holds a solid region of mass size whose centre lies away from the seed, segment again from
  // that centre, so the mass — not the lung around it — sets the type, the threshold and the envelope.
  // (A solid ball of MASS_RESEED_RADIUS_MM needs at least its own volume: smaller segmentations are not looked at.)
  if (seg && !opts.coarse && reseeded < 2 && seg.volumeMm3 >= (4 / 3) * Math.PI * MASS_RESEED_RADIUS_MM ** 3) {
    const centre = solidCentre(seg);
    if (centre && centre.rMm >= MASS_RESEED_RADIUS_MM && (seg.type !== 'solid' || seg.touchesBorder || seg.mass === true) && Math.hypot(centre.lps[0] - seg.peakLps[0], centre.lps[1] - seg.peakLps[1], centre.lps[2] - seg.peakLps[2]) > Math.max(5, 0.5 * centre.rMm)) {
      const again = segmentNodule(vol, lungLabels, centre.lps, Math.max(2 * centre.rMm, seg.rayRadiusMm), opts, reseeded + 1);
      if (again && again.type === 'solid' && again.volumeMm3 > (seg.type === 'solid' ? 1.2 : 0.5) * seg.volumeMm3) return again;
    }
  }
  return seg;
}

/** A solid inscribed ball of this radius inside a sub-solid segmentation is a mass beside the seed (≥ 15 mm of solid tissue across). */
const MASS_RESEED_RADIUS_MM = 7.5;

/** Deepest point of the solid (> −250 HU) part of a segmentation and its depth (mm), or null when none. */
function solidCentre(seg: NoduleSegmentation): { lps: Vec3; rMm: number } | null {
  const n = seg.mask.data.length;
  const solid = new Uint8Array(n);
  const s = seg.smooth.data;
  let any = false;
  for (let v = 0; v < n; v++) if (seg.mask.data[v] !== 0 && (s[v] as number) > SOLID_HU) { solid[v] = 1; any = true; }
  if (!any) return null;
  const m = withData(seg.mask, solid);
  const edt = inMaskBox(m, 0, (sub) => distanceTransform(sub, { threads: 1 }), new Float32Array(n));
  let best = 0, bestV = -1;
  for (let v = 0; v < n; v++) if ((edt[v] as number) > best) { best = edt[v] as number; bestV = v; }
  if (bestV < 0) return null;
  const [nx, ny] = seg.mask.dims;
  const k = Math.floor(bestV / (nx * ny)), j = Math.floor((bestV - k * nx * ny) / nx), i = bestV - k * nx * ny - j * nx;
  return { lps: ijkToLps(seg.mask, [i, j, k]), rMm: best };
}

/** Candidates from this radius (≥ 15 mm across) may be masses that replace lung: their envelope is checked. */
const MASS_MIN_RADIUS_MM = 7.5;
/** Leakage cap of a mass, in ray radii (its lobes and irregular margin reach further than a nodule's). */
const MASS_CAP_FACTOR = 2.5;
/** Pleural cut: closing ball = this × the estimated radius (bounded by the box, see below). */
const PLEURAL_CUT_SCALE = 1.5;
/** Band beyond the coarse lung mask always kept (it stops up to a coarse voxel short of the pleura). */
const PLEURAL_KEEP_MM = 0.8;
const MAX_PEAK_SEARCH_MM = 8;
/**
 * Attenuation band of a mass beyond the lung, around its own median (heavily smoothed): 90 HU below (fat at
 * about −100 HU is out for a mass of 0–60 HU), 35 above (liver, enhanced blood and bone are out; on the IBSI
 * lung-cancer CT the tumour is ≈ 25–45 HU and the liver ≈ 70 HU).
 */
const ENVELOPE_HU_ABOVE = 35;
const ENVELOPE_HU_BELOW = 90;
const ENVELOPE_SIGMA_MM = 2;

/** Per slice normal to `axis`, the 2D convex hull of each lung's voxels; `visit` gets every voxel inside one. */
function sliceHulls(dims: Vec3, axis: 0 | 1 | 2, inLung: (v: number, label: number) => boolean, visit: (v: number) => void): void {
  const strides = [1, dims[0], dims[0] * dims[1]];
  const [ua, wa] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
  const nu = dims[ua] as number, nw = dims[wa] as number, ns = dims[axis] as number;
  const su = strides[ua] as number, sw = strides[wa] as number, ss = strides[axis] as number;
  const xy: number[] = [];
  for (let k = 0; k < ns; k++) {
    for (const label of [1, 2]) {
      xy.length = 0;
      for (let w = 0; w < nw; w++) {
        // Row extremes suffice for the hull.
        let u0 = -1, u1 = -1;
        for (let u = 0; u < nu; u++) if (inLung(u * su + w * sw + k * ss, label)) { if (u0 < 0) u0 = u; u1 = u; }
        if (u0 >= 0) xy.push(u0, w, u1, w);
      }
      if (xy.length < 6) continue;
      const hull = convexHull2D(xy).map((p) => [xy[2 * p] as number, xy[2 * p + 1] as number] as const);
      if (hull.length < 3) continue;
      // Scanline fill of the convex polygon.
      for (let w = 0; w < nw; w++) {
        let a = Infinity, b = -Infinity;
        for (let e = 0; e < hull.length; e++) {
          const [x0, y0] = hull[e] as readonly [number, number];
          const [x1, y1] = hull[(e + 1) % hull.length] as readonly [number, number];
          if ((w < y0 && w < y1) || (w > y0 && w > y1)) continue;
          if (y0 === y1) { a = Math.min(a, x0, x1); b = Math.max(b, x0, x1); continue; }
          const x = x0 + ((w - y0) * (x1 - x0)) / (y1 - y0);
          a = Math.min(a, x); b = Math.max(b, x);
        }
        for (let u = Math.max(0, Math.ceil(a)); u <= Math.min(nu - 1, Math.floor(b)); u++) visit(u * su + w * sw + k * ss);
      }
    }
  }
}

/**
 * Where a mass may grow beyond the aerated lung: inside the pleural line extrapolated from the surrounding lung —
 * per axial slice the convex hull of each lung (a lung's costal surface is convex, so a mass against the chest
 * wall lies under the chord between the lung on either side of it; the chord over the mediastinum or the liver
 * is cut by the attenuation band) — limited to soft tissue of the mass's own attenuation: fat below, bone,
 * contrast-enhanced blood and liver above it are excluded.
 */
function pleuralEnvelope(lung: MaskVolume, base: Uint8Array, s: Float32Array, heavy: Float32Array, nearAir: Uint8Array, levelHu: number): Uint8Array {
  const lungLab = lung.data;
  const [nx, ny, nz] = lung.dims;
  const lo = levelHu - ENVELOPE_HU_BELOW, hi = levelHu + ENVELOPE_HU_ABOVE;
  const out = Uint8Array.from(base, (x) => (x !== 0 ? 1 : 0));
  // Each lung's largest piece in the box only: a stray fleck labelled lung (air outside the body at the edge of
  // a cropped field of view) would stretch the hull over the chest wall.
  const cc = connectedComponents(withData(lung, Uint8Array.from(lungLab, (x) => (x !== 0 ? 1 : 0))), { connectivity: 26 });
  const best = [0, 0, 0];
  const bestSize = [0, 0, 0];
  for (let v = 0; v < lungLab.length; v++) {
    const l = cc.labels.data[v] as number;
    const side = lungLab[v] as number;
    if (l === 0 || side > 2) continue;
    const size = cc.sizes[l] as number;
    if (size > (bestSize[side] as number)) { bestSize[side] = size; best[side] = l; }
  }
  const inLung = (v: number, label: number) => lungLab[v] === label && cc.labels.data[v] === best[label];
  // Axial slices only: coronal or sagittal hulls would also span the diaphragm's dome (measured on the IBSI CT:
  // no gain on the tumour, more liver).
  // The upper bound on the heavy smoothing (texture and noise would fragment the mass); the lower one at the
  // pixel scale, and not next to aerated lung, where the mass's partial-volume rim lies below it.
  sliceHulls([nx, ny, nz], 2, inLung, (v) => {
    if ((heavy[v] as number) < hi && ((s[v] as number) > lo || nearAir[v] !== 0)) out[v] = 1;
  });
  return out;
}

/** Largest radius a local segmentation is sized for (a 10 cm mass). */
const MAX_RADIUS_MM = 60;

function segmentOnce(vol: Int16Volume, lungLabels: MaskVolume, seedLps: Vec3, radiusMm: number, opts: SegmentOptions): NoduleSegmentation | { retryRadiusMm: number } | null {
  const rEst = Math.min(MAX_RADIUS_MM, Math.max(1.5, radiusMm));
  const half = opts.coarse ? Math.min(40, Math.max(8, 1.6 * rEst + 4)) : Math.min(1.8 * MAX_RADIUS_MM + 6, Math.max(10, 2.5 * rEst + 6));
  // Fine grid for small nodules; masses get a coarser one so the box stays ≤ ~130³ voxels.
  // (≈ 1/8 of the radius: the hull of voxel centres then overestimates a diameter by < 0.3 mm.)
  const h = opts.spacingMm ?? Math.max(opts.coarse ? 1.0 : Math.min(1.0, Math.max(rEst / 8, 0.5)), (2 * half) / (opts.coarse ? 64 : 130));
  const nSide = Math.ceil((2 * half) / h) + 1;
  const dims: Vec3 = [nSide, nSide, nSide];
  const d = vol.direction;
  // Local grid axes = the volume's axes; origin so the seed sits at the centre voxel.
  const c = (nSide - 1) / 2;
  const origin: Vec3 = [
    seedLps[0] - (d[0] + d[1] + d[2]) * c * h,
    seedLps[1] - (d[3] + d[4] + d[5]) * c * h,
    seedLps[2] - (d[6] + d[7] + d[8]) * c * h,
  ];
  const grid = { dims, spacing: [h, h, h] as Vec3, origin, direction: [...d] as Mat3 };
  // Outside the scan: air, so nothing is segmented there.
  // threads: 1 — the kernels size their thread count by the larger of the two grids, and a parallel run would copy
  // the whole source volume into shared memory for every candidate (≈ 0.15 s each on a 512² × 300 scan).
  const hu = resampleToGrid(vol, grid, { interpolation: 'linear', fill: -1000, threads: 1 });
  const lung = resampleToGrid(lungLabels, grid, { interpolation: 'nearest', fill: 0, threads: 1 });
  // The coarse lung mask ends up to a coarse voxel short of the pleura: allow 1.5 mm beyond it so juxtapleural
  // nodules keep their pleural side; the opening below cuts the thin wall layer this lets in.
  const lungWide = opts.lungWide
    ? resampleToGrid(opts.lungWide, grid, { interpolation: 'nearest', fill: 0, threads: 1 })
    : dilate(lung, { radiusMm: 1.5 });
  const smooth = gaussian(hu, { sigmaMm: Math.max(0.5, 0.6 * h) });
  const s = smooth.data;
  const n = s.length;
  const nx = nSide, plane = nSide * nSide;
  const seed: Vec3 = [Math.round(c), Math.round(c), Math.round(c)];
  const seedIdx = seed[0] + seed[1] * nx + seed[2] * plane;
  void seedIdx;

  // Parenchyma level: lung voxels clearly below any nodule attenuation.
  const bgVals = new Float32Array(Math.ceil(n / 3));
  let nBg = 0;
  for (let v = 0; v < n; v += 3) if (lung.data[v] !== 0 && (s[v] as number) < -600 && (s[v] as number) > -1000) bgVals[nBg++] = s[v] as number;
  const bg = nBg > 20 ? histMedian(bgVals, nBg, -1000, -600) : -850;

  // Peak near the seed and the sampling ball.
  // Capped: in a mass's box a wide search finds the heart's contrast or a rib rather than the mass.
  const rSearch = Math.max(1.5, Math.min(MAX_PEAK_SEARCH_MM, 0.5 * rEst));
  const rBall = Math.max(1.2 * h, 0.6 * rEst);
  let peak = -Infinity;
  let peakIjk: Vec3 = seed;
  let peakIn = -Infinity;
  let peakInIjk: Vec3 = seed;
  const ball: number[] = [];
  const R = Math.ceil(Math.max(rSearch, rBall) / h);
  for (let dk = -R; dk <= R; dk++) {
    for (let dj = -R; dj <= R; dj++) {
      for (let di = -R; di <= R; di++) {
        const dd = Math.sqrt(di * di + dj * dj + dk * dk) * h;
        const i = seed[0] + di, j = seed[1] + dj, k = seed[2] + dk;
        const v = i + j * nx + k * plane;
        const x = s[v] as number;
        if (dd <= rSearch && x > peak) { peak = x; peakIjk = [i, j, k]; }
        if (dd <= rSearch && x > peakIn && lung.data[v] !== 0) { peakIn = x; peakInIjk = [i, j, k]; }
        if (dd <= rBall) ball.push(x);
      }
    }
  }
  // A bone-bright peak outside the widened lung is a rib next to a juxtapleural mass, not the nodule: take the
  // peak inside the lung then. (Not always the in-lung peak: the coarse lung mask may miss a large nodule's core.)
  const pv = peakIjk[0] + peakIjk[1] * nx + peakIjk[2] * plane;
  if (peak >= CALCIFIED_PEAK_HU && lungWide.data[pv] === 0 && peakIn > -Infinity) { peak = peakIn; peakIjk = peakInIjk; }
  if (!(peak > bg + 60)) return null;
  const half50 = (peak + bg) / 2;
  const inside = ball.filter((x) => x > half50);
  const solidFraction = ball.filter((x) => x > SOLID_HU).length / Math.max(1, ball.length);
  // The plateau is a high percentile of the voxels above half maximum: the ball may reach the nodule's edge, and
  // a median there would sit below the plateau and put the threshold (and the surface) too far out.
  const plateau = inside.length > 0 ? percentile(inside, 0.8) : peak;
  // Calcified by the attenuation of the core, not of one voxel (see decideNoduleType).
  const coreMedian = ballMedian(s, dims, peakIjk, Math.max(h, Math.min(2, 0.35 * rEst)) / h);
  // The shell just outside the solid contour (the solid part is what lies above ground-glass attenuation, −250 HU:
  // half way between the plateau and the parenchyma would put the contour outside a ground-glass halo whenever
  // the ball's plateau mixes both).
  // Only the solid branch reads the halo (decideNoduleType): it is not searched around other nodules.
  const halo = solidByBall({ solidFraction, peakHu: peak, insideCount: inside.length })
    ? haloLevel(s, lung.data, dims, peakIjk, h, Math.max((plateau + bg) / 2, HALO_SOLID_EDGE_HU), bg, rEst)
    : null;
  const gg = ball.filter((x) => x <= SOLID_HU && x > bg + 0.5 * (SOLID_HU - bg) * 0.6);
  const evidence: TypeEvidence = {
    peakHu: peak, plateauHu: plateau, bgHu: bg, solidFraction, coreMedianHu: coreMedian, haloHu: halo,
    insideCount: inside.length, ggMedianHu: gg.length > 4 ? median(gg) : null, rEstMm: rEst, gridMm: h,
    profile: profileEvidence(s, lung.data, dims, peakIjk, h, peak, bg, rEst),
  };
  const decided = decideNoduleType(evidence, opts.typeRules);
  let type = decided.type;
  let level = decided.level;
  if (!Number.isFinite(level)) level = peak;
  const T = (level + bg) / 2;

  // Thresholded seed component inside the lung — or, for a mass that replaces lung, inside the pleural envelope.
  const pv2 = peakIjk[0] + peakIjk[1] * nx + peakIjk[2] * plane;
  // A mass that may replace lung: its peak lies outside the lung mask, or it is large (≥ 15 mm across).
  const massLike = !opts.coarse && type === 'solid' && (lungWide.data[pv2] === 0 || rEst >= MASS_MIN_RADIUS_MM);
  let base = lungWide.data;
  // The component in `base`, reused below when neither the pleural cut nor a mass envelope changes `base`.
  let c0: ReturnType<typeof seedComponent> | undefined;
  if (!opts.coarse) {
    // A juxtapleural nodule: the widened lung mask lets the threshold take a slab of chest wall along its flat
    // face (the short axis grows by the slab). There, bound it by the pleural line extrapolated from the aerated
    // lung around it: the aerated lung closed by a ball much larger than the nodule's footprint fills the dent the
    // nodule makes in it, not the wall behind the plane. Only the widening band is cut, never the lung mask.
    c0 = seedComponent(base, s, T, dims, peakIjk, rSearch / h + 1);
    // Counted near the peak only: a vessel's component that reaches the wall at the far side of the box is no
    // juxtapleural nodule (and the closing is the costliest step of a segmentation).
    let outside = 0;
    const rNear = (1.2 * rEst + 2) / h, rNear2 = rNear * rNear;
    if (c0) {
      let v = 0;
      for (let k = 0; k < nx; k++) for (let j = 0; j < nx; j++) for (let i = 0; i < nx; i++, v++) {
        if (c0.labels[v] !== c0.label || lung.data[v] !== 0) continue;
        if ((i - peakIjk[0]) ** 2 + (j - peakIjk[1]) ** 2 + (k - peakIjk[2]) ** 2 <= rNear2) outside++;
      }
    }
    // (A few voxels are a vessel or a fleck at the mask's edge: not worth the closing's three distance transforms.)
    if (c0 && outside >= Math.max(8, 0.01 * c0.size)) {
      const aerated = new Uint8Array(n);
      for (let v = 0; v < n; v++) aerated[v] = lungWide.data[v] !== 0 && (s[v] as number) <= T ? 1 : 0;
      // The ball must leave some wall uncovered by the dilation within the box, or the closing fills the box.
      const rc = Math.max(4 * h, Math.min(PLEURAL_CUT_SCALE * rEst, (half - rEst) / 2));
      // On a grid twice as coarse (the closing's ball is ≥ 4 voxels; its distance transforms were the cost).
      const closed = closeCoarse(withData(lung, aerated), rc);
      // The coarse lung mask stops up to a coarse voxel short of the pleura: keep a margin of it whatever the cut.
      const near = dilate(lung, { radiusMm: PLEURAL_KEEP_MM, threads: 1 }).data;
      const a = new Uint8Array(n);
      for (let v = 0; v < n; v++) a[v] = near[v] !== 0 || (lungWide.data[v] !== 0 && closed[v] !== 0) ? 1 : 0;
      base = a;
      c0 = undefined;
    }
  }
  let env: Uint8Array | null = null;
  if (massLike) {
    const heavy = gaussian(hu, { sigmaMm: ENVELOPE_SIGMA_MM, threads: 1 }).data;
    // The mass's own attenuation: solid voxels of a ball at the seed (not at the peak, which may be a vessel or a
    // calcification inside it).
    const rb = Math.max(4, Math.min(10, 0.5 * rEst)) / h;
    const R2 = Math.ceil(rb);
    const vals: number[] = [];
    for (let dk = -R2; dk <= R2; dk++) for (let dj = -R2; dj <= R2; dj++) for (let di = -R2; di <= R2; di++) {
      if (di * di + dj * dj + dk * dk > rb * rb) continue;
      const i = seed[0] + di, j = seed[1] + dj, k = seed[2] + dk;
      if (i < 0 || j < 0 || k < 0 || i >= nx || j >= nx || k >= nx) continue;
      const x = heavy[i + j * nx + k * plane] as number;
      if (x > SOLID_HU) vals.push(x);
    }
    let massHu = vals.length > 0 ? median(vals) : level;
    const air = new Uint8Array(n);
    for (let v = 0; v < n; v++) air[v] = base[v] !== 0 && (s[v] as number) <= T ? 1 : 0;
    const nearAir = dilate(withData(lung, air), { radiusMm: Math.max(2, 2 * h), threads: 1 }).data;
    env = pleuralEnvelope(lung, base, s, heavy, nearAir, massHu);
    // A mass is heterogeneous (necrotic centre, enhancing rim): the ball at the seed sets a first band; the band is
    // then re-centred once on the median of what that band let the mass take beyond the lung.
    const first = seedComponent(env, s, T, dims, peakIjk, rSearch / h + 1);
    if (first) {
      const out: number[] = [];
      for (let v = 0; v < n; v += 2) if (first.labels[v] === first.label && lungWide.data[v] === 0) out.push(heavy[v] as number);
      if (out.length > 100) {
        const m = median(out);
        if (Math.abs(m - massHu) > 3) { massHu = m; env = pleuralEnvelope(lung, base, s, heavy, nearAir, massHu); }
      }
    }
  }
  const allowed = env ?? base;
  const cc1s = !env && c0 !== undefined ? c0 : seedComponent(allowed, s, T, dims, peakIjk, rSearch / h + 1);
  const l1 = cc1s?.label ?? 0;
  // A seed inside a mass that replaces lung, in a box too small to hold the lung around it: a larger box.
  if (l1 === 0 && massLike && lungWide.data[pv2] === 0 && rEst < MAX_RADIUS_MM) return { retryRadiusMm: Math.min(MAX_RADIUS_MM, 2 * rEst) };
  if (!cc1s || l1 === 0) return null;
  const comp = withData(hu, keepLabel(cc1s.labels, l1));
  const compSize = cc1s.size;

  // Inner radius near the seed → opening scale.
  const edt = inMaskBox(comp, 0, (m) => distanceTransform(m), new Float32Array(n));
  let rIn = 0, rInGg = 0;
  let ggCentre: Vec3 | null = null;
  const Rs = Math.ceil((rSearch + rEst * 0.5) / h);
  for (let dk = -Rs; dk <= Rs; dk++) {
    for (let dj = -Rs; dj <= Rs; dj++) {
      for (let di = -Rs; di <= Rs; di++) {
        const i = peakIjk[0] + di, j = peakIjk[1] + dj, k = peakIjk[2] + dk;
        if (i < 0 || j < 0 || k < 0 || i >= nx || j >= nx || k >= nx) continue;
        const v = i + j * nx + k * plane;
        const x = edt[v] as number;
        if (x > rIn) rIn = x;
        if (x > rInGg && (s[v] as number) <= SOLID_HU) { rInGg = x; ggCentre = [i, j, k]; }
      }
    }
  }
  // Where the geometry below is measured from: the peak, except for ground glass, whose brightest voxel near the seed
  // is often the vessel it touches, at its edge; there the centre of the largest ball of ground-glass attenuation.
  const anchor: Vec3 = type === 'ground-glass' && !massLike && ggCentre ? ggCentre : peakIjk;
  const rho = Math.min(4, Math.max(0.6, h, 0.5 * rIn));
  const opened = withData(hu, inMaskBox(comp, rho, (m) => open(m, { radiusMm: rho }), new Uint8Array(n)));
  const cc2 = connectedComponents(opened, { connectivity: 6 });
  const l2 = labelNear(cc2.labels.data, dims, peakIjk, (rSearch + rho) / h + 1);
  let core: MaskVolume;
  if (l2 === 0) core = comp;
  else core = withData(hu, keepLabel(cc2.labels.data, l2));
  // Restore only about a voxel of what the opening rounded off: a wider margin would also restore the stumps of
  // the cut vessels, which add nothing to the volume but lengthen the long axis.
  const growMm = Math.min(Math.max(h * 1.01, 0.25 * rho), Math.max(h * 1.01, 1));
  const grow = withData(hu, inMaskBox(core, growMm, (m) => dilate(m, { radiusMm: growMm }), new Uint8Array(n)));
  // Leakage cap: a vessel thicker than the opening ball survives the opening; nothing of the nodule lies beyond
  // ~1.6× its own (ray-median) radius from its anchor (the peak; ground glass: its own centre) even when lobulated, so
  // what does is an attached structure.
  const rRay = Math.max(0.5 * rEst, rayRadiusMm(s, allowed, dims, anchor, h, T));
  // Inside the pleural envelope a mass is bounded by it; its lobes and irregular margin reach further than 1.6 ray radii.
  const capVox = ((env ? MASS_CAP_FACTOR : 1.6) * rRay + 2 * h) / h;
  const cap2 = capVox * capVox;
  const fin = new Uint8Array(n);
  let count = 0;
  for (let v = 0; v < n; v++) {
    if (grow.data[v] === 0 || comp.data[v] === 0) continue;
    // Restored surface detail stays in the lung: beyond it the margin would lay a rim of chest wall along a
    // juxtapleural nodule's flat face, which adds ~2 margins to its long axis (not to its volume).
    if (!env && core.data[v] === 0 && lung.data[v] === 0) continue;
    const k = Math.floor(v / plane), j = Math.floor((v - k * plane) / nx), i = v - k * plane - j * nx;
    if ((i - anchor[0]) ** 2 + (j - anchor[1]) ** 2 + (k - anchor[2]) ** 2 > cap2) continue;
    fin[v] = 1;
    count++;
  }
  // The component at the anchor (not the largest: a cut-off vessel stump can outgrow a small nodule).
  const cc3 = connectedComponents(withData(hu, fin), { connectivity: 6 });
  const l3 = cc3.count > 1 ? labelNear(cc3.labels.data, dims, anchor, (rSearch + rho) / h + 1) : 1;
  let mask = withData(hu, cc3.count > 1 ? keepLabel(cc3.labels.data, l3 || 1) : fin);
  if (cc3.count > 1) count = cc3.sizes[l3 || 1] as number;
  if (count === 0) return null;
  const capOpts = opts.subSolidRadialCap ?? SUBSOLID_RADIAL_CAP;
  if (!env && capOpts !== false && (type === 'ground-glass' || type === 'part-solid')) {
    const capped = capSubSolid(mask, anchor, rRay, h, capOpts, (rSearch + rho) / h + 1);
    if (capped) { mask = capped.mask; count = capped.count; }
  }
  if (env) {
    // Inside a mass the attenuation band leaves holes where it is brighter (enhancing, calcified flecks): a mass
    // is measured whole, so fill them (in 3D, then in each axial slice as a reader outlines it).
    mask = fillHoles2D(fillHoles(mask), { axis: 2 });
    count = 0;
    for (let v = 0; v < n; v++) count += mask.data[v] as number;
  }

  const denom = Math.max(30, level - bg);
  // Partial-volume weighted volume over the mask and its outer shell (shell voxels above T belong to cut-off structures).
  // The shell must hold the blur tail (PSF ≈ 0.6–1 mm σ), whatever the grid.
  const pvSums = (m: MaskVolume): { wsum: number; excess: number; touches: boolean; contact: number } => {
    const shellMm = Math.max(1.5 * h, 1.6);
    const shell = inMaskBox(m, shellMm, (x) => dilate(x, { radiusMm: shellMm }), new Uint8Array(n));
    let wsum = 0;
    // Attenuation above the parenchyma summed over the mask and its shell: blur moves it, but does not change it.
    let excess = 0;
    let touches = false, contact = 0;
    for (let k = 0; k < nx; k++) {
      for (let j = 0; j < nx; j++) {
        for (let i = 0; i < nx; i++) {
          const v = i + j * nx + k * plane;
          if (shell[v] === 0) continue;
          const x = s[v] as number;
          if (m.data[v] !== 0) {
            wsum += Math.min(1, Math.max(0, (x - bg) / denom));
            excess += x - bg;
            if (i === 0 || j === 0 || k === 0 || i === nx - 1 || j === nx - 1 || k === nx - 1) touches = true;
            else if (lung.data[v - 1] === 0 || lung.data[v + 1] === 0 || lung.data[v - nx] === 0 || lung.data[v + nx] === 0 || lung.data[v - plane] === 0 || lung.data[v + plane] === 0) contact++;
          } else if (x < T && allowed[v] !== 0) {
            wsum += Math.min(1, Math.max(0, (x - bg) / denom));
            excess += x - bg;
          }
        }
      }
    }
    return { wsum, excess, touches, contact };
  };
  let { wsum, excess, touches, contact } = pvSums(mask);
  const voxVol = voxelVolumeMm3(hu);
  evidence.pvMeanHu = bg + excess / count;
  evidence.maskVolumeMm3 = count * voxVol;
  if (type === 'ground-glass' || type === 'part-solid') Object.assign(evidence, coreInMask(mask, s, voxVol));
  // The solid component may lie off the seed (outside the peak search): the whole mask is looked at. The level
  // (ground glass) and so the mask stay as they are.
  if (opts.typeRules?.force === undefined) type = refineType(type, evidence);
  if (type === 'ground-glass' && !env) {
    // Ground glass has no solid component (that would make it part-solid): solid attenuation in its mask is the
    // vessel it touches or a vessel crossing it, or the chest wall — not the nodule.
    const cut = withData(mask, Uint8Array.from(mask.data, (x, v) => (x !== 0 && ((s[v] as number) <= SOLID_HU || lung.data[v] === 0) ? 1 : 0)));
    // The opening takes off the sleeve of blurred vessel wall (ground-glass attenuation) left around a removed vessel.
    const rOpen = Math.max(h, GG_SLEEVE_OPEN_MM);
    const opened = withData(mask, inMaskBox(cut, rOpen, (m) => open(m, { radiusMm: rOpen }), new Uint8Array(n)));
    const cc = connectedComponents(opened, { connectivity: 6 });
    const l = labelNear(cc.labels.data, dims, anchor, (rSearch + rho) / h + 1);
    if (l > 0 && (cc.sizes[l] as number) < count) {
      mask = withData(mask, keepLabel(cc.labels.data, l));
      count = cc.sizes[l] as number;
      ({ wsum, excess, touches, contact } = pvSums(mask));
    }
  }
  let solid: MaskVolume | undefined;
  if (type === 'part-solid') {
    const ts = (Math.max(peak, evidence.maskMaxHu ?? peak) + level) / 2;
    const sm = new Uint8Array(n);
    for (let v = 0; v < n; v++) sm[v] = mask.data[v] !== 0 && (s[v] as number) > ts ? 1 : 0;
    const sc = connectedComponents(withData(hu, sm), { connectivity: 6, sortBySize: true });
    if (sc.count > 0) solid = withData(hu, keepLabel(sc.labels.data, 1));
  }
  return {
    mask, smooth, hu, lung, type, bgHu: bg, levelHu: level, peakHu: peak, thresholdHu: T,
    ...(solid ? { solid } : {}),
    volumeMm3: wsum * voxVol,
    rInMm: rIn,
    rayRadiusMm: rRay,
    openingRadiusMm: rho,
    attachmentRatio: compSize / count,
    touchesBorder: touches,
    pleuralContact: contact / count,
    solidFraction,
    typeEvidence: evidence,
    peakLps: ijkToLps(hu, peakIjk),
    centreLps: ijkToLps(hu, anchor),
    ...(env ? { mass: true } : {}),
  };
}

/**
 * Opening radius (mm) of a ground-glass mask after its solid-attenuation voxels (vessels, chest wall) are taken out
 * (segmentOnce): the blurred wall of a removed vessel is a sleeve of ground-glass attenuation about a voxel thick
 * around it, which the opening removes while the nodule, many times thicker, keeps its shape. Segmented at the true
 * centre on held-out tuning scans (dense 91..100, nodules ≥ 5 mm), median |volume error| of juxtavascular ground glass
 * 8.3 % (the vessel in the mask) → 5.6 % without the opening → 4.5 % with it (n = 14); free 6.3 → 5.2 % (6),
 * juxtapleural 4.4 → 6.6 % (11).
 */
export const GG_SLEEVE_OPEN_MM = 1.2;

/**
 * Radial cap of a sub-solid mask (imaging radialCap): rays from the mask's centre, cut at 1.15 × the 40 % quantile
 * of the extents over a 90° cone of directions, plus a voxel. The ground-glass threshold lies close to the
 * parenchyma (half way to a plateau only 150–450 HU above it), so a small vessel, blurred to ground-glass
 * attenuation, is above it along its whole length, and the opening cannot cut a vessel as thick as itself: on the
 * held-out tuning phantoms (dense 41..50, plain 13..24) 25–89 % of the mask of a juxtavascular ground-glass nodule
 * lay more than 1 mm beyond its true radius. A vessel takes a band of directions, less than the cone's 40 %, so the
 * quantile is the nodule's own extent, lobes included. Segmented at the true centre (scratch study, 2026-12-01),
 * juxtavascular sub-solid nodules: median |mean-diameter error| 3.09 → 1.53 mm and |volume error| 64.5 → 14.4 % on
 * dense 41..50 (22 nodules), mean |diameter error| 2.16 → 1.23 mm on plain 13..24 (9); free ones unchanged. Wider
 * caps (1.3 × the median over 60°, 1.3 × the 40 % over 75°) kept half the leak.
 */
export const SUBSOLID_RADIAL_CAP: RadialCapOptions = { directions: 256, coneDeg: 90, quantile: 0.4, factor: 1.15 };

/** The mask radially capped around the centroid of its part within the ray radius of the peak, then its component at the peak. */
function capSubSolid(mask: MaskVolume, peak: Vec3, rRayMm: number, h: number, capOpts: RadialCapOptions, nearVox: number): { mask: MaskVolume; count: number } | null {
  const [nx, ny, nz] = mask.dims;
  const r2 = (rRayMm / h + 1) ** 2;
  let n = 0, si = 0, sj = 0, sk = 0, v = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, v++) {
    if (mask.data[v] === 0 || (i - peak[0]) ** 2 + (j - peak[1]) ** 2 + (k - peak[2]) ** 2 > r2) continue;
    n++; si += i; sj += j; sk += k;
  }
  if (n === 0) return null;
  const capped = radialCap(mask, [si / n, sj / n, sk / n], capOpts);
  if (capped.removed === 0) return null;
  const cc = connectedComponents(capped.mask, { connectivity: 6 });
  const l = labelNear(cc.labels.data, mask.dims, peak, nearVox);
  if (l === 0) return null;
  return { mask: withData(mask, keepLabel(cc.labels.data, l)), count: cc.sizes[l] as number };
}

/** Voxel index (rounded) in `vol` of an LPS point, or null outside. */
export function voxelOf(vol: Pick<Int16Volume, 'dims' | 'spacing' | 'origin' | 'direction'>, lps: Vec3): Vec3 | null {
  const q = lpsToIjk(vol, lps).map(Math.round) as Vec3;
  for (let a = 0; a < 3; a++) if ((q[a] as number) < 0 || (q[a] as number) >= (vol.dims[a] as number)) return null;
  return q;
}

/**
 * Whether a calcified segmentation is the lung's edge of a bone: the region of calcium attenuation (smoothed, >
 * CALCIFIED_CORE_HU) around its peak lies mostly beyond the lung and the finding's mask (on the local grid). A
 * calcified nodule, even one against the pleura, is dense within its own mask; a rib, a vertebra or calcified costal
 * cartilage that the widened lung mask reaches continues into the wall. Only for findings of cortical-bone density
 * (BONE_CORTEX_HU) as dense as the bone beyond. The phantoms' calcified nodules are 250–900 HU and the second stage, trained
 * on them, scored the bone at the edge of the LIDC-IDRI-0003 excerpt's lung (a plateau of 1376 HU beside the spine)
 * 0.94 as a calcified nodule (chest-ct-nodules 0.11.0; 0.10.0's model had it below 0.45).
 */
export function denseBeyondLung(seg: Pick<NoduleSegmentation, 'type' | 'smooth' | 'lung' | 'mask' | 'peakLps' | 'mass'>): boolean {
  if (seg.type !== 'calcified' || seg.mass === true) return false;
  const at = voxelOf(seg.smooth, seg.peakLps);
  if (!at) return false;
  const [nx, ny] = seg.smooth.dims;
  const atV = at[0] + at[1] * nx + at[2] * nx * ny;
  const s = seg.smooth.data;
  // Most calcified findings are below cortical bone: decided before the labelling (this runs for the prior and again
  // for the report's reasons).
  const peak = s[atV] as number;
  if (peak < BONE_CORTEX_HU) return false;
  const dense = withData(seg.lung, Uint8Array.from(s, (x) => (x > CALCIFIED_CORE_HU ? 1 : 0)));
  const cc = connectedComponents(dense, { connectivity: 6 });
  const l = cc.labels.data[atV] as number;
  if (l === 0) return false;
  // Beyond: outside both the finding's mask and the lung (an enhanced vessel inside the lung does not count, nor a
  // juxtapleural nodule's own part beyond the coarse lung mask, which its mask holds).
  let inMask = 0, beyond = 0, beyondMax = -Infinity;
  cc.labels.data.forEach((x, v) => {
    if (x !== l) return;
    if (seg.mask.data[v] !== 0) inMask++;
    else if (seg.lung.data[v] === 0) { beyond++; beyondMax = Math.max(beyondMax, s[v] as number); }
  });
  // And the finding is as dense as what lies beyond: a calcified nodule against a rib is dimmer than the rib's
  // cortex, and only blur joins them (a 363 HU juxtapleural phantom nodule peaking at 247 HU beside a 500 HU rib).
  return beyond > DENSE_BEYOND_RATIO * inMask && peak >= DENSE_BEYOND_PEAK_SHARE * beyondMax;
}

/**
 * Cortical bone (≈ 1000–1900 HU) and above: denseBeyondLung looks only at findings this dense. The phantoms' ribs are
 * 500 HU, as dense as their calcified nodules (250–900 HU), and a juxtapleural one of 420–486 HU touching a rib read as
 * bone (3 of the calcified nodules of dense tuning phantoms 1..16) without this floor.
 */
export const BONE_CORTEX_HU = 1000;

/** How much more of the calcium-dense region must lie beyond the lung than in the finding for it to be bone. */
export const DENSE_BEYOND_RATIO = 2;
/** Share of the brightest voxel beyond the lung the finding's own peak must reach for the two to be one bone. */
export const DENSE_BEYOND_PEAK_SHARE = 0.7;
