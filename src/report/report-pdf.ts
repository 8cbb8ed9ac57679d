/**
 * HTML → PDF with Debian chromium driven by playwright-core (never `playwright install`: the browser is the
 * system package, installed by scripts/setup.sh). The page is loaded with JavaScript off and no network: the
 * report is self-contained, and nothing in it (a DICOM string, say) may fetch or run anything.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SrError, toSrError } from '../core/index.ts';

export const CHROMIUM_PATH = process.env['SECONDREADER_CHROMIUM'] ?? '/usr/bin/chromium';

/** docs/DEPENDENCIES "Web": what works headless on these machines (SwiftShader, no sandbox in containers). */
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** The slice of playwright's Page the report code uses (tests screenshot through it). */
export interface ReportPage {
  setContent(html: string, options?: { waitUntil?: 'load' | 'domcontentloaded' | 'networkidle' }): Promise<void>;
  pdf(options?: { format?: string; printBackground?: boolean; preferCSSPageSize?: boolean }): Promise<Buffer>;
  screenshot(options?: { fullPage?: boolean; type?: 'png' }): Promise<Buffer>;
  evaluate<R>(fn: string): Promise<R>;
}

/**
 * Runs `fn` with a fresh page of a headless chromium (profile in a temp folder, removed after). Throws
 * REPORT_PDF_UNAVAILABLE when chromium is not installed.
 */
export async function withReportPage<T>(fn: (page: ReportPage) => Promise<T>, options: { javaScript?: boolean } = {}): Promise<T> {
  if (!chromiumAvailable()) throw new SrError('REPORT_PDF_UNAVAILABLE', `chromium not found at ${CHROMIUM_PATH} (scripts/setup.sh installs it)`);
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'sr-report-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, javaScriptEnabled: options.javaScript ?? false, offline: true,
      viewport: { width: 900, height: 1200 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      // Belt and braces beside the page's CSP: no request leaves the page.
      await page.route('**/*', (route) => route.abort());
      return await fn({
        setContent: (html, o) => page.setContent(html, o),
        pdf: (o) => page.pdf(o),
        screenshot: (o) => page.screenshot(o),
        evaluate: <R>(expr: string) => page.evaluate(expr) as Promise<R>,
      });
    } finally {
      await context.close();
    }
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/**
 * At most this many chromium instances print at once in this process: each is a few hundred MB and a core, and
 * a burst of report requests must queue rather than start one browser each.
 */
const MAX_CONCURRENT_PDF = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function withPdfSlot<T>(fn: () => Promise<T>): Promise<T> {
  // A finishing caller hands its slot straight to the next waiter (no decrement), so no newcomer can slip in between.
  if (running >= MAX_CONCURRENT_PDF) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await fn();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

/** The report HTML printed to PDF (A4, backgrounds on, the page's own @page size). */
export async function renderReportPdf(html: string): Promise<Uint8Array> {
  try {
    const pdf = await withPdfSlot(() => withReportPage(async (page) => {
      await page.setContent(html, { waitUntil: 'load' });
      return await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    }));
    return new Uint8Array(pdf.buffer, pdf.byteOffset, pdf.byteLength);
  } catch (e) {
    if (e instanceof SrError && e.code === 'REPORT_PDF_UNAVAILABLE') throw e;
    throw toSrError(e, 'REPORT_RENDER_FAILED', 'the report PDF could not be rendered');
  }
}
