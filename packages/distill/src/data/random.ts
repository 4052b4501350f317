// A small pure-TS PRNG for the data layer (permutations, splits, jitter shifts), so that
// the same seed gives the same order in Node and in every browser. xoshiro128** (Blackman
// and Vigna) seeded by hashing a list of 32-bit keys, e.g. (seed lo, seed hi, purpose,
// epoch, batch): each (seed, purpose, epoch, batch) gets its own independent stream,
// so nothing depends on how many numbers an earlier epoch or batch drew.

/** Stream purposes: keys that keep the streams of one seed apart. */
export const STREAM = { split: 1, shuffle: 2, jitter: 3, transfer: 4, mixup: 5, testSplit: 6, shards: 7, shuffleBuffer: 8, holdOut: 9, tokenNoise: 10 } as const;

/** The splitmix32-style finaliser: a bijective 32-bit mix. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

const rotl = (x: number, k: number): number => (x << k) | (x >>> (32 - k));

export function checkSeed(op: string, seed: number): number {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${op}: seed must be a non-negative safe integer, got ${String(seed)}`);
  return seed;
}

export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator for (seed, ...keys); seed is a non-negative safe integer, keys are u32. */
  constructor(seed: number, ...keys: number[]) {
    checkSeed('Xoshiro128', seed);
    let h = 0x243f6a88;
    for (const k of [seed >>> 0, Math.floor(seed / 4294967296) >>> 0, keys.length, ...keys]) {
      h = mix32((h + 0x9e3779b9 + mix32(k >>> 0)) >>> 0);
    }
    // splitmix32 from h fills the state; mix32 is a bijection of distinct inputs, so the
    // four words are never all zero.
    const next = (): number => mix32((h = (h + 0x9e3779b9) >>> 0));
    this.s0 = next(); this.s1 = next(); this.s2 = next(); this.s3 = next();
  }

  /** Next u32. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 random bits (an exact multiple of 2^-32: the same in every engine). */
  unit(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n), unbiased (rejection), 1 <= n <= 2^32. */
  below(n: number): number {
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const r = this.nextU32();
      if (r < limit) return r % n;
    }
  }
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, rng: Xoshiro128): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.below(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
