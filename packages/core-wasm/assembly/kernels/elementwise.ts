// Elementwise f32 helpers over flat buffers.
// x, y are (n) f32; for normalizeU8 x is (n) u8; for argmaxRows x is (rows, cols) f32, out is (rows) i32.
//
// fill:        x[i] = value
// scale:       x[i] *= alpha
// axpy:        y[i] += alpha * x[i]               (multiply then add: wasm never fuses)
// normalizeU8: y[i] = (f32(x[i]) / 255 - mean) / std, in f32 and in exactly that order, so the
//              input pipeline gives the same bits as the reference
// argmaxRows:  out[r] = first index of the row's largest value; a NaN wins at its first position

export function fill(x: usize, n: i32, value: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v4 = f32x4.splat(value);
    for (; i + 4 <= n; i += 4) v128.store(x + (<usize>i << 2), v4);
  }
  for (; i < n; i++) store<f32>(x + (<usize>i << 2), value);
}

export function scale(x: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const a4 = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), a4));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * alpha);
  }
}

export function axpy(y: usize, x: usize, n: i32, alpha: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const a4 = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), f32x4.mul(a4, v128.load(x + o))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + alpha * load<f32>(x + o));
  }
}

export function normalizeU8(y: usize, x: usize, n: i32, mean: f32, std: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const c255 = f32x4.splat(255);
    const m4 = f32x4.splat(mean);
    const s4 = f32x4.splat(std);
    // 4 bytes -> 4 u32 lanes -> f32 (exact: 0..255)
    for (; i + 4 <= n; i += 4) {
      const b = v128.load32_zero(x + <usize>i);
      const u = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(b));
      const f = f32x4.convert_i32x4_u(u);
      v128.store(y + (<usize>i << 2), f32x4.div(f32x4.sub(f32x4.div(f, c255), m4), s4));
    }
  }
  for (; i < n; i++) {
    const f = <f32>load<u8>(x + <usize>i);
    store<f32>(y + (<usize>i << 2), (f / 255 - mean) / std);
  }
}

export function argmaxRows(out: usize, x: usize, rows: i32, cols: i32): void {
  // Scalar on purpose: rows x classes is small, and the tie / NaN rules are positional.
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes;
    let best: i32 = cols > 0 ? 0 : -1;
    if (cols > 0) {
      let bv = load<f32>(xr);
      if (bv == bv) {
        for (let j = 1; j < cols; j++) {
          const xj = load<f32>(xr + (<usize>j << 2));
          if (xj != xj) { best = j; break; }
          if (xj > bv) { bv = xj; best = j; }
        }
      }
    }
    store<i32>(out + (<usize>r << 2), best);
  }
}
