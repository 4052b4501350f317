// Elementwise f32 kernels over flat buffers.
// x, y are (n) f32; for normalizeU8, x is (n) u8; for argmaxRows, x is (rows,cols) f32
// and out is (rows) i32. None of these has a backward: they are data plumbing
// (fill/scale/axpy build gradients and updates, normalizeU8 and argmaxRows sit outside
// the differentiated graph).

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const fround = Math.fround;

/** x[i] = value */
export function fill(heap: HeapViews, x: Ptr, n: number, value: number): void {
  const i0 = x >>> 2;
  heap.sync().f32.fill(value, i0, i0 + n);
}

/** x[i] *= alpha */
export function scale(heap: HeapViews, x: Ptr, n: number, alpha: number): void {
  const f = heap.sync().f32;
  const end = (x >>> 2) + n;
  for (let i = x >>> 2; i < end; i++) f[i] = f[i]! * alpha;
}

/** y[i] += alpha * x[i] */
export function axpy(heap: HeapViews, y: Ptr, x: Ptr, n: number, alpha: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, xi = x >>> 2;
  for (let i = 0; i < n; i++) f[yi + i] = f[yi + i]! + alpha * f[xi + i]!;
}

/**
 * y[i] = (f32(x[i]) / 255 - mean) / std, every operation rounded to f32 in that order so
 * that the result is bit-identical to the wasm builds (where mean and std arrive as f32).
 * One f64 operation on f32 operands followed by fround equals the f32 operation exactly
 * (f64 has more than 2*24+2 bits, so the double rounding is innocuous).
 */
export function normalizeU8(heap: HeapViews, y: Ptr, x: Ptr, n: number, mean: number, std: number): void {
  const { f32: f, u8 } = heap.sync();
  const yi = y >>> 2;
  const m = fround(mean), s = fround(std);
  for (let i = 0; i < n; i++) f[yi + i] = fround(fround(u8[x + i]! / 255) - m) / s;
}

/**
 * out[r] = index of the largest x[r, :]: the first index on ties (strict >), and the
 * first NaN if the row has one (a NaN row is not "classified", callers see it as wrong).
 * A row of zero columns gets -1: there is no index to give.
 */
export function argmaxRows(heap: HeapViews, out: Ptr, x: Ptr, rows: number, cols: number): void {
  const { f32: f, i32 } = heap.sync();
  const oi = out >>> 2;
  for (let r = 0; r < rows; r++) {
    const base = (x >>> 2) + r * cols;
    let best = cols > 0 ? 0 : -1;
    let bestValue = -Infinity;
    for (let j = 0; j < cols; j++) {
      const v = f[base + j]!;
      if (v !== v) { best = j; break; }
      if (v > bestValue) { bestValue = v; best = j; }
    }
    i32[oi + r] = best;
  }
}
