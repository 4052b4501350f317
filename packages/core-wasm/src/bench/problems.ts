// Inputs of the benchmark cases and their f64 references. The references exist so
// that a figure is never reported for a contender that computed something else
// (a wrong transpose flag, a missing 1/T): every contender's output is compared once,
// outside the timed region, and the error goes into the result.

import type { GemmCase, GemmForm, LossCase, LossKernel, LossOutput } from './types.js';

/** What each loss contender computes; z student logits, v teacher logits, y labels, B = rows. */
export const FORMULAS: Record<LossKernel, string> = {
  softmax: 'y = softmax(x / T) row-wise (value only)',
  kl: 'L = (1/B) sum_r KL(softmax(v_r/T) || softmax(z_r/T)) from log-softmax; '
    + 'dL/dz = (softmax(z/T) - softmax(v/T)) / (T B) (closed form)',
  kdLoss: 'L = (1/B) sum_r [(1-a) CE(y_r, softmax(z_r)) + a T^2 KL(softmax(v_r/T) || softmax(z_r/T))]; '
    + 'dL/dz = [(1-a)(softmax(z) - onehot(y)) + a T (softmax(z/T) - softmax(v/T))] / B (closed form)',
};

/** mulberry32: tiny, seedable, platform-independent. Uniform in [0, 1). */
export function uniformSource(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fillUniform(n: number, next: () => number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * next();
  return out;
}

/** out (cols, rows) = x (rows, cols) transposed */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** The logical operands of one GEMM shape: opA (M,K), opB (K,N), and their product in f64. */
export interface GemmOperands { M: number; K: number; N: number; opA: Float32Array; opB: Float32Array; reference: Float64Array }

export function gemmOperands(M: number, K: number, N: number, seed: number): GemmOperands {
  const next = uniformSource(seed);
  const opA = fillUniform(M * K, next, -1, 1);
  const opB = fillUniform(K * N, next, -1, 1);
  // i-k-j in f64: row i of C accumulates row k of opB scaled by opA[i,k].
  const reference = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = opA[i * K + k]!;
      const cRow = i * N, bRow = k * N;
      for (let j = 0; j < N; j++) reference[cRow + j]! += aik * opB[bRow + j]!;
    }
  }
  return { M, K, N, opA, opB, reference };
}

/** The operands laid out as `form` stores them. */
export function gemmCase(ops: GemmOperands, form: GemmForm): GemmCase {
  const { M, K, N } = ops;
  const transA = form === 'TN', transB = form === 'NT';
  return {
    form, M, K, N, transA, transB,
    a: transA ? transpose(ops.opA, M, K) : ops.opA, aRows: transA ? K : M, aCols: transA ? M : K,
    b: transB ? transpose(ops.opB, K, N) : ops.opB, bRows: transB ? N : K, bCols: transB ? K : N,
  };
}

/** Logits spread like a trained classifier's (a few units), labels uniform. */
export function lossCase(kernel: LossKernel, rows: number, cols: number, temperature: number, alpha: number,
                         seed: number): LossCase {
  const next = uniformSource(seed);
  const z = fillUniform(rows * cols, next, -4, 4);
  const v = fillUniform(rows * cols, next, -4, 4);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = Math.min(cols - 1, Math.floor(next() * cols));
  return { kernel, rows, cols, temperature, alpha, z, v, labels };
}

/** log-softmax of x[off .. off+cols) / T in f64. */
function logSoftmaxRow(x: Float32Array, off: number, cols: number, T: number): Float64Array {
  const out = new Float64Array(cols);
  let max = -Infinity;
  for (let j = 0; j < cols; j++) { out[j] = x[off + j]! / T; if (out[j]! > max) max = out[j]!; }
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(out[j]! - max);
  const lse = max + Math.log(sum);
  for (let j = 0; j < cols; j++) out[j]! -= lse;
  return out;
}

export interface LossReference { loss?: number; values: Float64Array }

export function lossReference(c: LossCase): LossReference {
  const { rows: B, cols: C, temperature: T, alpha: a, z, v, labels } = c;
  const values = new Float64Array(B * C);
  let loss = 0;
  for (let r = 0; r < B; r++) {
    const off = r * C;
    const lq = logSoftmaxRow(z, off, C, T);
    if (c.kernel === 'softmax') {
      for (let j = 0; j < C; j++) values[off + j] = Math.exp(lq[j]!);
      continue;
    }
    const lp = logSoftmaxRow(v, off, C, T);
    let kl = 0;
    for (let j = 0; j < C; j++) kl += Math.exp(lp[j]!) * (lp[j]! - lq[j]!);
    if (c.kernel === 'kl') {
      loss += kl;
      for (let j = 0; j < C; j++) values[off + j] = (Math.exp(lq[j]!) - Math.exp(lp[j]!)) / (T * B);
      continue;
    }
    const lh = logSoftmaxRow(z, off, C, 1);
    const y = labels[r]!;
    loss += (1 - a) * -lh[y]! + a * T * T * kl;
    for (let j = 0; j < C; j++) {
      const hard = Math.exp(lh[j]!) - (j === y ? 1 : 0);
      const soft = Math.exp(lq[j]!) - Math.exp(lp[j]!);
      values[off + j] = ((1 - a) * hard + a * T * soft) / B;
    }
  }
  return c.kernel === 'softmax' ? { values } : { loss: loss / B, values };
}

/** max |x - ref| / max |ref|: an error relative to the result's scale. NaN anywhere gives Infinity. */
export function relativeError(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (x.length !== ref.length) return Infinity;
  let scale = 0, worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(x[i]! - ref[i]!);
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return scale > 0 ? worst / scale : worst;
}

export function lossError(out: LossOutput, ref: LossReference): number {
  let err = relativeError(out.values, ref.values);
  if (ref.loss !== undefined) {
    const l = out.loss;
    const e = l === undefined || !Number.isFinite(l) ? Infinity : Math.abs(l - ref.loss) / Math.max(Math.abs(ref.loss), 1e-30);
    err = Math.max(err, e);
  }
  return err;
}
