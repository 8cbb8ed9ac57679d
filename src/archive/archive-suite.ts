/**
 * The one test suite both back ends run (sqlite.test.ts, postgres.test.ts): same inputs, same expectations.
 * Real DICOM only: the LIDC CT excerpt, pydicom's character-set files, and CT series from the phantom writer.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSrError } from '../core/errors.ts';
import { createLogger, type Logger } from '../core/log.ts';
import { createVolume } from '../imaging/volume.ts';
import { dicomToBuffer, writeCtSeries, type CtSeriesWriteResult } from '../dicom/index.ts';
import { ingestFolder, type OpenedArchive, type RecoveryOptions } from './index.ts';

export interface ArchiveFixture {
  /** Opens an archive on this fixture's storage; several may be open at once (two processes). */
  open(options?: { recovery?: RecoveryOptions | false; log?: Logger }): Promise<OpenedArchive>;
  readonly blobDir: string;
  cleanup(): Promise<void>;
}

const DATA = '/work/shared/data';
const LIDC = join(DATA, 'chest-ct-lidc', 'LIDC-IDRI-0003');
const CHARSETS = join(DATA, 'dicom-conformance', 'pydicom', 'charset_files');

function listDcm(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listDcm(p));
    else if (name.endsWith('.dcm')) out.push(p);
  }
  return out;
}

function bytesOf(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function rejects(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => isSrError(e) && e.code === code);
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => join(d.parentPath, d.name));
}

async function phantomSeries(outDir: string, slices: number, opts: { seed: string; name: string; id: string; date: string; accession: string; desc: string; studyUid?: string }): Promise<CtSeriesWriteResult> {
  mkdirSync(outDir, { recursive: true });
  const data = new Int16Array(8 * 8 * slices).map((_, i) => (i % 97) - 40);
  const vol = createVolume(data, { dims: [8, 8, slices], spacing: [1, 1, 1.5] });
  return writeCtSeries(vol, {
    outDir, uidSeed: opts.seed, instanceOrder: 'shuffled',
    patient: { PatientName: opts.name, PatientID: opts.id, PatientSex: 'F' },
    study: { StudyDate: opts.date, AccessionNumber: opts.accession, StudyDescription: opts.desc, ...(opts.studyUid ? { StudyInstanceUID: opts.studyUid } : {}) },
    series: { SeriesDescription: `${opts.desc} series`, BodyPartExamined: 'CHEST' },
  });
}

export function archiveSuite(name: string, makeFixture: () => Promise<ArchiveFixture>): void {
  describe(`archive (${name})`, { timeout: 300_000 }, () => {
    let work: string;
    let big: CtSeriesWriteResult;
    let doe: CtSeriesWriteResult;
    let roe: CtSeriesWriteResult;
    const lidc = listDcm(LIDC);

    before(async () => {
      work = mkdtempSync(join(tmpdir(), 'sr-archive-suite-'));
      big = await phantomSeries(join(work, 'big'), 200, { seed: `${name}-big`, name: 'Big^Series', id: 'P-BIG', date: '20220610', accession: 'A-BIG', desc: 'Many' });
      doe = await phantomSeries(join(work, 'doe'), 4, { seed: `${name}-doe`, name: 'Doe^Jane', id: 'P-DOE', date: '20240102', accession: 'ACC_1%', desc: 'Chest low dose' });
      roe = await phantomSeries(join(work, 'roe'), 3, { seed: `${name}-roe`, name: 'ROE^JOHN', id: 'P-ROE', date: '20230315', accession: 'ACCX1Y', desc: 'Head' });
    });
    after(() => rmSync(work, { recursive: true, force: true }));

    async function withArchive(fn: (a: OpenedArchive, fx: ArchiveFixture) => Promise<void>): Promise<void> {
      const fx = await makeFixture();
      const a = await fx.open();
      try {
        await fn(a, fx);
      } finally {
        await a.close();
        await fx.cleanup();
      }
    }

    test('store, duplicate (no rewrite), replace with different bytes', () => withArchive(async (a) => {
      const path = lidc[0] as string;
      const bytes = bytesOf(path);
      const r1 = await a.storeInstance({ bytes }, { via: 'dimse', sourceAe: 'MODALITY1', remoteAddress: '127.0.0.1' });
      assert.equal(r1.status, 'stored');
      const inst = r1.instance;
      assert.equal(inst.blobKey, `instances/${inst.studyInstanceUid}/${inst.seriesInstanceUid}/${inst.sopInstanceUid}.dcm`);
      assert.equal(inst.sizeBytes, bytes.byteLength);
      assert.match(inst.sha256, /^[0-9a-f]{64}$/);
      assert.equal(inst.rows, 512);
      assert.equal(inst.columns, 512);
      assert.equal(inst.numberOfFrames, 1);
      assert.equal(inst.origin.sourceAe, 'MODALITY1');
      assert.deepEqual(await a.readInstance(inst.sopInstanceUid), bytes);
      const blobPath = a.blobs.localPath(inst.blobKey) as string;
      const mtime = statSync(blobPath).mtimeMs;
      const ino = statSync(blobPath).ino;

      const r2 = await a.storeInstance({ bytes }, { via: 'stow' });
      assert.equal(r2.status, 'duplicate');
      assert.equal(statSync(blobPath).ino, ino, 'a duplicate must not rewrite the blob');
      assert.equal(statSync(blobPath).mtimeMs, mtime);

      const changed = new Uint8Array(bytes);
      changed[changed.length - 1] = ((changed[changed.length - 1] ?? 0) + 1) & 0xff;
      const r3 = await a.storeInstance({ bytes: changed }, { via: 'stow' });
      assert.equal(r3.status, 'replaced');
      assert.notEqual(r3.instance.sha256, inst.sha256);
      assert.deepEqual(await a.readInstance(inst.sopInstanceUid), changed);
      const series = await a.getSeries(inst.seriesInstanceUid);
      assert.equal(series?.instanceCount, 1);
      assert.equal(series?.sourceAe, 'MODALITY1');

      // A caller's temp file is moved into the store, not copied.
      const tmp = join(work, `t-${name}.part`);
      copyFileSync(lidc[1] as string, tmp);
      const r4 = await a.storeInstance({ tempFile: tmp }, { via: 'dimse' });
      assert.equal(r4.status, 'stored');
      assert.equal(existsSync(tmp), false);
      assert.deepEqual(await a.readInstance(r4.instance.sopInstanceUid), bytesOf(lidc[1] as string));

      // A temp file with its writer's digest (the DIMSE path): the header comes from the head when it holds it,
      // from the file when the head is cut inside it; hash and size are taken as given, never re-read.
      for (const [i, headLen] of [[2, 65_536], [3, 200]] as const) {
        const src = bytesOf(lidc[i] as string);
        const t = join(work, `t-${name}-${i}.part`);
        copyFileSync(lidc[i] as string, t);
        const sha256 = createHash('sha256').update(src).digest('hex');
        const r = await a.storeInstance({ tempFile: t, digest: { sha256, sizeBytes: src.byteLength, synced: false, head: src.subarray(0, headLen) } }, { via: 'dimse' });
        assert.equal(r.status, 'stored');
        assert.equal(r.instance.sha256, sha256);
        assert.equal(r.instance.rows, 512);
        assert.equal(existsSync(t), false);
        assert.deepEqual(await a.readInstance(r.instance.sopInstanceUid), src);
        assert.deepEqual(await a.getInstance(r.instance.sopInstanceUid), r.instance, 'the returned record is the stored row');
      }
    }));

    test('invalid input is rejected with a code and nothing is stored', () => withArchive(async (a, fx) => {
      const good = bytesOf(lidc[0] as string);
      await rejects(a.storeInstance({ bytes: new TextEncoder().encode('this is not a DICOM file at all, just text') }, { via: 'stow' }), 'DICOM_NOT_DICOM');
      await rejects(a.storeInstance({ bytes: good.subarray(0, Math.floor(good.length * 0.6)) }, { via: 'stow' }), 'DICOM_TRUNCATED');
      await rejects(a.storeInstance({ bytes: good.subarray(0, 700) }, { via: 'stow' }), 'DICOM_TRUNCATED');
      const base = { SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: '1.2.3.4.5', StudyInstanceUID: '1.2.3', SeriesInstanceUID: '1.2.3.4', Modality: 'OT', PatientID: 'X' };
      const { SeriesInstanceUID: _drop, ...noSeries } = base;
      void _drop;
      await rejects(a.storeInstance({ bytes: new Uint8Array(dicomToBuffer(noSeries)) }, { via: 'stow' }), 'ARCHIVE_INSTANCE_INVALID');
      await rejects(a.storeInstance({ bytes: new Uint8Array(dicomToBuffer({ ...base, StudyInstanceUID: '../../etc' })) }, { via: 'stow' }), 'ARCHIVE_INSTANCE_INVALID');
      const tmp = join(work, `bad-${name}.part`);
      writeFileSync(tmp, good.subarray(0, 500));
      await rejects(a.storeInstance({ tempFile: tmp }, { via: 'dimse' }), 'DICOM_TRUNCATED');
      assert.equal(existsSync(tmp), false, 'a rejected temp file is removed');
      assert.deepEqual(await a.query({ level: 'INSTANCE', match: {} }), []);
      assert.deepEqual(await a.query({ level: 'PATIENT', match: {} }), []);
      assert.deepEqual(filesUnder(fx.blobDir), []);
    }));

    test('200 concurrent stores of one series, from two archives at once, with duplicates', () => withArchive(async (a, fx) => {
      const b = await fx.open({ recovery: false });
      try {
        const files = big.files;
        const results = await Promise.all([
          ...files.map((f, i) => (i % 2 === 0 ? a : b).storeInstance({ bytes: bytesOf(f) }, { via: 'dimse', sourceAe: 'CT1' })),
          ...files.slice(0, 50).map((f) => b.storeInstance({ bytes: bytesOf(f) }, { via: 'dimse', sourceAe: 'CT1' })),
        ]);
        const byStatus = (s: string): number => results.filter((r) => r.status === s).length;
        assert.equal(byStatus('stored'), 200);
        assert.equal(byStatus('duplicate'), 50);
        assert.equal(byStatus('replaced'), 0);
        const series = await a.getSeries(big.SeriesInstanceUID);
        assert.equal(series?.instanceCount, 200);
        const list = await b.listInstances({ seriesInstanceUid: big.SeriesInstanceUID });
        assert.deepEqual(list.map((x) => x.instanceNumber), Array.from({ length: 200 }, (_, i) => i + 1));
        const [study] = await a.query({ level: 'STUDY', match: { StudyInstanceUID: big.StudyInstanceUID } });
        assert.equal(study?.['NumberOfStudyRelatedInstances'], 200);
        assert.equal(study?.['NumberOfStudyRelatedSeries'], 1);
        assert.equal(filesUnder(fx.blobDir).length, 200);
      } finally {
        await b.close();
      }
    }));

    test('query matching: wildcards, ranges, lists, counts, paging, charsets', () => withArchive(async (a) => {
      const s = await ingestFolder(a, [join(work, 'doe'), join(work, 'roe'), LIDC, CHARSETS]);
      // Non-DICOM files are skipped; pydicom's chrSQEncoding*.dcm are bare datasets without SOP Instance UID.
      assert.deepEqual(s.failed.map((f) => `${f.code} ${f.path.split('/').pop()}`).sort(), [
        'ARCHIVE_INSTANCE_INVALID chrSQEncoding.dcm', 'ARCHIVE_INSTANCE_INVALID chrSQEncoding1.dcm',
        'DICOM_NOT_DICOM 072.xml', 'DICOM_NOT_DICOM FileInfo.txt',
      ]);
      const studies = (match: Record<string, string>) => a.query({ level: 'STUDY', match });
      const ids = async (match: Record<string, string>) => (await studies(match)).map((r) => r['PatientID']).sort();

      assert.deepEqual(await ids({ PatientName: 'doe*' }), ['P-DOE'], 'PatientName is case-insensitive');
      assert.deepEqual(await ids({ PatientName: 'roe^john' }), ['P-ROE']);
      assert.deepEqual(await ids({ PatientName: 'R?E^*' }), ['P-ROE']);
      assert.deepEqual(await ids({ PatientName: '*JANE' }), ['P-DOE']);
      assert.deepEqual(await ids({ PatientID: 'P-*' }), ['P-DOE', 'P-ROE']);
      // % and _ are literals in DICOM matching, not SQL wildcards.
      assert.deepEqual(await ids({ AccessionNumber: 'ACC_1%' }), ['P-DOE']);
      assert.deepEqual(await ids({ AccessionNumber: 'ACC_*' }), ['P-DOE']);
      assert.deepEqual(await ids({ AccessionNumber: 'ACC?1*' }), ['P-DOE', 'P-ROE']);
      assert.deepEqual(await ids({ StudyDate: '20230101-20231231' }), ['P-ROE']);
      assert.deepEqual(await ids({ StudyDate: '20240102', PatientID: 'P-*' }), ['P-DOE']);
      assert.deepEqual(await ids({ StudyDate: '20230315-', PatientID: 'P-*' }), ['P-DOE', 'P-ROE']);
      assert.deepEqual(await ids({ StudyDate: '-20231231', PatientID: 'P-*' }), ['P-ROE']);
      assert.deepEqual(await ids({ StudyInstanceUID: `${doe.StudyInstanceUID}\\${roe.StudyInstanceUID}` }), ['P-DOE', 'P-ROE']);
      assert.deepEqual(await ids({ StudyInstanceUID: '1.2.3.999' }), []);
      assert.deepEqual(await ids({ ModalitiesInStudy: 'CT', PatientID: 'P-*' }), ['P-DOE', 'P-ROE']);
      assert.deepEqual(await ids({ ModalitiesInStudy: 'MR', PatientID: 'P-*' }), []);

      const [d] = await studies({ PatientID: 'P-DOE' });
      assert.equal(d?.['NumberOfStudyRelatedInstances'], 4);
      assert.equal(d?.['NumberOfStudyRelatedSeries'], 1);
      assert.equal(d?.['ModalitiesInStudy'], 'CT');
      assert.equal(d?.['StudyDescription'], 'Chest low dose');
      assert.equal(d?.['PatientName'], 'Doe^Jane');

      const [lidcStudy] = await studies({ PatientID: 'LIDC-IDRI-0003' });
      assert.equal(lidcStudy?.['NumberOfStudyRelatedInstances'], 11);

      // Specific Character Set decoding (pydicom charset_files/FileInfo.txt is the ground truth).
      assert.deepEqual((await studies({ PatientName: '*^Rüdiger' })).map((r) => r['PatientName']), ['Äneas^Rüdiger']);
      assert.deepEqual((await studies({ PatientName: 'äneas*' })).map((r) => r['PatientName']), ['Äneas^Rüdiger']);
      const wang = (await studies({ PatientName: 'Wang^XiaoDong=王^小東*' })).map((r) => r['PatientName']);
      assert.deepEqual(wang, ['Wang^XiaoDong=王^小東']);
      const yamada = await studies({ PatientName: 'Yamada^Tarou=山田^太郎*' });
      assert.ok(yamada.length >= 1);
      assert.equal(yamada[0]?.['PatientName'], 'Yamada^Tarou=山田^太郎=やまだ^たろう');

      // Series and instance levels carry their parents' UIDs and counts.
      const series = await a.query({ level: 'SERIES', match: { StudyInstanceUID: doe.StudyInstanceUID } });
      assert.equal(series.length, 1);
      assert.equal(series[0]?.['NumberOfSeriesRelatedInstances'], 4);
      assert.equal(series[0]?.['Modality'], 'CT');
      assert.equal(series[0]?.['BodyPartExamined'], 'CHEST');
      const inst = await a.query({ level: 'INSTANCE', match: { SeriesInstanceUID: doe.SeriesInstanceUID } });
      assert.deepEqual(inst.map((r) => r['InstanceNumber']), [1, 2, 3, 4]);
      assert.ok(inst.every((r) => r['StudyInstanceUID'] === doe.StudyInstanceUID && r['SeriesInstanceUID'] === doe.SeriesInstanceUID));
      assert.equal(inst[0]?.['Rows'], 8);
      assert.equal(inst[0]?.['TransferSyntaxUID'], '1.2.840.10008.1.2.1');
      assert.equal((await a.query({ level: 'INSTANCE', match: { SOPInstanceUID: doe.instances[0]?.SOPInstanceUID ?? '' } })).length, 1);
      assert.equal((await a.query({ level: 'INSTANCE', match: { Modality: 'CT', InstanceNumber: '2', SeriesInstanceUID: doe.SeriesInstanceUID } })).length, 1);
      const patients = await a.query({ level: 'PATIENT', match: { PatientID: 'P-DOE' } });
      assert.equal(patients[0]?.['NumberOfPatientRelatedInstances'], 4);

      // Paging: pages in the stable order add up to the whole list.
      const all = await a.query({ level: 'INSTANCE', match: {} });
      assert.equal(all.length, s.stored, 'a replaced instance adds no row');
      const paged = [];
      for (let off = 0; off < all.length; off += 5) paged.push(...(await a.query({ level: 'INSTANCE', match: {}, limit: 5, offset: off })));
      assert.deepEqual(paged.map((r) => r['SOPInstanceUID']), all.map((r) => r['SOPInstanceUID']));
      assert.equal((await a.query({ level: 'STUDY', match: {}, limit: 2 })).length, 2);
      await rejects(a.query({ level: 'STUDY', match: { StudyDate: '2020-2021-2022' } }), 'HTTP_BAD_REQUEST');
    }));

    test('stable series: claimed once, even by two concurrent claimers; a new instance re-arms it', () => withArchive(async (a, fx) => {
      const b = await fx.open({ recovery: false });
      try {
        for (const f of doe.files.slice(0, 3)) await a.storeInstance({ bytes: bytesOf(f) }, { via: 'dimse', sourceAe: 'CT7' });
        assert.deepEqual(await a.claimStableSeries(60_000), [], 'not quiet yet');
        const later = new Date(Date.now() + 120_000);
        const claims = await Promise.all([a.claimStableSeries(60_000, later), b.claimStableSeries(60_000, later), a.claimStableSeries(60_000, later)]);
        const events = claims.flat();
        assert.equal(events.length, 1);
        assert.deepEqual(events[0], { studyInstanceUid: doe.StudyInstanceUID, seriesInstanceUid: doe.SeriesInstanceUID, modality: 'CT', instanceCount: 3, sourceAe: 'CT7' });
        assert.deepEqual(await b.claimStableSeries(60_000, later), []);
        assert.ok((await a.getSeries(doe.SeriesInstanceUID))?.stableAt);
        await b.storeInstance({ bytes: bytesOf(doe.files[3] as string) }, { via: 'dimse', sourceAe: 'CT7' });
        assert.equal((await a.getSeries(doe.SeriesInstanceUID))?.stableAt, null);
        const again = (await Promise.all([a.claimStableSeries(60_000, new Date(Date.now() + 120_000)), b.claimStableSeries(60_000, new Date(Date.now() + 120_000))])).flat();
        assert.equal(again.length, 1);
        assert.equal(again[0]?.instanceCount, 4);
      } finally {
        await b.close();
      }
    }));

    test('results: attachments stored as blobs; re-running replaces', () => withArchive(async (a) => {
      await ingestFolder(a, [join(work, 'doe')]);
      const input = {
        analysisId: 'chest-ct-nodules', analysisVersion: '0.1.0', studyInstanceUid: doe.StudyInstanceUID,
        seriesInstanceUid: doe.SeriesInstanceUID, status: 'ok' as const, document: { findings: [1] },
        attachments: { 'labels.nii.gz': new Uint8Array([1, 2, 3]), 'key-1.png': new Uint8Array([9]) }, jobId: 'job-1',
      };
      const r1 = await a.putResult(input);
      assert.equal(r1.attachments['labels.nii.gz'], `results/chest-ct-nodules/0.1.0/${doe.SeriesInstanceUID}/labels.nii.gz`);
      assert.deepEqual(await a.blobs.get(r1.attachments['key-1.png'] as string), new Uint8Array([9]));
      const r2 = await a.putResult({ ...input, document: { findings: [1, 2] }, attachments: { 'labels.nii.gz': new Uint8Array([4]) }, jobId: 'job-2' });
      assert.equal(r2.id, r1.id);
      assert.deepEqual(r2.document, { findings: [1, 2] });
      assert.equal(r2.jobId, 'job-2');
      assert.deepEqual(await a.blobs.get(r2.attachments['labels.nii.gz'] as string), new Uint8Array([4]));
      assert.equal(await a.blobs.exists(r1.attachments['key-1.png'] as string), false, 'stale attachment removed');
      const other = await a.putResult({ ...input, analysisVersion: '0.2.0', attachments: {} });
      assert.notEqual(other.id, r1.id);
      assert.equal((await a.listResults({ seriesInstanceUid: doe.SeriesInstanceUID })).length, 2);
      assert.equal((await a.listResults({ studyInstanceUid: doe.StudyInstanceUID, analysisId: 'chest-ct-nodules' })).length, 2);
      assert.equal((await a.listResults({ analysisId: 'head-ct-hemorrhage' })).length, 0);
      assert.deepEqual((await a.getResult(r1.id))?.document, { findings: [1, 2] });
      assert.equal(await a.getResult('nope'), undefined);
      await rejects(a.putResult({ ...input, attachments: { '../x': new Uint8Array([1]) } }), 'ARCHIVE_INSTANCE_INVALID');
    }));

    test('putResultAttachment: adds or replaces one attachment of a stored result', () => withArchive(async (a) => {
      const r = await a.putResult({ analysisId: 'x', analysisVersion: '1', studyInstanceUid: '1.2', seriesInstanceUid: '1.2.3', status: 'ok', document: {}, attachments: { 'a.json': new Uint8Array([1]) } });
      const r2 = await a.putResultAttachment(r.id, 'outputs.json', new Uint8Array([7, 7]));
      assert.deepEqual(Object.keys(r2.attachments).sort(), ['a.json', 'outputs.json']);
      assert.deepEqual(await a.blobs.get(r2.attachments['outputs.json'] as string), new Uint8Array([7, 7]));
      await a.putResultAttachment(r.id, 'outputs.json', new Uint8Array([8]));
      assert.deepEqual(await a.blobs.get((await a.getResult(r.id))?.attachments['outputs.json'] as string), new Uint8Array([8]));
      await rejects(a.putResultAttachment('nope', 'outputs.json', new Uint8Array([1])), 'NOT_FOUND');
      await rejects(a.putResultAttachment(r.id, '../x', new Uint8Array([1])), 'ARCHIVE_INSTANCE_INVALID');
    }));

    test('result deliveries: claimed once by concurrent claimers, leases expire and are retaken, a re-run supersedes', () => withArchive(async (a, fx) => {
      const b = await fx.open({ recovery: false });
      try {
        const t = (s: number): Date => new Date(Date.UTC(2030, 0, 1) + s * 1000);
        const dest = (ae: string, uids: string[]) => ({ destination: `${ae}@127.0.0.1:104`, target: { aeTitle: ae, host: '127.0.0.1', port: 104 }, sopInstanceUids: uids, maxAttempts: 3 });
        const r1 = await a.replaceDeliveries('r1', [dest('A', ['1.1', '1.2']), dest('B', ['1.1', '1.2'])], t(0));
        await b.replaceDeliveries('r2', [dest('A', ['2.1'])], t(0));
        assert.deepEqual(r1.map((d) => [d.destination, d.state, d.attempts, d.generation, d.nextAttemptAt]), [
          ['A@127.0.0.1:104', 'queued', 0, 1, t(0).toISOString()], ['B@127.0.0.1:104', 'queued', 0, 1, t(0).toISOString()],
        ]);
        assert.equal((await b.listDeliveries({ resultId: 'r1' }))[1]?.target.aeTitle, 'B');

        // Six claimers from two archives at once: every delivery is claimed by exactly one, counted as an attempt.
        const lease = 60_000;
        const claims = (await Promise.all([a, b, a, b, a, b].map((x, i) => x.claimDeliveries({ owner: `w${i}`, leaseMs: lease, limit: 2, now: t(1) })))).flat();
        assert.deepEqual(claims.map((c) => `${c.resultId}/${c.target.aeTitle}`).sort(), ['r1/A', 'r1/B', 'r2/A']);
        assert.ok(claims.every((c) => c.attempts === 1 && c.claimToken.length > 0));
        assert.deepEqual(await b.claimDeliveries({ owner: 'late', leaseMs: lease, limit: 10, now: t(2) }), [], 'all held');
        const byKey = (k: string) => claims.find((c) => `${c.resultId}/${c.target.aeTitle}` === k) as (typeof claims)[number];
        const r1a = byKey('r1/A');
        const r1b = byKey('r1/B');
        const r2a = byKey('r2/A');

        assert.equal(await a.finishDeliveryAttempt({ ...r1a, claimToken: 'forged' }, { state: 'sent', remaining: [], error: null, nextAttemptAt: null }, t(3)), false);
        assert.equal(await b.finishDeliveryAttempt(r1a, { state: 'sent', remaining: [], error: null, nextAttemptAt: null }, t(3)), true);
        const err = { code: 'DIMSE_OPERATION_FAILED' as const, message: 'status 0xa700' };
        assert.equal(await a.finishDeliveryAttempt(r1b, { state: 'retrying', remaining: ['1.2'], error: err, nextAttemptAt: t(10).toISOString() }, t(3)), true);
        const [sentA, retryB] = await a.listDeliveries({ resultId: 'r1' });
        assert.deepEqual([sentA?.state, sentA?.remaining, sentA?.nextAttemptAt, sentA?.error], ['sent', [], null, null]);
        assert.deepEqual([retryB?.state, retryB?.remaining, retryB?.error, retryB?.attempts], ['retrying', ['1.2'], err, 1]);
        assert.deepEqual((await a.listDeliveries({ pending: true })).map((d) => d.resultId).sort(), ['r1', 'r2']);

        // Not due yet; then due (the failed instance only).
        assert.deepEqual(await b.claimDeliveries({ owner: 'w', leaseMs: lease, limit: 10, now: t(5) }), []);
        const [again] = await b.claimDeliveries({ owner: 'w', leaseMs: lease, limit: 10, now: t(11) });
        assert.deepEqual([again?.destination, again?.remaining, again?.attempts], ['B@127.0.0.1:104', ['1.2'], 2]);

        // A re-run supersedes r1/B while its attempt is in flight; r1/A (not configured any more) goes.
        assert.ok(again);
        const [sup] = await a.replaceDeliveries('r1', [dest('B', ['3.1'])], t(12));
        assert.deepEqual([sup?.id, sup?.generation, sup?.attempts, sup?.state, sup?.remaining, sup?.error], [r1b.id, 2, 0, 'queued', ['3.1'], null]);
        assert.equal((await b.listDeliveries({ resultId: 'r1' })).length, 1);
        assert.deepEqual(await a.claimDeliveries({ owner: 'w', leaseMs: lease, limit: 10, now: t(13) }), [], 'the old attempt still holds it');
        assert.equal(await b.finishDeliveryAttempt(again, { state: 'sent', remaining: [], error: null, nextAttemptAt: null }, t(14)), false, 'old objects: outcome dropped');
        const [next] = await a.claimDeliveries({ owner: 'w', leaseMs: lease, limit: 10, now: t(15) });
        assert.deepEqual([next?.id, next?.generation, next?.remaining, next?.attempts], [r1b.id, 2, ['3.1'], 1]);
        assert.ok(next);
        assert.equal(await a.finishDeliveryAttempt(next, { state: 'sent', remaining: [], error: null, nextAttemptAt: null }, t(16)), true);
        // r2/A's worker "crashed": its claim holds until the lease ends, then another worker takes it over.
        assert.equal(await a.renewDeliveryClaim(r2a, lease, t(30)), true);
        assert.deepEqual(await b.claimDeliveries({ owner: 'w2', leaseMs: lease, limit: 10, now: t(80) }), [], 'renewed at 30 s: held until 90 s');
        const [taken] = await b.claimDeliveries({ owner: 'w2', leaseMs: lease, limit: 10, now: t(91) });
        assert.equal(taken?.id, r2a.id);
        assert.equal(taken?.attempts, 2);
        assert.equal(await a.renewDeliveryClaim(r2a, lease, t(92)), false, 'the old claim is lost');
        assert.equal(await a.finishDeliveryAttempt(r2a, { state: 'sent', remaining: [], error: null, nextAttemptAt: null }, t(92)), false);
        assert.equal((await a.listDeliveries({ resultId: 'r2' }))[0]?.state, 'queued', 'the lost claim wrote nothing');

        await rejects(a.replaceDeliveries('r3', [{ ...dest('C', ['1']), maxAttempts: 0 }]), 'OUTPUT_FORWARD_FAILED');
      } finally {
        await b.close();
      }
    }));

    test('deleteSeries removes rows, then blobs, and empty parents', () => withArchive(async (a, fx) => {
      await ingestFolder(a, [join(work, 'doe'), join(work, 'roe')]);
      assert.equal(await a.deleteSeries(doe.SeriesInstanceUID), 4);
      assert.equal(await a.getSeries(doe.SeriesInstanceUID), undefined);
      assert.deepEqual(await a.query({ level: 'STUDY', match: { PatientID: 'P-DOE' } }), []);
      assert.deepEqual(await a.query({ level: 'PATIENT', match: { PatientID: 'P-DOE' } }), []);
      assert.equal(filesUnder(fx.blobDir).length, 3);
      assert.equal(await a.deleteSeries(doe.SeriesInstanceUID), 0);
      await rejects(a.readInstance(doe.instances[0]?.SOPInstanceUID ?? ''), 'NOT_FOUND');
    }));

    test('recovery after a crash: temp files and unacknowledged blobs removed, missing blobs reported', async () => {
      const fx = await makeFixture();
      try {
        const a = await fx.open();
        await ingestFolder(a, [join(work, 'doe')]);
        const lost = (await a.listInstances({ seriesInstanceUid: doe.SeriesInstanceUID }))[0];
        assert.ok(lost);
        await a.close();
        // The crash: a half-written put, a blob whose row never committed, a blob lost from the disk.
        const old = new Date(Date.now() - 3600_000);
        const seriesDir = join(fx.blobDir, 'instances', doe.StudyInstanceUID, doe.SeriesInstanceUID);
        const tmp = join(seriesDir, '.1.2.3.dcm.abcd1234.sr-tmp');
        writeFileSync(tmp, 'half');
        utimesSync(tmp, old, old);
        const orphan = join(fx.blobDir, 'instances', roe.StudyInstanceUID, roe.SeriesInstanceUID, `${roe.instances[0]?.SOPInstanceUID}.dcm`);
        mkdirSync(join(orphan, '..'), { recursive: true });
        copyFileSync(roe.files[0] as string, orphan);
        utimesSync(orphan, old, old);
        const fresh = join(fx.blobDir, 'instances', roe.StudyInstanceUID, roe.SeriesInstanceUID, `${roe.instances[1]?.SOPInstanceUID}.dcm`);
        copyFileSync(roe.files[1] as string, fresh);
        rmSync(a.blobs.localPath(lost.blobKey) as string);

        const lines: string[] = [];
        const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
        const b = await fx.open({ recovery: { graceMs: 600_000 }, log });
        try {
          assert.deepEqual(b.recovery, { tempFilesRemoved: 1, orphanBlobsRemoved: 1, missingBlobs: [lost.blobKey], blobsScanned: 5 });
          assert.equal(existsSync(tmp), false);
          assert.equal(existsSync(orphan), false);
          assert.equal(existsSync(fresh), true, 'a blob younger than the grace period may be a store in flight');
          assert.ok(lines.some((l) => l.includes('"level":"error"') && l.includes(lost.blobKey)));
          assert.ok(await b.getInstance(lost.sopInstanceUid), 'the row of a missing blob is kept');
          assert.equal((await b.getSeries(doe.SeriesInstanceUID))?.instanceCount, 4);
          // The series received before the crash is still found by the stable claim.
          assert.equal((await b.claimStableSeries(1000, new Date(Date.now() + 5000))).length, 1);
        } finally {
          await b.close();
        }
      } finally {
        await fx.cleanup();
      }
    });
  });
}

