import { useEffect, useRef, useState } from 'react';

/** What the server streams on GET /api/v1/review/events (src/server/review/events.ts). */
export type LiveEvent =
  | { type: 'job'; jobId: string; studyInstanceUid: string; analysisId: string; state: string; progress: number }
  | { type: 'studies'; count: number }
  | { type: 'results'; count: number }
  | { type: 'report'; studyInstanceUid: string; status: 'draft' | 'signed' }
  | { type: 'review'; studyInstanceUid: string }
  /** Not from the server: the fallback timer while the stream is down. */
  | { type: 'poll' };

const TYPES = ['job', 'studies', 'results', 'report', 'review'] as const;
export const POLL_FALLBACK_MS = 3000;

/**
 * Live updates by Server-Sent Events (the session cookie goes with the same-origin EventSource request). While the
 * stream is not open — before it connects, after an error, or on a server without it — a 3 s timer stands in
 * (`poll` events), so the screen never goes stale. Returns 'live' or 'polling'.
 */
export function useLiveUpdates(onEvent: (ev: LiveEvent) => void): 'live' | 'polling' {
  const [mode, setMode] = useState<'live' | 'polling'>('polling');
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    let timer: ReturnType<typeof setInterval> | null = null;
    const poll = (on: boolean) => {
      if (on && !timer) timer = setInterval(() => handler.current({ type: 'poll' }), POLL_FALLBACK_MS);
      if (!on && timer) {
        clearInterval(timer);
        timer = null;
      }
      setMode(on ? 'polling' : 'live');
    };
    poll(true);
    if (typeof EventSource === 'undefined') return () => poll(false);
    const es = new EventSource('/api/v1/review/events', { withCredentials: true });
    let dropped = false;
    es.addEventListener('hello', () => {
      poll(false);
      // After a reconnect: whatever changed while the stream was down (the first connect needs no catch-up).
      if (dropped) handler.current({ type: 'poll' });
    });
    es.onerror = () => {
      dropped = true;
      poll(true);
    };
    for (const type of TYPES) {
      es.addEventListener(type, (m) => {
        try {
          handler.current(JSON.parse((m as MessageEvent<string>).data) as LiveEvent);
        } catch {
          // A frame we cannot read: the next one or the poll catches up.
        }
      });
    }
    return () => {
      es.close();
      if (timer) clearInterval(timer);
    };
  }, []);
  return mode;
}

/** Calls `fn` at most once per `ms` (trailing), for bursts of events (a job's progress ticks). */
export function useThrottled(fn: () => void, ms: number): () => void {
  const ref = useRef(fn);
  ref.current = fn;
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => () => {
    if (pending.current) clearTimeout(pending.current);
  }, []);
  return useRef(() => {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      ref.current();
    }, ms);
  }).current;
}
