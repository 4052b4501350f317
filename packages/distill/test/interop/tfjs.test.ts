import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadCore, type Core } from '@retort/core-wasm';
import { fullView, makeDataset, slice, type Dataset } from '../../src/data/dataset.js';
import { DataFormatError } from '../../src/data/errors.js';
import { Mlp } from '../../src/model/mlp.js';
import { predictLogits } from '../../src/train/predict.js';
import { numberToF16Bits } from '../../src/interop/fp16.js';
import {
  cachedTfjsTeacherLogits, exportTfjsModel, importTfjsMlp, loadTfjsModel, loadTfjsTeacher, readTfjsModel, tfjsFileHandler, useTfjsBackend,
} from '../../src/interop/node.js';
import { allRows } from '../../src/node/teacher-outputs.js';
import { mlpFromTfjsModel, mlpToModelArtifacts, parseTfjsModelJson } from '../../src/interop/tfjs-layers.js';
import { expectDataError as expectFileError, tempDir } from '../data/helpers.js';
import { rand } from '../helpers/random.js';

function expectDataError(fn: () => unknown, file: string, problem: RegExp): DataFormatError {
  const e = expectFileError(fn, file, /./);
  expect(e.problem).toMatch(problem);
  return e;
}

async function expectDataErrorAsync(p: Promise<unknown>, file: string, problem: RegExp): Promise<DataFormatError> {
  let caught: unknown;
  try { await p; } catch (e) { caught = e; }
  return expectDataError(() => { throw caught ?? new Error('did not throw'); }, file, problem);
}


/** Sets every weight of a tfjs model to uniform values in [-a, a] (biases too, so they are tested). */
function randomizeWeights(model: tfl.LayersModel, seed: number, a = 0.5): void {
  const r = rand(seed);
  model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => (2 * r() - 1) * a), w.shape)));
}

interface SaveOptions {
  /** Split the weight data into this many shards (weights may straddle them). */
  shards?: number;
  /** Store every weight as float16 ('float16') or uint8-quantized ('uint8'). */
  quantize?: 'float16' | 'uint8';
}

/** Saves a tfjs model in the tfjs file format with a custom save handler (what tfjs-node's file:// does). */
async function saveTfjs(model: tfl.LayersModel, dir: string, opts: SaveOptions = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    const specs = artifacts.weightSpecs!.map((s) => ({ ...s }));
    let data = new Uint8Array(artifacts.weightData as ArrayBuffer);
    if (opts.quantize) {
      const f32 = new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4);
      const parts: number[] = [];
      let at = 0;
      for (const s of specs) {
        const n = s.shape.reduce((p, d) => p * d, 1);
        const values = f32.subarray(at, at + n);
        at += n;
        if (opts.quantize === 'float16') {
          for (const v of values) { const h = numberToF16Bits(v); parts.push(h & 0xff, h >>> 8); }
          s.quantization = { dtype: 'float16' };
        } else {
          let min = Infinity, max = -Infinity;
          for (const v of values) { min = Math.min(min, v); max = Math.max(max, v); }
          const scale = max > min ? (max - min) / 255 : 1;
          for (const v of values) parts.push(Math.round((v - min) / scale));
          s.quantization = { dtype: 'uint8', scale, min };
        }
      }
      data = Uint8Array.from(parts);
    }
    const k = opts.shards ?? 1;
    const size = Math.ceil(data.length / k);
    const paths = Array.from({ length: k }, (_, i) => `group1-shard${i + 1}of${k}.bin`);
    paths.forEach((p, i) => writeFileSync(join(dir, p), data.subarray(i * size, (i + 1) * size)));
    const json = { format: 'layers-model', generatedBy: artifacts.generatedBy, convertedBy: null, modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: paths.map((p) => `./${p}`), weights: specs }] };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
}

/** (x * scale - mean) / std over the view, shaped [n, ...shape]. */
function prepared(ds: Dataset, scale: number, mean: number, std: number, shape: number[]): tf.Tensor {
  return tf.tensor(Float32Array.from(ds.x, (v) => (v * scale - mean) / std), [ds.count, ...shape]);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function softmaxRows(z: Float32Array, C: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let r = 0; r < z.length / C; r++) {
    let mx = -Infinity, s = 0;
    for (let c = 0; c < C; c++) mx = Math.max(mx, z[r * C + c]!);
    for (let c = 0; c < C; c++) s += (out[r * C + c] = Math.exp(z[r * C + c]! - mx));
    for (let c = 0; c < C; c++) out[r * C + c]! /= s;
  }
  return out;
}

/** n u8 images of h x w (deterministic), labels mod classes. */
function images(n: number, h: number, w: number, classes: number, seed = 1): Dataset {
  const r = rand(seed);
  const x = Uint8Array.from({ length: n * h * w }, () => Math.floor(r() * 256));
  const y = Int32Array.from({ length: n }, (_, i) => i % classes);
  return makeDataset(x, [n, h, w], y, { xFile: 'x', yFile: 'y' }, { name: 'images', classes });
}

let core: Core;
beforeAll(async () => {
  expect(await useTfjsBackend('wasm')).toBe('wasm');
  core = await loadCore({ backend: 'js' });
});

describe('tfjs LayersModel teachers', () => {
  const dir = tempDir();

  it('runs a Dense teacher saved in two shards; logits equal tf predict', async () => {
    const m = tfl.sequential({ layers: [
      tfl.layers.flatten({ inputShape: [6, 6] }),
      tfl.layers.dense({ units: 16, activation: 'relu' }),
      tfl.layers.dense({ units: 5 }),
    ] });
    randomizeWeights(m, 1);
    const path = join(dir, 'dense');
    await saveTfjs(m, path, { shards: 2 });
    const ds = images(37, 6, 6, 5);
    const teacher = await loadTfjsTeacher(path, { input: { mean: 0.5, std: 0.25 } });
    expect(teacher.outputKind).toBe('logits');
    expect(teacher.inputShape).toEqual([6, 6]);
    expect(teacher.classes).toBe(5);
    const logits = teacher.logits(fullView(ds), { batchSize: 8 });
    const expected = tf.tidy(() => (m.predict(prepared(ds, 1 / 255, 0.5, 0.25, [6, 6])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(logits, expected)).toBeLessThan(1e-5);
    // rows follow the view's order
    const part = teacher.logits(slice(fullView(ds), 5, 30));
    expect(maxAbsDiff(part, logits.subarray(30 * 5, 35 * 5))).toBeLessThan(1e-6);
    teacher.dispose();
  });

  it('runs a Conv2D softmax teacher with its own input preparation; softmax(logits) = its probabilities', async () => {
    const m = tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 4, activation: 'softmax' }),
    ] });
    randomizeWeights(m, 2, 1);
    const path = join(dir, 'conv');
    await saveTfjs(m, path);
    const ds = images(20, 8, 8, 4, 3);
    const teacher = await loadTfjsTeacher(path, { input: { scale: 1 / 255, mean: 0.1307, std: 0.3081, shape: [8, 8, 1] } });
    expect(teacher.outputKind).toBe('log-softmax');
    const logits = teacher.logits(fullView(ds), { batchSize: 7 });
    const probs = tf.tidy(() => (m.predict(prepared(ds, 1 / 255, 0.1307, 0.3081, [8, 8, 1])) as tf.Tensor).dataSync() as Float32Array);
    expect(maxAbsDiff(softmaxRows(logits, 4), probs)).toBeLessThan(1e-5);
    // exact log-probabilities: each row's exp sums to 1
    for (let r = 0; r < 20; r++) expect(logits.subarray(4 * r, 4 * r + 4).reduce((s, v) => s + Math.exp(v), 0)).toBeCloseTo(1, 5);
    teacher.dispose();
  });

  it('replaces a final Activation("softmax") layer by log-softmax, and per-channel mean/std', async () => {
    const m = tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 2 }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3 }),
      tfl.layers.activation({ activation: 'softmax' }),
    ] });
    randomizeWeights(m, 4, 1);
    const path = join(dir, 'act');
    await saveTfjs(m, path);
    const ds = images(9, 4, 8, 3, 5); // 32 values per sample, taken as [4, 4, 2]
    const teacher = await loadTfjsTeacher(path, { input: { mean: [0.4, 0.6], std: [0.2, 0.3] } });
    expect(teacher.outputKind).toBe('log-softmax');
    const x = Float32Array.from(ds.x, (v, i) => (v / 255 - [0.4, 0.6][i % 2]!) / [0.2, 0.3][i % 2]!);
    const probs = tf.tidy(() => (m.predict(tf.tensor(x, [9, 4, 4, 2])) as tf.Tensor).dataSync() as Float32Array);
    expect(maxAbsDiff(softmaxRows(teacher.logits(fullView(ds)), 3), probs)).toBeLessThan(1e-5);
    teacher.dispose();
  });

  it('takes log(p) of other softmax outputs, and checks the input preparation up front', async () => {
    const m = tfl.sequential({ layers: [tfl.layers.simpleRNN({ inputShape: [3, 4], units: 3, activation: 'softmax', recurrentInitializer: 'glorotNormal' })] });
    randomizeWeights(m, 9);
    const path = join(dir, 'rnn');
    await saveTfjs(m, path);
    const ds = images(6, 3, 4, 3, 10);
    const teacher = await loadTfjsTeacher(path);
    expect(teacher.outputKind).toBe('log-probabilities');
    const probs = tf.tidy(() => (m.predict(prepared(ds, 1 / 255, 0, 1, [3, 4])) as tf.Tensor).dataSync() as Float32Array);
    const tensors = tf.memory().numTensors;
    const logits = teacher.logits(fullView(ds), { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(tensors); // every batch's tensors are freed
    expect(maxAbsDiff(softmaxRows(logits, 3), probs)).toBeLessThan(1e-5);
    teacher.dispose();
    await expect(loadTfjsTeacher(path, { input: { shape: [12] } })).rejects.toThrow(/input.shape \[12\] does not fit the model's input shape \[3, 4\]/);
    await expect(loadTfjsTeacher(path, { input: { mean: [0.1, 0.2] } })).rejects.toThrow(/mean needs 1 or 4 values/);
  });

  it('reads float16 and uint8-quantized shards', async () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [10], units: 8, activation: 'relu' }), tfl.layers.dense({ units: 3 })] });
    randomizeWeights(m, 6);
    const ds = images(12, 2, 5, 3, 7);
    const expected = tf.tidy(() => (m.predict(prepared(ds, 1 / 255, 0, 1, [10])) as tf.Tensor).dataSync());
    for (const [quantize, tol] of [['float16', 2e-3], ['uint8', 0.05]] as const) {
      const path = join(dir, `q-${quantize}`);
      await saveTfjs(m, path, { quantize, shards: 2 });
      const t = await loadTfjsTeacher(path);
      expect(maxAbsDiff(t.logits(fullView(ds)), expected)).toBeLessThan(tol);
      t.dispose();
    }
  });

  it('caches teacher logits keyed by model files, input preparation and data', async () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3 })] });
    randomizeWeights(m, 8);
    const path = join(dir, 'cached');
    await saveTfjs(m, path);
    const ds = images(10, 2, 2, 3);
    const cache = join(dir, 'cached-outputs');
    const t = await loadTfjsTeacher(path);
    const first = cachedTfjsTeacherLogits(t, fullView(ds), cache);
    expect(first.fromCache).toBe(false);
    const again = cachedTfjsTeacherLogits(t, fullView(ds), cache);
    expect(again.fromCache).toBe(true);
    expect(allRows(again.table)).toEqual(allRows(first.table));
    t.dispose();
    const other = await loadTfjsTeacher(path, { input: { mean: 0.5 } });
    expect(cachedTfjsTeacherLogits(other, fullView(ds), cache).fromCache).toBe(false);
    other.dispose();
  });
});

describe('Keras 3 model.json', () => {
  const dir = tempDir();
  const W1 = [[0.5, -1, 0.25], [1.5, 0.75, -0.5]], b1 = [0.1, -0.2, 0.3];
  const W2 = [[1, -1], [0.5, 2], [-1.5, 0.25]], b2 = [0.05, -0.05];
  const dtype = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const init = (cls: string) => ({ module: 'keras.initializers', class_name: cls, config: { seed: null }, registered_name: null });
  const dense = (name: string, units: number, activation: string, inputShape: (number | null)[]) => ({
    module: 'keras.layers', class_name: 'Dense', registered_name: null,
    config: { name, trainable: true, dtype, units, activation, use_bias: true, kernel_initializer: init('GlorotUniform'), bias_initializer: init('Zeros'),
      kernel_regularizer: null, bias_regularizer: null, kernel_constraint: null, bias_constraint: null },
    build_config: { input_shape: inputShape },
  });
  const weightsBin = new Uint8Array(new Float32Array([...W1.flat(), ...b1, ...W2.flat(), ...b2]).buffer);
  const manifest = (prefix: string) => [{ paths: ['group1-shard1of1.bin'], weights: [
    { name: `${prefix}dense/kernel`, shape: [2, 3], dtype: 'float32' }, { name: `${prefix}dense/bias`, shape: [3], dtype: 'float32' },
    { name: `${prefix}dense_1/kernel`, shape: [3, 2], dtype: 'float32' }, { name: `${prefix}dense_1/bias`, shape: [2], dtype: 'float32' },
  ] }];
  /** What the model computes, by hand. */
  const reference = (x: number[]): number[] => {
    const h = b1.map((b, j) => Math.max(0, b + x.reduce((s, xi, i) => s + xi * W1[i]![j]!, 0)));
    return b2.map((b, j) => b + h.reduce((s, hi, i) => s + hi * W2[i]![j]!, 0));
  };

  function write(name: string, modelJson: unknown): string {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'model.json'), JSON.stringify(modelJson));
    writeFileSync(join(path, 'group1-shard1of1.bin'), weightsBin);
    return path;
  }

  it('loads a Sequential with an InputLayer(batch_shape), DTypePolicy dtypes and prefixed weight names', async () => {
    const path = write('k3-seq', {
      format: 'layers-model', generatedBy: 'keras v3.3.3', convertedBy: 'TensorFlow.js Converter v4.20.0',
      modelTopology: {
        keras_version: '3.3.3', backend: 'tensorflow',
        model_config: {
          module: 'keras', class_name: 'Sequential', registered_name: null,
          config: { name: 'sequential', trainable: true, dtype, layers: [
            { module: 'keras.layers', class_name: 'InputLayer', registered_name: null, config: { batch_shape: [null, 2], dtype: 'float32', sparse: false, name: 'input_layer' } },
            dense('dense', 3, 'relu', [null, 2]),
            dense('dense_1', 2, 'linear', [null, 3]),
          ], build_input_shape: [null, 2] },
          build_config: { input_shape: [null, 2] },
        },
        training_config: { loss: 'sparse_categorical_crossentropy', optimizer_config: { class_name: 'Adam', config: {} } },
      },
      weightsManifest: manifest('sequential/'),
    });
    const files = readTfjsModel(path);
    expect(files.modelJson.notes.join('\n')).toMatch(/batch_shape/);
    expect(files.modelJson.notes.join('\n')).toMatch(/lost their 'sequential\/' prefix/);
    // plain tf.loadLayersModel through the IOHandler, and the guarded loader
    for (const model of [await tfl.loadLayersModel(tfjsFileHandler(path)), await loadTfjsModel(path)]) {
      const x = [[0.3, -0.7], [1, 2], [-1, 0.5]];
      const y = tf.tidy(() => (model.predict(tf.tensor2d(x)) as tf.Tensor).arraySync() as number[][]);
      x.forEach((row, i) => y[i]!.forEach((v, j) => expect(v).toBeCloseTo(reference(row)[j]!, 5)));
      model.dispose();
    }
    // and it imports as an MLP 2-3-2
    const imported = await importTfjsMlp(core, path);
    expect(imported.spec.sizes).toEqual([2, 3, 2]);
    expect(imported.softmaxDropped).toBe(false);
    expect(Array.from(imported.model.readParams())).toEqual(Array.from(new Float32Array(weightsBin.buffer)));
    imported.model.free();
  });

  it('loads a Keras 3 Functional model (inbound_nodes as args/kwargs)', async () => {
    const tensor = (layer: string, shape: (number | null)[]) => ({ class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] } });
    const path = write('k3-functional', {
      format: 'layers-model',
      modelTopology: { class_name: 'Functional', config: {
        name: 'functional', trainable: true,
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 2], dtype: 'float32', sparse: false, name: 'input_layer' }, registered_name: null, name: 'input_layer', inbound_nodes: [] },
          { ...dense('dense', 3, 'relu', [null, 2]), name: 'dense', inbound_nodes: [{ args: [tensor('input_layer', [null, 2])], kwargs: {} }] },
          { ...dense('dense_1', 2, 'linear', [null, 3]), name: 'dense_1', inbound_nodes: [{ args: [tensor('dense', [null, 3])], kwargs: {} }] },
        ],
        input_layers: ['input_layer', 0, 0],
        output_layers: ['dense_1', 0, 0],
      } },
      weightsManifest: manifest(''),
    });
    const model = await loadTfjsModel(path);
    const y = tf.tidy(() => (model.predict(tf.tensor2d([[0.3, -0.7]])) as tf.Tensor).arraySync() as number[][]);
    y[0]!.forEach((v, j) => expect(v).toBeCloseTo(reference([0.3, -0.7])[j]!, 5));
    const imported = mlpFromTfjsModel(core, model, 'functional');
    expect(imported.spec.sizes).toEqual([2, 3, 2]);
    imported.model.free();
    model.dispose();
  });
});

describe('Retort MLP -> tfjs LayersModel -> Retort MLP', () => {
  const dir = tempDir();

  function randomMlp(sizes: number[], seed: number, spec: object = {}): Mlp {
    const mlp = new Mlp(core, { type: 'mlp', sizes, ...spec });
    const r = rand(seed);
    mlp.writeParams(Float32Array.from({ length: mlp.paramCount }, () => (2 * r() - 1) * 0.4));
    return mlp;
  }

  it('exports a model that tf.loadLayersModel loads unchanged, predicting as Retort does (1e-5)', async () => {
    const mlp = randomMlp([36, 24, 16, 7], 11, { dropout: { input: 0.2, hidden: 0.5 }, maxNorm: 3 });
    const out = join(dir, 'student');
    const written = await exportTfjsModel(out, mlp);
    expect(readdirSync(out).sort()).toEqual(['model.json', 'weights.bin']);
    expect(written.modelJson).toBe(join(out, 'model.json'));
    const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    expect(json.weightsManifest[0]!.paths).toEqual(['weights.bin']);
    const model = await tfl.loadLayersModel(tfjsFileHandler(out));
    expect(model.layers.map((l) => l.getClassName())).toEqual(['Dense', 'Dense', 'Dense']);
    const ds = images(50, 6, 6, 7, 12);
    const view = fullView(ds);
    const retort = predictLogits(core, mlp, view, { mean: 0.1307, std: 0.3081 });
    const tfjs = tf.tidy(() => (model.predict(prepared(ds, 1 / 255, 0.1307, 0.3081, [36])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(tfjs, retort)).toBeLessThan(1e-5);
    // the in-memory artifacts load the same way (browsers: tf.io.fromMemory)
    const mem = await tfl.loadLayersModel(tf.io.fromMemory(await mlpToModelArtifacts(mlp)));
    const tfjs2 = tf.tidy(() => (mem.predict(prepared(ds, 1 / 255, 0.1307, 0.3081, [36])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(tfjs2, retort)).toBeLessThan(1e-5);

    // back: the same parameters and spec (dropout, maxNorm from the metadata)
    const back = await importTfjsMlp(core, out);
    expect(back.spec).toEqual(mlp.spec);
    expect(back.model.readParams()).toEqual(mlp.readParams());
    expect(back.softmaxDropped).toBe(false);
    back.model.free();
    mem.dispose();
    model.dispose();
    mlp.free();
  });

  it('replaces an earlier export atomically and refuses folders holding other files', async () => {
    const out = join(dir, 'again');
    const a = randomMlp([4, 3, 2], 1), b = randomMlp([4, 5, 2], 2);
    await exportTfjsModel(out, a);
    await exportTfjsModel(out, b);
    expect(readTfjsModel(out).artifacts.weightSpecs!.map((s) => s.shape)).toEqual([[4, 5], [5], [5, 2], [2]]);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]); // no temporary folders left
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'notes.txt'), 'keep me');
    await expect(exportTfjsModel(other, a)).rejects.toThrow(/holds other files \(notes.txt\)/);
    expect(existsSync(join(other, 'notes.txt'))).toBe(true);
    a.free(); b.free();
  });

  it('imports Dense chains with Flatten/Dropout/Activation layers; a final softmax is dropped', async () => {
    const m = tfl.sequential({ layers: [
      tfl.layers.flatten({ inputShape: [3, 4] }),
      tfl.layers.dropout({ rate: 0.3 }),
      tfl.layers.dense({ units: 6 }),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.dense({ units: 5, activation: 'relu', useBias: false }),
      tfl.layers.dropout({ rate: 0.5 }),
      tfl.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    randomizeWeights(m, 21);
    const path = join(dir, 'chain');
    await saveTfjs(m, path);
    const imported = await importTfjsMlp(core, path);
    expect(imported.spec.sizes).toEqual([12, 6, 5, 3]);
    expect(imported.softmaxDropped).toBe(true);
    const ds = images(15, 3, 4, 3, 22);
    const logits = predictLogits(core, imported.model, fullView(ds));
    const probs = tf.tidy(() => (m.predict(prepared(ds, 1 / 255, 0, 1, [3, 4])) as tf.Tensor).dataSync());
    expect(maxAbsDiff(softmaxRows(logits, 3), probs)).toBeLessThan(1e-5);
    imported.model.free();
  });

  it('refuses layers an MLP cannot represent, naming the layer and its class', async () => {
    const conv = tfl.sequential({ layers: [
      tfl.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, name: 'conv2d_1' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ] });
    const p1 = join(dir, 'refuse-conv');
    await saveTfjs(conv, p1);
    await expectDataErrorAsync(importTfjsMlp(core, p1), join(p1, 'model.json'),
      /^layer 'conv2d_1' \(Conv2D\) cannot be represented by a Retort MLP; use it as a teacher with loadTfjsTeacher instead$/);
    const tanh = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'tanh', name: 'hidden' }), tfl.layers.dense({ units: 2 })] });
    expect(() => mlpFromTfjsModel(core, tanh, 'm')).toThrow(/layer 'hidden' \(Dense\) cannot be represented by a Retort MLP \(activation "tanh"/);
    const linear = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, name: 'a' }), tfl.layers.dense({ units: 2, name: 'b' })] });
    expect(() => mlpFromTfjsModel(core, linear, 'm')).toThrow(/layer 'b' \(Dense\).*follows 'a' without a ReLU/);
    const rank3 = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4, 4], units: 3, name: 'd3' })] });
    expect(() => mlpFromTfjsModel(core, rank3, 'm')).toThrow(/layer 'd3' \(Dense\).*rank-2 samples.*Flatten/);
    for (const m of [conv, tanh, linear, rank3]) m.dispose();
  });
});

describe('corrupt tfjs model folders', () => {
  const dir = tempDir();
  let good: { json: Record<string, unknown>; bin: Uint8Array };
  beforeAll(async () => {
    const m = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3, activation: 'relu', name: 'd0' }), tfl.layers.dense({ units: 2, name: 'd1' })] });
    const p = join(dir, 'good');
    await saveTfjs(m, p);
    good = { json: JSON.parse(readFileSync(join(p, 'model.json'), 'utf8')) as Record<string, unknown>, bin: readFileSync(join(p, 'group1-shard1of1.bin')) };
    m.dispose();
  });

  let n = 0;
  function folder(edit: (json: Record<string, any>) => void, bin: Uint8Array | null = good.bin, text?: string): { path: string; json: string; shard: string } {
    const path = join(dir, `bad${n++}`);
    mkdirSync(path);
    const json = structuredClone(good.json);
    edit(json);
    writeFileSync(join(path, 'model.json'), text ?? JSON.stringify(json));
    if (bin) writeFileSync(join(path, 'group1-shard1of1.bin'), bin);
    return { path, json: join(path, 'model.json'), shard: join(path, 'group1-shard1of1.bin') };
  }

  it('each corruption is one DataFormatError naming the file and the weight', async () => {
    const noop = (): void => {};
    let f = folder(noop, null);
    expectDataError(() => readTfjsModel(f.path), f.shard, /^weight shard not found/);
    f = folder(noop, good.bin.subarray(0, good.bin.length - 4));
    expectDataError(() => readTfjsModel(f.path), f.shard, /^weight 'd1\/bias' \[2\] float32 needs bytes \[84, 92\) but the shard holds 88 \(the group's weights need 92\)/);
    f = folder(noop, new Uint8Array([...good.bin, 0, 0, 0, 0]));
    expectDataError(() => readTfjsModel(f.path), f.shard, /^4 bytes after the last weight 'd1\/bias'/);
    f = folder(noop, good.bin, '{"modelTopology": ');
    expectDataError(() => readTfjsModel(f.path), f.json, /^not valid JSON/);
    f = folder((j) => { delete j.modelTopology; });
    expectDataError(() => readTfjsModel(f.path), f.json, /^modelTopology is missing/);
    f = folder((j) => { delete j.weightsManifest; });
    expectDataError(() => readTfjsModel(f.path), f.json, /^weightsManifest is missing/);
    f = folder((j) => { j.weightsManifest[0].weights[0].shape = [4, -3]; });
    expectDataError(() => readTfjsModel(f.path), f.json, /^weight 'd0\/kernel': shape must be an array/);
    f = folder((j) => { j.weightsManifest[0].weights[0].shape = [2 ** 40, 2 ** 20]; });
    expectDataError(() => readTfjsModel(f.path), f.json, /^weight 'd0\/kernel': shape \[1099511627776, 1048576\] needs more than/);
    f = folder((j) => { j.weightsManifest[0].weights[2].dtype = 'string'; });
    expectDataError(() => readTfjsModel(f.path), f.json, /^weight 'd1\/kernel': dtype "string" is not supported/);
    f = folder((j) => { j.weightsManifest[0].paths = ['../outside.bin']; });
    expectDataError(() => readTfjsModel(f.path), f.json, /shard path '..\/outside.bin' must name a file inside/);
    f = folder((j) => { j.format = 'graph-model'; });
    expectDataError(() => readTfjsModel(f.path), f.json, /only layers models/);
    // the manifest is consistent but does not fit the topology
    f = folder((j) => { j.weightsManifest[0].weights[0].name = 'other/kernel'; });
    await expectDataErrorAsync(loadTfjsModel(f.path), f.json, /^the model needs weight 'd0\/kernel' \[4, 3\], which the weightsManifest lacks/);
    f = folder((j) => { j.modelTopology.config.layers[0].config.units = 2; j.modelTopology.config.layers[1].config.units = 3; });
    await expectDataErrorAsync(loadTfjsModel(f.path), f.json, /shape \[4, 3\] in the weightsManifest but the model needs \[4, 2\]/);
    // a topology asking tfjs for a huge weight is stopped before tfjs allocates it
    f = folder((j) => { j.modelTopology.config.layers[0].config.units = 1e9; });
    await expectDataErrorAsync(loadTfjsModel(f.path), f.json, /^layer 'd0' \(Dense\) would create a weight 'kernel' of shape \[4, 1000000000\] that no weight in the weightsManifest matches/);
    f = folder((j) => { j.modelTopology.config.layers[0].class_name = 'NoSuchLayer'; });
    await expectDataErrorAsync(loadTfjsModel(f.path), f.json, /^tfjs cannot build the model: Unknown layer: NoSuchLayer/);
  });

  it('parses model.json without reading shards, and refuses deep nesting', () => {
    const deep = '{"modelTopology": ' + '['.repeat(5000) + ']'.repeat(5000) + ', "weightsManifest": []}';
    expectDataError(() => parseTfjsModelJson(new TextEncoder().encode(deep), 'model.json'), 'model.json', /nested deeper than 64 levels/);
  });
});
