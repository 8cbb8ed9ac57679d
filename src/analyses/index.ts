/**
 * The production list of analyses, in the order they run. Add an analysis by importing its manifest here
 * (CONTRIBUTING.md, "Adding an analysis"); the engine validates the list at start-up and refuses to start on a
 * bad or duplicate manifest. Tests register their own analyses by injection, never through this list.
 */
import type { AnalysisManifest } from '../engine/types.ts';
import { chestCtNodules } from './chest-ct-nodules/manifest.ts';
import { withFollowUp } from './chest-ct-nodules/followup-manifest.ts';
import { headCtHemorrhage } from './head-ct-hemorrhage/manifest.ts';

// chest-ct-nodules compares with a prior series when one is given (analyze --prior); unchanged otherwise.
export const ANALYSES: readonly AnalysisManifest[] = [withFollowUp(chestCtNodules), headCtHemorrhage];
