// Max-norm constraint on a dense layer's incoming weights (Srebro & Shraibman; the
// teacher of Hinton et al. 2015 used it with dropout).
// w is (rows, cols) = (IN, OUT) row-major: column j holds the weights INTO unit j.
//
// maxNormColumns: for each column j, norm = sqrt(sum_r w[r, j]^2);
//                 if norm > maxNorm: w[:, j] *= f32(maxNorm / norm)
//
// The squared norm is summed in f64 down the rows in row order (no overflow for any f32
// input, and the same bits in the SIMD build, the scalar build and the js backend, whose
// numbers are f64). The factor is rounded to f32 once and each weight is multiplied by it
// in f32. A NaN norm compares false, so a column holding NaN is left as it is.
// Column blocks sit in registers while walking down the rows, as in biasBackward.

export function maxNormColumns(w: usize, rows: i32, cols: i32, maxNorm: f32): void {
  const rowBytes = <usize>cols << 2;
  const limit = <f64>maxNorm;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= cols; c += 4) {
      const o = <usize>c << 2;
      // lanes (c, c+1) and (c+2, c+3)
      let s01 = f64x2.splat(0), s23 = f64x2.splat(0);
      let p = w + o;
      for (let r = 0; r < rows; r++) {
        const v = v128.load(p);
        const lo = f64x2.promote_low_f32x4(v);
        const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 0, 1));
        s01 = f64x2.add(s01, f64x2.mul(lo, lo));
        s23 = f64x2.add(s23, f64x2.mul(hi, hi));
        p += rowBytes;
      }
      const f0 = columnFactor(f64x2.extract_lane(s01, 0), limit);
      const f1 = columnFactor(f64x2.extract_lane(s01, 1), limit);
      const f2 = columnFactor(f64x2.extract_lane(s23, 0), limit);
      const f3 = columnFactor(f64x2.extract_lane(s23, 1), limit);
      if (f0 == 1 && f1 == 1 && f2 == 1 && f3 == 1) continue;
      let f4 = f32x4.splat(f0);
      f4 = f32x4.replace_lane(f4, 1, f1);
      f4 = f32x4.replace_lane(f4, 2, f2);
      f4 = f32x4.replace_lane(f4, 3, f3);
      p = w + o;
      for (let r = 0; r < rows; r++) {
        v128.store(p, f32x4.mul(v128.load(p), f4));
        p += rowBytes;
      }
    }
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    let s: f64 = 0;
    let p = w + o;
    for (let r = 0; r < rows; r++) {
      const v = <f64>load<f32>(p);
      s += v * v;
      p += rowBytes;
    }
    const f = columnFactor(s, limit);
    if (f == 1) continue;
    p = w + o;
    for (let r = 0; r < rows; r++) {
      store<f32>(p, load<f32>(p) * f);
      p += rowBytes;
    }
  }
}

/** f32(maxNorm / norm) when the column's norm exceeds maxNorm, else 1 (NaN norm: 1). */
// @ts-ignore: decorator
@inline function columnFactor(sumSq: f64, maxNorm: f64): f32 {
  const norm = Math.sqrt(sumSq);
  return norm > maxNorm ? <f32>(maxNorm / norm) : <f32>1;
}
