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
import type { Finding } from '../../engine/types.ts';
import type { Affine4, Int16Volume } from '../../imaging/index.ts';
import { applyAffine, registerVolumes } from '../../imaging/index.ts';
import { segmentLungs } from './lung-segmentation.ts';
import type { LungSegmentation } from './lung-segmentation.ts';
import { compareWithPrior, daysBetween, FOLLOWUP_VERSION, noduleView } from './followup.ts';
import type { FollowUpResult } from './followup.ts';
import { paintLabels } from './pipeline.ts';
import { probeNodules } from './probe.ts';
import type { NoduleSegmentation } from './segment-nodule.ts';
import { buildFindings } from './report.ts';

export const FOLLOWUP_STEP = 'follow-up';

function studyDate(h: SeriesHeader): string | undefined {
  const v = h.attributes['StudyDate'];
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() ? s.trim() : undefined;
}

function notCompared(out: AnalysisOutput, reason: string, extra: Record<string, unknown> = {}): AnalysisOutput {
  return { ...out, measurements: { ...out.measurements, followUp: { version: FOLLOWUP_VERSION, compared: false, reason, ...extra } } };
}

export interface FollowUpManifestOptions {
  /**
   * Targeted re-measurement (probe.ts) where pairing left a nodule alone: a prior nodule not found now is looked
   * for at its registered position on the current scan, a current nodule without a partner at its registered
   * position on the prior. Default true (follow-up 0.3.0). With chest-ct-nodules 0.8 (followup-tuning.ts, 10 pairs per
   * tuning seed) it raised pairs matched on seed 3 75.9 → 79.3 % and on seed 4 75.0 → 82.1 %, every probed pair right,
   * and on the unseen seed 830000 82.8 → 86.2 % with new + resolved unchanged (88.2 %). A probed finding pairs only by
   * the guided rules (type family, volume ratio; followup.ts), never as a reported ↔ reported pair. On the 3.4 mm-voxel
   * toy pair of the eval test, whose stand-in detector reports the truth, the probe (the real detector) finds false
   * positives at empty places; that test runs without it (docs/followup.md).
   */
  readonly probe?: boolean;
  /** Probability floor of a probed finding for a pair (default PROBE_SUPPORT). */
  readonly probeSupport?: number;
}

/**
 * Default floor of a probed finding's own probability for a prior-guided pair (tuning: followup-tuning.ts
 * --probe-support P). A probed finding is only looked for where the other scan has a nodule and pairs only by the
 * guided rules (same type family, volume ratio ≤ 6), so its own probability need not be a detector's: the prior of a
 * grown ground-glass nodule is small and faint, and the second stage scores a 3.8 mm ground-glass ball 0.001 even when
 * the probe segments it at the right volume (unseen follow-up seed 990000: 50 mm³ against 45.5 mm³ true, labelled
 * `new`). With chest 0.12.0 on tuning seeds 3 and 4 (10 pairs each): 0.05 → pairs matched 82.8 / 78.6 %, 0.01 →
 * 82.8 / 82.1 % (0.002 and 0 the same as 0.01), true new nodules wrongly paired 0 / 0 at every floor (follow-up 0.3.1).
 */
export const PROBE_SUPPORT = 0.01;

interface ProbeSummary { readonly current: { readonly looked: number; readonly found: number }; readonly prior: { readonly looked: number; readonly found: number }; readonly timeMs: number }

/**
 * The probe step: look again where the first comparison left a nodule alone, then compare once more with what was
 * found. Probed findings that do not pair are dropped: they were only looked for because of the other scan.
 */
function probeAndCompare(
  first: FollowUpResult, current: readonly Finding[], prior: readonly Finding[], scans: { cur: Int16Volume; old: Int16Volume; curLungs: LungSegmentation; oldLungs: LungSegmentation },
  opts: { currentToPrior: Affine4; intervalDays: number; version: string; support: number },
): { fu: FollowUpResult; summary: ProbeSummary; segs: Map<string, NoduleSegmentation> } {
  const t0 = performance.now();
  const radius = (f: Finding | undefined): number => Math.max(1.5, ((f ? noduleView(f).meanDiameterMm : undefined) ?? 4) / 2);
  const lost = first.findings.filter((f) => f['status'] === 'resolved');
  const fresh = first.findings.filter((f) => f['status'] === 'new');
  const priorById = new Map(prior.map((f) => [f.id, f]));
  const curHits = probeNodules(scans.cur, scans.curLungs, lost.map((f) => ({ lps: [...f.centerMm] as [number, number, number], radiusMm: radius(priorById.get(String(f['priorFindingId']))) })));
  const priHits = probeNodules(scans.old, scans.oldLungs, fresh.map((f) => ({ lps: applyAffine(opts.currentToPrior, f.centerMm), radiusMm: radius(f) })));
  const probeIds = new Set<string>();
  const segs = new Map<string, NoduleSegmentation>();
  const asFinding = (n: (typeof curHits)[number], lungs: LungSegmentation, id: string, why: string): Finding[] => {
    if (!n) return [];
    const r = buildFindings({ lungs, nodules: [n], candidates: [], candidateCount: 0, isoSpacingMm: 0, stepTimesMs: {}, laa950: 0 }, opts.version)[0];
    if (!r) return [];
    const { label: _label, ...f } = r.finding;
    void _label;
    probeIds.add(id);
    segs.set(id, n.seg);
    return [{ ...f, id, probed: true, reasons: [...(f.reasons ?? []), why] }];
  };
  const curExtra = curHits.flatMap((n, i) => asFinding(n, scans.curLungs, `probe-${lost[i]!.id}`, `follow-up probe: looked for at the registered position of prior nodule ${String(lost[i]!['priorFindingId'])}, which the detector did not report on this scan`));
  const priExtra = priHits.flatMap((n, i) => asFinding(n, scans.oldLungs, `prior-probe-${fresh[i]!.id}`, `follow-up probe: looked for on the prior at the registered position of current nodule ${fresh[i]!.id}`));
  const fu = compareWithPrior([...current, ...curExtra], [...prior, ...priExtra], { currentToPrior: opts.currentToPrior, intervalDays: opts.intervalDays, probeIds, probeSupportThreshold: opts.support });
  const kept = fu.findings.filter((f) => !(probeIds.has(f.id) && f['status'] === undefined));
  return {
    fu: { ...fu, findings: kept },
    segs,
    summary: {
      current: { looked: lost.length, found: curExtra.length },
      prior: { looked: fresh.length, found: priExtra.length },
      timeMs: Math.round(performance.now() - t0),
    },
  };
}

async function runWithPrior(base: AnalysisManifest, ctx: AnalysisContext, options: FollowUpManifestOptions): Promise<AnalysisOutput> {
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
    const curLungs = segmentLungs(cur), oldLungs = segmentLungs(old);
    const lungsMs = performance.now() - tLungs;
    const tReg = performance.now();
    const reg = registerVolumes(cur, old, { transform: 'affine', fixedMask: curLungs.labels, movingMask: oldLungs.labels });
    const regMs = performance.now() - tReg;
    let fu = compareWithPrior(out.findings, priorOut.findings, { currentToPrior: reg.matrix, intervalDays: days });
    let probes: ProbeSummary | undefined;
    let labelMap = out.labelMap;
    if (options.probe ?? true) {
      const r = probeAndCompare(fu, out.findings, priorOut.findings, { cur, old, curLungs, oldLungs }, { currentToPrior: reg.matrix, intervalDays: days, version: base.version, support: options.probeSupport ?? PROBE_SUPPORT });
      probes = r.summary;
      // A probed nodule that is shown gets a mask label after the analysis's own, painted where no label is yet.
      let next = Math.max(0, ...Object.keys(labelMap?.labels ?? {}).map(Number));
      const painted: { seg: NoduleSegmentation; label: number }[] = [];
      const labels: Record<number, string> = { ...(labelMap?.labels ?? {}) };
      const findings = r.fu.findings.map((f) => {
        const seg = r.segs.get(f.id);
        if (!seg || !labelMap || f['status'] === undefined) return f;
        const label = ++next;
        painted.push({ seg, label });
        labels[label] = `nodule ${f.id} (${seg.type}, follow-up probe)`;
        return { ...f, label };
      });
      if (labelMap && painted.length > 0) labelMap = { mask: paintLabels(cur, painted, labelMap.mask), labels };
      fu = { ...r.fu, findings };
    }
    const lr = fu.lungRads;
    const warnings = reg.overlap < 0.8 ? [`registration overlap only ${(100 * reg.overlap).toFixed(0)} %: pairing may be wrong`] : [];
    return {
      ...out,
      findings: fu.findings,
      ...(labelMap ? { labelMap } : {}),
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
          ...(probes ? { probes } : {}),
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
export function withFollowUp(base: AnalysisManifest, options: FollowUpManifestOptions = {}): AnalysisManifest {
  return {
    ...base,
    // A server looks up the most recent earlier CT of the same patient (src/engine/prior.ts); the same-day rule is
    // ours: a prior of the same day is not a follow-up interval (compareWithPrior needs ≥ 1 day).
    prior: { sameModality: true, minIntervalDays: 1 },
    steps: [...base.steps, FOLLOWUP_STEP],
    run: (ctx) => runWithPrior(base, ctx, options),
  };
}
