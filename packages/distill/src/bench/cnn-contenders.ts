// Contenders of the CNN step benchmark (./cnn-step.ts).
//   Retort (simd, scalar, js): the trainer's step on a Model built by createModel — forward in
//     train mode, core.distillationLoss (the fused KD kernel), zeroGrad + backward, AdamW.
//   TensorFlow.js: the same network written with tf ops from the compiled graph (tf.conv2d with
//     our HWIO weights, tf.maxPool / tf.avgPool, reshape, matMul), the same loss in tf ops, and
//     tf.train.adam minimize inside tf.tidy; its forward pass is the same ops without gradients.
//     Whether a backend can train is read from tfjs's kernel registry: tfjs-backend-wasm has no
//     'Conv2DBackpropFilter' (a step there throws "Kernel 'Conv2DBackpropFilter' not registered"),
//     recorded as the reason.
//   The same contender writes out the text layers (./cli.ts runs it on transformer-s): tf.gather for
//     the embedding (+ positions), layer norm from tf.moments, attention as batched tf.matMul over
//     (B, H, L, dh) with tf.softmax (a causal mask added when asked), GELU from tf.erf, residual
//     adds, mean pooling over the tokens, dense layers over the last axis. tf.gather's gradient is
//     UnsortedSegmentSum, which tfjs-backend-wasm does not register: there the embedding table and
//     positions are left out of the trained variables (frozen), so tfjs-wasm's step does less work
//     than Retort's, which trains them; the description says so.
import type { Core } from '@retort/core-wasm';
import type { Tf } from '@retort/core-wasm/bench/node';
import { createModel } from '../model/index.js';
import { createOptimizer } from '../optim/optimizer.js';
import { pairOf, type AttentionSpec, type Conv2dSpec, type DenseSpec, type EmbeddingSpec, type PoolSpec, type SequencePoolSpec } from '../model/layer-spec.js';
import type { CnnContender, CnnStepProblem, PreparedCnn } from './cnn-step.js';

export function retortCnnContender(core: Core, name: string = core.backend): CnnContender {
  return {
    name,
    description: `retort ${core.backend}: createModel forward (train), core.distillationLoss, backward, AdamW`,
    prepare: (p) => retortCnn(core, p),
  };
}

/** The Retort step of a CNN or text problem on `core`, made ready (what the contender prepares). */
export function retortCnn(core: Core, p: CnnStepProblem): PreparedCnn {
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
    description: `tfjs ${o.backend} backend: the network in tf ops (conv2d, pooling, matMul; text: gather, moments, batched matMul + softmax), KD loss in tf ops, tf.train.adam minimize in tf.tidy`,
    activate: async () => {
      if (tf.getBackend() !== o.backend && !(await tf.setBackend(o.backend))) throw new Error(`tfjs backend '${o.backend}' failed to initialise`);
    },
    prepare: (p) => tfjsCnn(tf, p),
  };
}

function tfjsCnn(tf: TfNamespace, p: CnnStepProblem): PreparedCnn {
  const B = p.batch, C = p.graph.classes;
  const vars = new Map<string, Tf.Variable>();
  const text = p.graph.nodes[0]!.spec.type === 'embedding';
  // an embedding trains only where gather's gradient kernel exists (see the header)
  const frozenEmbedding = text && !tf.getKernel('UnsortedSegmentSum', tf.getBackend());
  for (const t of p.graph.params) {
    const tensor = tf.tensor(p.initialParams.subarray(t.offset, t.offset + t.length), [...t.shape], 'float32');
    const frozen = frozenEmbedding && p.graph.nodes[0]!.params.some((q) => q.name === t.name);
    vars.set(t.name, tf.variable(tensor, !frozen));
    tensor.dispose();
  }
  const trained = [...vars.values()].filter((v) => v.trainable);
  const x = text ? tf.tensor(Int32Array.from(p.x), [B, ...p.graph.inputShape], 'int32') : tf.tensor(p.x, [B, ...p.graph.inputShape], 'float32');
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
        case 'embedding': {
          const e = sp as EmbeddingSpec;
          out = tf.gather(param(n.name, 'table')!, input as Tf.Tensor2D);
          if (e.positions) out = tf.add(out, param(n.name, 'pos')!);
          break;
        }
        case 'layerNorm': {
          const { mean, variance } = tf.moments(input, -1, true);
          const eps = (sp as { eps: number }).eps;
          out = tf.add(tf.mul(tf.mul(tf.sub(input, mean), tf.rsqrt(tf.add(variance, eps))), param(n.name, 'gamma')!), param(n.name, 'beta')!);
          break;
        }
        case 'gelu': out = tf.mul(tf.mul(input, 0.5), tf.add(1, tf.erf(tf.div(input, Math.SQRT2)))); break;
        case 'add': out = tf.add(input, outs[n.inputs[1]!]!); break;
        case 'sequencePool': {
          if ((sp as SequencePoolSpec).mode !== 'mean') throw new Error('tfjs contender: first-token pooling is not written out');
          out = tf.mean(input, 1); // the problem has no padding: every position is a token
          break;
        }
        case 'attention': {
          const a = sp as AttentionSpec;
          const [L, D] = n.inShape as [number, number], H = a.heads, dh = D / H;
          const qkv = tf.add(tf.matMul(tf.reshape(input, [-1, D]) as Tf.Tensor2D, param(n.name, 'wqkv')! as unknown as Tf.Tensor2D), param(n.name, 'bqkv')!);
          const heads = (t: Tf.Tensor): Tf.Tensor4D => tf.transpose(tf.reshape(t, [-1, L, H, dh]), [0, 2, 1, 3]) as Tf.Tensor4D;
          const [q, k, v] = tf.split(qkv, 3, 1).map(heads) as [Tf.Tensor4D, Tf.Tensor4D, Tf.Tensor4D];
          let scores: Tf.Tensor = tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh));
          if (a.causal) scores = tf.add(scores, tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([L, L]), -1, 0)), -1e9));
          const ctx = tf.reshape(tf.transpose(tf.matMul(tf.softmax(scores), v), [0, 2, 1, 3]), [-1, D]) as Tf.Tensor2D;
          out = tf.reshape(tf.add(tf.matMul(ctx, param(n.name, 'wo')! as unknown as Tf.Tensor2D), param(n.name, 'bo')!), [-1, L, D]);
          break;
        }
        case 'flatten': out = tf.reshape(input, [-1, n.outShape[0]!]); break;
        case 'globalAvgPool': out = tf.mean(input, [1, 2]); break;
        case 'dense': {
          // over the last axis: a sequence (B, L, D) is (B·L, D) rows
          const units = (sp as DenseSpec).units, seq = n.inShape.length === 2;
          const rows = seq ? tf.reshape(input, [-1, n.inShape[1]!]) : input;
          out = tf.matMul(rows as Tf.Tensor2D, param(n.name, 'w')! as unknown as Tf.Tensor2D);
          const b = param(n.name, 'b');
          if (b) out = tf.add(out, b);
          if (seq) out = tf.reshape(out, [-1, n.inShape[0]!, units]);
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
    const cost = tf.tidy(() => optimizer.minimize(loss, true, trained)!);
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
    ...(frozenEmbedding && cannotTrain === undefined ? { note: `embedding frozen: no 'UnsortedSegmentSum' kernel (gather's gradient) on '${backend}'` } : {}),
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
