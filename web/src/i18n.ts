/** UI strings, English and Chinese. Keys are stable; add a key to both tables. */
export type Lang = 'en' | 'zh';

const en = {
  appName: 'SecondReader', assistive: 'AI-assisted; requires physician confirmation', signIn: 'Sign in', signOut: 'Sign out', username: 'Username', password: 'Password',
  mustChange: 'This password was for one use only: choose your own password to continue.', currentPassword: 'Current password',
  newPassword: 'New password', repeatPassword: 'Repeat new password', passwordsDiffer: 'The new passwords differ', changePassword: 'Change password',
  changeFailed: 'Password change failed',
  loginFailed: 'Sign-in failed', worklist: 'Worklist', search: 'Search name, ID, accession…', criticalOnly: 'Critical only', allStatuses: 'All AI statuses',
  patient: 'Patient', patientId: 'ID', studyDate: 'Date', description: 'Description', modality: 'Mod.', aiStatus: 'AI', triage: 'Triage', findings: 'Findings', report: 'Report',
  critical: 'CRITICAL', routine: 'routine', none: '—', queued: 'queued', running: 'running', done: 'done', failed: 'failed', draft: 'draft', signed: 'signed',
  noStudies: 'No studies', back: 'Worklist', presets: 'Window', overlay: 'AI overlay', mpr: 'MPR', length: 'Length', reset: 'Reset',
  accept: 'Accept', reject: 'Reject', edit: 'Edit', save: 'Save', cancel: 'Cancel', accepted: 'accepted', rejected: 'rejected', edited: 'edited', undecided: 'undecided',
  why: 'Why flagged', probability: 'Probability', impression: 'Impression', useSuggested: 'Use AI draft', saveImpression: 'Save impression', sign: 'Sign report',
  signedBy: 'Signed by', draftBanner: 'DRAFT — not signed', pdf: 'PDF', undecidedLeft: 'finding(s) still need a decision', prior: 'Prior', noPrior: 'No prior',
  slice: 'Slice', loading: 'Loading…', noFindings: 'No AI findings', midline: 'Midline shift', kind: 'Type', shortcuts: 'Keys: ↑↓ scroll · 1-5 window · O overlay · M MPR · L length · N next finding · A accept · R reject · E edit · Ctrl+Enter sign · Esc worklist',
  lungRads: 'Lung-RADS', stats: 'Rejected-finding statistics', site: 'Site', analysis: 'Analysis', decided: 'Decided', rate: 'Rejection rate', refresh: 'Refresh',
  lung: 'Lung', mediastinum: 'Mediastinum', brain: 'Brain', bone: 'Bone', subdural: 'Subdural', noAuth: 'This server has no sign-in configured', error: 'Error',
  live: '● live', polling: '○ polling', liveHint: 'Updates arrive as they happen', pollingHint: 'Live updates unavailable: refreshing every 3 s',
  new: 'new', stable: 'stable', grown: 'grown', shrunk: 'shrunk', resolved: 'resolved', priorVolume: 'prior volume', vdt: 'VDT', days: 'd',
  measurements: 'Measurements', remove: 'Remove', by: 'by',
};
export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  appName: 'SecondReader 辅助阅片', assistive: 'AI 辅助结果；需医师确认', signIn: '登录', signOut: '退出', username: '用户名', password: '密码',
  mustChange: '此密码仅可使用一次：请设置您自己的密码后继续。', currentPassword: '当前密码',
  newPassword: '新密码', repeatPassword: '再次输入新密码', passwordsDiffer: '两次输入的新密码不一致', changePassword: '修改密码',
  changeFailed: '修改密码失败',
  loginFailed: '登录失败', worklist: '工作列表', search: '搜索姓名、ID、检查号…', criticalOnly: '仅危急', allStatuses: '全部 AI 状态',
  patient: '患者', patientId: 'ID', studyDate: '日期', description: '描述', modality: '设备', aiStatus: 'AI', triage: '分诊', findings: '发现', report: '报告',
  critical: '危急', routine: '常规', none: '—', queued: '排队', running: '分析中', done: '完成', failed: '失败', draft: '草稿', signed: '已签发',
  noStudies: '没有检查', back: '工作列表', presets: '窗宽窗位', overlay: 'AI 标注', mpr: '多平面重建', length: '测距', reset: '复位',
  accept: '接受', reject: '拒绝', edit: '修改', save: '保存', cancel: '取消', accepted: '已接受', rejected: '已拒绝', edited: '已修改', undecided: '未处理',
  why: '标记理由', probability: '概率', impression: '印象', useSuggested: '使用 AI 草稿', saveImpression: '保存印象', sign: '签发报告',
  signedBy: '签发人', draftBanner: '草稿 — 尚未签发', pdf: 'PDF', undecidedLeft: '个发现尚未处理', prior: '既往检查', noPrior: '无既往检查',
  slice: '层面', loading: '加载中…', noFindings: '无 AI 发现', midline: '中线移位', kind: '类型', shortcuts: '快捷键：↑↓ 翻层 · 1-5 窗宽 · O 标注 · M 重建 · L 测距 · N 下一发现 · A 接受 · R 拒绝 · E 修改 · Ctrl+Enter 签发 · Esc 返回',
  lungRads: 'Lung-RADS', stats: '被拒绝发现统计', site: '站点', analysis: '分析', decided: '已处理', rate: '拒绝率', refresh: '刷新',
  lung: '肺窗', mediastinum: '纵隔窗', brain: '脑窗', bone: '骨窗', subdural: '硬膜下窗', noAuth: '此服务器未配置登录', error: '错误',
  live: '● 实时', polling: '○ 轮询', liveHint: '更新即时推送', pollingHint: '实时更新不可用：每 3 秒刷新',
  new: '新发', stable: '稳定', grown: '增大', shrunk: '缩小', resolved: '消失', priorVolume: '既往体积', vdt: '倍增时间', days: '天',
  measurements: '测量', remove: '删除', by: '测量者',
};

const TABLES: Record<Lang, Record<Key, string>> = { en, zh };

export function initialLang(): Lang {
  const saved = localStorage.getItem('sr.lang');
  if (saved === 'en' || saved === 'zh') return saved;
  return navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

export function translator(lang: Lang): (k: Key) => string {
  const table = TABLES[lang];
  return (k) => table[k];
}
