// Max-norm constraint on a dense layer's incoming weights.
// w is (rows, cols) = (IN, OUT) row-major: column j holds the weights INTO unit j.
//
// For each column j: norm = sqrt(sum_r w[r, j]^2) (summed in f64 in row order); if
// norm > maxNorm, w[:, j] *= f32(maxNorm / norm), each product rounded to f32.
// This is the wasm kernel's arithmetic exactly (an f32 x f32 product is exact in f64, so
// one fround gives the f32 multiply), so all three backends agree bit for bit.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

export function maxNormColumns(heap: HeapViews, w: Ptr, rows: number, cols: number, maxNorm: number): void {
  const f = heap.sync().f32;
  const wi = w >>> 2;
  const limit = Math.fround(maxNorm);
  // Four columns per sweep down the rows: each row is read 16 bytes at a time.
  const cols4 = cols - (cols & 3);
  for (let c = 0; c < cols4; c += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let p = wi + c, r = 0; r < rows; r++, p += cols) {
      const a = f[p]!, b = f[p + 1]!, d = f[p + 2]!, e = f[p + 3]!;
      s0 += a * a; s1 += b * b; s2 += d * d; s3 += e * e;
    }
    scaleColumn(f, wi + c, rows, cols, factor(s0, limit));
    scaleColumn(f, wi + c + 1, rows, cols, factor(s1, limit));
    scaleColumn(f, wi + c + 2, rows, cols, factor(s2, limit));
    scaleColumn(f, wi + c + 3, rows, cols, factor(s3, limit));
  }
  for (let c = cols4; c < cols; c++) {
    let s = 0;
    for (let p = wi + c, r = 0; r < rows; r++, p += cols) s += f[p]! * f[p]!;
    scaleColumn(f, wi + c, rows, cols, factor(s, limit));
  }
}

function factor(sumSq: number, maxNorm: number): number {
  const norm = Math.sqrt(sumSq);
  return norm > maxNorm ? Math.fround(maxNorm / norm) : 1;
}

function scaleColumn(f: Float32Array, start: number, rows: number, stride: number, k: number): void {
  if (k === 1) return;
  for (let p = start, r = 0; r < rows; r++, p += stride) f[p] = f[p]! * k;
}
