// An independent cross-check against TensorFlow.js (tfjs-core + the CPU backend, f32):
// matmul in all four transpose forms, softmax and log-softmax at several T, cross-entropy,
// KL, and the fused KD loss with its gradient taken by tf.valueAndGrad. Both sides are
// f32, so the bounds are TOL.tfjs (about twice our bounds against the f64 reference).
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core ships its gradient functions separately: register them for tf.valueAndGrad
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, U, expectClose, expectScalarClose, f32, i32, maxAbs, useCore } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const T_VALUES = [0.5, 1, 4, 20, 50];

function tfKd(z: tf.Tensor2D, v: tf.Tensor2D, onehot: tf.Tensor2D, rows: number, T: number, alpha: number, scaleT2: boolean): tf.Scalar {
  const lpz = tf.logSoftmax(tf.div(z, T));
  const lpv = tf.logSoftmax(tf.div(v, T));
  const kl = tf.div(tf.sum(tf.mul(tf.exp(lpv), tf.sub(lpv, lpz))), rows);
  const ce = tf.losses.softmaxCrossEntropy(onehot, z);
  return tf.add(tf.mul(ce, 1 - alpha), tf.mul(kl, alpha * (scaleT2 ? T * T : 1))) as tf.Scalar;
}

describe.each(BACKENDS)('TF.js cross-check [%s]', (backend) => {
  const core = useCore(backend);

  it('matmul: all four transpose forms match tf.matMul', () => {
    const rand = new TestRand(1);
    for (const [m, k, n] of [[1, 1, 1], [3, 7, 5], [17, 65, 9], [33, 4, 129]] as const) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const A = rand.f32(m * k), B = rand.f32(k * n);
          const got = core().matmul(A, B, m, k, n, { transA, transB });
          const want = tf.tidy(() => tf.matMul(tf.tensor2d(A, transA ? [k, m] : [m, k]), tf.tensor2d(B, transB ? [n, k] : [k, n]),
            transA, transB).dataSync());
          // both sides f32 sums of k products of magnitude <= 1: each within (k + 4) u k of f64
          expectClose(got, want, { rtol: 0, atol: 2 * (k + 4) * U }, `matmul ${m}x${k}x${n} ${transA}/${transB}`, k);
        }
      }
    }
  });

  it('softmax and log-softmax match tf.softmax / tf.logSoftmax at several T', () => {
    const rand = new TestRand(2);
    for (const [rows, cols] of [[1, 1], [3, 17], [2, 1000]] as const) {
      const x = rand.logits(rows * cols, 4);
      for (const T of T_VALUES) {
        const sm = tf.tidy(() => tf.softmax(tf.div(tf.tensor2d(x, [rows, cols]), T)).dataSync());
        const lsm = tf.tidy(() => tf.logSoftmax(tf.div(tf.tensor2d(x, [rows, cols]), T)).dataSync());
        expectClose(core().softmax(x, rows, cols, { temperature: T }), sm, { ...TOL.tfjs, rtol: TOL.tfjs.rtol * (1 + maxAbs(x) / T) },
          `softmax ${rows}x${cols} T=${T}`, 1);
        expectClose(core().softmax(x, rows, cols, { temperature: T, log: true }), lsm, TOL.tfjs,
          `logSoftmax ${rows}x${cols} T=${T}`, 1 + maxAbs(x) / T);
      }
    }
  });

  it('cross-entropy and KL match losses built from tf ops', () => {
    const rand = new TestRand(3);
    for (const [rows, cols] of [[1, 3], [3, 17], [4, 129]] as const) {
      const z = rand.logits(rows * cols), v = rand.logits(rows * cols), y = rand.labels(rows, cols);
      const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
      const ce = tf.tidy(() => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(y, 'int32'), cols), tf.tensor2d(z, [rows, cols])).dataSync()[0]!);
      expectScalarClose(core().crossEntropy(null, tz, ty, rows, cols), ce, TOL.tfjs, `CE ${rows}x${cols}`, 1 + maxAbs(z));
      for (const T of T_VALUES) {
        const kl = tf.tidy(() => {
          const lpz = tf.logSoftmax(tf.div(tf.tensor2d(z, [rows, cols]), T));
          const lpv = tf.logSoftmax(tf.div(tf.tensor2d(v, [rows, cols]), T));
          return tf.div(tf.sum(tf.mul(tf.exp(lpv), tf.sub(lpv, lpz))), rows).dataSync()[0]!;
        });
        expectScalarClose(core().klDivergence(null, tz, tv, rows, cols, T), kl, TOL.tfjs, `KL ${rows}x${cols} T=${T}`,
          1 + (maxAbs(z) + maxAbs(v)) / T);
      }
    }
  });

  it('fused KD loss and its gradient match tf.valueAndGrad of the composed loss', () => {
    const rand = new TestRand(4);
    const rows = 3, cols = 17;
    const z = rand.logits(rows * cols), v = rand.logits(rows * cols), y = rand.labels(rows, cols);
    const tz = f32(core(), z), tv = f32(core(), v), ty = i32(core(), y);
    for (const T of T_VALUES) {
      for (const alpha of [0, 0.3, 1]) {
        for (const scaleT2 of [true, false]) {
          const { value, grad } = tf.tidy(() => {
            const vt = tf.tensor2d(v, [rows, cols]);
            const onehot = tf.oneHot(tf.tensor1d(y, 'int32'), cols) as tf.Tensor2D;
            const r = tf.valueAndGrad((zt: tf.Tensor) => tfKd(zt as tf.Tensor2D, vt, onehot, rows, T, alpha, scaleT2))(tf.tensor2d(z, [rows, cols]));
            return { value: r.value.dataSync()[0]!, grad: r.grad.dataSync() };
          });
          const dz = core().alloc(rows * cols);
          const L = core().distillationLoss(dz, tz, tv, ty, rows, cols, { temperature: T, alpha, scaleT2 });
          const w = scaleT2 ? T * T : 1;
          const what = `T=${T} alpha=${alpha} scaleT2=${scaleT2}`;
          expectScalarClose(L, value, TOL.tfjs, `KD value ${what}`,
            (1 - alpha) * (1 + maxAbs(z)) + alpha * w * (1 + (maxAbs(z) + maxAbs(v)) / T));
          expectClose(dz.toArray(), grad, TOL.tfjs, `KD grad ${what}`);
          expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
        }
      }
    }
  });
});
