// ReLU, forward and backward side by side. x, y, dx, dy are (n), any shape flattened.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/** y[i] = x[i] > 0 ? x[i] : 0; NaN stays NaN (hence `<= 0`, false for NaN). y may alias x. */
export function reluForward(heap: HeapViews, y: Ptr, x: Ptr, n: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, xi = x >>> 2;
  for (let i = 0; i < n; i++) {
    const v = f[xi + i]!;
    f[yi + i] = v <= 0 ? 0 : v;
  }
}

/**
 * Backward of y = max(x, 0):  dx[i] += y[i] > 0 ? dy[i] : 0.
 * y may be the forward output or input: both are > 0 at the same i.
 */
export function reluBackward(heap: HeapViews, dx: Ptr, dy: Ptr, y: Ptr, n: number): void {
  const f = heap.sync().f32;
  const di = dx >>> 2, gi = dy >>> 2, yi = y >>> 2;
  for (let i = 0; i < n; i++) {
    if (f[yi + i]! > 0) f[di + i] = f[di + i]! + f[gi + i]!;
  }
}
