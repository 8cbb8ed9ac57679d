/**
 * ClinicalReport → one self-contained HTML page (key images inline as data: URIs, CSS inline, no script), for the
 * screen and for print (A4, @page margins; chromium turns it into the PDF). Every text that comes from a study or a
 * user goes through `esc()`: DICOM strings are attacker-controlled as far as a browser is concerned.
 */
import type { ClinicalReport, ImpressionItem, MeasurementValue, Recommendation, ReportFinding, ReportMeasurement } from './clinical-report.ts';
import { t, tMaybe } from './i18n.ts';
import type { ReportLanguage } from './i18n.ts';

export interface RenderHtmlOptions {
  readonly lang: ReportLanguage;
}

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML text and attribute escaping (the five characters with meaning in either context). */
export function esc(v: unknown): string {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

/** Only our own PNG data URIs go into src attributes; anything else is dropped. */
function safeImageUri(uri: string): string | undefined {
  return /^data:image\/png;base64,[A-Za-z0-9+/=]+$/.test(uri) ? uri : undefined;
}

/** Lung-RADS v2022 management (same table as src/clinical/lung-rads.ts managementFor), in Chinese. */
const LUNG_RADS_MANAGEMENT_ZH: Readonly<Record<string, string>> = {
  '12-month screening LDCT': '12个月后低剂量CT筛查',
  '6-month LDCT': '6个月后低剂量CT复查',
  '3-month LDCT': '3个月后低剂量CT复查',
  '1–3 month LDCT': '1–3个月后低剂量CT复查',
  '3-month LDCT; PET/CT may be considered if there is a ≥ 8 mm (≥ 268 mm³) solid nodule or solid component':
    '3个月后低剂量CT复查；如实性结节或实性成分 ≥ 8 mm（≥ 268 mm³），可考虑PET/CT',
  'Diagnostic chest CT with or without contrast; PET/CT may be considered if there is a ≥ 8 mm (≥ 268 mm³) solid nodule or solid component; tissue sampling; and/or referral for further clinical evaluation. Management depends on clinical evaluation, patient preference, and risk of malignancy':
    '诊断性胸部CT（平扫或增强）；如实性结节或实性成分 ≥ 8 mm（≥ 268 mm³），可考虑PET/CT；组织取样；和/或转诊作进一步临床评估。处理取决于临床评估、患者意愿及恶性风险',
};

/** Fleischner 2017 Table 1 texts (same strings as src/clinical/fleischner.ts), in Chinese. */
const FLEISCHNER_ZH: Readonly<Record<string, string>> = {
  'No routine follow-up': '无需常规随访',
  'Optional CT at 12 months': '可选：12个月时CT复查',
  'CT at 6–12 months, then consider CT at 18–24 months': '6–12个月CT复查，之后考虑18–24个月CT复查',
  'CT at 6–12 months, then CT at 18–24 months': '6–12个月CT复查，之后18–24个月CT复查',
  'Consider CT at 3 months, PET/CT, or tissue sampling': '考虑3个月CT复查、PET/CT或组织取样',
  'CT at 3–6 months, then consider CT at 18–24 months': '3–6个月CT复查，之后考虑18–24个月CT复查',
  'CT at 3–6 months, then at 18–24 months': '3–6个月CT复查，之后18–24个月CT复查',
  'CT at 6–12 months to confirm persistence, then CT every 2 years until 5 years': '6–12个月CT复查以确认持续存在，之后每2年CT复查直至5年',
  'CT at 3–6 months to confirm persistence. If unchanged and solid component remains < 6 mm, annual CT should be performed for 5 years':
    '3–6个月CT复查以确认持续存在。如无变化且实性成分仍 < 6 mm，应每年CT复查，共5年',
  'CT at 3–6 months. If stable, consider CT at 2 and 4 years': '3–6个月CT复查。如稳定，考虑第2年和第4年CT复查',
  'CT at 3–6 months. Subsequent management based on the most suspicious nodule(s)': '3–6个月CT复查。后续处理依据最可疑的结节',
};

function fmtNumber(v: number): string {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, '') || '0';
}

function fmtValue(lang: ReportLanguage, v: MeasurementValue | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return fmtNumber(v);
  if (typeof v === 'boolean') return tMaybe(lang, `v.${String(v)}`) ?? String(v);
  return tMaybe(lang, `v.${v}`) ?? v;
}

function measurementLabel(lang: ReportLanguage, key: string): string {
  return tMaybe(lang, `m.${key}`) ?? key;
}

function measurementHtml(lang: ReportLanguage, m: ReportMeasurement): string {
  const value = `${esc(fmtValue(lang, m.value))}${m.unit ? ` ${esc(m.unit)}` : ''}`;
  const edited = m.aiValue !== undefined ? ` <span class="edited">(${esc(t(lang, 'edited'))}; ${esc(t(lang, 'wasValue'))} ${esc(fmtValue(lang, m.aiValue))})</span>` : '';
  return `<tr><th>${esc(measurementLabel(lang, m.key))}</th><td>${value}${edited}</td></tr>`;
}

function dicomDate(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(d.trim());
  return m ? `${m[1]}-${m[2]}-${m[3]}` : d;
}

function dicomTime(tm: string | undefined): string | undefined {
  const m = tm ? /^(\d{2})(\d{2})(\d{2})?/.exec(tm.trim()) : null;
  return m ? `${m[1]}:${m[2]}${m[3] ? `:${m[3]}` : ''}` : tm;
}

function personName(pn: string | undefined): string | undefined {
  return pn?.replace(/\^+/g, ' ').trim() || undefined;
}

function field(label: string, value: string | undefined): string {
  return `<div class="field"><span class="label">${esc(label)}</span><span class="value">${esc(value ?? '—')}</span></div>`;
}

function impressionItemHtml(lang: ReportLanguage, i: ImpressionItem): string {
  switch (i.kind) {
    case 'lung-rads':
      return `<li><strong>${esc(t(lang, 'lungRads'))} ${esc(i.category)}</strong>${i.drivingFindingId ? ` — ${esc(t(lang, 'drivingNodule'))} ${esc(i.drivingFindingId)}` : ''}; ${esc(t(lang, 'malignancyProbability'))} ${esc(i.malignancy)} <span class="muted">(${esc(i.analysisId)})</span></li>`;
    case 'triage': {
      const extra = [
        i.volumeMl !== null ? `${t(lang, 'm.hemorrhageVolumeMl')} ${fmtNumber(i.volumeMl)} mL` : undefined,
        i.midlineShiftMm !== null ? `${t(lang, 'm.midlineShiftMm')} ${fmtNumber(i.midlineShiftMm)} mm` : undefined,
      ].filter((x): x is string => x !== undefined);
      return `<li class="${i.priority === 'critical' ? 'critical' : ''}"><strong>${esc(t(lang, 'triage'))}: ${esc(t(lang, i.priority === 'critical' ? 'triageCritical' : 'triageRoutine'))}</strong>${extra.length ? `; ${esc(extra.join('; '))}` : ''} <span class="muted">(${esc(i.analysisId)})</span></li>`;
    }
    case 'findings':
      return `<li>${i.count === 0 ? esc(t(lang, 'noFindings')) : `${esc(t(lang, 'findings'))}: ${i.count}`} <span class="muted">(${esc(i.analysisId)})</span></li>`;
    case 'skipped':
      return `<li class="muted">${esc(i.analysisId)}: ${esc(t(lang, 'analysisSkipped'))} — ${esc(i.reason)}</li>`;
  }
}

function findingHtml(lang: ReportLanguage, f: ReportFinding): string {
  const img = f.keyImage ? safeImageUri(f.keyImage) : undefined;
  const kind = tMaybe(lang, `kind.${f.kind}`) ?? f.kind;
  const rows = [
    f.type !== undefined ? `<tr><th>${esc(t(lang, 'type'))}</th><td>${esc(fmtValue(lang, f.type))}${f.aiType !== undefined ? ` <span class="edited">(${esc(t(lang, 'edited'))}; ${esc(t(lang, 'wasValue'))} ${esc(fmtValue(lang, f.aiType))})</span>` : ''}</td></tr>` : '',
    f.location.length ? `<tr><th>${esc(t(lang, 'location'))}</th><td>${esc(f.location.map((l) => fmtValue(lang, l)).join(lang === 'zh' ? '，' : ', '))}</td></tr>` : '',
    ...f.measurements.map((m) => measurementHtml(lang, m)),
    f.lungRads !== undefined ? `<tr><th>${esc(t(lang, 'lungRads'))}</th><td><strong>${esc(f.lungRads)}</strong></td></tr>` : '',
    f.brockProbability !== undefined ? `<tr><th>${esc(t(lang, 'brock'))}</th><td>${esc((f.brockProbability * 100).toFixed(1))} %</td></tr>` : '',
    `<tr><th>${esc(t(lang, 'probability'))}</th><td>${esc(f.probability.toFixed(2))}</td></tr>`,
    `<tr><th>${esc(t(lang, 'review'))}</th><td>${f.review ? `${esc(t(lang, f.review.decision))} — ${esc(f.review.by)}, ${esc(f.review.at)}${f.review.comment ? `: ${esc(f.review.comment)}` : ''}` : esc(t(lang, 'notReviewed'))}</td></tr>`,
  ].join('');
  return `<div class="finding">
  <div class="key-image">${img ? `<img src="${img}" alt="${esc(t(lang, 'keyImage'))} ${esc(f.findingId)}">` : `<div class="no-image">${esc(t(lang, 'keyImage'))} —</div>`}</div>
  <div class="finding-text"><h3>${esc(f.findingId)} · ${esc(kind)}</h3><table class="kv">${rows}</table></div>
</div>`;
}

function recommendationHtml(lang: ReportLanguage, r: Recommendation): string {
  const name = r.guideline === 'lung-rads-v2022' ? 'Lung-RADS v2022' : 'Fleischner 2017';
  const zh = lang !== 'zh' ? undefined : r.guideline === 'lung-rads-v2022' ? LUNG_RADS_MANAGEMENT_ZH[r.text] : FLEISCHNER_ZH[r.text];
  // The guideline's own (English) words stay beside a translation: the translation is ours, the text is theirs.
  const text = zh ? `${esc(zh)} <span class="muted">(${esc(r.text)})</span>` : esc(r.text);
  const scope = r.guideline === 'fleischner-2017' ? ` <span class="muted">(${esc(t(lang, 'fleischnerScope'))})</span>` : '';
  return `<li><strong>${esc(name)}</strong>${r.findingId ? ` (${esc(r.findingId)})` : ''}: ${text}${scope}${r.applicable ? '' : ' <span class="muted">[n/a]</span>'}<div class="cite">${esc(t(lang, 'source'))}: ${esc(r.citation)}</div></li>`;
}

const CSS = `
@page { size: A4; margin: 14mm 12mm 16mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans", "DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif; font-size: 10.5pt; color: #111; margin: 0; padding: 16px; }
h1 { font-size: 17pt; margin: 0 0 4px; }
h2 { font-size: 12.5pt; border-bottom: 1.5px solid #234; margin: 16px 0 6px; padding-bottom: 2px; color: #123; }
h3 { font-size: 11pt; margin: 0 0 4px; }
.banner { background: #fff4d6; border: 1px solid #d9a400; padding: 6px 8px; font-weight: bold; margin: 6px 0; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 2px 18px; }
.field { display: flex; gap: 6px; } .label { color: #555; min-width: 9em; } .value { font-weight: 600; word-break: break-all; }
.muted { color: #666; font-weight: normal; font-size: 9pt; }
.critical { color: #a00; }
ul { margin: 4px 0; padding-left: 20px; }
.finding { display: flex; gap: 12px; border: 1px solid #ccc; border-radius: 4px; padding: 8px; margin: 8px 0; break-inside: avoid; page-break-inside: avoid; }
.key-image img { width: 200px; height: 200px; image-rendering: pixelated; display: block; background: #000; }
.no-image { width: 200px; height: 200px; display: flex; align-items: center; justify-content: center; background: #eee; color: #777; }
table.kv { border-collapse: collapse; } table.kv th { text-align: left; color: #444; font-weight: normal; padding: 1px 10px 1px 0; vertical-align: top; } table.kv td { padding: 1px 0; }
table.grid-table { border-collapse: collapse; width: 100%; } table.grid-table th, table.grid-table td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; }
.edited { color: #8a4b00; }
.cite { font-size: 8.5pt; color: #555; }
.override { white-space: pre-wrap; font-size: 11pt; border-left: 3px solid #234; padding-left: 8px; }
.watermark { position: fixed; top: 40%; left: 0; right: 0; text-align: center; font-size: 110pt; font-weight: bold; color: rgba(200, 0, 0, 0.12); transform: rotate(-30deg); pointer-events: none; z-index: 10; }
footer { margin-top: 18px; border-top: 1px solid #999; padding-top: 6px; font-size: 9pt; }
@media print { body { padding: 0; } .finding { border-color: #999; } }
`;

/** The report as one HTML document in `lang`. */
export function renderReportHtml(report: ClinicalReport, options: RenderHtmlOptions): string {
  const { lang } = options;
  const p = report.patient;
  const s = report.study;
  const name = [personName(p.name), p.ideographicName?.replace(/\^+/g, '').trim() || undefined].filter((x) => x !== undefined).join(' / ') || undefined;
  const header = `<section><h2>${esc(t(lang, 'patient'))} / ${esc(t(lang, 'study'))}</h2><div class="grid">
${field(t(lang, 'patientName'), name)}${field(t(lang, 'studyDate'), [dicomDate(s.studyDate), dicomTime(s.studyTime)].filter(Boolean).join(' ') || undefined)}
${field(t(lang, 'patientId'), p.id)}${field(t(lang, 'accession'), s.accessionNumber)}
${field(t(lang, 'birthDate'), dicomDate(p.birthDate))}${field(t(lang, 'studyDescription'), s.description)}
${field(`${t(lang, 'sex')} / ${t(lang, 'age')}`, [p.sex, p.age].filter(Boolean).join(' / ') || undefined)}${field(t(lang, 'referringPhysician'), personName(s.referringPhysician))}
${field(t(lang, 'institution'), s.institution)}${field(t(lang, 'studyUid'), s.studyInstanceUid)}
</div></section>`;
  const impression = `<section><h2>${esc(t(lang, 'impression'))}</h2>
${report.impression.override ? `<div class="override"><span class="muted">${esc(t(lang, 'impressionOverride'))}:</span>\n${esc(report.impression.override)}</div>` : ''}
<ul>${report.impression.items.map((i) => impressionItemHtml(lang, i)).join('\n')}</ul></section>`;
  const findings = `<section><h2>${esc(t(lang, 'findings'))}</h2>
${report.findings.length === 0 ? `<p>${esc(t(lang, 'noFindings'))}</p>` : report.findings.map((f) => findingHtml(lang, f)).join('\n')}
${report.rejectedCount > 0 ? `<p class="muted">${report.rejectedCount} ${esc(t(lang, 'rejectedCount'))}</p>` : ''}</section>`;
  const studyMeasurements = report.studyMeasurements.length === 0 ? '' : `<section><h2>${esc(t(lang, 'studyMeasurements'))}</h2>
${report.studyMeasurements.map((g) => `<h3 class="muted">${esc(g.analysisId)}</h3><table class="kv">${g.items.map((m) => measurementHtml(lang, m)).join('')}</table>`).join('\n')}</section>`;
  const recs = report.recommendations.length === 0 ? '' : `<section><h2>${esc(t(lang, 'recommendations'))}</h2><ul>${report.recommendations.map((r) => recommendationHtml(lang, r)).join('\n')}</ul></section>`;
  const pc = report.priorComparison;
  const prior = !pc ? '' : `<section><h2>${esc(t(lang, 'priorComparison'))}</h2>
<p>${esc(t(lang, 'priorStudy'))}: ${esc(dicomDate(pc.priorStudyDate) ?? '—')}${pc.priorStudyInstanceUid ? ` <span class="muted">${esc(pc.priorStudyInstanceUid)}</span>` : ''}</p>
${pc.summary ? `<p>${esc(pc.summary)}</p>` : ''}
<table class="grid-table"><tr><th>${esc(t(lang, 'finding'))}</th><th>${esc(t(lang, 'prior'))}</th><th>${esc(t(lang, 'current'))}</th><th>${esc(t(lang, 'change'))}</th></tr>
${pc.items.map((i) => `<tr><td>${i.findingId ? `${esc(i.findingId)}: ` : ''}${esc(i.description)}</td><td>${esc(i.prior ?? '—')}</td><td>${esc(i.current ?? '—')}</td><td>${esc(i.change ?? '—')}</td></tr>`).join('\n')}</table></section>`;
  const algorithms = `<section><h2>${esc(t(lang, 'algorithms'))}</h2><table class="grid-table"><tr><th>${esc(t(lang, 'analysis'))}</th><th>${esc(t(lang, 'version'))}</th><th>${esc(t(lang, 'engine'))}</th><th>${esc(t(lang, 'resultId'))}</th></tr>
${report.algorithms.map((a) => `<tr><td>${esc(a.analysisId)}${a.title ? ` <span class="muted">${esc(a.title)}</span>` : ''}</td><td>${esc(a.version)}</td><td>${esc(a.engine)}</td><td class="muted">${esc(a.resultId ?? a.startedAt)}</td></tr>`).join('\n')}</table></section>`;
  const sig = report.signature
    ? `${esc(t(lang, 'signedBy'))}: <strong>${esc(report.signature.by)}</strong> · ${esc(t(lang, 'signedAt'))}: ${esc(report.signature.at)}`
    : `<strong>${esc(t(lang, 'unsigned'))}</strong> — ${esc(t(lang, 'draftNote'))}`;
  return `<!DOCTYPE html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(t(lang, 'title'))} — ${esc(personName(p.name) ?? p.id ?? s.studyInstanceUid)}</title><style>${CSS}</style></head>
<body data-status="${report.status}">
${report.status === 'draft' ? `<div class="watermark" aria-hidden="true">${esc(t(lang, 'draft'))}</div>` : ''}
<h1 id="report-title">${esc(t(lang, 'title'))}</h1>
<div class="banner" id="disclaimer">${esc(t(lang, 'disclaimer'))}</div>
${header}
${impression}
${findings}
${studyMeasurements}
${recs}
${prior}
${algorithms}
<footer><div>${sig}</div><div class="muted">${esc(t(lang, 'generatedAt'))}: ${esc(report.generatedAt)} · ${esc(report.disclaimer)}</div></footer>
</body></html>
`;
}
