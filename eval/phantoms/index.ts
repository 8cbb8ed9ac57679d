/**
 * Public API of the synthetic CT phantoms (eval/phantoms/README.md documents the truth format).
 * The head phantom's author adds its exports here too.
 */
export {
  generateChestPhantom,
  writeChestPhantomCase,
  writeChestPhantomCases,
  NODULE_PLACEMENTS,
  NODULE_SHAPES,
  NODULE_TYPES,
} from './chest.ts';
export type {
  ChestPhantom,
  ChestPhantomOptions,
  ChestPhantomTruth,
  ChestNoduleTruth,
  ChestCaseWriteOptions,
  ChestCaseWriteResult,
  ChestCasesOptions,
  ChestCasesProgress,
  NodulePlacement,
  NoduleShapeKind,
  NoduleType,
  Lobe,
  Side,
} from './chest.ts';
export { Rng, acquire, measureShape, rasterize } from './common.ts';
export type { AcquisitionOptions, Shape, ShapeMeasurement } from './common.ts';
