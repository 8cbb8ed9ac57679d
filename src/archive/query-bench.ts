/**
 * QIDO latency at 100k instances on both back ends: fills a fresh index with synthetic rows (1,000 patients,
 * 2,000 studies, 4,000 series, 100,000 instances; no blobs) and times the common QIDO queries.
 * Run: node --import tsx src/archive/query-bench.ts [sqlite|postgres]. Figures go to docs/adr/0004.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log.ts';
import { openPostgres, openSqlite, type SqlDb } from './db.ts';
import { migrate } from './schema.ts';
import { SqlArchive } from './sql-archive.ts';
import { FsBlobStore } from './blob-store.ts';
import type { QueryRequest } from './types.ts';

const backend = process.argv[2] === 'postgres' ? 'postgres' : 'sqlite';
const dir = mkdtempSync(join(tmpdir(), 'sr-qbench-'));
const schema = `sr_bench_${process.pid}`;
const db: SqlDb = backend === 'sqlite' ? openSqlite(join(dir, 'index.sqlite')) : await openPostgres('postgres://postgres@127.0.0.1:5432/test', schema);
try {
  await migrate(db);
  const now = new Date().toISOString();
  const t0 = Date.now();
  await db.tx(async (q) => {
    for (let s = 0; s < 2000; s++) {
      const pid = `PID${String(s % 1000).padStart(5, '0')}`;
      const name = `PATIENT${s % 1000}^GIVEN`;
      const study = `1.2.826.0.1.${s}`;
      const date = `20${String(10 + (s % 14)).padStart(2, '0')}${String(1 + (s % 12)).padStart(2, '0')}15`;
      if (s < 1000) await q.run('INSERT INTO patients (patient_id, patient_name, patient_name_norm, created_at) VALUES (?, ?, ?, ?)', [pid, name, name, now]);
      await q.run(`INSERT INTO studies (study_uid, patient_id, patient_name, patient_name_norm, study_date, study_time, accession_number, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, [study, pid, name, name, date, '101500', `ACC${s}`, now]);
      for (let k = 0; k < 2; k++) {
        const series = `${study}.${k}`;
        await q.run(`INSERT INTO series (series_uid, study_uid, modality, series_number, instance_count, first_received_at, last_received_at, stable_at)
          VALUES (?, ?, ?, ?, 25, ?, ?, ?)`, [series, study, k === 0 ? 'CT' : 'SR', k + 1, now, now, now]);
        for (let i = 0; i < 25; i++) {
          await q.run(`INSERT INTO instances (sop_uid, series_uid, study_uid, patient_id, sop_class_uid, instance_number, n_rows, n_columns,
            number_of_frames, transfer_syntax_uid, size_bytes, sha256, blob_key, received_at, origin_via)
            VALUES (?, ?, ?, ?, ?, ?, 512, 512, 1, ?, 525000, ?, ?, ?, ?)`,
          [`${series}.${i}`, series, study, pid, '1.2.840.10008.5.1.4.1.1.2', i + 1, '1.2.840.10008.1.2.1', 'x', `instances/${study}/${series}/${series}.${i}.dcm`, now, 'import']);
        }
      }
    }
  });
  if (backend === 'postgres') await db.run('ANALYZE');
  console.log(`${backend}: filled 100,000 instances in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const archive = new SqlArchive(db, new FsBlobStore(dir), silentLogger);
  const cases: Array<[string, QueryRequest]> = [
    ['studies, no filter, limit 100', { level: 'STUDY', match: {}, limit: 100 }],
    ['studies by PatientName prefix', { level: 'STUDY', match: { PatientName: 'patient12*' }, limit: 1000 }],
    ['studies by PatientID', { level: 'STUDY', match: { PatientID: 'PID00420' } }],
    ['studies by date range + modality', { level: 'STUDY', match: { StudyDate: '20150101-20151231', ModalitiesInStudy: 'CT' }, limit: 1000 }],
    ['series of a study', { level: 'SERIES', match: { StudyInstanceUID: '1.2.826.0.1.777' } }],
    ['instances of a series', { level: 'INSTANCE', match: { SeriesInstanceUID: '1.2.826.0.1.777.0' } }],
    ['instances of a study', { level: 'INSTANCE', match: { StudyInstanceUID: '1.2.826.0.1.777' } }],
  ];
  for (const [label, req] of cases) {
    const times: number[] = [];
    let rows = 0;
    for (let i = 0; i < 60; i++) {
      const t = process.hrtime.bigint();
      rows = (await archive.query(req)).length;
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    times.sort((a, b) => a - b);
    console.log(`${label.padEnd(36)} rows ${String(rows).padStart(4)}  p50 ${(times[30] ?? 0).toFixed(2)} ms  p95 ${(times[56] ?? 0).toFixed(2)} ms`);
  }
} finally {
  if (backend === 'postgres') await db.run(`DROP SCHEMA "${schema}" CASCADE`);
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
