// exp for f32, in one scalar and one f32x4 form that compute the same function bit for bit
// (same operations in the same order; wasm f32 arithmetic is IEEE, never fused).
//
// Method (Cephes expf's reduction and polynomial, written branch-free):
//   n = round(x * log2 e)                          via the 1.5 * 2^23 "magic" add: ties to even
//   r = (x - n * LN2_HI) - n * LN2_LO              LN2_HI has 9 significant bits: n * LN2_HI and
//                                                  the first subtraction are exact, |r| <= 0.347
//   e^r = 1 + r + r^2 * P(r)                       degree-5 P, about 1 ulp on that range
//   e^x = e^r * 2^n                                2^n built from exponent bits: (bits(t) + 127) << 23
//                                                  (the magic constant's own bits shift out)
// Domain:
//   x < EXP_LO (ln FLT_MIN)  -> +0     flush instead of subnormal results: softmax sums and
//                                      products of subnormals are slow on x86 and weigh nothing
//   x > EXP_HI               -> +Inf   (a little early: 88.37 instead of 88.72)
//   -Inf -> 0, +Inf -> +Inf, NaN -> NaN
// expNegf / expNegf4 are the same functions without the overflow select, for x <= EXP_HI or
// NaN: every kernel calls exp after subtracting the row max, with x <= 0 (or NaN), and the
// select (three instructions in V8) is ~15% of a softmax row. On that domain they return
// expf's bits.
// Out-of-range inputs are not clamped before the reduction: they run through it and produce
// garbage lanes (n outside [-126, 127] wraps the exponent bits; -Inf gives NaN), and the two
// final selects overwrite exactly those lanes with 0 or +Inf. A NaN input fails both compares
// and stays NaN. (Clamping first gave the same bits for 2 more instructions per vector.)

// @ts-ignore: decorator
@inline const EXP_LO: f32 = -87.33654;     // ln(2^-126)
// @ts-ignore: decorator
@inline const EXP_HI: f32 = 88.37;         // keeps n <= 127
// @ts-ignore: decorator
@inline const LOG2E: f32 = 1.44269504088896341;
// @ts-ignore: decorator
@inline const MAGIC: f32 = 12582912.0;     // 1.5 * 2^23
// @ts-ignore: decorator
@inline const LN2_HI: f32 = 0.693359375;
// @ts-ignore: decorator
@inline const LN2_LO: f32 = -2.12194440e-4;
// @ts-ignore: decorator
@inline const P0: f32 = 1.9875691500e-4;
// @ts-ignore: decorator
@inline const P1: f32 = 1.3981999507e-3;
// @ts-ignore: decorator
@inline const P2: f32 = 8.3334519073e-3;
// @ts-ignore: decorator
@inline const P3: f32 = 4.1665795894e-2;
// @ts-ignore: decorator
@inline const P4: f32 = 1.6666665459e-1;
// @ts-ignore: decorator
@inline const P5: f32 = 5.0000001201e-1;

/** e^x in f32; the scalar twin of expf4. */
// @ts-ignore: decorator
@inline export function expf(x: f32): f32 {
  const y = expNegf(x);
  return x > EXP_HI ? Infinity : y;
}

/** e^x on each f32 lane. */
// @ts-ignore: decorator
@inline export function expf4(x: v128): v128 {
  const y = expNegf4(x);
  return v128.bitselect(f32x4.splat(Infinity), y, f32x4.gt(x, f32x4.splat(EXP_HI)));
}

/** e^x for x <= EXP_HI or NaN (garbage above); the scalar twin of expNegf4. */
// @ts-ignore: decorator
@inline export function expNegf(x: f32): f32 {
  const t = x * LOG2E + MAGIC;
  const n = t - MAGIC;
  let r = x - n * LN2_HI;
  r = r - n * LN2_LO;
  const r2 = r * r;
  let p = P0 * r + P1;
  p = p * r + P2;
  p = p * r + P3;
  p = p * r + P4;
  p = p * r + P5;
  p = p * r2 + r + 1.0;
  const s = reinterpret<f32>((reinterpret<i32>(t) + 127) << 23);
  const y = p * s;
  return x < EXP_LO ? <f32>0 : y;
}

/** e^x on each f32 lane, for lanes <= EXP_HI or NaN (garbage above). */
// @ts-ignore: decorator
@inline export function expNegf4(x: v128): v128 {
  const magic = f32x4.splat(MAGIC);
  const t = f32x4.add(f32x4.mul(x, f32x4.splat(LOG2E)), magic);
  const n = f32x4.sub(t, magic);
  let r = f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(LN2_LO)));
  const r2 = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(f32x4.splat(P0), r), f32x4.splat(P1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(P5));
  p = f32x4.add(f32x4.add(f32x4.mul(p, r2), r), f32x4.splat(1.0));
  const s = i32x4.shl(i32x4.add(t, i32x4.splat(127)), 23);
  const y = f32x4.mul(p, s);
  return v128.andnot(y, f32x4.lt(x, f32x4.splat(EXP_LO)));
}
