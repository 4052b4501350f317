// Residual add. y, a, b are (n). The backward of an add is two axpy calls (elementwise.ts).

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

/** y[i] = a[i] + b[i]: the f64 sum of two f32 values rounds to their f32 sum, so every backend agrees bit for bit. y may alias a or b. */
export function addForward(heap: HeapViews, y: Ptr, a: Ptr, b: Ptr, n: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, ai = a >>> 2, bi = b >>> 2;
  for (let i = 0; i < n; i++) f[yi + i] = f[ai + i]! + f[bi + i]!;
}
