import { useEffect, useState } from 'react';
import { api } from './api.ts';
import type { Key } from './i18n.ts';

interface Row { site: string; analysisId: string; decided: number; accepted: number; rejected: number; edited: number; rejectionRate: number }

/** Admin: per site and analysis, how many AI findings radiologists rejected (the false-positive feedback loop). */
export function Stats(props: { t: (k: Key) => string }) {
  const { t } = props;
  const [rows, setRows] = useState<Row[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api<{ items: Row[] }>('/review/stats/rejections').then((r) => setRows(r.items)).catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  useEffect(() => void load(), []);
  return (
    <div className="pad">
      <h2>{t('stats')} <button onClick={() => void load()}>{t('refresh')}</button></h2>
      {error && <div className="error">{error}</div>}
      <table data-testid="stats">
        <thead><tr><th>{t('site')}</th><th>{t('analysis')}</th><th>{t('decided')}</th><th>{t('accepted')}</th><th>{t('rejected')}</th><th>{t('edited')}</th><th>{t('rate')}</th></tr></thead>
        <tbody>{(rows ?? []).map((r) => (
          <tr key={`${r.site}|${r.analysisId}`}><td>{r.site}</td><td>{r.analysisId}</td><td>{r.decided}</td><td>{r.accepted}</td><td>{r.rejected}</td><td>{r.edited}</td><td>{(r.rejectionRate * 100).toFixed(1)}%</td></tr>
        ))}</tbody>
      </table>
    </div>
  );
}
