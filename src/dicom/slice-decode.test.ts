import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rescaleStoredInto, rescaleWords16Into } from './slice-decode.ts';

/** The definition: mask / sign-extend BitsStored, × slope + intercept, round, clamp to int16. */
function reference(words: Uint16Array, bits: number, signed: boolean, slope: number, intercept: number): number[] {
  return Array.from(words, (w) => {
    const s = signed ? (w << (32 - bits)) >> (32 - bits) : w & (2 ** bits - 1);
    return Math.min(32767, Math.max(-32768, Math.round(s * slope + intercept)));
  });
}

function words(n: number, byteOffset: number): Uint16Array {
  const w = new Uint16Array(new ArrayBuffer(n * 2 + byteOffset + 2), byteOffset, n);
  // Every bit pattern class: small, around the stored-bit boundaries, junk in the high bits.
  for (let i = 0; i < n; i++) w[i] = (i * 40503 + 12345) & 0xffff;
  return w;
}

describe('rescaleWords16Into', () => {
  const cases: Array<[number, boolean, number, number]> = [
    [12, false, 1, -1024], // the usual CT: pair path (no value can overflow)
    [12, true, 1, -1024],
    [16, true, 1, 0],
    [16, true, 1, -1024], // can overflow: clamped path
    [16, false, 1, -1024],
    [12, false, 0.5, -1024.25], // non-integer rescale
    [10, true, 3, 7],
  ];
  for (const [bits, signed, slope, intercept] of cases) {
    for (const [n, off, base] of [[1000, 0, 0], [999, 2, 3], [1000, 2, 2]] as const) {
      it(`bits ${bits} ${signed ? 'signed' : 'unsigned'} ×${slope} ${intercept >= 0 ? '+' : ''}${intercept}, n ${n}, offset ${off}, base ${base}`, () => {
        const w = words(n, off);
        const out = new Int16Array(base + n + 1).fill(99);
        const clamped = rescaleWords16Into(w, bits, signed, slope, intercept, out, base);
        const ref = reference(w, bits, signed, slope, intercept);
        assert.deepEqual(Array.from(out.subarray(base, base + n)), ref);
        assert.equal(out[base + n], 99, 'nothing written past the slice');
        if (base > 0) assert.equal(out[base - 1], 99, 'nothing written before the slice');
        const expectClamped = ref.filter((v, i) => {
          const s = signed ? ((w[i] as number) << (32 - bits)) >> (32 - bits) : (w[i] as number) & (2 ** bits - 1);
          return Math.round(s * slope + intercept) !== v;
        }).length;
        assert.equal(clamped, expectClamped);
      });
    }
  }

  it('rescaleStoredInto clamps and rounds for every array type', () => {
    const out = new Int16Array(4);
    assert.equal(rescaleStoredInto(new Float32Array([1.4, -40000, 40000, 2.5]), 4, 1, 0, out, 0), 2);
    assert.deepEqual(Array.from(out), [1, -32768, 32767, 3]);
    assert.equal(rescaleStoredInto(new Uint16Array([0, 65535, 100, 5]), 4, 1, -1024, out, 0), 1);
    assert.deepEqual(Array.from(out), [-1024, 32767, -924, -1019]);
  });
});
