/**
 * Skull, intracranial cavity and brain mask, and the pixel checks that the series is a head CT at all.
 *
 * Bone = HU ≥ BONE_HU. The skull is closed (3 mm in-plane) to bridge sutures, emissary foramina and thin
 * temporal squama, then each slice's enclosed region is filled: slices where the skull ring is open (skull base,
 * foramen magnum) fill nothing, which is what we want — the skull base is where partial-volume bone and beam
 * hardening live. Air (sinuses, mastoids) is removed and the largest 3D component kept, after a 2 mm opening that
 * cuts thin bridges to the orbits or a sinus.
 */
import type { Float32Volume, MaskVolume, Vec3 } from '../../imaging/index.ts';
import {
  close, connectedComponents, distanceTransform, fillHoles2D, ijkToLps, largestComponent, maskCount, open, resample, resampleToGrid, threshold,
  voxelVolumeMm3, withData,
} from '../../imaging/index.ts';
import type { Int16Volume } from '../../imaging/index.ts';

/** Cortical and diploic bone are > 300 HU; 200 keeps thin squama while staying far above blood (≤ 90 HU). */
export const BONE_HU = 200;

export interface BrainMasks {
  /** Bone (HU ≥ BONE_HU), raw. */
  readonly bone: MaskVolume;
  /** Everything inside the inner table where the skull ring is closed (blood included, air excluded). */
  readonly cavity: MaskVolume;
  /** Distance (mm) of each cavity voxel to the cavity's edge (the inner table), 0 outside. */
  readonly tableDistMm: Float32Volume;
  /** Air enclosed by the body (lungs, bowel; in a head only sinuses and mastoids), mL. */
  readonly enclosedAirMl: number;
  /** Cavity area (voxels) per slice. */
  readonly sliceArea: Int32Array;
  readonly cavityMl: number;
  /** Centroid of the cavity (LPS mm). */
  readonly cavityCentroidMm: Vec3;
  /** Largest cavity area of one slice (cm²). */
  readonly maxSliceAreaCm2: number;
}

export function extractBrain(hu: Int16Volume): BrainMasks {
  const [nx, ny, nz] = hu.dims;
  // The skull ring, its closing and filling, and the choice of the cavity component run on a 2× coarser grid
  // (they only need the topology); the inner-table edge itself comes from the fine bone mask below.
  const coarse = resample(hu, { spacing: [2 * hu.spacing[0], 2 * hu.spacing[1], hu.spacing[2]] });
  const zr = Math.max(0.5 * hu.spacing[2], 0.1);
  // Averaging 2 × 2 pixels thins the bone's HU at its edges: a lower threshold keeps thin squama closed.
  const boneC = threshold(coarse, { low: 0.75 * BONE_HU });
  const closedC = close(boneC, { radiusMm: [3, 3, zr] });
  const filledC = fillHoles2D(closedC);
  const rawC = new Uint8Array(boneC.data.length);
  for (let v = 0; v < rawC.length; v++) rawC[v] = filledC.data[v] !== 0 && closedC.data[v] === 0 && (coarse.data[v] as number) > -200 ? 1 : 0;
  const opened = open(withData(coarse, rawC), { radiusMm: [3, 3, zr] });
  const cc = connectedComponents(opened, { connectivity: 6, sortBySize: true });
  const keep = new Uint8Array(rawC.length);
  for (let v = 0; v < keep.length; v++) keep[v] = cc.labels.data[v] === 1 ? 1 : 0;
  // The opening only chose the component; a 4 mm reconstruction inside the filled skull brings back its edge.
  const near = distanceTransform(withData(coarse, keep), { inside: false });
  for (let v = 0; v < keep.length; v++) keep[v] = filledC.data[v] !== 0 && (near.data[v] as number) <= 4 ? 1 : 0;
  const region = resampleToGrid(withData(coarse, keep), hu, { interpolation: 'nearest' });
  const bone = threshold(hu, { low: BONE_HU });
  const cavityData = new Uint8Array(bone.data.length);
  for (let v = 0; v < cavityData.length; v++) cavityData[v] = region.data[v] !== 0 && bone.data[v] === 0 && (hu.data[v] as number) > -200 ? 1 : 0;
  const cavity = largestComponent(withData(hu, cavityData), { connectivity: 6 });
  const tableDistMm = distanceTransform(cavity, { inside: true });
  // Lungs: air enclosed by the body, slice by slice (coarse grid: only the volume matters).
  const body = threshold(coarse, { low: -400 });
  const bodyFilled = fillHoles2D(body);
  let enclosedAir = 0;
  for (let v = 0; v < body.data.length; v++) if (bodyFilled.data[v] !== 0 && body.data[v] === 0) enclosedAir++;
  const plane = nx * ny;
  let maxArea = 0;
  const sliceArea = new Int32Array(nz);
  let si = 0, sj = 0, sk = 0, sn = 0;
  for (let k = 0; k < nz; k++) {
    let c = 0;
    for (let p = k * plane; p < (k + 1) * plane; p++) {
      if (cavity.data[p] === 0) continue;
      c++;
      si += p % nx; sj += Math.floor(p / nx) % ny; sk += k; sn++;
    }
    sliceArea[k] = c;
    maxArea = Math.max(maxArea, c);
  }
  return {
    bone, cavity, tableDistMm, sliceArea, cavityCentroidMm: sn > 0 ? ijkToLps(hu, [si / sn, sj / sn, sk / sn]) : ijkToLps(hu, [nx / 2, ny / 2, nz / 2]), enclosedAirMl: (enclosedAir * voxelVolumeMm3(coarse)) / 1000,
    cavityMl: (maskCount(cavity) * voxelVolumeMm3(hu)) / 1000,
    maxSliceAreaCm2: (maxArea * hu.spacing[0] * hu.spacing[1]) / 100,
  };
}

export type HeadCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Is this a head CT, and without contrast? From the pixels: a closed skull around ≥ MIN_CAVITY_ML of soft
 * tissue, no lungs, and no enhancing vessels (dense tissue away from bone in quantities calcifications never
 * reach).
 */
export function checkHead(hu: Int16Volume, masks: BrainMasks, smoothed: Float32Volume): HeadCheck {
  const voxMl = voxelVolumeMm3(hu) / 1000;
  // A partial head (posterior fossa only) still holds ≥ 100 mL; a spinal canal or a sinus never does.
  if (masks.cavityMl < 100 || masks.maxSliceAreaCm2 < 40) {
    return { ok: false, reason: `not a head CT: no closed skull around an intracranial cavity (cavity ${masks.cavityMl.toFixed(0)} mL, largest slice ${masks.maxSliceAreaCm2.toFixed(0)} cm²)` };
  }
  // Lungs: air enclosed by the body, slice by slice. Sinuses and mastoids hold a few tens of mL.
  const airMl = masks.enclosedAirMl;
  if (airMl > 400) return { ok: false, reason: `not a head CT: ${airMl.toFixed(0)} mL of air inside the body (lungs)` };
  let soft = 0, n = 0;
  for (let v = 0; v < hu.data.length; v++) {
    if (masks.cavity.data[v] === 0) continue;
    n++;
    const s = smoothed.data[v] as number;
    if (s >= -20 && s <= 100) soft++;
  }
  // Iodinated contrast puts arteries, deep veins and choroid plexus at 150–400 HU; physiological calcifications
  // are < 1 mL in total. Counted on slices above the skull base (cavity ≥ 60 % of the widest slice, so no petrous
  // bone or clinoid inside the ring), inside the cavity ≥ 6 mm from the inner table.
  const plane = hu.dims[0] * hu.dims[1];
  let maxArea = 0;
  for (const a of masks.sliceArea) maxArea = Math.max(maxArea, a);
  let dense = 0;
  for (let k = 0; k < hu.dims[2]; k++) {
    if ((masks.sliceArea[k] as number) < 0.6 * maxArea) continue;
    for (let v = k * plane; v < (k + 1) * plane; v++) {
      if (masks.cavity.data[v] !== 0 && (smoothed.data[v] as number) >= 130 && (masks.tableDistMm.data[v] as number) >= 6) dense++;
    }
  }
  if (n === 0 || soft / n < 0.8) return { ok: false, reason: `not a head CT: the skull encloses ${(100 * soft / Math.max(n, 1)).toFixed(0)} % soft tissue (brain expected)` };
  const denseMl = dense * voxMl;
  if (denseMl > 4) return { ok: false, reason: `contrast-enhanced: ${denseMl.toFixed(1)} mL of enhancing (≥ 130 HU) tissue deep inside the skull` };
  return { ok: true };
}
