/**
 * chest-ct-nodules with follow-up: the same analysis (same id, version, detection and measurements); when the
 * engine passes a prior series (`AnalysisContext.prior`) the prior is analysed with the same `run`, registered
 * to the current scan (lungs, rigid then affine: src/imaging/registration.ts) and the nodules are paired
 * (followup.ts). Without a prior, or when the prior cannot be compared, the output is exactly the base output
 * plus a `followUp` note saying why. When the prior comes with the stored result of this same analysis (id and
 * version; `PriorSeries.result`, set by the server from its archive), its findings are reused: the prior is decoded
 * for the registration (lung masks and intensities) but not analysed again.
 */
import type { AnalysisContext, AnalysisManifest, AnalysisOutput, SeriesHeader } from '../../engine/types.ts';
import { isSrError } from '../../core/errors.ts';
import { registerVolumes } from '../../imaging/index.ts';
import { segmentLungs } from './lung-segmentation.ts';
import { compareWithPrior, daysBetween, FOLLOWUP_VERSION, noduleView } from './followup.ts';

export const FOLLOWUP_STEP = 'follow-up';

function studyDate(h: SeriesHeader): string | undefined {
  const v = h.attributes['StudyDate'];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() ? s.trim() : undefined;
}

function notCompared(out: AnalysisOutput, reason: string, extra: Record<string, unknown> = {}): AnalysisOutput {
  return { ...out, measurements: { ...out.measurements, followUp: { version: FOLLOWUP_VERSION, compared: false, reason, ...extra } } };
}

async function runWithPrior(base: AnalysisManifest, ctx: AnalysisContext): Promise<AnalysisOutput> {
  const out = await base.run(ctx);
  const prior = ctx.prior;
  if (!prior || out.skipped) return out;
  const priorRef = { studyInstanceUid: prior.header.studyInstanceUid, seriesInstanceUid: prior.header.seriesInstanceUid, studyDate: studyDate(prior.header) ?? null };
  const days = daysBetween(studyDate(prior.header), studyDate(ctx.header));
  if (days === undefined || days <= 0) {
    return notCompared(out, `prior StudyDate ${priorRef.studyDate ?? '(none)'} is not before the current StudyDate ${studyDate(ctx.header) ?? '(none)'}`, { prior: priorRef });
  }
  if (prior.header.seriesInstanceUid === ctx.header.seriesInstanceUid) return notCompared(out, 'the prior is the current series', { prior: priorRef });
  const pid = (h: SeriesHeader) => {
    const v = h.attributes['PatientID'];
    return typeof v === 'string' ? v.trim() : Array.isArray(v) && typeof v[0] === 'string' ? v[0].trim() : undefined;
  };
  if (pid(prior.header) !== pid(ctx.header)) return notCompared(out, `PatientID differs (prior ${pid(prior.header) ?? '(none)'}, current ${pid(ctx.header) ?? '(none)'})`, { prior: priorRef });
  const t0 = performance.now();
  try {
    ctx.progress(FOLLOWUP_STEP, 0.97);
    const priorSeries = await prior.loadVolume(ctx.signal);
    // The stored result of this very analysis (id + version) on the prior series, when the engine offers one
    // (the server, from its archive): its findings are used as they are, the detector is not run on the prior again.
    const stored = prior.result && prior.result.analysisId === base.id && prior.result.analysisVersion === base.version ? prior.result : undefined;
    const tPrior = performance.now();
    let priorOut: AnalysisOutput;
    if (stored) {
      // A stored follow-up result carries its own 'resolved' placeholders (probability 0): they are not nodules of the prior.
      priorOut = { findings: stored.findings.filter((f) => f['status'] !== 'resolved'), measurements: stored.measurements };
      ctx.log.info('follow-up: stored prior result reused, prior not re-analysed', { analysis: base.id, priorSeries: prior.header.seriesInstanceUid, result: stored.resultId });
    } else {
      const { prior: _ignored, ...rest } = ctx;
      void _ignored;
      priorOut = await base.run({ ...rest, header: prior.header, series: priorSeries, progress: () => undefined });
      if (priorOut.skipped) return notCompared(out, `prior not analysable: ${priorOut.skipped.reason}`, { prior: priorRef });
    }
    const priorAnalysisMs = performance.now() - tPrior;
    const cur = ctx.series.volume, old = priorSeries.volume;
    const tLungs = performance.now();
    const fixedMask = segmentLungs(cur).labels, movingMask = segmentLungs(old).labels;
    const lungsMs = performance.now() - tLungs;
    const tReg = performance.now();
    const reg = registerVolumes(cur, old, { transform: 'affine', fixedMask, movingMask });
    const regMs = performance.now() - tReg;
    const fu = compareWithPrior(out.findings, priorOut.findings, { currentToPrior: reg.matrix, intervalDays: days });
    const lr = fu.lungRads;
    const warnings = reg.overlap < 0.8 ? [`registration overlap only ${(100 * reg.overlap).toFixed(0)} %: pairing may be wrong`] : [];
    return {
      ...out,
      findings: fu.findings,
      measurements: {
        ...out.measurements,
        ...(lr
          ? { lungRads: { category: lr.category, label: lr.label, drivingFindingId: lr.drivingId ?? null, management: lr.management, probabilityOfMalignancy: lr.probabilityOfMalignancy.text, notes: lr.notes, version: 'v2022', status: 'follow-up: compared with the prior (new / growing / stable / decreased rows)' } }
          : {}),
        followUp: {
          ...fu.summary,
          compared: true,
          prior: {
            ...priorRef, findings: priorOut.findings.length,
            // 'stored-result': the archive's result of this analysis on the prior was used; 'analysed': run again here.
            source: stored ? 'stored-result' : 'analysed',
            resultId: stored?.resultId ?? null,
            analysisMs: Math.round(priorAnalysisMs),
          },
          // The prior's reported nodules in prior LPS (side-by-side display; evaluation).
          priorNodules: priorOut.findings.filter((f) => f.probability >= 0.5).map((f) => {
            const v = noduleView(f);
            return { id: v.id, centerMm: v.centerMm, probability: v.probability, noduleType: v.type ?? null, meanDiameterMm: v.meanDiameterMm ?? null, volumeMm3: v.volumeMm3 ?? null };
          }),
          registration: {
            matrix: reg.matrix.map((x) => Math.round(x * 1e6) / 1e6),
            direction: 'current patient LPS mm → prior patient LPS mm (4×4 row-major)',
            rotationDeg: Math.round(reg.rotationDeg * 100) / 100,
            translationMm: reg.translationMm.map((x) => Math.round(x * 100) / 100),
            metric: reg.metric, finalMetric: Math.round(reg.finalMetric * 10000) / 10000, overlap: Math.round(reg.overlap * 1000) / 1000,
            affineAccepted: reg.affineAccepted,
            timeMs: Math.round(regMs),
            lungMasksMs: Math.round(lungsMs),
          },
          warnings,
        },
      },
      stepTimesMs: { ...(out.stepTimesMs ?? {}), [FOLLOWUP_STEP]: performance.now() - t0 },
    };
  } catch (e) {
    if (isSrError(e, 'ANALYSIS_CANCELLED') || ctx.signal.aborted) throw e;
    ctx.log.warn('follow-up comparison failed', { error: e instanceof Error ? e.message : String(e) });
    return notCompared(out, `comparison failed: ${e instanceof Error ? e.message : String(e)}`, { prior: priorRef });
  }
}

/** The base manifest, comparing with `ctx.prior` when one is given. Id and version are the base's. */
export function withFollowUp(base: AnalysisManifest): AnalysisManifest {
  return {
    ...base,
    // A server looks up the most recent earlier CT of the same patient (src/engine/prior.ts); the same-day rule is
    // ours: a prior of the same day is not a follow-up interval (compareWithPrior needs ≥ 1 day).
    prior: { sameModality: true, minIntervalDays: 1 },
    steps: [...base.steps, FOLLOWUP_STEP],
    run: (ctx) => runWithPrior(base, ctx),
  };
}
