// The inference-only entry (@retort/core-wasm/infer): its module exports exactly the inference
// kernels, it loads from the package build, from bytes, a URL or a compiled module, refuses a
// module without its kernels, and its browser bundle stays small and free of training code.
// (That it predicts the same logits as the full core is tested in packages/distill/test/quant.)
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { INFER_KERNEL_NAMES } from '../src/abi.js';
import { KERNEL_NAMES } from '../src/kernels/list.js';
import { encodeQuantizedModel, type QuantizedModel } from '../src/format/quantized.js';
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
