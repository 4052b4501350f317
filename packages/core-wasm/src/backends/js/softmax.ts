// Tempered softmax over rows, forward and backward side by side, and the row helpers
// the loss kernels share.
// x, y, dx, dy are (rows,cols) = (B,C); T > 0 is the temperature.
//
// Numerics (ARCHITECTURE.md): divide by T, subtract the row max (from -Infinity), then
// exponentiate; log-softmax is a shifted log-sum-exp, never log(softmax). Sums are in
// f64. Since x -> x / T is monotone for T > 0 and rounding is monotone,
// max_j (x_j / T) == (max_j x_j) / T exactly, so the max is taken on raw x.
// A NaN anywhere in a row is skipped by the max but poisons the sum: the whole row
// comes out NaN. Logits of +-1e4 at T = 0.5 stay finite: the shifted exponents are <= 0.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/** max_j x[base + j] starting from -Infinity (NaN never compares greater). */
export function rowMax(f: Float32Array, base: number, cols: number): number {
  let m = -Infinity;
  for (let j = base; j < base + cols; j++) {
    const v = f[j]!;
    if (v > m) m = v;
  }
  return m;
}

/** sum_j exp(x[base + j] / T - shift), with shift = rowMax / T. */
export function sumExp(f: Float32Array, base: number, cols: number, T: number, shift: number): number {
  let s = 0;
  for (let j = base; j < base + cols; j++) s += Math.exp(f[j]! / T - shift);
  return s;
}

/**
 * y = softmax(x / T) row-wise. The exponentials are written to y on the way to their sum
 * and normalised in a second sweep, one exp per element instead of two (y may alias x:
 * each element is read before it is overwritten).
 */
export function softmaxRows(heap: HeapViews, y: Ptr, x: Ptr, rows: number, cols: number, T: number): void {
  const f = heap.sync().f32;
  for (let r = 0; r < rows; r++) {
    const xr = (x >>> 2) + r * cols, yr = (y >>> 2) + r * cols;
    const shift = rowMax(f, xr, cols) / T;
    let s = 0;
    for (let j = 0; j < cols; j++) {
      const e = Math.exp(f[xr + j]! / T - shift);
      f[yr + j] = e;
      s += e;
    }
    for (let j = yr; j < yr + cols; j++) f[j] = f[j]! / s;
  }
}

/** y = log_softmax(x / T) = (x / T - max) - log sum exp(x / T - max), row-wise. */
export function logSoftmaxRows(heap: HeapViews, y: Ptr, x: Ptr, rows: number, cols: number, T: number): void {
  const f = heap.sync().f32;
  for (let r = 0; r < rows; r++) {
    const xr = (x >>> 2) + r * cols, yr = (y >>> 2) + r * cols;
    const shift = rowMax(f, xr, cols) / T;
    const logS = Math.log(sumExp(f, xr, cols, T, shift));
    for (let j = 0; j < cols; j++) f[yr + j] = (f[xr + j]! / T - shift) - logS;
  }
}

/**
 * Backward of y = softmax(x / T), y the forward output:
 *   dx[r, j] += y[r, j] * (dy[r, j] - sum_k dy[r, k] * y[r, k]) / T
 */
export function softmaxBackward(heap: HeapViews, dx: Ptr, y: Ptr, dy: Ptr, rows: number, cols: number,
                                T: number): void {
  const f = heap.sync().f32;
  for (let r = 0; r < rows; r++) {
    const dxr = (dx >>> 2) + r * cols, yr = (y >>> 2) + r * cols, gr = (dy >>> 2) + r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += f[gr + j]! * f[yr + j]!;
    for (let j = 0; j < cols; j++) f[dxr + j] = f[dxr + j]! + f[yr + j]! * (f[gr + j]! - dot) / T;
  }
}
