// Per-channel affine map, channels-last: y[r, c] = x[r, c] * scale[c] + shift[c].
// x, y are (rows, C) (rows = B*H*W for an image, B for flat features); scale, shift are (C).
// y may alias x. Inference only: the int8 path's form of a batch norm that could not be folded
// into the layer before it (scale = gamma / sqrt(var + eps), shift = beta - mean * scale, both
// computed once when the model is quantized).
// Two f32 operations in that order, a multiply then an add, never fused: the same bits on every
// backend (../../src/backends/js/channel_affine.ts).

export function channelAffine(y: usize, x: usize, scale: usize, shift: usize, rows: i32, C: i32): void {
  const rowBytes = <usize>C << 2;
  for (let r = 0; r < rows; r++) {
    const xr = x + <usize>r * rowBytes, yr = y + <usize>r * rowBytes;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        v128.store(yr + o, f32x4.add(f32x4.mul(v128.load(xr + o), v128.load(scale + o)), v128.load(shift + o)));
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      store<f32>(yr + o, load<f32>(xr + o) * load<f32>(scale + o) + load<f32>(shift + o));
    }
  }
}
