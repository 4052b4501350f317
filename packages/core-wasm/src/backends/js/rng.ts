// Seeded PRNG: xoshiro128** (Blackman & Vigna), state is 4 x u32 (16 bytes) at `rng`.
// out is (n): u32 for rngUint32, f32 for rngUniform / rngNormal.
// The state lives in linear memory, not here, so a generator is a pointer: the same
// bytes give the same stream on every backend, and checkpoints can save it.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const TWO_POW_M24 = 2 ** -24;
const fround = Math.fround;

/**
 * The generator step on a state copied out of memory. Kernels `load` once, draw in
 * their loop, and `save` once. One shared instance: kernels run one at a time and never
 * re-enter, and it keeps the draw loop free of allocation.
 */
class Xoshiro128 {
  s0 = 0; s1 = 0; s2 = 0; s3 = 0;

  load(u32: Uint32Array, i: number): void {
    this.s0 = u32[i]!; this.s1 = u32[i + 1]!; this.s2 = u32[i + 2]!; this.s3 = u32[i + 3]!;
  }

  save(u32: Uint32Array, i: number): void {
    u32[i] = this.s0; u32[i + 1] = this.s1; u32[i + 2] = this.s2; u32[i + 3] = this.s3;
  }

  /** Next u32 (as a non-negative number). Math.imul and >>> keep every step in 32 bits. */
  next(): number {
    const s1 = this.s1;
    const x = Math.imul(s1, 5);
    const result = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 = s1 ^ this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = (this.s3 << 11) | (this.s3 >>> 21);
    return result;
  }

  /** uniform24: the top 24 bits as an f32 in [0, 1), exact (a 24-bit integer times 2^-24). */
  nextUniform24(): number {
    return (this.next() >>> 8) * TWO_POW_M24;
  }
}

/** The shared generator, also used by dropout.ts. */
export const xoshiro = new Xoshiro128();

const MASK64 = (1n << 64n) - 1n;

/**
 * Seeds the state from the 64-bit seed (seedHi << 32 | seedLo) with SplitMix64: two
 * outputs, each split low word first, give state words [lo(z1), hi(z1), lo(z2), hi(z2)].
 * Never all-zero without a special case: SplitMix64's output mix is a bijection of u64
 * and its two inputs (seed + γ, seed + 2γ) differ, so z1 and z2 cannot both be 0.
 * BigInt is fine here: seeding happens once per generator.
 */
export function rngSeed(heap: HeapViews, rng: Ptr, seedLo: number, seedHi: number): void {
  const u32 = heap.sync().u32;
  let x = (BigInt(seedHi >>> 0) << 32n) | BigInt(seedLo >>> 0);
  const i = rng >>> 2;
  for (let w = 0; w < 4; w += 2) {
    x = (x + 0x9e3779b97f4a7c15n) & MASK64;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
    z ^= z >> 31n;
    u32[i + w] = Number(z & 0xffffffffn);
    u32[i + w + 1] = Number(z >> 32n);
  }
}

/** out[i] (u32) = next() */
export function rngUint32(heap: HeapViews, out: Ptr, rng: Ptr, n: number): void {
  const u32 = heap.sync().u32;
  const oi = out >>> 2, si = rng >>> 2;
  xoshiro.load(u32, si);
  for (let i = 0; i < n; i++) u32[oi + i] = xoshiro.next();
  xoshiro.save(u32, si);
}

/**
 * out[i] = lo + (hi - lo) * u in f32 arithmetic (lo, hi rounded to f32 as a wasm f32
 * parameter would be), so the values are bit-identical to the wasm builds.
 */
export function rngUniform(heap: HeapViews, out: Ptr, rng: Ptr, n: number, lo: number, hi: number): void {
  const { f32: f, u32 } = heap.sync();
  const oi = out >>> 2, si = rng >>> 2;
  const lo32 = fround(lo), width = fround(fround(hi) - lo32);
  xoshiro.load(u32, si);
  for (let i = 0; i < n; i++) f[oi + i] = lo32 + fround(width * xoshiro.nextUniform24());
  xoshiro.save(u32, si);
}

/**
 * Box-Muller in f64, per pair of draws (a, b):
 *   u1 = ((a >>> 8) + 1) * 2^-24 in (0, 1]  (never 0, so the log is finite)
 *   u2 = (b >>> 8) * 2^-24 in [0, 1)
 *   r = sqrt(-2 ln u1);  out = mean + std * r * cos(2 pi u2), then mean + std * r * sin(2 pi u2).
 * An odd n draws a full last pair and discards its sine, so the stream position depends
 * only on ceil(n / 2).
 */
export function rngNormal(heap: HeapViews, out: Ptr, rng: Ptr, n: number, mean: number, std: number): void {
  const { f32: f, u32 } = heap.sync();
  const oi = out >>> 2, si = rng >>> 2;
  xoshiro.load(u32, si);
  for (let i = 0; i < n; i += 2) {
    const u1 = ((xoshiro.next() >>> 8) + 1) * TWO_POW_M24;
    const u2 = (xoshiro.next() >>> 8) * TWO_POW_M24;
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    f[oi + i] = mean + std * r * Math.cos(theta);
    if (i + 1 < n) f[oi + i + 1] = mean + std * r * Math.sin(theta);
  }
  xoshiro.save(u32, si);
}
