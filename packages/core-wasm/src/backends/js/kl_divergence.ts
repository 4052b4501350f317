// Tempered KL divergence between teacher and student softmax: loss and gradient.
// z, dz, v are (rows,cols) = (B,C): z the student logits, v the teacher logits; T > 0.
//   p = softmax(v / T) (teacher), q = softmax(z / T) (student)
//   L  = mean_r sum_j p_j (log p_j - log q_j)                    (no T^2 factor here)
//   dz += gradScale * (q - p) / (T * rows)                       (not touched if gradScale == 0)
//
// KL is summed from log-probabilities, both computed by the same expression, so it is
// exactly 0 when z == v. A term with p_j == 0 contributes 0 (the limit of p log p)
// instead of 0 * -Infinity; the test is `!== 0` so that a NaN p still propagates.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

export function klDivergence(heap: HeapViews, dz: Ptr, z: Ptr, v: Ptr, rows: number, cols: number,
                             T: number, gradScale: number): number {
  if (rows <= 0) return 0;
  const f = heap.sync().f32;
  const g = gradScale / (T * rows);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const zr = (z >>> 2) + r * cols, vr = (v >>> 2) + r * cols, dzr = (dz >>> 2) + r * cols;
    let mz = -Infinity, mv = -Infinity;
    for (let j = 0; j < cols; j++) {
      const zj = f[zr + j]!, vj = f[vr + j]!;
      if (zj > mz) mz = zj;
      if (vj > mv) mv = vj;
    }
    const shiftZ = mz / T, shiftV = mv / T;
    let sz = 0, sv = 0;
    for (let j = 0; j < cols; j++) {
      sz += Math.exp(f[zr + j]! / T - shiftZ);
      sv += Math.exp(f[vr + j]! / T - shiftV);
    }
    const logSz = Math.log(sz), logSv = Math.log(sv);
    let kl = 0;
    for (let j = 0; j < cols; j++) {
      const logQ = (f[zr + j]! / T - shiftZ) - logSz;
      const logP = (f[vr + j]! / T - shiftV) - logSv;
      const p = Math.exp(logP);
      if (p !== 0) kl += p * (logP - logQ);
      if (gradScale !== 0) f[dzr + j] = f[dzr + j]! + g * (Math.exp(logQ) - p);
    }
    total += kl;
  }
  return total / rows;
}
