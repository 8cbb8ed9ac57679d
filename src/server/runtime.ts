/**
 * The composition root of `serve` and `worker`: opens the archive and the queue the config names, starts the
 * analysis workers (a supervised `secondreader worker` child process, or in-process for library use and tests),
 * the DIMSE SCP, the HTTP API and the stable-series poller, and closes them in the reverse order.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SrError } from '../core/index.ts';
import type { Logger } from '../core/index.ts';
import { ingestFolder, openArchive } from '../archive/index.ts';
import type { Archive } from '../archive/index.ts';
import { registerDicomWeb } from '../dicomweb/index.ts';
import { startDimseServer, storeInstances } from '../dimse/index.ts';
import type { DimseServer } from '../dimse/index.ts';
import type { AnalysisRegistry } from '../engine/index.ts';
import { createPgJobQueue, createSqliteJobQueue } from '../jobs/index.ts';
import type { JobQueue } from '../jobs/index.ts';
import type { SqlDb } from '../archive/db.ts';
import { createApp } from './app.ts';
import type { AuditSink } from './audit/types.ts';
import { AuditTrail } from './audit/trail.ts';
import { OidcClient } from './auth/oidc.ts';
import { AuthService } from './auth/service.ts';
import { configEnv } from './config.ts';
import type { ServerConfig } from './config.ts';
import { checkForwardDestinations, createJobHandler } from './engine-wiring.ts';
import type { ResultForwarding } from './engine-wiring.ts';
import { createForwardQueue } from '../outputs/index.ts';
import { startStablePoller } from './stable-poller.ts';
import type { Poller } from './stable-poller.ts';
import { superviseWorker } from './supervisor.ts';
import type { WorkerProcessCommand } from './supervisor.ts';

export interface Stores {
  readonly archive: Archive;
  readonly queue: JobQueue;
  /** The index database (users and sessions live there too, src/server/auth). */
  readonly db: SqlDb;
  close(): Promise<void>;
}

/**
 * Embedded: SQLite files under dataDir. Scale-out: PostgreSQL (index + jobs) and dataDir/blobs as the shared blob
 * folder. `archiveRecovery: false` skips the blob-folder recovery pass: the server runs it; a worker (N of them on
 * a shared folder, or a supervised child restarting) would only walk every blob again.
 */
export async function openStores(config: ServerConfig, log: Logger, options: { archiveRecovery?: boolean } = {}): Promise<Stores> {
  await mkdir(config.dataDir, { recursive: true }).catch((e: unknown) => {
    throw new SrError('CONFIG_INVALID', `cannot create the data folder ${config.dataDir}`, { cause: e, details: { dataDir: config.dataDir } });
  });
  const pg = config.database !== 'sqlite';
  const recovery = options.archiveRecovery === false ? { recovery: false as const } : {};
  // Embedded: this process is the only one storing instances, so an unacknowledged instance blob a crash left goes
  // at once; a shared (PostgreSQL) folder keeps the grace period for other processes mid-store (recovery.ts).
  const embeddedRecovery = options.archiveRecovery === false ? recovery : { recovery: { instancesGraceMs: 0 } };
  const archive = pg
    ? await openArchive({ backend: 'postgres', connectionString: config.database, schema: config.databaseSchema, blobDir: join(config.dataDir, 'blobs'), ...recovery }, log)
    : await openArchive({ backend: 'sqlite', dataDir: config.dataDir, ...embeddedRecovery }, log);
  let queue: JobQueue;
  try {
    const defaults = { defaults: { timeoutMs: config.jobTimeoutSeconds * 1000 } };
    queue = config.queue === 'postgres'
      ? await createPgJobQueue({ connectionString: config.database, schema: config.databaseSchema, log, ...defaults })
      : createSqliteJobQueue({ db: join(config.dataDir, 'jobs.sqlite'), log, ...defaults });
  } catch (e) {
    await archive.close();
    throw e;
  }
  return {
    archive, queue, db: archive.db,
    async close() {
      await queue.close();
      await archive.close();
    },
  };
}

/**
 * Result forwarding: C-STOREs each result's DICOM objects to the destinations configured for its analysis, retried
 * with backoff; the deliveries are rows of the archive index, so they survive restarts and every worker process
 * sharing the archive takes its part (src/outputs forward-queue). Starting it resumes the pending ones. Undefined
 * when no destination is configured.
 */
export function resultForwarding(config: ServerConfig, registry: AnalysisRegistry, archive: Archive, log: Logger): ResultForwarding | undefined {
  if (config.forward.length === 0) return undefined;
  checkForwardDestinations(config.forward, registry);
  const queue = createForwardQueue({
    store: archive,
    log,
    maxAttempts: config.forwardRetry.maxAttempts,
    retryDelayMs: config.forwardRetry.retryDelaySeconds * 1000,
    send: async (dest, files) => {
      const results = await storeInstances(dest, files.map((f) => ({ bytes: f.bytes })), { callingAe: config.aeTitle, log });
      return results.map((r) => ({ sopInstanceUid: r.sopInstanceUid ?? r.source, ok: r.ok, ...(r.error !== undefined ? { error: r.error } : {}) }));
    },
  });
  return { destinations: config.forward, queue };
}

export interface RunningServer {
  readonly httpUrl: string;
  readonly dicom: DimseServer;
  readonly archive: Archive;
  readonly queue: JobQueue;
  /** Users and sessions (tests create users through it). */
  readonly auth: AuthService;
  /** Resolves once the demo study (if one was loaded) is in the archive. */
  readonly demo: Promise<void>;
  /** Stop accepting (HTTP, DIMSE), stop polling, let running jobs finish or requeue them, close the databases. */
  close(): Promise<void>;
}

export interface StartOptions {
  readonly config: ServerConfig;
  readonly registry: AnalysisRegistry;
  readonly log: Logger;
  /** Writes the demo series under a folder and returns the folder of its DICOM files (the CLI passes the chest phantom). */
  readonly writeDemoSeries?: (dir: string) => Promise<string>;
  /**
   * How to start `secondreader worker` (the CLI passes node + bin/secondreader.js + worker [--config FILE]): with
   * it, the `config.workers` analysis slots run in a supervised child process, off this process's event loop.
   * Without it they run in this process, with `registry` (library use, tests with test analyses). Its env gets
   * the config as SECONDREADER_* variables (configEnv); other SECONDREADER_* variables are dropped.
   */
  readonly workerProcess?: Omit<WorkerProcessCommand, 'env'> & { readonly env?: Readonly<Record<string, string | undefined>> };
  /**
   * First start (no user yet): the password of the `admin` user created then (the CLI passes
   * SECONDREADER_ADMIN_PASSWORD). Without it a one-time secret is generated and handed to `announce`.
   */
  readonly adminPassword?: string | undefined;
  /** Prints the first-start one-time secret; default: standard error (the console, not the log). */
  readonly announce?: (text: string) => void;
  /** The audit trail for logins, lock-outs, denied requests and patient-data access; default: the index database's (AuditTrail). */
  readonly audit?: AuditSink;
}

function childEnv(config: ServerConfig, base: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith('SECONDREADER_')) env[k] = v;
  return { ...env, ...configEnv(config) };
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const { config, registry, log } = o;
  const stores = await openStores(config, log);
  const { archive, queue } = stores;
  const closers: (() => Promise<void>)[] = [() => stores.close()];
  const closeAll = async () => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (e) {
        log.error('shutdown step failed', { error: e instanceof Error ? e.message : String(e) });
      }
    }
  };
  try {
    checkForwardDestinations(config.forward, registry);
    // The audit trail lives in the index database (src/server/audit); a caller may pass another sink.
    const audit = o.audit ?? await AuditTrail.open(stores.db, { log });
    // OpenID Connect: the provider's discovery document is read now, so a wrong issuer stops the start.
    const oidc = config.auth.oidc ? await OidcClient.discover(config.auth.oidc, log) : undefined;
    const auth = await AuthService.open({ db: stores.db, config: config.auth, log, audit, ...(oidc ? { oidc } : {}) });
    await auth.ensureFirstAdmin({ password: o.adminPassword, announce: o.announce ?? ((text) => void process.stderr.write(text)) });
    if (config.workers > 0 && o.workerProcess) {
      const sup = superviseWorker({ command: o.workerProcess.command, args: o.workerProcess.args, env: childEnv(config, o.workerProcess.env ?? process.env), log });
      closers.push(() => sup.stop());
    } else if (config.workers > 0) {
      const forwarding = resultForwarding(config, registry, archive, log);
      // Closed in reverse: the workers stop first (no new results), then the forward queue.
      if (forwarding) closers.push(() => forwarding.queue.stop());
      const w = queue.startWorkers(createJobHandler({ archive, registry, log, aeTitle: config.aeTitle, ...(forwarding ? { forwarding } : {}) }), { concurrency: config.workers });
      closers.push(() => w.stop());
    }
    const dicom = await startDimseServer({
      archive, log,
      config: { aeTitle: config.aeTitle, host: config.dicomHost, port: config.dicomPort, peers: config.peers, allow: config.allowList, tempDir: join(config.dataDir, 'incoming'),
        ...(config.dicomTls ? { tls: config.dicomTls } : {}) },
    });
    closers.push(() => dicom.close());
    const app = await createApp({
      archive, queue, registry, log, auth, dicom: { aeTitle: dicom.aeTitle, port: dicom.port }, audit,
      hardening: { rateLimit: config.rateLimit },
      dicomWeb: (scope) => registerDicomWeb(scope, { archive, log, maxUploadBytes: config.maxUploadBytes }),
    });
    closers.push(() => app.close());
    await app.listen({ host: config.httpHost, port: config.httpPort });
    const addr = app.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    const poller: Poller = startStablePoller({
      archive, queue, registry, rules: config.routing, quietSeconds: config.stableQuietSeconds, jobTimeoutMs: config.jobTimeoutSeconds * 1000, log,
    });
    closers.push(() => poller.stop());
    const demo = config.demo && o.writeDemoSeries ? loadDemoIfEmpty(archive, config.dataDir, o.writeDemoSeries, log) : Promise.resolve();
    closers.push(() => demo);
    return { httpUrl: `http://${host}:${addr.port}`, dicom, archive, queue, auth, demo, close: closeAll };
  } catch (e) {
    await closeAll();
    throw e;
  }
}

/** First start: an empty archive gets the demo study, which is then analysed like any received series. */
async function loadDemoIfEmpty(archive: Archive, dataDir: string, write: (dir: string) => Promise<string>, log: Logger): Promise<void> {
  try {
    if ((await archive.listSeries({ limit: 1 })).length > 0) return;
    const dir = join(dataDir, 'demo-import');
    await rm(dir, { recursive: true, force: true });
    log.info('empty archive: generating the synthetic demo chest CT');
    const dicomDir = await write(dir);
    const summary = await ingestFolder(archive, [dicomDir], { origin: { via: 'import', sourceAe: 'DEMO' } });
    await rm(dir, { recursive: true, force: true });
    log.info('demo study loaded; it is analysed once the series is stable', { stored: summary.stored, failed: summary.failed.length });
  } catch (e) {
    // The demo is a convenience: a failure is logged, the server keeps serving.
    log.error('demo study could not be loaded', { error: e instanceof Error ? e.message : String(e) });
  }
}

export interface RunningWorker {
  close(): Promise<void>;
}

/**
 * `secondreader worker`: jobs only, results into the archive. Scale-out: the shared PostgreSQL queue. Embedded:
 * the SQLite queue of a data folder on this machine (the child `serve` supervises, or one started by hand next
 * to it), found by polling.
 */
export async function startWorker(o: { config: ServerConfig; registry: AnalysisRegistry; log: Logger; concurrency: number }): Promise<RunningWorker> {
  if (o.config.queue !== 'postgres' && !existsSync(join(o.config.dataDir, 'jobs.sqlite'))) {
    // Rather than an empty new data folder whose queue nothing fills: a typo in --data would idle silently.
    throw new SrError('CONFIG_INVALID', `no SecondReader queue in ${o.config.dataDir}: start "secondreader serve --data ${o.config.dataDir}" first, or pass --database postgres://... for scale-out`, {
      details: { dataDir: o.config.dataDir },
    });
  }
  checkForwardDestinations(o.config.forward, o.registry);
  const stores = await openStores(o.config, o.log, { archiveRecovery: false });
  const forwarding = resultForwarding(o.config, o.registry, stores.archive, o.log);
  const handle = stores.queue.startWorkers(
    createJobHandler({ archive: stores.archive, registry: o.registry, log: o.log, aeTitle: o.config.aeTitle, ...(forwarding ? { forwarding } : {}) }),
    { concurrency: o.concurrency },
  );
  return {
    async close() {
      await handle.stop();
      await forwarding?.queue.stop();
      await stores.close();
    },
  };
}
