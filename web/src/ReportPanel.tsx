import { useEffect, useRef, useState } from 'react';
import { post } from './api.ts';
import type { ReportDraft } from './api.ts';
import type { Key } from './i18n.ts';

export function ReportPanel(props: { studyUid: string; report: ReportDraft; t: (k: Key) => string; canSign: boolean; onChange: () => Promise<void>; onError: (m: string) => void }) {
  const { report: r, t } = props;
  const [text, setText] = useState(r.impression);
  useEffect(() => setText(r.impression), [r.impression]);
  const signed = r.status === 'signed';
  const run = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      await props.onChange();
    } catch (e) {
      props.onError(e instanceof Error ? e.message : String(e));
    }
  };
  const save = () => post(`/review/studies/${props.studyUid}/impression`, { impression: text });
  const canSignNow = !signed && props.canSign && r.undecided.length === 0;
  const sign = () => run(async () => {
    await save();
    await post(`/review/studies/${props.studyUid}/sign`);
  });
  const signRef = useRef(sign);
  signRef.current = sign;
  useEffect(() => {
    if (!canSignNow) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        void signRef.current();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [canSignNow]);
  return (
    <section className={`report ${signed ? 'signed' : 'draft'}`} data-testid="report" data-status={r.status}>
      <h3>{t('report')} {signed ? <span className="ok">{t('signed')}</span> : <span className="warn">{t('draftBanner')}</span>}</h3>
      <ol className="accepted">{r.accepted.map((f) => (
        <li key={`${f.resultId}|${f.findingId}`} data-testid={`report-${f.findingId}`}>{f.kind} ({f.findingId}){f.decision === 'edit' ? ` — ${t('edited')}` : ''}
          <small className="muted"> {Object.entries(f.measurements).filter(([, v]) => typeof v === 'number').slice(0, 4).map(([k, v]) => `${k} ${Number(Number(v).toFixed(2))}`).join(' · ')}</small>
        </li>
      ))}</ol>
      {r.rejected.length > 0 && <p className="muted">{t('rejected')}: {r.rejected.map((f) => f.findingId).join(', ')}</p>}
      {r.measurements.length > 0 && (
        <div className="measurements" data-testid="report-measurements">
          <b>{t('measurements')}</b>
          <ul>{r.measurements.map((m) => (
            <li key={m.id} data-testid="report-measurement">{m.label ? `${m.label}: ` : ''}{m.lengthMm.toFixed(1)} mm <small className="muted">{t('by')} {m.username} · {m.createdAt.slice(0, 16).replace('T', ' ')}</small>
              {!signed && props.canSign && <button className="link" onClick={() => void run(() => post(`/review/studies/${props.studyUid}/measurements/${m.id}/delete`))}>{t('remove')}</button>}
            </li>
          ))}</ul>
        </div>
      )}
      <label>{t('impression')}
        <textarea data-testid="impression" value={text} readOnly={signed || !props.canSign} rows={5} onChange={(e) => setText(e.target.value)} placeholder={r.suggestedImpression} />
      </label>
      {!signed && props.canSign && (
        <div className="actions">
          <button onClick={() => setText(r.suggestedImpression)}>{t('useSuggested')}</button>
          <button onClick={() => void run(save)}>{t('saveImpression')}</button>
          <button className="primary" data-testid="sign" disabled={r.undecided.length > 0}
            title={r.undecided.length > 0 ? `${r.undecided.length} ${t('undecidedLeft')}` : 'Ctrl+Enter'}
            onClick={() => void sign()}>{t('sign')}</button>
        </div>
      )}
      {r.undecided.length > 0 && !signed && <p className="warn">{r.undecided.length} {t('undecidedLeft')}</p>}
      {signed && <p data-testid="signed-by">{t('signedBy')} {r.signedBy} · {r.signedAt} · <a href={`/api/v1/review/studies/${props.studyUid}/report.pdf`} target="_blank" rel="noreferrer">{t('pdf')}</a></p>}
      <p className="disclaimer">{r.disclaimer} {r.analyses.map((a) => `${a.id} ${a.version}`).join(', ')}</p>
    </section>
  );
}
