// Regression losses (FitNets hints, feature matching), over flat buffers.
// p is (n) predictions, t is (n) targets, dp is (n) accumulated gradient w.r.t. p.
//
// mse:      d = p - t;  L = mean d^2;                                  dp += gradScale * 2 d / n
// smoothL1: d = p - t;  l = |d| < 1 ? 0.5 d^2 : |d| - 0.5;  L = mean l;  dp += gradScale * clamp(d, -1, 1) / n
//
// Per-element terms are f32; the loss sum is f64 (n can be a whole feature map, 1e5+ terms).
// One pass computes the loss and, unless gradScale == 0, the gradient.

export function mseLoss(dp: usize, p: usize, t: usize, n: i32, gradScale: f32): f64 {
  if (n <= 0) return 0;
  const k = <f32>(2.0 * <f64>gradScale / <f64>n);
  const sum = gradScale != 0 ? regressionPass(dp, p, t, n, k, false, true) : regressionPass(dp, p, t, n, 0, false, false);
  return sum / <f64>n;
}

export function smoothL1Loss(dp: usize, p: usize, t: usize, n: i32, gradScale: f32): f64 {
  if (n <= 0) return 0;
  const k = <f32>(<f64>gradScale / <f64>n);
  const sum = gradScale != 0 ? regressionPass(dp, p, t, n, k, true, true) : regressionPass(dp, p, t, n, 0, true, false);
  return sum / <f64>n;
}

/** Sum of per-element losses; with grad, dp += k * (huber ? clamp(d, -1, 1) : d). Flags are constants. */
// @ts-ignore: decorator
@inline function regressionPass(dp: usize, p: usize, t: usize, n: i32, k: f32, huber: bool, grad: bool): f64 {
  let sum: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const k4 = f32x4.splat(k);
    const one = f32x4.splat(1), half = f32x4.splat(0.5), mone = f32x4.splat(-1);
    let s0 = f64x2.splat(0), s1 = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const d = f32x4.sub(v128.load(p + o), v128.load(t + o));
      let l: v128;
      if (huber) {
        const ad = f32x4.abs(d);
        l = v128.bitselect(f32x4.mul(f32x4.mul(half, d), d), f32x4.sub(ad, half), f32x4.lt(ad, one));
      } else {
        l = f32x4.mul(d, d);
      }
      s0 = f64x2.add(s0, f64x2.promote_low_f32x4(l));
      s1 = f64x2.add(s1, f64x2.promote_low_f32x4(f32x4.shuffle(l, l, 2, 3, 0, 1)));
      if (grad) {
        // pmax/pmin clamp: NaN passes through to the gradient
        const gd = huber ? f32x4.pmin(f32x4.pmax(d, mone), one) : d;
        v128.store(dp + o, f32x4.add(v128.load(dp + o), f32x4.mul(k4, gd)));
      }
    }
    const s = f64x2.add(s0, s1);
    sum = f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const d = load<f32>(p + o) - load<f32>(t + o);
    let l: f32;
    if (huber) {
      const ad = Mathf.abs(d);
      l = ad < 1 ? <f32>0.5 * d * d : ad - <f32>0.5;
    } else {
      l = d * d;
    }
    sum += <f64>l;
    if (grad) {
      let gd = d;
      if (huber) {
        gd = gd < -1 ? <f32>-1 : gd;
        gd = 1 < gd ? <f32>1 : gd;
      }
      store<f32>(dp + o, load<f32>(dp + o) + k * gd);
    }
  }
  return sum;
}
