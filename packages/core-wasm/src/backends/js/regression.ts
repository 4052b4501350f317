// Regression losses (FitNets hints, logit matching): loss and gradient in one kernel.
// p, dp, t are (n), any shape flattened: p the prediction, t the target.
// Each returns the mean over n elements and accumulates gradScale * dL/dp into dp
// (dp not touched when gradScale == 0). n == 0 returns 0.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/** L = mean_i (p[i] - t[i])^2;  dp += gradScale * 2 (p - t) / n */
export function mseLoss(heap: HeapViews, dp: Ptr, p: Ptr, t: Ptr, n: number, gradScale: number): number {
  if (n <= 0) return 0;
  const f = heap.sync().f32;
  const di = dp >>> 2, pi = p >>> 2, ti = t >>> 2;
  const g = 2 * gradScale / n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = f[pi + i]! - f[ti + i]!;
    total += d * d;
    if (gradScale !== 0) f[di + i] = f[di + i]! + g * d;
  }
  return total / n;
}

/**
 * Smooth-L1 (Huber, delta 1): d = p - t, l = |d| < 1 ? 0.5 d^2 : |d| - 0.5;
 * L = mean_i l;  dp += gradScale * clamp(d, -1, 1) / n.  NaN d gives NaN loss and gradient.
 */
export function smoothL1Loss(heap: HeapViews, dp: Ptr, p: Ptr, t: Ptr, n: number, gradScale: number): number {
  if (n <= 0) return 0;
  const f = heap.sync().f32;
  const di = dp >>> 2, pi = p >>> 2, ti = t >>> 2;
  const g = gradScale / n;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = f[pi + i]! - f[ti + i]!;
    const a = Math.abs(d);
    total += a < 1 ? 0.5 * d * d : a - 0.5;
    if (gradScale !== 0) f[di + i] = f[di + i]! + g * Math.min(1, Math.max(-1, d));
  }
  return total / n;
}
