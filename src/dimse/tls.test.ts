/**
 * DICOM TLS on our SCP against dcmtk (echoscu / storescu +tls), with a throwaway CA and certificates made by
 * Debian's openssl in a temp folder: server authentication, mutual TLS, plain TCP refused, config errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { isSrError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import { resolveServerConfig, startDimseServer } from './index.ts';
import type { DimseServer } from './index.ts';
import { CONFORMANCE_DIR, openTempArchive, runTool } from './testing.ts';
import type { TempArchive } from './testing.ts';

const run = promisify(execFile);
const host = '127.0.0.1';

async function openssl(dir: string, ...args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate signed by it, plus a self-signed stranger. */
async function makeCertificates(dir: string): Promise<void> {
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  await openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=SecondReader test CA');
  for (const name of ['server', 'client']) {
    await openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name === 'server' ? 'SECONDREADER' : 'STORESCU'}`);
    await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  }
  await openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'stranger.key', '-out', 'stranger.crt', '-days', '2', '-subj', '/CN=STRANGER');
}

const lines: string[] = [];
const log = createLogger({ level: 'debug', write: (l) => lines.push(l) });
let dir: string;
let ta: TempArchive;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sr-dimse-tls-'));
  await makeCertificates(dir);
  ta = await openTempArchive(log);
});
after(async () => {
  await ta.close();
  await rm(dir, { recursive: true, force: true });
});

const tlsArgs = (name: string): string[] => ['+tls', join(dir, `${name}.key`), join(dir, `${name}.crt`), '+cf', join(dir, 'ca.crt')];
const scu = (aet: string): string[] => ['-aet', aet, '-aec', 'SECONDREADER'];

describe('DICOM TLS, server authentication', () => {
  let server: DimseServer;
  before(async () => {
    server = await startDimseServer({
      archive: ta.archive, log,
      config: { port: 0, tempDir: join(ta.dir, 'incoming'), allow: [{ aeTitle: '*', address: 'loopback' }], tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') } },
    });
  });
  after(async () => {
    await server.close();
  });

  test('echoscu +tls and storescu +tls succeed; the instance is in the archive', async () => {
    const e = await runTool('echoscu', [...tlsArgs('client'), ...scu('ECHOSCU'), host, String(server.port)]);
    assert.equal(e.code, 0, e.stderr);
    const s = await runTool('storescu', [...tlsArgs('client'), ...scu('STORESCU'), host, String(server.port), join(CONFORMANCE_DIR, 'CT_small.dcm')]);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(await ta.archive.getInstance('1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322'));
  });

  test('a client that does not trust our CA refuses us; plain TCP gets no association', async () => {
    const untrusting = await runTool('echoscu', ['+tls', join(dir, 'client.key'), join(dir, 'client.crt'), ...scu('ECHOSCU'), host, String(server.port)], 20_000);
    assert.notEqual(untrusting.code, 0);
    const plain = await runTool('echoscu', [...scu('ECHOSCU'), '-to', '5', '-ta', '5', host, String(server.port)], 20_000);
    assert.notEqual(plain.code, 0);
    // The SCP is still serving.
    const e = await runTool('echoscu', [...tlsArgs('client'), ...scu('ECHOSCU'), host, String(server.port)]);
    assert.equal(e.code, 0, e.stderr);
  });
});

describe('DICOM TLS, mutual authentication', () => {
  let server: DimseServer;
  before(async () => {
    server = await startDimseServer({
      archive: ta.archive, log,
      config: {
        port: 0, tempDir: join(ta.dir, 'incoming-m'), allow: [{ aeTitle: '*', address: 'loopback' }],
        tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), ca: join(dir, 'ca.crt'), requireClientCert: true },
      },
    });
  });
  after(async () => {
    await server.close();
  });

  test('a client certificate from our CA is accepted, a self-signed one is refused and logged', async () => {
    const ok = await runTool('echoscu', [...tlsArgs('client'), ...scu('ECHOSCU'), host, String(server.port)]);
    assert.equal(ok.code, 0, ok.stderr);
    const before = lines.length;
    const stranger = await runTool('echoscu', [...tlsArgs('stranger'), ...scu('ECHOSCU'), host, String(server.port)], 20_000);
    assert.notEqual(stranger.code, 0);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(lines.slice(before).some((l) => l.includes('dimse TLS handshake failed')), 'handshake failure logged');
  });
});

describe('DICOM TLS configuration', () => {
  test('unreadable or non-PEM files, and requireClientCert without a CA, are CONFIG_INVALID at start-up', async () => {
    assert.throws(() => resolveServerConfig({ tls: { cert: join(dir, 'missing.crt'), key: join(dir, 'server.key') } }), (e) => isSrError(e, 'CONFIG_INVALID'));
    assert.throws(() => resolveServerConfig({ tls: { cert: join(dir, 'server.ext'), key: join(dir, 'server.key') } }), (e) => isSrError(e, 'CONFIG_INVALID'));
    assert.throws(() => resolveServerConfig({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), requireClientCert: true } }), (e) => isSrError(e, 'CONFIG_INVALID'));
    assert.equal(resolveServerConfig({}).tls, undefined);
    assert.ok(resolveServerConfig({ tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') } }).tls?.cert.length);
  });
});
