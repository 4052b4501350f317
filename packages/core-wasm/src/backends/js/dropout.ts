// Inverted dropout, forward and backward side by side.
// x, y, dx, dy, mask are (n) f32; the mask holds 0 (dropped) or the keep-scale 1/(1-p),
// so forward and backward are one multiply each and evaluation simply skips the layer.

import type { Ptr } from '../../abi.js';
import type { HeapViews } from './memory.js';
import { xoshiro } from './rng.js';

const fround = Math.fround;

/**
 * mask[i] = u < p ? 0 : f32(1) / (f32(1) - f32(p)), u = uniform24 draw (see rngUniform).
 * p and the keep-scale are f32 exactly as in the wasm builds, so masks are bit-identical.
 */
export function dropoutMask(heap: HeapViews, mask: Ptr, rng: Ptr, n: number, p: number): void {
  const { f32: f, u32 } = heap.sync();
  const mi = mask >>> 2, si = rng >>> 2;
  const p32 = fround(p);
  const keepScale = fround(1 / fround(1 - p32));
  xoshiro.load(u32, si);
  for (let i = 0; i < n; i++) f[mi + i] = xoshiro.nextUniform24() < p32 ? 0 : keepScale;
  xoshiro.save(u32, si);
}

/** y[i] = x[i] * mask[i]; y may alias x. */
export function dropoutForward(heap: HeapViews, y: Ptr, x: Ptr, mask: Ptr, n: number): void {
  const f = heap.sync().f32;
  const yi = y >>> 2, xi = x >>> 2, mi = mask >>> 2;
  for (let i = 0; i < n; i++) f[yi + i] = f[xi + i]! * f[mi + i]!;
}

/** Backward of y = x * mask:  dx[i] += dy[i] * mask[i]. */
export function dropoutBackward(heap: HeapViews, dx: Ptr, dy: Ptr, mask: Ptr, n: number): void {
  const f = heap.sync().f32;
  const di = dx >>> 2, gi = dy >>> 2, mi = mask >>> 2;
  for (let i = 0; i < n; i++) f[di + i] = f[di + i]! + f[gi + i]! * f[mi + i]!;
}
