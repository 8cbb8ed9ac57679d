/** `secondreader deidentify` and `secondreader audit` through main(), in-process. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { main } from '../cli/main.ts';
import { silentLogger } from '../core/log.ts';
import { readDicomFile } from '../dicom/parse.ts';
import { AuditTrail, openAuditDb } from '../server/audit/index.ts';

const QA = new URL('../../../shared/data/dicom-conformance/dcm_qa_ts/In/', import.meta.url).pathname;

function capture(): { out: string[]; stream: { write(s: string): boolean } } {
  const out: string[] = [];
  return { out, stream: { write: (s: string) => out.push(s) > 0 } };
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

describe('CLI', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'sr-deid-cli-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('deidentify writes one study folder for the nine encodings of one image', { skip: !existsSync(QA) }, async () => {
    const secret = join(dir, 'secret');
    await writeFile(secret, 'a-site-secret-of-enough-length\n');
    const o = capture();
    const e = capture();
    const rc = await main(['deidentify', QA, '--out', join(dir, 'out'), '--secret-file', secret, '--keep-dates-shifted'], { stdout: o.stream, stderr: e.stream, cwd: dir, env: {} });
    assert.equal(rc, 0, e.out.join(''));
    const files = await filesUnder(join(dir, 'out'));
    assert.equal(files.length, 9);
    assert.equal((await readdir(join(dir, 'out'))).length, 1, 'one study');
    const ds = (await readDicomFile(files[0] ?? '')).dataset;
    assert.equal(ds['PatientIdentityRemoved'], 'YES');
    assert.equal(ds['LongitudinalTemporalInformationModified'], 'MODIFIED');
  });

  it('deidentify without a secret is a usage error', async () => {
    const e = capture();
    assert.equal(await main(['deidentify', dir, '--out', join(dir, 'x')], { stdout: capture().stream, stderr: e.stream, cwd: dir, env: {} }), 2);
    assert.match(e.out.join(''), /USAGE/);
  });

  it('audit verify reports ok, then the broken seq after tampering; export writes JSON Lines', async () => {
    const data = join(dir, 'data');
    await mkdir(data, { recursive: true });
    const db2 = await openAuditDb({ backend: 'sqlite', dataDir: data });
    const trail = await AuditTrail.open(db2, { log: silentLogger });
    for (let i = 0; i < 4; i++) await trail.append({ action: 'read', outcome: 'success', actor: 'bob', source: 'cli', object: `o${i}` });
    const o = capture();
    assert.equal(await main(['audit', 'verify', '--data', data], { stdout: o.stream, stderr: capture().stream, cwd: dir, env: {} }), 0);
    assert.match(o.out.join(''), /ok: 4 event/);
    const x = capture();
    assert.equal(await main(['audit', 'export', '--data', data], { stdout: x.stream, stderr: capture().stream, cwd: dir, env: {} }), 0);
    assert.equal(x.out.join('').trim().split('\n').length, 4);
    await db2.run('DROP TRIGGER sr_audit_no_update');
    await db2.run("UPDATE sr_audit SET object = 'forged' WHERE seq = 2");
    await db2.close();
    const b = capture();
    assert.equal(await main(['audit', 'verify', '--data', data], { stdout: b.stream, stderr: capture().stream, cwd: dir, env: {} }), 1);
    assert.match(b.out.join(''), /BROKEN at seq 2/);
  });
});
