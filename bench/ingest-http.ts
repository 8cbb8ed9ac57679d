/**
 * The HTTP halves of the ingest bench: QIDO-RS latency over an index of many instances, and WADO-RS frame
 * throughput. Latency is measured one request at a time (what one user's worklist sees); frames are fetched a few
 * at a time, as a viewer does.
 */
import { openArchive } from '../src/archive/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { tinyInstanceFactory } from './ingest-synth.ts';
import type { SourceInstance, TinySpec } from './ingest-synth.ts';

/** Layout of the synthetic index: 25 instances per series, 2 series per study, 2 studies per patient. */
export const QIDO_LAYOUT = { instancesPerSeries: 25, seriesPerStudy: 2, studiesPerPatient: 2 } as const;
const ROOT = '1.2.826.0.1.3680043.10.1199';

function specOf(i: number): TinySpec {
  const perStudy = QIDO_LAYOUT.instancesPerSeries * QIDO_LAYOUT.seriesPerStudy;
  const study = Math.floor(i / perStudy);
  const series = Math.floor((i % perStudy) / QIDO_LAYOUT.instancesPerSeries);
  // Study dates spread over 2010–2023, one per study, deterministic.
  const day = (study * 7919) % (14 * 365);
  const d = new Date(Date.UTC(2010, 0, 1) + day * 86_400_000);
  const studyDate = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return {
    patient: Math.floor(study / QIDO_LAYOUT.studiesPerPatient), study, series, instance: i % QIDO_LAYOUT.instancesPerSeries,
    studyDate, modality: series === 0 ? 'CT' : 'MR',
  };
}

/** Stores `count` tiny instances through the archive API (parallel stores); returns the seconds it took. */
export async function populateIndex(dataDir: string, count: number, onProgress?: (done: number) => void): Promise<number> {
  const make = tinyInstanceFactory();
  const archive = await openArchive({ backend: 'sqlite', dataDir }, silentLogger);
  const t0 = performance.now();
  try {
    let next = 0;
    let done = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const i = next++;
        await archive.storeInstance({ bytes: make(specOf(i)) }, { via: 'import', sourceAe: 'BENCH' });
        if (++done % 5000 === 0) onProgress?.(done);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
  } finally {
    await archive.close();
  }
  return (performance.now() - t0) / 1000;
}

export interface LatencyRow {
  readonly label: string;
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly meanRows: number;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

function row(label: string, times: number[], rows: number[]): LatencyRow {
  const s = [...times].sort((a, b) => a - b);
  return { label, n: s.length, p50: quantile(s, 0.5), p95: quantile(s, 0.95), p99: quantile(s, 0.99), meanRows: rows.reduce((a, b) => a + b, 0) / Math.max(1, rows.length) };
}

/** A deterministic pseudo-random sequence (the query mix is the same on every run). */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

/** ~`total` QIDO-RS queries in five kinds over an index made by populateIndex(count); per kind and overall. */
export async function qidoLatency(baseUrl: string, count: number, total: number, auth: Readonly<Record<string, string>> = {}): Promise<LatencyRow[]> {
  const studies = Math.max(1, Math.floor(count / (QIDO_LAYOUT.instancesPerSeries * QIDO_LAYOUT.seriesPerStudy)));
  const patients = Math.max(1, Math.floor(studies / QIDO_LAYOUT.studiesPerPatient));
  const rnd = lcg(20240102);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const pad = (v: number, w: number): string => String(v).padStart(w, '0');
  const studyUid = (s: number): string => `${ROOT}.1.${pad(s, 7)}`;
  const kinds: Array<[string, () => string]> = [
    ['studies by PatientID', () => `/studies?PatientID=PID${pad(pick(patients), 6)}`],
    // A 4-digit prefix: ~10 patients (20 studies) per query at 100k instances.
    ['studies by PatientName wildcard', () => `/studies?PatientName=${encodeURIComponent(`bench^pat${pad(pick(patients), 6).slice(0, 5)}*`)}&limit=100`],
    ['studies by StudyDate range (1 month)', () => {
      const y = 2010 + pick(14);
      const m = 1 + pick(12);
      return `/studies?StudyDate=${y}${pad(m, 2)}01-${y}${pad(m, 2)}31&limit=100`;
    }],
    ['series of a study', () => `/studies/${studyUid(pick(studies))}/series`],
    ['instances of a series', () => {
      const s = pick(studies);
      return `/studies/${studyUid(s)}/series/${ROOT}.2.${pad(s, 7)}.${pick(QIDO_LAYOUT.seriesPerStudy)}/instances`;
    }],
  ];
  const get = async (path: string): Promise<{ ms: number; rows: number }> => {
    const t = performance.now();
    const res = await fetch(`${baseUrl}${path}`, { headers: { ...auth, accept: 'application/dicom+json' } });
    const text = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200 && res.status !== 204) throw new Error(`QIDO ${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
    return { ms, rows: text ? (JSON.parse(text) as unknown[]).length : 0 };
  };
  for (let i = 0; i < 25; i++) await get((kinds[i % kinds.length]?.[1] ?? (() => '/studies'))()); // warm-up
  const per = Math.max(1, Math.round(total / kinds.length));
  const all: number[] = [];
  const allRows: number[] = [];
  const out: LatencyRow[] = [];
  const times = kinds.map(() => [] as number[]);
  const rowsBy = kinds.map(() => [] as number[]);
  // Interleaved, so a burst of load on the machine hits every kind alike.
  for (let i = 0; i < per * kinds.length; i++) {
    const k = i % kinds.length;
    const r = await get((kinds[k]?.[1] ?? (() => '/studies'))());
    times[k]?.push(r.ms);
    rowsBy[k]?.push(r.rows);
    all.push(r.ms);
    allRows.push(r.rows);
  }
  kinds.forEach(([label], k) => out.push(row(label, times[k] ?? [], rowsBy[k] ?? [])));
  out.push(row('all queries', all, allRows));
  return out;
}

export interface FrameThroughput {
  readonly frames: number;
  readonly seconds: number;
  readonly bytes: number;
}

/** GET .../frames/1 of every instance, `parallel` at a time; every response is read to the end and checked. */
export async function wadoFrames(dicomWebRoot: string, instances: readonly SourceInstance[], parallel = 4, auth: Readonly<Record<string, string>> = {}): Promise<FrameThroughput> {
  const fetchOne = async (s: SourceInstance): Promise<number> => {
    const url = `${dicomWebRoot}/studies/${s.studyInstanceUid}/series/${s.seriesInstanceUid}/instances/${s.sopInstanceUid}/frames/1`;
    const res = await fetch(url, { headers: { ...auth, accept: 'multipart/related; type="application/octet-stream"' } });
    const body = await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`WADO-RS frames ${url}: HTTP ${res.status} ${Buffer.from(body).toString('utf8', 0, 200)}`);
    return body.byteLength;
  };
  for (const s of instances.slice(0, 4)) await fetchOne(s); // warm-up (connections, first reads)
  let next = 0;
  let bytes = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < instances.length) {
      const s = instances[next++];
      if (!s) continue;
      const n = await fetchOne(s);
      bytes += n;
    }
  }));
  return { frames: instances.length, seconds: (performance.now() - t0) / 1000, bytes };
}
