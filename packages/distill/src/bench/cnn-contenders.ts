// Contenders of the CNN step benchmark (./cnn-step.ts).
//   Retort (simd, scalar, js): the trainer's step on a Model built by createModel — forward in
//     train mode, core.distillationLoss (the fused KD kernel), zeroGrad + backward, AdamW.
//   TensorFlow.js: the same network written with tf ops from the compiled graph (tf.conv2d with
//     our HWIO weights, tf.maxPool / tf.avgPool, reshape, matMul), the same loss in tf ops, and
//     tf.train.adam minimize inside tf.tidy; its forward pass is the same ops without gradients.
//     Whether a backend can train is read from tfjs's kernel registry: tfjs-backend-wasm has no
//     'Conv2DBackpropFilter' (a step there throws "Kernel 'Conv2DBackpropFilter' not registered"),
//     recorded as the reason.
import type { Core } from '@retort/core-wasm';
import type { Tf } from '@retort/core-wasm/bench/node';
import { createModel } from '../model/index.js';
import { createOptimizer } from '../optim/optimizer.js';
import { pairOf, type Conv2dSpec, type PoolSpec } from '../model/layer-spec.js';
import type { CnnContender, CnnStepProblem, PreparedCnn } from './cnn-step.js';

export function retortCnnContender(core: Core, name: string = core.backend): CnnContender {
  return {
    name,
    description: `retort ${core.backend}: createModel forward (train), core.distillationLoss, backward, AdamW`,
    prepare: (p) => retortCnn(core, p),
  };
}

function retortCnn(core: Core, p: CnnStepProblem): PreparedCnn {
  const B = p.batch, C = p.graph.classes;
  const model = createModel(core, p.model);
  const opt = createOptimizer(core, model.paramCount, { type: 'adamw', lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weightDecay: 0 });
  const x = core.fromArray(p.x), y = core.allocI32(B).set(p.labels), v = core.fromArray(p.teacherLogits), dz = core.alloc(B * C);
  model.writeParams(p.initialParams);
  model.plan(B);
  const kd = { temperature: p.temperature, alpha: p.alpha, scaleT2: true };
  let last: Float32Array = new Float32Array(0);
  return {
    step: () => {
      const z = model.forward(x, B, 'train');
      core.fill(dz, B * C, 0);
      const loss = core.distillationLoss(dz, z, v, y, B, C, kd);
      model.zeroGrad();
      model.backward(dz, B);
      opt.step(model.params, model.grads, p.lr);
      return loss;
    },
    forward: () => { const z = model.forward(x, B, 'eval'); last = z.view().subarray(0, B * C); return last[0]!; },
    logits: () => last.slice(),
    dispose: () => { opt.free(); model.free(); for (const t of [x, y, v, dz]) core.free(t); },
  };
}

type TfNamespace = typeof Tf;

export function tfjsCnnContender(tf: TfNamespace, o: { name: string; backend: string }): CnnContender {
  return {
    name: o.name,
    description: `tfjs ${o.backend} backend: tf.conv2d / tf.maxPool / tf.matMul network, KD loss in tf ops, tf.train.adam minimize in tf.tidy`,
    activate: async () => {
      if (tf.getBackend() !== o.backend && !(await tf.setBackend(o.backend))) throw new Error(`tfjs backend '${o.backend}' failed to initialise`);
    },
    prepare: (p) => tfjsCnn(tf, p),
  };
}

function tfjsCnn(tf: TfNamespace, p: CnnStepProblem): PreparedCnn {
  const B = p.batch, C = p.graph.classes;
  const vars = new Map<string, Tf.Variable>();
  for (const t of p.graph.params) {
    const tensor = tf.tensor(p.initialParams.subarray(t.offset, t.offset + t.length), [...t.shape], 'float32');
    vars.set(t.name, tf.variable(tensor, true));
    tensor.dispose();
  }
  const x = tf.tensor(p.x, [B, ...p.graph.inputShape], 'float32');
  const v = tf.tensor2d(p.teacherLogits, [B, C]);
  const onehot = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(p.labels, 'int32'), C), 'float32'));
  const T = tf.scalar(p.temperature), Bs = tf.scalar(B), hardW = tf.scalar(1 - p.alpha), softW = tf.scalar(p.alpha * p.temperature * p.temperature);
  const held: Tf.Tensor[] = [x, v, onehot, T, Bs, hardW, softW];
  const optimizer = tf.train.adam(p.lr, p.beta1, p.beta2, p.eps);
  const param = (node: string, kind: string): Tf.Variable | undefined => vars.get(`${node}.${kind}`);

  const net = (): Tf.Tensor => {
    const outs: Tf.Tensor[] = [];
    for (const n of p.graph.nodes) {
      const input = n.inputs[0]! < 0 ? x : outs[n.inputs[0]!]!;
      const sp = n.spec;
      let out: Tf.Tensor;
      switch (sp.type) {
        case 'conv2d': {
          const c = sp as Conv2dSpec;
          if (c.groups !== 1 || typeof c.padding === 'number') throw new Error('tfjs cnn contender: grouped or explicitly padded convolutions are not written out');
          out = tf.conv2d(input as Tf.Tensor4D, param(n.name, 'w')! as unknown as Tf.Tensor4D, pairOf(c.stride), c.padding);
          const b = param(n.name, 'b');
          if (b) out = tf.add(out, b);
          break;
        }
        case 'maxPool2d': case 'avgPool2d': {
          const q = sp as PoolSpec;
          if (typeof q.padding === 'number') throw new Error('tfjs cnn contender: explicitly padded pooling is not written out');
          const f = sp.type === 'maxPool2d' ? tf.maxPool : tf.avgPool;
          out = f(input as Tf.Tensor4D, pairOf(q.size), pairOf(q.stride ?? q.size), q.padding);
          break;
        }
        case 'relu': out = tf.relu(input); break;
        case 'flatten': out = tf.reshape(input, [-1, n.outShape[0]!]); break;
        case 'globalAvgPool': out = tf.mean(input, [1, 2]); break;
        case 'dense': {
          out = tf.matMul(input as Tf.Tensor2D, param(n.name, 'w')! as unknown as Tf.Tensor2D);
          const b = param(n.name, 'b');
          if (b) out = tf.add(out, b);
          break;
        }
        default: throw new Error(`tfjs cnn contender: layer ${sp.type} is not written out`);
      }
      outs.push(out);
    }
    return outs[outs.length - 1]!;
  };
  const loss = (): Tf.Scalar => {
    const z = net();
    const lq = tf.logSoftmax(tf.div(z, T)), lp = tf.logSoftmax(tf.div(v, T));
    const kl = tf.sum(tf.mul(tf.exp(lp), tf.sub(lp, lq)));
    const ce = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(z))));
    return tf.div(tf.add(tf.mul(hardW, ce), tf.mul(softW, kl)), Bs);
  };
  const step = (): number => {
    const cost = tf.tidy(() => optimizer.minimize(loss, true, [...vars.values()])!);
    const value = cost.dataSync()[0]!;
    cost.dispose();
    return value;
  };
  // can this backend train it? Its kernel registry says whether the gradient kernels exist (a
  // failed attempt would leave tfjs's gradient tape in a half-open scope, leaking its tensors)
  const needed = new Set<string>();
  for (const n of p.graph.nodes) {
    if (n.spec.type === 'conv2d') { needed.add('Conv2DBackpropFilter'); if (n.inputs[0]! >= 0) needed.add('Conv2DBackpropInput'); }
    if (n.spec.type === 'maxPool2d') needed.add('MaxPoolGrad');
    if (n.spec.type === 'avgPool2d') needed.add('AvgPoolGrad');
  }
  const backend = tf.getBackend();
  const missing = [...needed].find((k) => !tf.getKernel(k, backend));
  const cannotTrain = missing ? `Kernel '${missing}' not registered for backend '${backend}'` : undefined;
  let last: Float32Array = new Float32Array(0);
  return {
    ...(cannotTrain === undefined ? { step } : { cannotTrain }),
    forward: () => {
      const z = tf.tidy(() => net());
      last = z.dataSync() as Float32Array;
      z.dispose();
      return last[0]!;
    },
    logits: () => last.slice(),
    dispose: () => { optimizer.dispose(); tf.dispose([...vars.values()]); tf.dispose(held); },
  };
}
