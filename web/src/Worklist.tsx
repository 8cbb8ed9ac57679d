import { useCallback, useEffect, useState } from 'react';
import { api } from './api.ts';
import type { AiStatus, WorklistItem } from './api.ts';
import type { Key } from './i18n.ts';
import { useLiveUpdates, useThrottled } from './live.ts';

/** Studies, critical first; refreshed on live updates (Server-Sent Events; a 3 s poll while the stream is down). */
export function Worklist(props: { t: (k: Key) => string; onOpen: (uid: string) => void }) {
  const { t } = props;
  const [items, setItems] = useState<WorklistItem[]>([]);
  const [q, setQ] = useState('');
  const [critical, setCritical] = useState(false);
  const [status, setStatus] = useState<AiStatus | ''>('');
  const [cursor, setCursor] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const load = useCallback(async () => {
    const p = new URLSearchParams();
    if (q) p.set('q', q);
    if (critical) p.set('critical', 'true');
    if (status) p.set('status', status);
    try {
      setItems((await api<{ items: WorklistItem[] }>(`/review/worklist?${p.toString()}`)).items);
      setError(null);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }, [q, critical, status]);
  useEffect(() => void load(), [load]);
  const reload = useThrottled(() => void load(), 300);
  const live = useLiveUpdates(reload);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.target instanceof HTMLInputElement) return;
      if (e.key === 'ArrowDown' || e.key === 'j') setCursor((c) => Math.min(items.length - 1, c + 1));
      else if (e.key === 'ArrowUp' || e.key === 'k') setCursor((c) => Math.max(0, c - 1));
      else if (e.key === 'Enter' && items[cursor]) props.onOpen(items[cursor].studyInstanceUid);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [items, cursor, props]);
  return (
    <div className="worklist pad">
      <div className="filters">
        <input placeholder={t('search')} value={q} onChange={(e) => setQ(e.target.value)} aria-label={t('search')} />
        <label><input type="checkbox" checked={critical} onChange={(e) => setCritical(e.target.checked)} /> {t('criticalOnly')}</label>
        <select value={status} onChange={(e) => setStatus(e.target.value as AiStatus | '')}>
          <option value="">{t('allStatuses')}</option>
          {(['queued', 'running', 'done', 'failed', 'none'] as const).map((s) => <option key={s} value={s}>{t(s)}</option>)}
        </select>
        <span className={`live ${live}`} data-testid="live-state" title={t(live === 'live' ? 'liveHint' : 'pollingHint')}>{t(live)}</span>
      </div>
      {error && <div className="error">{error}</div>}
      <table data-testid="worklist">
        <thead><tr><th>{t('triage')}</th><th>{t('patient')}</th><th>{t('patientId')}</th><th>{t('studyDate')}</th><th>{t('description')}</th><th>{t('modality')}</th><th>{t('aiStatus')}</th><th>{t('findings')}</th><th>{t('report')}</th></tr></thead>
        <tbody>
          {items.length === 0 && <tr><td colSpan={9}>{t('noStudies')}</td></tr>}
          {items.map((it, i) => (
            <tr key={it.studyInstanceUid} data-testid="worklist-row" data-study={it.studyInstanceUid} data-critical={String(it.triage.critical)}
              className={`${it.triage.critical ? 'critical' : ''} ${i === cursor ? 'cursor' : ''}`} onClick={() => props.onOpen(it.studyInstanceUid)}>
              <td>{it.triage.critical ? <span className="crit" title={it.triage.reasons.join(', ')}>{t('critical')}</span> : <span className="muted">{t('routine')}</span>}
                {it.triage.reasons.length > 0 && <small> {it.triage.reasons.join(', ')}</small>}</td>
              <td>{it.patientName}</td><td>{it.patientId}</td><td>{it.studyDate}</td><td>{it.studyDescription}</td><td>{it.modalities}</td>
              <td data-testid="ai-status">{t(it.ai.status)}{it.ai.status === 'running' && it.ai.progress !== null && <progress max={1} value={it.ai.progress} />}</td>
              <td>{it.findings}</td><td>{it.report === 'none' ? '' : t(it.report)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
