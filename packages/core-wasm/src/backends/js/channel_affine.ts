// Per-channel affine map (assembly/kernels/channel_affine.ts): y[r, c] = f32(f32(x * scale[c]) + shift[c]).
// The f64 product of two f32 values is exact and the f64 sum of two f32 values rounds to their
// f32 sum, so each fround is the wasm builds' f32 operation: bit-identical. y may alias x.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';

const fround = Math.fround;

export function channelAffine(heap: HeapViews, y: Ptr, x: Ptr, scale: Ptr, shift: Ptr, rows: number, C: number): void {
  const f = heap.sync().f32;
  const si = scale >>> 2, hi = shift >>> 2;
  for (let r = 0; r < rows; r++) {
    const xr = (x >>> 2) + r * C, yr = (y >>> 2) + r * C;
    for (let c = 0; c < C; c++) f[yr + c] = fround(f[xr + c]! * f[si + c]!) + f[hi + c]!;
  }
}
