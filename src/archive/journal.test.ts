/**
 * The ingest journal (journal.ts, ADR 0007): torn tails are not replayed; after an unclean stop the records of a
 * process that is gone bring back exactly what it acknowledged (row + byte-identical blob), whatever of the
 * unsynced blob and commit survived; the journal is empty once stores are materialized and before a delete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log.ts';
import { createVolume } from '../imaging/volume.ts';
import { writeCtSeries } from '../dicom/index.ts';
import { IngestJournal, readSegment } from './journal.ts';
import type { JournalRecord, JournalTicket } from './journal.ts';
import { openArchive } from './index.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** A pid no process has (above Linux's largest pid_max, 2^22). */
function deadPid(): number {
  for (let pid = 4_194_400; ; pid++) {
    try {
      process.kill(pid, 0);
    } catch (e) {
      if ((e as { code?: unknown }).code === 'ESRCH') return pid;
    }
  }
}

async function series(dir: string, n: number): Promise<Array<{ bytes: Uint8Array; sop: string; study: string; series: string }>> {
  const vol = createVolume(new Int16Array(8 * 8 * n).map((_, i) => i % 50), { dims: [8, 8, n], spacing: [1, 1, 1] });
  const r = await writeCtSeries(vol, { outDir: dir, uidSeed: `journal-${n}`, patient: { PatientName: 'J^T', PatientID: 'PJ' } });
  return r.instances.map((inst) => {
    const b = readFileSync(inst.path);
    return { bytes: new Uint8Array(b.buffer, b.byteOffset, b.byteLength), sop: inst.SOPInstanceUID, study: r.StudyInstanceUID, series: r.SeriesInstanceUID };
  });
}

const keyOf = (x: { study: string; series: string; sop: string }): string => `instances/${x.study}/${x.series}/${x.sop}.dcm`;

/** Records appended as by a process that then stopped dead (tickets never settled), its folder named for a dead pid. */
async function crashedJournal(base: string, items: ReadonlyArray<{ bytes: Uint8Array; sop: string; study: string; series: string }>): Promise<string> {
  const j = new IngestJournal(base, { log: silentLogger, syncIndex: () => Promise.resolve(), syncBlob: () => Promise.resolve(), syncFolders: () => Promise.resolve() });
  const tickets: JournalTicket[] = [];
  for (const x of items) {
    const record: JournalRecord = { key: keyOf(x), sopInstanceUid: x.sop, sha256: sha(x.bytes), sizeBytes: x.bytes.byteLength, origin: { via: 'dimse', sourceAe: 'CT1' } };
    // Split payload, as the DIMSE writer hands it over.
    tickets.push(await j.append(record, [x.bytes.subarray(0, 100), x.bytes.subarray(100)]));
  }
  assert.equal(tickets.length, items.length);
  const dead = join(base, `${hostname().replace(/[^A-Za-z0-9._]/g, '_') || 'host'}-${deadPid()}-0123abcd`);
  renameSync(j.dir, dead);
  return dead;
}

test('journal: records read back in order; a torn tail is not replayed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  try {
    const items = await series(join(dir, 'src'), 3);
    const folder = await crashedJournal(join(dir, 'journal'), items);
    const seg = join(folder, readdirSync(folder)[0] as string);
    appendFileSync(seg, readFileSync(seg).subarray(0, 300)); // the start of a fourth record, cut by the crash
    const read: string[] = [];
    for await (const { record, bytes } of readSegment(seg)) {
      assert.equal(sha(bytes), record.sha256);
      read.push(record.sopInstanceUid);
    }
    assert.deepEqual(read, items.map((x) => x.sop));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal replay at open: lost rows and lost or partial blobs come back byte-identical; nothing else changes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  const dataDir = join(dir, 'data');
  try {
    const items = await series(join(dir, 'src'), 4);
    const [a, b, c] = items as [typeof items[0], typeof items[0], typeof items[0]];
    // State after a power loss: a's row and blob survived; b's row survived but its blob is cut short;
    // c's row was lost (unsynced commit) but its blob is whole; the fourth lost both.
    const first = await openArchive({ backend: 'sqlite', dataDir }, silentLogger);
    for (const x of [a, b, c]) await first.storeInstance({ bytes: x.bytes }, { via: 'dimse', sourceAe: 'CT1' });
    await first.db.run('DELETE FROM instances WHERE sop_uid = ?', [c.sop]); // the lost commit: row and count
    await first.db.run('UPDATE series SET instance_count = instance_count - 1 WHERE series_uid = ?', [c.series]);
    await first.close();
    truncateSync(join(dataDir, 'blobs', ...keyOf(b).split('/')), 1000);
    await crashedJournal(join(dataDir, 'journal'), items);

    const lines: string[] = [];
    const reopened = await openArchive({ backend: 'sqlite', dataDir, recovery: { instancesGraceMs: 0 } }, { ...silentLogger, warn: (m: string) => lines.push(m) });
    try {
      assert.equal(reopened.journalReplay?.records, 4);
      assert.ok(lines.includes('ingest journal replayed after an unclean stop'));
      for (const x of items) {
        const row = await reopened.getInstance(x.sop);
        assert.equal(row?.sha256, sha(x.bytes), `row of ${x.sop}`);
        assert.deepEqual(Buffer.from(await reopened.readInstance(x.sop)), Buffer.from(x.bytes), `bytes of ${x.sop}`);
      }
      assert.equal((await reopened.getSeries(a.series))?.instanceCount, 4);
      assert.deepEqual(reopened.recovery?.missingBlobs, []);
      assert.equal(reopened.recovery?.orphanBlobsRemoved, 0);
      assert.deepEqual(readdirSync(join(dataDir, 'journal')), [], 'replayed journals are removed');
    } finally {
      await reopened.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: empty once stores are materialized, flushed before a delete, folder removed at close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  const dataDir = join(dir, 'data');
  try {
    const items = await series(join(dir, 'src'), 5);
    const archive = await openArchive({ backend: 'sqlite', dataDir }, silentLogger);
    const journalDir = join(dataDir, 'journal');
    const segments = (): string[] => (existsSync(journalDir) ? readdirSync(journalDir, { recursive: true }).map(String).filter((n) => n.endsWith('.log')) : []);
    try {
      await Promise.all(items.map((x) => archive.storeInstance({ bytes: x.bytes }, { via: 'stow' })));
      assert.equal(segments().length, 1, 'the acknowledged stores are in the journal');
      assert.equal(await archive.deleteSeries((items[0] as { series: string }).series), 5);
      assert.deepEqual(segments(), [], 'a delete empties the journal first: nothing can resurrect the series');
      await archive.storeInstance({ bytes: (items[1] as { bytes: Uint8Array }).bytes }, { via: 'stow' });
    } finally {
      await archive.close();
    }
    assert.deepEqual(readdirSync(journalDir), [], 'closing removes the folder');
    const again = await openArchive({ backend: 'sqlite', dataDir }, silentLogger);
    try {
      assert.equal(again.journalReplay?.records, 0);
      assert.ok(await again.getInstance((items[1] as { sop: string }).sop));
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
