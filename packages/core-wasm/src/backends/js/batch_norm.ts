// Batch normalisation over channels-last activations, forward and backward side by side.
// x, y, dy, dx are (rows, C) row-major (rows = B*H*W, or B); gamma, beta, dgamma, dbeta,
// saveMean, saveInvstd, runMean, runVar are (C).
//
// The statistics follow assembly/kernels/batch_norm.ts operation for operation: per channel,
// f64 sums of the f32 inputs in row order, the same divisions, sqrt and running-average
// expressions, so saveMean, saveInvstd, runMean, runVar, dbeta and dgamma are bit-identical to
// the wasm builds. y and dx are computed in f64 from those statistics and rounded once on the
// store (the wasm builds use f32 steps there), so they may differ from the wasm builds by a
// few f32 ulp of the terms involved.
// Rows are walked in memory order with per-channel f64 accumulators in one buffer kept across
// calls (grown when a wider layer comes along; nothing is allocated on the common path).

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const fround = Math.fround;
let scratch = new Float64Array(0);

/** Per-channel f64 accumulators for `n` values, reused across calls. */
function f64Scratch(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/**
 * Training forward: y = gamma (x - mean) invstd + beta with the batch's mean and biased
 * variance; saves f32(mean), f32(invstd) and updates the running statistics in place
 * (runVar with the unbiased variance). rows == 0 writes nothing.
 */
export function batchNormTrainForward(heap: HeapViews, y: Ptr, saveMean: Ptr, saveInvstd: Ptr, runMean: Ptr, runVar: Ptr,
                                      x: Ptr, gamma: Ptr, beta: Ptr, rows: number, C: number, eps: number, momentum: number): void {
  if (rows <= 0) return;
  const f = heap.sync().f32;
  const s = f64Scratch(3 * C);
  const xi = x >>> 2, yi = y >>> 2, gi = gamma >>> 2, bi = beta >>> 2;
  const mi = saveMean >>> 2, ii = saveInvstd >>> 2, rmi = runMean >>> 2, rvi = runVar >>> 2;
  const N = rows, e = fround(eps), m = fround(momentum);
  // s[c] = sum -> mean, s[C + c] = squared deviations, s[2C + c] = gamma * invstd
  s.fill(0, 0, 2 * C);
  for (let r = 0, p = xi; r < rows; r++, p += C) {
    for (let c = 0; c < C; c++) s[c]! += f[p + c]!;
  }
  for (let c = 0; c < C; c++) s[c] = s[c]! / N;
  for (let r = 0, p = xi; r < rows; r++, p += C) {
    for (let c = 0; c < C; c++) {
      const d = f[p + c]! - s[c]!;
      s[C + c]! += d * d;
    }
  }
  for (let c = 0; c < C; c++) {
    const mean = s[c]!;
    const v = s[C + c]! / N;
    const invstd = 1 / Math.sqrt(v + e);
    f[mi + c] = mean;
    f[ii + c] = invstd;
    s[2 * C + c] = f[gi + c]! * invstd;
    const unbiased = rows > 1 ? v * N / (N - 1) : v;
    f[rmi + c] = (1 - m) * f[rmi + c]! + m * mean;
    f[rvi + c] = (1 - m) * f[rvi + c]! + m * unbiased;
  }
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    for (let c = 0; c < C; c++) f[yi + o + c] = (f[xi + o + c]! - s[c]!) * s[2 * C + c]! + f[bi + c]!;
  }
}

/** Evaluation forward: y = gamma (x - runMean) / sqrt(runVar + eps) + beta. y may alias x. */
export function batchNormInferForward(heap: HeapViews, y: Ptr, x: Ptr, runMean: Ptr, runVar: Ptr, gamma: Ptr, beta: Ptr,
                                      rows: number, C: number, eps: number): void {
  const f = heap.sync().f32;
  const k = f64Scratch(C);
  const xi = x >>> 2, yi = y >>> 2, rmi = runMean >>> 2, bi = beta >>> 2;
  const e = fround(eps);
  for (let c = 0; c < C; c++) k[c] = f[(gamma >>> 2) + c]! / Math.sqrt(f[(runVar >>> 2) + c]! + e);
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    for (let c = 0; c < C; c++) f[yi + o + c] = (f[xi + o + c]! - f[rmi + c]!) * k[c]! + f[bi + c]!;
  }
}

/**
 * Backward with batch statistics, xhat = (x - mean) invstd:
 *   dbeta += sum_r dy;  dgamma += sum_r dy xhat;
 *   dx += gamma invstd / rows (rows dy - sum_r dy - xhat sum_r dy xhat).
 * Re-centred on the f32 saveMean as the wasm kernel is: with d = x - saveMean, Q = sum_r d gives
 * the distance mu = Q / rows to the batch mean, and sum dy (x - mean) = sum dy d - mu sum dy.
 */
export function batchNormBackward(heap: HeapViews, dx: Ptr, dgamma: Ptr, dbeta: Ptr, dy: Ptr, x: Ptr, saveMean: Ptr,
                                  saveInvstd: Ptr, gamma: Ptr, rows: number, C: number): void {
  if (rows <= 0) return;
  const f = heap.sync().f32;
  const s = f64Scratch(7 * C);
  const xi = x >>> 2, gi = dy >>> 2, di = dx >>> 2, mi = saveMean >>> 2;
  const N = rows;
  // s: [0,C) D, [C,2C) P, [2C,3C) Q, then per channel a, b, cc and the batch mean
  s.fill(0, 0, 3 * C);
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    for (let c = 0; c < C; c++) {
      const d = f[xi + o + c]! - f[mi + c]!;
      const g = f[gi + o + c]!;
      s[c]! += g;
      s[C + c]! += g * d;
      s[2 * C + c]! += d;
    }
  }
  for (let c = 0; c < C; c++) {
    const invstd = f[(saveInvstd >>> 2) + c]!;
    const D = s[c]!;
    const mu = s[2 * C + c]! / N;
    const P = s[C + c]! - mu * D;
    f[(dbeta >>> 2) + c] = f[(dbeta >>> 2) + c]! + D;
    f[(dgamma >>> 2) + c] = f[(dgamma >>> 2) + c]! + P * invstd;
    s[3 * C + c] = f[(gamma >>> 2) + c]! * invstd;
    s[4 * C + c] = D / N;
    s[5 * C + c] = invstd * invstd * P / N;
    s[6 * C + c] = f[mi + c]! + mu;
  }
  for (let r = 0, o = 0; r < rows; r++, o += C) {
    for (let c = 0; c < C; c++) {
      const t = (f[gi + o + c]! - s[4 * C + c]!) - (f[xi + o + c]! - s[6 * C + c]!) * s[5 * C + c]!;
      f[di + o + c] = f[di + o + c]! + s[3 * C + c]! * t;
    }
  }
}
