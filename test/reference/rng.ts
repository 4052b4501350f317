// THE REFERENCE for the seeded PRNG kernels (abi.ts, "seeded PRNG"): xoshiro128** over
// a 4 x u32 state, and the samplers built on it, written from the published algorithm
// (Blackman & Vigna) and the formulas in abi.ts. The state is taken as given (read from
// the module after rngSeed), so these check the generator and the samplers exactly.

const f = Math.fround;

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

export class RefXoshiro128ss {
  readonly s: Uint32Array;

  constructor(state: ArrayLike<number>) { this.s = Uint32Array.from(state); }

  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!; s[3]! ^= s[1]!; s[1]! ^= s[2]!; s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** u = f32(next() >>> 8) * 2^-24 in [0, 1): exact in f32. */
  uniform24(): number { return (this.next() >>> 8) * 2 ** -24; }
}

/** SplitMix64 outputs for a 64-bit seed (BigInt arithmetic, mod 2^64). */
export function splitMix64(seed: bigint, count: number): bigint[] {
  const M = (1n << 64n) - 1n;
  let x = seed & M;
  const out: bigint[] = [];
  for (let i = 0; i < count; i++) {
    x = (x + 0x9e3779b97f4a7c15n) & M;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M;
    out.push(z ^ (z >> 31n));
  }
  return out;
}

export function refUint32(state: ArrayLike<number>, n: number): Uint32Array {
  const g = new RefXoshiro128ss(state);
  return Uint32Array.from({ length: n }, () => g.next());
}

/** lo + (hi - lo) * u with every operation in f32, as abi.ts specifies. */
export function refUniform(state: ArrayLike<number>, n: number, lo: number, hi: number): Float32Array {
  const g = new RefXoshiro128ss(state);
  const width = f(f(hi) - f(lo));
  return Float32Array.from({ length: n }, () => f(f(lo) + f(width * g.uniform24())));
}

/** Box-Muller in f64 (host Math here, so only ~1e-6 agreement with the module's own math is expected). */
export function refNormal(state: ArrayLike<number>, n: number, mean: number, std: number): Float32Array {
  const g = new RefXoshiro128ss(state);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u1 = ((g.next() >>> 8) + 1) * 2 ** -24;
    const u2 = (g.next() >>> 8) * 2 ** -24;
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < n) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** mask[i] = u < p ? 0 : f32(1) / (f32(1) - f32(p)), p compared as the f32 the kernel receives. */
export function refDropoutMask(state: ArrayLike<number>, n: number, p: number): Float32Array {
  const g = new RefXoshiro128ss(state);
  const pf = f(p);
  const keep = f(1 / f(1 - pf));
  return Float32Array.from({ length: n }, () => (g.uniform24() < pf ? 0 : keep));
}
