// Layer normalisation over the last dimension, forward and backward side by side.
// x, y, dy, dx are (rows, D) row-major; gamma, beta, dgamma, dbeta are (D); saveMean, saveRstd
// are (rows).
//
// Row statistics follow assembly/kernels/layer_norm.ts operation for operation (f64 lane sums
// s_l over j = l mod 4 for the first D & ~3 elements, combined as (s0 + s1) + (s2 + s3), then
// the tail in order), so saveMean, saveRstd and dbeta are bit-identical to the wasm builds.
// y, dx and dgamma are computed in f64 from those statistics and rounded once (the wasm builds
// use f32 steps there): they may differ from the wasm builds in the last f32 bits.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

let scratch = new Float64Array(0);

/** Per-column f64 accumulators for `n` values, reused across calls. */
function f64Scratch(n: number): Float64Array {
  if (scratch.length < n) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
  return scratch;
}

/** sum_j x[j], x = f[p .. p + D), in the lane order above. */
function rowSum(f: Float32Array, p: number, D: number): number {
  const vecEnd = D - (D & 3);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let j = 0;
  for (; j < vecEnd; j += 4) { s0 += f[p + j]!; s1 += f[p + j + 1]!; s2 += f[p + j + 2]!; s3 += f[p + j + 3]!; }
  let s = (s0 + s1) + (s2 + s3);
  for (; j < D; j++) s += f[p + j]!;
  return s;
}

/** sum_j (x[j] - mean)^2 in the same order. */
function rowSquaredDeviation(f: Float32Array, p: number, D: number, mean: number): number {
  const vecEnd = D - (D & 3);
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let j = 0;
  for (; j < vecEnd; j += 4) {
    const d0 = f[p + j]! - mean, d1 = f[p + j + 1]! - mean, d2 = f[p + j + 2]! - mean, d3 = f[p + j + 3]! - mean;
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  let s = (s0 + s1) + (s2 + s3);
  for (; j < D; j++) { const d = f[p + j]! - mean; s += d * d; }
  return s;
}

/** y = gamma (x - mean_r) rstd_r + beta per row; saves f32(mean), f32(rstd). y may alias x. */
export function layerNormForward(heap: HeapViews, y: Ptr, saveMean: Ptr, saveRstd: Ptr, x: Ptr, gamma: Ptr, beta: Ptr,
                                 rows: number, D: number, eps: number): void {
  if (D <= 0) return;
  const f = heap.sync().f32;
  const gi = gamma >>> 2, bi = beta >>> 2;
  const e = Math.fround(eps);
  for (let r = 0; r < rows; r++) {
    const xr = (x >>> 2) + r * D, yr = (y >>> 2) + r * D;
    const mean = rowSum(f, xr, D) / D;
    const rstd = 1 / Math.sqrt(rowSquaredDeviation(f, xr, D, mean) / D + e);
    f[(saveMean >>> 2) + r] = mean;
    f[(saveRstd >>> 2) + r] = rstd;
    for (let j = 0; j < D; j++) f[yr + j] = (f[xr + j]! - mean) * rstd * f[gi + j]! + f[bi + j]!;
  }
}

/**
 * Backward, xhat = (x - mean) rstd, g = dy gamma:
 *   dbeta += sum_r dy;  dgamma += sum_r dy xhat;  dx += rstd (g - mean_j g - xhat mean_j (g xhat)).
 * Re-centred on the f32 saveMean like the wasm kernel (Q = sum (x - saveMean) locates the row's
 * true mean). dgamma/dbeta are summed over rows in f64 and added once.
 */
export function layerNormBackward(heap: HeapViews, dx: Ptr, dgamma: Ptr, dbeta: Ptr, dy: Ptr, x: Ptr, saveMean: Ptr,
                                  saveRstd: Ptr, gamma: Ptr, rows: number, D: number): void {
  if (D <= 0) return;
  const f = heap.sync().f32;
  const acc = f64Scratch(2 * D);
  acc.fill(0, 0, 2 * D);
  const gi = gamma >>> 2;
  const vecEnd = D - (D & 3);
  for (let r = 0; r < rows; r++) {
    const xr = (x >>> 2) + r * D, gr = (dy >>> 2) + r * D, dr = (dx >>> 2) + r * D;
    const m = f[(saveMean >>> 2) + r]!, rstd = f[(saveRstd >>> 2) + r]!;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
    let j = 0;
    for (; j < vecEnd; j += 4) {
      const d0 = f[xr + j]! - m, d1 = f[xr + j + 1]! - m, d2 = f[xr + j + 2]! - m, d3 = f[xr + j + 3]! - m;
      const g0 = f[gr + j]! * f[gi + j]!, g1 = f[gr + j + 1]! * f[gi + j + 1]!;
      const g2 = f[gr + j + 2]! * f[gi + j + 2]!, g3 = f[gr + j + 3]! * f[gi + j + 3]!;
      a0 += g0; a1 += g1; a2 += g2; a3 += g3;
      b0 += g0 * d0; b1 += g1 * d1; b2 += g2 * d2; b3 += g3 * d3;
      q0 += d0; q1 += d1; q2 += d2; q3 += d3;
    }
    let A = (a0 + a1) + (a2 + a3), Bp = (b0 + b1) + (b2 + b3), Q = (q0 + q1) + (q2 + q3);
    for (; j < D; j++) {
      const d = f[xr + j]! - m, g = f[gr + j]! * f[gi + j]!;
      A += g; Bp += g * d; Q += d;
    }
    const mu = Q / D;
    const mean = m + mu;
    const ca = A / D, cc = rstd * rstd * (Bp - mu * A) / D;
    for (let k = 0; k < D; k++) {
      const xc = f[xr + k]! - mean;
      const g = f[gr + k]!;
      f[dr + k] = f[dr + k]! + rstd * ((g * f[gi + k]! - ca) - xc * cc);
      acc[k]! += g * (xc * rstd);
      acc[D + k]! += g;
    }
  }
  for (let k = 0; k < D; k++) {
    f[(dgamma >>> 2) + k] = f[(dgamma >>> 2) + k]! + acc[k]!;
    f[(dbeta >>> 2) + k] = f[(dbeta >>> 2) + k]! + acc[D + k]!;
  }
}
