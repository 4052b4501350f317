// Fused Hinton distillation loss and its gradient, one row at a time.
// z is (rows, cols) student logits, v is (rows, cols) teacher logits, labels is (rows) i32,
// dz is (rows, cols) accumulated gradient w.r.t. z. T > 0 is the temperature.
//
// forward (per row, batch-mean over rows):
//   L    = (1 - alpha) * CE + alpha * w * KL                        w = T^2 if scaleT2 else 1
//   CE   = logsumexp(z) - z[y]     = (mz + log S1) - z[y]           S1 = sum_j e1_j, e1_j = exp(z_j - mz)
//   KL   = sum_j p_j (log p_j - log q_j)                            p = softmax(v/T), q = softmax(z/T)
//        with tv_j = (v_j - mv)/T, tz_j = (z_j - mz)/T (the same code for both), ep_j = exp(tv_j),
//        eq_j = exp(tz_j), log p_j = tv_j - log Sp, log q_j = tz_j - log Sq:
//   KL   = (1/Sp) sum_j ep_j (tv_j - tz_j) - (log Sp - log Sq)      since sum_j ep_j / Sp = 1
// backward (next to it):
//   dz_j += g * [ (1 - alpha) (e1_j/S1 - [j == y]) + alpha w / T (eq_j/Sq - ep_j/Sp) ],  g = gradScale/rows
//
// Why this shape:
// - KL is exactly 0 when z == v: tv_j == tz_j bit for bit, so every term and log Sp - log Sq vanish;
//   the gradient's cq*eq_j - cp*ep_j vanishes too (cq == cp, eq_j == ep_j).
// - A teacher probability that underflowed to 0 contributes 0 (masked), even against a -Inf
//   student logit; log p is always the finite tv_j - log Sp, never log(0).
// - One pass accumulates S1, Sq, Sp and the KL numerator, so the loss needs no stored
//   probabilities. The gradient pass reuses that pass's exponentials from a row cache in
//   scratch (memory.ts) when three rows of them fit; wider rows recompute them (same bits).
//   With gradScale == 0 the gradient pass (and every write to dz or the cache) is skipped.
// - alpha == 1 never reads labels, alpha == 0 never reads v, T == 1 shares the student's
//   exponentials between the two terms. These are compile-time specialisations of one
//   inlined row (constant flags), not branches inside the loops.
// - NaN anywhere in a row reaches its sums, so the loss is NaN.

import { expNegf, expNegf4 } from '../math/vexp';
import { rowMax, sumLanes, SUM_BLOCK } from '../math/rows';
import { scratchBase, SCRATCH_BYTES } from '../memory';

export function kdLoss(dz: usize, z: usize, v: usize, labels: usize, rows: i32, cols: i32,
                       T: f32, alpha: f32, scaleT2: i32, gradScale: f32): f64 {
  if (rows <= 0) return 0;
  const T64 = <f64>T;
  const a64 = <f64>alpha;
  const w: f64 = scaleT2 != 0 ? T64 * T64 : 1.0;
  const ceW = 1.0 - a64;
  const klW = a64 * w;
  const g = <f64>gradScale / <f64>rows;
  const invT: f32 = <f32>1 / T;
  let total: f64;
  if (alpha == 1) {
    total = distillRows(dz, z, v, labels, rows, cols, invT, T64, ceW, klW, g, false, true, false);
  } else if (alpha == 0) {
    total = distillRows(dz, z, v, labels, rows, cols, invT, T64, ceW, klW, g, true, false, false);
  } else if (T == 1) {
    total = distillRows(dz, z, v, labels, rows, cols, invT, T64, ceW, klW, g, true, true, true);
  } else {
    total = distillRows(dz, z, v, labels, rows, cols, invT, T64, ceW, klW, g, true, true, false);
  }
  return total / <f64>rows;
}

/**
 * Sum over rows of distillRow. Rows that fit the cache (three rows of cols f32, 16-byte aligned,
 * within scratch: cols up to ~174k) take the cached row, inlined with constant flags; with
 * g == 0 it fills the cache and skips the gradient pass. Wider rows take one shared, non-inlined
 * recomputing row with runtime flags: the same arithmetic, so the same bits, and it keeps the
 * module small (one copy instead of one per flag combination). Labels are read only when needCE.
 */
// @ts-ignore: decorator
@inline export function distillRows(dz: usize, z: usize, v: usize, labels: usize, rows: i32, cols: i32,
                                    invT: f32, T64: f64, ceW: f64, klW: f64, g: f64,
                                    needCE: bool, needKL: bool, shareExp: bool): f64 {
  const rowBytes = <usize>cols << 2;
  let total: f64 = 0;
  const cached = cacheRowBytes(cols) <= SCRATCH_BYTES / 3;
  for (let r = 0; r < rows; r++) {
    const off = <usize>r * rowBytes;
    let y = 0;
    if (needCE) y = load<i32>(labels + (<usize>r << 2));
    total += cached
      ? distillRow(dz + off, z + off, v + off, y, cols, invT, T64, ceW, klW, g, needCE, needKL, shareExp, true)
      : distillRowWide(dz + off, z + off, v + off, y, cols, invT, T64, ceW, klW, g, needCE, needKL);
  }
  return total;
}

/** distillRow without the cache, for rows too wide for it; flags are runtime values here. */
function distillRowWide(dz: usize, z: usize, v: usize, y: i32, cols: i32,
                        invT: f32, T64: f64, ceW: f64, klW: f64, g: f64, needCE: bool, needKL: bool): f64 {
  return distillRow(dz, z, v, y, cols, invT, T64, ceW, klW, g, needCE, needKL, false, false);
}

/** Bytes of one row of the exponential cache: cols f32, rounded up to 16. */
// @ts-ignore: decorator
@inline function cacheRowBytes(cols: i32): usize {
  return ((<usize>cols << 2) + 15) & ~(<usize>15);
}

/**
 * One row of the distillation loss: returns ceW * CE + klW * KL and, when g != 0, accumulates
 * g * [ceW (softmax(z) - onehot(y)) + klW / T (softmax(z/T) - softmax(v/T))] into dz.
 * needCE / needKL / shareExp / cached must be compile-time constants at every call site
 * (crossEntropy, klDivergence and kdLoss are this row with different constants).
 * shareExp is only valid with T == 1: then exp(z - mz) is the student's tempered exponential.
 * cached: the forward pass stores e1, eq, ep in three cache rows at
 * scratchBase() and the backward pass reads them back instead of recomputing them.
 */
// @ts-ignore: decorator
@inline export function distillRow(dz: usize, z: usize, v: usize, y: i32, cols: i32,
                                   invT: f32, T64: f64, ceW: f64, klW: f64, g: f64,
                                   needCE: bool, needKL: bool, shareExp: bool, cached: bool): f64 {
  const mz = rowMax(z, cols);
  const mv: f32 = needKL ? rowMax(v, cols) : 0;
  // Cache rows (cols f32 each): e1 = exp(z - mz), eq = exp(tz), ep = exp(tv).
  const e1Row = scratchBase();
  const eqRow = e1Row + cacheRowBytes(cols);
  const epRow = eqRow + cacheRowBytes(cols);

  // ---- forward: S1, Sq, Sp and A = sum_j ep_j (tv_j - tz_j) -----------------------------
  let s1: f64 = 0, sq: f64 = 0, sp: f64 = 0, a: f64 = 0;
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const mz4 = f32x4.splat(mz);
    const mv4 = f32x4.splat(mv);
    const k4 = f32x4.splat(invT);
    const zero = f32x4.splat(0);
    const vecEnd = cols & ~3;
    while (j < vecEnd) {
      const blockEnd = min(j + SUM_BLOCK, vecEnd);
      let s14 = zero, sq4 = zero, sp4 = zero, a4 = zero;
      for (; j < blockEnd; j += 4) {
        const o = <usize>j << 2;
        const zz = v128.load(z + o);
        if (needKL) {
          const tz = f32x4.mul(f32x4.sub(zz, mz4), k4);
          const tv = f32x4.mul(f32x4.sub(v128.load(v + o), mv4), k4);
          const eq = expNegf4(tz);
          const ep = expNegf4(tv);
          if (cached) { v128.store(eqRow + o, eq); v128.store(epRow + o, ep); }
          sq4 = f32x4.add(sq4, eq);
          sp4 = f32x4.add(sp4, ep);
          a4 = f32x4.add(a4, v128.andnot(f32x4.mul(ep, f32x4.sub(tv, tz)), f32x4.eq(ep, zero)));
        }
        if (needCE && !shareExp) {
          const e1 = expNegf4(f32x4.sub(zz, mz4));
          if (cached) v128.store(e1Row + o, e1);
          s14 = f32x4.add(s14, e1);
        }
      }
      if (needKL) { sq += sumLanes(sq4); sp += sumLanes(sp4); a += sumLanes(a4); }
      if (needCE && !shareExp) s1 += sumLanes(s14);
    }
  }
  for (; j < cols; j++) {
    const o = <usize>j << 2;
    const zj = load<f32>(z + o);
    if (needKL) {
      const tz = (zj - mz) * invT;
      const tv = (load<f32>(v + o) - mv) * invT;
      const eq = expNegf(tz);
      const ep = expNegf(tv);
      if (cached) { store<f32>(eqRow + o, eq); store<f32>(epRow + o, ep); }
      sq += <f64>eq;
      sp += <f64>ep;
      a += ep != 0 ? <f64>(ep * (tv - tz)) : 0;   // p_j == 0 contributes 0, even against tz = -Inf
    }
    if (needCE && !shareExp) {
      const e1 = expNegf(zj - mz);
      if (cached) store<f32>(e1Row + o, e1);
      s1 += <f64>e1;
    }
  }
  if (shareExp) s1 = sq;

  let loss: f64 = 0;
  if (needCE) loss += ceW * ((<f64>mz - <f64>load<f32>(z + (<usize>y << 2))) + Math.log(s1));
  if (needKL) loss += klW * (a / sp - (Math.log(sp) - Math.log(sq)));
  if (g == 0) return loss;

  // ---- backward: dz_j += c1 e1_j + (cq eq_j - cp ep_j); the label column is fixed up after -----
  const c1: f32 = needCE ? <f32>(g * ceW / s1) : 0;
  const cq: f32 = needKL ? <f32>(g * klW / (T64 * sq)) : 0;
  const cp: f32 = needKL ? <f32>(g * klW / (T64 * sp)) : 0;
  const oy = <usize>y << 2;
  const dzy: f32 = needCE ? load<f32>(dz + oy) : 0;   // the label column is redone below
  j = 0;
  if (ASC_FEATURE_SIMD) {
    const mz4 = f32x4.splat(mz);
    const mv4 = f32x4.splat(mv);
    const k4 = f32x4.splat(invT);
    const c14 = f32x4.splat(c1);
    const cq4 = f32x4.splat(cq);
    const cp4 = f32x4.splat(cp);
    for (; j + 4 <= cols; j += 4) {
      const o = <usize>j << 2;
      let e1 = c14, eq = c14, ep = c14;   // (placeholders; each flag combination sets what it uses)
      if (cached) {
        if (needKL) { eq = v128.load(eqRow + o); ep = v128.load(epRow + o); }
        if (needCE && !shareExp) e1 = v128.load(e1Row + o);
      } else {
        const zz = v128.load(z + o);
        if (needKL) {
          eq = expNegf4(f32x4.mul(f32x4.sub(zz, mz4), k4));
          ep = expNegf4(f32x4.mul(f32x4.sub(v128.load(v + o), mv4), k4));
        }
        if (needCE && !shareExp) e1 = expNegf4(f32x4.sub(zz, mz4));
      }
      if (shareExp) e1 = eq;
      let d: v128;
      if (needKL) {
        d = f32x4.sub(f32x4.mul(cq4, eq), f32x4.mul(cp4, ep));
        if (needCE) d = f32x4.add(f32x4.mul(c14, e1), d);
      } else {
        d = f32x4.mul(c14, e1);
      }
      v128.store(dz + o, f32x4.add(v128.load(dz + o), d));
    }
  }
  for (; j < cols; j++) {
    const o = <usize>j << 2;
    let e1: f32 = 0, eq: f32 = 0, ep: f32 = 0;
    if (cached) {
      if (needKL) { eq = load<f32>(eqRow + o); ep = load<f32>(epRow + o); }
      if (needCE && !shareExp) e1 = load<f32>(e1Row + o);
    } else {
      const zj = load<f32>(z + o);
      if (needKL) {
        eq = expNegf((zj - mz) * invT);
        ep = expNegf((load<f32>(v + o) - mv) * invT);
      }
      if (needCE && !shareExp) e1 = expNegf(zj - mz);
    }
    if (shareExp) e1 = eq;
    let d: f32;
    if (needKL) {
      d = cq * eq - cp * ep;
      if (needCE) d = c1 * e1 + d;
    } else {
      d = c1 * e1;
    }
    store<f32>(dz + o, load<f32>(dz + o) + d);
  }
  if (needCE) {
    // Label column: p_y - 1 in f64 and one rounding into dz, rather than adding c1 e1_y and
    // subtracting g ceW afterwards (two roundings at the scale of g, which swamp a confident
    // row's small p_y - 1).
    const zy = load<f32>(z + oy);
    const e1y = expNegf(zy - mz);
    let inc = g * ceW * (<f64>e1y / s1 - 1.0);
    if (needKL) {
      const eqy = expNegf((zy - mz) * invT);
      const epy = expNegf((load<f32>(v + oy) - mv) * invT);
      inc += <f64>(cq * eqy - cp * epy);
    }
    store<f32>(dz + oy, <f32>(<f64>dzy + inc));
  }
  return loss;
}
