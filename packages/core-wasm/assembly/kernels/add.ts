// Residual add.
// y, a, b are (n) f32 (any shape, flattened). y may alias a or b.
//
// forward:  y = a + b                 one f32 add per element: the same bits on every backend
// backward: none here: dA += dY and dB += dY are two axpy calls (elementwise.ts) with alpha 1.

export function addForward(y: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(a + o) + load<f32>(b + o));
  }
}
