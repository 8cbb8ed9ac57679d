/**
 * The signed report as PDF: src/report's clinical report (buildClinicalReport → renderReportHtml →
 * renderReportPdf, printed by Debian chromium) with the radiologist's decisions, impression and signature. Where
 * chromium is missing or fails, a plain one-column text PDF is written instead (PDF 1.4, Helvetica, WinAnsi:
 * characters outside Latin-1 become "?"), so signing never depends on a browser being installed.
 */
import type { QueryRow, ResultRecord } from '../../archive/index.ts';
import type { Logger } from '../../core/index.ts';
import type { AnalysisResultJson } from '../../engine/index.ts';
import { buildClinicalReport, chooseReportLanguage, configuredReportLanguage, renderReportHtml, renderReportPdf } from '../../report/index.ts';
import type { ReviewDecision } from '../../report/index.ts';
import type { ReportDraft } from './draft.ts';
import type { DecisionRecord } from './store.ts';

const KIND: Readonly<Record<DecisionRecord['decision'], ReviewDecision['decision']>> = { accept: 'accepted', reject: 'rejected', edit: 'edited' };

function text(row: QueryRow, k: string): string | undefined {
  const v = row[k];
  return v === null || v === undefined || v === '' ? undefined : String(v);
}

/** The signed report through src/report; the text fallback when chromium cannot print it. */
export async function signedReportPdf(o: {
  study: QueryRow; draft: ReportDraft; results: readonly ResultRecord[]; decisions: readonly DecisionRecord[]; log: Logger;
}): Promise<{ pdf: Uint8Array; renderer: 'report' | 'fallback' }> {
  const { draft } = o;
  try {
    const report = buildClinicalReport({
      patient: { name: text(o.study, 'PatientName'), id: text(o.study, 'PatientID'), birthDate: text(o.study, 'PatientBirthDate'), sex: text(o.study, 'PatientSex') },
      study: {
        studyInstanceUid: draft.studyInstanceUid, accessionNumber: text(o.study, 'AccessionNumber'), studyDate: text(o.study, 'StudyDate'), studyTime: text(o.study, 'StudyTime'),
        description: text(o.study, 'StudyDescription'), referringPhysician: text(o.study, 'ReferringPhysicianName'),
      },
      results: o.results.map((r) => ({ resultId: r.id, result: r.document as AnalysisResultJson })),
      review: o.decisions.map((d) => ({
        analysisId: d.analysisId, findingId: d.findingId, decision: KIND[d.decision], by: d.username, at: d.decidedAt,
        ...(d.edit?.measurements || d.edit?.kind ? { edits: { ...(d.edit.kind ? { kind: d.edit.kind } : {}), ...(d.edit.measurements ?? {}) } } : {}),
        ...(d.edit?.comment ? { comment: d.edit.comment } : {}),
      })),
      impression: draft.impression || undefined,
      ...(draft.signedBy && draft.signedAt ? { signature: { by: draft.signedBy, at: draft.signedAt } } : {}),
    });
    const lang = chooseReportLanguage({ configured: configuredReportLanguage(), names: [draft.patientName ?? undefined, draft.studyDescription ?? undefined] });
    return { pdf: await renderReportPdf(renderReportHtml(report, { lang })), renderer: 'report' };
  } catch (e) {
    o.log.warn('clinical report PDF failed; writing the plain text PDF', { study: draft.studyInstanceUid, error: e instanceof Error ? e.message : String(e) });
    return { pdf: renderFallbackPdf(draft), renderer: 'fallback' };
  }
}

function pdfText(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 63;
    const b = c > 255 || c < 32 ? 63 : c;
    out += b === 40 || b === 41 || b === 92 ? `\\${String.fromCharCode(b)}` : String.fromCharCode(b);
  }
  return out;
}

function wrap(line: string, width: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of line.split(/\s+/)) {
    if (cur.length + w.length + 1 > width && cur) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  out.push(cur);
  return out;
}

export function reportLines(d: ReportDraft): string[] {
  const lines = [
    `Radiology report - ${d.status === 'signed' ? 'SIGNED' : 'DRAFT (not signed)'}`,
    `Patient: ${d.patientName ?? ''}   ID: ${d.patientId ?? ''}`,
    `Study date: ${d.studyDate ?? ''}   Accession: ${d.accessionNumber ?? ''}   ${d.studyDescription ?? ''}`,
    `Study UID: ${d.studyInstanceUid}`,
    '',
    'Findings (AI-assisted, confirmed by the radiologist):',
    ...(d.accepted.length === 0 ? ['  none'] : d.accepted.map((f) => `  - ${f.kind} [${f.findingId}, ${f.analysisId} ${f.analysisVersion}]${f.decision === 'edit' ? ' (edited)' : ''}: ${Object.entries(f.measurements).filter(([, v]) => typeof v === 'number').slice(0, 6).map(([k, v]) => `${k} ${Number(v).toFixed(1)}`).join(', ')}`)),
    `AI findings rejected by the radiologist: ${d.rejected.length}`,
    ...(d.measurements.length === 0 ? [] : ['Measurements by the radiologist:',
      ...d.measurements.map((m) => `  - ${m.label ? `${m.label}: ` : ''}length ${m.lengthMm.toFixed(1)} mm (${m.username}, ${m.createdAt})`)]),
    '',
    'Impression:',
    ...(d.impression || d.suggestedImpression).split('\n').map((l) => `  ${l}`),
    '',
    d.signedBy ? `Signed by ${d.signedBy} at ${d.signedAt ?? ''}` : 'Not signed.',
    `Analyses: ${d.analyses.map((a) => `${a.id} ${a.version}`).join(', ')}`,
    d.disclaimer,
  ];
  return lines.flatMap((l) => wrap(l, 95));
}

export function renderFallbackPdf(d: ReportDraft): Uint8Array {
  const lines = reportLines(d).slice(0, 60);
  const content = ['BT', '/F1 10 Tf', '13 TL', '50 800 Td', ...lines.map((l) => `(${pdfText(l)}) Tj T*`), 'ET'].join('\n');
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  let body = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(Buffer.byteLength(body, 'latin1'));
    body += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = Buffer.byteLength(body, 'latin1');
  body += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  body += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new Uint8Array(Buffer.from(body, 'latin1'));
}
