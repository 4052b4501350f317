// Token embedding (assembly/kernels/embedding.ts has the shapes). An id outside [0, V) or not an
// integer (padding: -1) is no token: a zero row forward, nothing backward.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

function rowOf(f: Float32Array, ids: number, r: number, V: number): number {
  const v = f[ids + r]!;
  return v >= 0 && v < V && Number.isInteger(v) ? v : -1;
}

/** y[r, :] = table[ids[r], :], zero for an id outside [0, V). */
export function embeddingForward(heap: HeapViews, y: Ptr, ids: Ptr, table: Ptr, rows: number, D: number, V: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, ii = ids >>> 2, ti = table >>> 2;
  for (let r = 0; r < rows; r++) {
    const t = rowOf(f, ii, r, V);
    if (t < 0) f.fill(0, yi + r * D, yi + (r + 1) * D);
    else f.copyWithin(yi + r * D, ti + t * D, ti + (t + 1) * D);
  }
}

/** dtable[ids[r], :] += dy[r, :] in row order (each add is one f32 add: the same bits as the wasm builds). */
export function embeddingBackward(heap: HeapViews, dtable: Ptr, dy: Ptr, ids: Ptr, rows: number, D: number, V: number): void {
  const f = heap.sync().f32;
  const gi = dtable >>> 2, di = dy >>> 2, ii = ids >>> 2;
  for (let r = 0; r < rows; r++) {
    const t = rowOf(f, ii, r, V);
    if (t < 0) continue;
    const g = gi + t * D, d = di + r * D;
    for (let c = 0; c < D; c++) f[g + c] = f[g + c]! + f[d + c]!;
  }
}
