/**
 * Time saved by the server's reuse of a prior's stored result (docs/followup.md "In the server"): withFollowUp
 * (chest-ct-nodules) on one follow-up phantom pair, once analysing the prior again (the CLI path) and once with the
 * prior's own result given as `prior.result` (the server path). Prints one JSON line; no assertion (a bench).
 * Run: node --import tsx src/server/engine-wiring-prior-bench.ts [dims JSON, default [96,96,72]] [spacing JSON, default [3.4,3.4,3]]
 */
import { generateFollowUpPair } from '../../eval/phantoms/followup.ts';
import { chestCtNodules } from '../analyses/chest-ct-nodules/manifest.ts';
import { withFollowUp } from '../analyses/chest-ct-nodules/followup-manifest.ts';
import { silentLogger } from '../core/index.ts';
import type { AnalysisContext, SeriesHeader } from '../engine/types.ts';
import type { Int16Volume, Vec3 } from '../imaging/index.ts';
const dims = JSON.parse(process.argv[2] ?? '[96,96,72]') as Vec3, spacing = JSON.parse(process.argv[3] ?? '[3.4,3.4,3]') as Vec3;
const pair = generateFollowUpPair({ seed: 'reuse-bench-1', dims, spacingMm: spacing, sliceThicknessMm: spacing[2], noduleCount: 4, noduleDiameterRangeMm: [9, 18] });
const t = pair.truth;
const h = (w: string): SeriesHeader => ({ studyInstanceUid: `st-${w}`, seriesInstanceUid: `se-${w}`, modality: 'CT', seriesDescription: 'Chest', bodyPartExamined: 'CHEST', sliceThicknessMm: spacing[2], imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'], instanceCount: dims[2], patientAgeYears: 65, patientSex: 'M', contrastAgent: undefined, attributes: { PatientID: t.patientId, StudyDate: w === 'prior' ? t.priorStudyDate : t.currentStudyDate } });
const sv = (v: Int16Volume) => ({ volume: v, sliceSopInstanceUids: [], frameOfReferenceUid: undefined, notes: [] });
const base = (w: 'prior' | 'current', v: Int16Volume): Omit<AnalysisContext, 'prior'> => ({ header: h(w), series: sv(v), log: silentLogger, progress: () => undefined, signal: new AbortController().signal });
const m = withFollowUp(chestCtNodules);
const t0 = performance.now();
const priorOwn = await chestCtNodules.run(base('prior', pair.prior));
const tPriorOwn = performance.now() - t0;
const t1 = performance.now();
const analysed = await m.run({ ...base('current', pair.current), prior: { header: h('prior'), loadVolume: async () => sv(pair.prior) } });
const tAnalysed = performance.now() - t1;
const t2 = performance.now();
const reused = await m.run({ ...base('current', pair.current), prior: { header: h('prior'), loadVolume: async () => sv(pair.prior), result: { analysisId: m.id, analysisVersion: m.version, resultId: 'bench', createdAt: new Date().toISOString(), findings: priorOwn.findings, measurements: priorOwn.measurements } } });
const tReused = performance.now() - t2;
const fu = (o: typeof reused) => o.measurements['followUp'] as { counts: unknown; prior: { source: string } };
const st = (o: typeof reused) => JSON.stringify(o.findings.map((f) => [f.id, f['status']]).filter((x) => x[1]));
console.log(JSON.stringify({ dims, spacing, voxels: dims[0] * dims[1] * dims[2], priorOwnRunMs: Math.round(tPriorOwn), followUpAnalysedMs: Math.round(tAnalysed), followUpReusedMs: Math.round(tReused), followUpStepAnalysedMs: Math.round(analysed.stepTimesMs?.['follow-up'] ?? -1), followUpStepReusedMs: Math.round(reused.stepTimesMs?.['follow-up'] ?? -1), savedMs: Math.round(tAnalysed - tReused), sameStatuses: st(analysed) === st(reused), counts: [fu(analysed).counts, fu(reused).counts], sources: [fu(analysed).prior.source, fu(reused).prior.source] }));
