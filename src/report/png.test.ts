import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { encodePng } from './png.ts';
import { renderSlicePng } from './slice-image.ts';
import { createVolume } from '../imaging/volume.ts';

test('encodePng writes a valid signature, IHDR and the exact pixel rows', () => {
  const px = new Uint8Array([0, 128, 255, 7, 8, 9]);
  const png = encodePng(px, 3, 2, 1);
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), 3);
  assert.equal(png.readUInt32BE(20), 2);
  const idatLen = png.readUInt32BE(33);
  assert.equal(png.toString('latin1', 37, 41), 'IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLen));
  assert.deepEqual([...raw], [0, 0, 128, 255, 0, 7, 8, 9]);
  assert.throws(() => encodePng(px, 4, 2, 1), RangeError);
});

test('renderSlicePng applies the window and blends the overlay colour', () => {
  const vol = createVolume(new Int16Array([-1000, 40, 1000, 40]), { dims: [2, 2, 1] });
  const mask = createVolume(new Uint8Array([0, 0, 0, 1]), { dims: [2, 2, 1] });
  const png = renderSlicePng(vol, { k: 0, window: { center: 40, width: 80 }, overlay: mask, alpha: 1 });
  const raw = inflateSync(png.subarray(41, 41 + png.readUInt32BE(33)));
  // row 0: filter byte, black (below window), mid grey; row 1: white (above window), overlay red.
  assert.deepEqual([...raw.subarray(0, 7)], [0, 0, 0, 0, 127, 127, 127]);
  assert.deepEqual([...raw.subarray(7, 14)], [0, 255, 255, 255, 255, 60, 60]);
});
