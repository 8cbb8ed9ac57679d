/**
 * The analysis registry: a validated, frozen list of manifests. Validation happens once, when the registry is
 * built (start-up), and fails loudly — a half-registered analysis that crashes on the first study is worse than
 * a server that refuses to start.
 */
import { SrError } from '../core/index.ts';
import { priorRequestProblems } from './prior.ts';
import { ANALYSIS_API_VERSION } from './types.ts';
import type { AnalysisManifest } from './types.ts';

export const ANALYSIS_ID_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
/** Semantic Versioning 2.0.0, §2, §9, §10 (the regex the spec itself suggests, without named groups). */
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export interface AnalysisRegistry {
  /** In registration order. */
  readonly analyses: readonly AnalysisManifest[];
  get(id: string): AnalysisManifest | undefined;
}

function isNonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.trim().length > 0;
}

/**
 * Every problem of a manifest, as messages; empty when valid. Takes `unknown` because manifests come from
 * plug-in modules the type checker may not have seen (or a JS plug-in).
 */
export function manifestProblems(m: unknown): string[] {
  if (typeof m !== 'object' || m === null) return ['manifest is not an object'];
  const r = m as Record<string, unknown>;
  const problems: string[] = [];
  if (r['apiVersion'] !== ANALYSIS_API_VERSION) {
    problems.push(`apiVersion must be ${ANALYSIS_API_VERSION} (this engine's analysis API), got ${String(r['apiVersion'])}`);
  }
  const id = r['id'];
  if (typeof id !== 'string' || !ANALYSIS_ID_PATTERN.test(id) || id.length > 64) {
    problems.push(`id must be kebab-case (e.g. chest-ct-nodules), got ${JSON.stringify(id)}`);
  }
  const version = r['version'];
  if (typeof version !== 'string' || !SEMVER_PATTERN.test(version)) {
    problems.push(`version must be semver (e.g. 1.2.0), got ${JSON.stringify(version)}`);
  }
  if (!isNonEmptyString(r['title'])) problems.push('title must be a non-empty string');
  if (!isNonEmptyString(r['intendedUse'])) problems.push('intendedUse must be a non-empty string');
  const modalities = r['modalities'];
  if (!Array.isArray(modalities) || modalities.length === 0 || !modalities.every((x) => typeof x === 'string' && /^[A-Z]{1,16}$/.test(x))) {
    problems.push('modalities must be a non-empty list of DICOM Modality codes (e.g. ["CT"])');
  }
  const resources = r['resources'];
  if (typeof resources !== 'object' || resources === null) {
    problems.push('resources must be { memoryMb, threads }');
  } else {
    const res = resources as Record<string, unknown>;
    const mem = res['memoryMb'];
    const threads = res['threads'];
    if (typeof mem !== 'number' || !Number.isFinite(mem) || mem <= 0) problems.push('resources.memoryMb must be a positive number');
    if (typeof threads !== 'number' || !Number.isInteger(threads) || threads < 1) problems.push('resources.threads must be a positive integer');
  }
  const win = r['displayWindow'];
  if (win !== undefined) {
    const w = (typeof win === 'object' && win !== null ? win : {}) as Record<string, unknown>;
    const c = w['center'];
    const width = w['width'];
    if (typeof c !== 'number' || !Number.isFinite(c) || typeof width !== 'number' || !(width > 0)) {
      problems.push('displayWindow must be { center: finite number, width: positive number }');
    }
  }
  const steps = r['steps'];
  if (!Array.isArray(steps) || steps.length === 0 || !steps.every(isNonEmptyString)) {
    problems.push('steps must be a non-empty list of step names');
  } else if (new Set(steps).size !== steps.length) {
    problems.push('steps must be unique');
  }
  const prior = r['prior'];
  if (prior !== undefined) problems.push(...priorRequestProblems(prior));
  if (typeof r['accepts'] !== 'function') problems.push('accepts must be a function');
  if (typeof r['run'] !== 'function') problems.push('run must be a function');
  return problems;
}

/** Throws MANIFEST_INVALID listing every problem at once. */
export function validateManifest(m: unknown): asserts m is AnalysisManifest {
  const problems = manifestProblems(m);
  if (problems.length > 0) {
    const id = typeof m === 'object' && m !== null ? (m as Record<string, unknown>)['id'] : undefined;
    throw new SrError('MANIFEST_INVALID', `analysis manifest ${JSON.stringify(id ?? '?')} is invalid: ${problems.join('; ')}`, {
      details: { id, problems },
    });
  }
}

/** Validates every manifest and rejects duplicate ids (ANALYSIS_DUPLICATE). Dependencies are passed in, never global. */
export function createRegistry(manifests: readonly unknown[]): AnalysisRegistry {
  const byId = new Map<string, AnalysisManifest>();
  const list: AnalysisManifest[] = [];
  for (const m of manifests) {
    validateManifest(m);
    if (byId.has(m.id)) {
      throw new SrError('ANALYSIS_DUPLICATE', `analysis ${m.id} is registered twice`, { details: { id: m.id } });
    }
    byId.set(m.id, m);
    list.push(m);
  }
  Object.freeze(list);
  return Object.freeze({ analyses: list, get: (id: string) => byId.get(id) });
}
