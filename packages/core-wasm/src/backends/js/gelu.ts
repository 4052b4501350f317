// GELU, the exact (erf) form, forward and backward side by side. x, y, dx, dy are (n).
//
//   y = x Phi(x),   dx += dy (Phi(x) + x phi(x)),   x the forward input.
//
// The same function as assembly/kernels/gelu.ts with assembly/math/erf.ts, evaluated in f64:
// with a = min(|x|, 14), E = exp(-a^2 / 2) (a^2 is exact in f64 for an f32 a), the upper tail
// T = E K(a) with the same (4,5) rational K (relative error 5.5e-9), Phi = x < 0 ? T : 1 - T,
// and one rounding to f32 on the store. The exponential is the host's Math.exp (f64, so its
// last-bit differences between engines vanish in the f32 result except at rounding ties), so
// results match the wasm builds to a few f32 ulp, not bit for bit; they are, if anything, more
// accurate (the wasm builds round E and T to f32 on the way). Unlike the wasm builds, T is not
// flushed to 0 once E drops below 2^-126 (x < -13.2): the js result there is a subnormal or 0.
// Ends as in the wasm builds: GELU(+Inf) = +Inf, GELU(-Inf) = -0, NaN stays NaN; the derivative
// is 1 at +Inf and 0 at -Inf.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const TAIL_CLAMP = 14;
const INV_SQRT_2PI = 0.3989422804014327;
// K(a) = P(a) / Q(a): the coefficients of assembly/math/erf.ts
const P0 = 0.50000000275486722, P1 = 0.43725082984402236, P2 = 0.18246175494446079;
const P3 = 0.04037252378109478, P4 = 0.0040776040048125777;
const Q1 = 1.6723866149263615, Q2 = 1.1992904512281619, Q3 = 0.46742889671565852;
const Q4 = 0.10120571951790068, Q5 = 0.01022090874060126;

function tailRatio(a: number): number {
  const p = (((P4 * a + P3) * a + P2) * a + P1) * a + P0;
  const q = ((((Q5 * a + Q4) * a + Q3) * a + Q2) * a + Q1) * a + 1;
  return p / q;
}

/** y[i] = x[i] Phi(x[i]). y may alias x. */
export function geluForward(heap: HeapViews, y: Ptr, x: Ptr, n: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, xi = x >>> 2;
  for (let i = 0; i < n; i++) {
    const v = f[xi + i]!;
    const a = Math.min(Math.abs(v), TAIL_CLAMP);
    const t = Math.exp(-0.5 * a * a) * tailRatio(a);
    f[yi + i] = v < -TAIL_CLAMP ? -0 : v * (v < 0 ? t : 1 - t);
  }
}

/** dx[i] += dy[i] (Phi(x[i]) + x[i] phi(x[i])), x the forward input. */
export function geluBackward(heap: HeapViews, dx: Ptr, dy: Ptr, x: Ptr, n: number): void {
  const f = heap.sync().f32;
  const di = dx >>> 2, gi = dy >>> 2, xi = x >>> 2;
  for (let i = 0; i < n; i++) {
    const v = f[xi + i]!;
    const a = Math.min(Math.abs(v), TAIL_CLAMP);
    const e = Math.exp(-0.5 * a * a);
    const t = e * tailRatio(a);
    const xc = v < 0 ? -a : a;                       // x clamped to +-14: exactly 1 or 0 at the ends
    f[di + i] = f[di + i]! + f[gi + i]! * ((v < 0 ? t : 1 - t) + xc * e * INV_SQRT_2PI);
  }
}
