import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsBlobStore } from './blob-store.ts';

/** Open descriptors of this process that point into `root` (Linux /proc). */
function fdsUnder(root: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) n++;
    } catch {
      // closed between the listing and the readlink
    }
  }
  return n;
}

test('close() releases the cached folder handles (none left to the garbage collector)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'sr-blob-close-'));
  try {
    const store = new FsBlobStore(root);
    for (let i = 0; i < 5; i++) await store.put(`s${i}/x/blob${i}.dcm`, { bytes: new Uint8Array([1, 2, 3, i]) });
    assert.ok(fdsUnder(root) >= 1, 'folder handles are cached for the next sync');
    await store.close();
    assert.equal(fdsUnder(root), 0);
    assert.deepEqual([...(await store.get('s3/x/blob3.dcm'))], [1, 2, 3, 3], 'what was stored stays readable');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
