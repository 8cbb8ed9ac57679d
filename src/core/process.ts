/**
 * Per-process folder ownership: folders named `<hostTag>-<pid>…` (C-STORE temp files, ingest journals) belong to one
 * process; a sweep may take over those of processes on this host that are gone.
 */
import { hostname } from 'node:os';

/** This host's name, safe in a folder name. */
export function hostTag(): string {
  return hostname().replace(/[^A-Za-z0-9._]/g, '_') || 'host';
}

/** Is a process with this pid alive on this host? EPERM means it exists but belongs to another user. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: unknown }).code !== 'ESRCH';
  }
}
