/**
 * Our SCP against real dcmtk peers (echoscu, storescu, findscu, movescu → storescp, getscu) and raw sockets
 * (malformed PDU, A-ABORT mid C-STORE), on a real SQLite archive.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../core/log.ts';
import { readDicomHeader } from '../dicom/index.ts';
import { Dataset } from './lib.ts';
import { readPart10Info } from './part10.ts';
import { echo, find, startDimseServer } from './index.ts';
import type { DimseServer } from './index.ts';
import { associateRq as rawAssociateRq, pdataPdu, pdu, pdvPdu as pdv } from './raw-pdu.ts';
import { CONFORMANCE_DIR, openTempArchive, runTool, startStorescp, writeSmallCtSeries } from './testing.ts';
import type { RunningStorescp, TempArchive } from './testing.ts';

/** Files (not the per-process folders) under the DIMSE temp folder. */
async function incomingFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'incoming'), { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
}

const lines: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
const logged = (msg: string): Record<string, unknown>[] =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e['msg'] === msg);

let ta: TempArchive;
let server: DimseServer;
let dest: RunningStorescp;
let work: string;
let series: Awaited<ReturnType<typeof writeSmallCtSeries>>;
const host = '127.0.0.1';
const scu = (aet: string): string[] => ['-aet', aet, '-aec', 'SECONDREADER'];

before(async () => {
  ta = await openTempArchive(log);
  work = await mkdtemp(join(tmpdir(), 'sr-dimse-work-'));
  dest = await startStorescp(join(work, 'dest'), 'DEST');
  server = await startDimseServer({
    archive: ta.archive,
    log,
    config: {
      port: 0,
      tempDir: join(ta.dir, 'incoming'),
      peers: [
        { aeTitle: 'STORESCU', host, port: 1 },
        { aeTitle: 'FINDSCU', host, port: 1 },
        { aeTitle: 'DEST', host, port: dest.port },
      ],
    },
  });
  series = await writeSmallCtSeries(join(work, 'series'), 5, {
    patient: { PatientName: 'DOE^JOHN', PatientID: 'PID-42' },
    study: { StudyDate: '20240115', StudyDescription: 'CHEST CT', AccessionNumber: 'ACC1' },
  });
  const r = await runTool('storescu', ['-aet', 'STORESCU', '-aec', 'SECONDREADER', host, String(server.port), ...series.files]);
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  await server?.close();
  await dest?.stop();
  await ta?.close();
  await rm(work, { recursive: true, force: true });
});

const port = (): string => String(server.port);

describe('association negotiation', () => {
  test('echoscu from a known peer succeeds; our SCU echo too', async () => {
    const r = await runTool('echoscu', [...scu('STORESCU'), host, port()]);
    assert.equal(r.code, 0, r.stderr);
    await echo({ aeTitle: 'SECONDREADER', host, port: server.port }, { callingAe: 'FINDSCU' });
  });

  test('unknown calling AE and wrong called AE are rejected with A-ASSOCIATE-RJ, and logged', async () => {
    const a = await runTool('echoscu', ['-aet', 'STRANGER', '-aec', 'SECONDREADER', host, port()]);
    assert.notEqual(a.code, 0);
    assert.match(a.stderr + a.stdout, /Rejected/i);
    const b = await runTool('echoscu', ['-aet', 'STORESCU', '-aec', 'NOTUS', host, port()]);
    assert.notEqual(b.code, 0);
    assert.match(b.stderr + b.stdout, /Rejected/i);
    const rejected = logged('dimse association rejected');
    assert.ok(rejected.some((e) => e['callingAe'] === 'STRANGER' && /calling/.test(String(e['reason']))));
    assert.ok(rejected.some((e) => e['calledAe'] === 'NOTUS' && /called/.test(String(e['reason']))));
    await assert.rejects(echo({ aeTitle: 'SECONDREADER', host, port: server.port }, { callingAe: 'STRANGER' }), { code: 'DIMSE_ASSOCIATION_REJECTED' });
  });
});

describe('C-STORE', () => {
  test('storescu: every transfer syntax stored byte for byte as received', async () => {
    const groups: [string[], string[]][] = [
      [[], ['CT_small.dcm', 'rtplan.dcm']],
      [['-xt'], ['MR_small_jpeg_ls_lossless.dcm']],
      [['-xw'], ['JPEG2000.dcm']],
      [['-xy'], ['SC_rgb_jpeg_dcmtk.dcm']],
      [['-xr'], ['SC_rgb_rle.dcm']],
    ];
    for (const [opts, files] of groups) {
      const r = await runTool('storescu', [...opts, '-R', ...scu('STORESCU'), host, port(), ...files.map((f) => join(CONFORMANCE_DIR, f))]);
      assert.equal(r.code, 0, `${files.join(',')}: ${r.stderr}`);
      for (const f of files) {
        const original = await readFile(join(CONFORMANCE_DIR, f));
        const info = readPart10Info(original, f);
        // rtplan.dcm's file meta names another instance than its dataset: the dataset's UID is the one sent.
        const header = await readDicomHeader(join(CONFORMANCE_DIR, f));
        const uid = String(header.dataset['SOPInstanceUID']);
        const rec = await ta.archive.getInstance(uid);
        assert.ok(rec, `${f} stored; ${JSON.stringify(logged("dimse C-STORE refused"))}`);
        assert.equal(rec.transferSyntaxUid, info.transferSyntaxUid, f);
        assert.equal(rec.origin.via, 'dimse');
        assert.equal(rec.origin.sourceAe, 'STORESCU');
        // storescu re-encodes uncompressed datasets (CT_small loses its trailing padding); compressed pixel data,
        // last in these files, must arrive untouched: no transcoding anywhere on the way.
        if (opts.length === 0) continue;
        const stored = Buffer.from(await ta.archive.readInstance(uid));
        // A chunk of the compressed pixel data (storescu drops trailing padding, so no tail comparison).
        assert.ok(stored.includes(original.subarray(-1500, -1000)), `${f}: compressed pixel data changed`);
      }
    }
    assert.equal((await ta.archive.listInstances({ seriesInstanceUid: series.SeriesInstanceUID })).length, 5);
    assert.deepEqual(await incomingFiles(ta.dir), [], 'no temp file left behind');
  });
});

function findValues(stdout: string, tag: string): string[] {
  const re = new RegExp(`\\(${tag}\\) \\w\\w \\[([^\\]]*)\\]`, 'gi');
  return [...stdout.matchAll(re)].map((m) => (m[1] ?? '').replace(/[\0 ]+$/, ''));
}

describe('C-FIND', () => {
  test('findscu at study level: wildcard and date range, requested keys only', async () => {
    const base = ['-S', ...scu('FINDSCU'), host, port(), '-k', 'QueryRetrieveLevel=STUDY', '-k', 'StudyInstanceUID', '-k', 'NumberOfStudyRelatedInstances'];
    const hit = await runTool('findscu', [...base, '-k', 'PatientName=DOE*', '-k', 'StudyDate=20240101-20240131']);
    assert.equal(hit.code, 0, hit.stderr);
    const out = hit.stdout + hit.stderr;
    assert.deepEqual(findValues(out, '0020,000d'), [series.StudyInstanceUID]);
    assert.deepEqual(findValues(out, '0020,1208'), ['5']);
    assert.deepEqual(findValues(out, '0010,0010'), ['DOE^JOHN']);
    assert.deepEqual(findValues(out, '0008,1030'), [], 'StudyDescription was not requested');
    const miss = await runTool('findscu', [...base, '-k', 'PatientName=DOE*', '-k', 'StudyDate=20230101-20231231']);
    assert.equal(miss.code, 0, miss.stderr);
    assert.deepEqual(findValues(miss.stdout + miss.stderr, '0020,000d'), []);
  });

  test('findscu at series level, and our SCU against our SCP (Patient Root at PATIENT level)', async () => {
    const r = await runTool('findscu', ['-S', ...scu('FINDSCU'), host, port(), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${series.StudyInstanceUID}`, '-k', 'SeriesInstanceUID', '-k', 'Modality', '-k', 'NumberOfSeriesRelatedInstances']);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout + r.stderr;
    assert.deepEqual(findValues(out, '0020,000e'), [series.SeriesInstanceUID]);
    assert.deepEqual(findValues(out, '0008,0060'), ['CT']);
    const peer = { aeTitle: 'SECONDREADER', host, port: server.port };
    const patients = await find(peer, 'PATIENT', { PatientID: 'PID-42', PatientName: '', NumberOfPatientRelatedStudies: '' }, { callingAe: 'FINDSCU' });
    assert.equal(patients.length, 1);
    assert.equal(patients[0]?.['PatientName'], 'DOE^JOHN');
    assert.equal(patients[0]?.['NumberOfPatientRelatedStudies'], 1);
    const images = await find(peer, 'IMAGE', { StudyInstanceUID: series.StudyInstanceUID, SeriesInstanceUID: series.SeriesInstanceUID, SOPInstanceUID: '', InstanceNumber: '' }, { callingAe: 'FINDSCU' });
    assert.equal(images.length, 5);
    assert.equal(images[0]?.['QueryRetrieveLevel'], 'IMAGE');
  });
});

describe('C-MOVE and C-GET', () => {
  test('movescu → our SCP → dcmtk storescp; unknown destination refused with A801', async () => {
    const r = await runTool('movescu', ['-S', ...scu('FINDSCU'), '-aem', 'DEST', host, port(), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${series.StudyInstanceUID}`, '-k', `SeriesInstanceUID=${series.SeriesInstanceUID}`]);
    assert.equal(r.code, 0, r.stderr);
    const received = await readdir(join(work, 'dest'));
    assert.equal(received.length, 5, received.join(','));
    const bad = await runTool('movescu', ['-v', '-S', ...scu('FINDSCU'), '-aem', 'NOWHERE', host, port(), '-k', 'QueryRetrieveLevel=STUDY', '-k', `StudyInstanceUID=${series.StudyInstanceUID}`]);
    assert.match(bad.stdout + bad.stderr, /a801|MoveDestinationUnknown/i);
  });

  test('getscu retrieves a series over the same association', async () => {
    const out = join(work, 'get');
    await rm(out, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(out));
    const r = await runTool('getscu', ['-S', ...scu('FINDSCU'), '-od', out, host, port(), '-k', 'QueryRetrieveLevel=SERIES', '-k', `StudyInstanceUID=${series.StudyInstanceUID}`, '-k', `SeriesInstanceUID=${series.SeriesInstanceUID}`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await readdir(out)).length, 5);
  });
});

/** The A-ASSOCIATE-RQ of these tests proposes one transfer syntax. */
function associateRq(calling: string, called: string, abstractSyntax: string, ts: string): Buffer {
  return rawAssociateRq(calling, called, abstractSyntax, [ts]);
}

async function openSocket(): Promise<{ socket: Socket; next: () => Promise<Buffer>; closed: Promise<void> }> {
  const socket = connect(server.port, host);
  const chunks: Buffer[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    chunks.push(c);
    wake?.();
  });
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('error', () => undefined);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const next = async (): Promise<Buffer> => {
    while (chunks.length === 0) await new Promise<void>((r) => (wake = r));
    return chunks.shift() as Buffer;
  };
  return { socket, next, closed };
}

describe('robustness', () => {
  test('a malformed PDU is logged and the connection dropped; the server keeps serving', async () => {
    const before = lines.length;
    const { socket, closed } = await openSocket();
    socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await closed;
    assert.ok(lines.slice(before).some((l) => l.includes('dimse connection error')));
    const r = await runTool('echoscu', [...scu('STORESCU'), host, port()]);
    assert.equal(r.code, 0, r.stderr);
  });

  test('A-RELEASE-RQ right behind the last P-DATA-TF: the C-STORE-RSP comes before the A-RELEASE-RP (PS3.8 7.2)', async () => {
    const file = await readFile(join(CONFORMANCE_DIR, 'MR_small.dcm'));
    const info = readPart10Info(file, 'MR_small.dcm');
    const { socket, next, closed } = await openSocket();
    socket.write(associateRq('STORESCU', 'SECONDREADER', info.sopClassUid, info.transferSyntaxUid));
    const ac = await next();
    assert.equal(ac[0], 0x02, 'A-ASSOCIATE-AC');
    const command = new Dataset({ CommandField: 1, MessageID: 7, Priority: 0, CommandDataSetType: 0x0202, AffectedSOPClassUID: info.sopClassUid, AffectedSOPInstanceUID: info.sopInstanceUid }).getDenaturalizedCommandDataset();
    // One write: the release reaches the SCP in the same read as the last data fragment, while the store runs.
    socket.write(Buffer.concat([pdv(true, true, command), pdv(false, true, file.subarray(info.dataOffset)), pdu(0x05, Buffer.alloc(4))]));
    let pending = Buffer.alloc(0);
    const types: number[] = [];
    const pdus: Buffer[] = [];
    while (!types.includes(0x06) && !types.includes(0x07)) {
      const chunk = await Promise.race([next(), closed.then(() => undefined)]);
      if (!chunk) break;
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6 && pending.length >= 6 + pending.readUInt32BE(2)) {
        const len = 6 + pending.readUInt32BE(2);
        pdus.push(pending.subarray(0, len));
        types.push(pending[0] as number);
        pending = pending.subarray(len);
      }
    }
    socket.end();
    assert.deepEqual(types, [0x04, 0x06], 'P-DATA-TF (C-STORE-RSP), then A-RELEASE-RP');
    const rsp = pdus[0] as Buffer;
    assert.equal(rsp.readUInt8(11) & 3, 3, 'a last command fragment');
    const group = rsp.subarray(12);
    const fields = new Map<number, Buffer>();
    for (let at = 0; at + 8 <= group.length; at += 8 + group.readUInt32LE(at + 4)) fields.set(group.readUInt16LE(at + 2), group.subarray(at + 8, at + 8 + group.readUInt32LE(at + 4)));
    assert.equal(fields.get(0x0100)?.readUInt16LE(0), 0x8001, 'C-STORE-RSP');
    assert.equal(fields.get(0x0120)?.readUInt16LE(0), 7, 'answers MessageID 7');
    assert.equal(fields.get(0x0900)?.readUInt16LE(0), 0x0000, 'Success');
    assert.ok(await ta.archive.getInstance(info.sopInstanceUid), 'stored before it was acknowledged');
  });

  test('a C-STORE whose PDUs arrive in small pieces (PDV headers and values cut anywhere) is stored byte for byte', async () => {
    const file = await readFile(join(CONFORMANCE_DIR, 'MR_small.dcm'));
    const info = readPart10Info(file, 'MR_small.dcm');
    const { socket, next } = await openSocket();
    socket.setNoDelay(true);
    socket.write(associateRq('STORESCU', 'SECONDREADER', info.sopClassUid, info.transferSyntaxUid));
    assert.equal((await next())[0], 0x02, 'A-ASSOCIATE-AC');
    const command = new Dataset({ CommandField: 1, MessageID: 9, Priority: 0, CommandDataSetType: 0x0202, AffectedSOPClassUID: info.sopClassUid, AffectedSOPInstanceUID: info.sopInstanceUid }).getDenaturalizedCommandDataset();
    const data = file.subarray(info.dataOffset);
    const cut = [Math.floor(data.length / 3), Math.floor((2 * data.length) / 3)];
    // The command in two fragments, the data set in three PDVs over two PDUs (two in one P-DATA-TF).
    const stream = Buffer.concat([
      pdataPdu([{ contextId: 1, mch: 1, value: command.subarray(0, 10) }]),
      pdataPdu([{ contextId: 1, mch: 3, value: command.subarray(10) }, { contextId: 1, mch: 0, value: data.subarray(0, cut[0]) }]),
      pdataPdu([{ contextId: 1, mch: 0, value: data.subarray(cut[0], cut[1]) }, { contextId: 1, mch: 2, value: data.subarray(cut[1]) }]),
    ]);
    for (let at = 0, k = 0; at < stream.length; k++) {
      const n = [1, 5, 7, 333, 4096][k % 5] as number;
      socket.write(stream.subarray(at, at + n));
      at += n;
      if (k % 5 < 3) await new Promise((r) => setTimeout(r, 1)); // separate reads at the SCP, most of the time
    }
    const rsp = await Promise.race([next(), new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('no C-STORE-RSP within 10 s')), 10_000).unref())]);
    assert.equal(rsp[0], 0x04, 'P-DATA-TF (C-STORE-RSP)');
    socket.end();
    // Success (stored, or a duplicate of the same bytes sent whole by the test before: same SHA-256).
    const group = rsp.subarray(12);
    let status: number | undefined;
    for (let at = 0; at + 8 <= group.length; at += 8 + group.readUInt32LE(at + 4)) if (group.readUInt16LE(at + 2) === 0x0900) status = group.readUInt16LE(at + 8);
    assert.equal(status, 0x0000, 'Success');
    const stored = Buffer.from(await ta.archive.readInstance(info.sopInstanceUid));
    assert.ok(stored.subarray(stored.length - data.length).equals(data), 'the data set as sent');
  });

  test('A-ABORT in the middle of a C-STORE: nothing partial stored, temp file removed, server keeps serving', async () => {
    const file = await readFile(join(CONFORMANCE_DIR, 'MR_small.dcm'));
    const info = { ...readPart10Info(file, 'MR_small.dcm'), sopInstanceUid: '1.2.826.0.1.3680043.10.999.1' };
    const { socket, next, closed } = await openSocket();
    socket.write(associateRq('STORESCU', 'SECONDREADER', info.sopClassUid, info.transferSyntaxUid));
    const ac = await next();
    assert.equal(ac[0], 0x02, 'A-ASSOCIATE-AC');
    const command = new Dataset({ CommandField: 1, MessageID: 1, Priority: 0, CommandDataSetType: 0x0202, AffectedSOPClassUID: info.sopClassUid, AffectedSOPInstanceUID: info.sopInstanceUid }).getDenaturalizedCommandDataset();
    socket.write(pdv(true, true, command));
    socket.write(pdv(false, false, file.subarray(info.dataOffset, info.dataOffset + 2000)));
    await new Promise((r) => setTimeout(r, 200));
    socket.write(pdu(0x07, Buffer.alloc(4)));
    await closed;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await ta.archive.getInstance(info.sopInstanceUid), undefined);
    assert.deepEqual(await incomingFiles(ta.dir), []);
    assert.ok(logged('dimse association aborted by the peer').length > 0);
    const r = await runTool('echoscu', [...scu('STORESCU'), host, port()]);
    assert.equal(r.code, 0, r.stderr);
  });
});
