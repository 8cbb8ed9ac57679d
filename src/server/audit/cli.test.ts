/**
 * `secondreader audit` on a SQLite index: `verify --expect-head SEQ:HASH` detects a truncated or rewritten chain
 * that plain `verify` accepts; `audit export | head` (the reader closing the pipe early: EPIPE) ends quietly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSrError } from '../../core/errors.ts';
import { silentLogger } from '../../core/log.ts';
import type { SqlDb } from '../../archive/db.ts';
import { auditCommand } from '../../cli/audit.ts';
import type { CliDeps } from '../../cli/io.ts';
import { openAuditDb } from './open.ts';
import { AuditTrail, parseAuditAnchor } from './trail.ts';

const BIN = new URL('../../../bin/secondreader.js', import.meta.url).pathname;

async function run(args: readonly string[], cwd: string): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = { write: (s: string) => { out += s; return true; } };
  const deps: CliDeps = { stdout: sink, stderr: sink, env: {}, cwd, log: silentLogger };
  const code = await auditCommand(args, deps);
  return { code, out };
}

function head(out: string): string {
  const m = /head seq (\d+) hash ([0-9a-f]{64})/.exec(out);
  assert.ok(m, out);
  return `${m[1]}:${m[2]}`;
}

describe('audit verify --expect-head (truncation anchor)', () => {
  let dir = '';
  let db: SqlDb;
  let trail: AuditTrail;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-audit-cli-'));
    db = await openAuditDb({ backend: 'sqlite', dataDir: dir });
    trail = await AuditTrail.open(db, { log: silentLogger });
  });
  after(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const append = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) await trail.append({ action: 'read', outcome: 'success', actor: 'alice', source: '10.0.0.1', object: `GET /x/${i}` });
  };

  it('accepts a chain that still holds the recorded head, also after it grew', async () => {
    await append(5);
    const v = await run(['verify', '--data', dir], dir);
    assert.equal(v.code, 0, v.out);
    const anchor = head(v.out);
    assert.ok(anchor.startsWith('5:'));
    await append(2);
    const later = await run(['verify', '--expect-head', anchor, '--data', dir], dir);
    assert.equal(later.code, 0, later.out);
    assert.match(later.out, /expected head seq 5 found unchanged/);
    assert.ok(head(later.out).startsWith('7:'));
  });

  it('fails when the recorded head differs or the newest rows were removed, which plain verify accepts', async () => {
    const anchor = head((await run(['verify', '--data', dir], dir)).out);
    const [seq, hash] = anchor.split(':');
    const wrong = `${seq}:${(hash ?? '').replace(/^./, (c) => (c === '0' ? '1' : '0'))}`;
    const differs = await run(['verify', '--expect-head', wrong, '--data', dir], dir);
    assert.equal(differs.code, 1, differs.out);
    assert.match(differs.out, /BROKEN at seq 7: its hash differs/);

    // An attacker with database rights drops the append-only triggers and deletes the two newest rows.
    for (const sql of ['DROP TRIGGER sr_audit_no_update', 'DROP TRIGGER sr_audit_no_delete']) await db.run(sql);
    await db.run('DELETE FROM sr_audit WHERE seq > 5');
    const plain = await run(['verify', '--data', dir], dir);
    assert.equal(plain.code, 0, 'a truncated chain is still a valid chain');
    const anchored = await run(['verify', '--expect-head', anchor, '--data', dir], dir);
    assert.equal(anchored.code, 1, anchored.out);
    assert.match(anchored.out, /BROKEN at seq 7: the expected head is missing: the chain ends at seq 5 \(truncated\)/);
  });

  it('refuses a malformed anchor as a usage error', async () => {
    assert.equal(parseAuditAnchor('7:abc'), undefined);
    assert.equal(parseAuditAnchor(`0:${'a'.repeat(64)}`), undefined);
    assert.deepEqual(parseAuditAnchor(` 12:${'A'.repeat(64)} `), { seq: 12, hash: 'a'.repeat(64) });
    for (const args of [['verify', '--expect-head', 'seven'], ['export', '--expect-head', `1:${'a'.repeat(64)}`]]) {
      await assert.rejects(run([...args, '--data', dir], dir), (e) => isSrError(e, 'USAGE'));
    }
  });
});

describe('audit export | head', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sr-audit-pipe-'));
    const db = await openAuditDb({ backend: 'sqlite', dataDir: dir });
    try {
      const trail = await AuditTrail.open(db, { log: silentLogger });
      // ~1,500 lines of ~250 bytes: several times a pipe's buffer, so the export is still writing when the reader goes.
      for (let i = 0; i < 1500; i++) await trail.append({ action: 'read', outcome: 'success', actor: 'alice', source: '10.0.0.1', object: `GET /api/v1/studies/1.2.${i}`, details: { i } });
    } finally {
      await db.close();
    }
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('stops quietly with exit code 0 when the reader closes the pipe (EPIPE)', async () => {
    const child = spawn(process.execPath, [BIN, 'audit', 'export', '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    // Like `head -1`: read the first chunk, then close the read end of the pipe.
    await new Promise<void>((res) => child.stdout.once('data', () => res()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
