// ReLU.
// x, y, dx, dy are (n) f32 (any shape, flattened). y may alias x.
//
// forward:  y  = x > 0 ? x : 0              NaN stays NaN (a silent 0 would hide a blow-up); -0 -> +0
// backward: dx += y > 0 ? dy : 0            y is the forward output (same sign as the input)

export function reluForward(y: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(x + o);
      const keep = v128.or(f32x4.gt(v, zero), f32x4.ne(v, v));
      v128.store(y + o, v128.and(v, keep));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o);
    store<f32>(y + o, v > 0 || v != v ? v : <f32>0);
  }
}

export function reluBackward(dx: usize, dy: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const pass = v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero));
      v128.store(dx + o, f32x4.add(v128.load(dx + o), pass));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dx + o, load<f32>(dx + o) + (load<f32>(y + o) > 0 ? load<f32>(dy + o) : <f32>0));
  }
}
