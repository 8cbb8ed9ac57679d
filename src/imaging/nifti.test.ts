import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isSrError } from '../core/errors.ts';
import { encodeNifti, matrixToQuaternion, parseNifti, quaternionToMatrix, readNifti, writeNifti } from './nifti.ts';
import type { Mat3, Volume, VoxelArray } from './volume.ts';
import { createVolume, ijkToLps } from './volume.ts';

const DATA = new URL('../../../shared/data/', import.meta.url).pathname;

function rotation(ax: number, ay: number, az: number): Mat3 {
  const [ca, sa, cb, sb, cc, sc] = [Math.cos(ax), Math.sin(ax), Math.cos(ay), Math.sin(ay), Math.cos(az), Math.sin(az)];
  const rx: Mat3 = [1, 0, 0, 0, ca, -sa, 0, sa, ca];
  const ry: Mat3 = [cb, 0, sb, 0, 1, 0, -sb, 0, cb];
  const rz: Mat3 = [cc, -sc, 0, sc, cc, 0, 0, 0, 1];
  const mul = (a: Mat3, b: Mat3): Mat3 => [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!)) as Mat3;
  return mul(rz, mul(ry, rx));
}

function assertGeometry(a: Volume, b: Volume, tol = 1e-4): void {
  assert.deepEqual(a.dims, b.dims);
  for (const ijk of [[0, 0, 0], [a.dims[0] - 1, 0, 0], [0, a.dims[1] - 1, 0], [0, 0, a.dims[2] - 1], [3, 2, 1]]) {
    const p = ijkToLps(a, ijk);
    const q = ijkToLps(b, ijk);
    p.forEach((x, k) => assert.ok(Math.abs(x - q[k]!) < tol, `ijk ${ijk.join(',')}: ${p.join(',')} vs ${q.join(',')}`));
  }
}

function filled<T extends VoxelArray>(data: T): T {
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251 - (data instanceof Uint8Array || data instanceof Uint16Array ? 0 : 100);
  return data;
}

describe('NIfTI-1 I/O', () => {
  let dir = '';
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'sr-nifti-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('round-trips voxels and oblique LPS geometry for every datatype, .nii and .nii.gz', async () => {
    const direction = rotation(0.3, -0.2, 1.1);
    const arrays: VoxelArray[] = [new Int16Array(60), new Uint8Array(60), new Float32Array(60), new Int32Array(60), new Uint16Array(60), new Float64Array(60)];
    for (const [n, data] of arrays.entries()) {
      const vol = createVolume(filled(data), { dims: [5, 4, 3], spacing: [0.7, 0.9, 2.5], origin: [-12.5, 40.25, 88], direction });
      const path = join(dir, `v${n}.nii${n % 2 === 0 ? '.gz' : ''}`);
      await writeNifti(path, vol);
      const back = await readNifti(path);
      assert.equal(back.volume.data.constructor, data.constructor);
      assert.deepEqual(Array.from(back.volume.data), Array.from(data));
      assertGeometry(back.volume, vol);
      assert.equal(back.transform, 'sform');
    }
  });

  it('reads the same geometry from the qform (quaternion, qfac) when there is no sform', () => {
    for (const direction of [rotation(0.4, 0.1, -2.0), [1, 0, 0, 0, 1, 0, 0, 0, -1] as Mat3]) {
      const vol = createVolume(new Int16Array(24), { dims: [2, 3, 4], spacing: [1.5, 0.5, 3], origin: [1, 2, 3], direction });
      const bytes = encodeNifti(vol);
      new DataView(bytes.buffer).setInt16(254, 0, true);
      const img = parseNifti(bytes);
      assert.equal(img.transform, 'qform');
      assertGeometry(img.volume, vol);
    }
    const q = matrixToQuaternion(quaternionToMatrix(0.1, -0.5, 0.3));
    assert.ok(q && Math.abs(q.b - 0.1) < 1e-9 && Math.abs(q.c + 0.5) < 1e-9 && Math.abs(q.d - 0.3) < 1e-9 && q.qfac === 1);
  });

  it('keeps a sheared (gantry-tilt) grid in the sform only', () => {
    const t = (15 * Math.PI) / 180;
    const vol = createVolume(new Int16Array(8), { dims: [2, 2, 2], spacing: [0.5, 0.5, 3], origin: [0, 0, 0], direction: [1, 0, 0, 0, Math.cos(t), 0, 0, -Math.sin(t), 1] });
    const bytes = encodeNifti(vol);
    assert.equal(new DataView(bytes.buffer).getInt16(252, true), 0);
    assertGeometry(parseNifti(bytes).volume, vol);
  });

  it('applies scl_slope/scl_inter, keeping integer scaling integer', () => {
    const vol = createVolume(new Int16Array([0, 1, 2, 3000]), { dims: [2, 2, 1] });
    const bytes = encodeNifti(vol);
    const view = new DataView(bytes.buffer);
    view.setFloat32(112, 2, true);
    view.setFloat32(116, -1024, true);
    const img = parseNifti(bytes);
    assert.ok(img.volume.data instanceof Int16Array);
    assert.deepEqual(Array.from(img.volume.data), [-1024, -1022, -1020, 4976]);
    view.setFloat32(112, 0.5, true);
    const f = parseNifti(bytes);
    assert.ok(f.volume.data instanceof Float32Array);
    assert.deepEqual(Array.from(f.volume.data), [-1024, -1023.5, -1023, 476]);
  });

  it('reads big-endian files', () => {
    const vol = createVolume(new Int16Array([1, -2, 300, -400]), { dims: [2, 2, 1], spacing: [2, 3, 4], origin: [5, 6, 7] });
    const le = encodeNifti(vol);
    const be = new Uint8Array(le.length);
    be.set(le);
    const lv = new DataView(le.buffer);
    const bv = new DataView(be.buffer);
    const swap32 = [0, 76, 80, 84, 88, 92, 96, 100, 104, 108, 112, 116, ...Array.from({ length: 12 }, (_, k) => 280 + 4 * k), 256, 260, 264, 268, 272, 276];
    for (const o of swap32) bv.setUint32(o, lv.getUint32(o, true), false);
    for (let o = 40; o < 56; o += 2) bv.setInt16(o, lv.getInt16(o, true), false);
    for (const o of [70, 72, 252, 254]) bv.setInt16(o, lv.getInt16(o, true), false);
    for (let i = 0; i < 4; i++) bv.setInt16(352 + 2 * i, lv.getInt16(352 + 2 * i, true), false);
    const img = parseNifti(be);
    assert.deepEqual(Array.from(img.volume.data), [1, -2, 300, -400]);
    assertGeometry(img.volume, vol);
  });

  it('refuses truncated, 4-D and non-NIfTI input with NIFTI_INVALID', () => {
    const bytes = encodeNifti(createVolume(new Int16Array(8), { dims: [2, 2, 2] }));
    assert.throws(() => parseNifti(bytes.subarray(0, 360)), (e: unknown) => isSrError(e, 'NIFTI_INVALID'));
    assert.throws(() => parseNifti(new Uint8Array(400)), (e: unknown) => isSrError(e, 'NIFTI_INVALID'));
    const fourD = new Uint8Array(bytes);
    const v = new DataView(fourD.buffer);
    v.setInt16(40, 4, true);
    v.setInt16(48, 2, true);
    assert.throws(() => parseNifti(fourD), (e: unknown) => isSrError(e, 'NIFTI_INVALID'));
  });

  it('reads TotalSegmentator and IBSI files into LPS (RAS x/y negated)', { skip: !existsSync(DATA) }, async () => {
    const ct = await readNifti(join(DATA, 'ct-totalsegmentator/example_ct_sm.nii.gz'));
    assert.deepEqual(ct.volume.dims, [122, 101, 30]);
    assert.ok(ct.volume.data instanceof Int16Array);
    assert.deepEqual(ct.volume.spacing, [3, 3, 3]);
    // sform diag(3,3,3) in RAS → LPS direction diag(-1,-1,1), origin with x/y negated.
    assert.deepEqual(ct.volume.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
    assert.ok(Math.abs(ct.volume.origin[0] - 177.95633) < 1e-4 && Math.abs(ct.volume.origin[1] + 11.319) < 1e-4 && Math.abs(ct.volume.origin[2] - 94.30176) < 1e-4);
    let air = 0;
    for (const x of ct.volume.data) if (x < -900) air++;
    assert.ok(air > 0.1 * ct.volume.data.length, 'a CT has air');
    const seg = await readNifti(join(DATA, 'ct-totalsegmentator/example_seg_dicom.nii.gz'));
    assert.deepEqual(seg.volume.dims, [512, 512, 20]);
    assert.ok(seg.volume.data instanceof Uint8Array);
    const ibsi = await readNifti(join(DATA, 'radiomics-ibsi/ibsi_1_ct_radiomics_phantom/nifti/image/phantom.nii.gz'));
    assert.deepEqual(ibsi.volume.dims, [204, 201, 60]);
    assert.ok(ibsi.volume.data instanceof Float32Array);
    assert.deepEqual(ibsi.volume.direction.map((x) => x + 0), [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});
