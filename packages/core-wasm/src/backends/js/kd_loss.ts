// The fused distillation loss of Hinton et al. (2015): loss and gradient, one kernel
// call, three sweeps per row (maxima, sums of exponentials, terms and gradient).
// z, dz, v are (rows,cols) = (B,C): z student logits, v teacher logits;
// labels is (rows) i32 in [0, cols); T > 0; alpha in [0, 1].
//
//   L = mean_r [ (1 - alpha) * CE(y, softmax(z))  +  alpha * w * KL(softmax(v/T) || softmax(z/T)) ]
//       w = T^2 when scaleT2 != 0, else 1
//   dz += gradScale / rows * [ (1 - alpha) * (softmax(z) - onehot(y))
//                              + alpha * w / T * (softmax(z/T) - softmax(v/T)) ]
//
// Which weight is which: alpha weights the soft (teacher) term, 1 - alpha the hard
// (label) term. The CE term is at temperature 1; only the KL term is tempered. The
// T^2 factor keeps the soft gradient's scale independent of T (the KL gradient alone
// scales as 1/T^2 for large T).
// A term whose weight is 0 is skipped entirely: with alpha == 1 the labels are not read
// (they may be a null pointer), with alpha == 0 the teacher logits are not read.
// KL follows kl_divergence.ts: from log-probabilities, p == 0 terms contribute 0.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

export function kdLoss(heap: HeapViews, dz: Ptr, z: Ptr, v: Ptr, labels: Ptr, rows: number, cols: number,
                       T: number, alpha: number, scaleT2: number, gradScale: number): number {
  if (rows <= 0) return 0;
  const { f32: f, i32 } = heap.sync();
  const w = scaleT2 !== 0 ? T * T : 1;
  const hardWeight = 1 - alpha, softWeight = alpha * w;
  const useHard = hardWeight !== 0, useSoft = softWeight !== 0, grad = gradScale !== 0;
  const gHard = gradScale * hardWeight / rows;
  const gSoft = gradScale * softWeight / (T * rows);
  let totalHard = 0, totalSoft = 0;

  for (let r = 0; r < rows; r++) {
    const zr = (z >>> 2) + r * cols, vr = (v >>> 2) + r * cols, dzr = (dz >>> 2) + r * cols;
    const y = useHard ? i32[(labels >>> 2) + r]! : -1;

    // Sweep 1: row maxima. max(z / T) == max(z) / T for T > 0, so z needs one max.
    let mz = -Infinity, mv = -Infinity;
    for (let j = 0; j < cols; j++) {
      const zj = f[zr + j]!;
      if (zj > mz) mz = zj;
      if (useSoft) {
        const vj = f[vr + j]!;
        if (vj > mv) mv = vj;
      }
    }
    const shiftZT = mz / T, shiftVT = mv / T;

    // Sweep 2: normalisers of softmax(z), softmax(z/T), softmax(v/T).
    let s1 = 0, szT = 0, svT = 0;
    for (let j = 0; j < cols; j++) {
      const zj = f[zr + j]!;
      if (useHard) s1 += Math.exp(zj - mz);
      if (useSoft) {
        szT += Math.exp(zj / T - shiftZT);
        svT += Math.exp(f[vr + j]! / T - shiftVT);
      }
    }
    const logS1 = Math.log(s1), logSzT = Math.log(szT), logSvT = Math.log(svT);

    // Sweep 3: the loss terms and the gradient.
    if (useHard) totalHard += logS1 - (f[zr + y]! - mz);
    let kl = 0;
    for (let j = 0; j < cols; j++) {
      const zj = f[zr + j]!;
      let dzj = 0;
      if (useHard && grad) {
        const prob = Math.exp(zj - mz - logS1);
        dzj += gHard * (j === y ? prob - 1 : prob);
      }
      if (useSoft) {
        const logQ = (zj / T - shiftZT) - logSzT;
        const logP = (f[vr + j]! / T - shiftVT) - logSvT;
        const p = Math.exp(logP);
        if (p !== 0) kl += p * (logP - logQ);
        if (grad) dzj += gSoft * (Math.exp(logQ) - p);
      }
      if (grad) f[dzr + j] = f[dzr + j]! + dzj;
    }
    totalSoft += kl;
  }
  return (hardWeight * totalHard + softWeight * totalSoft) / rows;
}
