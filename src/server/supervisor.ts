/**
 * The supervised analysis worker of embedded `serve`: one `secondreader worker` child process on the same data
 * folder and queue, so a chest analysis (~15 s of CPU per series) never stalls the HTTP API or the DICOM
 * receiver of the server's event loop. The child is restarted with exponential backoff when it dies; the job it
 * was running goes back to the queue by the queue's lost-job recovery (its owner pid is dead) when the next child
 * opens the queue. Its JSON log lines are re-logged by the server with a `worker` field (hostname:pid, as in the
 * job records' `worker`).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { Logger, LogLevel } from '../core/index.ts';

export interface WorkerProcessCommand {
  /** Usually process.execPath. */
  readonly command: string;
  /** E.g. [bin/secondreader.js, 'worker', '--config', FILE]. */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface SupervisorOptions extends WorkerProcessCommand {
  readonly log: Logger;
  /** First restart delay; doubles per consecutive early death up to maxBackoffMs. Default 1 s. */
  readonly minBackoffMs?: number;
  /** Default 60 s. */
  readonly maxBackoffMs?: number;
  /** A child that ran this long before dying counts as healthy: the backoff starts over. Default 60 s. */
  readonly healthyAfterMs?: number;
  /**
   * SIGTERM → SIGKILL grace at stop. The worker waits up to 30 s for running jobs, then hands them back to the
   * queue (abort grace 5 s), so the default (60 s) leaves it time to do that cleanly.
   */
  readonly stopTimeoutMs?: number;
}

export interface WorkerSupervisor {
  /** Pid of the current child; undefined while it is being restarted. */
  readonly pid: number | undefined;
  /** Children started so far (1 + restarts). */
  readonly starts: number;
  /** SIGTERM to the child (graceful: unfinished jobs go back to the queue), SIGKILL after stopTimeoutMs. */
  stop(): Promise<void>;
}

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(['debug', 'info', 'warn', 'error']);

function jsonObject(line: string): unknown {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined; // a line that merely starts with '{': relayed as text
  }
}

/** A child's stderr line → the server's log, with `worker`; the child's own time is kept. */
function relayLine(log: Logger, worker: string, line: string, stream: 'stdout' | 'stderr'): void {
  if (line.trim() === '') return;
  const parsed = jsonObject(line);
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
    const { level, msg, ...fields } = parsed as Record<string, unknown>;
    if (typeof level === 'string' && LEVELS.has(level) && typeof msg === 'string') {
      log[level as LogLevel](msg, { ...fields, worker });
      return;
    }
  }
  // Not a log line: the worker's banner on stdout, or a crash report on stderr.
  if (stream === 'stdout') log.info('worker output', { worker, line });
  else log.warn('worker output', { worker, line });
}

export function superviseWorker(o: SupervisorOptions): WorkerSupervisor {
  const { log } = o;
  const minBackoff = o.minBackoffMs ?? 1000;
  const maxBackoff = o.maxBackoffMs ?? 60_000;
  const healthyAfter = o.healthyAfterMs ?? 60_000;
  const stopTimeout = o.stopTimeoutMs ?? 60_000;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let stopping = false;
  let failures = 0;
  let starts = 0;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = (): void => {
    restartTimer = undefined;
    if (stopping) return;
    starts++;
    const startedAt = Date.now();
    const c = spawn(o.command, [...o.args], {
      env: o.env,
      // An IPC channel: the child stops by itself when this process dies (its 'disconnect'), even by SIGKILL.
      // Detached: a terminal's Ctrl-C reaches the server only, which then stops the child in order.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    child = c;
    const name = `${hostname()}:${c.pid ?? '?'}`;
    log.info('worker process started', { worker: name, pid: c.pid ?? null, start: starts });
    if (c.stdout) createInterface({ input: c.stdout, crlfDelay: Infinity }).on('line', (l) => relayLine(log, name, l, 'stdout'));
    if (c.stderr) createInterface({ input: c.stderr, crlfDelay: Infinity }).on('line', (l) => relayLine(log, name, l, 'stderr'));
    exited = new Promise<void>((resolve) => {
      let ended = false;
      // 'exit' may or may not follow an 'error' (spawn failure): whichever comes first ends this child.
      const end = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (ended) return;
        ended = true;
        if (child === c) child = undefined;
        const ranMs = Date.now() - startedAt;
        const fields = { worker: name, pid: c.pid ?? null, code, signal, ranMs, ...(error ? { error: error.message } : {}) };
        resolve();
        if (stopping) {
          log.info('worker process exited', fields);
          return;
        }
        if (ranMs >= healthyAfter) failures = 0;
        const delayMs = Math.min(maxBackoff, minBackoff * 2 ** failures);
        failures++;
        log.error('worker process exited unexpectedly; restarting it', { ...fields, restartInMs: delayMs });
        restartTimer = setTimeout(start, delayMs);
      };
      c.once('exit', (code, signal) => end(code, signal));
      c.once('error', (e) => end(null, null, e));
    });
  };

  start();
  return {
    get pid() {
      return child?.pid;
    },
    get starts() {
      return starts;
    },
    async stop() {
      stopping = true;
      if (restartTimer) clearTimeout(restartTimer);
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) {
        await exited;
        return;
      }
      c.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), stopTimeout);
      });
      if ((await Promise.race([exited, late])) === 'late') {
        log.error('worker process did not stop in time; killing it (its jobs are recovered at the next start)', { pid: c.pid ?? null, afterMs: stopTimeout });
        c.kill('SIGKILL');
        await exited;
      }
      clearTimeout(timer);
    },
  };
}
