// Bias of a dense layer.
// y, dy are (rows, cols) row-major (rows = batch B, cols = features OUT); b, db are (cols).
//
// forward:  y[r, c] += b[c]
// backward: db[c]   += sum_r dy[r, c]       (sum first, then one add into db)

export function biasAdd(y: usize, b: usize, rows: i32, cols: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const yr = y + <usize>r * rowBytes;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= cols; c += 4) {
        const o = <usize>c << 2;
        v128.store(yr + o, f32x4.add(v128.load(yr + o), v128.load(b + o)));
      }
    }
    for (; c < cols; c++) {
      const o = <usize>c << 2;
      store<f32>(yr + o, load<f32>(yr + o) + load<f32>(b + o));
    }
  }
}

export function biasBackward(db: usize, dy: usize, rows: i32, cols: i32): void {
  // Column blocks held in registers while walking down the rows: each dy element is read
  // once, and db is touched once per column.
  const rowBytes = <usize>cols << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 16 <= cols; c += 16) {
      const o = <usize>c << 2;
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      let p = dy + o;
      for (let r = 0; r < rows; r++) {
        s0 = f32x4.add(s0, v128.load(p));
        s1 = f32x4.add(s1, v128.load(p, 16));
        s2 = f32x4.add(s2, v128.load(p, 32));
        s3 = f32x4.add(s3, v128.load(p, 48));
        p += rowBytes;
      }
      v128.store(db + o, f32x4.add(v128.load(db + o), s0));
      v128.store(db + o, f32x4.add(v128.load(db + o, 16), s1), 16);
      v128.store(db + o, f32x4.add(v128.load(db + o, 32), s2), 32);
      v128.store(db + o, f32x4.add(v128.load(db + o, 48), s3), 48);
    }
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      let s = f32x4.splat(0);
      let p = dy + o;
      for (let r = 0; r < rows; r++) {
        s = f32x4.add(s, v128.load(p));
        p += rowBytes;
      }
      v128.store(db + o, f32x4.add(v128.load(db + o), s));
    }
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    let s: f32 = 0;
    let p = dy + o;
    for (let r = 0; r < rows; r++) {
      s += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(db + o, load<f32>(db + o) + s);
  }
}
