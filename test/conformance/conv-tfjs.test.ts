// An independent cross-check of the convolution and pooling kernels against TensorFlow.js
// (tfjs-core + the CPU backend, f32, NHWC, filters HWIO as ours): tf.conv2d, tf.depthwiseConv2d,
// tf.maxPool and tf.avgPool forward, and their gradients by tf.grad of <dy, op(x)>, against our
// forward and backward kernels (average pooling's gradient under padding through an equivalent
// composite: tfjs-backend-cpu's own AvgPoolGrad does not match its forward there; see below). Padding goes to TF as 'same' / 'valid' (TF's own rule, which
// convOutput mirrors) or explicitly per side. Both sides are f32: TOL.tfjsConv.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// tfjs-core ships its gradient functions separately: register them for tf.grad
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';
import { encodeGeometry, type ConvGeometry } from '@retort/core-wasm';
import {
  convGeometry, filterSize, inputSize, outputSize, refAvgPool, refAvgPoolBackward, refConv2dAbsScale,
  refConv2dBackwardDataAbsScale, refConv2dBackwardFilterAbsScale, refMaxPool, refMaxPoolBackward,
} from '../reference/conv.js';
import { TestRand } from '../reference/prng.js';
import { BACKENDS, TOL, expectClose, f32, i32, useCore, type Tol } from './helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

type Pad = 'same' | 'valid' | [top: number, bottom: number, left: number, right: number];

/** Our geometry for a TF padding; explicit padding is [top, bottom, left, right]. */
function geometryFor(B: number, H: number, W: number, C: number, OC: number, KH: number, KW: number, SH: number, SW: number,
                     pad: Pad, G = 1): ConvGeometry {
  if (typeof pad === 'string') return convGeometry(B, H, W, C, OC, KH, KW, SH, SW, pad, G);
  const [t, b, l, r] = pad;
  return { B, H, W, C, OC, KH, KW, SH, SW, G, PT: t, PL: l,
    OH: Math.floor((H + t + b - KH) / SH) + 1, OW: Math.floor((W + l + r - KW) / SW) + 1 };
}

const tfPad = (pad: Pad): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] =>
  (typeof pad === 'string' ? pad : [[0, 0], [pad[0], pad[1]], [pad[2], pad[3]], [0, 0]]);

const tfTol = (n: number): Tol => ({ rtol: 0, atol: TOL.tfjsConv.atol * (n + 4) });

/** Value and the gradients of <dy, f(x, w)> with respect to x and w, from TF. */
function tfValueAndGrads(f: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D, x: tf.Tensor4D, w: tf.Tensor4D, dy: tf.Tensor4D):
  { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const loss = (xs: tf.Tensor4D, ws: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(f(xs, ws), dy));
    const [dx, dw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => loss(xs as tf.Tensor4D, ws as tf.Tensor4D))([x, w]);
    return { y: f(x, w).dataSync() as Float32Array, dx: dx!.dataSync() as Float32Array, dw: dw!.dataSync() as Float32Array };
  });
}

const CONV: [B: number, H: number, W: number, C: number, OC: number, KH: number, KW: number, S: number, pad: Pad][] = [
  [2, 7, 6, 3, 5, 3, 3, 1, 'same'],
  [3, 7, 7, 5, 7, 3, 3, 2, 'same'],
  [1, 9, 8, 6, 16, 5, 5, 1, 'valid'],
  [2, 6, 5, 16, 8, 1, 1, 1, 'valid'],
  [1, 8, 7, 4, 9, 3, 2, 2, [1, 0, 0, 1]],
  [1, 6, 6, 1, 6, 5, 5, 1, 'same'],
];

const DEPTHWISE: [B: number, H: number, W: number, C: number, m: number, K: number, S: number, pad: Pad][] = [
  [2, 6, 7, 5, 1, 3, 1, 'same'],
  [1, 7, 7, 17, 1, 3, 2, 'same'],
  [2, 5, 6, 3, 2, 3, 2, 'valid'],
  [1, 6, 5, 4, 3, 5, 1, 'same'],
];

const POOLS: [B: number, H: number, W: number, C: number, K: number, S: number, pad: Pad][] = [
  [2, 5, 7, 3, 2, 2, 'valid'],
  [3, 7, 6, 5, 3, 2, 'same'],
  [1, 6, 6, 17, 3, 1, 'same'],
  [2, 8, 7, 4, 2, 3, 'valid'],
];

describe.each(BACKENDS)('TF.js cross-check, convolution and pooling [%s]', (backend) => {
  const core = useCore(backend);

  /** Our forward, backward-data and backward-filter outputs from zero-filled buffers. */
  function ours(g: ConvGeometry, x: Float32Array, w: Float32Array, dy: Float32Array): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
    const tx = f32(core(), x), tw = f32(core(), w), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
    const y = core().alloc(outputSize(g)), dx = core().alloc(inputSize(g)), dw = core().alloc(filterSize(g));
    core().ops.conv2dForward(y, tx, tw, tg, 0, 0);
    core().ops.conv2dBackwardData(dx, tdy, tw, tg, 0, 0);
    core().ops.conv2dBackwardFilter(dw, tx, tdy, tg, 0, 0);
    return { y: y.toArray(), dx: dx.toArray(), dw: dw.toArray() };
  }

  function compare(g: ConvGeometry, x: Float32Array, w: Float32Array, dy: Float32Array,
                   theirs: { y: Float32Array; dx: Float32Array; dw: Float32Array }, what: string): void {
    const got = ours(g, x, w, dy);
    const Cg = g.C / g.G, OCg = g.OC / g.G;
    expectClose(got.y, theirs.y, tfTol(g.KH * g.KW * Cg), `${what} forward`, refConv2dAbsScale(g, x, w));
    expectClose(got.dx, theirs.dx, tfTol(g.KH * g.KW * OCg), `${what} dx`, refConv2dBackwardDataAbsScale(g, dy, w));
    expectClose(got.dw, theirs.dw, tfTol(g.B * g.OH * g.OW), `${what} dw`, refConv2dBackwardFilterAbsScale(g, x, dy));
  }

  it('conv2d and its gradients match tf.conv2d / tf.grads', () => {
    const rand = new TestRand(11);
    for (const [B, H, W, C, OC, KH, KW, S, pad] of CONV) {
      const g = geometryFor(B, H, W, C, OC, KH, KW, S, S, pad);
      const x = rand.f32(inputSize(g)), w = rand.f32(filterSize(g)), dy = rand.f32(outputSize(g));
      const theirs = tf.tidy(() => tfValueAndGrads(
        (xs, ws) => tf.conv2d(xs, ws, [S, S], tfPad(pad)),
        tf.tensor4d(x, [B, H, W, C]), tf.tensor4d(w, [KH, KW, C, OC]), tf.tensor4d(dy, [B, g.OH, g.OW, OC])));
      expect([g.OH, g.OW], 'output size').toEqual(tf.tidy(() => tf.conv2d(tf.zeros([B, H, W, C]) as tf.Tensor4D,
        tf.zeros([KH, KW, C, OC]) as tf.Tensor4D, [S, S], tfPad(pad)).shape.slice(1, 3)));
      compare(g, x, w, dy, theirs, `conv2d ${JSON.stringify([B, H, W, C, OC, KH, KW, S, pad])}`);
    }
    expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
  });

  it('depthwise conv2d and its gradients match tf.depthwiseConv2d / tf.grads', () => {
    const rand = new TestRand(12);
    for (const [B, H, W, C, m, K, S, pad] of DEPTHWISE) {
      // ours: G = C groups, w (K,K,1,C*m); TF: filter (K,K,C,m), the same memory order
      const g = geometryFor(B, H, W, C, C * m, K, K, S, S, pad, C);
      const x = rand.f32(inputSize(g)), w = rand.f32(filterSize(g)), dy = rand.f32(outputSize(g));
      const theirs = tf.tidy(() => tfValueAndGrads(
        (xs, ws) => tf.depthwiseConv2d(xs, ws, [S, S], tfPad(pad) as 'same' | 'valid'),
        tf.tensor4d(x, [B, H, W, C]), tf.tensor4d(w, [K, K, C, m]), tf.tensor4d(dy, [B, g.OH, g.OW, C * m])));
      compare(g, x, w, dy, theirs, `depthwise ${JSON.stringify([B, H, W, C, m, K, S, pad])}`);
    }
  });

  it('maxPool and avgPool and their gradients match tf.maxPool / tf.avgPool / tf.grad', () => {
    const rand = new TestRand(13);
    for (const [B, H, W, C, K, S, pad] of POOLS) {
      const g = geometryFor(B, H, W, C, C, K, K, S, S, pad);
      const x = rand.f32(inputSize(g)), dy = rand.f32(outputSize(g));
      const tx = f32(core(), x), tdy = f32(core(), dy), tg = i32(core(), encodeGeometry(g));
      const what = JSON.stringify([B, H, W, C, K, S, pad]);
      // tfjs-backend-cpu's AvgPoolGrad divides every window by K*K, also where its forward
      // averaged fewer (padded) positions, so under padding it is not the gradient of tf.avgPool.
      // TF's forward written as pad -> 'valid' window sums / inside counts has a gradient TF
      // computes correctly (pad, valid pooling, a constant divisor): that is the one compared.
      const bottom = Math.max(0, (g.OH - 1) * S + K - H - g.PT), right = Math.max(0, (g.OW - 1) * S + K - W - g.PL);
      const padding: [[number, number], [number, number], [number, number], [number, number]] =
        [[0, 0], [g.PT, bottom], [g.PL, right], [0, 0]];
      const windowSums = (xs: tf.Tensor4D): tf.Tensor4D => tf.mul(tf.avgPool(tf.pad(xs, padding), [K, K], [S, S], 'valid'), K * K);
      const avgByCounts = (xs: tf.Tensor4D): tf.Tensor4D => tf.div(windowSums(xs), windowSums(tf.onesLike(xs)));
      const padded = g.PT > 0 || g.PL > 0 || bottom > 0 || right > 0;
      expectClose(tf.tidy(() => avgByCounts(tf.tensor4d(x, [B, H, W, C])).dataSync()),
        tf.tidy(() => tf.avgPool(tf.tensor4d(x, [B, H, W, C]), [K, K], [S, S], pad as 'same' | 'valid').dataSync()),
        { rtol: 0, atol: TOL.tfjsConv.atol * (K * K + 2) }, `tf.avgPool is the inside-count mean ${what}`, refAvgPool(g, x.map(Math.abs)));
      for (const kind of ['max', 'avg'] as const) {
        const op = (xs: tf.Tensor4D): tf.Tensor4D => (kind === 'max'
          ? tf.maxPool(xs, [K, K], [S, S], pad as 'same' | 'valid') : avgByCounts(xs));
        const theirs = tf.tidy(() => {
          const xt = tf.tensor4d(x, [B, H, W, C]), dyt = tf.tensor4d(dy, [B, g.OH, g.OW, C]);
          const dx = tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(op(xs as tf.Tensor4D), dyt)))(xt);
          return { y: op(xt).dataSync() as Float32Array, dx: dx.dataSync() as Float32Array };
        });
        const y = core().alloc(outputSize(g)), dx = core().alloc(inputSize(g));
        if (kind === 'max') {
          const am = core().allocI32(outputSize(g));
          core().ops.maxPool2dForward(y, am, tx, tg);
          core().ops.maxPool2dBackward(dx, tdy, am, tg);
          expect(Array.from(y.toArray()), `maxPool ${what}`).toEqual(Array.from(theirs.y));
          const scale = refMaxPoolBackward(g, dy.map(Math.abs), refMaxPool(g, x).argmax);
          expectClose(dx.toArray(), theirs.dx, { rtol: 0, atol: TOL.tfjsConv.atol * 4 }, `maxPool grad ${what}`, scale);
        } else {
          core().ops.avgPool2dForward(y, tx, tg);
          core().ops.avgPool2dBackward(dx, tdy, tg);
          expectClose(y.toArray(), theirs.y, { rtol: 0, atol: TOL.tfjsConv.atol * (K * K + 2) }, `avgPool ${what}`,
            refAvgPool(g, x.map(Math.abs)));
          expectClose(dx.toArray(), theirs.dx, { rtol: 0, atol: TOL.tfjsConv.atol * (K * K + 2) }, `avgPool grad ${what}`,
            refAvgPoolBackward(g, dy.map(Math.abs)));
          if (!padded) {
            const direct = tf.tidy(() => tf.grad((xs: tf.Tensor) => tf.sum(tf.mul(tf.avgPool(xs as tf.Tensor4D, [K, K], [S, S], 'valid'),
              tf.tensor4d(dy, [B, g.OH, g.OW, C]))))(tf.tensor4d(x, [B, H, W, C])).dataSync());
            expectClose(dx.toArray(), direct, { rtol: 0, atol: TOL.tfjsConv.atol * (K * K + 2) }, `tf.grad(tf.avgPool) ${what}`,
              refAvgPoolBackward(g, dy.map(Math.abs)));
          }
        }
      }
    }
    expect(tf.memory().numTensors, 'no tf tensors leak').toBeLessThan(50);
  });
});
