import { useCallback, useEffect, useState } from 'react';
import { api, ApiError, post } from './api.ts';
import type { User } from './api.ts';
import { initialLang, translator } from './i18n.ts';
import type { Lang } from './i18n.ts';
import { Stats } from './Stats.tsx';
import { Viewer } from './Viewer.tsx';
import { Worklist } from './Worklist.tsx';

/** Routes: #/ = worklist, #/study/<uid> = viewer. Hash routing keeps the server's SPA fallback trivial. */
function route(): { study: string | null; stats: boolean } {
  const m = /^#\/study\/([0-9.]+)/.exec(location.hash);
  return { study: m?.[1] ?? null, stats: location.hash.startsWith('#/stats') };
}

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang());
  const t = translator(lang);
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [where, setWhere] = useState(route());
  useEffect(() => {
    const on = () => setWhere(route());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    localStorage.setItem('sr.lang', lang);
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
  }, [lang]);
  useEffect(() => {
    api<{ user?: User } & Partial<User>>('/auth/me')
      .then((me) => setUser(me.user ?? { username: me.username ?? '', role: me.role ?? '' }))
      .catch(() => setUser(null));
  }, []);
  const logout = useCallback(async () => {
    await post('/auth/logout').catch(() => undefined);
    setUser(null);
  }, []);
  if (user === undefined) return <div className="pad">{t('loading')}</div>;
  return (
    <div className="app">
      <header>
        <b className="brand" onClick={() => (location.hash = '#/')}>{t('appName')}</b>
        <span className="assistive">{t('assistive')}</span>
        <span className="sep" />
        <button onClick={() => setLang(lang === 'en' ? 'zh' : 'en')} data-testid="lang">{lang === 'en' ? '中文' : 'English'}</button>
        {user?.role === 'admin' && <button onClick={() => (location.hash = '#/stats')}>{t('stats')}</button>}
        {user && <span className="user">{user.username} ({user.role})</span>}
        {user && <button onClick={() => void logout()}>{t('signOut')}</button>}
      </header>
      {!user ? <Login t={t} onLogin={setUser} />
        : where.stats ? <Stats t={t} />
        : where.study ? <Viewer key={where.study} studyUid={where.study} t={t} canDecide={user.role === 'radiologist'} onBack={() => (location.hash = '#/')} />
          : <Worklist t={t} onOpen={(uid) => (location.hash = `#/study/${uid}`)} />}
    </div>
  );
}

function Login(props: { t: ReturnType<typeof translator>; onLogin: (u: User) => void }) {
  const { t } = props;
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form className="login" onSubmit={(e) => {
      e.preventDefault();
      post<{ user: User }>('/auth/login', { username, password })
        .then((r) => props.onLogin(r.user))
        .catch((err: unknown) => setError(err instanceof ApiError && err.status === 404 ? t('noAuth') : `${t('loginFailed')}${err instanceof Error ? `: ${err.message}` : ''}`));
    }}>
      <h2>{t('signIn')}</h2>
      <input name="username" autoComplete="username" placeholder={t('username')} value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
      <input name="password" type="password" autoComplete="current-password" placeholder={t('password')} value={password} onChange={(e) => setPassword(e.target.value)} />
      <button type="submit" className="primary">{t('signIn')}</button>
      {error && <div className="error" data-testid="login-error">{error}</div>}
    </form>
  );
}
