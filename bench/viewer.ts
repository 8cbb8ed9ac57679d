/**
 * `npm run bench:viewer`: how fast the radiologist web app shows a CT. A synthetic 300-slice 512×512 CT (signed
 * 16-bit) is stored in a temp archive served by an in-process `serve` (no analyses); Debian chromium (headless,
 * --disable-gpu: SwiftShader WebGL, as in CI) signs in and opens the study. It measures:
 *  - first image: from navigation to the study URL until the viewport canvas shows the slice (pixel variance),
 *    cold (empty browser cache, new profile);
 *  - scroll: stepping through all slices one by one (each load, decode and render awaited), total and per slice;
 *  - MPR: from the MPR key until the three orthogonal views are drawn (all slices streamed into a volume).
 * Options: --slices N (default 300), --keep (keep the temp folder). Figures are printed and written to
 * bench-out/viewer.json; nothing is asserted (issue #7 goal: first image ≤ 1 s on localhost).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { silentLogger } from '../src/core/index.ts';
import { ingestFolder } from '../src/archive/index.ts';
import { writeCtSeries } from '../src/dicom/index.ts';
import { createRegistry } from '../src/engine/index.ts';
import { createVolume } from '../src/imaging/index.ts';
import type { Volume } from '../src/imaging/index.ts';
import { DEFAULT_CONFIG } from '../src/server/config.ts';
import { startServer } from '../src/server/runtime.ts';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = join(import.meta.dirname, '..');

/** An elliptical "body" of soft tissue with lungs, spine and noise: realistic enough for windowing and decode. */
function syntheticCt(slices: number): Volume<Int16Array> {
  const n = 512;
  const data = new Int16Array(n * n * slices);
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let k = 0; k < slices; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const x = (i - 256) / 200, y = (j - 256) / 150;
        let v = -1000;
        if (x * x + y * y < 1) {
          v = 40;
          const lx = (Math.abs(i - 256) - 90) / 60, ly = (j - 240) / 90;
          if (Math.abs(i - 256) > 30 && lx * lx + ly * ly < 1) v = -850;
          if ((i - 256) ** 2 + (j - 360) ** 2 < 600) v = 700;
        }
        data[i + n * (j + n * k)] = v + Math.round((rand() - 0.5) * 40);
      }
    }
  }
  return createVolume(data, { dims: [n, n, slices], spacing: [0.7, 0.7, 1], origin: [-179, -179, 0] });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { slices: { type: 'string', default: '300' }, keep: { type: 'boolean', default: false } } });
  const slices = Number(values.slices);
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: bash scripts/setup.sh installs it`);
  if (!existsSync(join(ROOT, 'web', 'dist', 'index.html'))) throw new Error('web/dist is missing: npm run build -w web');
  const dir = await mkdtemp(join(tmpdir(), 'sr-bench-viewer-'));
  const server = await startServer({
    config: { ...DEFAULT_CONFIG, dataDir: join(dir, 'data'), httpPort: 0, dicomPort: 0, logLevel: 'warn', workers: 0 },
    registry: createRegistry([]), log: silentLogger, adminPassword: 'Bench-viewer-secret-1!', announce: () => undefined,
  });
  try {
    process.stderr.write(`writing a ${slices}-slice 512×512 CT...\n`);
    const written = await writeCtSeries(syntheticCt(slices), {
      outDir: join(dir, 'ct'), uidSeed: 'bench-viewer', patient: { PatientName: 'Bench^Viewer', PatientID: 'BENCH-VIEWER' },
      study: { StudyDescription: 'bench viewer', AccessionNumber: 'BV1' }, series: { SeriesDescription: `${slices} slices`, BodyPartExamined: 'CHEST' },
    });
    await ingestFolder(server.archive, [join(dir, 'ct')], { origin: { via: 'import', sourceAe: 'BENCH' } });
    await server.auth.createUser({ username: 'bench.reader', password: 'Bench-reader-secret-1!', role: 'radiologist', mustChangePassword: false }, { actor: null, source: 'bench' });
    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM, headless: true, viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      await page.goto(server.httpUrl);
      await page.fill('input[name=username]', 'bench.reader');
      await page.fill('input[name=password]', 'Bench-reader-secret-1!');
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=worklist-row]');
      // First image: navigation to the study until the canvas shows it (polled every animation frame in the page).
      await page.evaluate('performance.clearMarks(); performance.clearResourceTimings()');
      const first = await page.evaluate<{ ms: number; marks: Record<string, number>; requests: { name: string; start: number; end: number }[] }>(`new Promise((resolve) => {
        const t0 = performance.now();
        const done = (ms) => resolve({
          ms,
          marks: Object.fromEntries(performance.getEntriesByType('mark').filter((m) => m.name.startsWith('sr:')).map((m) => [m.name.slice(3), Math.round(m.startTime - t0)])),
          requests: performance.getEntriesByType('resource').filter((r) => r.startTime >= t0 && r.startTime - t0 < ms)
            .map((r) => ({ name: r.name.replace(location.origin, '').replace(/[0-9.]{20,}/g, '…').slice(0, 90), start: Math.round(r.startTime - t0), end: Math.round(r.responseEnd - t0) })),
        });
        location.hash = '#/study/${written.StudyInstanceUID}';
        const poll = () => {
          const c = document.querySelector('[data-testid=vp-main] canvas');
          if (c && c.width > 0) {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let s = 0, s2 = 0, n = 0;
            for (let i = 0; i < d.length; i += 64) { s += d[i]; s2 += d[i] * d[i]; n++; }
            if (s2 / n - (s / n) ** 2 > 50) return done(performance.now() - t0);
          }
          requestAnimationFrame(poll);
        };
        poll();
      })`);
      const firstImageMs = first.ms;
      await page.waitForSelector('body[data-viewer-ready=true]', { state: 'attached' });
      // Scroll: every slice in turn, each awaited (load + decode + render), as a radiologist paging through.
      const scrollMs = await page.evaluate<number>(`(async () => {
        const vp = window.srEngine.getViewport('vp-main');
        const n = vp.getImageIds().length;
        const t0 = performance.now();
        for (let i = 0; i < n; i++) { await vp.setImageIdIndex(i); vp.render(); }
        return performance.now() - t0;
      })()`);
      const rescrollMs = await page.evaluate<number>(`(async () => {
        const vp = window.srEngine.getViewport('vp-main');
        const n = vp.getImageIds().length;
        const t0 = performance.now();
        for (let i = n - 1; i >= 0; i--) { await vp.setImageIdIndex(i); vp.render(); }
        return performance.now() - t0;
      })()`);
      const t0 = Date.now();
      await page.keyboard.press('m');
      // Ready = the sagittal view (which needs every slice streamed into the volume) shows an image.
      await page.waitForFunction(`(() => {
        if (document.body.dataset.viewerReady !== 'true') return false;
        const c = document.querySelector('[data-testid=vp-sag] canvas');
        if (!c || c.width === 0) return false;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0, s2 = 0, n = 0;
        for (let i = 0; i < d.length; i += 64) { s += d[i]; s2 += d[i] * d[i]; n++; }
        return s2 / n - (s / n) ** 2 > 50;
      })()`, undefined, { timeout: 120_000, polling: 100 });
      const mprMs = Date.now() - t0;
      await mkdir(join(ROOT, 'bench-out'), { recursive: true });
      await page.screenshot({ path: join(ROOT, 'bench-out', 'viewer-mpr.png') });
      const out = { slices, firstImageMs: Math.round(firstImageMs), firstImageTimeline: first.marks, firstImageRequests: first.requests.slice(0, 12), scrollAllMs: Math.round(scrollMs), scrollPerSliceMs: Math.round((scrollMs / slices) * 10) / 10, rescrollCachedMs: Math.round(rescrollMs), mprReadyMs: mprMs };
      await writeFile(join(ROOT, 'bench-out', 'viewer.json'), JSON.stringify(out, null, 2) + '\n');
      process.stdout.write(`viewer, ${slices}-slice 512×512 CT, headless chromium (SwiftShader), localhost\n`);
      process.stdout.write(`  first image (cold):         ${out.firstImageMs} ms\n`);
      process.stdout.write(`    timeline (ms after navigation): ${Object.entries(first.marks).map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
      for (const r of first.requests.slice(0, 8)) process.stdout.write(`    ${String(r.start).padStart(5)}–${String(r.end).padEnd(5)} ${r.name}\n`);
      process.stdout.write(`  scroll all slices:          ${out.scrollAllMs} ms (${out.scrollPerSliceMs} ms/slice)\n`);
      process.stdout.write(`  scroll back (cached):       ${out.rescrollCachedMs} ms\n`);
      process.stdout.write(`  MPR (3 views) ready:        ${out.mprReadyMs} ms\n`);
    } finally {
      await context.close();
    }
  } finally {
    await server.close();
    if (!values.keep) await rm(dir, { recursive: true, force: true });
  }
}

await main();
