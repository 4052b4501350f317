// Softmax cross-entropy with integer labels (T = 1).
// z is (rows, cols) logits, labels is (rows) i32 in [0, cols), dz is (rows, cols).
//
// forward:  L  = mean_r [ logsumexp(z[r]) - z[r, y_r] ]
// backward: dz += gradScale * (softmax(z) - onehot(y)) / rows
//
// This is kdLoss's hard-label term on its own (alpha = 0): the same inlined row, so the two
// kernels agree bit for bit. v is never read.

import { distillRows } from './kd_loss';

export function crossEntropy(dz: usize, z: usize, labels: usize, rows: i32, cols: i32, gradScale: f32): f64 {
  if (rows <= 0) return 0;
  const g = <f64>gradScale / <f64>rows;
  const total = distillRows(dz, z, 0, labels, rows, cols, 1, 1.0, 1.0, 0.0, g, true, false, false);
  return total / <f64>rows;
}
