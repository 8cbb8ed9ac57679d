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
      <ol className="accepted">{r.accepted.map((f) => <li key={`${f.resultId}|${f.findingId}`}>{f.kind} ({f.findingId}){f.decision === 'edit' ? ` — ${t('edited')}` : ''}</li>)}</ol>
      {r.rejected.length > 0 && <p className="muted">{t('rejected')}: {r.rejected.map((f) => f.findingId).join(', ')}</p>}
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
