/**
 * The attempts one worker pool is running: a cancel finds them here, and a graceful stop waits for them, then
 * hands the stragglers back to the queue.
 */
import type { AbortKind, RunningAttempt } from './attempt.ts';

export class AttemptSet {
  private readonly attempts = new Map<string, RunningAttempt>();

  get size(): number {
    return this.attempts.size;
  }

  add(attempt: RunningAttempt): void {
    this.attempts.set(attempt.jobId, attempt);
    void attempt.done.finally(() => {
      if (this.attempts.get(attempt.jobId) === attempt) this.attempts.delete(attempt.jobId);
    });
  }

  abort(jobId: string, kind: AbortKind): boolean {
    const a = this.attempts.get(jobId);
    if (a === undefined) return false;
    a.abort(kind);
    return true;
  }

  /** Waits up to `timeoutMs` for the running attempts, then aborts the rest with 'shutdown' (→ queued again). */
  async drain(timeoutMs: number): Promise<void> {
    const all = (): Promise<unknown> => Promise.all([...this.attempts.values()].map((a) => a.done));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([all(), expired]);
    clearTimeout(timer);
    for (const a of this.attempts.values()) a.abort('shutdown');
    await all();
  }
}
