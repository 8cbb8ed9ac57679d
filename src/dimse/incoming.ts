/**
 * The C-STORE temp folder: `<tempDir>/<hostname>-<pid>/`, one per server process. Several `serve` processes may
 * share a data folder (scale-out on a shared filesystem); each only ever deletes partial files of processes that
 * cannot be writing them any more: folders of this host whose pid is dead (process.kill(pid, 0) → ESRCH), and a
 * folder carrying our own pid (a previous process with the same pid, e.g. pid 1 in a container, is gone since we
 * hold it). Folders of other hosts are left alone: their liveness cannot be checked from here.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SrError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import { hostTag, pidAlive } from '../core/process.ts';

export { hostTag } from '../core/process.ts';

/** Files directly in tempDir come from the layout before per-process folders; removed after this long. */
const LEGACY_GRACE_MS = 10 * 60_000;


async function countFiles(dir: string): Promise<number> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).length;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return 0;
    throw e;
  }
}

export interface IncomingFolder {
  /** This process's folder (created). */
  readonly dir: string;
  /** Partial files of dead processes (and legacy loose files) removed at start. */
  readonly removed: number;
  /** Removes this process's folder (after every store has settled). */
  dispose(): Promise<void>;
}

export async function prepareIncoming(base: string, log: Logger): Promise<IncomingFolder> {
  const host = hostTag();
  const dir = join(base, `${host}-${process.pid}`);
  try {
    mkdirSync(base, { recursive: true });
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `DIMSE temp folder ${base} cannot be created`, { cause: e, details: { tempDir: base } });
  }
  let removed = 0;
  const stale: string[] = [];
  for (const ent of await readdir(base, { withFileTypes: true })) {
    const p = join(base, ent.name);
    if (ent.isDirectory()) {
      const cut = ent.name.lastIndexOf('-');
      const pid = Number(ent.name.slice(cut + 1));
      if (cut <= 0 || ent.name.slice(0, cut) !== host || !Number.isInteger(pid) || pid <= 0) continue;
      if (pid !== process.pid && pidAlive(pid)) continue;
      removed += await countFiles(p);
      await rm(p, { recursive: true, force: true });
      stale.push(ent.name);
    } else if (ent.isFile()) {
      const st = await stat(p).catch(() => undefined);
      if (st && st.mtimeMs < Date.now() - LEGACY_GRACE_MS) {
        await rm(p, { force: true });
        removed++;
      }
    }
  }
  if (removed > 0 || stale.length > 0) {
    log.warn('dimse removed partial C-STORE files of processes that are gone', { files: removed, folders: stale.slice(0, 20) });
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new SrError('CONFIG_INVALID', `DIMSE temp folder ${dir} cannot be created`, { cause: e, details: { tempDir: dir } });
  }
  return {
    dir,
    removed,
    dispose: async () => {
      await rm(dir, { recursive: true, force: true }).catch((e: unknown) => {
        log.warn('dimse could not remove its temp folder', { dir, error: e instanceof Error ? e.message : String(e) });
      });
    },
  };
}
