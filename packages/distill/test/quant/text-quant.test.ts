// int8 for text models: the dense parts (attention's q | k | v and output projections, feed-
// forward layers, 1-D convolutions, the classifier) on int8 weights with calibrated activation
// scales, the embedding table as int8 rows with one scale each, the softmax core of attention,
// layer norm, GELU and pooling in f32. Checked: the plan; the float program (the inference
// entry's f32 path and the calibration pass) gives Model.forward's bits on simd, padding and all;
// int8 logits close to the f32 model's on rows of every length; simd = scalar = the inference
// entry bit for bit, from the file too; a language model's [L, V] outputs alike; a token id outside
// the vocabulary named by row and position.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { loadInference } from '@retort/core-wasm/infer';
import { parseModelSpec, resolveModelSpec, type ModelSpec } from '../../src/model/spec.js';
import { encodeModelFile } from '../../src/format/model-file.js';
import { modelTensors } from '../../src/format/model-io.js';
import { planInt8, int8Bytes } from '../../src/quant/plan.js';
import { quantizeModel } from '../../src/quant/quantize.js';
import { Int8Model } from '../../src/quant/int8-model.js';
import { lmModelSpec } from '../../src/node/lm.js';
import { preparedModel, retortLogits } from '../interop/graph-models.js';

const L = 10, V = 29;
const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);
const text = (s: string, classes: number): ModelSpec => resolveModelSpec(parseModelSpec(s), { inputShape: [L], classes, vocab: V });

/** Rows of every length (full, short, one token, none), ids across the vocabulary. */
function idRows(rows: number, seed: number): Float32Array {
  const x = new Float32Array(rows * L).fill(-1);
  let s = seed >>> 0;
  const next = (): number => { s = (Math.imul(s, 1103515245) + 12345) >>> 0; return s >>> 8; };
  for (let r = 0; r < rows; r++) {
    const n = r % 11 === 4 ? 0 : 1 + (next() % L);
    for (let l = 0; l < n; l++) x[r * L + l] = next() % V;
  }
  return x;
}

const CASES: { name: string; spec: ModelSpec; ops: string[] }[] = [
  {
    name: 'transformer-s', spec: text('transformer-s:layers=2,dim=16,heads=4', 3),
    ops: ['embedding', 'layerNorm', 'dense', 'attention', 'dense', 'add', 'layerNorm', 'dense', 'gelu', 'dense', 'add',
      'layerNorm', 'dense', 'attention', 'dense', 'add', 'layerNorm', 'dense', 'gelu', 'dense', 'add', 'layerNorm', 'sequencePool', 'dense'],
  },
  {
    name: 'causal attention, first-token pool, a fused ReLU', spec: parseModelSpec({
      type: 'graph', input: [L], layers: [
        { type: 'embedding', vocab: V, dim: 12, positions: false },
        { type: 'residual', body: [{ type: 'layerNorm' }, { type: 'attention', heads: 3, causal: true }], shortcut: [] },
        { type: 'dense', units: 10 }, { type: 'relu' }, { type: 'sequencePool', mode: 'first' }, { type: 'dense', units: 4 },
      ],
    }),
    ops: ['embedding', 'layerNorm', 'dense', 'attention', 'dense', 'add', 'dense', 'sequencePool', 'dense'],
  },
  { name: 'cnn1d', spec: text('cnn1d:dim=16,width=0.25', 5), ops: ['embedding', 'conv1d', 'conv1d', 'sequencePool', 'dense'] },
  { name: 'bag', spec: text('bag:dim=8', 2), ops: ['embedding', 'sequencePool', 'dense'] },
  {
    name: 'lm-s (a language model: [L, V] next-token scores)', spec: lmModelSpec('lm-s:layers=1,dim=16,heads=2', V, L),
    ops: ['embedding', 'layerNorm', 'dense', 'attention', 'dense', 'add', 'layerNorm', 'dense', 'gelu', 'dense', 'add', 'layerNorm', 'dense'],
  },
];

let simd: Core, scalar: Core;
beforeAll(async () => {
  simd = await loadCore({ backend: 'simd' });
  scalar = await loadCore({ backend: 'scalar' });
});

describe.each(CASES)('int8 text model: $name', ({ spec, ops }) => {
  it('plans int8 dense parts and an int8 table; int8 logits stay close to the f32 model on rows of every length', async () => {
    const model = preparedModel(simd, spec, 11);
    const plan = planInt8(model.graph);
    expect(plan.ops.map((o) => o.type)).toEqual(ops);
    const calib = idRows(64, 1), test = idRows(40, 2), rows = 40;
    const q = quantizeModel(simd, model, calib);
    expect(q.size.total).toBe(int8Bytes(model.graph));
    expect(q.size.total).toBeLessThan(0.45 * 4 * model.paramCount); // int8 weights and table: under half the f32 bytes
    const f = retortLogits(simd, model, test, rows), g = q.predict(test, rows);
    let err = 0, scale = 0;
    for (let k = 0; k < f.length; k++) { err = Math.max(err, Math.abs(f[k]! - g[k]!)); scale = Math.max(scale, Math.abs(f[k]!)); }
    console.log(`max |int8 - f32| = ${err.toExponential(2)}, logit scale ${scale.toFixed(3)}`);
    // a few int8 steps (1/127 of each op's range) through at most ~10 int8 ops
    expect(err).toBeLessThan(0.06 * scale);
    expect(err).toBeGreaterThan(0); // it is quantized
    // simd = scalar bit for bit, from the file, and in the inference entry
    const file = q.encode();
    const other = Int8Model.decode(scalar, file);
    expect(bits(other.predict(test, rows, { batchSize: 7 }))).toEqual(bits(g));
    expect(Buffer.from(other.encode()).equals(Buffer.from(file))).toBe(true);
    other.free();
    for (const backend of ['simd', 'scalar'] as const) {
      const inf = await loadInference({ backend, batchSize: 16 });
      expect(bits(inf.predict(file, test, rows)), `infer ${backend}`).toEqual(bits(g));
    }
    q.free();
    model.free();
  });

  it('the f32 model file runs in the inference entry with Model.forward\'s bits (simd)', async () => {
    const model = preparedModel(simd, spec, 12);
    try {
      const test = idRows(23, 3);
      const f = retortLogits(simd, model, test, 23);
      const file = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, model.readParams()), meta: {} });
      const inf = await loadInference({ backend: 'simd', batchSize: 8 });
      const m = inf.load(file, 'text.retort');
      expect(bits(m.predict(test, 23))).toEqual(bits(f));
      // a token id outside the vocabulary, a token after padding: named by row and position
      const bad = test.slice(); bad[2 * L + 1] = V;
      expect(() => m.predict(bad, 23)).toThrow(new RegExp(`row 2, position 1: token id ${V} is outside the vocabulary \\[0, ${V}\\)`));
      const gap = test.slice(0, L).fill(3); gap[4] = -1;
      expect(() => m.predict(gap, 1)).toThrow(/row 0, position 5: a token after padding/);
      m.free();
    } finally {
      model.free();
    }
  });
});

describe('what int8 does not take', () => {
  it('an int8 graph whose embedding is not the first op reading the input is refused (token counts are read from the input)', () => {
    const ones = (n: number): Float32Array => new Float32Array(n).fill(1);
    const g = {
      spec: { type: 'graph' }, input: [100], ops: [
        { type: 'dense' as const, inputs: [-1], units: L, relu: false, inputScale: 1, weights: new Int8Array(100 * L), weightScales: ones(L), bias: new Float32Array(L) },
        { type: 'embedding' as const, inputs: [0], vocab: V, dim: 4, positions: false, table: new Int8Array(V * 4), tableScales: ones(V), pos: new Float32Array(0) },
        { type: 'sequencePool' as const, inputs: [1], mode: 'mean' as const },
      ],
    };
    expect(() => new Int8Model(simd, g)).toThrow(/ops\[1\] \(embedding\): an embedding reads the token ids, so it must be the first op and read the input \(-1\)/);
  });

  it('an id outside the vocabulary at calibration is named', () => {
    const model = preparedModel(simd, CASES[3]!.spec, 1);
    try {
      const calib = idRows(8, 1); calib[5] = V + 3;
      expect(() => quantizeModel(simd, model, calib)).toThrow(/token id 32 is outside the vocabulary \[0, 29\)/);
    } finally {
      model.free();
    }
  });
});
