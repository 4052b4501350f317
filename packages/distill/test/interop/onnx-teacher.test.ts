// Any ONNX model as a teacher (src/interop/onnx-teacher.ts): a graph with an operator Retort does
// not represent (here Relu written as LeakyRelu with alpha 0, the same function) runs in
// onnxruntime-web and gives the logits the same network gives natively, to 1e-5, whether it takes
// NCHW images (a CNN as PyTorch exports it) or rows; a softmax output becomes log-probabilities;
// a graph whose input or output does not fit the data is refused, naming both shapes.
import { loadCore, type Core } from '@retort/core-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { fullView, makeDataset, normalisedRows, type Dataset } from '../../src/data/dataset.js';
import { DataFormatError } from '../../src/data/errors.js';
import { loadMnist } from '../../src/data/mnist.js';
import { exportOnnx } from '../../src/interop/onnx-export.js';
import { proto } from '../../src/interop/onnx-format.js';
import { importOnnx } from '../../src/interop/onnx-import.js';
import { OnnxTeacher } from '../../src/interop/onnx-teacher.js';
import { createModel, type Model } from '../../src/model/index.js';
import { parseModelSpec, resolveModelSpec } from '../../src/model/spec.js';
import { predictLogits } from '../../src/train/predict.js';

let core: Core;
let mnist: Dataset;
beforeAll(async () => {
  core = await loadCore({ backend: 'simd' });
  const full = loadMnist().test;
  mnist = makeDataset(full.x.slice(0, 300 * 784), [300, 28, 28], full.y.slice(0, 300), { xFile: 'x', yFile: 'y' }, { name: 'mnist300', classes: 10 });
});

function model(spec: string, seed: number): Model {
  const m = createModel(core, resolveModelSpec(parseModelSpec(spec), { inputShape: [28, 28, 1], classes: 10 }));
  m.init(seed);
  return m;
}

/** The model's ONNX export with every Relu written as LeakyRelu(alpha = 0), and optionally a Softmax appended. */
function unrepresentable(m: Model, softmax = false): Uint8Array {
  const p = proto.ModelProto.decode(exportOnnx(m));
  for (const n of p.graph!.node!) {
    if (n.opType === 'Relu') { n.opType = 'LeakyRelu'; n.attribute = [{ name: 'alpha', type: 1, f: 0 }]; }
  }
  if (softmax) {
    const g = p.graph!, out = g.output![0]!.name!;
    for (const n of g.node!) n.output = n.output!.map((o) => (o === out ? `${out}_pre` : o));
    g.node!.push({ opType: 'Softmax', input: [`${out}_pre`], output: [out], attribute: [{ name: 'axis', type: 2, i: 1 }] });
  }
  return proto.ModelProto.encode(p).finish();
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('OnnxTeacher', () => {
  it('runs a CNN Retort cannot import (NCHW, as PyTorch exports) in onnxruntime and gives its native logits to 1e-5', async () => {
    const m = model('lenet5:width=0.5', 4);
    try {
      const bytes = unrepresentable(m);
      expect(() => importOnnx(bytes, 'cnn.onnx')).toThrow(DataFormatError);
      const t = await OnnxTeacher.load(bytes, 'cnn.onnx', mnist.sampleShape, 10);
      expect(t.layout).toBe('nchw');
      await t.prepare([mnist]);
      const view = fullView(mnist);
      const ours = predictLogits(core, m, view);
      expect(maxDiff(t.logits(view), ours)).toBeLessThan(1e-5);
      // rows of a view, in the view's order
      const some = { dataset: mnist, indices: Int32Array.from([7, 3, 299]) };
      expect(Array.from(t.logits(some))).toEqual([7, 3, 299].flatMap((r) => Array.from(t.logits(view).subarray(r * 10, r * 10 + 10))));
      t.dispose();
    } finally {
      m.free();
    }
  });

  it('runs an MLP on rows, applies the declared scale, mean and std, and turns a softmax output into log-probabilities', async () => {
    const m = model('mlp:784-24-10', 9);
    try {
      const t = await OnnxTeacher.load(unrepresentable(m, true), 'mlp.onnx', mnist.sampleShape, 10, { mean: 0.1, std: 0.5 });
      expect(t.layout).toBe('flat');
      await t.prepare([mnist]);
      const ours = predictLogits(core, m, fullView(mnist), { mean: 0.1, std: 0.5 });
      const logSoftmax = new Float32Array(ours.length);
      for (let r = 0; r < 300; r++) {
        const row = ours.subarray(r * 10, r * 10 + 10);
        const mx = Math.max(...row), lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
        for (let c = 0; c < 10; c++) logSoftmax[r * 10 + c] = row[c]! - lse;
      }
      expect(maxDiff(t.logits(fullView(mnist)), logSoftmax)).toBeLessThan(1e-5);
      t.dispose();
    } finally {
      m.free();
    }
  });

  it('run inside the step, gives its logits and named intermediate tensors (NCHW maps as NHWC taps) as the native model does', async () => {
    const m = model('lenet5:width=0.5', 6);
    try {
      const t = await OnnxTeacher.load(unrepresentable(m), 'cnn.onnx', mnist.sampleShape, 10, {}, ['conv1.y', 'fc1.y']);
      const view = { dataset: mnist, indices: Int32Array.from([0, 1, 2, 3, 4]) };
      const x = normalisedRows(view, { mean: 0, std: 1 });
      const step = await t.stepTeacher(x.subarray(0, 784));
      expect([step.tapShape('conv1.y'), step.tapShape('fc1.y')]).toEqual([m.tapShape('conv1'), m.tapShape('fc1')]);
      expect(() => step.tapShape('fc2.y')).toThrow(/no tap 'fc2.y'/);
      const r = await step.run(x, 5);
      m.plan(5);
      const xt = core.alloc(5 * 784);
      xt.view().set(x);
      const z = m.forward(xt, 5, 'eval');
      expect(maxDiff(r.logits, z.view().slice(0, 50))).toBeLessThan(1e-5);
      for (const [onnxName, tap] of [['conv1.y', 'conv1'], ['fc1.y', 'fc1']] as const) {
        expect(maxDiff(r.taps.get(onnxName)!, m.tapValues(tap, 5).slice())).toBeLessThan(1e-5);
      }
      core.free(xt);
      await expect(OnnxTeacher.load(unrepresentable(m), 'cnn.onnx', mnist.sampleShape, 10, {}, ['nope'])).rejects.toThrow(/cnn\.onnx has no tensor 'nope' to use as a tap; its nodes produce 'conv2d1\.y'/);
      t.dispose();
    } finally {
      m.free();
    }
  });

  it('refuses a graph whose input or output does not fit the data, naming both shapes, before running anything', async () => {
    const m = model('lenet5:width=0.5', 1);
    try {
      const bytes = unrepresentable(m);
      await expect(OnnxTeacher.load(bytes, 'cnn.onnx', [16, 16, 3], 10)).rejects.toThrow(/teacher cnn.onnx takes input \[\?, 1, 28, 28\].*samples are \[16, 16, 3\]/);
      await expect(OnnxTeacher.load(bytes, 'cnn.onnx', [28, 28], 4)).rejects.toThrow(/outputs \[\?, 10\] but the student has 4 classes/);
      await expect(OnnxTeacher.load(bytes, 'cnn.onnx', [28, 28], 10, { layout: 'nhwc' })).rejects.toThrow(/as NHWC \[batch, 28, 28, 1\]/);
      await expect(OnnxTeacher.load(bytes, 'cnn.onnx', [28, 28], 10, { mean: [0.1, 0.2] })).rejects.toThrow(/mean has 2 values; the data has 1 channels/);
      await expect(OnnxTeacher.load(bytes.subarray(0, 100), 'cut.onnx', [28, 28], 10)).rejects.toThrow(DataFormatError);
    } finally {
      m.free();
    }
  });
});
