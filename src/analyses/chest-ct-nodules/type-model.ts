/**
 * The nodule type model: one boosted-tree ensemble per type (one against the rest), over the attenuation and shape
 * evidence the segmentation measured (TypeEvidence) and the type the rules gave. The rules (segment-nodule.ts
 * decideNoduleType, refineType) each look at one or two numbers with a hand-set cut; the trees weigh them together
 * (a dim peak AND no plateau AND a small mask…). Trained by type-train.ts on tuning phantoms only (seeds < 1000)
 * and reported there on scans it did not train on.
 */
import { treeLogit } from './boosted-trees.ts';
import type { TreeEnsembleModel } from './boosted-trees.ts';
import { CALCIFIED_PV_MAX_MM3, SOLID_HU } from './segment-nodule.ts';
import type { NoduleType, TypeEvidence } from './segment-nodule.ts';

export const NODULE_TYPES: readonly NoduleType[] = ['solid', 'part-solid', 'ground-glass', 'calcified'];

export interface NoduleTypeModel {
  readonly kind: 'one-vs-rest';
  /** The type each ensemble scores, in order. */
  readonly types: readonly NoduleType[];
  readonly models: readonly TreeEnsembleModel[];
  readonly provenance: string;
}

export const TYPE_FEATURE_NAMES: readonly string[] = [
  'peakHu', 'plateauHu', 'bgHu', 'peakAboveBg', 'plateauAboveBg', 'solidFraction', 'coreMedianHu', 'haloHu', 'insideCount',
  'ggMedianHu', 'rEstMm', 'gridMm', 'pvMeanHu', 'maskDiameterMm', 'maskMaxHu', 'coreVolumeMm3', 'coreSurfaceFraction',
  'profileRays', 'halfMaxMm', 'floorMm', 'tailMm', 'plateauMm', 'plateauRayFraction', 'flatMm',
  'ruleSolid', 'rulePartSolid', 'ruleGroundGlass', 'ruleCalcified',
];

/** Absent evidence (no halo, no ground-glass voxels, no mask measures on the solid path) is NaN: the trees send it right. */
const val = (x: number | null | undefined): number => (x === null || x === undefined ? Number.NaN : x);

/** The model's input, in TYPE_FEATURE_NAMES order. */
export function typeFeatures(e: TypeEvidence, ruleType: NoduleType): number[] {
  const p = e.profile;
  return [
    e.peakHu, e.plateauHu, e.bgHu, e.peakHu - e.bgHu, e.plateauHu - e.bgHu, e.solidFraction, e.coreMedianHu, val(e.haloHu), e.insideCount,
    val(e.ggMedianHu), e.rEstMm, e.gridMm, val(e.pvMeanHu), e.maskVolumeMm3 === undefined ? Number.NaN : Math.cbrt((6 * e.maskVolumeMm3) / Math.PI),
    val(e.maskMaxHu), val(e.coreVolumeMm3), val(e.coreSurfaceFraction),
    val(p?.rays), val(p?.halfMaxMm), val(p?.floorMm), p ? p.floorMm - p.halfMaxMm : Number.NaN, val(p?.plateauMm), val(p?.plateauRayFraction), val(p?.flatMm),
    ruleType === 'solid' ? 1 : 0, ruleType === 'part-solid' ? 1 : 0, ruleType === 'ground-glass' ? 1 : 0, ruleType === 'calcified' ? 1 : 0,
  ];
}

/** Each type's score (logit of its one-against-the-rest ensemble). */
export function typeScores(model: NoduleTypeModel, e: TypeEvidence, ruleType: NoduleType): { type: NoduleType; logit: number }[] {
  const x = typeFeatures(e, ruleType);
  return model.types.map((type, i) => ({ type, logit: treeLogit(model.models[i] as TreeEnsembleModel, x) }));
}

/**
 * Whether the model may call this nodule calcified: where the rules did, or where it is under 6 mm (its mask's
 * volume below CALCIFIED_PV_MAX_MM3). Calcified is benign (Lung-RADS v2022 category 1); below 6 mm a solid nodule is
 * category 2, and both are managed the same, by 12-month LDCT — so a wrong call there cannot lower the care of a
 * nodule that needs more. Above it only the rules' attenuation evidence (a core of calcium) makes a nodule calcified.
 * This reads the rules' mask (typeFromModel: training figures, where nothing is segmented again); the analysis
 * checks the volume of the nodule segmented as calcified instead (retype.ts modelTypeChange).
 */
export function calcifiedAllowed(e: TypeEvidence, ruleType: NoduleType): boolean {
  return ruleType === 'calcified' || (e.maskVolumeMm3 !== undefined && e.maskVolumeMm3 < CALCIFIED_PV_MAX_MM3);
}

/**
 * Whether the model may call this nodule part-solid: a part-solid nodule is ground glass with a solid component
 * (Fleischner glossary, Hansell et al., Radiology 2008;246:697–722), and Lung-RADS v2022 grades it by that component's
 * size — so one must be in the pixels. The rules' solid and calcified types have one; a ground-glass nodule needs a
 * voxel of solid attenuation (> −250 HU, smoothed) within its mask. (The phantoms' part-solid nodules have denser
 * ground glass than their pure ones, and the model learns that: without this it called 35 ground-glass-typed
 * nodules with no solid voxel part-solid on the tuning scans — right by the phantom's label, but not from anything a
 * reader could measure.)
 */
export function partSolidAllowed(e: TypeEvidence, ruleType: NoduleType): boolean {
  return ruleType !== 'ground-glass' || (e.maskMaxHu !== undefined && e.maskMaxHu > SOLID_HU);
}

/** The types from the highest score down, those not allowed (partSolidAllowed) left out. */
export function rankedTypes(model: NoduleTypeModel, e: TypeEvidence, ruleType: NoduleType): NoduleType[] {
  const partSolid = partSolidAllowed(e, ruleType);
  return typeScores(model, e, ruleType).filter((s) => partSolid || s.type !== 'part-solid').sort((a, b) => b.logit - a.logit).map((s) => s.type);
}

/** The type with the highest score among those allowed (calcifiedAllowed, partSolidAllowed). */
export function typeFromModel(model: NoduleTypeModel, e: TypeEvidence, ruleType: NoduleType): NoduleType {
  const calcified = calcifiedAllowed(e, ruleType);
  return rankedTypes(model, e, ruleType).find((t) => calcified || t !== 'calcified') ?? ruleType;
}
