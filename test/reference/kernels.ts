// THE REFERENCE: an independent f64 implementation of every numeric kernel in
// packages/core-wasm/src/abi.ts, written as plain loops straight from the formulas in
// that file. No tiling, no SIMD, no f32: every intermediate is an f64 `number`.
// Conformance tests compare each backend against these functions (and the gradients
// also against central finite differences of the forward functions here).
// Shapes follow abi.ts: x is (rows, cols) row-major; A is (M,K) or, with transA, (K,M).

type Vec = ArrayLike<number>;

// ---- GEMM ------------------------------------------------------------------------------

export interface GemmArgs {
  transA: boolean; transB: boolean; M: number; N: number; K: number; alpha: number;
  A: Vec; lda: number; B: Vec; ldb: number; beta: number; C: Vec; ldc: number;
}

/** Returns a copy of C (with its full strided extent) after C = alpha op(A) op(B) + beta C. */
export function refSgemm(g: GemmArgs): Float64Array {
  const out = Float64Array.from(g.C);
  for (let i = 0; i < g.M; i++) {
    for (let j = 0; j < g.N; j++) {
      let acc = 0;
      for (let k = 0; k < g.K; k++) {
        const a = g.transA ? g.A[k * g.lda + i]! : g.A[i * g.lda + k]!;
        const b = g.transB ? g.B[j * g.ldb + k]! : g.B[k * g.ldb + j]!;
        acc += a * b;
      }
      const old = g.beta === 0 ? 0 : g.beta * out[i * g.ldc + j]!; // beta 0 ignores C, even NaN
      out[i * g.ldc + j] = g.alpha * acc + old;
    }
  }
  return out;
}

/** Per element of C: |alpha| sum_k |a||b| + |beta c|, the natural scale of f32 GEMM rounding error. */
export function refSgemmAbsScale(g: GemmArgs): Float64Array {
  const abs = (v: Vec): number[] => Array.from(v, (x) => Math.abs(x));
  return refSgemm({ ...g, alpha: Math.abs(g.alpha), beta: Math.abs(g.beta), A: abs(g.A), B: abs(g.B), C: abs(g.C) });
}

// ---- softmax family ------------------------------------------------------------------------

/** softmax(x / T) per row. A NaN anywhere in a row makes the whole row NaN. */
export function refSoftmax(x: Vec, rows: number, cols: number, T: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    let nan = false;
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]! / T;
      if (Number.isNaN(v)) nan = true;
      else if (v > m) m = v;
    }
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! / T - m);
    for (let c = 0; c < cols; c++) y[r * cols + c] = nan ? NaN : Math.exp(x[r * cols + c]! / T - m) / s;
  }
  return y;
}

/** log_softmax(x / T) per row, by log-sum-exp. */
export function refLogSoftmax(x: Vec, rows: number, cols: number, T: number): Float64Array {
  const y = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]! / T);
    let s = 0;
    for (let c = 0; c < cols; c++) s += Math.exp(x[r * cols + c]! / T - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < cols; c++) y[r * cols + c] = x[r * cols + c]! / T - lse;
  }
  return y;
}

/** dx = y (dy - <dy, y>) / T with y = softmax(x / T): the gradient of <dy, softmax(x/T)>. */
export function refSoftmaxBackward(y: Vec, dy: Vec, rows: number, cols: number, T: number): Float64Array {
  const dx = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let d = 0;
    for (let c = 0; c < cols; c++) d += dy[r * cols + c]! * y[r * cols + c]!;
    for (let c = 0; c < cols; c++) dx[r * cols + c] = y[r * cols + c]! * (dy[r * cols + c]! - d) / T;
  }
  return dx;
}

// ---- losses (batch means) --------------------------------------------------------------------

/** mean_r [ logsumexp(z_r) - z_r[y_r] ] */
export function refCrossEntropy(z: Vec, labels: Vec, rows: number, cols: number): number {
  const lp = refLogSoftmax(z, rows, cols, 1);
  let L = 0;
  for (let r = 0; r < rows; r++) L -= lp[r * cols + labels[r]!]!;
  return L / rows;
}

/** (softmax(z) - onehot(y)) / rows */
export function refCrossEntropyGrad(z: Vec, labels: Vec, rows: number, cols: number): Float64Array {
  const g = refSoftmax(z, rows, cols, 1);
  for (let r = 0; r < rows; r++) g[r * cols + labels[r]!]! -= 1;
  for (let i = 0; i < g.length; i++) g[i]! /= rows;
  return g;
}

/** mean_r KL(softmax(v_r/T) || softmax(z_r/T)) from log-probabilities; v teacher, z student. */
export function refKl(z: Vec, v: Vec, rows: number, cols: number, T: number): number {
  const lz = refLogSoftmax(z, rows, cols, T);
  const lv = refLogSoftmax(v, rows, cols, T);
  let L = 0;
  for (let i = 0; i < rows * cols; i++) {
    const p = Math.exp(lv[i]!);
    if (p > 0) L += p * (lv[i]! - lz[i]!);
  }
  return L / rows;
}

/** (softmax(z/T) - softmax(v/T)) / (T rows) */
export function refKlGrad(z: Vec, v: Vec, rows: number, cols: number, T: number): Float64Array {
  const pz = refSoftmax(z, rows, cols, T);
  const pv = refSoftmax(v, rows, cols, T);
  const g = new Float64Array(rows * cols);
  for (let i = 0; i < g.length; i++) g[i] = (pz[i]! - pv[i]!) / (T * rows);
  return g;
}

export interface KdArgs { T: number; alpha: number; scaleT2: boolean }

/** (1 - alpha) CE(y, softmax(z)) + alpha w KL(softmax(v/T) || softmax(z/T)), w = T^2 or 1. */
export function refKd(z: Vec, v: Vec, labels: Vec | null, rows: number, cols: number, o: KdArgs): number {
  const w = o.scaleT2 ? o.T * o.T : 1;
  const hard = o.alpha < 1 ? (1 - o.alpha) * refCrossEntropy(z, labels!, rows, cols) : 0;
  return hard + o.alpha * w * refKl(z, v, rows, cols, o.T);
}

export function refKdGrad(z: Vec, v: Vec, labels: Vec | null, rows: number, cols: number, o: KdArgs): Float64Array {
  const w = o.scaleT2 ? o.T * o.T : 1;
  const g = new Float64Array(rows * cols);
  if (o.alpha < 1) {
    const ce = refCrossEntropyGrad(z, labels!, rows, cols);
    for (let i = 0; i < g.length; i++) g[i]! += (1 - o.alpha) * ce[i]!;
  }
  const kl = refKlGrad(z, v, rows, cols, o.T);
  for (let i = 0; i < g.length; i++) g[i]! += o.alpha * w * kl[i]!;
  return g;
}

export function refMse(p: Vec, t: Vec, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += (p[i]! - t[i]!) ** 2;
  return s / n;
}

export function refMseGrad(p: Vec, t: Vec, n: number): Float64Array {
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) g[i] = (2 * (p[i]! - t[i]!)) / n;
  return g;
}

export function refSmoothL1(p: Vec, t: Vec, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = p[i]! - t[i]!;
    s += Math.abs(d) < 1 ? 0.5 * d * d : Math.abs(d) - 0.5;
  }
  return s / n;
}

export function refSmoothL1Grad(p: Vec, t: Vec, n: number): Float64Array {
  const g = new Float64Array(n);
  for (let i = 0; i < n; i++) g[i] = Math.min(1, Math.max(-1, p[i]! - t[i]!)) / n;
  return g;
}

// ---- layers and elementwise ----------------------------------------------------------------------

export function refBiasAdd(y: Vec, b: Vec, rows: number, cols: number): Float64Array {
  const out = Float64Array.from(y);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c]! += b[c]!;
  return out;
}

/** column sums of dy */
export function refBiasBackward(dy: Vec, rows: number, cols: number): Float64Array {
  const db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) db[c]! += dy[r * cols + c]!;
  return db;
}

export function refRelu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => (Number.isNaN(v) ? NaN : v > 0 ? v : 0));
}

export function refReluBackward(dy: Vec, y: Vec): Float64Array {
  return Float64Array.from(dy, (d, i) => (y[i]! > 0 ? d : 0));
}

export function refArgmaxRows(x: Vec, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c]!;
      if (Number.isNaN(v)) { best = c; break; }
      if (v > x[r * cols + best]!) best = c;
    }
    out[r] = best;
  }
  return out;
}

/** f32((f32(x)/255 - mean) / std), each operation rounded to f32 as abi.ts specifies. */
export function refNormalizeU8(x: ArrayLike<number>, mean: number, std: number): Float32Array {
  const f = Math.fround;
  return Float32Array.from(x, (v) => f(f(f(v / 255) - f(mean)) / f(std)));
}

// ---- optimizers (f64 state) ------------------------------------------------------------------

export interface SgdRef { lr: number; momentum: number; weightDecay: number; nesterov: boolean }

/** One PyTorch-semantics SGD step in place on f64 params/velocity. */
export function refSgdStep(p: Float64Array, vel: Float64Array, grad: Vec, o: SgdRef): void {
  for (let i = 0; i < p.length; i++) {
    const g = grad[i]! + o.weightDecay * p[i]!;
    let step = g;
    if (o.momentum !== 0) {
      vel[i] = o.momentum * vel[i]! + g;
      step = o.nesterov ? g + o.momentum * vel[i]! : vel[i]!;
    }
    p[i]! -= o.lr * step;
  }
}

export interface AdamWRef { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }

/** One AdamW step (decoupled weight decay, bias-corrected) in place on f64 state. */
export function refAdamWStep(p: Float64Array, m: Float64Array, v: Float64Array, grad: Vec, o: AdamWRef): void {
  const c1 = 1 - o.beta1 ** o.step;
  const c2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < p.length; i++) {
    const g = grad[i]!;
    p[i]! -= o.lr * o.weightDecay * p[i]!;
    m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g;
    v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
    p[i]! -= (o.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + o.eps);
  }
}

// ---- max-norm constraint ---------------------------------------------------------------------

/** w is (rows, cols) = (IN, OUT); each column whose L2 norm exceeds maxNorm is scaled to norm maxNorm. */
export function refMaxNormColumns(w: Vec, rows: number, cols: number, maxNorm: number): Float64Array {
  const out = Float64Array.from(w);
  for (let c = 0; c < cols; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += out[r * cols + c]! ** 2;
    const norm = Math.sqrt(s);
    if (norm > maxNorm) for (let r = 0; r < rows; r++) out[r * cols + c]! *= maxNorm / norm;
  }
  return out;
}
