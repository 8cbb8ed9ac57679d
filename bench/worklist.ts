/**
 * `npm run bench:worklist`: the radiologist worklist (GET /api/v1/review/worklist) over a large archive. A temp
 * SQLite archive (or PostgreSQL with --pg URL) is seeded directly in its index tables with N studies (default
 * 5,000), each with one CT series and one AI result (10 % critical: hemorrhage or Lung-RADS 4B); 50 jobs are queued.
 * The route runs on a bare fastify instance (the signed-in user set by a hook, as in routes-review.test.ts) and is
 * timed with `inject` for: the first call (fills the triage cache), the default page, a deep page, search, the
 * critical filter and the AI status filter. p50/p95 per case are printed and written to bench-out/worklist.json;
 * nothing is asserted.
 * Options: --studies N, --runs R (default 30), --pg postgres://... (a throw-away schema is created and dropped).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Fastify from 'fastify';
import pg from 'pg';
import { silentLogger } from '../src/core/index.ts';
import { openArchive } from '../src/archive/index.ts';
import type { OpenedArchive } from '../src/archive/index.ts';
import type { SqlValue } from '../src/archive/db.ts';
import { createRegistry } from '../src/engine/index.ts';
import { createSqliteJobQueue } from '../src/jobs/index.ts';
import { setRequestUser } from '../src/server/auth/context.ts';
import type { ApiDeps } from '../src/server/route-def.ts';
import { REVIEW_ROUTES } from '../src/server/routes-review.ts';

const ROOT = join(import.meta.dirname, '..');
const { values: opts } = parseArgs({ options: { studies: { type: 'string', default: '5000' }, runs: { type: 'string', default: '30' }, pg: { type: 'string' } } });
const N = Number(opts.studies);
const RUNS = Number(opts.runs);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

async function seed(archive: OpenedArchive): Promise<void> {
  const db = archive.db;
  const now = new Date().toISOString();
  const CHUNK = 200;
  for (let i0 = 0; i0 < N; i0 += CHUNK) {
    const st: SqlValue[] = [], se: SqlValue[] = [], rs: SqlValue[] = [];
    const n = Math.min(CHUNK, N - i0);
    for (let i = i0; i < i0 + n; i++) {
      const uid = `2.25.${1000000 + i}`;
      const name = `PATIENT^${String(i).padStart(5, '0')}`;
      const date = `2026${String(1 + (i % 12)).padStart(2, '0')}${String(1 + (i % 28)).padStart(2, '0')}`;
      st.push(uid, `P${i}`, name, name.toUpperCase(), date, String(80000 + (i % 1000)), `ACC${i}`, i % 2 ? 'CT CHEST' : 'CT HEAD', now);
      se.push(`${uid}.1`, uid, 'CT', 300, now, now, 'BENCHSCU');
      const critical = i % 10 === 0;
      const head = i % 2 === 0;
      const doc = head
        ? { findings: critical ? [{ id: 'b1', kind: 'hemorrhage', type: 'subdural', centerMm: [0, 0, 0], probability: 0.9 }] : [], measurements: { midlineShiftMm: 0 } }
        : { findings: [{ id: 'n1', kind: 'lung-nodule', centerMm: [0, 0, 0], probability: 0.5 }], measurements: { lungRads: { category: critical ? '4B' : '2' } } };
      rs.push(`r-${i}`, head ? 'head-ct-hemorrhage' : 'chest-ct-nodules', '1.0.0', uid, `${uid}.1`, 'ok', JSON.stringify(doc), '{}', now);
    }
    await db.tx(async (q) => {
      await q.run(`INSERT INTO studies (study_uid, patient_id, patient_name, patient_name_norm, study_date, study_time, accession_number, study_description, created_at)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`, st);
      await q.run(`INSERT INTO series (series_uid, study_uid, modality, instance_count, first_received_at, last_received_at, source_ae)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`, se);
      await q.run(`INSERT INTO results (id, analysis_id, analysis_version, study_uid, series_uid, status, document, attachments, created_at)
        VALUES ${Array.from({ length: n }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`, rs);
    });
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sr-bench-worklist-'));
  const schema = `sr_bench_worklist_${process.pid}`;
  const archive = opts.pg
    ? await openArchive({ backend: 'postgres', connectionString: opts.pg, schema, blobDir: join(dir, 'blobs') }, silentLogger)
    : await openArchive({ backend: 'sqlite', dataDir: join(dir, 'data') }, silentLogger);
  const queue = createSqliteJobQueue({ db: join(dir, 'jobs.sqlite'), log: silentLogger });
  try {
    const t0 = performance.now();
    await seed(archive);
    for (let i = 0; i < 50; i++) {
      await queue.enqueue({ analysisId: 'chest-ct-nodules', analysisVersion: '1.0.0', studyInstanceUid: `2.25.${1000000 + i * 7}`, seriesInstanceUid: `2.25.${1000000 + i * 7}.1`, trigger: 'auto' });
    }
    const seedMs = performance.now() - t0;
    const app = Fastify({ logger: false });
    app.addHook('onRequest', async (req) => setRequestUser(req, { id: 'u-bench', username: 'bench', role: 'radiologist' }));
    const deps = { archive, queue, registry: createRegistry([]), log: silentLogger } as Omit<ApiDeps, 'auth'> as ApiDeps;
    await app.register(async (api) => {
      for (const r of REVIEW_ROUTES) api.route({ method: r.method, url: r.url, schema: r.schema, handler: r.handler(deps) });
    }, { prefix: '/api/v1' });
    const call = async (qs: string): Promise<{ ms: number; total: number }> => {
      const t = performance.now();
      const res = await app.inject({ method: 'GET', url: `/api/v1/review/worklist?${qs}` });
      const ms = performance.now() - t;
      if (res.statusCode !== 200) throw new Error(`worklist ${qs}: ${res.statusCode} ${res.body}`);
      return { ms, total: (res.json() as { total: number }).total };
    };
    const first = await call('');
    const cases: Record<string, string> = {
      'default page (200)': '', 'deep page (offset 4000, 100)': 'offset=4000&limit=100', 'search "00042"': 'q=00042',
      'critical only': 'critical=true', 'status=queued': 'status=queued', 'status=done': 'status=done',
    };
    const out: Record<string, { p50Ms: number; p95Ms: number; total: number }> = {};
    for (const [name, qs] of Object.entries(cases)) {
      const times: number[] = [];
      let total = 0;
      for (let i = 0; i < RUNS; i++) {
        const r = await call(qs);
        times.push(r.ms);
        total = r.total;
      }
      out[name] = { p50Ms: Math.round(pct(times, 50) * 10) / 10, p95Ms: Math.round(pct(times, 95) * 10) / 10, total };
    }
    await app.close();
    const report = { backend: opts.pg ? 'postgres' : 'sqlite', studies: N, runs: RUNS, seedMs: Math.round(seedMs), firstCallMs: Math.round(first.ms), cases: out };
    console.log(`worklist over ${N} studies (${report.backend}); first call (triage cache filled) ${report.firstCallMs} ms`);
    for (const [name, r] of Object.entries(out)) console.log(`  ${name.padEnd(30)} p50 ${String(r.p50Ms).padStart(7)} ms  p95 ${String(r.p95Ms).padStart(7)} ms  total ${r.total}`);
    await mkdir(join(ROOT, 'bench-out'), { recursive: true });
    await writeFile(join(ROOT, 'bench-out', 'worklist.json'), `${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await queue.close();
    await archive.close();
    if (opts.pg) {
      const c = new pg.Client({ connectionString: opts.pg });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => c.end());
    }
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
