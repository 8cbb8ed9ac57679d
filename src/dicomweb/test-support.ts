/** Shared by the DICOMweb tests: a fastify app over a real SQLite archive in a temp folder, and multipart helpers. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { openArchive } from '../archive/index.ts';
import type { Archive, StoreOutcome } from '../archive/index.ts';
import { type Logger, silentLogger } from '../core/log.ts';
import { registerDicomWeb } from './plugin.ts';
import type { Role } from '../server/auth/context.ts';
import { installAuth } from '../server/auth/hook.ts';
import { AuthService } from '../server/auth/service.ts';

export const DATA = '/work/shared/data/dicom-conformance';
/** One Siemens MR image in nine transfer syntaxes: one study, one series, nine SOP Instance UIDs (dcm_qa_ts README). */
export const QA_FILES = Array.from({ length: 9 }, (_, i) => join(DATA, 'dcm_qa_ts/In', `${i + 1}.dcm`));
export const QA_STUDY = '1.3.12.2.1107.5.2.32.35131.30000014022817282751500000052';
export const QA_SERIES = '1.3.12.2.1107.5.2.32.35131.2014031012481958900586557.0.0.0';
export const CT_SMALL = join(DATA, 'pydicom/test_files/CT_small.dcm');
export const MR_SMALL = join(DATA, 'pydicom/test_files/MR_small.dcm');
/** JPEG 2000 lossless, 10 frames. */
export const EMRI_J2K = join(DATA, 'pydicom-data/emri_small_jpeg_2k_lossless.dcm');

export interface TestServer {
  readonly app: FastifyInstance;
  readonly archive: Archive;
  readonly dir: string;
  readonly stored: StoreOutcome[];
  /**
   * With `auth: true`: HTTP Basic headers of a user of `role` (created on first use), as a PACS or viewer sends
   * them; the server enforces access as `serve` does. Without it the plugin runs unauthenticated.
   */
  basicAuth(role: Role): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const TEST_BASIC_PASSWORD = 'dicomweb-test-password-1';

export async function startTestServer(options: { maxUploadBytes?: number; log?: Logger; auth?: boolean } = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-dicomweb-'));
  const log = options.log ?? silentLogger;
  const archive = await openArchive({ backend: 'sqlite', dataDir: dir }, log);
  const app = Fastify({ logger: false });
  const auth = options.auth ? await AuthService.open({ db: archive.db, log }) : undefined;
  if (auth) installAuth(app, { auth });
  const stored: StoreOutcome[] = [];
  await app.register(registerDicomWeb, {
    prefix: '/dicom-web', archive, log, maxUploadBytes: options.maxUploadBytes ?? 64 * 1024 * 1024,
    onStored: (o: StoreOutcome) => { stored.push(o); },
  });
  await app.ready();
  return {
    app, archive, dir, stored,
    async basicAuth(role) {
      if (!auth) throw new Error('startTestServer({ auth: true }) for authenticated requests');
      const username = `dw-${role}`;
      if (!(await auth.getUser(username))) await auth.createUser({ username, password: TEST_BASIC_PASSWORD, role, mustChangePassword: false }, { actor: null, source: 'test' });
      return { authorization: `Basic ${Buffer.from(`${username}:${TEST_BASIC_PASSWORD}`).toString('base64')}` };
    },
    async close() {
      await app.close();
      await archive.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export const BOUNDARY = 'test-boundary-7d1f';
export const STOW_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

/** A multipart/related body of application/dicom parts; `close: false` leaves out the close delimiter. */
export function multipartBody(parts: ReadonlyArray<Uint8Array | { type: string; body: Uint8Array }>, close = true, boundary = BOUNDARY): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const type = p instanceof Uint8Array ? 'application/dicom' : p.type;
    const body = p instanceof Uint8Array ? p : p.body;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${type}\r\n\r\n`), Buffer.from(body), Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

/** Parses a multipart response body (whole, in memory) into parts. */
export function splitMultipart(body: Buffer, contentType: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const m = /boundary=("?)([^";]+)\1/.exec(contentType);
  if (!m || !m[2]) throw new Error(`no boundary in ${contentType}`);
  const delim = Buffer.from(`--${m[2]}`);
  const out: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const after = pos + delim.length;
    if (body.subarray(after, after + 2).toString() === '--') break;
    const headEnd = body.indexOf('\r\n\r\n', after);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headEnd);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(after + 2, headEnd).toString('latin1').split('\r\n')) {
      const c = line.indexOf(':');
      if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    out.push({ headers, body: body.subarray(headEnd + 4, next) });
    pos = next + 2;
  }
  return out;
}

/** DICOM JSON helper: first Value of a tag. */
export function value(json: unknown, tag: string): unknown {
  const a = (json as Record<string, { Value?: unknown[] } | undefined>)[tag];
  return a?.Value?.[0];
}
