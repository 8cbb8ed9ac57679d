/**
 * The audit contract: what any part of the server hands to the audit trail. The trail itself (append-only,
 * hash-chained, in the index database) lives beside this file; producers only know `AuditSink`.
 */

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEvent {
  /** e.g. 'login', 'logout', 'login-locked', 'read', 'write', 'sign-off', 'review', 'config-change', 'export'. */
  readonly action: string;
  readonly outcome: AuditOutcome;
  /** Username, or null for anonymous / system. */
  readonly actor: string | null;
  readonly actorRole?: string | null;
  /** Client address (IP) or 'cli' / 'system'. */
  readonly source: string;
  /** What was touched: e.g. 'GET /api/v1/studies/1.2.3', 'study:1.2.3', 'user:alice'. */
  readonly object: string;
  readonly studyInstanceUid?: string | null;
  readonly patientId?: string | null;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditSink {
  /** Appends; resolves once the event is durable. Never throws on the caller's path: failures are logged. */
  record(event: AuditEvent): Promise<void>;
}

/** For code paths with no trail configured (CLI, tests that do not look at it). */
export const NO_AUDIT: AuditSink = { record: async () => {} };
