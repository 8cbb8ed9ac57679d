/**
 * The radiologist web app end to end: a real server (in-process, temp data folder, real head-ct-hemorrhage
 * analysis of a synthetic head CT with a subdural bleed, plus a routine study), Debian chromium driven by
 * playwright-core. Signs in, checks the worklist order (critical first), opens the study, checks that the CT
 * image is really drawn (pixel variance of the viewport canvas) and that the AI overlay is on the finding's
 * slice (overlay-colour pixels), rejects it with the R key, accepts it, edits it (type + measurement → the report
 * shows the edit), saves a length measurement drawn with the length tool, signs the report; the worklist's live
 * updates (Server-Sent Events, cookie session) must be connected. Screenshots go to
 * test-artifacts/web-e2e/ (gitignored). Skipped, with a reason, when /usr/bin/chromium is missing.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { silentLogger } from '../src/core/index.ts';
import { ingestFolder } from '../src/archive/index.ts';
import { createRegistry } from '../src/engine/index.ts';
import { headCtHemorrhage } from '../src/analyses/head-ct-hemorrhage/manifest.ts';
import { DEFAULT_CONFIG } from '../src/server/config.ts';
import { startServer } from '../src/server/runtime.ts';
import type { RunningServer } from '../src/server/runtime.ts';
import { waitFor, writeTinyCtSeries } from '../src/server/test-fixtures.ts';
import { writeCtSeries } from '../src/dicom/index.ts';
import { createVolume } from '../src/imaging/index.ts';
import { writeHeadPhantomCase } from '../eval/phantoms/head.ts';

const ROOT = join(import.meta.dirname, '..');
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts', 'web-e2e');
const PASSWORD = 'e2e-radiologist-Passw0rd!';
const ADMIN_PASSWORD = 'Sup3r-long-e2e-secret!';

/** The production build the server serves; (re)built here when missing or older than its sources (about 15 s). */
function ensureWebBuilt(): void {
  const index = join(ROOT, 'web', 'dist', 'index.html');
  const sources = [join(ROOT, 'web', 'index.html'), join(ROOT, 'web', 'vite.config.mjs'), ...readdirSync(join(ROOT, 'web', 'src')).map((f) => join(ROOT, 'web', 'src', f))];
  if (existsSync(index) && sources.every((f) => statSync(f).mtimeMs <= statSync(index).mtimeMs)) return;
  const r = spawnSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build', '-w', 'web'], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) throw new Error(`web build failed: ${r.stderr || r.stdout}`);
}

/** Variance and overlay-colour count of a canvas, read in the page (browser code as text: this file has no DOM types). */
const CANVAS_STATS = `(sel) => {
  const c = document.querySelector(sel);
  if (!(c instanceof HTMLCanvasElement) || c.width === 0) return { variance: 0, magenta: 0, width: 0 };
  const ctx = c.getContext('2d');
  if (!ctx) return { variance: 0, magenta: 0, width: c.width };
  const d = ctx.getImageData(0, 0, c.width, c.height).data;
  let n = 0, sum = 0, sum2 = 0, magenta = 0;
  for (let i = 0; i < d.length; i += 4) {
    const r = d[i], g = d[i + 1], b = d[i + 2], a = d[i + 3];
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    n++; sum += y; sum2 += y * y;
    if (a > 60 && r > 150 && b > 100 && g < 90) magenta++;
  }
  return { variance: sum2 / n - (sum / n) ** 2, magenta, width: c.width };
}`;

async function canvasStats(page: Page, selector: string): Promise<{ variance: number; magenta: number; width: number }> {
  return page.evaluate<{ variance: number; magenta: number; width: number }>(`(${CANVAS_STATS})(${JSON.stringify(selector)})`);
}

describe('web app end to end', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing (bash scripts/setup.sh installs it)` }, () => {
  let dir = '';
  let server: RunningServer | undefined;
  let context: BrowserContext | undefined;
  let criticalStudy = '';
  const firstPage = (): Page => {
    const p = context?.pages()[0];
    if (!p) throw new Error('no page');
    return p;
  };
  let routineStudy = '';

  before(async () => {
    ensureWebBuilt();
    dir = await mkdtemp(join(tmpdir(), 'sr-web-e2e-'));
    await mkdir(ARTIFACTS, { recursive: true });
    const head = await writeHeadPhantomCase(join(dir, 'in', 'head'), { seed: 'web-e2e', bleedType: 'subdural', sliceThicknessMm: 5, tiltDeg: 0 });
    const tiny = await writeTinyCtSeries(join(dir, 'in', 'tiny'), 'web-routine');
    routineStudy = tiny.StudyInstanceUID;
    server = await startServer({
      config: { ...DEFAULT_CONFIG, dataDir: join(dir, 'data'), httpPort: 0, dicomPort: 0, stableQuietSeconds: 1, logLevel: 'warn', workers: 1 },
      registry: createRegistry([headCtHemorrhage]), log: silentLogger, adminPassword: ADMIN_PASSWORD, announce: () => undefined,
    });
    await server.auth.createUser({ username: 'dr.e2e', password: PASSWORD, role: 'radiologist', mustChangePassword: false }, { actor: null, source: 'test' });
    await ingestFolder(server.archive, [join(dir, 'in', 'tiny')], { origin: { via: 'import', sourceAe: 'E2E' } });
    await ingestFolder(server.archive, [head.dicomDir], { origin: { via: 'import', sourceAe: 'E2E' } });
    const s = await server.archive.listSeries({});
    criticalStudy = s.find((x) => x.studyInstanceUid !== routineStudy)?.studyInstanceUid ?? '';
    const archive = server.archive;
    await waitFor('the head result', async () => (await archive.listResults({ studyInstanceUid: criticalStudy, analysisId: 'head-ct-hemorrhage' }))[0], 120_000, { intervalMs: 250 });
    context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await context?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('sign in, worklist (critical first), image and overlay drawn, reject/accept, sign the report', { timeout: 90_000 }, async () => {
    assert.ok(server && context);
    const page = context.pages()[0] ?? (await context.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(server.httpUrl);
    await page.fill('input[name=username]', 'dr.e2e');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');

    // Worklist: both studies, the one with the bleed first and marked critical.
    const rows = page.locator('[data-testid=worklist-row]');
    await waitFor('two worklist rows', async () => ((await rows.count()) === 2 ? true : undefined), 30_000, { intervalMs: 200 });
    assert.equal(await rows.nth(0).getAttribute('data-study'), criticalStudy);
    assert.equal(await rows.nth(0).getAttribute('data-critical'), 'true');
    assert.equal(await rows.nth(1).getAttribute('data-study'), routineStudy);
    assert.equal(await rows.nth(1).getAttribute('data-critical'), 'false');
    // Live updates: the EventSource (session cookie) is open, not the polling fallback.
    await page.waitForSelector('[data-testid=live-state].live', { timeout: 15_000 });
    await page.screenshot({ path: join(ARTIFACTS, '1-worklist.png') });

    // Viewer: the CT slice is drawn (not a blank canvas).
    await rows.nth(0).click();
    await page.waitForSelector('body[data-viewer-ready=true]', { state: 'attached', timeout: 30_000 }).catch(async (e: unknown) => {
      await page.screenshot({ path: join(ARTIFACTS, 'failed-viewer.png') });
      throw new Error(`viewer not ready: ${String(e)}; page errors: ${errors.join('; ')}; console: ${consoleErrors.join('; ')}`);
    });
    const image = await waitFor('the CT image drawn', async () => {
      const st = await canvasStats(page, '[data-testid=vp-main] canvas');
      return st.variance > 50 ? st : undefined;
    }, 20_000, { intervalMs: 250, context: () => errors.join('; ') });
    assert.ok(image.variance > 50, `image variance ${image.variance}`);

    // Jump to the finding: the overlay (label map) is drawn on its slice.
    const finding = page.locator('[data-testid^=finding-]').first();
    const findingId = ((await finding.getAttribute('data-testid')) ?? '').replace('finding-', '');
    assert.ok(findingId, 'the study has an AI finding');
    await finding.locator('.ftitle').click();
    const overlay = await waitFor('overlay pixels on the finding slice', async () => {
      const st = await canvasStats(page, '[data-testid=vp-main-overlay]');
      return st.magenta > 20 ? st : undefined;
    }, 15_000, { intervalMs: 250, context: () => errors.join('; ') });
    assert.ok(overlay.magenta > 20);
    await page.screenshot({ path: join(ARTIFACTS, '2-viewer-finding.png') });
    // The overlay toggle really hides it.
    await page.click('[data-testid=toggle-overlay]');
    await waitFor('overlay hidden', async () => ((await canvasStats(page, '[data-testid=vp-main-overlay]')).magenta === 0 ? true : undefined), 5_000, { intervalMs: 100 });
    await page.click('[data-testid=toggle-overlay]');

    // Reject with the keyboard (R on the selected finding), then change the mind and accept: both are stored.
    await page.keyboard.press('r');
    await page.waitForSelector(`[data-testid=finding-${findingId}][data-decision=reject]`, { timeout: 10_000 });
    await page.click(`[data-testid=accept-${findingId}]`);
    await page.waitForSelector(`[data-testid=finding-${findingId}][data-decision=accept]`, { timeout: 10_000 });
    const others = await page.locator('[data-testid^=reject-]').all();
    for (const b of others.slice(1)) await b.click();

    // Edit: change the type and a measurement; the finding and the report draft show the edited values.
    await page.click(`[data-testid=edit-${findingId}]`);
    await page.fill('[data-testid=edit-kind]', 'subdural-edited');
    const measInput = page.locator('[data-testid^=edit-m-]').first();
    const measKey = ((await measInput.getAttribute('data-testid')) ?? '').replace('edit-m-', '');
    assert.ok(measKey, 'the finding has a measurement to edit');
    await measInput.fill('42.5');
    await page.click('[data-testid=edit-save]');
    await page.waitForSelector(`[data-testid=finding-${findingId}][data-decision=edit]`, { timeout: 10_000 });
    const reportItem = await waitFor('the edit in the report draft', async () => {
      const txt = (await page.textContent(`[data-testid=report-${findingId}]`).catch(() => null)) ?? '';
      return txt.includes('subdural-edited') && txt.includes(`${measKey} 42.5`) ? txt : undefined;
    }, 10_000, { intervalMs: 200 });
    assert.match(reportItem, /subdural-edited/);

    // A length drawn with the length tool (L) is saved with the review and listed in the report.
    await page.keyboard.press('l');
    const box = await page.locator('[data-testid=vp-main]').boundingBox();
    assert.ok(box);
    await page.mouse.move(box.x + box.width * 0.35, box.y + box.height * 0.5);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.move(box.x + box.width * 0.65, box.y + box.height * 0.5, { steps: 8 });
    await page.mouse.up();
    await page.waitForSelector('[data-testid=report-measurement]', { timeout: 10_000 });
    assert.match((await page.textContent('[data-testid=report-measurement]')) ?? '', /\d+\.\d mm .*dr\.e2e/);
    await page.keyboard.press('l');
    await page.screenshot({ path: join(ARTIFACTS, '2b-edited-measured.png') });

    await page.fill('[data-testid=impression]', 'Acute right subdural haematoma (AI-assisted, confirmed).');
    await page.waitForSelector('[data-testid=sign]:not([disabled])', { timeout: 10_000 });
    await page.click('[data-testid=sign]');
    await page.waitForSelector('[data-testid=report][data-status=signed]', { timeout: 10_000 });
    assert.match((await page.textContent('[data-testid=signed-by]')) ?? '', /dr\.e2e/);
    await page.screenshot({ path: join(ARTIFACTS, '3-signed.png') });

    // The server agrees: signed, locked, PDF there.
    const pdf = await page.request.get(`${server.httpUrl}/api/v1/review/studies/${criticalStudy}/report.pdf`);
    assert.equal(pdf.status(), 200);
    const pdfBytes = await pdf.body();
    assert.equal(pdfBytes.subarray(0, 5).toString('latin1'), '%PDF-');
    await writeFile(join(ARTIFACTS, '4-report.pdf'), pdfBytes);
    assert.ok(pdfBytes.includes('Skia/PDF'), 'the signed PDF is the clinical report printed by chromium (src/report), not the text fallback');
    const bundle = (await (await page.request.get(`${server.httpUrl}/api/v1/review/studies/${criticalStudy}`)).json()) as {
      report: { status: string; signedBy: string; measurements: { lengthMm: number }[] }; decisions: { findingId: string; decision: string; username: string; resultId: string }[];
    };
    assert.equal(bundle.report.status, 'signed');
    assert.equal(bundle.report.measurements.length, 1);
    assert.ok((bundle.report.measurements[0]?.lengthMm ?? 0) > 1, 'the measured length is a real distance in mm');
    const mine = bundle.decisions.find((d) => d.findingId === findingId);
    assert.deepEqual([mine?.decision, mine?.username], ['edit', 'dr.e2e']);
    const locked = await page.request.post(`${server.httpUrl}/api/v1/review/decisions`, { data: { resultId: mine?.resultId, findingId, decision: 'reject' } });
    assert.equal(locked.status(), 409, 'a signed report locks the review');

    // The admin's feedback loop: per-site decision statistics; and the Chinese UI.
    await page.click('text=Sign out');
    await page.fill('input[name=username]', 'admin');
    await page.fill('input[name=password]', ADMIN_PASSWORD);
    await page.click('button[type=submit]');
    await page.goto(`${server.httpUrl}/#/stats`);
    await page.waitForSelector('[data-testid=stats] tbody tr', { timeout: 10_000 });
    const statRow = (await page.textContent('[data-testid=stats] tbody tr')) ?? '';
    assert.match(statRow, /E2E.*head-ct-hemorrhage/);
    await page.click('[data-testid=lang]');
    await page.waitForSelector('text=被拒绝发现统计', { timeout: 5_000 });
    await page.screenshot({ path: join(ARTIFACTS, '5-admin-stats-zh.png') });
    assert.deepEqual(errors, []);
  });

  test('prior comparison: paired findings with their follow-up status, the prior viewport jumps to the prior position, linked by registration', { timeout: 60_000 }, async () => {
    assert.ok(server && context);
    // A current and a prior chest CT of one patient (20 slices 5 mm apart, z = 0..95) and a chest follow-up result whose
    // registration maps current → prior LPS by +30 mm in z (docs/followup.md): n1 grew (current z 30, found on the
    // prior at z 70 — 10 mm from where the registration maps it, as a residual would put it), p2 resolved (seen on the
    // prior at z 45, carried to current z 15).
    const ct = (seed: string, date: string) => {
      const data = new Int16Array(32 * 32 * 20).map((_, i) => ((i * 7919) % 200) - 100);
      return writeCtSeries(createVolume(data, { dims: [32, 32, 20], spacing: [2, 2, 5], origin: [-32, -32, 0] }), {
        outDir: join(dir, 'in', seed), uidSeed: `web-e2e-followup/${seed}`, patient: { PatientName: 'Follow^Up', PatientID: 'P-FOLLOWUP' },
        study: { StudyDescription: `chest ${seed}`, AccessionNumber: `FU-${seed}`, StudyDate: date }, series: { SeriesDescription: seed, BodyPartExamined: 'CHEST' },
      });
    };
    const priorCt = await ct('prior', '20250101');
    const currentCt = await ct('current', '20260101');
    await ingestFolder(server.archive, [join(dir, 'in', 'prior'), join(dir, 'in', 'current')], { origin: { via: 'import', sourceAe: 'E2E' } });
    const matrix = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 30, 0, 0, 0, 1];
    await server.archive.putResult({
      analysisId: 'chest-ct-nodules', analysisVersion: '9.9.9-e2e', studyInstanceUid: currentCt.StudyInstanceUID, seriesInstanceUid: currentCt.SeriesInstanceUID, status: 'ok',
      document: {
        findings: [
          { id: 'n1', kind: 'lung-nodule', centerMm: [0, 0, 30], probability: 0.8, volumeMm3: 300, status: 'grown', priorFindingId: 'p1', priorCenterMm: [0, 0, 70], priorVolumeMm3: 150, vdtDays: 365 },
          { id: 'resolved-p2', kind: 'lung-nodule', centerMm: [4, 4, 15], probability: 0, status: 'resolved', priorFindingId: 'p2', priorCenterMm: [4, 4, 45], priorVolumeMm3: 90 },
        ],
        measurements: { followUp: { compared: true, prior: { studyInstanceUid: priorCt.StudyInstanceUID, seriesInstanceUid: priorCt.SeriesInstanceUID }, registration: { matrix } } },
      },
    });
    await firstPage().goto(`${server.httpUrl}/#/study/${currentCt.StudyInstanceUID}`);
    const p = firstPage();
    await p.waitForSelector('body[data-viewer-ready=true]', { state: 'attached', timeout: 30_000 });
    assert.equal(await p.getAttribute('[data-testid=pair-n1]', 'data-status'), 'grown');
    assert.equal(await p.getAttribute('[data-testid=pair-resolved-p2]', 'data-status'), 'resolved');
    assert.match((await p.textContent('[data-testid=pair-n1]')) ?? '', /150 mm³.*365/);
    const index = (id: string) => p.evaluate<number>(`window.srEngine.getViewport(${JSON.stringify(id)})?.getCurrentImageIdIndex() ?? -1`);

    // Clicking the paired finding opens the prior the follow-up compared with and puts it at the prior position
    // (z 70 = slice 14; linked scrolling alone would say slice 12).
    await p.click('[data-testid=finding-n1] .ftitle');
    await waitFor('the prior viewport at the prior position', async () => ((await index('vp-prior')) === 14 ? true : undefined), 20_000, { intervalMs: 200 });
    assert.equal(await index('vp-main'), 6);
    // Linked scrolling follows the registration (+30 mm = +6 slices), not the slice position.
    await p.keyboard.press('ArrowDown');
    await waitFor('linked scrolling by registration', async () => ((await index('vp-main')) === 7 && (await index('vp-prior')) === 13 ? true : undefined), 10_000, { intervalMs: 100 });
    // The resolved nodule: current view at its carried position (z 15 = slice 3), the prior where it was seen (z 45 = slice 9).
    await p.click('[data-testid=finding-resolved-p2] .ftitle');
    await waitFor('the resolved nodule at its prior position', async () => ((await index('vp-main')) === 3 && (await index('vp-prior')) === 9 ? true : undefined), 10_000, { intervalMs: 100 });
    // Back to the paired one with the prior already open: the jump wins over linked scrolling.
    await p.click('[data-testid=finding-n1] .ftitle');
    await waitFor('the paired nodule at its prior position again', async () => ((await index('vp-main')) === 6 && (await index('vp-prior')) === 14 ? true : undefined), 10_000, { intervalMs: 100 });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await index('vp-prior'), 14, 'linked scrolling did not pull the prior back');
    await p.screenshot({ path: join(ARTIFACTS, '6-prior-comparison.png') });
  });

  test('first sign-in with a one-time password: the app asks for a new one and only then opens the worklist', { timeout: 60_000 }, async () => {
    assert.ok(server && context);
    await server.auth.createUser({ username: 'tech.new', password: 'One-time-secret-123', role: 'technologist' }, { actor: null, source: 'test' });
    await context.clearCookies(); // signed out: the last test of the file
    const p = await context.newPage();
    await p.goto(`${server.httpUrl}/`);
    await p.fill('input[name=username]', 'tech.new');
    await p.fill('input[name=password]', 'One-time-secret-123');
    await p.click('button[type=submit]');
    await p.waitForSelector('[data-testid=change-password]', { timeout: 10_000 });
    // The server refuses the worklist until the password is changed (not only hidden in the UI).
    const blocked = await p.request.get(`${server.httpUrl}/api/v1/studies`);
    assert.equal(blocked.status(), 403);
    await p.fill('input[name=currentPassword]', 'One-time-secret-123');
    await p.fill('input[name=newPassword]', 'My-own-long-password-456');
    await p.fill('input[name=repeatPassword]', 'Not-the-same-password-789');
    await p.click('[data-testid=change-password] button[type=submit]');
    await p.waitForSelector('[data-testid=change-error]', { timeout: 5_000 });
    await p.fill('input[name=repeatPassword]', 'My-own-long-password-456');
    await p.click('[data-testid=change-password] button[type=submit]');
    await p.waitForSelector('[data-testid=change-password]', { state: 'detached', timeout: 10_000 });
    assert.equal((await p.request.get(`${server.httpUrl}/api/v1/studies`)).status(), 200);
    await p.screenshot({ path: join(ARTIFACTS, '7-after-password-change.png') });
    await p.close();
  });
});
