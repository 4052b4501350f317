// Seeded PRNG: xoshiro128** (Blackman & Vigna), state = 4 x u32 (16 bytes) at `rng`.
// out is (n): u32 for rngUint32, f32 for rngUniform / rngNormal.
//
// seed:    SplitMix64 over the 64-bit seed (seedHi << 32 | seedLo), two outputs a, b:
//          s = [lo32(a), hi32(a), lo32(b), hi32(b)]. Never all zero (SplitMix64's output map is a
//          bijection, so two consecutive outputs cannot both be 0; guarded anyway).
// uniform: u = f32(next() >>> 8) * 2^-24, exactly representable, in [0, 1)
// normal:  Box-Muller in f64 with the module's own log/sqrt/cos/sin (not the host's), so the
//          same seed gives the same bits on every engine.
// The state lives in memory and is read / written per draw: the arena owns it, and several
// generators (init, shuffle, dropout) can coexist.

// @ts-ignore: decorator
@inline const INV_2_24: f32 = 5.9604644775390625e-8;    // 2^-24
// @ts-ignore: decorator
@inline const INV_2_24_F64: f64 = 5.9604644775390625e-8;

/** One xoshiro128** step: returns the next u32 and advances the state at rng. */
// @ts-ignore: decorator
@inline export function next(rng: usize): u32 {
  let s0 = load<u32>(rng, 0), s1 = load<u32>(rng, 4), s2 = load<u32>(rng, 8), s3 = load<u32>(rng, 12);
  const result = rotl<u32>(s1 * 5, 7) * 9;
  const t = s1 << 9;
  s2 ^= s0;
  s3 ^= s1;
  s1 ^= s2;
  s0 ^= s3;
  s2 ^= t;
  s3 = rotl<u32>(s3, 11);
  store<u32>(rng, s0, 0); store<u32>(rng, s1, 4); store<u32>(rng, s2, 8); store<u32>(rng, s3, 12);
  return result;
}

/** u = f32(x >>> 8) * 2^-24 in [0, 1): 24 random bits, every value exact in f32. */
// @ts-ignore: decorator
@inline export function uniform24(x: u32): f32 {
  return <f32>(x >>> 8) * INV_2_24;
}

// @ts-ignore: decorator
@inline function splitmix64(x: u64): u64 {
  let z = x;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

export function rngSeed(rng: usize, seedLo: u32, seedHi: u32): void {
  const x = (<u64>seedHi << 32) | <u64>seedLo;
  const a = splitmix64(x + 0x9E3779B97F4A7C15);
  const b = splitmix64(x + 0x3C6EF372FE94F82A)    // x + 2 * golden gamma (mod 2^64);
  let s0 = <u32>a;
  const s1 = <u32>(a >> 32), s2 = <u32>b, s3 = <u32>(b >> 32);
  if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
  store<u32>(rng, s0, 0); store<u32>(rng, s1, 4); store<u32>(rng, s2, 8); store<u32>(rng, s3, 12);
}

export function rngUint32(out: usize, rng: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u32>(out + (<usize>i << 2), next(rng));
}

export function rngUniform(out: usize, rng: usize, n: i32, lo: f32, hi: f32): void {
  const span = hi - lo;
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), lo + span * uniform24(next(rng)));
}

export function rngNormal(out: usize, rng: usize, n: i32, mean: f32, std: f32): void {
  const m = <f64>mean, s = <f64>std;
  for (let i = 0; i < n; i += 2) {
    const a = next(rng), b = next(rng);
    const u1 = <f64>((a >>> 8) + 1) * INV_2_24_F64;      // (0, 1]: log(u1) is finite
    const u2 = <f64>(b >>> 8) * INV_2_24_F64;            // [0, 1)
    const r = Math.sqrt(-2.0 * Math.log(u1));
    const theta = 2.0 * Math.PI * u2;
    store<f32>(out + (<usize>i << 2), <f32>(m + s * r * Math.cos(theta)));
    if (i + 1 < n) store<f32>(out + (<usize>(i + 1) << 2), <f32>(m + s * r * Math.sin(theta)));
  }
}
