// Bias of a dense layer, forward and backward side by side.
// y, dy are (rows,cols) = (B,OUT); b, db are (cols) = (OUT).

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/** y[r, c] += b[c] */
export function biasAdd(heap: HeapViews, y: Ptr, b: Ptr, rows: number, cols: number): void {
  const f = heap.sync().f32;
  const bi = b >>> 2;
  for (let r = 0; r < rows; r++) {
    const yr = (y >>> 2) + r * cols;
    for (let c = 0; c < cols; c++) f[yr + c] = f[yr + c]! + f[bi + c]!;
  }
}

/**
 * Backward of y[r, c] += b[c]:  db[c] += sum_r dy[r, c].
 * Columns go in blocks of 4 summed down the rows in f64 locals, so each db element is
 * rounded to f32 once rather than once per row, and each row is read 16 bytes at a time.
 */
export function biasBackward(heap: HeapViews, db: Ptr, dy: Ptr, rows: number, cols: number): void {
  const f = heap.sync().f32;
  const di = db >>> 2, yi = dy >>> 2;
  const cols4 = cols - (cols & 3);
  for (let c = 0; c < cols4; c += 4) {
    let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (let p = yi + c, r = 0; r < rows; r++, p += cols) {
      s0 += f[p]!; s1 += f[p + 1]!; s2 += f[p + 2]!; s3 += f[p + 3]!;
    }
    f[di + c] = f[di + c]! + s0; f[di + c + 1] = f[di + c + 1]! + s1;
    f[di + c + 2] = f[di + c + 2]! + s2; f[di + c + 3] = f[di + c + 3]! + s3;
  }
  for (let c = cols4; c < cols; c++) {
    let s = 0;
    for (let p = yi + c, r = 0; r < rows; r++, p += cols) s += f[p]!;
    f[di + c] = f[di + c]! + s;
  }
}
