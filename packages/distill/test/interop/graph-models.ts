// Models for the interop tests of layer graphs: the presets and one custom graph that uses every
// layer with the awkward settings (strides, TensorFlow's asymmetric 'same' padding, groups,
// a depthwise multiplier, a number of padding pixels, average pooling over padding, layer norm
// on a map and on flat features, GELU, residual blocks, dropout, a flatten feeding norms), with
// parameters away from their initial values and batch-norm running statistics from train-mode
// passes over data, as training leaves them.
import type { Core } from '@retort/core-wasm';
import { createModel, type Model } from '../../src/model/index.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { gauss, rand } from '../helpers/random.js';

/** Input [8, 7, 4]: conv 3x3 stride 2 'same' pads 0 before and 1 after along H (8 -> 4), 1 and 1 along W (7 -> 4). */
export const CUSTOM_GRAPH: ModelSpec = {
  type: 'graph', input: [8, 7, 4], layers: [
    { type: 'conv2d', filters: 6, kernel: 3, stride: 2, padding: 'same', groups: 2, bias: true, name: 'stem' },
    { type: 'layerNorm', eps: 1e-5 },
    { type: 'gelu' },
    { type: 'residual', name: 'block', body: [
      { type: 'depthwiseConv2d', kernel: [3, 2], stride: 1, padding: 'same', multiplier: 1, bias: true },
      { type: 'batchNorm', momentum: 0.1, eps: 1e-3 },
      { type: 'relu' },
      { type: 'conv2d', filters: 6, kernel: 1, stride: 1, padding: 'valid', groups: 1, bias: false },
    ], shortcut: [] },
    { type: 'dropout', rate: 0.25 },
    { type: 'avgPool2d', size: 3, stride: 2, padding: 'same' },
    { type: 'depthwiseConv2d', kernel: 3, stride: [1, 2], padding: 1, multiplier: 2, bias: true },
    { type: 'maxPool2d', size: 2, stride: 1, padding: 'same' },
    { type: 'residual', body: [{ type: 'conv2d', filters: 8, kernel: [1, 2], stride: 1, padding: 'same', groups: 1, bias: true }, { type: 'gelu' }],
      shortcut: [{ type: 'conv2d', filters: 8, kernel: 1, stride: 1, padding: 0, groups: 4, bias: false }] },
    { type: 'flatten', name: 'features' },
    { type: 'layerNorm', eps: 1e-4 },
    { type: 'batchNorm', momentum: 0.2, eps: 1e-5 },
    { type: 'dense', units: 12, bias: true },
    { type: 'gelu', name: 'hidden' },
    { type: 'dropout', rate: 0.1 },
    { type: 'dense', units: 5, bias: true },
  ],
};

/** The models every graph interop test checks. */
export const GRAPH_CASES: { name: string; spec: ModelSpec }[] = [
  { name: 'lenet5', spec: { type: 'lenet5', input: [28, 28, 1], classes: 10, width: 1 } },
  { name: 'resnet8', spec: { type: 'resnet8', input: [12, 12, 3], classes: 7, width: 0.5 } },
  { name: 'mobilenet-tiny', spec: { type: 'mobilenet-tiny', input: [16, 16, 3], classes: 6, width: 0.5 } },
  { name: 'custom', spec: CUSTOM_GRAPH },
];

/**
 * A model of `spec` with every parameter random (biases, norm scales and shifts included, so a
 * dropped or misplaced one shows) and batch-norm running statistics from train-mode forwards.
 */
export function preparedModel(core: Core, spec: ModelSpec, seed: number): Model {
  const model = createModel(core, spec);
  model.init(seed);
  const r = rand(seed + 1);
  const params = model.readParams();
  for (const t of model.paramLayout) {
    const kind = t.name.slice(t.name.lastIndexOf('.') + 1);
    for (let i = 0; i < t.length; i++) {
      const u = 2 * r() - 1;
      if (kind === 'gamma') params[t.offset + i] = 1 + 0.5 * u;
      else if (kind === 'b' || kind === 'beta') params[t.offset + i] = 0.3 * u;
      else params[t.offset + i] = params[t.offset + i]! * (1 + 0.2 * u);
    }
  }
  model.writeParams(params);
  if (model.hasState) {
    // running statistics as training leaves them: several train-mode passes over shifted data
    const rows = 16;
    const rng = core.createRng(seed + 2);
    // a text model's input is token ids: random ids of the table's vocabulary instead
    const table = model.paramLayout.find((t) => t.name.endsWith('.table'));
    const vocab = table ? table.shape[0]! : 0;
    const x = core.fromArray(table ? Float32Array.from({ length: rows * model.inputSize }, () => Math.floor(r() * vocab))
      : gauss(r, rows * model.inputSize, 1.5).map((v) => v + 0.3));
    try {
      model.plan(rows);
      for (let k = 0; k < 5; k++) model.forward(x, rows, 'train', rng);
    } finally {
      core.free(x);
      core.free(rng);
    }
  }
  return model;
}

/** Retort's eval-mode logits for `rows` samples of x (channels last). */
export function retortLogits(core: Core, model: Model, x: Float32Array, rows: number): Float32Array {
  const t = core.fromArray(x);
  try {
    model.plan(rows);
    return model.forward(t, rows, 'eval').toArray();
  } finally {
    core.free(t);
  }
}

/** x (N, H, W, C) -> (N, C, H, W). */
export function toNchw(x: Float32Array, shape: readonly number[]): Float32Array {
  if (shape.length !== 3) return x;
  const [H, W, C] = shape as [number, number, number];
  const n = x.length / (H * W * C);
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) {
    for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) {
      out[((b * C + c) * H + h) * W + w] = x[((b * H + h) * W + w) * C + c]!;
    }
  }
  return out;
}

/** max |a - b| and the logit scale max(1, max |b|). */
export function maxError(a: ArrayLike<number>, b: ArrayLike<number>): { err: number; scale: number } {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  let err = 0, scale = 1;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { err, scale };
}

export function bits(a: Float32Array): Uint32Array { return new Uint32Array(a.buffer, a.byteOffset, a.length); }
