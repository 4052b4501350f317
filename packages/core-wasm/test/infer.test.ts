// The inference-only entry (@retort/core-wasm/infer): its module exports exactly the inference
// kernels, it loads from the package build, from bytes, a URL or a compiled module, refuses a
// module without its kernels, runs hand-checked int8 models (a version-1 MLP and a version-2
// graph with a convolution, global average pooling and an affine op), and its browser bundle
// stays small and free of training code. (That it predicts the same logits as @retort/distill's
// models, int8 and f32, for MLPs and graphs, is tested in packages/distill/test/quant.)
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { INFER_KERNEL_NAMES } from '../src/abi.js';
import { KERNEL_NAMES } from '../src/kernels/list.js';
import { encodeQuantizedModel, type QuantizedModel } from '../src/format/quantized.js';
import { encodeQuantizedGraph, type QuantizedGraph } from '../src/format/quantized-graph.js';
import { loadInference } from '../src/infer/index.js';

const buildUrl = (name: string): URL => new URL(`../build/${name}`, import.meta.url);

/** A 3-2-2 int8 model small enough to evaluate by hand. */
const model: QuantizedModel = {
  spec: { type: 'mlp', sizes: [3, 2, 2] },
  layers: [
    { inputs: 3, outputs: 2, weights: Int8Array.of(1, -2, 3, 4, -5, 6), weightScales: Float32Array.of(0.5, 0.25), bias: Float32Array.of(0.5, -1), inputScale: 0.125 },
    { inputs: 2, outputs: 2, weights: Int8Array.of(2, 0, -1, 1), weightScales: Float32Array.of(1, 2), bias: Float32Array.of(0, 0), inputScale: 0.5 },
  ],
};
// x = [1, 0.5, -0.25] -> q = [8, 4, -2]; layer 0 acc = [8 + 12 + 10, -16 + 16 - 12] = [30, -12]
// y0 = [30 * 0.0625 + 0.5, -12 * 0.03125 - 1] = [2.375, -1.375] -> ReLU [2.375, 0]
// layer 1: q = [round(4.75) = 5, 0]; acc = [10, 0]; logits = [10 * 0.5, 0] = [5, 0]
const x = Float32Array.of(1, 0.5, -0.25);
const expected = [5, 0];

/** A graph on one 2x2 grey image: int8 1x1 conv (2 filters, ReLU), global average pooling, affine, int8 dense. */
const graph: QuantizedGraph = {
  spec: { type: 'graph' }, input: [2, 2, 1],
  ops: [
    { type: 'conv', inputs: [-1], filters: 2, kernel: [1, 1], stride: [1, 1], padding: 'valid', groups: 1, relu: true, inputScale: 0.25,
      weights: Int8Array.of(2, -1), weightScales: Float32Array.of(0.5, 1), bias: Float32Array.of(0, 0.5) },
    { type: 'globalAvgPool', inputs: [0] },
    { type: 'affine', inputs: [1], scale: Float32Array.of(2, -1), shift: Float32Array.of(0.5, 0) },
    { type: 'dense', inputs: [2], units: 1, relu: false, inputScale: 1 / 64, weights: Int8Array.of(1, 2), weightScales: Float32Array.of(1), bias: Float32Array.of(0) },
  ],
};
// image [1, -0.5, 0.25, 0] -> q = [4, -2, 1, 0] (scale 1/4)
// conv: filter 0 = 2q * 0.125 = [1, -0.5, 0.25, 0] -> ReLU [1, 0, 0.25, 0];
//       filter 1 = -q * 0.25 + 0.5 = [-0.5, 1, 0.25, 0.5] -> ReLU [0, 1, 0.25, 0.5]
// pooling: [0.3125, 0.4375]; affine: [0.3125 * 2 + 0.5, -0.4375] = [1.125, -0.4375]
// dense: q = [72, -28] (scale 1/64); acc = 72 - 56 = 16; logit 16 / 64 = 0.25
const image = Float32Array.of(1, -0.5, 0.25, 0);

describe('@retort/core-wasm/infer', () => {
  it('the inference modules export the inference kernels and nothing for training', async () => {
    for (const variant of ['simd', 'scalar']) {
      const module = await WebAssembly.compile(readFileSync(buildUrl(`retort.infer.${variant}.wasm`)));
      const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name).sort();
      expect(names, variant).toEqual([...INFER_KERNEL_NAMES].sort());
    }
    expect(INFER_KERNEL_NAMES.every((n) => (KERNEL_NAMES as readonly string[]).includes(n))).toBe(true);
  });

  it('loads from the package build, bytes, a file URL and a compiled module, and computes the hand-checked logits', async () => {
    const bytes = readFileSync(buildUrl('retort.infer.scalar.wasm'));
    const sources = [
      await loadInference(),
      await loadInference({ backend: 'scalar' }),
      await loadInference({ backend: 'scalar', wasm: new Uint8Array(bytes) }),
      await loadInference({ backend: 'scalar', wasm: buildUrl('retort.infer.scalar.wasm') }),
      await loadInference({ wasm: await WebAssembly.compile(bytes), backend: 'scalar' }),
      await loadInference({ wasm: readFileSync(buildUrl('retort.simd.wasm')) }), // the full module is a superset
    ];
    const file = encodeQuantizedModel(model);
    for (const inf of sources) {
      expect(Array.from(inf.predict(model, x, 1))).toEqual(expected);
      expect(Array.from(inf.predict(file, Float32Array.from([...x, ...x]), 2))).toEqual([...expected, ...expected]);
    }
  });

  it('runs a hand-checked int8 graph from the object and from its version-2 file, one row or several', async () => {
    const file = encodeQuantizedGraph(graph);
    expect(new DataView(file.buffer).getUint32(8, true)).toBe(2);
    for (const backend of ['simd', 'scalar'] as const) {
      const inf = await loadInference({ backend, batchSize: 2 });
      expect(Array.from(inf.predict(graph, image, 1)), backend).toEqual([0.25]);
      const m = inf.load(file, 'tiny.q8');
      expect([m.kind, m.inputShape, m.inputSize, m.classes]).toEqual(['int8', [2, 2, 1], 4, 1]);
      // 5 rows in batches of 2 (the last batch short)
      const five = Float32Array.from([...image, 0, 0, 0, 0, ...image, ...image, 0, 0, 0, 0]);
      const out = Array.from(m.predict(five, 5));
      // zero image: filter 0 -> 0, filter 1 -> 0.5; pooled [0, 0.5]; affine [0.5, -0.5]; q [32, -32]; acc -32; logit -0.5
      expect(out).toEqual([0.25, -0.5, 0.25, 0.25, -0.5]);
      m.free();
    }
    const inf = await loadInference();
    expect(() => inf.load({ ...graph, ops: [{ ...graph.ops[0]!, weights: Int8Array.of(1) } as QuantizedGraph['ops'][number], ...graph.ops.slice(1)] }))
      .toThrow(/load: ops\[0\] \(conv\)\.weights must be a Int8Array of 2 values/);
    expect(() => inf.load({ ...graph, ops: graph.ops.slice(0, 1) })).toThrow(/load: ops: the last op gives \[2, 2, 2\] per sample/);
    // a grouped convolution runs on block-diagonal weights, G times its own: refused beyond 256 MiB before allocating them
    const C = 8192, G = 4096;
    const grouped: QuantizedGraph = {
      spec: { type: 'graph' }, input: [1, 1, C],
      ops: [
        { type: 'conv', inputs: [-1], filters: C, kernel: [3, 3], stride: [1, 1], padding: 'same', groups: G, relu: false, inputScale: 1,
          weights: new Int8Array(9 * (C / G) * C), weightScales: new Float32Array(C).fill(1), bias: new Float32Array(C) },
        { type: 'globalAvgPool', inputs: [0] },
      ],
    };
    expect(() => inf.load(grouped)).toThrow(/conv0: a convolution of 4096 groups runs on block-diagonal weights of 603979776 bytes, beyond 268435456/);
  });

  it('refuses a module without the kernels, bad options and bad inputs', async () => {
    const probe = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
    await expect(loadInference({ wasm: probe })).rejects.toThrow(/does not export kernel 'heapBase'/);
    await expect(loadInference({ backend: 'gpu' as 'simd' })).rejects.toThrow(RangeError);
    await expect(loadInference({ batchSize: 0 })).rejects.toThrow(/batchSize/);
    const inf = await loadInference();
    expect(() => inf.predict(model, x, 2)).toThrow(/x has 3 values but 2 rows of 3 inputs need 6/);
    expect(() => inf.predict({ ...model, layers: model.layers.slice(1) }, x, 1)).toThrow(/need 2 layers/);
    expect(() => inf.predictFloat([3, 2], new Float32Array(7), x, 1)).toThrow(/params must be a Float32Array of 8/);
    // float model: W (3, 2) then b (2): y = x W + b
    expect(Array.from(inf.predictFloat([3, 2], Float32Array.of(1, 0, 0, 1, 1, 1, 0.5, -0.5), x, 1))).toEqual([1.25, -0.25]);
  });

  it('bundles for the browser under 100 KiB gzip (JS + SIMD wasm) without training code', async () => {
    const result = await build({
      entryPoints: [new URL('../dist/infer/index.js', import.meta.url).pathname], bundle: true, minify: true,
      format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => /backends\/js|\/loader\.js|\/core\.js|convenience|zod|distill|node:/.test(p))).toEqual([]);
    expect(inputs.some((p) => p.endsWith('wasm-source.browser.js'))).toBe(true);
    const js = gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
    const wasm = gzipSync(readFileSync(buildUrl('retort.infer.simd.wasm')), { level: 9 }).length;
    expect(js + wasm).toBeLessThan(100 * 1024);
  });
});
