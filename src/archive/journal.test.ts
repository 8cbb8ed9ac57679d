/**
 * The ingest journal (journal.ts, ADR 0007): torn tails are not replayed; after an unclean stop the records of a
 * process that is gone bring back exactly what it acknowledged (row + byte-identical blob), whatever of the
 * unsynced blob and commit survived; the journal is empty once stores are materialized and before a delete.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../core/log.ts';
import { createVolume } from '../imaging/volume.ts';
import { writeCtSeries } from '../dicom/index.ts';
import { IngestJournal, readSegment, replayJournals } from './journal.ts';
import { hostTag } from '../core/process.ts';
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

/** Synthetic records (the journal does not parse payloads): `n` random payloads of `size` bytes. */
function synthetic(n: number, size: number, tag: string): Array<{ record: JournalRecord; payload: Buffer }> {
  return Array.from({ length: n }, (_, i) => {
    const payload = randomBytes(size);
    const sop = `1.2.826.0.1.${tag}.${i}`;
    return { record: { key: `instances/1.2/1.2.3/${sop}.dcm`, sopInstanceUid: sop, sha256: sha(payload), sizeBytes: size, origin: { via: 'stow' } }, payload };
  });
}

const quietDeps = { log: silentLogger, syncIndex: () => Promise.resolve(), syncBlob: () => Promise.resolve(), syncFolders: () => Promise.resolve() };

async function readAll(path: string): Promise<string[]> {
  const out: string[] = [];
  for await (const { record, bytes } of readSegment(path)) {
    assert.equal(sha(bytes), record.sha256);
    out.push(record.sopInstanceUid);
  }
  return out;
}

/** Takes a live journal's folder away as a crash would (a dead pid's folder), returns it. */
function crash(j: IngestJournal, base: string): string {
  const dead = join(base, `${hostTag()}-${deadPid()}-0123abcd`);
  renameSync(j.dir, dead);
  return dead;
}

test('journal: a recycled segment replays its new records only, never the stale ones of its previous use', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  const base = join(dir, 'journal');
  const SEG = 512 * 1024;
  try {
    const j = new IngestJournal(base, quietDeps, { segmentBytes: SEG, spares: 2 });
    const old = synthetic(5, 110_000, 'old');
    const fresh = synthetic(1, 110_000, 'new');
    const tickets: JournalTicket[] = [];
    // No spare yet: a new file, written by appends, until it reaches the segment size (4 KiB header + 5 × ~110 KiB).
    for (const x of old) tickets.push(await j.append(x.record, [x.payload.subarray(0, 7), x.payload.subarray(7)]));
    const first = join(j.dir, '00000000.log');
    const ino = statSync(first).ino;
    assert.ok(statSync(first).size >= SEG);
    for (const t of tickets) t.materialize('k');
    await j.flush(); // retired: full size, so renamed to a spare (new header) instead of unlinked
    await j.settled();
    assert.deepEqual(j.stats(), { prepared: 0, appended: 1, zeroFilled: 0, recycled: 1, ready: 1 });
    assert.deepEqual(readdirSync(j.dir).filter((n) => n.endsWith('.log')), [], 'nothing replayable at rest');
    // The next segment is the recycled file: one new record over the first stale one, four stale ones behind it.
    await j.append(fresh[0]!.record, [fresh[0]!.payload]);
    const seg = join(j.dir, '00000001.log');
    assert.equal(statSync(seg).ino, ino, 'the retired file was reused');
    assert.equal(j.stats().prepared, 1);
    assert.ok(readFileSync(seg).includes(Buffer.from(old[4]!.record.sopInstanceUid)), 'stale records are still in the file');
    const folder = crash(j, base);
    assert.deepEqual(await readAll(join(folder, '00000001.log')), [fresh[0]!.record.sopInstanceUid]);
    const replayed: string[] = [];
    const report = await replayJournals(base, silentLogger, async (r) => void replayed.push(r.sopInstanceUid), () => Promise.resolve());
    assert.deepEqual(replayed, [fresh[0]!.record.sopInstanceUid], 'stale records are not replayed');
    assert.equal(report.records, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: a torn record in the middle of a zero-filled segment ends replay there; a spare is never replayed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  const base = join(dir, 'journal');
  const SEG = 1024 * 1024;
  try {
    const j = new IngestJournal(base, quietDeps, { segmentBytes: SEG, spares: 1 });
    const items = synthetic(4, 50_000, 'torn');
    (await j.append(items[0]!.record, [items[0]!.payload])).materialize('k');
    await new Promise((r) => setTimeout(r, 700)); // idle: the segment is sealed and a spare zero-filled
    await j.settled();
    assert.deepEqual(j.stats(), { prepared: 0, appended: 1, zeroFilled: 1, recycled: 0, ready: 1 });
    for (const x of items.slice(1)) await j.append(x.record, [x.payload]);
    assert.equal(j.stats().prepared, 1);
    const folder = crash(j, base);
    const seg = join(folder, '00000001.log');
    assert.equal(statSync(seg).size, SEG, 'records overwrite the prepared file: it does not grow');
    assert.deepEqual(await readAll(seg), items.slice(1).map((x) => x.record.sopInstanceUid));
    // A whole copy of the segment as a spare (a retired segment renamed for reuse, not yet re-headed).
    copyFileSync(seg, join(folder, '0badcafe.spare'));
    // Tear the second record of the prepared segment: a byte of its payload, well inside the file.
    const buf = readFileSync(seg);
    const at = buf.indexOf(Buffer.from(items[2]!.record.sopInstanceUid));
    assert.ok(at > 4096);
    const fd = openSync(seg, 'r+');
    writeSync(fd, Buffer.from([buf[at + 2000]! ^ 0xff]), 0, 1, at + 2000);
    closeSync(fd);
    assert.deepEqual(await readAll(seg), [items[1]!.record.sopInstanceUid], 'nothing after the torn record');
    const replayed: string[] = [];
    await replayJournals(base, silentLogger, async (r) => void replayed.push(r.sopInstanceUid), () => Promise.resolve());
    assert.deepEqual(replayed, [items[1]!.record.sopInstanceUid], 'the spare copy is not replayed');
    assert.deepEqual(readdirSync(base), [], 'the replayed folder is removed, spares included');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('journal: version 1 segments (records from offset 0, no generation) are still replayed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-journal-'));
  try {
    const path = join(dir, '00000000.log');
    const parts: Buffer[] = [];
    const items = synthetic(2, 3000, 'v1');
    for (const x of items) {
      const header = Buffer.from(JSON.stringify(x.record), 'utf8');
      const fixed = Buffer.alloc(48);
      fixed.writeUInt32LE(0x314a5253, 0);
      fixed.writeUInt32LE(header.length, 4);
      fixed.writeUInt32LE(x.payload.length, 8);
      createHash('sha256').update(header).digest().copy(fixed, 16);
      parts.push(fixed, header, x.payload);
    }
    writeFileSync(path, Buffer.concat([...parts, Buffer.alloc(100)]));
    assert.deepEqual(await readAll(path), items.map((x) => x.record.sopInstanceUid));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
