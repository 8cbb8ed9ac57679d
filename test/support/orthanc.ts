/**
 * Test helper: a private Orthanc (Debian's /usr/sbin/Orthanc 1.10) with its own JSON configuration, loopback
 * ports and storage folder, for interop tests (DIMSE, DICOMweb). Never the Debian service.
 *
 * Traps (docs DEPENDENCIES.md): Orthanc sets TCP_NODELAY only when the environment has TCP_NODELAY=1; after a
 * kill, wait for the process to exit before starting another one on the same storage (SQLite error otherwise).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ORTHANC_BINARY = '/usr/sbin/Orthanc';
export const ORTHANC_DICOMWEB_PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';

export interface OrthancModality {
  readonly aeTitle: string;
  readonly host?: string;
  readonly port: number;
}

export interface StartOrthancOptions {
  /** Orthanc's own AE title (default ORTHANC). */
  readonly aet?: string;
  /** 0 or absent: a free port chosen at run time. */
  readonly dicomPort?: number;
  readonly httpPort?: number;
  /** Known DICOM peers, by name (the name is the key Orthanc's REST API uses, e.g. /modalities/{name}/store). */
  readonly modalities?: Readonly<Record<string, OrthancModality>>;
  /** Load the DICOMweb plugin (root /dicom-web/). */
  readonly dicomWeb?: boolean;
  /** Storage and index folder (created if missing). */
  readonly storageDir: string;
  /** Extra configuration keys merged over the defaults. */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
  /** How long to wait for /system to answer (default 30 s). */
  readonly startTimeoutMs?: number;
}

export interface RunningOrthanc {
  readonly aet: string;
  readonly dicomPort: number;
  readonly httpPort: number;
  /** http://127.0.0.1:<httpPort> */
  readonly url: string;
  readonly storageDir: string;
  readonly process: ChildProcess;
  /** GET/POST/... on the REST API; throws when the status is not 2xx. Returns parsed JSON (or text). */
  rest(path: string, init?: { method?: string; body?: unknown }): Promise<unknown>;
  /** Stops Orthanc and resolves once the process has exited. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

export async function startOrthanc(options: StartOrthancOptions): Promise<RunningOrthanc> {
  const aet = options.aet ?? 'ORTHANC';
  const dicomPort = options.dicomPort || (await freePort());
  const httpPort = options.httpPort || (await freePort());
  await mkdir(options.storageDir, { recursive: true });
  const modalities: Record<string, unknown> = {};
  for (const [name, m] of Object.entries(options.modalities ?? {})) {
    modalities[name] = { AET: m.aeTitle, Host: m.host ?? '127.0.0.1', Port: m.port };
  }
  const config: Record<string, unknown> = {
    Name: `test-${aet}`,
    StorageDirectory: options.storageDir,
    IndexDirectory: options.storageDir,
    StorageCompression: false,
    HttpServerEnabled: true,
    HttpPort: httpPort,
    // Loopback only for HTTP; no authentication (tests only).
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    SslEnabled: false,
    DicomServerEnabled: true,
    DicomAet: aet,
    DicomPort: dicomPort,
    DicomCheckCalledAet: false,
    DicomAlwaysAllowEcho: true,
    DicomAlwaysAllowStore: true,
    DicomModalities: modalities,
    DicomScuTimeout: 30,
    DicomScpTimeout: 30,
    // Orthanc keeps its outgoing associations open 5 s by default; tests want them closed at once.
    DicomAssociationCloseDelay: 0,
    UnknownSopClassAccepted: true,
    OverwriteInstances: true,
    SaveJobs: false,
    StableAge: 2,
    HttpTimeout: 60,
    LimitFindResults: 0,
    LimitFindInstances: 0,
    Plugins: options.dicomWeb ? [ORTHANC_DICOMWEB_PLUGIN] : [],
    ...(options.dicomWeb ? { DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' } } : {}),
    ...options.extraConfig,
  };
  const configPath = join(options.storageDir, 'orthanc.json');
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const child = spawn(ORTHANC_BINARY, [configPath], {
    env: { ...process.env, TCP_NODELAY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let spawnError: Error | undefined;
  child.on('error', (e) => {
    spawnError = e;
  });

  const url = `http://127.0.0.1:${httpPort}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    if (!(await waitExit(child, 15_000))) {
      child.kill('SIGKILL');
      await waitExit(child, 10_000);
    }
  };

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (spawnError || child.exitCode !== null) {
      throw new Error(`Orthanc did not start (${spawnError?.message ?? `exit ${child.exitCode}`}):\n${output}`);
    }
    try {
      const res = await fetch(`${url}/system`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.arrayBuffer();
        break;
      }
    } catch (e) {
      void e; // not listening yet: poll again
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Orthanc did not answer /system within the timeout:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  const rest = async (path: string, init: { method?: string; body?: unknown } = {}): Promise<unknown> => {
    const body = init.body === undefined ? undefined : typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : JSON.stringify(init.body);
    const res = await fetch(`${url}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), ...(body === undefined ? {} : { body }) });
    const text = await res.text();
    if (!res.ok) throw new Error(`Orthanc ${init.method ?? 'GET'} ${path}: HTTP ${res.status} ${text}`);
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      void e; // not JSON: return the text
      return text;
    }
  };

  return { aet, dicomPort, httpPort, url, storageDir: options.storageDir, process: child, rest, stop };
}
