// Tempered KL divergence KL(teacher || student).
// z is (rows, cols) student logits, v is (rows, cols) teacher logits, dz is (rows, cols). T > 0.
//
// forward:  L  = mean_r sum_j p_j (log p_j - log q_j),  p = softmax(v/T), q = softmax(z/T)
// backward: dz += gradScale * (q - p) / (T * rows)       (no T^2 factor here; kdLoss has it)
//
// kdLoss's soft term on its own (alpha = 1, w = 1): the same inlined row, computed from
// log-probabilities of one code path, so L is exactly 0 when z == v. Labels do not exist here.

import { distillRows } from './kd_loss';

export function klDivergence(dz: usize, z: usize, v: usize, rows: i32, cols: i32, T: f32, gradScale: f32): f64 {
  if (rows <= 0) return 0;
  const T64 = <f64>T;
  const invT: f32 = <f32>1 / T;
  const g = <f64>gradScale / <f64>rows;
  const total = distillRows(dz, z, v, 0, rows, cols, invT, T64, 0.0, 1.0, g, false, true, false);
  return total / <f64>rows;
}
