import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../core/index.ts';
import { hostTag, prepareIncoming } from './incoming.ts';

const roots: string[] = [];
after(async () => {
  for (const r of roots) await rm(r, { recursive: true, force: true });
});

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  const pid = child.pid;
  await new Promise((r) => child.once('exit', r));
  assert.ok(pid !== undefined);
  return pid;
}

test('start-up removes the partial files of dead processes of this host only, and close removes our folder', async () => {
  const base = await mkdtemp(join(tmpdir(), 'sr-incoming-'));
  roots.push(base);
  const host = hostTag();
  const dead = `${host}-${await deadPid()}`;
  const alive = `${host}-${process.ppid}`;
  const ours = `${host}-${process.pid}`;
  const otherHost = `elsewhere-${process.ppid}`;
  for (const d of [dead, alive, ours, otherHost]) {
    await mkdir(join(base, d));
    await writeFile(join(base, d, 'partial.dcm'), 'x');
  }
  const incoming = await prepareIncoming(base, silentLogger);
  assert.equal(incoming.dir, join(base, ours));
  assert.equal(incoming.removed, 2, 'the dead process\'s file and the one left under our own pid by an earlier process');
  assert.deepEqual((await readdir(base)).sort(), [alive, otherHost, ours].sort());
  assert.deepEqual(await readdir(incoming.dir), []);
  assert.deepEqual(await readdir(join(base, alive)), ['partial.dcm'], 'a live process keeps its in-flight file');
  assert.deepEqual(await readdir(join(base, otherHost)), ['partial.dcm'], 'another host\'s folder is never touched');
  await incoming.dispose();
  assert.deepEqual((await readdir(base)).sort(), [alive, otherHost].sort());
});
