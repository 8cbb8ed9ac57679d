/**
 * Deterministic randomness for the fuzzer: every input is a pure function of (seed, index), so a failure is
 * reproduced from its two numbers alone (`npm run bench:fuzz -- --seed S --only I`).
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, n). */
  int(n: number): number;
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32: small, fast, good enough for mutation choices (not for cryptography). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => (n <= 0 ? 0 : Math.floor(next() * n));
  return {
    next,
    int,
    range: (lo, hi) => lo + int(hi - lo + 1),
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[int(items.length)] as T;
    },
    chance: (p) => next() < p,
  };
}

/** The generator of input `index` of run `seed` (a 32-bit mix of both, so neighbouring inputs are unrelated). */
export function inputRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (index >>> 0) ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return createRng(h);
}
