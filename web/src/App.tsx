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
      .then((me) => setUser(me.user ?? { username: me.username ?? '', role: me.role ?? '', mustChangePassword: me.mustChangePassword === true }))
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
        : user.mustChangePassword ? <ChangePassword t={t} onChanged={setUser} />
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

/** First sign-in with a one-time (or admin-set) password: the server opens nothing else until it is changed. */
function ChangePassword(props: { t: ReturnType<typeof translator>; onChanged: (u: User) => void }) {
  const { t } = props;
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState<string | null>(null);
  return (
    <form className="login" data-testid="change-password" onSubmit={(e) => {
      e.preventDefault();
      if (next !== repeat) {
        setError(t('passwordsDiffer'));
        return;
      }
      post<User>('/auth/password', { currentPassword: current, newPassword: next })
        .then((u) => props.onChanged({ ...u, mustChangePassword: false }))
        .catch((err: unknown) => setError(`${t('changeFailed')}${err instanceof Error ? `: ${err.message}` : ''}`));
    }}>
      <h2>{t('changePassword')}</h2>
      <p>{t('mustChange')}</p>
      <input name="currentPassword" type="password" autoComplete="current-password" placeholder={t('currentPassword')} value={current} onChange={(e) => setCurrent(e.target.value)} autoFocus />
      <input name="newPassword" type="password" autoComplete="new-password" placeholder={t('newPassword')} value={next} onChange={(e) => setNext(e.target.value)} />
      <input name="repeatPassword" type="password" autoComplete="new-password" placeholder={t('repeatPassword')} value={repeat} onChange={(e) => setRepeat(e.target.value)} />
      <button type="submit" className="primary">{t('changePassword')}</button>
      {error && <div className="error" data-testid="change-error">{error}</div>}
    </form>
  );
}
