// An independent cross-check of batch norm, layer norm and GELU against TensorFlow.js
// (tfjs-core + the CPU backend, f32): tf.moments + tf.batchNorm for the forward, tf.grads of a
// batch-norm and a layer-norm composition for the backward, and GELU built from tf.erf
// (0.5 x (1 + erf(x / sqrt 2))) with its tf.grad. Loaded as in tfjs-crosscheck.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { refBatchNormStats, refLayerNormStats } from '../reference/norm.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectClose, useCore } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const EPS = 1e-3;
const SHAPES = [[1, 3], [3, 5], [17, 17], [129, 16]] as const;

function inputs(seed: number, rows: number, C: number): { x: Float32Array; gamma: Float32Array; beta: Float32Array; dy: Float32Array } {
  const rand = new TestRand(seed);
  const loc = rand.f32(C, -2, 2);
  return {
    x: Float32Array.from({ length: rows * C }, (_, i) => loc[i % C]! + rand.normal()),
    gamma: rand.f32(C, 0.5, 1.5), beta: rand.f32(C), dy: rand.f32(rows * C),
  };
}

/**
 * Both sides are f32 computations of the same f64 value; TF.js sums a channel's n terms in f32
 * (mean, then mean of squared deviations), so its xhat carries up to ~n u (1 + |mean| / std)
 * of error. The bound: TOL.tfjsNorm.atol per unit of (n + 8), times scale_i, the magnitude of
 * the element's terms (computed by the caller).
 */
function tfBound(n: number): { rtol: number; atol: number } {
  return { rtol: 0, atol: TOL.tfjsNorm.atol * (n + 8) };
}

describe.each(BACKENDS)('TF.js cross-check: normalisation and GELU [%s]', (backend) => {
  const core = useCore(backend);

  for (const [rows, C] of SHAPES) {
    it(`batch norm ${rows}x${C}: forward vs tf.moments + tf.batchNorm, backward vs tf.grads`, () => {
      const { x, gamma, beta, dy } = inputs(rows * 31 + C, rows, C);
      const c = core();
      const tx = c.fromArray(x), ty = c.alloc(rows * C), mean = c.alloc(C), invstd = c.alloc(C);
      const rm = c.alloc(C), rv = c.alloc(C).set(new Float32Array(C).fill(1)), tg = c.fromArray(gamma), tb = c.fromArray(beta);
      c.ops.batchNormTrainForward(ty, mean, invstd, rm, rv, tx, tg, tb, rows, C, EPS, 0.1);
      const dx = c.alloc(rows * C), dgamma = c.alloc(C), dbeta = c.alloc(C);
      c.ops.batchNormBackward(dx, dgamma, dbeta, c.fromArray(dy), tx, mean, invstd, tg, rows, C);
      const want = tf.tidy(() => {
        const bn = (xt: tf.Tensor, gt: tf.Tensor, bt: tf.Tensor): tf.Tensor => {
          const m = tf.moments(xt, 0);
          return tf.batchNorm(xt, m.mean, m.variance, bt, gt, EPS);
        };
        const xt = tf.tensor2d(x, [rows, C]), gt = tf.tensor1d(gamma), bt = tf.tensor1d(beta), dyt = tf.tensor2d(dy, [rows, C]);
        const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dyt, bn(a, g, b))))([xt, gt, bt]);
        return { y: bn(xt, gt, bt).dataSync(), dx: grads[0]!.dataSync(), dgamma: grads[1]!.dataSync(), dbeta: grads[2]!.dataSync() };
      });
      const s = refBatchNormStats(x, rows, C, EPS);
      const xhat = (i: number): number => (x[i]! - s.mean[i % C]!) * s.invstd[i % C]!;
      // y: |gamma| (|xhat| + |mean| invstd) + |beta|: TF's mean error enters through x - mean
      const yScale = Float64Array.from(x, (_, i) => Math.abs(gamma[i % C]!) * (Math.abs(xhat(i)) + Math.abs(s.mean[i % C]! * s.invstd[i % C]!) + 1) + Math.abs(beta[i % C]!));
      expectClose(ty.toArray(), want.y, tfBound(rows), `bn y ${rows}x${C}`, yScale);
      const sdy = new Float64Array(C), sdyx = new Float64Array(C);
      dy.forEach((g, i) => { sdy[i % C]! += Math.abs(g); sdyx[i % C]! += Math.abs(g * xhat(i)); });
      const dxScale = Float64Array.from(x, (_, i) => {
        const k = i % C;
        return Math.abs(gamma[k]! * s.invstd[k]!) * (Math.abs(dy[i]!) + (sdy[k]! + (Math.abs(xhat(i)) + 1) * sdyx[k]!) / rows) * (1 + Math.abs(s.mean[k]! * s.invstd[k]!));
      });
      expectClose(dx.toArray(), want.dx, tfBound(rows), `bn dx ${rows}x${C}`, dxScale);
      expectClose(dgamma.toArray(), want.dgamma, tfBound(rows), `bn dgamma ${rows}x${C}`,
        Float64Array.from(sdyx, (v, k) => v + sdy[k]! * Math.abs(s.mean[k]! * s.invstd[k]!)));
      expectClose(dbeta.toArray(), want.dbeta, tfBound(rows), `bn dbeta ${rows}x${C}`, sdy);
      expectClose(mean.toArray(), s.mean, TOL.normStats, `bn mean ${rows}x${C}`, 1 + Math.max(...Array.from(x, Math.abs)));
      expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
    });

    it(`layer norm ${rows}x${C}: forward and backward vs tf.grads of a moments composition`, () => {
      const { x, dy } = inputs(rows * 37 + C, rows, C);
      const rand = new TestRand(rows + C);
      const gamma = rand.f32(C, 0.5, 1.5), beta = rand.f32(C);
      const c = core();
      const tx = c.fromArray(x), ty = c.alloc(rows * C), mean = c.alloc(rows), rstd = c.alloc(rows), tg = c.fromArray(gamma);
      c.ops.layerNormForward(ty, mean, rstd, tx, tg, c.fromArray(beta), rows, C, EPS);
      const dx = c.alloc(rows * C), dgamma = c.alloc(C), dbeta = c.alloc(C);
      c.ops.layerNormBackward(dx, dgamma, dbeta, c.fromArray(dy), tx, mean, rstd, tg, rows, C);
      const want = tf.tidy(() => {
        const ln = (xt: tf.Tensor, gt: tf.Tensor, bt: tf.Tensor): tf.Tensor => {
          const m = tf.moments(xt, -1, true);
          return tf.add(tf.mul(tf.mul(tf.sub(xt, m.mean), tf.rsqrt(tf.add(m.variance, EPS))), gt), bt);
        };
        const xt = tf.tensor2d(x, [rows, C]), gt = tf.tensor1d(gamma), bt = tf.tensor1d(beta), dyt = tf.tensor2d(dy, [rows, C]);
        const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(dyt, ln(a, g, b))))([xt, gt, bt]);
        return { y: ln(xt, gt, bt).dataSync(), dx: grads[0]!.dataSync(), dgamma: grads[1]!.dataSync(), dbeta: grads[2]!.dataSync() };
      });
      const s = refLayerNormStats(x, rows, C, EPS);
      const r = (i: number): number => Math.floor(i / C);
      const xhat = (i: number): number => (x[i]! - s.mean[r(i)]!) * s.rstd[r(i)]!;
      const off = (i: number): number => 1 + Math.abs(s.mean[r(i)]! * s.rstd[r(i)]!);
      expectClose(ty.toArray(), want.y, tfBound(C), `ln y ${rows}x${C}`,
        Float64Array.from(x, (_, i) => Math.abs(gamma[i % C]!) * (Math.abs(xhat(i)) + off(i)) + Math.abs(beta[i % C]!)));
      const sg = new Float64Array(rows);
      dy.forEach((d, i) => { sg[r(i)]! += Math.abs(d * gamma[i % C]!) * (1 + Math.abs(xhat(i))); });
      expectClose(dx.toArray(), want.dx, tfBound(C), `ln dx ${rows}x${C}`,
        Float64Array.from(x, (_, i) => s.rstd[r(i)]! * (Math.abs(dy[i]! * gamma[i % C]!) + (1 + Math.abs(xhat(i))) * sg[r(i)]! / C) * off(i)));
      const sx = new Float64Array(C), sd = new Float64Array(C);
      dy.forEach((d, i) => { sx[i % C]! += Math.abs(d) * (Math.abs(xhat(i)) + off(i)); sd[i % C]! += Math.abs(d); });
      expectClose(dgamma.toArray(), want.dgamma, tfBound(C), `ln dgamma ${rows}x${C}`, sx);
      expectClose(dbeta.toArray(), want.dbeta, tfBound(rows), `ln dbeta ${rows}x${C}`, sd);
      expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
    });
  }

  it('GELU vs 0.5 x (1 + tf.erf(x / sqrt 2)) and its tf.grad', () => {
    const n = 4001;
    const x = Float32Array.from({ length: n }, (_, i) => -8 + i * 4e-3);
    const dy = new TestRand(12).f32(n);
    const c = core();
    const tx = c.fromArray(x), ty = c.alloc(n), dx = c.alloc(n);
    c.ops.geluForward(ty, tx, n);
    c.ops.geluBackward(dx, c.fromArray(dy), tx, n);
    const want = tf.tidy(() => {
      const gelu = (t: tf.Tensor): tf.Tensor => tf.mul(tf.mul(t, 0.5), tf.add(1, tf.erf(tf.div(t, Math.SQRT2))));
      const xt = tf.tensor1d(x), dyt = tf.tensor1d(dy);
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(dyt, gelu(t))))(xt);
      return { y: gelu(xt).dataSync(), dx: g.dataSync() };
    });
    // scales: |x| for the value, |dy| (1 + x^2) for the gradient (see TOL.tfjsGelu)
    expectClose(ty.toArray(), want.y, TOL.tfjsGelu, 'gelu vs tf', Float64Array.from(x, Math.abs));
    expectClose(dx.toArray(), want.dx, TOL.tfjsGelu, 'gelu grad vs tf', Float64Array.from(x, (v, i) => Math.abs(dy[i]!) * (1 + v * v)));
    expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
  });
});
