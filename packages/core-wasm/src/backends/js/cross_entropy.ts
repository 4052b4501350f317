// Cross-entropy with integer labels, fused with softmax: forward loss and its gradient
// in one kernel.
// z, dz are (rows,cols) = (B,C) logits; labels is (rows) i32, each in [0, cols).
//   L  = mean_r [ logsumexp(z[r, :]) - z[r, y_r] ]
//   dz += gradScale * (softmax(z) - onehot(y)) / rows       (not touched if gradScale == 0)

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';
import { rowMax, sumExp } from './softmax.js';

export function crossEntropy(heap: HeapViews, dz: Ptr, z: Ptr, labels: Ptr, rows: number, cols: number,
                             gradScale: number): number {
  if (rows <= 0) return 0;
  const { f32: f, i32 } = heap.sync();
  const g = gradScale / rows;
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const zr = (z >>> 2) + r * cols, dzr = (dz >>> 2) + r * cols;
    const y = i32[(labels >>> 2) + r]!;
    const m = rowMax(f, zr, cols);
    const logS = Math.log(sumExp(f, zr, cols, 1, m));
    // -log softmax(z)[y] = log S - (z_y - m): both terms are shifted, so no overflow.
    total += logS - (f[zr + y]! - m);
    if (gradScale !== 0) {
      for (let j = 0; j < cols; j++) {
        const prob = Math.exp(f[zr + j]! - m - logS);
        f[dzr + j] = f[dzr + j]! + g * (j === y ? prob - 1 : prob);
      }
    }
  }
  return total / rows;
}
