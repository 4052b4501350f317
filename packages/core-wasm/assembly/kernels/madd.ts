// The multiply-add of the SIMD inner loops: acc + a*b, rounded twice (mul, then add) in the
// simd build; in the relaxed build (--enable relaxed-simd, the opt-in 'relaxed' backend)
// f32x4.relaxed_madd, which the engine may fuse (one rounding, an FMA instruction where the CPU
// has one) or not: faster, but its bits depend on the CPU, so it is never the default
// (../../src/loader.ts).

// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
