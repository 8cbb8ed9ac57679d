import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { cache, Enums, eventTarget, imageLoader, setVolumesForViewports } from '@cornerstonejs/core';
import { Enums as ToolEnums } from '@cornerstonejs/tools';
import type { Types } from '@cornerstonejs/core';
import { api, post } from './api.ts';
import type { Decision, Finding, ResultView, StudyBundle } from './api.ts';
import type { Key } from './i18n.ts';
import {
  createVolume, dot, ENGINE_ID, initImaging, maybeEngine, prefetchStack, loadLabelVoxels, loadPreview, loadSeries, nearestIndex, PRESETS, renderingEngine, setLengthTool, toolGroup, voiRange,
} from './imaging.ts';
import type { LabelVoxels, LoadedSeries, PresetKey, Vec3 } from './imaging.ts';
import { drawOverlay } from './overlay.ts';
import type { Midline } from './overlay.ts';
import { ReportPanel } from './ReportPanel.tsx';
import { useLiveUpdates, useThrottled } from './live.ts';

type T = (k: Key) => string;
type AnyViewport = Types.IStackViewport | Types.IVolumeViewport;

interface FindingRow { result: ResultView; finding: Finding }

const VIEW_IDS = ['vp-main', 'vp-cor', 'vp-sag'] as const;
const PRIOR_ID = 'vp-prior';

function pickSeries(b: StudyBundle): string | undefined {
  const analysed = b.results.find((r) => r.status === 'ok')?.seriesInstanceUid;
  if (analysed) return analysed;
  return [...b.series].filter((s) => s.modality !== 'SR' && s.modality !== 'OT').sort((a, c) => c.instanceCount - a.instanceCount)[0]?.seriesInstanceUid;
}

function vec(v: unknown): Vec3 | null {
  return Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number') ? [v[0], v[1], v[2]] as Vec3 : null;
}

function midlineOf(results: readonly ResultView[]): Midline | null {
  for (const r of results) {
    const m = r.document.measurements ?? {};
    const lm = m['landmarks'] as Record<string, unknown> | undefined;
    if (!lm) continue;
    const ideal = (lm['idealMidline'] ?? {}) as Record<string, unknown>;
    return {
      anterior: vec(ideal['anteriorMm']), posterior: vec(ideal['posteriorMm']), septum: vec(lm['septumMm']), septumIdeal: vec(lm['septumIdealMm']),
      shiftMm: typeof m['midlineShiftMm'] === 'number' ? m['midlineShiftMm'] : null,
    };
  }
  return null;
}

/** The chest follow-up's comparison (docs/followup.md): which prior it used and the current → prior LPS matrix. */
interface FollowUp { priorStudyUid: string; priorSeriesUid: string | null; matrix: number[] | null }

function followUpOf(results: readonly ResultView[]): FollowUp | null {
  for (const r of results) {
    const fu = (r.document.measurements ?? {})['followUp'] as Record<string, unknown> | undefined;
    if (!fu || fu['compared'] !== true) continue;
    const prior = (fu['prior'] ?? {}) as Record<string, unknown>;
    const reg = (fu['registration'] ?? {}) as Record<string, unknown>;
    const m = reg['matrix'];
    if (typeof prior['studyInstanceUid'] !== 'string') continue;
    return {
      priorStudyUid: prior['studyInstanceUid'],
      priorSeriesUid: typeof prior['seriesInstanceUid'] === 'string' ? prior['seriesInstanceUid'] : null,
      matrix: Array.isArray(m) && m.length === 16 && m.every((x) => typeof x === 'number') ? m as number[] : null,
    };
  }
  return null;
}

/** A 4×4 row-major affine applied to a point (the follow-up's current → prior patient LPS mapping). */
function applyAffine(m: readonly number[], p: readonly number[]): Vec3 {
  const x = p[0] ?? 0, y = p[1] ?? 0, z = p[2] ?? 0;
  return [m[0]! * x + m[1]! * y + m[2]! * z + m[3]!, m[4]! * x + m[5]! * y + m[6]! * z + m[7]!, m[8]! * x + m[9]! * y + m[10]! * z + m[11]!];
}

const PAIR_STATUSES = ['new', 'stable', 'grown', 'shrunk', 'resolved'] as const;
type PairStatus = (typeof PAIR_STATUSES)[number];
function pairStatus(f: Finding): PairStatus | null {
  const st = f['status'];
  return typeof st === 'string' && (PAIR_STATUSES as readonly string[]).includes(st) ? st as PairStatus : null;
}

/** Moves a viewport to the slice nearest `c` (stack) and pans it so that `c` is centred. */
async function centreOn(vp: AnyViewport, c: readonly number[], stack: LoadedSeries | null): Promise<void> {
  if (stack && 'setImageIdIndex' in vp) await vp.setImageIdIndex(nearestIndex(stack, c));
  const cam = vp.getCamera();
  const fp = cam.focalPoint ?? [0, 0, 0];
  const pos = cam.position ?? [0, 0, 0];
  const n = cam.viewPlaneNormal ?? [0, 0, 1];
  let d: number[] = [c[0]! - fp[0], c[1]! - fp[1], c[2]! - fp[2]];
  if (stack) {
    // Stack: the image was changed above; pan in-plane only.
    const along = d[0]! * n[0] + d[1]! * n[1] + d[2]! * n[2];
    d = d.map((x, i) => x - along * (n[i] ?? 0));
  }
  vp.setCamera({ focalPoint: [fp[0] + d[0]!, fp[1] + d[1]!, fp[2] + d[2]!], position: [pos[0] + d[0]!, pos[1] + d[1]!, pos[2] + d[2]!] });
  vp.render();
}

/** Timeline marks of opening a study (bench/viewer.ts reads them to see what the first image waits for). */
function mark(name: string): void {
  performance.mark(`sr:${name}`);
}

function measurementsOf(f: Finding): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(f)) if (typeof v === 'number' && k !== 'probability' && k !== 'label') out.push([k, v]);
  const m = f['measurements'];
  if (m && typeof m === 'object') for (const [k, v] of Object.entries(m as Record<string, unknown>)) if (typeof v === 'number') out.push([k, v]);
  return out;
}

export function Viewer(props: { studyUid: string; t: T; canDecide: boolean; onBack: () => void }) {
  const { studyUid, t } = props;
  const [bundle, setBundle] = useState<StudyBundle | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [series, setSeries] = useState<LoadedSeries | null>(null);
  const [index, setIndex] = useState(0);
  const [mpr, setMpr] = useState(false);
  const [showMask, setShowMask] = useState(true);
  const [lengthOn, setLengthOn] = useState(false);
  const [preset, setPreset] = useState<PresetKey>('mediastinum');
  const [voxels, setVoxels] = useState<LabelVoxels[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [priorUid, setPriorUid] = useState<string>('');
  const [prior, setPrior] = useState<LoadedSeries | null>(null);
  const elements = useRef<Record<string, HTMLDivElement | null>>({});
  const overlays = useRef<Record<string, HTMLCanvasElement | null>>({});
  /** A paired finding clicked before its prior was shown: where to put the prior viewport once it is. */
  const pendingPrior = useRef<Vec3 | null>(null);
  /** Set while the full series replaces the one-image preview: the viewport is kept, only its stack changes. */
  const upgrading = useRef(false);
  /** While a finding jump moves both viewports, linked scrolling must not pull the prior back to the linked slice. */
  const linkPaused = useRef(false);
  const seriesRef = useRef<LoadedSeries | null>(null);
  seriesRef.current = series;

  // Cornerstone's set-up (web workers, WebGL) runs while the study's bundle and metadata are fetched.
  useEffect(() => {
    mark('viewer-mount');
    void initImaging().then(() => mark('imaging-ready'));
  }, []);

  const reload = useCallback(async () => {
    try {
      setBundle(await api<StudyBundle>(`/review/studies/${studyUid}`));
      mark('bundle');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [studyUid]);
  useEffect(() => void reload(), [reload]);
  // Live updates of this study (AI job finished, another reader's decision or sign-off); a poll while the stream is down.
  const reloadSoon = useThrottled(() => void reload(), 500);
  useLiveUpdates((ev) => {
    if (ev.type === 'poll' || ev.type === 'results' || ('studyInstanceUid' in ev && ev.studyInstanceUid === studyUid)) reloadSoon();
  });

  const rows: FindingRow[] = useMemo(() => (bundle?.results ?? []).flatMap((r) => (r.document.findings ?? []).map((finding) => ({ result: r, finding }))), [bundle]);
  const decisions = useMemo(() => new Map((bundle?.decisions ?? []).map((d: Decision) => [`${d.resultId}|${d.findingId}`, d])), [bundle]);
  const midline = useMemo(() => midlineOf(bundle?.results ?? []), [bundle]);
  const followUp = useMemo(() => followUpOf(bundle?.results ?? []), [bundle]);
  /** Current → prior patient position: the follow-up's registration when the prior shown is the one it compared with. */
  const toPrior = useCallback((p: readonly number[]): Vec3 => (
    followUp?.matrix && followUp.priorStudyUid === priorUid ? applyAffine(followUp.matrix, p) : [p[0] ?? 0, p[1] ?? 0, p[2] ?? 0]
  ), [followUp, priorUid]);
  const toPriorRef = useRef(toPrior);
  toPriorRef.current = toPrior;
  const locked = bundle?.report.status === 'signed';

  // Default window from the analyses: head → brain, else mediastinum.
  useEffect(() => {
    if (bundle?.results.some((r) => r.analysisId.startsWith('head'))) setPreset('brain');
  }, [bundle]);

  // Series + viewports.
  useEffect(() => {
    if (!bundle) return;
    const uid = pickSeries(bundle);
    if (!uid) return;
    let cancelled = false;
    let full = false;
    // The first image does not wait for the whole series' metadata: a one-image preview (middle slice) first. The
    // full metadata (the server reads every file's header: CPU-bound, ~0.5 s for 300 slices) is asked for once that
    // image is loaded, or after 400 ms, so that it does not compete with it on the server.
    let startFull: () => void = () => undefined;
    const previewDone = new Promise<void>((resolve) => {
      startFull = resolve;
      setTimeout(resolve, 400);
    });
    void Promise.all([loadPreview(studyUid, uid), initImaging()]).then(async ([imageId]) => {
      if (cancelled || full || !imageId || seriesRef.current) return;
      mark('preview-metadata');
      await imageLoader.loadAndCacheImage(imageId);
      mark('preview-image');
      if (cancelled || full || seriesRef.current) return;
      setSeries({ studyInstanceUid: studyUid, seriesInstanceUid: uid, imageIds: [imageId], positions: [0], normal: [0, 0, 1], sliceSpacing: 1, preview: true });
    }).catch(() => undefined) // best effort: the full series follows anyway
      .finally(() => startFull());
    void (async () => {
      await previewDone;
      if (cancelled) return;
      const [s] = await Promise.all([loadSeries(studyUid, uid), initImaging()]);
      full = true;
      mark('metadata');
      if (cancelled) return;
      upgrading.current = seriesRef.current?.preview === true;
      // First image: the first AI finding's slice when there is one, else the middle of the stack (where the
      // background prefetch then starts, nearest first).
      const f = bundle.results.find((r) => r.seriesInstanceUid === uid)?.document.findings?.[0];
      setIndex(f ? nearestIndex(s, f.centerMm) : Math.floor(s.imageIds.length / 2));
      setSeries(s);
    })().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
    };
  }, [bundle?.study['StudyInstanceUID'], studyUid]);

  // Label maps of the results.
  useEffect(() => {
    if (!bundle) return;
    let cancelled = false;
    void Promise.all(bundle.results.flatMap((r) => {
      const name = r.document.labelMap?.path;
      const a = r.attachments.find((x) => x.name === name);
      return a ? [loadLabelVoxels(a.url)] : [];
    })).then((v) => !cancelled && setVoxels(v)).catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
    };
  }, [bundle?.results.map((r) => r.id).join()]);

  const viewportIds = mpr ? [...VIEW_IDS] : [VIEW_IDS[0]];
  const allIds = prior && !mpr ? [...viewportIds, PRIOR_ID] : viewportIds;

  const redraw = useCallback(() => {
    const engine = maybeEngine();
    if (!engine) return;
    for (const id of allIds) {
      const vp = engine.getViewport(id) as AnyViewport | undefined;
      const canvas = overlays.current[id];
      if (!vp || !canvas) continue;
      if (id === PRIOR_ID) {
        // Paired (and resolved) findings where they were on the prior.
        const paired = rows.flatMap(({ result, finding }) => {
          const c = vec(finding['priorCenterMm']);
          return c ? [{ id: finding.id, centerMm: c, selected: selected === `${result.id}|${finding.id}`, decision: decisions.get(`${result.id}|${finding.id}`)?.decision ?? null }] : [];
        });
        drawOverlay(canvas, vp, { voxels: [], findings: paired, midline: null, slab: (prior?.sliceSpacing ?? 1) / 2 + 0.01, showMask: false });
        continue;
      }
      drawOverlay(canvas, vp, {
        voxels, showMask, midline, slab: (series?.sliceSpacing ?? 1) / 2 + 0.01,
        findings: rows.map(({ result, finding }) => ({ id: finding.id, centerMm: finding.centerMm, selected: selected === `${result.id}|${finding.id}`, decision: decisions.get(`${result.id}|${finding.id}`)?.decision ?? null })),
      });
    }
  }, [allIds.join(), voxels, showMask, midline, series, prior, rows, selected, decisions]);
  const redrawRef = useRef(redraw);
  redrawRef.current = redraw;
  useEffect(() => redraw(), [redraw]);

  // Build the viewports whenever the series, the layout or the prior changes.
  useEffect(() => {
    if (!series) return;
    let cancelled = false;
    const engine = renderingEngine();
    const tg = toolGroup();
    const listeners: [HTMLElement, string, EventListener][] = [];
    const reuse = upgrading.current && !mpr && !prior && engine.getViewport(VIEW_IDS[0]) !== undefined;
    upgrading.current = false;
    if (mpr && series.preview) return;
    void (async () => {
      const inputs = allIds.map((id, i) => ({
        viewportId: id, element: elements.current[id] as HTMLDivElement,
        type: mpr ? Enums.ViewportType.ORTHOGRAPHIC : Enums.ViewportType.STACK,
        defaultOptions: { background: [0, 0, 0] as Types.Point3, ...(mpr ? { orientation: [Enums.OrientationAxis.AXIAL, Enums.OrientationAxis.CORONAL, Enums.OrientationAxis.SAGITTAL][i] } : {}) },
      }));
      if (inputs.some((x) => !x.element)) return;
      if (!reuse) {
        engine.setViewports(inputs);
        for (const id of allIds) tg.addViewport(id, ENGINE_ID);
      }
      const voi = voiRange(PRESETS.find((p) => p.key === preset) ?? PRESETS[1]);
      if (mpr) {
        const volumeId = `cornerstoneStreamingImageVolume:${series.seriesInstanceUid}`;
        if (!cache.getVolume(volumeId)) await createVolume(volumeId, series.imageIds);
        if (cancelled) return;
        await setVolumesForViewports(engine, [{ volumeId }], [...VIEW_IDS]);
        for (const id of VIEW_IDS) (engine.getViewport(id) as Types.IVolumeViewport).setProperties({ voiRange: voi });
      } else {
        const vp = engine.getViewport(VIEW_IDS[0]) as Types.IStackViewport;
        await vp.setStack(series.imageIds, Math.min(index, series.imageIds.length - 1));
        mark(series.preview ? 'preview-loaded' : 'stack-loaded');
        vp.setProperties({ voiRange: voi });
        const mainEl = elements.current[VIEW_IDS[0]];
        if (mainEl) {
          // The background prefetch of the whole stack starts once the first image is on screen, not before
          // (300 concurrent frame requests and decodes would delay it).
          const onFirst: EventListener = () => {
            mainEl.removeEventListener(Enums.Events.IMAGE_RENDERED, onFirst);
            mark(series.preview ? 'first-render' : 'stack-render');
            if (!cancelled && !series.preview) prefetchStack(mainEl);
          };
          mainEl.addEventListener(Enums.Events.IMAGE_RENDERED, onFirst);
          listeners.push([mainEl, Enums.Events.IMAGE_RENDERED, onFirst]);
        }
        if (prior) {
          const pv = engine.getViewport(PRIOR_ID) as Types.IStackViewport;
          await pv.setStack(prior.imageIds, nearestIndex(prior, toPriorRef.current(series.normal.map((x) => x * (series.positions[index] ?? 0)))));
          pv.setProperties({ voiRange: voi });
          const pending = pendingPrior.current;
          pendingPrior.current = null;
          if (pending) await centreOn(pv, pending, prior);
        }
      }
      if (cancelled) return;
      engine.render();
      for (const id of allIds) {
        const el = elements.current[id];
        if (!el) continue;
        const onRender: EventListener = () => redrawRef.current();
        el.addEventListener(Enums.Events.IMAGE_RENDERED, onRender);
        listeners.push([el, Enums.Events.IMAGE_RENDERED, onRender]);
      }
      if (series.preview) return;
      const main = elements.current[VIEW_IDS[0]];
      if (main && !mpr) {
        const onNew: EventListener = (ev) => {
          const i = (ev as CustomEvent<{ imageIdIndex: number }>).detail.imageIdIndex;
          setIndex(i);
          if (prior && !linkPaused.current) {
            // Linked scrolling: the slice's point mapped by the follow-up's registration when there is one, else by
            // slice position (same frame of reference assumed).
            const pv = engine.getViewport(PRIOR_ID) as Types.IStackViewport | undefined;
            const z = series.positions[i] ?? 0;
            const fp = (engine.getViewport(VIEW_IDS[0]) as Types.IStackViewport | undefined)?.getCamera().focalPoint ?? [0, 0, 0];
            const along = z - dot(fp, series.normal);
            const here = [fp[0] + along * series.normal[0], fp[1] + along * series.normal[1], fp[2] + along * series.normal[2]];
            const j = nearestIndex(prior, toPriorRef.current(here));
            if (pv && pv.getCurrentImageIdIndex() !== j) void pv.setImageIdIndex(j);
          }
        };
        main.addEventListener(Enums.Events.STACK_NEW_IMAGE, onNew);
        listeners.push([main, Enums.Events.STACK_NEW_IMAGE, onNew]);
      }
      document.body.dataset['viewerReady'] = 'true';
    })().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    return () => {
      cancelled = true;
      for (const [el, type, fn] of listeners) el.removeEventListener(type, fn);
      // The full series replaces the preview in the same viewport: nothing to tear down (no blank frame).
      if (upgrading.current) return;
      document.body.dataset['viewerReady'] = 'false';
      for (const id of allIds) {
        tg.removeViewports(ENGINE_ID, id);
        engine.disableElement(id);
      }
    };
  }, [series, mpr, prior]);

  // Window presets apply to every viewport.
  useEffect(() => {
    const engine = maybeEngine();
    if (!engine) return;
    const voi = voiRange(PRESETS.find((p) => p.key === preset) ?? PRESETS[1]);
    for (const id of allIds) {
      const vp = engine.getViewport(id) as AnyViewport | undefined;
      if (vp) {
        vp.setProperties({ voiRange: voi });
        vp.render();
      }
    }
  }, [preset]);

  useEffect(() => {
    if (maybeEngine()) setLengthTool(lengthOn);
  }, [lengthOn]);

  // Prior comparison: the prior's largest CT series.
  useEffect(() => {
    if (!priorUid) {
      setPrior(null);
      return;
    }
    void (async () => {
      const b = await api<StudyBundle>(`/review/studies/${priorUid}`);
      // The series the follow-up compared with, when this is its prior; else the prior's analysed / largest series.
      const uid = followUp?.priorStudyUid === priorUid && followUp.priorSeriesUid && b.series.some((x) => x.seriesInstanceUid === followUp.priorSeriesUid)
        ? followUp.priorSeriesUid : pickSeries(b);
      if (uid) setPrior(await loadSeries(priorUid, uid));
    })().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [priorUid, followUp]);

  const jumpTo = useCallback(async (row: FindingRow) => {
    setSelected(`${row.result.id}|${row.finding.id}`);
    const engine = maybeEngine();
    if (!engine) return;
    // A paired or resolved finding: the prior viewport goes to where it was on the prior (opening that prior first),
    // which may differ from where linked scrolling would put it (registration residual, the nodule moved).
    const pc = mpr ? null : vec(row.finding['priorCenterMm']);
    const pv = pc && prior ? engine.getViewport(PRIOR_ID) as Types.IStackViewport | undefined : undefined;
    linkPaused.current = pv !== undefined;
    try {
      for (const id of mpr ? [...VIEW_IDS] : [VIEW_IDS[0]]) {
        const vp = engine.getViewport(id) as AnyViewport | undefined;
        if (vp) await centreOn(vp, row.finding.centerMm, mpr ? null : series);
      }
      if (pc && pv && prior) await centreOn(pv, pc, prior);
      else if (pc && followUp && priorUid !== followUp.priorStudyUid) {
        pendingPrior.current = pc;
        setPriorUid(followUp.priorStudyUid);
      } else if (pc) pendingPrior.current = pc;
    } finally {
      linkPaused.current = false;
    }
  }, [mpr, series, prior, followUp, priorUid]);

  // Length measurements are saved with the review (who, when) and listed in the report.
  useEffect(() => {
    if (!props.canDecide || locked) return;
    const onDone: EventListener = (ev) => {
      const a = (ev as CustomEvent<{ annotation?: { metadata?: { toolName?: string }; data?: { handles?: { points?: number[][] } } } }>).detail.annotation;
      const pts = a?.data?.handles?.points;
      if (a?.metadata?.toolName !== 'Length' || !pts || pts.length < 2) return;
      const [p, q] = [pts[0]!, pts[1]!];
      const lengthMm = Math.hypot(q[0]! - p[0]!, q[1]! - p[1]!, q[2]! - p[2]!);
      void post(`/review/studies/${studyUid}/measurements`, {
        lengthMm: Math.round(lengthMm * 100) / 100, points: [p.slice(0, 3), q.slice(0, 3)], ...(series ? { seriesInstanceUid: series.seriesInstanceUid } : {}),
      }).then(reload).catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
    };
    eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, onDone);
    return () => eventTarget.removeEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, onDone);
  }, [props.canDecide, locked, studyUid, series, reload]);

  const decide = useCallback(async (row: FindingRow, decision: 'accept' | 'reject' | 'edit', edit?: { kind?: string; measurements?: Record<string, number> }) => {
    try {
      await post('/review/decisions', { resultId: row.result.id, findingId: row.finding.id, decision, ...(edit ? { edit } : {}) });
      await reload();
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [reload]);

  const selectedRow = rows.find((r) => `${r.result.id}|${r.finding.id}` === selected);

  // Keyboard: a radiologist's hands stay on the keys.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
      const vp = maybeEngine()?.getViewport(VIEW_IDS[0]) as Types.IStackViewport | undefined;
      const k = e.key;
      if ((k === 'ArrowUp' || k === 'ArrowDown') && vp && !mpr && series) {
        e.preventDefault();
        const next = Math.max(0, Math.min(series.imageIds.length - 1, vp.getCurrentImageIdIndex() + (k === 'ArrowUp' ? -1 : 1)));
        void vp.setImageIdIndex(next);
      } else if (k >= '1' && k <= '5') setPreset(PRESETS[Number(k) - 1]!.key);
      else if (k === 'o' || k === 'O') setShowMask((v) => !v);
      else if (k === 'm' || k === 'M') setMpr((v) => !v);
      else if (k === 'l' || k === 'L') setLengthOn((v) => !v);
      else if ((k === 'n' || k === 'N') && rows.length > 0) {
        const i = rows.findIndex((r) => `${r.result.id}|${r.finding.id}` === selected);
        void jumpTo(rows[(i + 1) % rows.length]!);
      } else if ((k === 'a' || k === 'A') && selectedRow && props.canDecide && !locked) void decide(selectedRow, 'accept');
      else if ((k === 'r' || k === 'R') && selectedRow && props.canDecide && !locked) void decide(selectedRow, 'reject');
      else if ((k === 'e' || k === 'E') && selectedRow && props.canDecide && !locked) {
        e.preventDefault();
        setEditing(`${selectedRow.result.id}|${selectedRow.finding.id}`);
      }
      else if (k === 'Escape') props.onBack();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [mpr, series, rows, selected, selectedRow, jumpTo, decide, locked, props]);

  if (!bundle) return <div className="pad">{error ?? t('loading')}</div>;
  const s = bundle.study;
  return (
    <div className="viewer">
      <div className="toolbar">
        <button onClick={props.onBack} title="Esc">← {t('back')}</button>
        <span className="patient"><b>{String(s['PatientName'] ?? '')}</b> {String(s['PatientID'] ?? '')} · {String(s['StudyDate'] ?? '')} · {String(s['StudyDescription'] ?? '')}</span>
        {bundle.triage.critical && <span className="crit" title={bundle.triage.reasons.join(', ')}>{t('critical')}: {bundle.triage.reasons.join(', ')}</span>}
        <span className="sep" />
        {PRESETS.map((p, i) => <button key={p.key} className={preset === p.key ? 'on' : ''} onClick={() => setPreset(p.key)} title={String(i + 1)}>{t(p.key)}</button>)}
        <button className={showMask ? 'on' : ''} onClick={() => setShowMask((v) => !v)} title="O" data-testid="toggle-overlay">{t('overlay')}</button>
        <button className={mpr ? 'on' : ''} onClick={() => setMpr((v) => !v)} title="M">{t('mpr')}</button>
        <button className={lengthOn ? 'on' : ''} onClick={() => setLengthOn((v) => !v)} title="L">{t('length')}</button>
        <select value={priorUid} onChange={(e) => setPriorUid(e.target.value)} disabled={mpr} aria-label={t('prior')}>
          <option value="">{bundle.priors.length ? t('prior') : t('noPrior')}</option>
          {bundle.priors.map((p) => <option key={p.studyInstanceUid} value={p.studyInstanceUid}>{p.studyDate} {p.studyDescription}</option>)}
        </select>
      </div>
      {error && <div className="error">{t('error')}: {error}</div>}
      <div className="main">
        <div className={`grid n${allIds.length}`}>
          {allIds.map((id) => (
            <div key={id} className="cell">
              <div className="vp" data-testid={id} ref={(el) => { elements.current[id] = el; }} onContextMenu={(e) => e.preventDefault()} />
              <canvas className="ov" data-testid={`${id}-overlay`} ref={(el) => { overlays.current[id] = el; }} />
              <div className="corner">{id === PRIOR_ID ? t('prior') : id === VIEW_IDS[0] && !mpr && series && !series.preview ? `${t('slice')} ${index + 1}/${series.imageIds.length}` : ''}</div>
            </div>
          ))}
        </div>
        <aside className="side">
          <h3>{t('findings')} <small>{t('assistive')}</small></h3>
          {rows.length === 0 && <p>{t('noFindings')}</p>}
          <ul className="findings">
            {rows.map((row) => {
              const key = `${row.result.id}|${row.finding.id}`;
              const d = decisions.get(key);
              return (
                <li key={key} className={`${selected === key ? 'sel' : ''} ${d?.decision ?? 'open'}`} data-testid={`finding-${row.finding.id}`} data-decision={d?.decision ?? ''}>
                  <div className="ftitle" onClick={() => void jumpTo(row)}>
                    <b>{row.finding.id}</b> {String(d?.edit?.kind ?? row.finding['type'] ?? row.finding.kind)} · {t('probability')} {(row.finding.probability * 100).toFixed(0)}%
                    <span className="badge">{d ? t(d.decision === 'accept' ? 'accepted' : d.decision === 'reject' ? 'rejected' : 'edited') : t('undecided')}</span>
                  </div>
                  <div className="meas" data-testid={`meas-${row.finding.id}`}>{measurementsOf(row.finding).filter(([k]) => k !== 'priorVolumeMm3' && k !== 'vdtDays').slice(0, 6).map(([k, v]) => `${k} ${d?.edit?.measurements?.[k] ?? Number(v.toFixed(2))}`).join(' · ')}</div>
                  {pairStatus(row.finding) && (
                    <div className="pair" data-testid={`pair-${row.finding.id}`} data-status={pairStatus(row.finding) ?? ''}>
                      <span className={`pstatus ${pairStatus(row.finding) ?? ''}`}>{t(pairStatus(row.finding) ?? 'new')}</span>
                      {typeof row.finding['priorVolumeMm3'] === 'number' && <> · {t('priorVolume')} {Number(row.finding['priorVolumeMm3']).toFixed(0)} mm³</>}
                      {typeof row.finding['vdtDays'] === 'number' && <> · {t('vdt')} {Number(row.finding['vdtDays']).toFixed(0)} {t('days')}</>}
                    </div>
                  )}
                  {row.finding.reasons && <details><summary>{t('why')}</summary><ul>{row.finding.reasons.map((r) => <li key={r}>{r}</li>)}</ul></details>}
                  <small className="prov">{row.result.analysisId} {row.result.analysisVersion}</small>
                  {props.canDecide && !locked && (
                    <div className="actions">
                      <button data-testid={`accept-${row.finding.id}`} onClick={() => void decide(row, 'accept')}>{t('accept')}</button>
                      <button data-testid={`reject-${row.finding.id}`} onClick={() => void decide(row, 'reject')}>{t('reject')}</button>
                      <button data-testid={`edit-${row.finding.id}`} title="E" onClick={() => setEditing(editing === key ? null : key)}>{t('edit')}</button>
                    </div>
                  )}
                  {editing === key && <EditForm row={row} t={t} onSave={(edit) => { setEditing(null); void decide(row, 'edit', edit); }} />}
                </li>
              );
            })}
          </ul>
          {midline?.shiftMm !== null && midline && <p className="mls">{t('midline')}: {midline.shiftMm?.toFixed(1)} mm</p>}
          <ReportPanel studyUid={studyUid} report={bundle.report} t={t} canSign={props.canDecide} onChange={reload} onError={setError} />
          <p className="keys">{t('shortcuts')}</p>
        </aside>
      </div>
    </div>
  );
}

function EditForm(props: { row: FindingRow; t: T; onSave: (edit: { kind?: string; measurements?: Record<string, number> }) => void }) {
  const ms = measurementsOf(props.row.finding).slice(0, 4);
  const [kind, setKind] = useState(String(props.row.finding['type'] ?? props.row.finding.kind));
  const [vals, setVals] = useState<Record<string, string>>(Object.fromEntries(ms.map(([k, v]) => [k, String(v)])));
  return (
    <form className="edit" onSubmit={(e) => {
      e.preventDefault();
      const measurements: Record<string, number> = {};
      for (const [k, v] of Object.entries(vals)) if (v !== '' && Number.isFinite(Number(v))) measurements[k] = Number(v);
      props.onSave({ kind, measurements });
    }}>
      <label>{props.t('kind')} <input data-testid="edit-kind" value={kind} onChange={(e) => setKind(e.target.value)} autoFocus /></label>
      {ms.map(([k]) => <label key={k}>{k} <input data-testid={`edit-m-${k}`} inputMode="decimal" value={vals[k] ?? ''} onChange={(e) => setVals({ ...vals, [k]: e.target.value })} /></label>)}
      <button type="submit" data-testid="edit-save">{props.t('save')}</button>
    </form>
  );
}
