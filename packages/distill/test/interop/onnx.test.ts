// ONNX interop: Retort models exported to ONNX run in onnxruntime-web with Retort's own logits;
// export -> import round-trips spec and parameters bit for bit; hand-built third-party graphs
// (MatMul + Add, transposed Gemm, alpha/beta, Flatten, Softmax) import to the function
// onnxruntime computes; every kind of bad file is one DataFormatError naming what is wrong.
//
// Tolerance: |ort - retort| <= 1e-5 * max(1, max |logit|) per model. Both sides compute the same
// f32 dot products, in different summation orders (onnxruntime's MLAS kernels vs Retort's
// sgemm), so each logit differs by rounding only: about sqrt(K) * 2^-24 of the magnitude of the
// terms summed, ~2e-6 relative for K = 784; 1e-5 of the logit scale leaves headroom for the
// extra rounding of the hidden layers while staying far below anything a wrong weight, a
// missing bias or a transposition would produce (those are O(logit) errors).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { loadCore, type Core } from '@retort/core-wasm';
import { DataFormatError } from '../../src/data/errors.js';
import { makeDataset, fullView } from '../../src/data/dataset.js';
import { Mlp } from '../../src/model/mlp.js';
import { paramCount } from '../../src/model/spec.js';
import { predictLogits } from '../../src/train/predict.js';
import { exportOnnx, importOnnx, onnxToMlp, MAX_ONNX_BYTES, ONNX_METADATA_KEYS } from '../../src/interop/onnx.js';
import { exportOnnxFile, importOnnxFile, readOnnxFile } from '../../src/interop/onnx-node.js';

import { add, decodeModel, encodeModel, onnx, type DecodedModel } from './onnx-helpers.js';
type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
type IValueInfo = onnxProto.onnx.IValueInfoProto;

const TOLERANCE = 1e-5;
const FLOAT = 1, INT32 = 6, INT64 = 7, DOUBLE = 11;

let core: Core;
let tmp: string;

beforeAll(async () => {
  ort.env.wasm.numThreads = 1; // no worker threads in Node; one core is plenty for these sizes
  core = await loadCore();
  tmp = mkdtempSync(join(tmpdir(), 'retort-onnx-'));
});
afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

function rand(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  // severity 3 (errors only): not the warning about the deliberately unused initializer
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** max |a - b| and the scale max(1, max |b|). */
function maxError(a: Float32Array, b: Float32Array): { err: number; scale: number } {
  expect(a.length).toBe(b.length);
  let err = 0, scale = 1;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return { err, scale };
}

function bits(a: Float32Array): Uint32Array { return new Uint32Array(a.buffer, a.byteOffset, a.length); }

function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const m = Math.max(...row);
    let z = 0;
    for (const v of row) z += Math.exp(v - m);
    for (let c = 0; c < classes; c++) out[r * classes + c] = Math.exp(row[c]! - m) / z;
  }
  return out;
}

// ---- a small builder for hand-made graphs -----------------------------------------------------

function f32Tensor(name: string, dims: number[], values: ArrayLike<number>, as: 'raw' | 'float' = 'raw'): ITensor {
  const data = Float32Array.from(values);
  return as === 'raw'
    ? { name, dataType: FLOAT, dims, rawData: new Uint8Array(data.buffer) }
    : { name, dataType: FLOAT, dims, floatData: [...data] };
}

function randomValues(n: number, r: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

function tensorInfo(name: string, dims: (number | string)[], elemType = FLOAT): IValueInfo {
  return { name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } };
}

interface GraphParts {
  nodes: INode[];
  initializers: ITensor[];
  inputs?: IValueInfo[];
  outputs?: IValueInfo[];
  opset?: number;
  ir?: number;
  metadata?: { key: string; value: string }[];
}

function buildModel(g: GraphParts): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: g.ir ?? 8,
    producerName: 'hand',
    opsetImport: [{ domain: '', version: g.opset ?? 13 }],
    graph: {
      name: 'g',
      node: g.nodes,
      initializer: g.initializers,
      input: g.inputs ?? [tensorInfo('x', ['N', 6])],
      output: g.outputs ?? [tensorInfo('y', ['N', 3])],
    },
    metadataProps: g.metadata ?? [],
  }).finish();
}

const attrInt = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
const attrFloat = (name: string, f: number) => ({ name, type: onnx.AttributeProto.AttributeType.FLOAT, f });

/** x [N, 2, 3] -> Flatten -> MatMul W0 [6, 5] + b0 -> Relu -> Gemm(transB) W1 [4, 5] + b1 -> Relu -> Gemm(alpha, beta) W2 [4, 3] + C [1, 3] -> Softmax */
function thirdPartyGraph(seed: number, softmax = true): GraphParts {
  const r = rand(seed);
  const nodes: INode[] = [
    { name: 'flat', opType: 'Flatten', input: ['x'], output: ['x2'], attribute: [attrInt('axis', 1)] },
    { name: 'id', opType: 'Identity', input: ['x2'], output: ['x3'] },
    { name: 'mm0', opType: 'MatMul', input: ['x3', 'W0'], output: ['m0'] },
    { name: 'add0', opType: 'Add', input: ['b0', 'm0'], output: ['a0'] },
    { name: 'relu0', opType: 'Relu', input: ['a0'], output: ['h0'] },
    { name: 'gemm1', opType: 'Gemm', input: ['h0', 'W1', 'b1'], output: ['a1'], attribute: [attrInt('transB', 1)] },
    { name: 'relu1', opType: 'Relu', input: ['a1'], output: ['h1'] },
    { name: 'gemm2', opType: 'Gemm', input: ['h1', 'W2', 'C2'], output: [softmax ? 'z' : 'y'], attribute: [attrFloat('alpha', 0.5), attrFloat('beta', 2)] },
  ];
  if (softmax) nodes.push({ name: 'prob', opType: 'Softmax', input: ['z'], output: ['y'], attribute: [attrInt('axis', -1)] });
  return {
    nodes,
    initializers: [
      f32Tensor('W0', [6, 5], randomValues(30, r)), f32Tensor('b0', [5], randomValues(5, r), 'float'),
      f32Tensor('W1', [4, 5], randomValues(20, r)), f32Tensor('b1', [4], randomValues(4, r)),
      f32Tensor('W2', [4, 3], randomValues(12, r), 'float'), f32Tensor('C2', [1, 3], randomValues(3, r)),
      f32Tensor('unused', [2], [1, 2]),
    ],
    inputs: [tensorInfo('x', ['N', 2, 3])],
  };
}

function expectFormatError(bytes: Uint8Array, message: RegExp, file = 'bad.onnx'): DataFormatError {
  let caught: unknown;
  try { importOnnx(bytes, file); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(DataFormatError);
  const err = caught as DataFormatError;
  expect(err.file).toBe(file);
  expect(err.message).toMatch(message);
  expect(err.message).not.toMatch(/\n/);
  return err;
}

// ---- tests ------------------------------------------------------------------------------------

describe('exportOnnx runs in onnxruntime-web', () => {
  const cases = [
    { sizes: [784, 64, 10], seed: 1, rows: 48, u8: true },
    { sizes: [5, 3], seed: 2, rows: 17, u8: false },
    { sizes: [20, 7, 9, 4], seed: 3, rows: 33, u8: false },
    { sizes: [3, 1, 2], seed: 4, rows: 5, u8: false },
  ];
  for (const c of cases) {
    it(`mlp:${c.sizes.join('-')} gives Retort's logits`, async () => {
      const model = new Mlp(core, { type: 'mlp', sizes: c.sizes });
      try {
        model.init(c.seed);
        // non-zero biases, so a dropped bias would show
        const params = model.readParams();
        const r = rand(c.seed + 100);
        for (const l of model.layers) for (let j = 0; j < l.outputs; j++) params[l.biasOffset + j] = 0.5 * (2 * r() - 1);
        model.writeParams(params);

        const inputSize = c.sizes[0]!, classes = c.sizes[c.sizes.length - 1]!;
        const n = c.rows * inputSize;
        const labels = Int32Array.from({ length: c.rows }, (_, i) => i % classes);
        let x: Float32Array;
        let retort: Float32Array;
        const mean = 0.1307, std = 0.3081;
        if (c.u8) {
          const pixels = Uint8Array.from({ length: n }, () => Math.floor(256 * r()));
          const ds = makeDataset(pixels, [c.rows, inputSize], labels, { xFile: 'x', yFile: 'y' }, { classes });
          retort = predictLogits(core, model, fullView(ds), { mean, std, batchSize: 16 });
          // the normalisation the metadata asks the caller to apply, in Retort's f32 arithmetic
          const m = Math.fround(mean), s = Math.fround(std);
          x = pixels.length ? Float32Array.from(pixels, (p) => Math.fround(Math.fround(p / 255) - m) / s) : new Float32Array(0);
        } else {
          x = Float32Array.from({ length: n }, () => 4 * r() - 2);
          const ds = makeDataset(x, [c.rows, inputSize], labels, { xFile: 'x', yFile: 'y' }, { classes });
          retort = predictLogits(core, model, fullView(ds), { batchSize: 16 });
        }
        const bytes = exportOnnx(model, c.u8 ? { normalization: { mean, std } } : {});
        const out = await runOrt(bytes, x, [c.rows, inputSize]);
        const { err, scale } = maxError(out, retort);
        expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
        console.log(`mlp:${c.sizes.join('-')}: max |ort - retort| = ${err.toExponential(2)} (logit scale ${scale.toFixed(2)})`);
      } finally {
        model.free();
      }
    });
  }

  it('writes the documented layout', () => {
    const model = new Mlp(core, 'mlp:4-3-2,dropout=0.2/0.5,maxnorm=3');
    try {
      model.init(5);
      const m = decodeModel(exportOnnx(model, { normalization: { mean: 0.5, std: 0.25 }, metadata: { author: 'me' } }));
      expect(Number(m.irVersion)).toBe(7);
      expect(m.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 13]]);
      expect(m.producerName).toBe('retort');
      expect(m.docString).toMatch(/mlp:4-3-2/);
      const g = m.graph!;
      expect(g.node.map((n) => `${n.opType}(${n.input.join(',')})->${n.output.join(',')}`)).toEqual([
        'Gemm(input,layer0.w,layer0.b)->layer0.y', 'Relu(layer0.y)->layer0.h', 'Gemm(layer0.h,layer1.w,layer1.b)->logits',
      ]);
      expect(g.initializer.map((t) => [t.name, t.dims.map(Number), t.dataType, t.rawData.length])).toEqual([
        ['layer0.w', [4, 3], FLOAT, 48], ['layer0.b', [3], FLOAT, 12], ['layer1.w', [3, 2], FLOAT, 24], ['layer1.b', [2], FLOAT, 8],
      ]);
      const dims = (v: IValueInfo) => v.type!.tensorType!.shape!.dim!.map((d) => d.dimParam ?? Number(d.dimValue));
      expect(g.input.map((v) => [v.name, dims(v)])).toEqual([['input', ['batch', 4]]]);
      expect(g.output.map((v) => [v.name, dims(v)])).toEqual([['logits', ['batch', 2]]]);
      const meta = Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]));
      expect(meta).toEqual({
        author: 'me',
        [ONNX_METADATA_KEYS.spec]: '{"type":"mlp","sizes":[4,3,2],"dropout":{"input":0.2,"hidden":0.5},"maxNorm":3}',
        [ONNX_METADATA_KEYS.output]: 'logits (no softmax)',
        [ONNX_METADATA_KEYS.mean]: '0.5',
        [ONNX_METADATA_KEYS.std]: '0.25',
        [ONNX_METADATA_KEYS.normalization]: expect.stringMatching(/x\/255 - mean/),
      });
      expect(m.metadataProps.map((p) => p.key)).toEqual([...m.metadataProps.map((p) => p.key)].sort());
      expect(() => exportOnnx(model, { metadata: { 'retort.spec': 'x' } })).toThrow(RangeError);
      expect(() => exportOnnx(model, { normalization: { mean: 0, std: 0 } })).toThrow(RangeError);
      expect(() => exportOnnx({ spec: model.spec, params: new Float32Array(3) })).toThrow(RangeError);
    } finally {
      model.free();
    }
  });
});

describe('export -> import', () => {
  it('is deterministic and round-trips spec and parameters bit for bit', () => {
    for (const spec of ['mlp:784-64-10', 'mlp:5-3', 'mlp:20-7-9-4,dropout=0.1/0.3,maxnorm=2.5', 'mlp:1-1']) {
      const model = new Mlp(core, spec);
      try {
        model.init(42);
        const params = model.readParams();
        // specials survive: -0, ±Inf, NaN with a payload, a subnormal
        const specials = Uint32Array.of(0x80000000, 0x7f800000, 0xff800000, 0x7fc12345, 0x00000001);
        params.set(new Float32Array(specials.buffer).subarray(0, Math.min(5, params.length)));
        model.writeParams(params);
        const a = exportOnnx(model), b = exportOnnx(model), c = exportOnnx({ spec: model.spec, params });
        expect(Buffer.compare(b, a)).toBe(0);
        expect(Buffer.compare(c, a)).toBe(0);
        const back = importOnnx(a, 'model.onnx');
        expect(back.spec).toEqual(model.spec);
        expect(back.params.length).toBe(paramCount(model.spec));
        expect(bits(back.params)).toEqual(bits(params));
        expect(back.notes).toEqual([]);
        expect(back.producer).toBe('retort');
        expect(back.normalization).toBeNull();
      } finally {
        model.free();
      }
    }
  });

  it('restores the recorded normalisation and metadata; onnxToMlp builds the model', () => {
    const model = new Mlp(core, 'mlp:6-4-3');
    try {
      model.init(9);
      const bytes = exportOnnx(model, { normalization: { mean: 0.1307, std: 0.3081 }, metadata: { source: 'test' } });
      const back = importOnnx(bytes);
      expect(back.normalization).toEqual({ mean: 0.1307, std: 0.3081 });
      expect(back.metadata.source).toBe('test');
      const copy = onnxToMlp(core, bytes);
      try {
        expect(copy.spec).toEqual(model.spec);
        expect(bits(copy.readParams())).toEqual(bits(model.readParams()));
      } finally {
        copy.free();
      }
    } finally {
      model.free();
    }
  });

  it('writes files atomically and reads them back', () => {
    const model = new Mlp(core, 'mlp:8-5-3');
    try {
      model.init(3);
      const path = join(tmp, 'model.onnx');
      exportOnnxFile(path, model, { normalization: { mean: 0, std: 1 } });
      exportOnnxFile(path, model); // over an existing file
      const loaded = importOnnxFile(core, path);
      try {
        expect(loaded.spec).toEqual(model.spec);
        expect(bits(loaded.readParams())).toEqual(bits(model.readParams()));
      } finally {
        loaded.free();
      }
      expect(readOnnxFile(path).normalization).toBeNull();
      expect(() => readOnnxFile(join(tmp, 'missing.onnx'))).toThrow(new DataFormatError('missing.onnx', 'no such file'));
      writeFileSync(join(tmp, 'text.onnx'), 'not a model at all\n');
      expect(() => importOnnxFile(core, join(tmp, 'text.onnx'))).toThrow(DataFormatError);
      expect(() => readOnnxFile(join(tmp, 'text.onnx'))).toThrow(/^text\.onnx: /);
    } finally {
      model.free();
    }
  });
});

describe('importOnnx of third-party graphs', () => {
  it('MatMul + Add, transB = 1 Gemm, alpha/beta, Flatten, Softmax: matches onnxruntime', async () => {
    const parts = thirdPartyGraph(7);
    const bytes = buildModel(parts);
    const rows = 9;
    const r = rand(8);
    const x = randomValues(rows * 6, r);
    const probs = await runOrt(bytes, x, [rows, 2, 3]);

    const imported = importOnnx(bytes, 'third.onnx');
    expect(imported.spec).toEqual({ type: 'mlp', sizes: [6, 5, 4, 3] });
    expect(imported.producer).toBe('hand');
    expect(imported.notes.join('\n')).toMatch(/dropped the trailing Softmax node 'prob'/);
    expect(imported.notes.join('\n')).toMatch(/transB = 1/);
    expect(imported.notes.join('\n')).toMatch(/alpha = 0.5, beta = 2 were folded/);
    expect(imported.notes.join('\n')).toMatch(/unused initializer/);
    const model = onnxToMlp(core, bytes, 'third.onnx');
    try {
      const ds = makeDataset(x, [rows, 6], new Int32Array(rows), { xFile: 'x', yFile: 'y' }, { classes: 3 });
      const logits = predictLogits(core, model, fullView(ds));
      const { err } = maxError(softmaxRows(logits, 3), probs);
      expect(err).toBeLessThanOrEqual(TOLERANCE);

      // without the Softmax, onnxruntime's logits themselves
      const raw = await runOrt(buildModel(thirdPartyGraph(7, false)), x, [rows, 2, 3]);
      const e2 = maxError(logits, raw);
      expect(e2.err).toBeLessThanOrEqual(TOLERANCE * e2.scale);
    } finally {
      model.free();
    }
  });

  it('reads Reshape to [0, -1], MatMul without Add, initializers listed as inputs (IR 3), and converts DOUBLE weights', async () => {
    const r = rand(21);
    const W0 = randomValues(12, r), W1 = randomValues(8, r), b1 = randomValues(2, r);
    const bytes = buildModel({
      ir: 3, opset: 9,
      nodes: [
        { name: 'rs', opType: 'Reshape', input: ['x', 'shape'], output: ['x2'] },
        { name: 'mm', opType: 'MatMul', input: ['x2', 'W0'], output: ['a'] },
        { name: 'r', opType: 'Relu', input: ['a'], output: ['h'] },
        { name: 'g', opType: 'Gemm', input: ['h', 'W1', 'b1'], output: ['y'] },
      ],
      initializers: [
        { name: 'shape', dataType: INT64, dims: [2], int64Data: [0, -1] },
        f32Tensor('W0', [3, 4], W0), f32Tensor('W1', [4, 2], W1, 'float'), f32Tensor('b1', [2], b1),
      ],
      inputs: [tensorInfo('x', ['N', 3, 1]), tensorInfo('W0', [3, 4]), tensorInfo('W1', [4, 2]), tensorInfo('b1', [2]), tensorInfo('shape', [2], INT64)],
      outputs: [tensorInfo('y', ['N', 2])],
    });
    const rows = 4, x = randomValues(12, r);
    const expected = await runOrt(bytes, x, [rows, 3, 1]);
    const imported = importOnnx(bytes);
    expect(imported.spec.sizes).toEqual([3, 4, 2]);
    expect(Array.from(imported.params.subarray(12, 16))).toEqual([0, 0, 0, 0]); // MatMul alone: zero bias
    const model = onnxToMlp(core, bytes);
    try {
      const ds = makeDataset(x, [rows, 3], new Int32Array(rows), { xFile: 'x', yFile: 'y' }, { classes: 2 });
      const { err, scale } = maxError(predictLogits(core, model, fullView(ds)), expected);
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
    } finally {
      model.free();
    }

    // a DOUBLE model (double input, double weights) converts to f32
    const double = buildModel({
      nodes: [{ name: 'g', opType: 'Gemm', input: ['x', 'W', 'b'], output: ['y'] }],
      initializers: [
        { name: 'W', dataType: DOUBLE, dims: [2, 2], doubleData: [0.1, 0.2, 0.3, 0.4] },
        { name: 'b', dataType: DOUBLE, dims: [2], rawData: new Uint8Array(Float64Array.of(1.5, -2).buffer) },
      ],
      inputs: [tensorInfo('x', ['N', 2], DOUBLE)], outputs: [tensorInfo('y', ['N', 2], DOUBLE)],
    });
    const d = importOnnx(double);
    expect(Array.from(d.params)).toEqual(Array.from(Float32Array.of(0.1, 0.2, 0.3, 0.4, 1.5, -2)));
    expect(d.notes.join('\n')).toMatch(/DOUBLE weights were converted to float32/);
  });
});

describe('importOnnx folds what a Retort layer can express', () => {
  it('Gemm beta = 0 ignores its C; an Add after a C-less Gemm is its bias; a scalar bias broadcasts', async () => {
    const r = rand(31);
    const W0 = randomValues(8, r), W1 = randomValues(6, r);
    const bytes = buildModel({
      nodes: [
        { name: 'g0', opType: 'Gemm', input: ['x', 'W0', 'C0'], output: ['a'], attribute: [attrFloat('beta', 0)] },
        { name: 'add0', opType: 'Add', input: ['a', 'b0'], output: ['a2'] },
        { name: 'r', opType: 'Relu', input: ['a2'], output: ['h'] },
        { name: 'g1', opType: 'Gemm', input: ['h', 'W1', 'C1'], output: ['y'] },
      ],
      initializers: [
        f32Tensor('W0', [4, 2], W0), f32Tensor('C0', [2], [Number.NaN, 5]), f32Tensor('b0', [1, 2], [0.25, -0.5]),
        f32Tensor('W1', [2, 3], W1), f32Tensor('C1', [], [0.75]),
      ],
      inputs: [tensorInfo('x', ['N', 4])],
      outputs: [tensorInfo('y', ['N', 3])],
    });
    const got = importOnnx(bytes);
    expect(got.notes.join('\n')).toMatch(/beta = 0, so its bias 'C0' is not used/);
    expect(Array.from(got.params.subarray(8, 10))).toEqual([0.25, -0.5]);
    expect(Array.from(got.params.subarray(16, 19))).toEqual([0.75, 0.75, 0.75]);
    const rows = 5, x = randomValues(rows * 4, r);
    const expected = await runOrt(bytes, x, [rows, 4]);
    const model = onnxToMlp(core, bytes);
    try {
      const ds = makeDataset(x, [rows, 4], new Int32Array(rows), { xFile: 'x', yFile: 'y' }, { classes: 3 });
      const { err, scale } = maxError(predictLogits(core, model, fullView(ds)), expected);
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
    } finally {
      model.free();
    }
  });
});

describe('importOnnx rejects what Retort cannot represent, with one DataFormatError', () => {
  const base = (): GraphParts => thirdPartyGraph(3);
  const valid = (): Uint8Array => {
    const model = new Mlp(core, 'mlp:6-4-3');
    try { model.init(1); return exportOnnx(model); } finally { model.free(); }
  };
  const mutate = (f: (m: DecodedModel) => void): Uint8Array => {
    const m = decodeModel(valid());
    f(m);
    return encodeModel(m);
  };

  it('operators Retort has no layer for', () => {
    for (const [op, extra] of [['Resize', {}], ['Sigmoid', {}], ['Tanh', {}], ['LeakyRelu', {}], ['Relu', { domain: 'com.microsoft' }]] as const) {
      const p = base();
      p.nodes[4] = { ...p.nodes[4]!, name: 'odd', opType: op, ...extra };
      const label = 'domain' in extra ? `com.microsoft.${op}` : op;
      expectFormatError(buildModel(p), new RegExp(`^bad\\.onnx: node 'odd' \\(${op}\\): operator ${label.replace(/\./g, '\\.')} cannot be represented by a Retort model$`));
    }
  });

  it('truncated, corrupt or non-protobuf bytes', () => {
    const bytes = valid();
    for (const cut of [1, 2, 10, 50, bytes.length >> 1, bytes.length - 1]) {
      expectFormatError(bytes.subarray(0, cut), /^bad\.onnx: /);
    }
    expectFormatError(new Uint8Array(0), /empty file/);
    expectFormatError(new TextEncoder().encode('{"type":"mlp"}'), /^bad\.onnx: /);
    expectFormatError(Uint8Array.of(0x0f, 0xff, 0xff), /not a valid ONNX protobuf/); // wire type 7
    expectFormatError(Uint8Array.of(0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2), /not a valid ONNX protobuf/); // graph length past the end
  });

  it('tensor data that disagrees with its dims', () => {
    expectFormatError(mutate((m) => { m.graph!.initializer[0]!.rawData = m.graph!.initializer[0]!.rawData.subarray(4); }),
      /tensor 'layer0\.w': raw_data holds 92 bytes but dims \[6, 4\] of FLOAT need 96/);
    expectFormatError(mutate((m) => { m.graph!.initializer[0]!.dims = [2 ** 40, 2 ** 12]; }),
      /tensor 'layer0\.w': raw_data holds 96 bytes but dims \[1099511627776, 4096\] of FLOAT need/);
    expectFormatError(mutate((m) => { m.graph!.initializer[0]!.dims = [2 ** 50, 2 ** 50]; }), /tensor 'layer0\.w' dims .* more elements/);
    expectFormatError(mutate((m) => { m.graph!.initializer[0]!.dims = [-6, -4]; }), /tensor 'layer0\.w' has an invalid dimension/);
    expectFormatError(mutate((m) => { const t = m.graph!.initializer[1]!; delete (t as Partial<typeof t>).rawData; t.floatData = [1, 2]; }),
      /tensor 'layer0\.b': float_data holds 2 values but dims \[4\] need 4/);
    expectFormatError(mutate((m) => { delete (m.graph!.initializer[1]! as { rawData?: unknown }).rawData; }), /tensor 'layer0\.b' has no data/);
    // raw_data present but empty counts as given (as in ONNX's checker)
    expectFormatError(mutate((m) => { m.graph!.initializer[1]!.rawData = new Uint8Array(0); }), /tensor 'layer0\.b': raw_data holds 0 bytes but dims \[4\] of FLOAT need 16/);
    expectFormatError(mutate((m) => { m.graph!.initializer[1]!.dataLocation = 1; }), /tensor 'layer0\.b' keeps its data in an external file/);
  });

  it('element types Retort does not read', () => {
    expectFormatError(mutate((m) => { const t = m.graph!.initializer[0]!; t.dataType = INT32; t.rawData = new Uint8Array(96); }),
      /tensor 'layer0\.w' has data type INT32; Retort reads FLOAT weights/);
    // a DOUBLE weight in a float graph is not a valid ONNX model
    expectFormatError(mutate((m) => { const t = m.graph!.initializer[2]!; t.dataType = DOUBLE; t.rawData = new Uint8Array(8 * 12); }),
      /tensor 'layer1\.w' has data type DOUBLE but the graph input is FLOAT/);
    expectFormatError(mutate((m) => { m.graph!.input[0]!.type!.tensorType!.elemType = INT64; }), /input 'input' has element type INT64/);
  });

  it('shapes that do not chain', () => {
    expectFormatError(mutate((m) => {
      const t = m.graph!.initializer[2]!; // layer1.w [4, 3] -> [3, 4]
      t.dims = [3, 4];
    }), /node 'layer1\.gemm' \(Gemm\): shape mismatch: weight 'layer1\.w' \[3, 4\] takes 3 inputs but the previous layer gives 4/);
    expectFormatError(mutate((m) => { m.graph!.input[0]!.type!.tensorType!.shape!.dim![1]!.dimValue = 7; }),
      /shape mismatch: weight 'layer0\.w' \[6, 4\] takes 6 inputs but the previous input gives 7/);
    expectFormatError(mutate((m) => { m.graph!.initializer[3]!.dims = [2]; m.graph!.initializer[3]!.rawData = new Uint8Array(8); }),
      /node 'layer1\.gemm' \(Gemm\): shape mismatch: bias 'layer1\.b' has shape \[2\]/);
    expectFormatError(mutate((m) => { m.graph!.output[0]!.type!.tensorType!.shape!.dim![1]!.dimValue = 5; }),
      /output 'logits' is declared \[\?, 5\] but the graph computes \[batch, 3\]/);
  });

  it('graphs that are not an MLP: outputs, inputs, dead branches, attributes', () => {
    expectFormatError(mutate((m) => { add(m.graph!.output, tensorInfo('layer0.h', ['batch', 4])); }), /the graph has 2 outputs \('logits', 'layer0\.h'\)/);
    expectFormatError(mutate((m) => { add(m.graph!.input, tensorInfo('other', ['batch', 4])); }), /the graph has 2 inputs/);
    expectFormatError(mutate((m) => { m.graph!.node[2]!.input[0] = 'nowhere'; }),
      /node 'layer1\.gemm' \(Gemm\): input 'nowhere' is not a graph input, an initializer, or the output of an earlier node/);
    // a branch that leads nowhere: a second Relu reads layer0.y too
    expectFormatError(mutate((m) => { add(m.graph!.node, { name: 'side', opType: 'Relu', input: ['layer0.y'], output: ['side'] }, 2); }),
      /node 'side' \(Relu\): its output 'side' is not used on the way to the graph output 'logits'/);
    expectFormatError(mutate((m) => { m.graph!.output[0]!.name = 'layer0.h'; }),
      /node 'layer1\.gemm' \(Gemm\): its output 'logits' is not used on the way to the graph output 'layer0\.h'/);
    // two dense layers without a Relu, or a Relu last: a graph, not an MLP (and not the MLP its metadata names)
    const noSpec = (m: DecodedModel): void => { m.metadataProps = m.metadataProps.filter((p) => p.key !== ONNX_METADATA_KEYS.spec); };
    const dropRelu = (m: DecodedModel): void => { m.graph!.node.splice(1, 1); m.graph!.node[1]!.input[0] = 'layer0.y'; };
    expectFormatError(mutate(dropRelu), /metadata 'retort\.spec' describes another model than the graph: at layer 2 the spec has relu \[4\] -> \[4\] but the graph computes dense \[4\] -> \[3\]/);
    const noRelu = importOnnx(mutate((m) => { dropRelu(m); noSpec(m); }));
    expect(noRelu.spec).toEqual({ type: 'graph', input: [6], layers: [
      { type: 'dense', units: 4, bias: true }, { type: 'dense', units: 3, bias: true }] });
    const reluLast = importOnnx(mutate((m) => {
      add(m.graph!.node, { name: 'tail', opType: 'Relu', input: ['logits'], output: ['out'] });
      m.graph!.output[0]!.name = 'out';
      noSpec(m);
    }));
    expect(reluLast.spec).toMatchObject({ type: 'graph', layers: [{ type: 'dense' }, { type: 'relu' }, { type: 'dense' }, { type: 'relu' }] });
    expectFormatError(mutate((m) => { add(m.graph!.node[0]!.attribute, attrInt('transA', 1)); }), /node 'layer0\.gemm' \(Gemm\): transA = 1 is not supported/);
    expectFormatError(mutate((m) => { add(m.graph!.node[0]!.attribute, attrInt('bogus', 1)); }), /node 'layer0\.gemm' \(Gemm\): attribute 'bogus' is not supported/);
    expectFormatError(mutate((m) => { m.graph = null; }), /no graph/);
    expectFormatError(mutate((m) => { m.opsetImport = []; }), /opset_import has no entry for the default ONNX domain/);
  });

  it('protobuf the schema does not allow, read the same way by every parser', () => {
    const bytes = valid();
    // a second graph field: C++ protobuf would merge the two, protobufjs keep the last
    const graphField = onnx.ModelProto.encode({ graph: { name: 'second' } }).finish();
    expectFormatError(Uint8Array.from([...bytes, ...graphField]), /not a valid ONNX protobuf \(ModelProto field 7 appears twice at byte \d+\)/);
    // model_version (field 5) sent length-delimited
    expectFormatError(Uint8Array.from([...bytes, 0x2a, 0x01, 0x07]), /ModelProto field 5 has wire type 2, expected 0 \(varint\)/);
    expectFormatError(Uint8Array.from([...bytes, 0x7b, 0x7c]), /ModelProto field 15 has wire type 3 \(a group, which ONNX does not use\)/);
    expectFormatError(Uint8Array.from([...bytes, 0x00]), /ModelProto: invalid field number/);
    expectFormatError(Uint8Array.from([0x08, 0x80, 0x80]), /truncated varint/);
    const huge = new Uint8Array(4);
    Object.defineProperty(huge, 'length', { value: MAX_ONNX_BYTES + 1 });
    expectFormatError(huge, /larger than the \d+-byte limit/);
  });

  it('versions, attributes and declarations onnxruntime would refuse', () => {
    expectFormatError(mutate((m) => { m.opsetImport = [{ domain: '', version: 6 }]; }), /opset 6 of the default domain is not one Retort reads \(7 to 1000/);
    expectFormatError(mutate((m) => { m.irVersion = 0; }), /ir_version 0 is not one Retort reads/);
    expectFormatError(mutate((m) => { m.graph!.node[0]!.attribute[0]!.f = 1; }), /node 'layer0\.gemm' \(Gemm\): attribute 'transB' of type INT must hold exactly its 'i' value/);
    expectFormatError(mutate((m) => { const t = m.graph!.initializer[1]!; t.floatData = [1, 2, 3, 4]; t.rawData = new Uint8Array(0); }),
      /tensor 'layer0\.b' has both raw_data and float_data/);
    expectFormatError(mutate((m) => { add(m.graph!.valueInfo, tensorInfo('layer0.h', ['batch', 5])); }),
      /value_info 'layer0\.h' is declared \[\?, 5\] but the graph computes \[batch, 4\]/);
    expectFormatError(mutate((m) => { add(m.graph!.valueInfo, tensorInfo('layer0.w', [6, 4], DOUBLE)); }),
      /input 'layer0\.w' is declared DOUBLE but initializer 'layer0\.w' is FLOAT/);
    expectFormatError(mutate((m) => { add(m.graph!.input, tensorInfo('layer1.w', [3, 4])); }),
      /input 'layer1\.w' is declared \[3, 4\] but initializer 'layer1\.w' has dims \[4, 3\]/);
  });

  it('metadata that contradicts the graph', () => {
    const spec = (m: DecodedModel) => m.metadataProps.find((p) => p.key === ONNX_METADATA_KEYS.spec)!;
    expectFormatError(mutate((m) => { spec(m).value = '{"type":"mlp","sizes":[6,5,3]}'; }),
      /metadata 'retort\.spec' says 6-5-3 but the graph computes 6-4-3/);
    expectFormatError(mutate((m) => { spec(m).value = 'nonsense'; }), /metadata 'retort\.spec' is not a valid spec/);
  });
});
