/**
 * fsync through libuv's thread pool (fs/promises): the event loop keeps serving other associations meanwhile.
 * Opening read-only is enough to fsync on Linux, for files and folders alike.
 */
import { open } from 'node:fs/promises';

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * fsyncs of one path shared by concurrent callers: puts into one folder (the stores of one series arrive together
 * on several associations), commits to the SQLite WAL. A caller joins a sync that has not started yet, or starts
 * one: never one already running, which may have begun before the caller's write (rename, commit) and so need
 * not cover it. Each caller resolves after a sync that does; a failed sync rejects every caller that joined it.
 */
export class SyncCoalescer {
  private readonly states = new Map<string, { running?: Promise<void>; queued?: Promise<void> }>();
  private readonly syncFn: (path: string) => Promise<void>;

  constructor(syncFn: (path: string) => Promise<void> = fsyncPath) {
    this.syncFn = syncFn;
  }

  sync(path: string): Promise<void> {
    let s = this.states.get(path);
    if (!s) {
      s = {};
      this.states.set(path, s);
    }
    if (s.queued) return s.queued;
    const running = s.running;
    if (!running) return this.start(path, s);
    const st = s;
    const q = running.catch((e: unknown) => e).then(() => {
      st.queued = undefined;
      return this.start(path, st);
    });
    st.queued = q;
    return q;
  }

  private start(path: string, s: { running?: Promise<void>; queued?: Promise<void> }): Promise<void> {
    const p: Promise<void> = this.syncFn(path).finally(() => {
      if (s.running !== p) return;
      s.running = undefined;
      if (!s.queued) this.states.delete(path);
    });
    s.running = p;
    return p;
  }
}
