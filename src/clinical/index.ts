/**
 * Clinical calculators: pure functions checked row by row against the published standards
 * (sources and interpretation choices: docs/clinical-sources.md). Invalid input throws
 * SrError CLINICAL_INVALID_INPUT with `details.field`.
 */
export { lungRadsCategory, LUNG_RADS_MALIGNANCY } from './lung-rads.ts';
export type {
  LungRadsAirwayInput, LungRadsCategory, LungRadsCystInput, LungRadsExamInput, LungRadsFinding, LungRadsFindingResult,
  LungRadsNoduleInput, LungRadsNoduleType, LungRadsResult, LungRadsStatus, MalignancyProbability,
} from './lung-rads.ts';
export { fleischnerRecommendation } from './fleischner.ts';
export type { FleischnerInput, FleischnerNoduleType, FleischnerRecommendation, FleischnerRisk, FollowUpInterval } from './fleischner.ts';
export { BROCK_FULL_MODEL, brockProbability } from './brock.ts';
export type { BrockAssumption, BrockInput, BrockNoduleType, BrockResult } from './brock.ts';
export { abc2FromSlices, abc2Volume, ellipsoidVolumeMl, kothariSliceWeight } from './abc2.ts';
export type { Abc2Input, Abc2SliceInput, Abc2SliceResult } from './abc2.ts';
export { RECIST_TOO_SMALL_MM, recistMeasurability, recistOverallResponse, recistTargetResponse } from './recist.ts';
export type {
  RecistMeasurability, RecistMeasurabilityResult, RecistNonTargetResponse, RecistOverallResponse, RecistTargetInput,
  RecistTargetLesion, RecistTargetResponse, RecistTargetResult,
} from './recist.ts';
export {
  classifyVolumeDoublingTime, fleischnerSignificantGrowth, lungRadsGrowthStatus, meanDiameterMm, sphereVolumeMm3,
  volumeDoublingTimeDays,
} from './growth.ts';
export type { LungRadsGrowth, VdtClass } from './growth.ts';
