/**
 * `npm run bench:wado-metadata`: latency of WADO-RS series metadata (GET /studies/{s}/series/{r}/metadata), the
 * request a viewer's first image waits on (issues #5, #7). A synthetic CT series (default 300 slices, 512×512) is
 * stored in a temp SQLite archive served in-process by the DICOMweb plugin (fastify inject: no sockets, so the
 * figures are the server's work only). Prints p50/p95 per call:
 *  - cold: the metadata cache emptied before each call (every header read and parsed again; the files stay in the
 *    OS page cache, so this is parse cost, not disk latency);
 *  - warm: repeated calls with the cache filled.
 * With --cache-mb 0 both are the uncached path. Options: --slices N, --size N (rows = columns), --cold N, --warm N,
 * --concurrency N (header reads at once on misses).
 * Nothing is asserted.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import { ingestFolder, openArchive } from '../src/archive/index.ts';
import { silentLogger } from '../src/core/index.ts';
import { writeCtSeries } from '../src/dicom/index.ts';
import { registerDicomWeb } from '../src/dicomweb/index.ts';
import { DEFAULT_MAX_BYTES, configureMetadataCache } from '../src/dicomweb/metadata-cache.ts';
import { createVolume } from '../src/imaging/index.ts';

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      slices: { type: 'string', default: '300' }, size: { type: 'string', default: '512' },
      cold: { type: 'string', default: '15' }, warm: { type: 'string', default: '40' }, 'cache-mb': { type: 'string' }, concurrency: { type: 'string' },
    },
  });
  const slices = Number(values.slices), n = Number(values.size), coldRuns = Number(values.cold), warmRuns = Number(values.warm);
  const maxBytes = values['cache-mb'] === undefined ? DEFAULT_MAX_BYTES : Number(values['cache-mb']) * 1024 * 1024;
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  const opts = { maxBytes, ...(concurrency ? { concurrency } : {}) };
  const dir = await mkdtemp(join(tmpdir(), 'sr-bench-wado-md-'));
  const archive = await openArchive({ backend: 'sqlite', dataDir: join(dir, 'data') }, silentLogger);
  const app = Fastify({ logger: false });
  try {
    process.stderr.write(`writing a ${slices}-slice ${n}×${n} CT...\n`);
    const data = new Int16Array(n * n * slices);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) >>> 20) % 200 - 100;
    const written = await writeCtSeries(createVolume(data, { dims: [n, n, slices], spacing: [0.7, 0.7, 1], origin: [0, 0, 0] }), {
      outDir: join(dir, 'ct'), uidSeed: 'bench-wado-metadata', patient: { PatientName: 'Bench^Metadata', PatientID: 'BENCH-MD' },
      study: { StudyDescription: 'bench wado metadata' }, series: { SeriesDescription: `${slices} slices` },
    });
    await ingestFolder(archive, [join(dir, 'ct')], { origin: { via: 'import', sourceAe: 'BENCH' } });
    await app.register(registerDicomWeb, { prefix: '/dicom-web', archive, log: silentLogger, maxUploadBytes: 1 << 20 });
    await app.ready();
    const url = `/dicom-web/studies/${written.StudyInstanceUID}/series/${written.SeriesInstanceUID}/metadata`;
    const call = async (): Promise<{ ms: number; bytes: number }> => {
      const t = performance.now();
      const r = await app.inject({ method: 'GET', url });
      const ms = performance.now() - t;
      if (r.statusCode !== 200) throw new Error(`${r.statusCode}: ${r.body.slice(0, 200)}`);
      const count = (r.json() as unknown[]).length;
      if (count !== slices) throw new Error(`${count} instances in the response, ${slices} stored`);
      return { ms, bytes: r.rawPayload.length };
    };
    await call(); // JIT, SQLite statement cache
    const cold: number[] = [];
    let bytes = 0;
    for (let i = 0; i < coldRuns; i++) {
      configureMetadataCache(archive, opts); // a new, empty cache
      const r = await call();
      cold.push(r.ms);
      bytes = r.bytes;
    }
    const cache = configureMetadataCache(archive, opts);
    await call();
    const warm: number[] = [];
    for (let i = 0; i < warmRuns; i++) warm.push((await call()).ms);
    const f = (x: number) => x.toFixed(1).padStart(7);
    const st = cache.stats();
    console.log(`WADO-RS series metadata, ${slices} instances (${n}×${n}), response ${(bytes / 1024).toFixed(0)} KiB, cache ${(maxBytes / 2 ** 20).toFixed(0)} MiB, ${cache.concurrency} reads at once`);
    console.log(`  cold (cache emptied each call, ${coldRuns} calls): p50 ${f(pct(cold, 50))} ms  p95 ${f(pct(cold, 95))} ms`);
    console.log(`  warm (${warmRuns} calls):                          p50 ${f(pct(warm, 50))} ms  p95 ${f(pct(warm, 95))} ms`);
    console.log(`  cache after warm calls: ${st.entries} entries, ${(st.bytes / 2 ** 20).toFixed(2)} MiB, hits ${st.hits}, misses ${st.misses}`);
  } finally {
    await app.close();
    await archive.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
