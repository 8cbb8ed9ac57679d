import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { cache, Enums, setVolumesForViewports } from '@cornerstonejs/core';
import type { Types } from '@cornerstonejs/core';
import { api, post } from './api.ts';
import type { Decision, Finding, ResultView, StudyBundle } from './api.ts';
import type { Key } from './i18n.ts';
import {
  createVolume, ENGINE_ID, initImaging, maybeEngine, prefetchStack, loadLabelVoxels, loadSeries, nearestIndex, PRESETS, renderingEngine, setLengthTool, toolGroup, voiRange,
} from './imaging.ts';
import type { LabelVoxels, LoadedSeries, PresetKey, Vec3 } from './imaging.ts';
import { drawOverlay } from './overlay.ts';
import type { Midline } from './overlay.ts';
import { ReportPanel } from './ReportPanel.tsx';

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

  const reload = useCallback(async () => {
    try {
      setBundle(await api<StudyBundle>(`/review/studies/${studyUid}`));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [studyUid]);
  useEffect(() => void reload(), [reload]);

  const rows: FindingRow[] = useMemo(() => (bundle?.results ?? []).flatMap((r) => (r.document.findings ?? []).map((finding) => ({ result: r, finding }))), [bundle]);
  const decisions = useMemo(() => new Map((bundle?.decisions ?? []).map((d: Decision) => [`${d.resultId}|${d.findingId}`, d])), [bundle]);
  const midline = useMemo(() => midlineOf(bundle?.results ?? []), [bundle]);
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
    void (async () => {
      await initImaging();
      const s = await loadSeries(studyUid, uid);
      if (cancelled) return;
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
        drawOverlay(canvas, vp, { voxels: [], findings: [], midline: null, slab: 1, showMask: false });
        continue;
      }
      drawOverlay(canvas, vp, {
        voxels, showMask, midline, slab: (series?.sliceSpacing ?? 1) / 2 + 0.01,
        findings: rows.map(({ result, finding }) => ({ id: finding.id, centerMm: finding.centerMm, selected: selected === `${result.id}|${finding.id}`, decision: decisions.get(`${result.id}|${finding.id}`)?.decision ?? null })),
      });
    }
  }, [allIds.join(), voxels, showMask, midline, series, rows, selected, decisions]);
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
    void (async () => {
      const inputs = allIds.map((id, i) => ({
        viewportId: id, element: elements.current[id] as HTMLDivElement,
        type: mpr ? Enums.ViewportType.ORTHOGRAPHIC : Enums.ViewportType.STACK,
        defaultOptions: { background: [0, 0, 0] as Types.Point3, ...(mpr ? { orientation: [Enums.OrientationAxis.AXIAL, Enums.OrientationAxis.CORONAL, Enums.OrientationAxis.SAGITTAL][i] } : {}) },
      }));
      if (inputs.some((x) => !x.element)) return;
      engine.setViewports(inputs);
      for (const id of allIds) tg.addViewport(id, ENGINE_ID);
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
        vp.setProperties({ voiRange: voi });
        const mainEl = elements.current[VIEW_IDS[0]];
        if (mainEl) prefetchStack(mainEl);
        if (prior) {
          const pv = engine.getViewport(PRIOR_ID) as Types.IStackViewport;
          await pv.setStack(prior.imageIds, nearestIndex(prior, series.normal.map((x) => x * (series.positions[index] ?? 0))));
          pv.setProperties({ voiRange: voi });
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
      const main = elements.current[VIEW_IDS[0]];
      if (main && !mpr) {
        const onNew: EventListener = (ev) => {
          const i = (ev as CustomEvent<{ imageIdIndex: number }>).detail.imageIdIndex;
          setIndex(i);
          if (prior) {
            // Linked scrolling by slice position (same frame of reference assumed until registration lands).
            const pv = engine.getViewport(PRIOR_ID) as Types.IStackViewport | undefined;
            const z = series.positions[i] ?? 0;
            const j = nearestIndex(prior, series.normal.map((x) => x * z));
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
      document.body.dataset['viewerReady'] = 'false';
      for (const [el, type, fn] of listeners) el.removeEventListener(type, fn);
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
      const uid = pickSeries(b);
      if (uid) setPrior(await loadSeries(priorUid, uid));
    })().catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  }, [priorUid]);

  const jumpTo = useCallback(async (row: FindingRow) => {
    setSelected(`${row.result.id}|${row.finding.id}`);
    const engine = maybeEngine();
    if (!engine) return;
    const c = row.finding.centerMm;
    if (!mpr && series) {
      const vp = engine.getViewport(VIEW_IDS[0]) as Types.IStackViewport | undefined;
      await vp?.setImageIdIndex(nearestIndex(series, c));
    }
    for (const id of mpr ? [...VIEW_IDS] : [VIEW_IDS[0]]) {
      const vp = engine.getViewport(id) as AnyViewport | undefined;
      if (!vp) continue;
      const cam = vp.getCamera();
      const fp = cam.focalPoint ?? [0, 0, 0];
      const pos = cam.position ?? [0, 0, 0];
      const n = cam.viewPlaneNormal ?? [0, 0, 1];
      let d: number[] = [c[0] - fp[0], c[1] - fp[1], c[2] - fp[2]];
      if (!mpr) {
        // Stack: the image was changed above; pan in-plane so the finding is centred.
        const along = d[0]! * n[0] + d[1]! * n[1] + d[2]! * n[2];
        d = d.map((x, i) => x - along * (n[i] ?? 0));
      }
      vp.setCamera({ focalPoint: [fp[0] + d[0]!, fp[1] + d[1]!, fp[2] + d[2]!], position: [pos[0] + d[0]!, pos[1] + d[1]!, pos[2] + d[2]!] });
      vp.render();
    }
  }, [mpr, series]);

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
              <div className="corner">{id === PRIOR_ID ? t('prior') : id === VIEW_IDS[0] && !mpr && series ? `${t('slice')} ${index + 1}/${series.imageIds.length}` : ''}</div>
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
                  <div className="meas">{measurementsOf(row.finding).slice(0, 6).map(([k, v]) => `${k} ${d?.edit?.measurements?.[k] ?? Number(v.toFixed(2))}`).join(' · ')}</div>
                  {row.finding.reasons && <details><summary>{t('why')}</summary><ul>{row.finding.reasons.map((r) => <li key={r}>{r}</li>)}</ul></details>}
                  <small className="prov">{row.result.analysisId} {row.result.analysisVersion}</small>
                  {props.canDecide && !locked && (
                    <div className="actions">
                      <button data-testid={`accept-${row.finding.id}`} onClick={() => void decide(row, 'accept')}>{t('accept')}</button>
                      <button data-testid={`reject-${row.finding.id}`} onClick={() => void decide(row, 'reject')}>{t('reject')}</button>
                      <button onClick={() => setEditing(editing === key ? null : key)}>{t('edit')}</button>
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
      <label>{props.t('kind')} <input value={kind} onChange={(e) => setKind(e.target.value)} /></label>
      {ms.map(([k]) => <label key={k}>{k} <input value={vals[k] ?? ''} onChange={(e) => setVals({ ...vals, [k]: e.target.value })} /></label>)}
      <button type="submit">{props.t('save')}</button>
    </form>
  );
}
