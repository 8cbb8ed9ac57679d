import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../core/log.ts';
import { archiveSuite } from './archive-suite.ts';
import { openArchive } from './index.ts';
import { compileQuery } from './query.ts';
import { openSqlite } from './db.ts';

archiveSuite('sqlite', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sr-archive-sqlite-'));
  return Promise.resolve({
    blobDir: join(dataDir, 'blobs'),
    open: (o = {}) => openArchive({ backend: 'sqlite', dataDir, ...(o.recovery !== undefined ? { recovery: o.recovery } : {}) }, o.log ?? silentLogger),
    cleanup: () => Promise.resolve(rmSync(dataDir, { recursive: true, force: true })),
  });
});

test('sqlite: WAL + synchronous FULL, and the QIDO hot paths use indexes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sr-archive-sqlite-plan-'));
  try {
    const a = await openArchive({ backend: 'sqlite', dataDir }, silentLogger);
    await a.close();
    const db = new Database(join(dataDir, 'index.sqlite'));
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      const dialect = openSqlite(':memory:');
      const plan = (level: 'STUDY' | 'SERIES' | 'INSTANCE', match: Record<string, string>): string => {
        const q = compileQuery({ level, match, limit: 100 }, dialect.dialect);
        return (db.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as Array<{ detail: string }>).map((r) => r.detail).join(' | ');
      };
      await dialect.close();
      assert.match(plan('STUDY', { PatientID: 'P1' }), /USING INDEX studies_patient_id/);
      assert.match(plan('STUDY', { PatientName: 'DOE*' }), /USING INDEX studies_name/);
      assert.match(plan('STUDY', { StudyDate: '20200101-20201231' }), /USING INDEX studies_date/);
      assert.match(plan('STUDY', { AccessionNumber: 'A1' }), /USING INDEX studies_accession/);
      assert.match(plan('STUDY', { StudyInstanceUID: '1.2\\1.3' }), /USING INDEX sqlite_autoindex_studies_1/);
      assert.match(plan('SERIES', { StudyInstanceUID: '1.2' }), /USING INDEX series_study/);
      assert.match(plan('INSTANCE', { SeriesInstanceUID: '1.2' }), /USING INDEX instances_series/);
      // Newest studies first, straight from the index: no sort of the whole table.
      assert.doesNotMatch(plan('STUDY', {}), /USE TEMP B-TREE FOR .*ORDER BY/);
    } finally {
      db.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
