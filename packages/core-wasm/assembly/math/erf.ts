// The normal distribution's density and tail, hence erf, in f32: scalar functions and f32x4
// twins that compute the same bits (the same IEEE operations in the same order, as vexp.ts).
//
//   a >= 0:  E(a) = exp(-a^2 / 2)
//            phi(a) = E(a) / sqrt(2 pi)                       density
//            T(a) = P(Z > a) = erfc(a / sqrt 2) / 2 = E(a) K(a)   upper tail
//   Phi(x) = (1 + erf(x / sqrt 2)) / 2 = x < 0 ? T(-x) : 1 - T(x)
//   erf(z) = sign(z) (1 - 2 T(|z| sqrt 2))
//
// Working with T rather than 1 + erf(x / sqrt 2) keeps relative accuracy in the left tail:
// 1 + erf cancels to nothing below x ~ -5.5 in f32, while T(a) stays accurate to ~3 ulp until
// it underflows (a > 13.2).
//
// K(a) = T(a) / E(a) (Mills' ratio over sqrt(2 pi)) is a (4,5) rational fitted for this file:
// minimax in relative error on [0, 14], 5.5e-9 (0.1 ulp). Every coefficient is positive, so with
// a >= 0 both Horner chains add positive terms; they run in f64 and K is rounded once, with E,
// in T = f32(f64(E) K). (In f32 the chains alone cost up to 8 ulp at large a.)
//
// E(a) with a^2 / 2 carried exactly: ah = a with its low 12 significand bits cleared,
// hi = ah^2 / 2 (exact: 24 bits), lo = (a - ah)(a + ah) / 2 (tiny); s = -hi - lo rounded and
// ds = ((-hi) - s) - lo its rounding error (Fast2Sum, |hi| >= |lo|); E = f32(e + e ds) with
// e = expNegf(s). Rounding a^2 alone would cost a^2/2 ulp of relative error (85 ulp at a = 13).
//
// Callers clamp a to [0, TAIL_CLAMP] first (f32 min, so NaN stays NaN): E(14) is exactly 0
// (expNegf flushes below ln 2^-126), and with it T and phi.
// Measured on both wasm builds against f64 (scipy.special.ndtr) over a 1e-4 grid of [-14, 14]
// plus 2.5M random points: T relative error <= 3 ulp while T is a normal f32 (x Phi(x) within
// 3.5 ulp, i.e. 2.1e-7 relative); 1 - T within 1.7 ulp absolute, so erf's absolute error is
// below 2e-7 everywhere; Phi + x phi within 4 ulp of |Phi| + |x phi|. SIMD == scalar, bit for bit.

import { expNegf, expNegf4 } from './vexp';

/** Callers clamp |x| to this: T, E and phi are exactly 0 from 13.2 on. */
// @ts-ignore: decorator
@inline export const TAIL_CLAMP: f32 = 14.0;
// @ts-ignore: decorator
@inline const INV_SQRT_2PI: f64 = 0.3989422804014327;
// @ts-ignore: decorator
@inline const HI_MASK: u32 = 0xFFFFF000;
// K(a) = P(a) / Q(a), Q0 = 1
// @ts-ignore: decorator
@inline const P0: f64 = 0.50000000275486722;
// @ts-ignore: decorator
@inline const P1: f64 = 0.43725082984402236;
// @ts-ignore: decorator
@inline const P2: f64 = 0.18246175494446079;
// @ts-ignore: decorator
@inline const P3: f64 = 0.04037252378109478;
// @ts-ignore: decorator
@inline const P4: f64 = 0.0040776040048125777;
// @ts-ignore: decorator
@inline const Q1: f64 = 1.6723866149263615;
// @ts-ignore: decorator
@inline const Q2: f64 = 1.1992904512281619;
// @ts-ignore: decorator
@inline const Q3: f64 = 0.46742889671565852;
// @ts-ignore: decorator
@inline const Q4: f64 = 0.10120571951790068;
// @ts-ignore: decorator
@inline const Q5: f64 = 0.01022090874060126;

/** E(a) = exp(-a^2 / 2) for a in [0, TAIL_CLAMP] or NaN. The scalar twin of expHalfSquare4. */
// @ts-ignore: decorator
@inline export function expHalfSquare(a: f32): f32 {
  const ah = reinterpret<f32>(reinterpret<u32>(a) & HI_MASK);
  const hi = ah * ah * <f32>0.5;
  const lo = (a - ah) * (a + ah) * <f32>0.5;
  const s = -hi - lo;
  const ds = (-hi - s) - lo;
  const e = expNegf(s);
  return e + e * ds;
}

/** T(a) = P(Z > a) = f32(f64(E) K(a)), E = expHalfSquare(a). */
// @ts-ignore: decorator
@inline export function upperTail(E: f32, a: f32): f32 {
  const x = <f64>a;
  let p = P4 * x + P3;
  p = p * x + P2;
  p = p * x + P1;
  p = p * x + P0;
  let q = Q5 * x + Q4;
  q = q * x + Q3;
  q = q * x + Q2;
  q = q * x + Q1;
  q = q * x + 1.0;
  return <f32>(<f64>E * (p / q));
}

/** phi(a) = f32(f64(E) / sqrt(2 pi)), E = expHalfSquare(a). */
// @ts-ignore: decorator
@inline export function density(E: f32): f32 {
  return <f32>(<f64>E * INV_SQRT_2PI);
}

/** expHalfSquare on each lane. */
// @ts-ignore: decorator
@inline export function expHalfSquare4(a: v128): v128 {
  const ah = v128.and(a, i32x4.splat(<i32>HI_MASK));
  const half = f32x4.splat(0.5);
  const hi = f32x4.mul(f32x4.mul(ah, ah), half);
  const lo = f32x4.mul(f32x4.mul(f32x4.sub(a, ah), f32x4.add(a, ah)), half);
  const nhi = f32x4.neg(hi);
  const s = f32x4.sub(nhi, lo);
  const ds = f32x4.sub(f32x4.sub(nhi, s), lo);
  const e = expNegf4(s);
  return f32x4.add(e, f32x4.mul(e, ds));
}

/** upperTail on each lane (the rational and the product in two f64x2 halves). */
// @ts-ignore: decorator
@inline export function upperTail4(E: v128, a: v128): v128 {
  const t01 = f64x2.mul(f64x2.promote_low_f32x4(E), ratio2(f64x2.promote_low_f32x4(a)));
  const t23 = f64x2.mul(f64x2.promote_low_f32x4(high(E)), ratio2(f64x2.promote_low_f32x4(high(a))));
  return join(t01, t23);
}

/** density on each lane. */
// @ts-ignore: decorator
@inline export function density4(E: v128): v128 {
  const c = f64x2.splat(INV_SQRT_2PI);
  return join(f64x2.mul(f64x2.promote_low_f32x4(E), c), f64x2.mul(f64x2.promote_low_f32x4(high(E)), c));
}

/** K on two f64 lanes: the same Horner chains as upperTail. */
// @ts-ignore: decorator
@inline function ratio2(x: v128): v128 {
  let p = f64x2.add(f64x2.mul(f64x2.splat(P4), x), f64x2.splat(P3));
  p = f64x2.add(f64x2.mul(p, x), f64x2.splat(P2));
  p = f64x2.add(f64x2.mul(p, x), f64x2.splat(P1));
  p = f64x2.add(f64x2.mul(p, x), f64x2.splat(P0));
  let q = f64x2.add(f64x2.mul(f64x2.splat(Q5), x), f64x2.splat(Q4));
  q = f64x2.add(f64x2.mul(q, x), f64x2.splat(Q3));
  q = f64x2.add(f64x2.mul(q, x), f64x2.splat(Q2));
  q = f64x2.add(f64x2.mul(q, x), f64x2.splat(Q1));
  q = f64x2.add(f64x2.mul(q, x), f64x2.splat(1.0));
  return f64x2.div(p, q);
}

/** f32 lanes 2, 3 moved to 0, 1. */
// @ts-ignore: decorator
@inline function high(v: v128): v128 {
  return v128.shuffle<f32>(v, v, 2, 3, 2, 3);
}

/** Two f64x2 rounded to one f32x4 (lo's lanes first). */
// @ts-ignore: decorator
@inline function join(lo: v128, hi: v128): v128 {
  return v128.shuffle<f32>(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}
