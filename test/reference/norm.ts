// THE REFERENCE for batch norm, layer norm, GELU and the residual add: f64 loops written
// straight from the formulas in packages/core-wasm/src/kernels/list.ts, nothing shared with the
// kernels. Batch norm's x is (rows, C) channels-last; layer norm's x is (rows, D).
// Sums run in row (or column) order in f64; the gradients are the textbook closed forms,
// checked against central finite differences of the forward functions in the tests.

type Vec = ArrayLike<number>;

// ---- batch norm ------------------------------------------------------------------------------

export interface BatchNormStats {
  mean: Float64Array;
  /** biased variance */
  variance: Float64Array;
  invstd: Float64Array;
}

/** Per-channel mean and biased variance of x (rows, C), two passes, rows in order. */
export function refBatchNormStats(x: Vec, rows: number, C: number, eps: number): BatchNormStats {
  const mean = new Float64Array(C), variance = new Float64Array(C), invstd = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let r = 0; r < rows; r++) s += x[r * C + c]!;
    const m = s / rows;
    let q = 0;
    for (let r = 0; r < rows; r++) q += (x[r * C + c]! - m) ** 2;
    mean[c] = m;
    variance[c] = q / rows;
    invstd[c] = 1 / Math.sqrt(variance[c]! + eps);
  }
  return { mean, variance, invstd };
}

/** Training-mode y = gamma (x - mean) invstd + beta with the batch statistics. */
export function refBatchNormTrain(x: Vec, gamma: Vec, beta: Vec, rows: number, C: number, eps: number): Float64Array {
  const { mean, invstd } = refBatchNormStats(x, rows, C, eps);
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) y[r * C + c] = gamma[c]! * (x[r * C + c]! - mean[c]!) * invstd[c]! + beta[c]!;
  }
  return y;
}

/** PyTorch's running-statistics update: returns [runMean, runVar] after one training step. */
export function refRunningStats(runMean: Vec, runVar: Vec, stats: BatchNormStats, rows: number, momentum: number): [Float64Array, Float64Array] {
  const C = stats.mean.length;
  const rm = new Float64Array(C), rv = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    const unbiased = rows > 1 ? stats.variance[c]! * rows / (rows - 1) : stats.variance[c]!;
    rm[c] = (1 - momentum) * runMean[c]! + momentum * stats.mean[c]!;
    rv[c] = (1 - momentum) * runVar[c]! + momentum * unbiased;
  }
  return [rm, rv];
}

/** Evaluation-mode y = gamma (x - runMean) / sqrt(runVar + eps) + beta. */
export function refBatchNormInfer(x: Vec, runMean: Vec, runVar: Vec, gamma: Vec, beta: Vec, rows: number, C: number, eps: number): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < C; c++) {
      y[r * C + c] = gamma[c]! * (x[r * C + c]! - runMean[c]!) / Math.sqrt(runVar[c]! + eps) + beta[c]!;
    }
  }
  return y;
}

export interface NormGrads { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array }

/**
 * Gradients of <dy, batchNormTrain(x, gamma, beta)>:
 *   dbeta = sum_r dy,  dgamma = sum_r dy xhat,
 *   dx = gamma invstd / rows (rows dy - sum_r dy - xhat sum_r dy xhat).
 */
export function refBatchNormBackward(dy: Vec, x: Vec, gamma: Vec, rows: number, C: number, eps: number): NormGrads {
  const { mean, invstd } = refBatchNormStats(x, rows, C, eps);
  const dx = new Float64Array(rows * C), dgamma = new Float64Array(C), dbeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sdy = 0, sdyx = 0;
    for (let r = 0; r < rows; r++) {
      const g = dy[r * C + c]!;
      sdy += g;
      sdyx += g * (x[r * C + c]! - mean[c]!) * invstd[c]!;
    }
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
    for (let r = 0; r < rows; r++) {
      const xhat = (x[r * C + c]! - mean[c]!) * invstd[c]!;
      dx[r * C + c] = gamma[c]! * invstd[c]! / rows * (rows * dy[r * C + c]! - sdy - xhat * sdyx);
    }
  }
  return { dx, dgamma, dbeta };
}

// ---- layer norm ------------------------------------------------------------------------------

export interface LayerNormStats { mean: Float64Array; rstd: Float64Array }

export function refLayerNormStats(x: Vec, rows: number, D: number, eps: number): LayerNormStats {
  const mean = new Float64Array(rows), rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += x[r * D + j]!;
    const m = s / D;
    let q = 0;
    for (let j = 0; j < D; j++) q += (x[r * D + j]! - m) ** 2;
    mean[r] = m;
    rstd[r] = 1 / Math.sqrt(q / D + eps);
  }
  return { mean, rstd };
}

/** y = gamma (x - mean_r) rstd_r + beta over the last dimension. */
export function refLayerNorm(x: Vec, gamma: Vec, beta: Vec, rows: number, D: number, eps: number): Float64Array {
  const { mean, rstd } = refLayerNormStats(x, rows, D, eps);
  const y = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < D; j++) y[r * D + j] = gamma[j]! * (x[r * D + j]! - mean[r]!) * rstd[r]! + beta[j]!;
  }
  return y;
}

/**
 * Gradients of <dy, layerNorm(x, gamma, beta)>, with g = dy gamma:
 *   dbeta = sum_r dy,  dgamma = sum_r dy xhat,  dx = rstd (g - mean_j g - xhat mean_j (g xhat)).
 */
export function refLayerNormBackward(dy: Vec, x: Vec, gamma: Vec, rows: number, D: number, eps: number): NormGrads {
  const { mean, rstd } = refLayerNormStats(x, rows, D, eps);
  const dx = new Float64Array(rows * D), dgamma = new Float64Array(D), dbeta = new Float64Array(D);
  for (let r = 0; r < rows; r++) {
    let sg = 0, sgx = 0;
    for (let j = 0; j < D; j++) {
      const g = dy[r * D + j]! * gamma[j]!;
      sg += g;
      sgx += g * (x[r * D + j]! - mean[r]!) * rstd[r]!;
    }
    for (let j = 0; j < D; j++) {
      const xhat = (x[r * D + j]! - mean[r]!) * rstd[r]!;
      dx[r * D + j] = rstd[r]! * (dy[r * D + j]! * gamma[j]! - sg / D - xhat * sgx / D);
      dgamma[j]! += dy[r * D + j]! * xhat;
      dbeta[j]! += dy[r * D + j]!;
    }
  }
  return { dx, dgamma, dbeta };
}

// ---- erf, GELU ---------------------------------------------------------------------------------

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * erfc(z) in f64 for z >= 0, to ~1e-15 relative:
 * - z < 2.5: erf by the series erf(z) = 2/sqrt(pi) e^(-z^2) sum_n 2^n z^(2n+1) / (1*3*...*(2n+1)),
 *   whose terms are all positive (no cancellation), then erfc = 1 - erf (erfc(2.5) = 4e-4:
 *   at most 4 digits lost, 1e-12 relative).
 * - z >= 2.5: the continued fraction erfc(z) = e^(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z +
 *   (3/2) / (z + 2 / (z + ...))))), evaluated bottom-up from 200 levels.
 */
export function refErfc(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (z < 0) return 2 - refErfc(-z);
  if (z < 2.5) return 1 - refErfPositiveSeries(z);
  if (z === Infinity) return 0;
  let k = z;
  for (let n = 200; n >= 1; n--) k = z + (n / 2) / k;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / k;
}

function refErfPositiveSeries(z: number): number {
  let term = z, sum = z;
  for (let n = 0; n < 200 && term > 1e-17 * sum; n++) {
    term *= (2 * z * z) / (2 * n + 3);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z * z) * sum;
}

export function refErf(z: number): number {
  if (Number.isNaN(z)) return NaN;
  if (Math.abs(z) < 2.5) return z < 0 ? -refErfPositiveSeries(-z) : refErfPositiveSeries(z);
  return z < 0 ? refErfc(-z) - 1 : 1 - refErfc(z);
}

/** Phi(x) = P(Z <= x) from erfc, accurate in both tails. */
export function refPhi(x: number): number {
  return x < 0 ? 0.5 * refErfc(-x / Math.SQRT2) : 1 - 0.5 * refErfc(x / Math.SQRT2);
}

export function refPhiDensity(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** GELU(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); the limits at +-Infinity. */
export function refGelu(x: Vec): Float64Array {
  return Float64Array.from(x, (v) => (v === -Infinity ? -0 : v === Infinity ? Infinity : v * refPhi(v)));
}

/** dGELU/dx = Phi(x) + x phi(x): the gradient of <dy, gelu(x)> is dy times it. */
export function refGeluBackward(dy: Vec, x: Vec): Float64Array {
  return Float64Array.from(x, (v, i) => dy[i]! * (Math.abs(v) === Infinity ? (v > 0 ? 1 : 0) : refPhi(v) + v * refPhiDensity(v)));
}
