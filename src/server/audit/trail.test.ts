/**
 * The audit trail on both index back ends: the chain verifies; a row changed or removed by direct SQL (after
 * dropping the triggers, as an attacker with database access could) is reported at its seq; UPDATE and DELETE are
 * refused by the database; two processes appending at once keep one valid chain.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../core/log.ts';
import type { SqlDb } from '../../archive/db.ts';
import { openAuditDb } from './open.ts';
import type { AuditDbConfig } from './open.ts';
import { AuditTrail, canonicalJson, chainHash, exportLines, siteSecret } from './trail.ts';
import { pgTestSchema } from '../../../test/support/postgres.ts';

const CHILD = new URL('./append-child.ts', import.meta.url).pathname;

function runChild(config: AuditDbConfig, count: number, label: string): Promise<void> {
  return new Promise((res, rej) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config), String(count), label], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    p.on('error', rej);
    p.on('exit', (code) => (code === 0 ? res() : rej(new Error(`child ${label} exited ${code}: ${err}`))));
  });
}

interface Backend {
  readonly name: string;
  setup(): Promise<AuditDbConfig>;
  teardown(): Promise<void>;
  /** SQL that removes the append-only triggers (what an attacker with DBA rights would do first). */
  readonly dropTriggers: readonly string[];
}

function suite(b: Backend): void {
  describe(`audit trail (${b.name})`, () => {
    let config: AuditDbConfig;
    let db: SqlDb;
    let trail: AuditTrail;
    before(async () => {
      config = await b.setup();
      db = await openAuditDb(config);
      trail = await AuditTrail.open(db, { log: silentLogger });
    });
    after(async () => {
      await db.close();
      await b.teardown();
    });

    it('appends events into a chain that verifies, newest first in list()', async () => {
      for (let i = 1; i <= 6; i++) {
        await trail.append({ action: i % 2 ? 'read' : 'write', outcome: 'success', actor: 'alice', actorRole: 'radiologist', source: '10.0.0.1', object: `GET /api/v1/studies/1.2.${i}`, studyInstanceUid: `1.2.${i}`, details: { z: 1, a: [i, 'x'] } });
      }
      const v = await trail.verify();
      assert.equal(v.ok, true);
      assert.equal(v.count, 6);
      const listed = await trail.list({ actor: 'alice', limit: 2 });
      assert.deepEqual(listed.map((r) => r.seq), [6, 5]);
      assert.deepEqual((await trail.list({ studyInstanceUid: '1.2.3' })).map((r) => r.seq), [3]);
      assert.deepEqual(listed[0]?.details, { a: [6, 'x'], z: 1 });
      const lines: string[] = [];
      for await (const l of exportLines(trail, 'jsonl')) lines.push(l);
      assert.equal(lines.length, 6);
      assert.equal((JSON.parse(lines[0] ?? '') as { seq: number }).seq, 1);
      const csv: string[] = [];
      for await (const l of exportLines(trail, 'csv')) csv.push(l);
      assert.equal(csv.length, 7);
    });

    it('the database refuses UPDATE and DELETE', async () => {
      await assert.rejects(db.run("UPDATE sr_audit SET actor = 'mallory' WHERE seq = 2"));
      await assert.rejects(db.run('DELETE FROM sr_audit WHERE seq = 2'));
      assert.equal((await trail.verify()).ok, true);
    });

    it('keeps one valid chain when two processes append at once', async () => {
      const before = (await trail.verify()).count;
      await Promise.all([runChild(config, 25, 'p1'), runChild(config, 25, 'p2')]);
      const v = await trail.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.equal(v.count, before + 50);
    });

    it('reports a row altered or removed by direct SQL at its seq', async () => {
      for (const sql of b.dropTriggers) await db.run(sql);
      await db.run("UPDATE sr_audit SET actor = 'mallory' WHERE seq = 4");
      const v = await trail.verify();
      assert.equal(v.ok, false);
      assert.equal(v.ok ? 0 : v.brokenSeq, 4);
      assert.equal(v.count, 3);
      // Put the value back: the chain verifies again (the hash covers exactly the content).
      await db.run("UPDATE sr_audit SET actor = 'alice' WHERE seq = 4");
      assert.equal((await trail.verify()).ok, true);
      await db.run('DELETE FROM sr_audit WHERE seq = 5');
      const gone = await trail.verify();
      assert.equal(gone.ok ? 0 : gone.brokenSeq, 5);
      // Re-hashing a forged row is not enough either: the next row's prev_hash still names the original.
      const [row] = await trail.list({ from: '', limit: 1000 }).then((rs) => rs.filter((r) => r.seq === 2));
      assert.ok(row);
      const forged = { ...row, actor: 'mallory' };
      await db.run('UPDATE sr_audit SET actor = ?, hash = ? WHERE seq = 2', ['mallory', chainHash(row.prevHash, forged, 2)]);
      const rehashed = await trail.verify();
      assert.equal(rehashed.ok ? 0 : rehashed.brokenSeq, 3);
    });

    it('keeps one de-identification site secret', async () => {
      const a = await siteSecret(db);
      const c = await siteSecret(db);
      assert.equal(a.length, 32);
      assert.ok(a.equals(c));
    });
  });
}

describe('canonical JSON', () => {
  it('sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { y: 2, x: 1 }], c: undefined } }), '{"a":{"d":[1,{"x":1,"y":2}]},"b":1}');
  });
});

let sqliteDir = '';
suite({
  name: 'sqlite',
  setup: async () => {
    sqliteDir = await mkdtemp(join(tmpdir(), 'sr-audit-'));
    return { backend: 'sqlite', dataDir: sqliteDir };
  },
  teardown: () => rm(sqliteDir, { recursive: true, force: true }),
  dropTriggers: ['DROP TRIGGER sr_audit_no_update', 'DROP TRIGGER sr_audit_no_delete'],
});

const pgSchema = pgTestSchema('sr_audit_t');
suite({
  name: 'postgres',
  setup: () => Promise.resolve({ backend: 'postgres', connectionString: pgSchema.connection, schema: pgSchema.schema }),
  teardown: pgSchema.drop,
  dropTriggers: ['DROP TRIGGER sr_audit_no_change ON sr_audit'],
});
