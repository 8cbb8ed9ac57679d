import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { isSrError } from '../core/errors.ts';
import { createVolume, lpsToIjk } from '../imaging/volume.ts';
import type { Mat3 } from '../imaging/volume.ts';
import { gantryTiltDirection, writeCtSeries } from './ct-series-writer.ts';
import type { CtPixelStorage } from './ct-series-writer.ts';

interface DcmjsRead {
  data: {
    DicomMessage: { readFile(ab: ArrayBuffer): { dict: Record<string, unknown> } };
    DicomMetaDictionary: { naturalizeDataset(d: Record<string, unknown>): Record<string, unknown> };
  };
}
const dcmjs = createRequire(import.meta.url)('dcmjs') as DcmjsRead;

function readBack(path: string): Record<string, unknown> {
  const b = readFileSync(path);
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab).dict);
}

function nums(v: unknown): number[] {
  return (Array.isArray(v) ? v : [v]).map(Number);
}

function testVolume(direction?: Mat3) {
  const dims: [number, number, number] = [20, 14, 6];
  const data = new Int16Array(20 * 14 * 6);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 4600) - 1200; // covers < −1024 and > 3071
  return createVolume(data, { dims, spacing: [0.7, 0.75, 1.25], origin: [-120.5, -80.25, 33.125], ...(direction ? { direction } : {}) });
}

const DCIODVFY = '/usr/bin/dciodvfy';

/** dciodvfy's findings (it prints them on stderr and exits 0 even when there are errors). */
function dciodvfyReport(path: string): string {
  const r = spawnSync(DCIODVFY, [path], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`;
}

for (const storage of ['signed', 'unsigned'] as CtPixelStorage[]) {
  test(`writeCtSeries round-trips HU and geometry (${storage}, tilted, shuffled)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sr-ct-'));
    try {
      const vol = testVolume(gantryTiltDirection(storage === 'signed' ? 0 : 12));
      const res = await writeCtSeries(vol, {
        outDir: dir, storage, fileNaming: 'opaque', instanceOrder: 'shuffled', uidSeed: `t-${storage}`,
        patient: { ageYears: 57, PatientSex: 'M' },
      });
      assert.equal(res.files.length, 6);
      assert.equal(readdirSync(dir).length, 6);
      assert.ok(res.files.every((f) => !basename(f).endsWith('.dcm')));
      const numbers = res.instances.map((x) => x.InstanceNumber);
      assert.deepEqual([...numbers].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6]);
      assert.notDeepEqual(numbers, [1, 2, 3, 4, 5, 6]);
      assert.equal(Math.round(res.gantryTiltDeg), storage === 'signed' ? 0 : 12);
      const sliceLen = 20 * 14;
      for (const inst of res.instances) {
        const ds = readBack(inst.path);
        assert.equal(ds['Modality'], 'CT');
        assert.equal(ds['PatientAge'], '057Y');
        assert.equal(ds['SeriesInstanceUID'], res.SeriesInstanceUID);
        assert.equal(Number(ds['InstanceNumber']), inst.InstanceNumber);
        const slope = Number(ds['RescaleSlope']);
        const intercept = Number(ds['RescaleIntercept']);
        assert.equal(intercept, storage === 'signed' ? 0 : -1024);
        const pd = ds['PixelData'];
        assert.ok(Array.isArray(pd) && pd[0] instanceof ArrayBuffer);
        const stored = Number(ds['PixelRepresentation']) === 1 ? new Int16Array(pd[0] as ArrayBuffer) : new Uint16Array(pd[0] as ArrayBuffer);
        assert.equal(stored.length, sliceLen);
        for (let p = 0; p < sliceLen; p++) {
          const hu = vol.data[inst.k * sliceLen + p] ?? 0;
          const expected = storage === 'signed' ? hu : Math.min(3071, Math.max(-1024, hu));
          assert.equal((stored[p] ?? 0) * slope + intercept, expected);
        }
        // Geometry: IPP is the LPS of voxel (0,0,k).
        const ijk = lpsToIjk(vol, nums(ds['ImagePositionPatient']));
        assert.ok(Math.abs(ijk[0]) < 1e-4 && Math.abs(ijk[1]) < 1e-4 && Math.abs(ijk[2] - inst.k) < 1e-4, `ijk ${ijk.join(',')}`);
        assert.deepEqual(nums(ds['PixelSpacing']), [0.75, 0.7]);
      }
      if (existsSync(DCIODVFY)) {
        const report = dciodvfyReport(res.files[0] ?? '');
        assert.doesNotMatch(report, /^Error/m, report);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('dciodvfy reports no errors on a written CT slice', { skip: existsSync(DCIODVFY) ? false : `${DCIODVFY} not installed` }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sr-ct-'));
  try {
    const res = await writeCtSeries(testVolume(), { outDir: dir, uidSeed: 'dciodvfy', patient: { ageYears: 70, PatientSex: 'F' } });
    const report = dciodvfyReport(res.files[2] ?? '');
    assert.match(report, /CTImage/);
    assert.doesNotMatch(report, /^Error/m, report);
    assert.doesNotMatch(report, /^Warning/m, report);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeCtSeries rejects non-orthogonal row/column axes', async () => {
  const bad: Mat3 = [1, 0.3, 0, 0, 1, 0, 0, 0, 1];
  await assert.rejects(writeCtSeries(testVolume(bad), { outDir: join(tmpdir(), 'sr-never') }), (e: unknown) => isSrError(e, 'VOLUME_INVALID'));
});
