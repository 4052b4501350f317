// Batch normalisation over channels-last activations.
// x, y, dy, dx are (rows, C) row-major: rows = B*H*W for an image (B,H,W,C), or B for a dense
// layer's output. gamma, beta, dgamma, dbeta, saveMean, saveInvstd, runMean, runVar are (C).
//
// train forward (batch statistics, biased variance; running statistics PyTorch-style):
//   mean_c   = sum_r x[r,c] / rows                        f64, rows summed in row order
//   var_c    = sum_r (x[r,c] - mean_c)^2 / rows           f64, second pass (no E[x^2] - mean^2)
//   invstd_c = 1 / sqrt(var_c + eps)                      f64
//   y[r,c]   = gamma_c (x[r,c] - mean_c) invstd_c + beta_c
//   saveMean = f32(mean), saveInvstd = f32(invstd)        kept for backward
//   runMean  = f32((1 - m) runMean + m mean)              f64 arithmetic, one rounding
//   runVar   = f32((1 - m) runVar + m var rows / (rows - 1))   (var itself when rows == 1)
// infer forward (running statistics):
//   y[r,c]   = gamma_c (x[r,c] - runMean_c) / sqrt(runVar_c + eps) + beta_c
// backward (training-mode batch statistics, xhat = (x - mean) invstd):
//   dbeta_c  += sum_r dy                                  D
//   dgamma_c += sum_r dy xhat                             P invstd
//   dx[r,c]  += gamma_c invstd_c / rows (rows dy - D - xhat P invstd)
//
// Rounding points (the same on both wasm builds, bit for bit; the js backend's statistics too):
// - Statistics are f64 sums of exact f32 -> f64 promotions in row order, one chain per channel.
//   How channels are grouped (4 per f64x2 pair, or one at a time) does not change any chain,
//   so the SIMD and scalar builds agree to the bit.
// - The f32 output uses the mean as two f32 terms, mhi = f32(mean) and mlo = f32(mean - mhi):
//   y = ((x - mhi) - mlo) * k + beta, k = f32(gamma invstd), each an f32 operation in that order.
//   x - mhi is exact when x is near the mean (Sterbenz), so at x ~ 1e4 with a standard deviation
//   of 1e-2, where f32(mean) alone is off by up to 5e-4 (5% of a deviation), y keeps ~f32 accuracy.
//   (x * k + (beta - mean * k) would cancel catastrophically there.)
// - Backward takes the f32 saveMean and re-centres on it: with d = x - saveMean (f64), it sums
//   D = sum dy, P' = sum dy d and Q = sum d in f64 (row order), so mu = Q / rows is the
//   distance from saveMean to the batch mean and P = P' - mu D is sum dy (x - mean) about the
//   true mean. The f32 rounding of saveMean therefore costs nothing, as in the forward.
//   dbeta_c = f32(dbeta_c + D), dgamma_c = f32(dgamma_c + P invstd): one rounding each.
//   dx += a ((dy - b) - xc * cc), xc = (x - saveMean) - f32(mu), with a = f32(gamma invstd),
//   b = f32(D / rows), cc = f32(invstd^2 P / rows), f32 operations in that order.
//
// Scratch (memory.ts): channels go in chunks of up to CHUNK; a chunk's f64 accumulators and its
// per-channel f32 constants live in scratch during the call, and every pass streams the rows
// (contiguous within the chunk). C <= CHUNK (52428) is one chunk; wider layers repeat the passes
// per chunk, which reads each row once per chunk but sums exactly the same terms.
// rows == 0 or C == 0 writes nothing (no statistics exist for an empty batch).
// y may alias x in both forwards (each element is read before it is written); backward needs
// the forward's input x, so a training graph keeps it.

import { scratchBase, SCRATCH_BYTES } from '../memory';

/** Channels per chunk: three f64 and four f32 values per channel (40 bytes) fit in scratch. */
// @ts-ignore: decorator
@inline const CHUNK: i32 = <i32>(SCRATCH_BYTES / 40) & ~3;

// Scratch layout of one chunk of n <= CHUNK channels: three f64 arrays, then four f32 arrays.
// @ts-ignore: decorator
@inline function f64Slot(k: i32): usize { return scratchBase() + <usize>k * <usize>CHUNK * 8; }
// @ts-ignore: decorator
@inline function f32Slot(k: i32): usize { return scratchBase() + <usize>CHUNK * 24 + <usize>k * <usize>CHUNK * 4; }

export function batchNormTrainForward(y: usize, saveMean: usize, saveInvstd: usize, runMean: usize, runVar: usize,
                                      x: usize, gamma: usize, beta: usize, rows: i32, C: i32, eps: f32, momentum: f32): void {
  if (rows <= 0) return;
  const N = <f64>rows;
  const m = <f64>momentum;
  const rowBytes = <usize>C << 2;
  const sum = f64Slot(0), sq = f64Slot(1);
  const lo = f32Slot(0), k = f32Slot(1);
  for (let c0 = 0; c0 < C; c0 += CHUNK) {
    const n = min(CHUNK, C - c0);
    const xc = x + (<usize>c0 << 2);
    zeroF64(sum, n);
    let r = 0;
    for (; r + 4 <= rows; r += 4) sumRows(sum, xc + <usize>r * rowBytes, rowBytes, n, 4);
    for (; r < rows; r++) sumRows(sum, xc + <usize>r * rowBytes, rowBytes, n, 1);
    for (let j = 0; j < n; j++) {
      const p = sum + (<usize>j << 3);
      store<f64>(p, load<f64>(p) / N);
    }
    zeroF64(sq, n);
    for (r = 0; r + 4 <= rows; r += 4) sumSquaredDeviationRows(sq, sum, xc + <usize>r * rowBytes, rowBytes, n, 4);
    for (; r < rows; r++) sumSquaredDeviationRows(sq, sum, xc + <usize>r * rowBytes, rowBytes, n, 1);
    for (let j = 0; j < n; j++) {
      const c = <usize>(c0 + j) << 2;
      const mean = load<f64>(sum + (<usize>j << 3));
      const v = load<f64>(sq + (<usize>j << 3)) / N;
      const invstd = 1.0 / Math.sqrt(v + <f64>eps);
      const mhi = <f32>mean;
      store<f32>(saveMean + c, mhi);
      store<f32>(saveInvstd + c, <f32>invstd);
      store<f32>(lo + (<usize>j << 2), <f32>(mean - <f64>mhi));
      store<f32>(k + (<usize>j << 2), <f32>(<f64>load<f32>(gamma + c) * invstd));
      const unbiased = rows > 1 ? v * N / (N - 1.0) : v;
      store<f32>(runMean + c, <f32>((1.0 - m) * <f64>load<f32>(runMean + c) + m * mean));
      store<f32>(runVar + c, <f32>((1.0 - m) * <f64>load<f32>(runVar + c) + m * unbiased));
    }
    const cb = <usize>c0 << 2;
    for (let r = 0; r < rows; r++) {
      const off = <usize>r * rowBytes + cb;
      normalizeRow(y + off, x + off, saveMean + cb, lo, k, beta + cb, n);
    }
  }
}

export function batchNormInferForward(y: usize, x: usize, runMean: usize, runVar: usize, gamma: usize, beta: usize,
                                      rows: i32, C: i32, eps: f32): void {
  // y = ((x - runMean) - 0) * k + beta with k = f32(gamma / sqrt(runVar + eps)) (f64 inside):
  // the forward's own row pass, with a zero low part of the mean.
  const rowBytes = <usize>C << 2;
  const lo = f32Slot(0), k = f32Slot(1);
  for (let c0 = 0; c0 < C; c0 += CHUNK) {
    const n = min(CHUNK, C - c0);
    for (let j = 0; j < n; j++) {
      const c = <usize>(c0 + j) << 2;
      store<f32>(lo + (<usize>j << 2), 0);
      store<f32>(k + (<usize>j << 2), <f32>(<f64>load<f32>(gamma + c) / Math.sqrt(<f64>load<f32>(runVar + c) + <f64>eps)));
    }
    const cb = <usize>c0 << 2;
    for (let r = 0; r < rows; r++) {
      const off = <usize>r * rowBytes + cb;
      normalizeRow(y + off, x + off, runMean + cb, lo, k, beta + cb, n);
    }
  }
}

export function batchNormBackward(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, saveMean: usize,
                                  saveInvstd: usize, gamma: usize, rows: i32, C: i32): void {
  if (rows <= 0) return;
  const N = <f64>rows;
  const rowBytes = <usize>C << 2;
  const sD = f64Slot(0), sP = f64Slot(1), sQ = f64Slot(2);
  const ca = f32Slot(0), cb = f32Slot(1), cc = f32Slot(2), mlo = f32Slot(3);
  for (let c0 = 0; c0 < C; c0 += CHUNK) {
    const n = min(CHUNK, C - c0);
    const base = <usize>c0 << 2;
    zeroF64(sD, n); zeroF64(sP, n); zeroF64(sQ, n);
    let r = 0;
    for (; r + 4 <= rows; r += 4) backwardSumsRows(sD, sP, sQ, dy + <usize>r * rowBytes + base, x + <usize>r * rowBytes + base, saveMean + base, rowBytes, n, 4);
    for (; r < rows; r++) backwardSumsRows(sD, sP, sQ, dy + <usize>r * rowBytes + base, x + <usize>r * rowBytes + base, saveMean + base, rowBytes, n, 1);
    for (let j = 0; j < n; j++) {
      const c = <usize>(c0 + j) << 2;
      const j8 = <usize>j << 3, j4 = <usize>j << 2;
      const invstd = <f64>load<f32>(saveInvstd + c);
      const D = load<f64>(sD + j8);
      const mu = load<f64>(sQ + j8) / N;
      const P = load<f64>(sP + j8) - mu * D;               // sum dy (x - mean), about the batch mean
      store<f32>(dbeta + c, <f32>(<f64>load<f32>(dbeta + c) + D));
      store<f32>(dgamma + c, <f32>(<f64>load<f32>(dgamma + c) + P * invstd));
      store<f32>(ca + j4, <f32>(<f64>load<f32>(gamma + c) * invstd));
      store<f32>(cb + j4, <f32>(D / N));
      store<f32>(cc + j4, <f32>(invstd * invstd * P / N));
      store<f32>(mlo + j4, <f32>mu);
    }
    for (let r = 0; r < rows; r++) {
      const off = <usize>r * rowBytes + base;
      dxRow(dx + off, dy + off, x + off, saveMean + base, mlo, ca, cb, cc, n);
    }
  }
}

// ---- row passes over one chunk of n channels -------------------------------------------------

// @ts-ignore: decorator
@inline function zeroF64(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 3);
}

// The accumulating passes take a block of `m` rows (4, or 1 for the last rows): each accumulator
// is loaded once, takes the block's rows in order, and is stored once. The chain per channel is
// the same (row order), so the blocking changes no bit; it saves the store-to-load round trip
// through scratch on every row. m is a constant at each call site (the functions are inlined).

/** acc[j] += f64(x[i, j]) for rows i = 0 .. m-1 of the block, in order. */
// @ts-ignore: decorator
@inline function sumRows(acc: usize, x: usize, rowBytes: usize, n: i32, m: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      const a = acc + (<usize>j << 3);
      let a01 = v128.load(a), a23 = v128.load(a, 16);
      let p = x + (<usize>j << 2);
      for (let i = 0; i < m; i++, p += rowBytes) {
        const v = v128.load(p);
        a01 = f64x2.add(a01, f64x2.promote_low_f32x4(v));
        a23 = f64x2.add(a23, f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)));
      }
      v128.store(a, a01);
      v128.store(a, a23, 16);
    }
  }
  for (; j < n; j++) {
    const a = acc + (<usize>j << 3);
    let s = load<f64>(a);
    let p = x + (<usize>j << 2);
    for (let i = 0; i < m; i++, p += rowBytes) s += <f64>load<f32>(p);
    store<f64>(a, s);
  }
}

/** acc[j] += (f64(x[i, j]) - mean[j])^2 for the block's rows, in order. */
// @ts-ignore: decorator
@inline function sumSquaredDeviationRows(acc: usize, mean: usize, x: usize, rowBytes: usize, n: i32, m: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      const a = acc + (<usize>j << 3), mp = mean + (<usize>j << 3);
      const m01 = v128.load(mp), m23 = v128.load(mp, 16);
      let a01 = v128.load(a), a23 = v128.load(a, 16);
      let p = x + (<usize>j << 2);
      for (let i = 0; i < m; i++, p += rowBytes) {
        const v = v128.load(p);
        const d0 = f64x2.sub(f64x2.promote_low_f32x4(v), m01);
        const d1 = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3)), m23);
        a01 = f64x2.add(a01, f64x2.mul(d0, d0));
        a23 = f64x2.add(a23, f64x2.mul(d1, d1));
      }
      v128.store(a, a01);
      v128.store(a, a23, 16);
    }
  }
  for (; j < n; j++) {
    const a = acc + (<usize>j << 3);
    const mj = load<f64>(mean + (<usize>j << 3));
    let s = load<f64>(a);
    let p = x + (<usize>j << 2);
    for (let i = 0; i < m; i++, p += rowBytes) {
      const d = <f64>load<f32>(p) - mj;
      s += d * d;
    }
    store<f64>(a, s);
  }
}

/** y[j] = ((x[j] - mhi[j]) - mlo[j]) * k[j] + beta[j], f32 operations in that order. */
// @ts-ignore: decorator
@inline function normalizeRow(y: usize, x: usize, mhi: usize, mlo: usize, k: usize, beta: usize, n: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2;
      const xc = f32x4.sub(f32x4.sub(v128.load(x + o), v128.load(mhi + o)), v128.load(mlo + o));
      v128.store(y + o, f32x4.add(f32x4.mul(xc, v128.load(k + o)), v128.load(beta + o)));
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    const xc = (load<f32>(x + o) - load<f32>(mhi + o)) - load<f32>(mlo + o);
    store<f32>(y + o, xc * load<f32>(k + o) + load<f32>(beta + o));
  }
}

/** With d = f64(x[i, j]) - f64(mean[j]): D[j] += dy[i, j]; P[j] += dy[i, j] d; Q[j] += d (f64), block rows in order. */
// @ts-ignore: decorator
@inline function backwardSumsRows(sD: usize, sP: usize, sQ: usize, dy: usize, x: usize, mean: usize, rowBytes: usize, n: i32, m: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2, o8 = <usize>j << 3;
      const mv = v128.load(mean + o);
      const m01 = f64x2.promote_low_f32x4(mv), m23 = f64x2.promote_low_f32x4(v128.shuffle<f32>(mv, mv, 2, 3, 2, 3));
      let D01 = v128.load(sD + o8), D23 = v128.load(sD + o8, 16);
      let P01 = v128.load(sP + o8), P23 = v128.load(sP + o8, 16);
      let Q01 = v128.load(sQ + o8), Q23 = v128.load(sQ + o8, 16);
      let px = x + o, pg = dy + o;
      for (let i = 0; i < m; i++, px += rowBytes, pg += rowBytes) {
        const xv = v128.load(px), gv = v128.load(pg);
        const d0 = f64x2.sub(f64x2.promote_low_f32x4(xv), m01);
        const d1 = f64x2.sub(f64x2.promote_low_f32x4(v128.shuffle<f32>(xv, xv, 2, 3, 2, 3)), m23);
        const g0 = f64x2.promote_low_f32x4(gv);
        const g1 = f64x2.promote_low_f32x4(v128.shuffle<f32>(gv, gv, 2, 3, 2, 3));
        D01 = f64x2.add(D01, g0); D23 = f64x2.add(D23, g1);
        P01 = f64x2.add(P01, f64x2.mul(g0, d0)); P23 = f64x2.add(P23, f64x2.mul(g1, d1));
        Q01 = f64x2.add(Q01, d0); Q23 = f64x2.add(Q23, d1);
      }
      v128.store(sD + o8, D01); v128.store(sD + o8, D23, 16);
      v128.store(sP + o8, P01); v128.store(sP + o8, P23, 16);
      v128.store(sQ + o8, Q01); v128.store(sQ + o8, Q23, 16);
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 2, o8 = <usize>j << 3;
    const mj = <f64>load<f32>(mean + o);
    let D = load<f64>(sD + o8), P = load<f64>(sP + o8), Q = load<f64>(sQ + o8);
    let px = x + o, pg = dy + o;
    for (let i = 0; i < m; i++, px += rowBytes, pg += rowBytes) {
      const d = <f64>load<f32>(px) - mj;
      const g = <f64>load<f32>(pg);
      D += g; P += g * d; Q += d;
    }
    store<f64>(sD + o8, D); store<f64>(sP + o8, P); store<f64>(sQ + o8, Q);
  }
}

/** dx[j] += a[j] ((dy[j] - b[j]) - xc c[j]),  xc = (x[j] - mean[j]) - mlo[j]; f32 in that order. */
// @ts-ignore: decorator
@inline function dxRow(dx: usize, dy: usize, x: usize, mean: usize, mlo: usize, a: usize, b: usize, c: usize, n: i32): void {
  let j = 0;
  if (ASC_FEATURE_SIMD) {
    for (; j + 4 <= n; j += 4) {
      const o = <usize>j << 2;
      const xc = f32x4.sub(f32x4.sub(v128.load(x + o), v128.load(mean + o)), v128.load(mlo + o));
      const t = f32x4.sub(f32x4.sub(v128.load(dy + o), v128.load(b + o)), f32x4.mul(xc, v128.load(c + o)));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(v128.load(a + o), t)));
    }
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    const xc = (load<f32>(x + o) - load<f32>(mean + o)) - load<f32>(mlo + o);
    const t = (load<f32>(dy + o) - load<f32>(b + o)) - xc * load<f32>(c + o);
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(a + o) * t);
  }
}
