// The normalisation / activation cases of the benchmark: batch norm, training mode, forward +
// backward (the statistics passes, the running-statistics update and all three gradients), and
// GELU forward + backward. Operands, f64 references, and each contender's preparation: our
// backends through the raw core.kernels (as core-contenders.ts does), TF.js as closed-form ops
// in tf.tidy (as its losses are: no tape). Platform-neutral; tfjs is imported for its types only.

import type * as Tf from '@tensorflow/tfjs-core';
import type { Core } from '../core.js';
import { uniformSource } from './problems.js';
import type { LayerCase, LayerKernel, LayerShape, Prepared, Unavailable } from './types.js';

/** The full run: batch norm over a (128, 28, 28, 16) activation, GELU over (128, 512). */
export const LAYER_SHAPES: readonly LayerShape[] = [
  { kernel: 'batchNorm', rows: 128 * 28 * 28, cols: 16 },
  { kernel: 'gelu', rows: 128, cols: 512 },
];
/** Quick mode: small, odd sizes (tails). */
export const QUICK_LAYER_SHAPES: readonly LayerShape[] = [
  { kernel: 'batchNorm', rows: 37, cols: 5 },
  { kernel: 'gelu', rows: 3, cols: 333 },
];

export const LAYER_FORMULAS: Record<LayerKernel, string> = {
  batchNorm: 'x (rows, C) channels-last, batch statistics: y = gamma (x - mean) invstd + beta; then dbeta = sum_r dy, '
    + 'dgamma = sum_r dy xhat, dx = gamma invstd / rows (rows dy - dbeta - xhat dgamma); ours also update the running '
    + 'statistics. Output checked: [y, dx]',
  gelu: 'y = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)); dx = dy (Phi(x) + x phi(x)). Output checked: [y, dx]',
};

const EPS = 1e-5;

export function layerCase(s: LayerShape, seed: number): LayerCase {
  const next = uniformSource(seed);
  const fill = (n: number, lo: number, hi: number): Float32Array => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
  const n = s.rows * s.cols;
  return {
    ...s, eps: EPS,
    x: fill(n, s.kernel === 'gelu' ? -4 : -2, s.kernel === 'gelu' ? 4 : 3),
    gamma: fill(s.cols, 0.5, 1.5), beta: fill(s.cols, -1, 1), dy: fill(n, -1, 1),
  };
}

/** erfc(z), z >= 0, to ~1e-15: a positive-term series of erf below 3, a continued fraction above. */
function erfc(z: number): number {
  if (z < 3) {
    let term = z, sum = z;
    for (let k = 0; term > 1e-17 * sum; k++) { term *= (2 * z * z) / (2 * k + 3); sum += term; }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-z * z) * sum;
  }
  let f = z;
  for (let k = 100; k >= 1; k--) f = z + (k / 2) / f;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
}

/** [y, dx] in f64. */
export function layerReference(c: LayerCase): Float64Array {
  const n = c.rows * c.cols, out = new Float64Array(2 * n);
  if (c.kernel === 'gelu') {
    for (let i = 0; i < n; i++) {
      const v = c.x[i]!;
      const t = 0.5 * erfc(Math.abs(v) / Math.SQRT2), cdf = v < 0 ? t : 1 - t;
      out[i] = v * cdf;
      out[n + i] = c.dy[i]! * (cdf + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI));
    }
    return out;
  }
  const { rows: N, cols: C } = c;
  for (let ch = 0; ch < C; ch++) {
    let s = 0, q = 0, sdy = 0, sdyx = 0;
    for (let r = 0; r < N; r++) s += c.x[r * C + ch]!;
    const mean = s / N;
    for (let r = 0; r < N; r++) q += (c.x[r * C + ch]! - mean) ** 2;
    const invstd = 1 / Math.sqrt(q / N + Math.fround(c.eps));
    for (let r = 0; r < N; r++) {
      const i = r * C + ch, xhat = (c.x[i]! - mean) * invstd;
      out[i] = c.gamma[ch]! * xhat + c.beta[ch]!;
      sdy += c.dy[i]!;
      sdyx += c.dy[i]! * xhat;
    }
    for (let r = 0; r < N; r++) {
      const i = r * C + ch, xhat = (c.x[i]! - mean) * invstd;
      out[n + i] = c.gamma[ch]! * invstd / N * (N * c.dy[i]! - sdy - xhat * sdyx);
    }
  }
  return out;
}

function concat(a: ArrayLike<number>, b: ArrayLike<number>): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Our backends: the raw kernels on preallocated tensors. Gradients accumulate across timed calls, as in a trainer. */
export function coreLayer(core: Core, c: LayerCase): Prepared<Float32Array> {
  const k = core.kernels;
  const n = c.rows * c.cols;
  const x = core.fromArray(c.x), dy = core.fromArray(c.dy), y = core.alloc(n), dx = core.alloc(n);
  const px = x.ptr, pdy = dy.ptr, py = y.ptr, pdx = dx.ptr;
  if (c.kernel === 'gelu') {
    const run = (): void => { k.geluForward(py, px, n); k.geluBackward(pdx, pdy, px, n); };
    return {
      run,
      output: () => { dx.view().fill(0); run(); return concat(y.toArray(), dx.toArray()); },
      dispose: () => { for (const t of [x, dy, y, dx]) core.free(t); },
    };
  }
  const C = c.cols, rows = c.rows;
  const gamma = core.fromArray(c.gamma), beta = core.fromArray(c.beta);
  const stats = [core.alloc(C), core.alloc(C), core.alloc(C), core.alloc(C).set(new Float32Array(C).fill(1))];
  const dgamma = core.alloc(C), dbeta = core.alloc(C);
  const [pm, pi, prm, prv] = stats.map((t) => t.ptr) as [number, number, number, number];
  const pg = gamma.ptr, pb = beta.ptr, pdg = dgamma.ptr, pdb = dbeta.ptr;
  const run = (): void => {
    k.batchNormTrainForward(py, pm, pi, prm, prv, px, pg, pb, rows, C, c.eps, 0.1);
    k.batchNormBackward(pdx, pdg, pdb, pdy, px, pm, pi, pg, rows, C);
  };
  return {
    run,
    output: () => { dx.view().fill(0); run(); return concat(y.toArray(), dx.toArray()); },
    dispose: () => { for (const t of [x, dy, y, dx, gamma, beta, dgamma, dbeta, ...stats]) core.free(t); },
  };
}

/** TF.js: closed-form ops in tf.tidy (tf.moments for the statistics); outputs stay tensors, disposed unread. */
export function tfLayer(tf: typeof Tf, c: LayerCase, backend: string): Prepared<Float32Array> | Unavailable {
  const n = c.rows * c.cols;
  if (c.kernel === 'gelu' && !tf.getKernel('Erf', backend)) return { unavailable: `tfjs-backend-${backend} has no Erf kernel` };
  const x = tf.tensor2d(c.x, [c.rows, c.cols]), dy = tf.tensor2d(c.dy, [c.rows, c.cols]);
  const gamma = tf.tensor1d(c.gamma), beta = tf.tensor1d(c.beta);
  const eps = tf.scalar(c.eps), N = tf.scalar(c.rows), half = tf.scalar(0.5), one = tf.scalar(1);
  const invSqrt2 = tf.scalar(Math.SQRT1_2), invSqrt2Pi = tf.scalar(1 / Math.sqrt(2 * Math.PI));
  const held = [x, dy, gamma, beta, eps, N, half, one, invSqrt2, invSqrt2Pi];
  const compute = c.kernel === 'gelu'
    ? (): Tf.Tensor[] => tf.tidy(() => {
      const cdf = tf.mul(half, tf.add(one, tf.erf(tf.mul(x, invSqrt2))));
      const pdf = tf.mul(tf.exp(tf.mul(tf.neg(half), tf.square(x))), invSqrt2Pi);
      return [tf.mul(x, cdf), tf.mul(dy, tf.add(cdf, tf.mul(x, pdf)))];
    })
    : (): Tf.Tensor[] => tf.tidy(() => {
      const { mean, variance } = tf.moments(x, 0);
      const invstd = tf.rsqrt(tf.add(variance, eps));
      const xhat = tf.mul(tf.sub(x, mean), invstd);
      const y = tf.add(tf.mul(xhat, gamma), beta);
      const dbeta = tf.sum(dy, 0), dgamma = tf.sum(tf.mul(dy, xhat), 0);
      const dx = tf.mul(tf.mul(gamma, invstd), tf.sub(tf.sub(dy, tf.div(dbeta, N)), tf.mul(xhat, tf.div(dgamma, N))));
      return [y, dx, dgamma, dbeta];
    });
  return {
    run: () => { for (const t of compute()) t.dispose(); },
    output: () => {
      const [y, dx, ...rest] = compute();
      const out = concat(y!.dataSync(), dx!.dataSync());
      for (const t of [y!, dx!, ...rest]) t.dispose();
      if (out.length !== 2 * n) throw new Error('tfLayer: unexpected output size');
      return out;
    },
    dispose: () => { for (const t of held) t.dispose(); },
  };
}
