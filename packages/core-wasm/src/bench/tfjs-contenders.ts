// TensorFlow.js as contenders. The tfjs namespace is injected by the runner (Node's
// cli.ts today, a Worker tomorrow), which also registers and initialises the backends;
// this file only imports tfjs's types, so the harness carries no tfjs code.
//
// What is timed, and why it is the fair comparison:
// - GEMM "fresh weights": A (the activations) is a resident tensor; B (the weights)
//   is created from its Float32Array inside the timed region and disposed after, which
//   is what a trainer whose weights live outside tfjs pays every step. The
//   "resident" variant keeps B in the backend too: pure kernel time, for reference.
//   The transposed forms are tf.matMul(a, b, transposeA, transposeB).
// - Losses: closed forms with ops inside tf.tidy (faster than tf.grad, which would
//   record a tape and run the backward ops generically). Scalars and the one-hot
//   labels are made once, outside the timed region. Loss and gradient stay as tensors
//   (no readback), which favours tfjs: our kernels hand the loss back as a number.
// - tfjs's wasm and cpu backends run kernels eagerly and synchronously, so the work
//   is done when the op returns; outputs are disposed unread.
// - Convolutions: x and dy are resident tensors; w is created in each timed call like the GEMM's
//   B ("fresh weights"), or kept resident. Each pass is the tfjs kernel that tf.grad would
//   call, run through tf.engine().runKernel: Conv2D / DepthwiseConv2dNative forward,
//   Conv2DBackpropInput / DepthwiseConv2dNativeBackpropInput for dx, Conv2DBackpropFilter /
//   DepthwiseConv2dNativeBackpropFilter for dw. A kernel the backend does not register (tfjs's
//   wasm backend has no Conv2DBackpropFilter) is reported as unavailable, and grouped layers
//   (1 < G < C), which tfjs has no op for, likewise.

import type * as Tf from '@tensorflow/tfjs-core';
import { tfLayer } from './layers.js';
import type { Contender, ConvCase, GemmCase, LayerCase, LossCase, LossOutput, Prepared, Unavailable } from './types.js';

export interface TfjsContenderOptions {
  /** Column name, e.g. 'tfjs-wasm'. */
  name: string;
  /** A registered tfjs backend name: 'wasm', 'cpu'. */
  backend: string;
  /** GEMM: create B anew inside every timed call (default) or keep it resident. */
  freshWeights?: boolean;
  /** Take part in the loss cases (default true). */
  losses?: boolean;
  /** Take part in the convolution cases (default true). */
  conv?: boolean;
  /** Take part in the batch-norm / GELU cases (default true; closed-form ops in tf.tidy, layers.ts). */
  layers?: boolean;
  description?: string;
}

export function tfjsContender(tf: typeof Tf, o: TfjsContenderOptions): Contender {
  const fresh = o.freshWeights ?? true;
  const description = o.description
    ?? `tfjs ${o.backend} backend: tf.matMul with ${fresh ? 'B created from a Float32Array in each call' : 'B resident'}`
      + (o.losses === false ? '' : '; losses as closed-form ops in tf.tidy')
      + (o.conv === false ? '' : `; conv passes as their tfjs kernels, w ${fresh ? 'created in each call' : 'resident'}`)
      + (o.layers === false ? '' : '; batch norm / GELU forward + backward as closed-form ops in tf.tidy');
  return {
    name: o.name,
    description,
    activate: async () => {
      if (tf.getBackend() !== o.backend && !(await tf.setBackend(o.backend))) {
        throw new Error(`tfjs backend '${o.backend}' failed to initialise`);
      }
    },
    gemm: (c) => tfGemm(tf, c, fresh),
    ...(o.losses === false ? {} : { loss: (c: LossCase) => tfLoss(tf, c) }),
    ...(o.conv === false ? {} : { conv: (c: ConvCase) => tfConv(tf, c, o.backend, fresh) }),
    ...(o.layers === false ? {} : { layer: (c: LayerCase) => tfLayer(tf, c, o.backend) }),
  };
}

function tfGemm(tf: typeof Tf, c: GemmCase, fresh: boolean): Prepared<Float32Array> {
  const a = tf.tensor2d(c.a, [c.aRows, c.aCols]);
  const bShape: [number, number] = [c.bRows, c.bCols];
  const resident = fresh ? null : tf.tensor2d(c.b, bShape);
  const product = (): Tf.Tensor => {
    const b = resident ?? tf.tensor2d(c.b, bShape);
    const y = tf.matMul(a, b, c.transA, c.transB);
    if (b !== resident) b.dispose();
    return y;
  };
  return {
    run: () => { product().dispose(); },
    output: () => { const y = product(); const out = Float32Array.from(y.dataSync()); y.dispose(); return out; },
    dispose: () => { a.dispose(); resident?.dispose(); },
  };
}

function tfConv(tf: typeof Tf, c: ConvCase, backend: string, fresh: boolean): Prepared<Float32Array> | Unavailable {
  const g = c.geometry;
  const depthwise = g.G === g.C && g.G > 1;
  if (g.G > 1 && !depthwise) return { unavailable: `tfjs has no grouped convolution (G = ${g.G})` };
  const kernel = depthwise
    ? { forward: 'DepthwiseConv2dNative', backwardData: 'DepthwiseConv2dNativeBackpropInput', backwardFilter: 'DepthwiseConv2dNativeBackpropFilter' }[c.pass]
    : { forward: 'Conv2D', backwardData: 'Conv2DBackpropInput', backwardFilter: 'Conv2DBackpropFilter' }[c.pass];
  if (!tf.getKernel(kernel, backend)) return { unavailable: `tfjs-backend-${backend} has no ${kernel} kernel` };
  // depthwise filters are (KH,KW,C,m) in tfjs: the same memory order as our (KH,KW,1,C*m)
  const wShape: [number, number, number, number] = depthwise ? [g.KH, g.KW, g.C, g.OC / g.C] : [g.KH, g.KW, g.C, g.OC];
  const xShape: [number, number, number, number] = [g.B, g.H, g.W, g.C];
  const x = tf.tensor4d(c.x, xShape), dy = tf.tensor4d(c.dy, [g.B, g.OH, g.OW, g.OC]);
  const resident = fresh ? null : tf.tensor4d(c.w, wShape);
  const common = { strides: [g.SH, g.SW], pad: c.layer.padding, dilations: [1, 1], dataFormat: 'NHWC' };
  const compute = (): Tf.Tensor => {
    if (c.pass === 'backwardFilter') {
      return tf.engine().runKernel(kernel, { x, dy }, { ...common, filterShape: wShape }) as Tf.Tensor;
    }
    const w = resident ?? tf.tensor4d(c.w, wShape);
    const out = c.pass === 'forward'
      ? tf.engine().runKernel(kernel, { x, filter: w }, common) as Tf.Tensor
      : tf.engine().runKernel(kernel, { dy, filter: w }, { ...common, inputShape: xShape }) as Tf.Tensor;
    if (w !== resident) w.dispose();
    return out;
  };
  return {
    run: () => { compute().dispose(); },
    output: () => { const t = compute(); const out = Float32Array.from(t.dataSync()); t.dispose(); return out; },
    dispose: () => { x.dispose(); dy.dispose(); resident?.dispose(); },
  };
}

function tfLoss(tf: typeof Tf, c: LossCase): Prepared<LossOutput> {
  const { rows: B, cols: C, temperature: T, alpha: a } = c;
  const z = tf.tensor2d(c.z, [B, C]);
  const v = tf.tensor2d(c.v, [B, C]);
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(c.labels, 'int32'), C), 'float32'));
  const Ts = tf.scalar(T), Bs = tf.scalar(B), TBs = tf.scalar(T * B);
  const hardW = tf.scalar(1 - a), softW = tf.scalar(a * T * T);
  const hardG = tf.scalar((1 - a) / B), softG = tf.scalar(a * T / B);
  const held = [z, v, onehot, Ts, Bs, TBs, hardW, softW, hardG, softG];

  let compute: () => Tf.Tensor[];
  switch (c.kernel) {
    case 'softmax':
      compute = () => [tf.tidy(() => tf.softmax(tf.div(z, Ts)))];
      break;
    case 'kl':
      // KL(p || q) = sum p (log p - log q); dL/dz = (q - p) / (T B)
      compute = () => tf.tidy(() => {
        const lq = tf.logSoftmax(tf.div(z, Ts));
        const lp = tf.logSoftmax(tf.div(v, Ts));
        const p = tf.exp(lp);
        const loss = tf.div(tf.sum(tf.mul(p, tf.sub(lp, lq))), Bs);
        const grad = tf.div(tf.sub(tf.exp(lq), p), TBs);
        return [loss, grad];
      });
      break;
    case 'kdLoss':
      compute = () => tf.tidy(() => {
        const lq = tf.logSoftmax(tf.div(z, Ts));
        const lp = tf.logSoftmax(tf.div(v, Ts));
        const p = tf.exp(lp);
        const lh = tf.logSoftmax(z);
        const kl = tf.sum(tf.mul(p, tf.sub(lp, lq)));
        const ce = tf.neg(tf.sum(tf.mul(onehot, lh)));
        const loss = tf.div(tf.add(tf.mul(hardW, ce), tf.mul(softW, kl)), Bs);
        const grad = tf.add(tf.mul(hardG, tf.sub(tf.exp(lh), onehot)), tf.mul(softG, tf.sub(tf.exp(lq), p)));
        return [loss, grad];
      });
      break;
  }
  return {
    run: () => { tf.dispose(compute()); },
    output: () => {
      const ts = compute();
      const read = ts.map((t) => Float32Array.from(t.dataSync()));
      tf.dispose(ts);
      return read.length === 1 ? { values: read[0]! } : { loss: read[0]![0]!, values: read[1]! };
    },
    dispose: () => { tf.dispose(held); },
  };
}
