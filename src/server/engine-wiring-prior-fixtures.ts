/**
 * Builders for the server follow-up tests (engine-wiring-prior*.test.ts): a small follow-up phantom pair
 * (eval/phantoms/followup.ts) written as DICOM studies of chosen patients and dates, a chest-ct-nodules with
 * follow-up whose detector runs are counted per series, and a server on real SQLite with in-process workers.
 */
import { join } from 'node:path';
import { createLogger } from '../core/index.ts';
import { ingestFolder } from '../archive/index.ts';
import { writeCtSeries } from '../dicom/index.ts';
import { createRegistry } from '../engine/index.ts';
import type { AnalysisManifest } from '../engine/index.ts';
import type { Int16Volume } from '../imaging/index.ts';
import { chestCtNodules } from '../analyses/chest-ct-nodules/manifest.ts';
import { withFollowUp } from '../analyses/chest-ct-nodules/followup-manifest.ts';
import { generateFollowUpPair } from '../../eval/phantoms/followup.ts';
import type { FollowUpPair } from '../../eval/phantoms/followup.ts';
import { DEFAULT_CONFIG } from './config.ts';
import { startServer } from './runtime.ts';
import type { RunningServer } from './runtime.ts';
import { signInHttp, TEST_PASSWORD, waitFor } from './test-fixtures.ts';

/**
 * A small pair (96×96×72 at 3.4×3.4×3 mm, 4 nodules: grown, stable, new, resolved) so a chest run takes seconds on
 * a 2-core machine; seed < 1000-style string seed, not an evaluation seed.
 */
export function smallFollowUpPair(seed = 'server-prior-test'): FollowUpPair {
  return generateFollowUpPair({
    seed, dims: [96, 96, 72], spacingMm: [3.4, 3.4, 3], sliceThicknessMm: 3, noduleCount: 4, noduleDiameterRangeMm: [9, 18], maxRotationDeg: 1, maxTranslationMm: 4,
  });
}

export interface WrittenStudy {
  readonly dir: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/** One CT study (one series) of `volume` for PatientID `patientId` on `studyDate`, as the follow-up phantom writes it. */
export async function writeStudy(root: string, name: string, volume: Int16Volume, patientId: string, studyDate: string): Promise<WrittenStudy> {
  const dir = join(root, name);
  const w = await writeCtSeries(volume, {
    outDir: dir, uidSeed: `server-prior-test/${name}`, storage: 'signed', fileNaming: 'ordered', instanceOrder: 'position',
    patient: { PatientName: `Phantom^${patientId}`, PatientID: patientId, PatientSex: 'M', ageYears: 65 },
    study: { StudyDescription: `CT CHEST (synthetic ${name})`, StudyDate: studyDate, StudyID: name.slice(0, 16) },
    series: { SeriesDescription: `Chest 3 mm (synthetic ${name})`, BodyPartExamined: 'CHEST' },
    sliceThicknessMm: 3, window: { center: -600, width: 1500 },
  });
  return { dir, studyInstanceUid: w.StudyInstanceUID, seriesInstanceUid: w.SeriesInstanceUID };
}

/** YYYYMMDD `days` after `da`. */
export function addDays(da: string, days: number): string {
  const t = Date.UTC(Number(da.slice(0, 4)), Number(da.slice(4, 6)) - 1, Number(da.slice(6, 8))) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10).replace(/-/g, '');
}

export interface CountingServer {
  readonly server: RunningServer;
  readonly headers: Record<string, string>;
  /** Detector (base chest-ct-nodules `run`) calls per SeriesInstanceUID: the prior's count shows whether it was re-analysed. */
  readonly detectorRuns: Map<string, number>;
  /** Log lines (JSON) of the server. */
  readonly logLines: string[];
  /** Stores a written study in the archive; the stable-series poller queues its jobs. */
  ingest(study: WrittenStudy): Promise<void>;
  /** The stored chest-ct-nodules result document of a series, once there (and its record's id and createdAt). */
  result(seriesInstanceUid: string, timeoutMs?: number): Promise<StoredResult>;
}

export type Json = Record<string, unknown>;
export interface StoredResult {
  readonly id: string;
  readonly createdAt: string;
  readonly jobId: string | null;
  readonly document: { findings: Json[]; measurements: Json };
}

/** A server on real SQLite, in-process workers, with withFollowUp(chest-ct-nodules) whose detector runs are counted. */
export async function startCountingServer(dataDir: string): Promise<CountingServer> {
  const detectorRuns = new Map<string, number>();
  const counted: AnalysisManifest = {
    ...chestCtNodules,
    run: (ctx) => {
      detectorRuns.set(ctx.header.seriesInstanceUid, (detectorRuns.get(ctx.header.seriesInstanceUid) ?? 0) + 1);
      return chestCtNodules.run(ctx);
    },
  };
  const logLines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => logLines.push(l) });
  const server = await startServer({
    config: { ...DEFAULT_CONFIG, dataDir, httpPort: 0, dicomPort: 0, stableQuietSeconds: 1, logLevel: 'warn', demo: false, workers: 1 },
    registry: createRegistry([withFollowUp(counted)]), log, adminPassword: TEST_PASSWORD,
  });
  const headers = await signInHttp(server.httpUrl);
  return {
    server, headers, detectorRuns, logLines,
    async ingest(study) {
      const s = await ingestFolder(server.archive, [study.dir], { origin: { via: 'import', sourceAe: 'TESTSCU' } });
      if (s.stored === 0) throw new Error(`nothing stored from ${study.dir}`);
    },
    async result(seriesInstanceUid, timeoutMs = 50_000) {
      return waitFor(`the chest result of ${seriesInstanceUid}`, async () => {
        const r = await fetch(`${server.httpUrl}/api/v1/results?series=${seriesInstanceUid}`, { headers });
        const items = ((await r.json()) as { items?: Json[] }).items ?? [];
        const x = items.find((i) => i['analysisId'] === 'chest-ct-nodules');
        return x ? { id: String(x['id']), createdAt: String(x['createdAt']), jobId: (x['jobId'] as string | null) ?? null, document: x['document'] as StoredResult['document'] } : undefined;
      }, timeoutMs, { intervalMs: 100, context: () => logLines.filter((l) => l.includes('"error"') || l.includes('"warn"')).slice(-5).join('\n') });
    },
  };
}
