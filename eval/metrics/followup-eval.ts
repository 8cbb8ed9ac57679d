/**
 * `secondreader eval followup --cases N --seed S [--dir DIR]`: writes N follow-up pairs (eval/phantoms/followup.ts)
 * as DICOM, runs chest-ct-nodules on each current study with its prior (`analyzePaths` with `priorPaths`, the
 * same path as `analyze <current> --prior <prior>`), reads findings.json back and prints the follow-up metrics
 * (eval/metrics/followup.ts); DIR/eval-report.json keeps every number.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry } from '../../src/engine/index.ts';
import type { AnalysisManifest } from '../../src/engine/index.ts';
import { analyzePaths } from '../../src/cli/analyze.ts';
import type { FollowUpPairWriteResult } from '../phantoms/followup.ts';
import { computeFollowUpMetrics, formatFollowUpMetrics } from './followup.ts';
import type { FollowUpCaseInput, FollowUpFindingLike } from './followup.ts';

export const FOLLOWUP_ANALYSIS_ID = 'chest-ct-nodules';

export interface FollowUpEvalDeps {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly cwd?: string;
  readonly analyses?: readonly AnalysisManifest[];
  /** Pair writer (tests pass small pairs). Default: eval/phantoms/followup.ts writeFollowUpPairs. */
  readonly writeFollowUpPairs?: (outDir: string, options: { seed: number; cases: number }) => Promise<readonly FollowUpPairWriteResult[]>;
}

export interface FollowUpEvalOptions {
  readonly cases: number;
  readonly seed: number;
  readonly dir: string | undefined;
  readonly threshold: number;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export async function evaluateFollowUp(options: FollowUpEvalOptions, deps: FollowUpEvalDeps): Promise<{ exitCode: number; report: Record<string, unknown> }> {
  const out = deps.stdout;
  const manifests = deps.analyses ?? ((await import('../../src/analyses/index.ts')) as { ANALYSES: readonly AnalysisManifest[] }).ANALYSES;
  const manifest = manifests.find((m) => m.id === FOLLOWUP_ANALYSIS_ID);
  if (!manifest) {
    deps.stderr.write(`analysis not registered: ${FOLLOWUP_ANALYSIS_ID}; nothing to evaluate\n`);
    return { exitCode: 2, report: { error: 'analysis not registered', analysis: FOLLOWUP_ANALYSIS_ID } };
  }
  const dir = options.dir ? resolve(deps.cwd ?? process.cwd(), options.dir) : await mkdtemp(join(tmpdir(), 'sr-eval-followup-'));
  await mkdir(dir, { recursive: true });
  const casesDir = join(dir, 'cases');
  out.write(`writing ${options.cases} follow-up pair(s), seed ${options.seed}, to ${casesDir}\n`);
  const write = deps.writeFollowUpPairs ?? (await import('../phantoms/followup.ts')).writeFollowUpPairs;
  const pairs = await write(casesDir, { seed: options.seed, cases: options.cases });
  const inputs: FollowUpCaseInput[] = [];
  const runs: Record<string, unknown>[] = [];
  let failed = 0;
  for (const [i, p] of pairs.entries()) {
    const caseId = `pair-${String(i + 1).padStart(4, '0')}`;
    const t0 = performance.now();
    const res = await analyzePaths({ paths: [p.currentDicomDir], priorPaths: [p.priorDicomDir], outDir: join(dir, 'findings', caseId), registry: createRegistry([manifest]) });
    const wallMs = performance.now() - t0;
    const r = res.document.analyses.find((a) => a.analysis === manifest.id && a.status === 'ok') ?? res.document.analyses.find((a) => a.analysis === manifest.id);
    if (!r || r.status === 'failed') failed++;
    const fu = (r?.measurements['followUp'] ?? {}) as Record<string, unknown>;
    const reg = (fu['registration'] ?? {}) as Record<string, unknown>;
    const matrix = Array.isArray(reg['matrix']) && reg['matrix'].length === 16 ? (reg['matrix'] as number[]) : undefined;
    const regMs = num(reg['timeMs']);
    const priorReported = Array.isArray(fu['priorNodules'])
      ? (fu['priorNodules'] as { centerMm?: unknown }[]).flatMap((q) => (Array.isArray(q.centerMm) ? [q.centerMm as number[]] : []))
      : undefined;
    inputs.push({
      caseId, truth: p.truth, findings: (r?.findings ?? []) as unknown as FollowUpFindingLike[],
      ...(matrix ? { matrix } : {}), ...(regMs !== undefined ? { registrationMs: regMs } : {}),
      ...(priorReported ? { priorReported } : {}),
    });
    const counts = fu['counts'];
    runs.push({ caseId, status: r?.status ?? 'missing', compared: fu['compared'] === true, reason: fu['reason'] ?? r?.reason ?? null, counts: counts ?? null, wallMs: Math.round(wallMs), registrationMs: regMs ?? null });
    out.write(`  ${caseId}: ${r?.status ?? 'missing'}, follow-up ${fu['compared'] === true ? `compared ${JSON.stringify(counts)}` : `not compared (${String(fu['reason'] ?? r?.reason ?? '?')})`}, ${(wallMs / 1000).toFixed(1)} s\n`);
  }
  // The shared --threshold defaults to 0 (all findings, for FROC); follow-up counts reported nodules: 0.5 then.
  const metrics = computeFollowUpMetrics(inputs, options.threshold > 0 ? options.threshold : 0.5);
  out.write(`\n${manifest.id}@${manifest.version} follow-up on ${pairs.length} phantom pair(s), seed ${options.seed}${failed ? `, ${failed} FAILED` : ''}\n\n`);
  out.write(formatFollowUpMetrics(metrics) + '\n');
  const report: Record<string, unknown> = { target: 'followup', analysis: { id: manifest.id, version: manifest.version }, mode: 'phantom', seed: options.seed, cases: options.cases, runs, metrics };
  const reportPath = join(dir, 'eval-report.json');
  await writeFile(reportPath, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  out.write(`\nreport: ${reportPath}\n`);
  return { exitCode: failed > 0 ? 1 : 0, report };
}
