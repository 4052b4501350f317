// Layer normalisation over the last dimension.
// x, y, dy, dx are (rows, D) row-major (rows = B*T tokens, or B); gamma, beta, dgamma, dbeta
// are (D); saveMean, saveRstd are (rows).
//
// forward:  mean_r = sum_j x[r,j] / D,  var_r = sum_j (x[r,j] - mean_r)^2 / D    (f64, two passes)
//           rstd_r = 1 / sqrt(var_r + eps)                                      (f64)
//           y[r,j] = gamma_j (x[r,j] - mean_r) rstd_r + beta_j
//           saveMean = f32(mean), saveRstd = f32(rstd)
// backward: xhat = (x - mean) rstd,  g = dy * gamma (the gradient reaching xhat)
//           dbeta_j  += sum_r dy[r,j]
//           dgamma_j += sum_r dy[r,j] xhat[r,j]
//           dx[r,j]  += rstd (g_j - sum_k g_k / D - xhat_j sum_k (g_k xhat_k) / D)
//
// Rounding points (identical on both wasm builds, bit for bit):
// - Row sums are f64 over exact f32 -> f64 promotions in a fixed order: four lane sums
//   s_l = sum of x[j] for j = l (mod 4) over the first D & ~3 elements (f64x2 pairs in the SIMD
//   build, four scalars in the scalar build), combined as (s0 + s1) + (s2 + s3), then the tail
//   elements added in order. The js backend sums in the same order.
// - y = (((x - mhi) - mlo) * k) * gamma + beta in f32, in that order, with mhi = f32(mean),
//   mlo = f32(mean - mhi), k = f32(rstd): the two-term mean keeps x - mean accurate when
//   |mean| >> std (batch_norm.ts explains why).
// - Backward re-centres on the f32 saveMean as batch_norm.ts does: with d = x - saveMean and
//   g = dy * gamma (both exact in f64), one pass sums A = sum g, B' = sum g d and Q = sum d
//   (f64, the lane order above); mu = Q / D, B = B' - mu A is sum g (x - mean) about the row's
//   true mean. Then, in f32 per element: xc = (x - saveMean) - f32(mu), xhat = xc * k,
//   dx += k ((dy * gamma - a1) - xc * c1), a1 = f32(A / D), c1 = f32(rstd^2 B / D), k = f32(rstd).
// - dgamma and dbeta sum over rows in f64 accumulators in scratch (dy * xhat and dy, each
//   exact in f64), rows in order, and are added to dgamma/dbeta once at the end (one rounding).
//   Columns go in chunks of up to CHUNK = 131072 (two f64 per column in scratch); wider rows
//   repeat the row sums per chunk (same terms, same bits).
// D == 0 writes nothing. y may alias x in the forward (backward needs the input x).

import { scratchBase, SCRATCH_BYTES } from '../memory';

/** Columns per chunk of the backward's f64 dgamma/dbeta accumulators (16 bytes per column). */
// @ts-ignore: decorator
@inline const CHUNK: i32 = <i32>(SCRATCH_BYTES / 16) & ~3;

export function layerNormForward(y: usize, saveMean: usize, saveRstd: usize, x: usize, gamma: usize, beta: usize,
                                 rows: i32, D: i32, eps: f32): void {
  if (D <= 0) return;
  const Df = <f64>D;
  const rowBytes = <usize>D << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, yr = y + <usize>r * rowBytes;
    const mean = rowSum(xr, D) / Df;
    const v = rowSquaredDeviation(xr, D, mean) / Df;
    const rstd = 1.0 / Math.sqrt(v + <f64>eps);
    const mhi = <f32>mean, mlo = <f32>(mean - <f64>mhi), k = <f32>rstd;
    store<f32>(saveMean + (<usize>r << 2), mhi);
    store<f32>(saveRstd + (<usize>r << 2), k);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const h4 = f32x4.splat(mhi), l4 = f32x4.splat(mlo), k4 = f32x4.splat(k);
      for (; j + 4 <= D; j += 4) {
        const o = <usize>j << 2;
        const n4 = f32x4.mul(f32x4.sub(f32x4.sub(v128.load(xr + o), h4), l4), k4);
        v128.store(yr + o, f32x4.add(f32x4.mul(n4, v128.load(gamma + o)), v128.load(beta + o)));
      }
    }
    for (; j < D; j++) {
      const o = <usize>j << 2;
      const nj = ((load<f32>(xr + o) - mhi) - mlo) * k;
      store<f32>(yr + o, nj * load<f32>(gamma + o) + load<f32>(beta + o));
    }
  }
}

export function layerNormBackward(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, saveMean: usize,
                                  saveRstd: usize, gamma: usize, rows: i32, D: i32): void {
  if (D <= 0) return;
  const Df = <f64>D;
  const rowBytes = <usize>D << 2;
  const accG = scratchBase(), accB = scratchBase() + (<usize>CHUNK << 3);
  for (let c0 = 0; c0 < D; c0 += CHUNK) {
    const n = min(CHUNK, D - c0);
    const cb = <usize>c0 << 2;
    memory.fill(accG, 0, <usize>n << 3);
    memory.fill(accB, 0, <usize>n << 3);
    for (let r = 0; r < rows; r++) {
      const off = <usize>r * rowBytes;
      const xr = x + off, gr = dy + off;
      const m = load<f32>(saveMean + (<usize>r << 2));
      const rstd = <f64>load<f32>(saveRstd + (<usize>r << 2));
      // A, B', Q over the whole row (every chunk needs them)
      let a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0;
      let b0: f64 = 0, b1: f64 = 0, b2: f64 = 0, b3: f64 = 0;
      let q0: f64 = 0, q1: f64 = 0, q2: f64 = 0, q3: f64 = 0;
      let j = 0;
      const vecEnd = D & ~3;
      if (ASC_FEATURE_SIMD) {
        const m01 = f64x2.splat(<f64>m);
        let A01 = f64x2.splat(0), A23 = A01, B01 = A01, B23 = A01, Q01 = A01, Q23 = A01;
        for (; j < vecEnd; j += 4) {
          const o = <usize>j << 2;
          const xv = v128.load(xr + o), gv = v128.load(gr + o), wv = v128.load(gamma + o);
          const d01 = f64x2.sub(f64x2.promote_low_f32x4(xv), m01);
          const d23 = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(xv, xv, 2, 3, 2, 3)), m01);
          const g01 = f64x2.mul(f64x2.promote_low_f32x4(gv), f64x2.promote_low_f32x4(wv));
          const g23 = f64x2.mul(f64x2.promote_low_f32x4(v128.shuffle<f32>(gv, gv, 2, 3, 2, 3)),
                                f64x2.promote_low_f32x4(v128.shuffle<f32>(wv, wv, 2, 3, 2, 3)));
          A01 = f64x2.add(A01, g01); A23 = f64x2.add(A23, g23);
          B01 = f64x2.add(B01, f64x2.mul(g01, d01)); B23 = f64x2.add(B23, f64x2.mul(g23, d23));
          Q01 = f64x2.add(Q01, d01); Q23 = f64x2.add(Q23, d23);
        }
        a0 = f64x2.extract_lane(A01, 0); a1 = f64x2.extract_lane(A01, 1); a2 = f64x2.extract_lane(A23, 0); a3 = f64x2.extract_lane(A23, 1);
        b0 = f64x2.extract_lane(B01, 0); b1 = f64x2.extract_lane(B01, 1); b2 = f64x2.extract_lane(B23, 0); b3 = f64x2.extract_lane(B23, 1);
        q0 = f64x2.extract_lane(Q01, 0); q1 = f64x2.extract_lane(Q01, 1); q2 = f64x2.extract_lane(Q23, 0); q3 = f64x2.extract_lane(Q23, 1);
      } else {
        const mf = <f64>m;
        for (; j < vecEnd; j += 4) {
          const o = <usize>j << 2;
          const d0 = <f64>load<f32>(xr + o) - mf, d1 = <f64>load<f32>(xr + o, 4) - mf;
          const d2 = <f64>load<f32>(xr + o, 8) - mf, d3 = <f64>load<f32>(xr + o, 12) - mf;
          const g0 = <f64>load<f32>(gr + o) * <f64>load<f32>(gamma + o);
          const g1 = <f64>load<f32>(gr + o, 4) * <f64>load<f32>(gamma + o, 4);
          const g2 = <f64>load<f32>(gr + o, 8) * <f64>load<f32>(gamma + o, 8);
          const g3 = <f64>load<f32>(gr + o, 12) * <f64>load<f32>(gamma + o, 12);
          a0 += g0; a1 += g1; a2 += g2; a3 += g3;
          b0 += g0 * d0; b1 += g1 * d1; b2 += g2 * d2; b3 += g3 * d3;
          q0 += d0; q1 += d1; q2 += d2; q3 += d3;
        }
      }
      let A = (a0 + a1) + (a2 + a3), Bp = (b0 + b1) + (b2 + b3), Q = (q0 + q1) + (q2 + q3);
      for (; j < D; j++) {
        const o = <usize>j << 2;
        const d = <f64>load<f32>(xr + o) - <f64>m;
        const g = <f64>load<f32>(gr + o) * <f64>load<f32>(gamma + o);
        A += g; Bp += g * d; Q += d;
      }
      const mu = Q / Df;
      const B = Bp - mu * A;
      const k = <f32>rstd, lo = <f32>mu;
      const ca = <f32>(A / Df), cc = <f32>(rstd * rstd * B / Df);
      dxRow(dx + off + cb, accG, accB, gr + cb, xr + cb, gamma + cb, m, lo, k, ca, cc, n);
    }
    for (let j = 0; j < n; j++) {
      const o = <usize>(c0 + j) << 2, o8 = <usize>j << 3;
      store<f32>(dgamma + o, <f32>(<f64>load<f32>(dgamma + o) + load<f64>(accG + o8)));
      store<f32>(dbeta + o, <f32>(<f64>load<f32>(dbeta + o) + load<f64>(accB + o8)));
    }
  }
}

/**
 * One row's chunk of n columns: xc = (x - m) - lo, xhat = xc * k (f32);
 * dx += k ((dy * gamma - ca) - xc * cc);  accG += f64(dy) f64(xhat);  accB += f64(dy).
 */
// @ts-ignore: decorator
@inline function dxRow(dx: usize, accG: usize, accB: usize, dy: usize, x: usize, gamma: usize,
                       m: f32, lo: f32, k: f32, ca: f32, cc: f32, n: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    const m4 = f32x4.splat(m), l4 = f32x4.splat(lo), k4 = f32x4.splat(k), a4 = f32x4.splat(ca), c4 = f32x4.splat(cc);
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2, o8 = <usize>j << 3;
      const gv = v128.load(dy + o);
      const xc = f32x4.sub(f32x4.sub(v128.load(x + o), m4), l4);
      const xh = f32x4.mul(xc, k4);
      const t = f32x4.sub(f32x4.sub(f32x4.mul(gv, v128.load(gamma + o)), a4), f32x4.mul(xc, c4));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(k4, t)));
      const g01 = f64x2.promote_low_f32x4(gv), g23 = f64x2.promote_low_f32x4(v128.shuffle<f32>(gv, gv, 2, 3, 2, 3));
      const h01 = f64x2.promote_low_f32x4(xh), h23 = f64x2.promote_low_f32x4(v128.shuffle<f32>(xh, xh, 2, 3, 2, 3));
      v128.store(accG + o8, f64x2.add(v128.load(accG + o8), f64x2.mul(g01, h01)));
      v128.store(accG + o8, f64x2.add(v128.load(accG + o8, 16), f64x2.mul(g23, h23)), 16);
      v128.store(accB + o8, f64x2.add(v128.load(accB + o8), g01));
      v128.store(accB + o8, f64x2.add(v128.load(accB + o8, 16), g23), 16);
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 2, o8 = <usize>j << 3;
    const g = load<f32>(dy + o);
    const xc = (load<f32>(x + o) - m) - lo;
    const xh = xc * k;
    const t = (g * load<f32>(gamma + o) - ca) - xc * cc;
    store<f32>(dx + o, load<f32>(dx + o) + k * t);
    store<f64>(accG + o8, load<f64>(accG + o8) + <f64>g * <f64>xh);
    store<f64>(accB + o8, load<f64>(accB + o8) + <f64>g);
  }
}

// ---- row statistics, in the lane order stated at the top ---------------------------------------

/** sum_j f64(x[j]) */
// @ts-ignore: decorator
@inline function rowSum(x: usize, D: i32): f64 {
  const vecEnd = D & ~3;
  let j = 0;
  let s: f64;
  if (ASC_FEATURE_SIMD) {
    let s01 = f64x2.splat(0), s23 = s01;
    for (; j < vecEnd; j += 4) {
      const v = v128.load(x + (<usize>j << 2));
      s01 = f64x2.add(s01, f64x2.promote_low_f32x4(v));
      s23 = f64x2.add(s23, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
    }
    s = (f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1)) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (; j < vecEnd; j += 4) {
      const p = x + (<usize>j << 2);
      s0 += <f64>load<f32>(p); s1 += <f64>load<f32>(p, 4); s2 += <f64>load<f32>(p, 8); s3 += <f64>load<f32>(p, 12);
    }
    s = (s0 + s1) + (s2 + s3);
  }
  for (; j < D; j++) s += <f64>load<f32>(x + (<usize>j << 2));
  return s;
}

/** sum_j (f64(x[j]) - mean)^2 */
// @ts-ignore: decorator
@inline function rowSquaredDeviation(x: usize, D: i32, mean: f64): f64 {
  const vecEnd = D & ~3;
  let j = 0;
  let s: f64;
  if (ASC_FEATURE_SIMD) {
    const m2 = f64x2.splat(mean);
    let s01 = f64x2.splat(0), s23 = s01;
    for (; j < vecEnd; j += 4) {
      const v = v128.load(x + (<usize>j << 2));
      const d01 = f64x2.sub(f64x2.promote_low_f32x4(v), m2);
      const d23 = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), m2);
      s01 = f64x2.add(s01, f64x2.mul(d01, d01));
      s23 = f64x2.add(s23, f64x2.mul(d23, d23));
    }
    s = (f64x2.extract_lane(s01, 0) + f64x2.extract_lane(s01, 1)) + (f64x2.extract_lane(s23, 0) + f64x2.extract_lane(s23, 1));
  } else {
    let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
    for (; j < vecEnd; j += 4) {
      const p = x + (<usize>j << 2);
      const d0 = <f64>load<f32>(p) - mean, d1 = <f64>load<f32>(p, 4) - mean;
      const d2 = <f64>load<f32>(p, 8) - mean, d3 = <f64>load<f32>(p, 12) - mean;
      s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
    }
    s = (s0 + s1) + (s2 + s3);
  }
  for (; j < D; j++) {
    const d = <f64>load<f32>(x + (<usize>j << 2)) - mean;
    s += d * d;
  }
  return s;
}
