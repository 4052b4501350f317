// TensorFlow.js as a training-step contender: the same MLP as tf.variables (W (IN, OUT),
// b (OUT), initialised with problem.initialParams), the same fused KD loss written with
// tf ops and differentiated by tfjs's autograd, and tf.train.adam (with weight decay 0
// our AdamW is Adam; eps set to ours, 1e-8, not tfjs's default 1e-7). One step is
// `optimizer.minimize` inside tf.tidy — what a tfjs user writes — and the loss is read
// back as a number, as our step hands it back.
//
// Autograd needs tfjs's gradient rules, which tfjs-core alone does not register: the runner
// imports @tensorflow/tfjs first, which registers them. The tfjs namespace is injected by the
// runner (core-wasm's setupTfjsNode under Node); this file imports tfjs's types only.
// The wasm and cpu backends run kernels eagerly and synchronously: the work is done when
// the step returns.

import type { Tf } from '@retort/core-wasm/bench/node';
import type { PreparedStep, StepContender, StepProblem } from './step.js';

type TfNamespace = typeof Tf;

export interface TfjsStepOptions {
  /** Column name, e.g. 'tfjs-wasm'. */
  name: string;
  /** A registered tfjs backend name: 'wasm', 'cpu'. */
  backend: string;
  description?: string;
}

export function tfjsStepContender(tf: TfNamespace, o: TfjsStepOptions): StepContender {
  return {
    name: o.name,
    description: o.description
      ?? `tfjs ${o.backend} backend: tf.variable MLP, KD loss in tf ops, tf.train.adam minimize in tf.tidy`,
    activate: async () => {
      if (tf.getBackend() !== o.backend && !(await tf.setBackend(o.backend))) {
        throw new Error(`tfjs backend '${o.backend}' failed to initialise`);
      }
    },
    prepare: (p) => tfjsStep(tf, p),
  };
}

function tfjsStep(tf: TfNamespace, p: StepProblem): PreparedStep {
  const B = p.batch, IN = p.sizes[0]!, C = p.sizes[p.sizes.length - 1]!;
  const variable = (values: Float32Array, shape: number[]): Tf.Variable => {
    const t = tf.tensor(values, shape, 'float32');
    const v = tf.variable(t, true); // unnamed: tfjs names must be unique engine-wide
    t.dispose();
    return v;
  };
  const dense = p.layers.map((l) => ({
    w: variable(p.initialParams.subarray(l.weightOffset, l.weightOffset + l.inputs * l.outputs), [l.inputs, l.outputs]),
    b: variable(p.initialParams.subarray(l.biasOffset, l.biasOffset + l.outputs), [l.outputs]),
  }));
  const vars = dense.flatMap(({ w, b }) => [w, b]);
  const x = tf.tensor2d(p.x, [B, IN]);
  const v = tf.tensor2d(p.teacherLogits, [B, C]);
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(p.labels, 'int32'), C), 'float32'));
  const T = tf.scalar(p.temperature), Bs = tf.scalar(B);
  const hardW = tf.scalar(1 - p.alpha), softW = tf.scalar(p.alpha * p.temperature * p.temperature);
  const held: Tf.Tensor[] = [x, v, onehot, T, Bs, hardW, softW];
  const optimizer = tf.train.adam(p.lr, p.beta1, p.beta2, p.eps);

  // L = [(1 - a) CE(y, softmax(z)) + a T² KL(softmax(v/T) || softmax(z/T))] / B, z = MLP(x)
  const loss = (): Tf.Scalar => {
    let h: Tf.Tensor = x;
    dense.forEach(({ w, b }, i) => {
      h = tf.add(tf.matMul(h, w), b);
      if (i < dense.length - 1) h = tf.relu(h);
    });
    const z = h;
    const lq = tf.logSoftmax(tf.div(z, T)); // student, tempered
    const lp = tf.logSoftmax(tf.div(v, T)); // teacher, tempered (a constant: v is no variable)
    const kl = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)));
    const ce = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z))));
    return tf.div(tf.add(tf.mul(hardW, ce), tf.mul(softW, kl)), Bs);
  };

  return {
    step: () => {
      const cost = tf.tidy(() => optimizer.minimize(loss, true, vars)!);
      const value = cost.dataSync()[0]!;
      cost.dispose();
      return value;
    },
    dispose: () => {
      optimizer.dispose();
      tf.dispose(vars);
      tf.dispose(held);
    },
  };
}
