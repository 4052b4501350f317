// TF.js export and import of layer graphs, checked with tfjs-layers itself on tfjs-backend-cpu:
// every export loads with tf.loadLayersModel and predicts Retort's eval-mode logits (channels
// last, the same input), and comes back bit for bit (spec, parameters, batch-norm state);
// LayersModels built in tfjs (Sequential and functional with Add) import and predict what tfjs
// predicts; what Retort cannot represent is refused naming the layer, as a DataFormatError, so
// that runs keep such a model as a TensorFlow.js teacher.
//
// Tolerance: |tfjs - retort| <= 1e-5 * max(1, max |logit|), as for ONNX (onnx-graph.test.ts):
// the same f32 function summed in other orders (tfjs's cpu kernels), with tfjs's erf an
// approximation good to ~1e-7; the largest difference measured on these models is far below it.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { loadCore, type Core } from '@retort/core-wasm';
import { DataFormatError } from '../../src/data/errors.js';
import { createModel } from '../../src/model/index.js';
import { exportTfjsModel, importTfjsModel, tfjsFileHandler } from '../../src/interop/node.js';
import { modelToModelArtifacts, modelToTfjs } from '../../src/interop/tfjs-export.js';
import { modelFromTfjsModel } from '../../src/interop/tfjs-import.js';
import { tempDir } from '../data/helpers.js';
import { gauss, rand } from '../helpers/random.js';
import { bits, GRAPH_CASES, maxError, preparedModel, retortLogits } from './graph-models.js';

const TOLERANCE = 1e-5;

let core: Core;
beforeAll(async () => {
  await tf.setBackend('cpu');
  core = await loadCore();
});

function predict(model: tfl.LayersModel, x: Float32Array, shape: readonly number[], rows: number): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor(x, [rows, ...shape])) as tf.Tensor).dataSync() as Float32Array).slice();
}

/** Sets every weight of a tfjs model to uniform values (BN variances positive), so that biases and statistics are tested. */
function randomizeWeights(model: tfl.LayersModel, seed: number): void {
  const r = rand(seed);
  model.setWeights(model.weights.map((w) => {
    const positive = /moving_variance|gamma/.test(w.originalName);
    return tf.tensor(Float32Array.from({ length: w.shape.reduce((a, b) => a * b!, 1) as number }, () => (positive ? 0.5 + r() : (2 * r() - 1) * 0.5)), w.shape as number[]);
  }));
}

describe('graph exports load in tfjs-layers and predict Retort\'s logits', () => {
  const dir = tempDir();
  for (const [k, c] of GRAPH_CASES.entries()) {
    it(`${c.name}`, async () => {
      const spec = c.name === 'custom'
        // tfjs-layers has no grouped convolution: the custom graph's groups become depthwise or one group
        ? JSON.parse(JSON.stringify(c.spec).replace('"groups":2', '"groups":1').replace('"groups":4', '"groups":1')) : c.spec;
      const model = preparedModel(core, spec, 30 + k);
      try {
        const rows = 5;
        const x = gauss(rand(40 + k), rows * model.inputSize);
        const retort = retortLogits(core, model, x, rows);
        const out = join(dir, c.name);
        await exportTfjsModel(out, model, { normalization: { mean: 0.5, std: 0.25 } });
        const loaded = await tfl.loadLayersModel(tfjsFileHandler(out));
        const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { modelTopology: { class_name: string } };
        expect(json.modelTopology.class_name).toBe(model.graph.nodes.some((n) => n.spec.type === 'add') ? 'Model' : 'Sequential');
        const { err, scale } = maxError(predict(loaded, x, model.inputShape, rows), retort);
        console.log(`${c.name}: max |tfjs - retort| = ${err.toExponential(2)} (logit scale ${scale.toFixed(2)})`);
        expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
        // in memory (browsers: tf.io.fromMemory) the same
        const mem = await tfl.loadLayersModel(tf.io.fromMemory(await modelToModelArtifacts(model)));
        expect(bits(predict(mem, x, model.inputShape, rows))).toEqual(bits(predict(loaded, x, model.inputShape, rows)));

        // back: the same spec, parameters, running statistics and normalisation
        const back = await importTfjsModel(core, out);
        try {
          expect(back.spec).toEqual(model.spec);
          expect(bits(back.model.readParams())).toEqual(bits(model.readParams()));
          expect(bits(back.model.readState())).toEqual(bits(model.readState()));
          expect(back.normalization).toEqual({ mean: 0.5, std: 0.25 });
          expect(back.softmaxDropped).toBe(false);
        } finally {
          back.model.free();
        }
        mem.dispose();
        loaded.dispose();
      } finally {
        model.free();
      }
    });
  }

  it('refuses a grouped convolution that is not depthwise, and pooling over padding pixels', async () => {
    const grouped = createModel(core, { type: 'graph', input: [4, 4, 4], layers: [{ type: 'conv2d', filters: 4, kernel: 1, groups: 2, name: 'g' }, { type: 'flatten' }, { type: 'dense', units: 2 }] });
    const pooled = createModel(core, { type: 'graph', input: [4, 4, 1], layers: [{ type: 'maxPool2d', size: 2, padding: 1, name: 'p' }, { type: 'flatten' }, { type: 'dense', units: 2 }] });
    try {
      await expect(modelToTfjs(grouped)).rejects.toThrow(/^modelToTfjs: conv2d 'g' has 2 groups of 2 channels: tfjs-layers has no grouped convolution/);
      await expect(modelToTfjs(pooled)).rejects.toThrow(/^modelToTfjs: maxPool2d 'p' pads 1 pixels: Keras pools over 'valid' or 'same' windows only/);
    } finally {
      grouped.free();
      pooled.free();
    }
  });

  it('a number of padding pixels becomes ZeroPadding2D before a valid convolution, and imports back as that padding', async () => {
    const m = preparedModel(core, { type: 'graph', input: [5, 6, 2], layers: [
      { type: 'conv2d', filters: 3, kernel: 3, stride: 2, padding: 1, name: 'c' }, { type: 'globalAvgPool' }, { type: 'dense', units: 2 },
    ] }, 3);
    try {
      const { modelJson } = await modelToTfjs(m);
      const layers = (modelJson.modelTopology as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers;
      expect(layers.map((l) => l.class_name)).toEqual(['ZeroPadding2D', 'Conv2D', 'GlobalAveragePooling2D', 'Dense']);
      expect(layers[0]!.config.padding).toEqual([[1, 1], [1, 1]]);
      expect(layers[1]!.config.padding).toBe('valid');
      const tfm = await tfl.loadLayersModel(tf.io.fromMemory(await modelToModelArtifacts(m)));
      const x = gauss(rand(4), 3 * 60);
      const { err, scale } = maxError(predict(tfm, x, [5, 6, 2], 3), retortLogits(core, m, x, 3));
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
      const back = modelFromTfjsModel(core, tfm, 'mem');
      expect(back.spec).toEqual(m.spec);
      expect(bits(back.model.readParams())).toEqual(bits(m.readParams()));
      back.model.free();
      tfm.dispose();
    } finally {
      m.free();
    }
  });
});

describe('LayersModels built in tfjs import as Retort graphs', () => {
  it('a functional ResNet-style block (Conv2D relu, BatchNormalization, Add, DepthwiseConv2D, pooling, gelu, softmax last)', () => {
    const input = tfl.input({ shape: [10, 9, 3] });
    const stem = tfl.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'stem' }).apply(input) as tfl.SymbolicTensor;
    let h = tfl.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, name: 'c1' }).apply(stem) as tfl.SymbolicTensor;
    h = tfl.layers.batchNormalization({ epsilon: 1e-3, name: 'bn1' }).apply(h) as tfl.SymbolicTensor;
    h = tfl.layers.activation({ activation: 'gelu', name: 'act' }).apply(h) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'sum' }).apply([h, stem]) as tfl.SymbolicTensor;
    let t = tfl.layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, name: 'dw' }).apply(sum) as tfl.SymbolicTensor;
    t = tfl.layers.averagePooling2d({ poolSize: 2, padding: 'same', name: 'avg' }).apply(t) as tfl.SymbolicTensor;
    t = tfl.layers.layerNormalization({ name: 'ln' }).apply(t) as tfl.SymbolicTensor;
    t = tfl.layers.maxPooling2d({ poolSize: 2, strides: 1, name: 'max' }).apply(t) as tfl.SymbolicTensor;
    t = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(t) as tfl.SymbolicTensor;
    t = tfl.layers.dropout({ rate: 0.5, name: 'drop' }).apply(t) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ units: 4, activation: 'softmax', name: 'fc' }).apply(t) as tfl.SymbolicTensor;
    const net = tfl.model({ inputs: input, outputs: out });
    randomizeWeights(net, 7);
    const imported = modelFromTfjsModel(core, net, 'resnet.json');
    try {
      expect(imported.softmaxDropped).toBe(true);
      expect(imported.skipped).toEqual(expect.arrayContaining(['drop']));
      expect(imported.spec).toEqual({ type: 'graph', input: [10, 9, 3], layers: [
        { type: 'conv2d', filters: 6, kernel: 3, stride: 2, padding: 'same', groups: 1, bias: true },
        { type: 'relu' },
        { type: 'residual', body: [
          { type: 'conv2d', filters: 6, kernel: 3, stride: 1, padding: 'same', groups: 1, bias: false },
          { type: 'batchNorm', momentum: 0.01, eps: 1e-3 },
          { type: 'gelu' },
        ], shortcut: [] },
        { type: 'depthwiseConv2d', kernel: 2, stride: 1, padding: 'valid', multiplier: 2, bias: true },
        { type: 'avgPool2d', size: 2, stride: 2, padding: 'same' },
        { type: 'layerNorm', eps: 1e-3 },
        { type: 'maxPool2d', size: 2, stride: 1, padding: 'valid' },
        { type: 'globalAvgPool' },
        { type: 'dense', units: 4, bias: true },
      ] });
      const rows = 6, x = gauss(rand(8), rows * 270);
      const probs = predict(net, x, [10, 9, 3], rows);
      const logits = retortLogits(core, imported.model, x, rows);
      const softmax = tf.tidy(() => tf.softmax(tf.tensor2d(logits, [rows, 4])).dataSync() as Float32Array);
      expect(maxError(softmax, probs).err).toBeLessThan(1e-5);
    } finally {
      imported.model.free();
      net.dispose();
    }
  });

  it('refuses layers Retort has no layer for, naming them, as DataFormatErrors', () => {
    const cases: [tfl.LayersModel, RegExp][] = [
      [tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, dilationRate: 2, name: 'dil' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] }),
        /^layer 'dil' \(Conv2D\) cannot be represented by a Retort model \(dilation \[2,2\]\); use it as a teacher with loadTfjsTeacher instead$/],
      [tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'tanh', name: 'th' }), tfl.layers.dense({ units: 2 })] }),
        /^layer 'th' \(Dense\) cannot be represented by a Retort model \(activation "tanh"\)/],
      [tfl.sequential({ layers: [tfl.layers.simpleRNN({ inputShape: [3, 4], units: 3, recurrentInitializer: 'glorotNormal', name: 'rnn' })] }),
        /^layer 'rnn' \(SimpleRNN\) cannot be represented by a Retort model; use it as a teacher/],
      [tfl.sequential({ layers: [tfl.layers.zeroPadding2d({ inputShape: [4, 4, 1], padding: [1, 0], name: 'zp' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] }),
        /^layer 'zp' \(ZeroPadding2D\) cannot be represented by a Retort model \(padding \[\[1,1\],\[0,0\]\]: Retort pads the same number of pixels on every side\)/],
    ];
    const input = tfl.input({ shape: [4] });
    const a = tfl.layers.dense({ units: 4, name: 'a' }).apply(input) as tfl.SymbolicTensor;
    const cat = tfl.layers.concatenate({ name: 'cat' }).apply([a, input]) as tfl.SymbolicTensor;
    cases.push([tfl.model({ inputs: input, outputs: tfl.layers.dense({ units: 2 }).apply(cat) as tfl.SymbolicTensor }), /^layer 'cat' \(Concatenate\) cannot be represented by a Retort model/]);
    for (const [m, message] of cases) {
      let caught: unknown;
      try { modelFromTfjsModel(core, m, 'm.json'); } catch (e) { caught = e; }
      expect(caught).toBeInstanceOf(DataFormatError);
      expect((caught as DataFormatError).file).toBe('m.json');
      expect((caught as DataFormatError).problem).toMatch(message);
      m.dispose();
    }
  });

  it('a Sequential of Dense layers still imports as an MLP', () => {
    const m = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [2, 3] }), tfl.layers.dense({ units: 4, activation: 'relu' }), tfl.layers.dense({ units: 2, useBias: false })] });
    randomizeWeights(m, 2);
    const imported = modelFromTfjsModel(core, m);
    try {
      expect(imported.spec).toEqual({ type: 'mlp', sizes: [6, 4, 2] });
      expect(Array.from(imported.model.readParams().subarray(6 * 4 + 4 + 4 * 2))).toEqual([0, 0]); // no bias: zeros
    } finally {
      imported.model.free();
      m.dispose();
    }
  });
});

describe('files on disk', () => {
  const dir = tempDir();
  it('a conv folder that importTfjsModel refuses is still a TF.js model (the teacher fallback of runs)', async () => {
    const m = tfl.sequential({ layers: [tfl.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3, activation: 'elu', name: 'elu' }), tfl.layers.flatten(), tfl.layers.dense({ units: 2 })] });
    const path = join(dir, 'elu');
    mkdirSync(path);
    await m.save(tf.io.withSaveHandler(async (a) => {
      writeFileSync(join(path, 'weights.bin'), new Uint8Array(a.weightData as ArrayBuffer));
      writeFileSync(join(path, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] }));
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    m.dispose();
    await expect(importTfjsModel(core, path)).rejects.toThrow(DataFormatError);
    await expect(importTfjsModel(core, path)).rejects.toThrow(/layer 'elu' \(Conv2D\) cannot be represented by a Retort model \(activation "elu"\)/);
  });
});
