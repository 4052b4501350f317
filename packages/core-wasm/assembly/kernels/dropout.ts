// Inverted dropout with a mask drawn from the seeded PRNG (kernels/rng.ts).
// x, y, dx, dy, mask are (n) f32; rng is a 16-byte xoshiro128** state. 0 <= p < 1.
//
// mask:     mask[i] = uniform24(next()) < p ? 0 : keep,   keep = f32(1) / (f32(1) - f32(p))
// forward:  y   = x * mask          (y may alias x)
// backward: dx += dy * mask         (the mask is the local derivative; kept, not redrawn)
// Scaling at train time keeps the expected activation, so inference is the identity.

import { next, uniform24 } from './rng';

export function dropoutMask(mask: usize, rng: usize, n: i32, p: f32): void {
  const keep: f32 = <f32>1 / (<f32>1 - p);
  for (let i = 0; i < n; i++) {
    store<f32>(mask + (<usize>i << 2), uniform24(next(rng)) < p ? <f32>0 : keep);
  }
}

export function dropoutForward(y: usize, x: usize, mask: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.mul(v128.load(x + o), v128.load(mask + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(x + o) * load<f32>(mask + o));
  }
}

export function dropoutBackward(dx: usize, dy: usize, mask: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(dx + o, f32x4.add(v128.load(dx + o), f32x4.mul(v128.load(dy + o), v128.load(mask + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + load<f32>(dy + o) * load<f32>(mask + o));
  }
}
