// ONNX export and import of layer graphs: every export runs in onnxruntime-web with Retort's
// eval-mode logits (NCHW input), comes back bit for bit (spec, parameters, batch-norm state);
// graphs built by hand the way other exporters write them (PyTorch's GELU as Erf, tf2onnx's NHWC
// input behind a Transpose, LayerNormalization between Transposes, auto_pad, Constant nodes)
// import and compute what onnxruntime computes; what Retort cannot represent is one
// DataFormatError naming the node and the operator.
//
// Tolerance: |ort - retort| <= 1e-5 * max(1, max |logit|), the bound onnx.test.ts states for
// MLPs. Both sides compute the same f32 function in different orders (onnxruntime's MLAS
// convolutions and GEMMs vs Retort's im2col GEMM and direct loops; GELU's erf from different
// approximations, ~1e-7 relative), so the logits differ by rounding only; depth and the norms
// (which divide by a standard deviation) add to it, yet the largest difference measured on these
// models is below 5e-7 of the logit scale. A wrong padding, a transposed kernel or a feature
// order gives O(logit) errors.

import { beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import onnxProto from 'onnx-proto';
import { loadCore, type Core } from '@retort/core-wasm';
import { DataFormatError } from '../../src/data/errors.js';
import { createModel } from '../../src/model/index.js';
import { compileSpec } from '../../src/model/spec.js';
import { exportOnnx, importOnnx, onnxToModel, ONNX_METADATA_KEYS } from '../../src/interop/onnx.js';
import { decodeModel } from './onnx-helpers.js';
import { bits, GRAPH_CASES, maxError, preparedModel, retortLogits, toNchw } from './graph-models.js';
import { gauss, rand } from '../helpers/random.js';

type INode = onnxProto.onnx.INodeProto;
type ITensor = onnxProto.onnx.ITensorProto;
const { onnx } = onnxProto;
const TOLERANCE = 1e-5;
const FLOAT = 1, INT64 = 7;

let core: Core;
beforeAll(async () => {
  ort.env.wasm.numThreads = 1;
  core = await loadCore();
});

async function runOrt(bytes: Uint8Array, x: Float32Array, dims: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('graph exports run in onnxruntime-web with Retort\'s logits', () => {
  for (const [k, c] of GRAPH_CASES.entries()) {
    it(`${c.name}`, async () => {
      const model = preparedModel(core, c.spec, 10 + k);
      try {
        const rows = 7;
        const x = gauss(rand(20 + k), rows * model.inputSize);
        const retort = retortLogits(core, model, x, rows);
        const bytes = exportOnnx(model, { normalization: { mean: 0.1307, std: 0.3081 } });
        const shape = model.inputShape;
        const dims = shape.length === 3 ? [rows, shape[2]!, shape[0]!, shape[1]!] : [rows, shape[0]!];
        const out = await runOrt(bytes, toNchw(x, shape), dims);
        const { err, scale } = maxError(out, retort);
        console.log(`${c.name}: max |ort - retort| = ${err.toExponential(2)} (logit scale ${scale.toFixed(2)})`);
        expect(err).toBeLessThanOrEqual(TOLERANCE * scale);

        // back: the same spec, parameters and running statistics, bit for bit, and nothing to note
        const back = importOnnx(bytes, 'model.onnx');
        expect(back.spec).toEqual(model.spec);
        expect(bits(back.params)).toEqual(bits(model.readParams()));
        expect(bits(back.state)).toEqual(bits(model.readState()));
        expect(back.notes).toEqual([]);
        expect(back.inputLayout).toBe('NCHW');
        expect(back.normalization).toEqual({ mean: 0.1307, std: 0.3081 });
        expect(Buffer.compare(exportOnnx(model, { normalization: { mean: 0.1307, std: 0.3081 } }), bytes)).toBe(0);
        const copy = onnxToModel(core, bytes);
        try {
          expect(bits(retortLogits(core, copy, x, rows))).toEqual(bits(retort));
        } finally {
          copy.free();
        }
      } finally {
        model.free();
      }
    });
  }

  it('writes NCHW input, OIHW kernels, explicit pads, reordered dense rows and the metadata', () => {
    const spec = { type: 'graph', input: [4, 3, 2], layers: [
      { type: 'conv2d', filters: 3, kernel: [2, 3], stride: 2, name: 'c' }, { type: 'flatten' }, { type: 'dense', units: 2, name: 'd' },
    ] };
    const m = createModel(core, spec);
    try {
      m.writeParams(Float32Array.from({ length: m.paramCount }, (_, i) => i));
      const decoded = decodeModel(exportOnnx(m));
      const g = decoded.graph!;
      expect(Number(decoded.opsetImport[0]!.version)).toBe(13);
      expect(g.input[0]!.type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue))).toEqual(['batch', 2, 4, 3]);
      expect(g.node.map((n) => `${n.opType}(${n.input.join(',')})->${n.output.join(',')}`)).toEqual([
        'Conv(input,c.w,c.b)->c.y', 'Flatten(c.y)->flatten1.y', 'Gemm(flatten1.y,d.w,d.b)->logits']);
      const attr = (n: number, name: string) => g.node[n]!.attribute.find((a) => a.name === name)!.ints.map(Number);
      // 'same' on 4x3 with a 2x3 kernel, stride 2: out 2x2, pads (top, left) 0, 1 and (bottom, right) 0, 1
      expect(attr(0, 'pads')).toEqual([0, 1, 0, 1]);
      expect(attr(0, 'kernel_shape')).toEqual([2, 3]);
      const w = g.initializer.find((t) => t.name === 'c.w')!;
      expect(w.dims.map(Number)).toEqual([3, 2, 2, 3]); // OIHW
      const f32 = (t: typeof w) => new Float32Array(t.rawData.slice().buffer);
      // OIHW [o=1, i=0, kh=1, kw=2] is HWIO [kh=1, kw=2, i=0, o=1] = ((1*3+2)*2+0)*3+1 = 31
      expect(f32(w)[((1 * 2 + 0) * 2 + 1) * 3 + 2]).toBe(31);
      // dense row for ONNX feature (c=2, h=1, w=0) is Retort's row (h=1, w=0, c=2) = (1*2+0)*3+2 = 8
      const dw = f32(g.initializer.find((t) => t.name === 'd.w')!);
      const wOffset = m.paramLayout.find((t) => t.name === 'd.w')!.offset;
      expect(Array.from(dw.subarray((2 * 2 + 1) * 2 * 2 + 0, (2 * 2 + 1) * 2 * 2 + 2))).toEqual([wOffset + 8 * 2, wOffset + 8 * 2 + 1]);
      const meta = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
      expect(JSON.parse(meta[ONNX_METADATA_KEYS.spec]!)).toEqual(m.spec);
      expect(meta[ONNX_METADATA_KEYS.layout]).toMatch(/^NCHW/);
      expect(() => exportOnnx({ spec: 'resnet8:input=8x8x1,classes=3', params: new Float32Array(compileSpec({ type: 'resnet8', input: [8, 8, 1], classes: 3, width: 1 }).paramCount) }))
        .toThrow(/has \d+ state values \(batch-norm running statistics\) but got none/);
    } finally {
      m.free();
    }
  });

  it('a flattened map that reaches an add or the output is transposed to NHWC first', async () => {
    const spec = { type: 'graph', input: [3, 2, 4], layers: [
      { type: 'conv2d', filters: 3, kernel: 1 }, { type: 'flatten' },
      { type: 'residual', body: [{ type: 'dense', units: 18 }, { type: 'relu' }] },
    ] };
    const m = preparedModel(core, spec, 5);
    try {
      const bytes = exportOnnx(m);
      expect(decodeModel(bytes).graph!.node.map((n) => n.opType)).toEqual(['Conv', 'Transpose', 'Flatten', 'Gemm', 'Relu', 'Add']);
      const x = gauss(rand(6), 3 * 24);
      const { err, scale } = maxError(await runOrt(bytes, toNchw(x, [3, 2, 4]), [3, 4, 3, 2]), retortLogits(core, m, x, 3));
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
      const back = importOnnx(bytes);
      expect(back.spec).toEqual(m.spec);
      expect(bits(back.params)).toEqual(bits(m.readParams()));
    } finally {
      m.free();
    }
  });
});

// ---- graphs as other exporters write them ----------------------------------------------------

const INTS = onnx.AttributeProto.AttributeType.INTS, INT = onnx.AttributeProto.AttributeType.INT, FLOATA = onnx.AttributeProto.AttributeType.FLOAT;
const STRING = onnx.AttributeProto.AttributeType.STRING, TENSOR = onnx.AttributeProto.AttributeType.TENSOR;
const ints = (name: string, v: number[]) => ({ name, type: INTS, ints: v });
const int = (name: string, i: number) => ({ name, type: INT, i });
const float = (name: string, f: number) => ({ name, type: FLOATA, f });
const tensor = (name: string, dims: number[], values: ArrayLike<number>): ITensor =>
  ({ name, dataType: FLOAT, dims, rawData: new Uint8Array(Float32Array.from(values).buffer) });
const info = (name: string, dims: (number | string)[]) =>
  ({ name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });

function model(nodes: INode[], initializers: ITensor[], input: (number | string)[], output: (number | string)[], opset = 17): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion: opset >= 19 ? 9 : 8, producerName: 'hand', opsetImport: [{ domain: '', version: opset }],
    graph: { name: 'g', node: nodes, initializer: initializers, input: [info('x', input)], output: [info('y', output)] },
  }).finish();
}

/** A PyTorch-style CNN in NCHW: conv (SAME_UPPER) + BN + Relu, a residual block with an Erf GELU, depthwise conv, max pool, LayerNorm over channels, GAP, Gemm(transB), Softmax. */
function foreignCnn(seed: number): Uint8Array {
  const r = rand(seed);
  const v = (n: number, s = 0.5) => Float32Array.from({ length: n }, () => (2 * r() - 1) * s);
  const pos = (n: number) => Float32Array.from({ length: n }, () => 0.5 + r());
  return model([
    { name: 'conv1', opType: 'Conv', input: ['x', 'W1', 'B1'], output: ['c1'], attribute: [ints('kernel_shape', [3, 3]), ints('strides', [2, 2]), { name: 'auto_pad', type: STRING, s: new TextEncoder().encode('SAME_UPPER') }] },
    { name: 'bn1', opType: 'BatchNormalization', input: ['c1', 'g1', 'b1', 'm1', 'v1'], output: ['n1'], attribute: [float('epsilon', 1e-3), float('momentum', 0.99)] },
    { name: 'relu1', opType: 'Relu', input: ['n1'], output: ['r1'] },
    { name: 'conv2', opType: 'Conv', input: ['r1', 'W2'], output: ['c2'], attribute: [ints('pads', [1, 1, 1, 1])] },
    { name: 'sqrt2', opType: 'Constant', input: [], output: ['k'], attribute: [{ name: 'value', type: TENSOR, t: tensor('', [], [Math.SQRT2]) }] },
    { name: 'gelu/div', opType: 'Div', input: ['c2', 'k'], output: ['d'] },
    { name: 'gelu/erf', opType: 'Erf', input: ['d'], output: ['e'] },
    { name: 'gelu/add', opType: 'Add', input: ['one', 'e'], output: ['e1'] },
    { name: 'gelu/mul', opType: 'Mul', input: ['c2', 'e1'], output: ['m'] },
    { name: 'gelu/half', opType: 'Mul', input: ['m', 'half'], output: ['g'] },
    { name: 'res', opType: 'Add', input: ['r1', 'g'], output: ['s'] },
    { name: 'dw', opType: 'Conv', input: ['s', 'Wd', 'Bd'], output: ['c3'], attribute: [int('group', 4), ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])] },
    { name: 'pool', opType: 'MaxPool', input: ['c3'], output: ['p'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])] },
    { name: 'to_nhwc', opType: 'Transpose', input: ['p'], output: ['t'], attribute: [ints('perm', [0, 2, 3, 1])] },
    { name: 'ln', opType: 'LayerNormalization', input: ['t', 'lg', 'lb'], output: ['l'], attribute: [int('axis', -1), float('epsilon', 1e-5)] },
    { name: 'to_nchw', opType: 'Transpose', input: ['l'], output: ['u'], attribute: [ints('perm', [0, 3, 1, 2])] },
    { name: 'gap', opType: 'GlobalAveragePool', input: ['u'], output: ['gp'] },
    { name: 'flat', opType: 'Flatten', input: ['gp'], output: ['f'] },
    { name: 'fc', opType: 'Gemm', input: ['f', 'Wf', 'Bf'], output: ['z'], attribute: [int('transB', 1)] },
    { name: 'prob', opType: 'Softmax', input: ['z'], output: ['y'], attribute: [int('axis', 1)] },
  ], [
    tensor('W1', [8, 3, 3, 3], v(216)), tensor('B1', [8], v(8)),
    tensor('g1', [8], pos(8)), tensor('b1', [8], v(8)), tensor('m1', [8], v(8)), tensor('v1', [8], pos(8)),
    tensor('W2', [8, 8, 3, 3], v(576, 0.2)), tensor('one', [], [1]), tensor('half', [1], [0.5]),
    tensor('Wd', [16, 2, 3, 3], v(288)), tensor('Bd', [16], v(16)),
    tensor('lg', [16], pos(16)), tensor('lb', [16], v(16)), tensor('Wf', [5, 16], v(80)), tensor('Bf', [5], v(5)),
  ], ['N', 3, 9, 10], ['N', 5]);
}

function softmax(z: Float32Array, C: number): Float32Array {
  const out = new Float32Array(z.length);
  for (let r = 0; r < z.length / C; r++) {
    let m = -Infinity, s = 0;
    for (let c = 0; c < C; c++) m = Math.max(m, z[r * C + c]!);
    for (let c = 0; c < C; c++) s += (out[r * C + c] = Math.exp(z[r * C + c]! - m));
    for (let c = 0; c < C; c++) out[r * C + c]! /= s;
  }
  return out;
}

function expectRefused(bytes: Uint8Array, message: RegExp): void {
  let caught: unknown;
  try { importOnnx(bytes, 'bad.onnx'); } catch (e) { caught = e; }
  expect(caught).toBeInstanceOf(DataFormatError);
  expect((caught as Error).message).toMatch(message);
  expect((caught as Error).message).not.toMatch(/\n/);
}

describe('importOnnx of foreign graphs', () => {
  it('a PyTorch-style CNN imports (GELU from Erf, residual, groups, LayerNorm over channels) and computes what onnxruntime computes', async () => {
    const bytes = foreignCnn(3);
    const imported = importOnnx(bytes, 'cnn.onnx');
    expect(imported.inputLayout).toBe('NCHW');
    expect(imported.spec).toEqual({ type: 'graph', input: [9, 10, 3], layers: [
      { type: 'conv2d', filters: 8, kernel: 3, stride: 2, padding: 'same', groups: 1, bias: true },
      { type: 'batchNorm', momentum: 0.01, eps: 0.001 },
      { type: 'relu' },
      { type: 'residual', body: [{ type: 'conv2d', filters: 8, kernel: 3, stride: 1, padding: 'same', groups: 1, bias: false }, { type: 'gelu' }], shortcut: [] },
      { type: 'conv2d', filters: 16, kernel: 3, stride: 1, padding: 'same', groups: 4, bias: true },
      { type: 'maxPool2d', size: 2, stride: 2, padding: 'valid' },
      { type: 'layerNorm', eps: 1e-5 },
      { type: 'globalAvgPool' },
      { type: 'dense', units: 5, bias: true },
    ] });
    expect(imported.notes.join('\n')).toMatch(/dropped the trailing Softmax node 'prob'/);
    const rows = 6;
    const x = gauss(rand(4), rows * 270);
    const probs = await runOrt(bytes, toNchw(x, [9, 10, 3]), [rows, 3, 9, 10]);
    const m = onnxToModel(core, bytes);
    try {
      const { err } = maxError(softmax(retortLogits(core, m, x, rows), 5), probs);
      expect(err).toBeLessThan(1e-5);
    } finally {
      m.free();
    }
  });

  it('an NHWC input behind a Transpose, a Transpose before Flatten, and the Gelu operator (opset 20)', async () => {
    const r = rand(9);
    const v = (n: number) => Float32Array.from({ length: n }, () => 2 * r() - 1);
    const bytes = model([
      { name: 'in', opType: 'Transpose', input: ['x'], output: ['a'], attribute: [ints('perm', [0, 3, 1, 2])] },
      { name: 'conv', opType: 'Conv', input: ['a', 'W', 'B'], output: ['c'], attribute: [ints('kernel_shape', [2, 2]), ints('strides', [1, 2]), ints('pads', [0, 0, 1, 1])] },
      { name: 'gelu', opType: 'Gelu', input: ['c'], output: ['g'] },
      { name: 'avg', opType: 'AveragePool', input: ['g'], output: ['p'], attribute: [ints('kernel_shape', [2, 2]), ints('pads', [0, 0, 1, 1]), ints('strides', [2, 2])] },
      { name: 'out', opType: 'Transpose', input: ['p'], output: ['t'], attribute: [ints('perm', [0, 2, 3, 1])] },
      { name: 'shape', opType: 'Reshape', input: ['t', 'target'], output: ['f'] },
      { name: 'fc', opType: 'MatMul', input: ['f', 'Wf'], output: ['mm'] },
      { name: 'bias', opType: 'Add', input: ['mm', 'Bf'], output: ['y'] },
    ], [tensor('W', [4, 2, 2, 2], v(32)), tensor('B', [4], v(4)), { name: 'target', dataType: INT64, dims: [2], int64Data: [0, -1] },
      tensor('Wf', [32, 3], v(96)), tensor('Bf', [3], v(3))], ['N', 7, 7, 2], ['N', 3], 20);
    const imported = importOnnx(bytes);
    expect(imported.inputLayout).toBe('NHWC');
    expect(imported.spec).toEqual({ type: 'graph', input: [7, 7, 2], layers: [
      { type: 'conv2d', filters: 4, kernel: 2, stride: [1, 2], padding: 'same', groups: 1, bias: true },
      { type: 'gelu' },
      { type: 'avgPool2d', size: 2, stride: 2, padding: 'same' },
      { type: 'flatten' },
      { type: 'dense', units: 3, bias: true },
    ] });
    const rows = 4, x = gauss(r, rows * 98);
    const expected = await runOrt(bytes, x, [rows, 7, 7, 2]);
    const m = onnxToModel(core, bytes);
    try {
      const { err, scale } = maxError(retortLogits(core, m, x, rows), expected);
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
    } finally {
      m.free();
    }
  });

  it('GELU written as 0.5 x first and x * (1 / sqrt 2): the other order exporters use', async () => {
    const r = rand(12);
    const bytes = model([
      { name: 'half', opType: 'Mul', input: ['x', 'c05'], output: ['h'] },
      { name: 'scale', opType: 'Mul', input: ['k', 'x'], output: ['s'] },
      { name: 'erf', opType: 'Erf', input: ['s'], output: ['e'] },
      { name: 'plus', opType: 'Add', input: ['e', 'c1'], output: ['p'] },
      { name: 'gelu', opType: 'Mul', input: ['p', 'h'], output: ['g'] },
      { name: 'fc', opType: 'Gemm', input: ['g', 'W'], output: ['y'] },
    ], [tensor('c05', [], [0.5]), tensor('k', [1], [Math.SQRT1_2]), tensor('c1', [], [1]), tensor('W', [4, 3], gauss(r, 12))], ['N', 4], ['N', 3], 13);
    const imported = importOnnx(bytes);
    expect(imported.spec).toEqual({ type: 'graph', input: [4], layers: [{ type: 'gelu' }, { type: 'dense', units: 3, bias: false }] });
    const x = gauss(r, 20, 2);
    const expected = await runOrt(bytes, x, [5, 4]);
    const m = onnxToModel(core, bytes);
    try {
      const { err, scale } = maxError(retortLogits(core, m, x, 5), expected);
      expect(err).toBeLessThanOrEqual(TOLERANCE * scale);
    } finally {
      m.free();
    }
  });

  it('refuses what no Retort layer computes, naming the node and the operator', () => {
    const r = rand(1);
    const v = (n: number) => Float32Array.from({ length: n }, () => 2 * r() - 1);
    const conv = (extra: object[], input = 'x'): INode => ({ name: 'conv', opType: 'Conv', input: [input, 'W'], output: ['c'], attribute: extra });
    const tail: INode[] = [{ name: 'gap', opType: 'GlobalAveragePool', input: ['c'], output: ['g'] }, { name: 'flat', opType: 'Flatten', input: ['g'], output: ['y'] }];
    const inits = [tensor('W', [2, 1, 3, 3], v(18))];
    expectRefused(model([{ name: 'up', opType: 'Resize', input: ['x'], output: ['u'] }, conv([], 'u'), ...tail], inits, ['N', 1, 6, 6], ['N', 2]),
      /^bad\.onnx: node 'up' \(Resize\): operator Resize cannot be represented by a Retort model$/);
    expectRefused(model([conv([ints('dilations', [2, 2])]), ...tail], inits, ['N', 1, 6, 6], ['N', 2]),
      /node 'conv' \(Conv\): dilations \[2, 2\]: Retort's convolution has no dilation/);
    expectRefused(model([conv([ints('pads', [2, 0, 0, 0])]), ...tail], inits, ['N', 1, 6, 6], ['N', 2]),
      /node 'conv' \(Conv\): its padding \(pads \[2, 0, 0, 0\]\) on the 6x6 input is none of Retort's/);
    expectRefused(model([conv([]), { name: 'avg', opType: 'AveragePool', input: ['c'], output: ['p'], attribute: [ints('kernel_shape', [2, 2]), ints('pads', [1, 1, 1, 1]), int('count_include_pad', 1)] },
      { name: 'gap', opType: 'GlobalAveragePool', input: ['p'], output: ['g'] }, { name: 'flat', opType: 'Flatten', input: ['g'], output: ['y'] }], inits, ['N', 1, 6, 6], ['N', 2]),
    /node 'avg' \(AveragePool\): count_include_pad = 1 counts the padding/);
    expectRefused(model([conv([]), { name: 'ln', opType: 'LayerNormalization', input: ['c', 's'], output: ['l'] },
      { name: 'gap', opType: 'GlobalAveragePool', input: ['l'], output: ['g'] }, { name: 'flat', opType: 'Flatten', input: ['g'], output: ['y'] }], [...inits, tensor('s', [4], [1, 1, 1, 1])], ['N', 1, 6, 6], ['N', 2]),
    /node 'ln' \(LayerNormalization\): normalises over the width of an NCHW map; Retort normalises channels/);
    expectRefused(model([{ name: 'g', opType: 'Gelu', input: ['x'], output: ['y'], attribute: [{ name: 'approximate', type: STRING, s: new TextEncoder().encode('tanh') }] }], [], ['N', 4], ['N', 4], 20),
      /node 'g' \(Gelu\): approximate 'tanh': Retort's GELU is the exact \(erf\) form/);
    // two adds sharing a branch: no nesting of residual blocks computes it
    const fc = (name: string, input: string, out: string): INode => ({ name, opType: 'Gemm', input: [input, 'Wf'], output: [out] });
    expectRefused(model([fc('a', 'x', 'h1'), fc('b', 'h1', 'h2'), { name: 'add1', opType: 'Add', input: ['h2', 'x'], output: ['s1'] },
      { name: 'add2', opType: 'Add', input: ['s1', 'h1'], output: ['y'] }], [tensor('Wf', [3, 3], v(9))], ['N', 3], ['N', 3]),
    /node 'a' \(Gemm\): its output feeds two branches in a way Retort cannot express/);
    expectRefused(model([{ name: 'sig', opType: 'Mul', input: ['x', 'x'], output: ['y'] }], [], ['N', 3], ['N', 3]),
      /node 'sig' \(Mul\): Retort reads Mul only as a step of GELU's erf form/);
  });
});
