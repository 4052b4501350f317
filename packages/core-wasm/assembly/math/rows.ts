// Row reductions shared by the softmax family and the losses. x is one row of `cols` f32.
//
// The max uses "a < b ? b : a" (f32x4.pmax, one instruction in V8) rather than the
// NaN-propagating max: a NaN in the row is not needed here, because exp(NaN - max) = NaN
// carries it into the row sum, and from there into every output and the loss.
// Every exp here and in the kernels is expNegf(4): its argument is x - max <= 0, or NaN.

import { expNegf, expNegf4 } from './vexp';

/**
 * Elements per block of a vectorised row sum: f32 lanes add up one block (16 terms per lane),
 * then the block's total joins an f64 sum. A single f32 lane over a 1000-wide row drifts by
 * ~1e-6 relative, enough to show in KL at high T where log Sp - log Sq nearly cancel; per-element
 * f64 adds would cost 5 instructions per sum per vector instead of 1.
 */
// @ts-ignore: decorator
@inline export const SUM_BLOCK: i32 = 64;

/**
 * max_j x[j], starting from -Infinity (so an all-(-Inf) row gives -Inf).
 * Four independent f32x4 maxima: one pmax chain is bound by its latency, four by the loads.
 * Max is order-independent here (NaN never enters an accumulator), except that a row holding
 * both +0 and -0 as its max may return either zero; x - max and exp are the same for both.
 */
// @ts-ignore: decorator
@inline export function rowMax(x: usize, cols: i32): f32 {
  let m: f32 = -Infinity;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    if (cols >= 4) {
      let m0 = f32x4.splat(-Infinity), m1 = m0, m2 = m0, m3 = m0;
      for (; j + 16 <= cols; j += 16) {
        const p = x + (<usize>j << 2);
        m0 = f32x4.pmax(m0, v128.load(p));
        m1 = f32x4.pmax(m1, v128.load(p, 16));
        m2 = f32x4.pmax(m2, v128.load(p, 32));
        m3 = f32x4.pmax(m3, v128.load(p, 48));
      }
      for (; j + 4 <= cols; j += 4) {
        m0 = f32x4.pmax(m0, v128.load(x + (<usize>j << 2)));
      }
      m = maxLanes(f32x4.pmax(f32x4.pmax(m0, m1), f32x4.pmax(m2, m3)));
    }
  }
  for (; j < cols; j++) {
    const xj = load<f32>(x + (<usize>j << 2));
    m = m < xj ? xj : m;
  }
  return m;
}

/** Largest lane, with the same "a < b ? b : a" rule as rowMax. */
// @ts-ignore: decorator
@inline export function maxLanes(v: v128): f32 {
  const a = f32x4.extract_lane(v, 0);
  const b = f32x4.extract_lane(v, 1);
  const c = f32x4.extract_lane(v, 2);
  const d = f32x4.extract_lane(v, 3);
  const ab = a < b ? b : a;
  const cd = c < d ? d : c;
  return ab < cd ? cd : ab;
}

/** Sum of the four lanes, in f64 (lane partial sums are f32, their total is not rounded again). */
// @ts-ignore: decorator
@inline export function sumLanes(v: v128): f64 {
  return (<f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1))
       + (<f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3));
}

/** sum_j exp((x[j] - m) * invT): the softmax denominator of a row whose max is m. */
// @ts-ignore: decorator
@inline export function rowSumExp(x: usize, cols: i32, m: f32, invT: f32): f64 {
  let s: f64 = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const m4 = f32x4.splat(m);
    const k4 = f32x4.splat(invT);
    const vecEnd = cols & ~3;
    while (j < vecEnd) {
      const blockEnd = min(j + SUM_BLOCK, vecEnd);
      let s4 = f32x4.splat(0);
      for (; j < blockEnd; j += 4) {
        const t = f32x4.mul(f32x4.sub(v128.load(x + (<usize>j << 2)), m4), k4);
        s4 = f32x4.add(s4, expNegf4(t));
      }
      s += sumLanes(s4);
    }
  }
  for (; j < cols; j++) {
    s += <f64>expNegf((load<f32>(x + (<usize>j << 2)) - m) * invT);
  }
  return s;
}
