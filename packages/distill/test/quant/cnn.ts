// A small convolutional model trained for a few steps on synthetic images, for the int8 graph
// tests: every kind of op the int8 path has (a convolution with a batch norm and a ReLU that fold
// and fuse, a residual block with a depthwise and a grouped 1x1 convolution, a ReLU after the add,
// max pooling, a batch norm after pooling that cannot fold (an affine op), a strided grouped 3x3
// convolution (block-diagonal weights), average pooling with 'same' padding, global average
// pooling, a dense layer with a batch norm on flat features, and the logits).
import type { Core } from '@retort/core-wasm';
import { Model } from '../../src/model/model.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { createOptimizer } from '../../src/optim/optimizer.js';

export const CNN: GraphSpec = {
  type: 'graph', input: [8, 8, 2], layers: [
    { type: 'conv2d', filters: 4, kernel: 3, stride: 1, padding: 'same', groups: 1, bias: true, name: 'stem' },
    { type: 'batchNorm', momentum: 0.3, eps: 1e-5 },
    { type: 'relu' },
    {
      type: 'residual', name: 'res', shortcut: [], body: [
        { type: 'depthwiseConv2d', kernel: 3, stride: 1, padding: 'same', multiplier: 1, bias: false },
        { type: 'batchNorm', momentum: 0.3, eps: 1e-5 },
        { type: 'relu' },
        { type: 'conv2d', filters: 4, kernel: 1, stride: 1, padding: 'valid', groups: 2, bias: false },
        { type: 'batchNorm', momentum: 0.3, eps: 1e-3 },
      ],
    },
    { type: 'relu' },
    { type: 'maxPool2d', size: 2, padding: 'valid' },
    { type: 'batchNorm', momentum: 0.3, eps: 1e-5, name: 'pooledNorm' },
    { type: 'conv2d', filters: 6, kernel: 3, stride: 2, padding: 'same', groups: 2, bias: true },
    { type: 'relu' },
    { type: 'avgPool2d', size: 2, stride: 1, padding: 'same' },
    { type: 'globalAvgPool' },
    { type: 'dense', units: 8, bias: true },
    { type: 'batchNorm', momentum: 0.3, eps: 1e-5 },
    { type: 'relu' },
    { type: 'dense', units: 5, bias: true },
  ],
};

export const IMAGE = 8 * 8 * 2, CLASSES = 5;

/** Images whose class is the quadrant (or the centre) that is brighter in channel 0, with noise in both channels. */
export function images(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0;
  const uniform = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  const x = new Float32Array(n * IMAGE), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    for (let h = 0; h < 8; h++) {
      for (let w = 0; w < 8; w++) {
        const quadrant = c === 4 ? (h >= 2 && h < 6 && w >= 2 && w < 6) : ((h < 4 ? 0 : 2) + (w < 4 ? 0 : 1)) === c;
        x[i * IMAGE + (h * 8 + w) * 2] = (quadrant ? 1.5 : 0) + 0.8 * (uniform() - 0.5) * 2;
        x[i * IMAGE + (h * 8 + w) * 2 + 1] = 2 * (uniform() - 0.5);
      }
    }
  }
  return { x, y };
}

/** The CNN (or `spec`) trained `steps` AdamW steps in train mode, so weights and batch-norm running statistics are not their initial values. */
export function trainCnn(core: Core, spec: GraphSpec = CNN, steps = 120): Model {
  const model = new Model(core, spec);
  model.init(3);
  const batch = 32, data = images(batch * 8, 77);
  model.plan(batch);
  const opt = createOptimizer(core, model.paramCount, { type: 'adamw', lr: 0.02 });
  const tx = core.alloc(batch * IMAGE), ty = core.allocI32(batch), dz = core.alloc(batch * CLASSES);
  const rng = core.createRng(11);
  for (let step = 0; step < steps; step++) {
    const b = (step % 8) * batch;
    tx.set(data.x.subarray(b * IMAGE, (b + batch) * IMAGE));
    ty.set(data.y.subarray(b, b + batch));
    model.zeroGrad();
    core.fill(dz, batch * CLASSES, 0);
    core.crossEntropy(dz, model.forward(tx, batch, 'train', rng), ty, batch, CLASSES);
    model.backward(dz, batch);
    opt.step(model.params, model.grads, 0.02);
  }
  for (const t of [tx, ty, dz, rng]) core.free(t);
  opt.free();
  return model;
}

/** The f32 model's eval-mode logits. */
export function floatLogits(model: Model, x: Float32Array, rows: number): Float32Array {
  const core = model.core;
  model.plan(rows);
  const tx = core.fromArray(x);
  const out = model.forward(tx, rows, 'eval').toArray();
  core.free(tx);
  return out;
}

export const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

export function argmax(logits: ArrayLike<number>, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > logits[r * cols + best]!) best = c;
    out[r] = best;
  }
  return out;
}
