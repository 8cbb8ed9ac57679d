/**
 * Progress on stderr. On a terminal one line is rewritten in place (throttled); in a log or a pipe each step
 * gets one plain line with its percentage, so CI logs stay readable and grep-able.
 */
import type { OutputStream } from './io.ts';

export interface ProgressReporter {
  /** fraction 0..1 of the current phase; `step` names what is being done; `detail` only shows on a terminal. */
  update(phase: string, fraction: number, step: string, detail?: string): void;
  /** Ends the rewritten line (terminal) so later output starts on a fresh line. */
  done(): void;
}

export function formatPercent(fraction: number): string {
  const pct = Math.floor(Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0)) * 100);
  return `${String(pct).padStart(3)}%`;
}

export function createProgressReporter(stream: OutputStream, options: { now?: () => number; minIntervalMs?: number } = {}): ProgressReporter {
  const now = options.now ?? (() => Date.now());
  const minInterval = options.minIntervalMs ?? 100;
  let lastKey = '';
  let lastDraw = -Infinity;
  let open = false;
  if (stream.isTTY) {
    return {
      update(phase, fraction, step, detail) {
        const key = `${phase}\u0000${step}`;
        const t = now();
        if (key === lastKey && fraction < 1 && t - lastDraw < minInterval) return;
        lastKey = key;
        lastDraw = t;
        const width = Math.max(20, (stream.columns ?? 100) - 1);
        const text = `${phase} ${formatPercent(fraction)} ${step}${detail ? ` ${detail}` : ''}`;
        stream.write(`\r\x1b[2K${text.length > width ? text.slice(0, width - 1) + '…' : text}`);
        open = true;
      },
      done() {
        if (open) stream.write('\n');
        open = false;
        lastKey = '';
      },
    };
  }
  return {
    update(phase, fraction, step) {
      const key = `${phase}\u0000${step}`;
      if (key === lastKey) return;
      lastKey = key;
      stream.write(`${phase} ${formatPercent(fraction)} ${step}\n`);
    },
    done() {
      lastKey = '';
    },
  };
}
