/**
 * ABC/2 haematoma volume (Kothari RU, et al. "The ABCs of measuring intracerebral hemorrhage volumes."
 * Stroke 1996;27:1304–1305).
 *
 * A = greatest haemorrhage diameter on the axial slice with the largest haemorrhage area; B = the largest
 * diameter perpendicular to A on that slice; C = number of slices with haemorrhage × slice thickness, each
 * slice weighted against the reference (largest) slice: area ≥ 75 % → 1, 25–75 % → 0.5, < 25 % → 0.
 * ABC/2 approximates the ellipsoid volume 4/3·π·(A/2)(B/2)(C/2) = π·ABC/6 with π ≈ 3, so for a true
 * ellipsoid ABC/2 = (3/π) × true volume (≈ 4.5 % under).
 *
 * Boundaries (choice, tested): exactly 75 % counts 1, exactly 25 % counts 0.5 (Kothari: "≥ 75 %",
 * "25 % to 75 %", "< 25 %").
 */
import { invalid, requireNonNegative, requirePositive } from './validate.ts';

export interface Abc2Input {
  aMm: number;
  bMm: number;
  cMm: number;
}

/** A×B×C/2 with A, B, C in mm → millilitres (1 mL = 1 cm³ = 1000 mm³). */
export function abc2Volume(input: Abc2Input): number {
  const a = requireNonNegative('aMm', input.aMm);
  const b = requireNonNegative('bMm', input.bMm);
  const c = requireNonNegative('cMm', input.cMm);
  return (a * b * c) / 2 / 1000;
}

/** The exact ellipsoid volume π·A·B·C/6 (mL) for comparison with ABC/2. */
export function ellipsoidVolumeMl(input: Abc2Input): number {
  const a = requireNonNegative('aMm', input.aMm);
  const b = requireNonNegative('bMm', input.bMm);
  const c = requireNonNegative('cMm', input.cMm);
  return (Math.PI * a * b * c) / 6 / 1000;
}

export interface Abc2SliceInput {
  /** Haemorrhage area on each contiguous axial slice (mm²), 0 where there is none. */
  sliceAreasMm2: readonly number[];
  sliceThicknessMm: number;
  /** A and B measured on the slice with the largest area. */
  largestSliceDiametersMm: { a: number; b: number };
}

export interface Abc2SliceResult extends Abc2Input {
  volumeMl: number;
  referenceSliceIndex: number;
  /** Kothari weight (1, 0.5, 0) of each slice. */
  sliceWeights: number[];
  weightedSliceCount: number;
}

export function kothariSliceWeight(area: number, referenceArea: number): number {
  const ratio = area / referenceArea;
  if (ratio >= 0.75) return 1;
  if (ratio >= 0.25) return 0.5;
  return 0;
}

/** ABC/2 from a per-slice description, with Kothari's slice weighting for C. */
export function abc2FromSlices(input: Abc2SliceInput): Abc2SliceResult {
  if (typeof input !== 'object' || input === null) throw invalid('input', 'must be an object', input);
  const areas = input.sliceAreasMm2;
  if (!Array.isArray(areas) || areas.length === 0) throw invalid('sliceAreasMm2', 'must be a non-empty array', areas);
  const thickness = requirePositive('sliceThicknessMm', input.sliceThicknessMm);
  const d = input.largestSliceDiametersMm;
  if (typeof d !== 'object' || d === null) throw invalid('largestSliceDiametersMm', 'must be { a, b }', d);
  const a = requireNonNegative('largestSliceDiametersMm.a', d.a);
  const b = requireNonNegative('largestSliceDiametersMm.b', d.b);
  // A is the greatest diameter on the slice, so the perpendicular B cannot exceed it.
  if (b > a) throw invalid('largestSliceDiametersMm.b', 'must not exceed A (the greatest diameter)', b);
  let ref = -1;
  let refArea = 0;
  areas.forEach((x, i) => {
    requireNonNegative(`sliceAreasMm2[${i}]`, x);
    if (x > refArea) { refArea = x; ref = i; }
  });
  if (ref < 0) {
    if (a > 0) throw invalid('largestSliceDiametersMm.a', 'is > 0 but no slice has haemorrhage', a);
    return { aMm: 0, bMm: 0, cMm: 0, volumeMl: 0, referenceSliceIndex: -1, sliceWeights: areas.map(() => 0), weightedSliceCount: 0 };
  }
  const sliceWeights = areas.map((x) => kothariSliceWeight(x, refArea));
  const weightedSliceCount = sliceWeights.reduce((s, w) => s + w, 0);
  const c = weightedSliceCount * thickness;
  return { aMm: a, bMm: b, cMm: c, volumeMl: abc2Volume({ aMm: a, bMm: b, cMm: c }), referenceSliceIndex: ref, sliceWeights, weightedSliceCount };
}
