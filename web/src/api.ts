/** The server's JSON API as the app uses it (same origin; the session is the HttpOnly sr_session cookie). */
export interface User { readonly username: string; readonly role: string; readonly displayName?: string | null; readonly mustChangePassword?: boolean }

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, { credentials: 'same-origin', ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const b = (body ?? {}) as { code?: string; message?: string };
    throw new ApiError(res.status, b.code ?? 'HTTP_ERROR', b.message ?? res.statusText);
  }
  return body as T;
}

export const post = <T>(path: string, body: unknown = {}): Promise<T> => api<T>(path, { method: 'POST', body: JSON.stringify(body) });

export type AiStatus = 'none' | 'queued' | 'running' | 'done' | 'failed';

export interface WorklistItem {
  studyInstanceUid: string; patientName: string; patientId: string; studyDate: string; accessionNumber: string; studyDescription: string; modalities: string;
  ai: { status: AiStatus; progress: number | null; message: string | null };
  triage: { critical: boolean; reasons: string[] };
  findings: number; analyses: string[]; report: 'none' | 'draft' | 'signed';
}

export interface Finding {
  id: string; kind: string; centerMm: [number, number, number]; probability: number; label?: number; reasons?: string[];
  [k: string]: unknown;
}

export interface ResultView {
  id: string; analysisId: string; analysisVersion: string; seriesInstanceUid: string; status: string;
  document: { findings?: Finding[]; measurements?: Record<string, unknown>; labelMap?: { path: string; labels: Record<string, string> } };
  attachments: { name: string; url: string }[];
}

export interface DraftFinding {
  resultId: string; analysisId: string; analysisVersion: string; findingId: string; kind: string; probability: number | null;
  measurements: Record<string, unknown>; reasons: string[]; decision: 'accept' | 'reject' | 'edit' | null; decidedBy: string | null; decidedAt: string | null;
}

/** A length the radiologist measured (saved with the review; src/server/review/store.ts). */
export interface Measurement { id: string; seriesInstanceUid: string | null; kind: 'length'; lengthMm: number; points: number[][]; label: string | null; username: string; createdAt: string }

export interface ReportDraft {
  studyInstanceUid: string; status: 'draft' | 'signed'; impression: string; suggestedImpression: string;
  accepted: DraftFinding[]; rejected: DraftFinding[]; undecided: DraftFinding[]; signedBy: string | null; signedAt: string | null; disclaimer: string;
  analyses: { id: string; version: string }[];
  measurements: Measurement[];
}

export interface Decision { resultId: string; findingId: string; decision: 'accept' | 'reject' | 'edit'; username: string; decidedAt: string; edit: { kind?: string; measurements?: Record<string, number> } | null }

export interface SeriesRow { seriesInstanceUid: string; modality: string; instanceCount: number; seriesDescription: string | null; seriesNumber: number | null }

export interface StudyBundle {
  study: Record<string, string | number | null>;
  series: SeriesRow[];
  results: ResultView[];
  decisions: Decision[];
  measurements: Measurement[];
  report: ReportDraft;
  triage: { critical: boolean; reasons: string[] };
  ai: { status: AiStatus; progress: number | null };
  priors: { studyInstanceUid: string; studyDate: string; studyDescription: string; modalities: string }[];
}
