import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/index.ts';
import { headCtHemorrhage } from '../analyses/head-ct-hemorrhage/manifest.ts';
import { analyzePaths } from '../cli/analyze.ts';
import { createRegistry } from '../engine/index.ts';
import type { AnalysisResultJson, FindingsDocument } from '../engine/index.ts';
import { buildClinicalReport, chooseReportLanguage, chromiumAvailable, configuredReportLanguage, languageFor, renderReportHtml, studyHeaderFrom, withReportPage } from './index.ts';
import type { ClinicalReportInput, ReportPage } from './index.ts';
import { decodePng, fhirSchemaErrors, lumaVariance, writeHeadCase } from './test-helpers.ts';

const EVIL = 'Doe^<script>alert(1)</script>';

/** A chest-shaped result (as chest-ct-nodules writes it): n1 solid 11 mm, n2 ground-glass 9 mm, n3 below threshold. */
function chestResult(): AnalysisResultJson {
  const nodule = (id: string, label: number | undefined, p: number, type: string, mean: number) => ({
    id, kind: 'lung-nodule', centerMm: [10, -20, -100] as [number, number, number], probability: p, ...(label !== undefined ? { label } : {}),
    noduleType: type, diameterMm: mean, location: { side: 'right', zone: 'upper', juxtapleural: false, centralPeripheral: 'peripheral' },
    measurements: { meanDiameterMm: mean, longAxisMm: mean + 0.5, shortAxisMm: mean - 0.5, volumeMm3: 500, meanHu: type === 'solid' ? 20 : -500 },
  });
  return {
    analysis: 'chest-ct-nodules', version: '0.3.0', title: 'Lung nodules on chest CT', studyInstanceUid: '2.25.100', seriesInstanceUid: '2.25.101', status: 'ok',
    findings: [nodule('n1', 1, 0.99, 'solid', 11), nodule('n2', 2, 0.9, 'ground-glass', 9), nodule('n3', undefined, 0.1, 'solid', 4)],
    measurements: {
      displayThreshold: 0.5, lungVolumeMl: { total: 4200 }, brock: { perNodule: { n1: { probability: 0.055 } } },
      fleischner: { findingId: 'n1', recommendation: 'CT at 3–6 months, then consider CT at 18–24 months', applicable: true },
      lungRads: { category: '4A' },
    },
    provenance: { analysis: { id: 'chest-ct-nodules', version: '0.3.0', apiVersion: 1 }, engine: { name: 'secondreader', version: '0.1.0' }, inputSeriesInstanceUid: '2.25.101', startedAt: '2026-11-30T10:00:00.000Z', timingsMs: { total: 1 } },
  };
}

function chestInput(over: Partial<ClinicalReportInput> = {}): ClinicalReportInput {
  return { patient: { name: 'Doe^Jane', id: 'P1', age: '066Y' }, study: { studyInstanceUid: '2.25.100' }, results: [{ result: chestResult() }], generatedAt: '2026-11-30T10:00:00.000Z', ...over };
}

test('report model: labelled findings only, Lung-RADS from the reported nodules with its driving nodule, guideline texts cited', () => {
  const r = buildClinicalReport(chestInput());
  assert.deepEqual(r.findings.map((f) => f.findingId), ['n1', 'n2']);
  assert.equal(r.status, 'draft');
  const imp = r.impression.items[0];
  assert.ok(imp?.kind === 'lung-rads');
  // Lung-RADS v2022: baseline solid 8–<15 mm → 4A; ground-glass < 30 mm → 2.
  assert.equal(imp.category, '4A');
  assert.equal(imp.drivingFindingId, 'n1');
  assert.equal(r.findings.find((f) => f.findingId === 'n2')?.lungRads, '2');
  assert.deepEqual(r.recommendations.map((x) => x.guideline), ['lung-rads-v2022', 'fleischner-2017']);
  assert.ok(r.recommendations.every((x) => x.citation.length > 20));
  assert.match(r.disclaimer, /requires physician confirmation/);
});

test('review: a rejected finding is left out and no longer drives the category; an edited value is shown with the AI value', () => {
  const review = [
    { findingId: 'n1', decision: 'rejected' as const, by: 'dr.a', at: '2026-11-30T11:00:00Z' },
    { findingId: 'n2', decision: 'edited' as const, by: 'dr.a', at: '2026-11-30T11:01:00Z', edits: { meanDiameterMm: 7.5, type: 'solid' } },
  ];
  const r = buildClinicalReport(chestInput({ review }));
  assert.deepEqual(r.findings.map((f) => f.findingId), ['n2']);
  assert.equal(r.rejectedCount, 1);
  const imp = r.impression.items[0];
  assert.ok(imp?.kind === 'lung-rads');
  // Lung-RADS v2022: baseline solid 6–< 8 mm → 3 (the AI's 9 mm ground-glass nodule was 2).
  assert.equal(imp.category, '3');
  assert.equal(r.findings[0]?.aiType, 'ground-glass');
  const mean = r.findings[0]?.measurements.find((m) => m.key === 'meanDiameterMm');
  assert.deepEqual([mean?.value, mean?.aiValue], [7.5, 9]);
  const html = renderReportHtml(r, { lang: 'en' });
  assert.match(html, /7\.5 mm <span class="edited">\(edited; AI value 9\)/);
  assert.match(html, /solid <span class="edited">\(edited; AI value ground-glass\)/);
  // A type edited to part-solid with no solid component measured cannot be scored: no category is claimed.
  const unscored = buildClinicalReport(chestInput({ review: [review[0] as (typeof review)[number], { ...(review[1] as (typeof review)[number]), edits: { type: 'part-solid' } }] }));
  assert.equal(unscored.impression.items[0]?.kind, 'findings');
  assert.doesNotMatch(html, />n1 ·/);
  // Fleischner recomputed over what is left (one ground-glass nodule, 7.5 mm → < 6 mm row does not apply).
  assert.equal(r.recommendations.find((x) => x.guideline === 'fleischner-2017')?.findingId, 'n2');
});

test('follow-up: a sub-threshold nodule shown because of the prior (priorGuided + status) is reported and compared; a plain sub-threshold one is not', () => {
  const base = chestResult();
  const f0 = base.findings[0] as AnalysisResultJson['findings'][number];
  const { label: _label, ...unlabelled } = f0;
  void _label;
  const guided = { ...unlabelled, id: 'n7', probability: 0.18, status: 'stable', priorGuided: true, priorFindingId: 'p3', prior: { id: 'p3', noduleType: 'solid', measurements: { meanDiameterMm: 10.5 } } };
  const faint = { ...unlabelled, id: 'n8', probability: 0.18 };
  const result: AnalysisResultJson = {
    ...base, findings: [guided, faint],
    measurements: { ...base.measurements, followUp: { compared: true, intervalDays: 200, counts: { new: 0, grown: 0, stable: 1, shrunk: 0, resolved: 0 }, prior: { studyInstanceUid: '2.25.51', studyDate: '20250501' } } },
  };
  const r = buildClinicalReport(chestInput({ results: [{ result }] }));
  assert.deepEqual(r.findings.map((f) => f.findingId), ['n7']);
  assert.deepEqual(r.priorComparison?.items.map((i) => i.findingId), ['n7']);
});

test('follow-up: growth status feeds Lung-RADS, and the comparison section is built from the follow-up analysis', () => {
  const base = chestResult();
  const grown = { ...base.findings[0], status: 'grown', lungRadsGrowth: 'growing', priorFindingId: 'p1', diameterChangeMm: 3, vdtDays: 120, prior: { id: 'p1', noduleType: 'solid', measurements: { meanDiameterMm: 8 } } };
  const resolved = { id: 'resolved-p2', kind: 'lung-nodule', centerMm: [0, 0, 0] as [number, number, number], probability: 0, status: 'resolved', priorFindingId: 'p2', prior: { id: 'p2', noduleType: 'solid', measurements: { meanDiameterMm: 5 } } };
  const result: AnalysisResultJson = {
    ...base, findings: [grown as AnalysisResultJson['findings'][number], resolved],
    measurements: { ...base.measurements, followUp: { compared: true, intervalDays: 365, counts: { new: 0, grown: 1, stable: 0, shrunk: 0, resolved: 1 }, prior: { studyInstanceUid: '2.25.50', studyDate: '20251130' } } },
  };
  const r = buildClinicalReport(chestInput({ results: [{ result }] }));
  const imp = r.impression.items[0];
  // Lung-RADS v2022: a growing solid nodule ≥ 8 mm → 4B (a baseline 11 mm solid nodule would be 4A).
  assert.ok(imp?.kind === 'lung-rads');
  assert.equal(imp.category, '4B');
  assert.deepEqual(r.findings.map((f) => f.findingId), ['n1']);
  assert.equal(r.priorComparison?.priorStudyDate, '20251130');
  assert.deepEqual(r.priorComparison?.items.map((i) => [i.findingId, i.prior, i.current]), [['n1', '8 mm', '11 mm'], ['resolved-p2', '5 mm', '—']]);
  assert.match(r.priorComparison?.items[0]?.change ?? '', /grown, \+3 mm, VDT 120 d/);
  assert.match(renderReportHtml(r, { lang: 'zh' }), /与既往检查对比/);
});

test('signature makes the report final (no DRAFT watermark); impression override and prior comparison are shown, escaped', () => {
  const draft = renderReportHtml(buildClinicalReport(chestInput()), { lang: 'en' });
  assert.match(draft, /class="watermark"/);
  const signed = buildClinicalReport(chestInput({
    signature: { by: 'Dr <b>Li</b>', at: '2026-11-30T12:00:00Z' }, impression: 'Nodule <img src=x onerror=alert(1)> in RUL.',
    priorComparison: { priorStudyDate: '20250101', items: [{ findingId: 'n1', description: 'solid nodule', prior: '9 mm', current: '11 mm', change: 'growing' }] },
  }));
  assert.equal(signed.status, 'final');
  const html = renderReportHtml(signed, { lang: 'en' });
  assert.doesNotMatch(html, /class="watermark"/);
  assert.match(html, /Comparison with prior study/);
  assert.match(html, /2025-01-01/);
  assert.match(html, /Dr &lt;b&gt;Li&lt;\/b&gt;/);
  assert.doesNotMatch(html, /<img src=x/);
  assert.match(html, /&lt;img src=x onerror=alert\(1\)&gt;/);
});

test('key images other than PNG data URIs are not put into the page', () => {
  const r = buildClinicalReport(chestInput({ results: [{ result: chestResult(), keyImages: { n1: 'javascript:alert(1)', n2: 'data:image/png;base64,iVBORw0KGgo=' } }] }));
  const html = renderReportHtml(r, { lang: 'en' });
  assert.doesNotMatch(html, /javascript:/);
  assert.match(html, /src="data:image\/png;base64,iVBORw0KGgo="/);
});

test('language: configuration first, then GB18030/GBK, or UTF-8 with Han names → zh; otherwise en', () => {
  assert.equal(chooseReportLanguage({ specificCharacterSet: 'GB18030' }), 'zh');
  assert.equal(chooseReportLanguage({ specificCharacterSet: ['ISO 2022 IR 6', 'GBK'] }), 'zh');
  assert.equal(chooseReportLanguage({ specificCharacterSet: 'ISO_IR 192', names: ['Wang^XiaoDong', '王^小东'] }), 'zh');
  assert.equal(chooseReportLanguage({ specificCharacterSet: 'ISO_IR 192', names: ['Müller^Jörg'] }), 'en');
  assert.equal(chooseReportLanguage({ specificCharacterSet: 'ISO_IR 100', names: ['Doe^Jane'] }), 'en');
  assert.equal(chooseReportLanguage({ configured: 'en', specificCharacterSet: 'GB18030' }), 'en');
  assert.equal(chooseReportLanguage({ configured: 'zh' }), 'zh');
});

test('study header: PN components (alphabetic + ideographic); a GB18030 study → zh unless configured', () => {
  const h = studyHeaderFrom({ SpecificCharacterSet: ['ISO 2022 IR 6', 'GB18030'], PatientName: [{ Alphabetic: 'Wang^XiaoDong', Ideographic: '王^小东' }], PatientID: 'X1' }, '2.25.1');
  assert.equal(h.patient.name, 'Wang^XiaoDong');
  assert.equal(h.patient.ideographicName, '王^小东');
  assert.equal(languageFor(h, undefined), 'zh');
  assert.equal(languageFor(h, 'en'), 'en');
  assert.equal(configuredReportLanguage({ SECONDREADER_REPORT_LANG: 'ZH' }), 'zh');
  assert.equal(configuredReportLanguage({ SECONDREADER_REPORT_LANG: 'fr' }), undefined);
  const html = renderReportHtml(buildClinicalReport({ ...h, results: [] }), { lang: 'zh' });
  assert.match(html, /Wang XiaoDong \/ 王小东/);
});

/** Canvas pixels of text in the report's own font stack: two different Han characters must not draw alike (tofu). */
const GLYPH_PROBE = `(() => {
  const font = getComputedStyle(document.getElementById('report-title')).fontFamily;
  const draw = (s) => { const c = document.createElement('canvas'); c.width = 120; c.height = 60; const g = c.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, 120, 60); g.fillStyle = '#000'; g.font = '40px ' + font; g.fillText(s, 4, 45);
    return Array.from(g.getImageData(0, 0, 120, 60).data); };
  const same = (a, b) => a.every((v, i) => v === b[i]);
  const zhong = draw('中'), wen = draw('文'), noncharacter = draw('\\uffff'), pua1 = draw('\\ue000'), pua2 = draw('\\ue001');
  return { hanDistinct: !same(zhong, wen), hanNotBox: !same(zhong, noncharacter), puaDistinct: !same(pua1, pua2),
    title: document.getElementById('report-title').textContent };
})()`;

interface GlyphProbe {
  hanDistinct: boolean;
  hanNotBox: boolean;
  puaDistinct: boolean;
  title: string;
}

describe('a real head CT analysis → analyze --out → report.html, report.pdf, fhir.json', { skip: !chromiumAvailable() && 'chromium not installed (scripts/setup.sh)' }, () => {
  let dir = '';
  let out = '';
  let doc: FindingsDocument;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-report-'));
    const c = await writeHeadCase(dir, EVIL);
    out = join(dir, 'out');
    const res = await analyzePaths({ paths: [c.dicomDir], outDir: out, registry: createRegistry([headCtHemorrhage]), log: silentLogger });
    doc = res.document;
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the files are written; the PDF is a PDF with pages; the HTML escapes the PatientName', () => {
    const r = doc.analyses[0];
    assert.ok(r && r.status === 'ok' && r.findings.length > 0, 'the phantom bleed is found');
    for (const f of ['report.html', 'report.pdf', 'fhir.json', 'findings.json']) assert.ok(existsSync(join(out, f)), f);
    const pdf = readFileSync(join(out, 'report.pdf'));
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.ok((pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length >= 1, 'at least one page');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.ok(!html.includes('<script>alert(1)</script>'), 'raw script tag in the report');
    assert.match(html, /Doe &lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(html, /Triage priority: CRITICAL/);
    assert.match(html, /AI-assisted; requires physician confirmation/);
    assert.match(html, /head-ct-hemorrhage <span class="muted">[^<]*<\/span><\/td><td>\d+\.\d+\.\d+<\/td>/);
    // The key image crop of each bleed is inline.
    assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, r.findings.filter((f) => f.label !== undefined).length);
    const bundle = JSON.parse(readFileSync(join(out, 'fhir.json'), 'utf8')) as { resourceType: string; entry: { resource: { resourceType: string; status?: string } }[] };
    assert.equal(bundle.resourceType, 'Bundle');
    assert.equal(bundle.entry.find((e) => e.resource.resourceType === 'DiagnosticReport')?.resource.status, 'preliminary');
    assert.deepEqual(fhirSchemaErrors(bundle), [], 'fhir.json of a real result against the FHIR R4 schema');
  });

  test('en and zh render in chromium: not blank, and the Chinese text is drawn with real glyphs (no tofu)', async () => {
    const input: ClinicalReportInput = {
      patient: { name: 'Wang^XiaoDong', ideographicName: '王^小东', id: 'RPT-6' }, study: { studyInstanceUid: doc.analyses[0]?.studyInstanceUid ?? '' },
      results: doc.analyses.map((result) => ({ result })),
    };
    const report = buildClinicalReport(input);
    const shots = await withReportPage(async (page: ReportPage) => {
      const out: Record<string, { variance: number; probe: GlyphProbe }> = {};
      for (const lang of ['en', 'zh'] as const) {
        await page.setContent(renderReportHtml(report, { lang }), { waitUntil: 'load' });
        const png = await page.screenshot({ fullPage: false, type: 'png' });
        out[lang] = { variance: lumaVariance(decodePng(png)), probe: await page.evaluate<GlyphProbe>(GLYPH_PROBE) };
      }
      await page.setContent('<html><body style="background:#fff"></body></html>');
      out['blank'] = { variance: lumaVariance(decodePng(await page.screenshot({ type: 'png' }))), probe: { hanDistinct: false, hanNotBox: false, puaDistinct: false, title: '' } };
      return out;
    }, { javaScript: true });
    assert.ok((shots['blank']?.variance ?? 1) < 1, `control: a blank page has variance ${shots['blank']?.variance}`);
    for (const lang of ['en', 'zh']) assert.ok((shots[lang]?.variance ?? 0) > 100, `${lang} screenshot variance ${shots[lang]?.variance}`);
    const zh = shots['zh']?.probe;
    assert.equal(zh?.title, 'AI辅助影像报告');
    // Control: private-use characters no font has are drawn as identical boxes — the probe can tell tofu apart.
    assert.equal(zh?.puaDistinct, false);
    assert.equal(zh?.hanDistinct, true, '中 and 文 draw alike: no CJK font (tofu)');
    assert.equal(zh?.hanNotBox, true, '中 draws like a missing-glyph box');
  });
});
