// Central finite differences of scalar functions of the f64 reference. The error is
// truncation O(h^2 f''' / 6) plus round-off O(eps |f| / h). For a function of x / T the
// derivatives scale like T^-k, so callers pass h proportional to T (default 1e-4 for
// T = 1): both errors then stay ~1e-10 relative to the gradient, far tighter than any
// f32 kernel tolerance.

/**
 * d f / d x_i by (f(x + h e_i) - f(x - h e_i)) / 2h, for every i or only for `indices`
 * (the others are NaN). `x` is copied, never modified.
 */
export function finiteDifference(f: (x: Float64Array) => number, x: ArrayLike<number>, h = 1e-4,
                                 indices?: readonly number[]): Float64Array {
  const xs = Float64Array.from(x);
  const g = new Float64Array(xs.length).fill(indices ? NaN : 0);
  for (const i of indices ?? xs.keys()) {
    const x0 = xs[i]!;
    const step = h;
    xs[i] = x0 + step;
    const fp = f(xs);
    xs[i] = x0 - step;
    const fm = f(xs);
    xs[i] = x0;
    g[i] = (fp - fm) / (2 * step);
  }
  return g;
}

/** <w, y> for a fixed random projection w: turns a vector-valued op into a scalar one to differentiate. */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < w.length; i++) s += w[i]! * y[i]!;
  return s;
}
