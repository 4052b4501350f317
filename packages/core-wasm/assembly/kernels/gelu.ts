// GELU, the exact (erf) form: PyTorch's default, ONNX Gelu with approximate = 'none'.
// x, y, dx, dy are (n) f32 (any shape, flattened). y may alias x.
//
// forward:  y  = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
// backward: dx += dy (Phi(x) + x phi(x))           x is the forward INPUT
//
// Phi and phi come from math/erf.ts (the module's own exp, no host Math): with a = min(|x|, 14),
//   T = P(Z > a) (relative error <= 3 ulp),   Phi(x) = x < 0 ? T : 1 - T.
// So the left tail keeps relative accuracy (GELU(-8) = -5.1e-15 to a few ulp) where
// 0.5 x (1 + erf(x / sqrt 2)) in f32 returns 0 below x ~ -5.5; the two agree elsewhere.
// Ends: GELU(+Inf) = +Inf, GELU(-Inf) = -0 (the limit; x Phi(x) would give -Inf * 0 = NaN),
// GELU(x) = -0 for x < -13.2 (Phi underflows), NaN stays NaN. The derivative uses x clamped
// to +-14 in x phi(x), so it is exactly 1 at +Inf and 0 at -Inf.
// The SIMD and scalar builds compute the same bits (the same f32 operations in the same order).

import { TAIL_CLAMP, density, density4, expHalfSquare, expHalfSquare4, upperTail, upperTail4 } from '../math/erf';

export function geluForward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const clamp = f32x4.splat(TAIL_CLAMP), one = f32x4.splat(1), zero = f32x4.splat(0);
    const negZero = f32x4.splat(-0.0), lowEnd = f32x4.splat(-TAIL_CLAMP);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const a = f32x4.min(f32x4.abs(v), clamp);
      const t = upperTail4(expHalfSquare4(a), a);
      const cdf = v128.bitselect(t, f32x4.sub(one, t), f32x4.lt(v, zero));
      v128.store(y + o, v128.bitselect(negZero, f32x4.mul(v, cdf), f32x4.lt(v, lowEnd)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const a = min(abs(v), TAIL_CLAMP);
    const t = upperTail(expHalfSquare(a), a);
    const cdf = v < 0 ? t : <f32>1 - t;
    store<f32>(y + o, v < -TAIL_CLAMP ? <f32>-0.0 : v * cdf);
  }
}

export function geluBackward(dx: usize, dy: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const clamp = f32x4.splat(TAIL_CLAMP), one = f32x4.splat(1), zero = f32x4.splat(0);
    const sign = i32x4.splat(0x80000000);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const a = f32x4.min(f32x4.abs(v), clamp);
      const e = expHalfSquare4(a);
      const pdf = density4(e), t = upperTail4(e, a);
      const cdf = v128.bitselect(t, f32x4.sub(one, t), f32x4.lt(v, zero));
      const xc = v128.or(a, v128.and(v, sign));                 // x clamped to +-14
      const g = f32x4.add(cdf, f32x4.mul(xc, pdf));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(v128.load(dy + o), g)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    const a = min(abs(v), TAIL_CLAMP);
    const e = expHalfSquare(a);
    const pdf = density(e), t = upperTail(e, a);
    const cdf = v < 0 ? t : <f32>1 - t;
    const g = cdf + copysign(a, v) * pdf;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + o) * g);
  }
}
