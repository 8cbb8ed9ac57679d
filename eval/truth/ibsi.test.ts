import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVolume } from '../../src/imaging/volume.ts';
import { maskTruth, readIbsiCtPhantomTruth } from './ibsi.ts';

const IBSI = new URL('../../../shared/data/radiomics-ibsi/ibsi_1_ct_radiomics_phantom', import.meta.url).pathname;

test('maskTruth on a small synthetic mask', () => {
  const data = new Uint8Array(4 * 4 * 2);
  data[1 + 4 * 1] = 1; // (1,1,0)
  data[2 + 4 * 1 + 16] = 1; // (2,1,1)
  const t = maskTruth(createVolume(data, { dims: [4, 4, 2], spacing: [1, 2, 3], origin: [10, 20, 30] }));
  assert.equal(t.voxels, 2);
  assert.equal(t.volumeMm3, 12);
  assert.deepEqual(t.centerMm, [11.5, 22, 31.5]);
  assert.throws(() => maskTruth(createVolume(new Uint8Array(8), { dims: [2, 2, 2] })), (e: unknown) => (e as { code?: string }).code === 'TRUTH_INVALID');
});

test('IBSI CT phantom GTV: voxel count and volume agree with the IBSI-1 reference', async () => {
  const t = await readIbsiCtPhantomTruth(IBSI);
  // IBSI-1 "Morph. mask voxel count" (initial ROI) = 125256; "Volume (voxel counting)" = 359000 ± 5000 mm³ (config A)
  assert.equal(t.voxels, 125256);
  assert.ok(Math.abs(t.volumeMm3 - 359000) <= 5000, `volume ${t.volumeMm3}`);
  assert.ok(Math.abs(t.equivalentDiameterMm - Math.cbrt((6 * t.volumeMm3) / Math.PI)) < 1e-9);
  // the centroid lies inside the bounding box of the mask
  for (let a = 0; a < 3; a++) assert.ok(t.centerMm[a]! > t.boundsMm.min[a]! && t.centerMm[a]! < t.boundsMm.max[a]!);
});
