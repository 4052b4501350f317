// The layer graph: specs compile to the shapes and layouts their layers imply (and bad ones are
// refused by layer and field); every layer's forward matches an independent f64 reference and
// every parameter gradient its central finite differences, on every backend, through batch norm,
// residual adds, grouped/depthwise/strided convolutions, pooling, layer norm, GELU and dropout;
// taps and their gradients; batch norm's running statistics; partial batches.
import { describe, expect, it } from 'vitest';
import { finiteDifference } from '../helpers/close.js';
import { loadCore, type Core } from '@retort/core-wasm';
import { createModel, Model } from '../../src/model/index.js';
import { compileSpec, parseModelSpec, resolveModelSpec, SpecError } from '../../src/model/spec.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { refForward, refGraphLoss } from './graph-reference.js';
import { rand } from '../helpers/random.js';

const BACKENDS = ['simd', 'scalar', 'js'] as const;

function specError(input: unknown): string {
  try { compileSpec(parseModelSpec(input as object)); } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as Error).message;
  }
  return expect.fail('no error');
}

describe('graph specs', () => {
  it('presets: parameter counts as their layers imply, for MNIST and other inputs', () => {
    const lenet = compileSpec(parseModelSpec('lenet5:input=28x28x1,classes=10'));
    // conv 5x5x1x6 + 6, conv 5x5x6x16 + 16, fc 400x120 + 120, 120x84 + 84, 84x10 + 10
    expect(lenet.paramCount).toBe(156 + 2416 + 48120 + 10164 + 850);
    expect([...lenet.taps.keys()]).toEqual(['conv1', 'conv2', 'fc1', 'fc2']);
    const res = compileSpec(parseModelSpec('resnet8:input=32x32x3,classes=100'));
    const conv = (k: number, i: number, o: number): number => k * k * i * o;
    const bn = (c: number): number => 2 * c;
    const expected = conv(3, 3, 16) + bn(16) + 2 * (conv(3, 16, 16) + bn(16))
      + conv(3, 16, 32) + conv(3, 32, 32) + 2 * bn(32) + conv(1, 16, 32) + bn(32)
      + conv(3, 32, 64) + conv(3, 64, 64) + 2 * bn(64) + conv(1, 32, 64) + bn(64) + 64 * 100 + 100;
    expect(res.paramCount).toBe(expected);
    expect(res.stateCount).toBe(2 * (16 + 2 * 16 + 2 * 32 + 32 + 2 * 64 + 64));
    expect(res.nodes.find((n) => n.name === 'block3')!.outShape).toEqual([8, 8, 64]);
    const mob = compileSpec(parseModelSpec('mobilenet-tiny:input=28x28x1,classes=10,width=0.5'));
    expect(mob.nodes.find((n) => n.name === 'block4')!.outShape).toEqual([4, 4, 64]);
    for (const name of ['lenet5', 'resnet8', 'mobilenet-tiny']) {
      for (const input of ['1x1x1', '3x5x2', '8x8x3', '64x48x3', '227x227x3']) {
        const g = compileSpec(parseModelSpec(`${name}:input=${input},classes=7`));
        expect(g.classes, `${name} ${input}`).toBe(7);
      }
    }
  });

  it('a preset or an input-less graph takes its input and classes from the data; an MLP names its own', () => {
    const spec = resolveModelSpec(parseModelSpec('resnet8:width=0.5'), { inputShape: [28, 28], classes: 10 });
    expect(spec).toMatchObject({ type: 'resnet8', input: [28, 28, 1], classes: 10, width: 0.5 });
    const graph = resolveModelSpec(parseModelSpec({ type: 'graph', layers: [{ type: 'flatten' }, { type: 'dense', units: 3 }] }), { inputShape: [4, 4, 2], classes: 3 });
    expect(compileSpec(graph).paramCount).toBe(32 * 3 + 3);
    expect(() => compileSpec(parseModelSpec('lenet5'))).toThrow(/model.input: lenet5 needs the input shape/);
  });

  it('refuses wrong shapes by layer and field before anything is allocated', () => {
    const g = (layers: unknown[], input = [2, 2, 3]) => ({ type: 'graph', input, layers });
    expect(specError(g([{ type: 'conv2d', filters: 4, kernel: 5, padding: 'valid' }, { type: 'flatten' }, { type: 'dense', units: 2 }])))
      .toBe("model.layers[0].kernel: a 5x5 kernel does not fit the 2x2 input of conv2d 'conv2d1' (padding valid)");
    expect(specError(g([{ type: 'residual', name: 'r', body: [{ type: 'conv2d', filters: 4, kernel: 1 }] }, { type: 'globalAvgPool' }, { type: 'dense', units: 2 }])))
      .toMatch(/^model.layers\[0\]: residual 'r' adds its body's output \[2, 2, 4\] to its shortcut's \[2, 2, 3\]: they must match/);
    expect(specError(g([{ type: 'conv2d', filters: 4, kernel: 1 }, { type: 'dense', units: 2 }])))
      .toMatch(/^model.layers\[1\]: dense 'dense1' needs flat features but gets \[2, 2, 4\]; put a flatten or globalAvgPool before it/);
    expect(specError(g([{ type: 'conv2d', filters: 4, kernel: 1 }])))
      .toMatch(/^model.layers: the last layer gives \[2, 2, 4\] per sample, but a model must end in flat class scores/);
    expect(specError(g([{ type: 'conv2d', filters: 4, kernel: 1, groups: 2 }, { type: 'flatten' }, { type: 'dense', units: 2 }])))
      .toBe("model.layers[0].groups: conv2d 'conv2d1': 3 input channels do not split into 2 groups");
    expect(specError(g([{ type: 'conv2d', filters: 4, kernel: 1, name: 'a' }, { type: 'relu', name: 'a' }, { type: 'flatten' }, { type: 'dense', units: 2 }])))
      .toBe("model.layers[1].name: 'a' is also the name of model.layers[0]; layer names must be unique");
    expect(specError(g([{ type: 'maxPool2d', size: 3 }, { type: 'flatten' }, { type: 'dense', units: 2 }])))
      .toBe("model.layers[0].size: a 3x3 window does not fit the 2x2 input of maxPool2d 'maxPool2d1' (padding valid)");
    expect(specError(g([{ type: 'conv2d', filters: 2, kernel: 3 }, { type: 'dense', units: 2 }], [5])))
      .toMatch(/^model.layers\[0\]: conv2d 'conv2d1' needs an image input \(height, width, channels\) but gets flat features \[5\]/);
    expect(specError(g([{ type: 'conv2d', filters: 2, kernels: 3 }]))).toBe("model.layers[0]: unknown field 'kernels'");
    expect(specError(g([{ type: 'conv3d', filters: 2 }]))).toMatch(/^model.layers\[0\].type: must be a layer: an object with type dense, conv2d/);
    expect(specError(g([{ type: 'residual', body: [{ type: 'conv2d', filters: 3, kernel: 9, padding: 'valid' }] }, { type: 'flatten' }, { type: 'dense', units: 2 }])))
      .toBe("model.layers[0].body[0].kernel: a 9x9 kernel does not fit the 2x2 input of conv2d 'residual1.conv2d1' (padding valid)");
  });
});

/** A graph through every layer kind: strided/grouped/depthwise convolutions, batch norm, a residual add, pooling, LN, GELU, dropout. */
const KITCHEN: GraphSpec = {
  type: 'graph', input: [7, 6, 3], layers: [
    { type: 'conv2d', filters: 4, kernel: 3, stride: 2, padding: 'same', groups: 1, bias: true, name: 'c1' },
    { type: 'batchNorm', momentum: 0.1, eps: 1e-5 },
    { type: 'relu' },
    {
      type: 'residual', name: 'r1',
      body: [{ type: 'conv2d', filters: 4, kernel: 3, stride: 1, padding: 'same', groups: 2, bias: false }, { type: 'batchNorm', momentum: 0.1, eps: 1e-5 }, { type: 'gelu' }],
      shortcut: [],
    },
    { type: 'depthwiseConv2d', kernel: [2, 3], stride: 1, padding: 'valid', multiplier: 2, bias: true },
    { type: 'avgPool2d', size: 2, stride: 1, padding: 'same' },
    { type: 'layerNorm', eps: 1e-5, name: 'ln' },
    {
      type: 'residual', name: 'r2',
      body: [{ type: 'conv2d', filters: 5, kernel: 1, stride: 2, padding: 'valid', groups: 1, bias: true }, { type: 'relu' }],
      shortcut: [{ type: 'maxPool2d', size: 1, stride: 2, padding: 'valid' }, { type: 'conv2d', filters: 5, kernel: 1, stride: 1, padding: 'valid', groups: 1, bias: false }],
    },
    { type: 'maxPool2d', size: 2, stride: 1, padding: 'same' },
    { type: 'flatten', name: 'flat' },
    { type: 'dropout', rate: 0.25 },
    { type: 'dense', units: 6, bias: true, name: 'fc' },
    { type: 'relu' },
    { type: 'dense', units: 4, bias: true },
  ],
};

function expectGradClose(got: Float32Array, want: Float64Array, what: string): void {
  const scale = Math.max(...Array.from(want, Math.abs));
  let bad = -1, worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i]! - want[i]!);
    const ratio = err / (3e-5 * scale + 1e-4 * Math.abs(want[i]!));
    if (ratio > worst) { worst = ratio; bad = i; }
  }
  if (worst > 1) expect.fail(`${what}: grad[${bad}] = ${got[bad]} but finite differences give ${want[bad]} (scale ${scale})`);
}

/** The dropout mask the model draws for its only dropout layer: the same kernel, the same seed. */
function dropoutMaskOf(core: Core, seed: number, n: number, p: number): Float32Array {
  const rng = core.createRng(seed), mask = core.alloc(n);
  core.dropoutMask(mask, rng, n, p);
  const out = mask.toArray();
  core.free(rng); core.free(mask);
  return out;
}

describe.each(BACKENDS)('layer graph [%s]', (backend) => {
  it('forward matches the f64 reference (train and eval), and every parameter gradient its finite differences', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, KITCHEN);
    model.init(3);
    const g = model.graph;
    const rows = 3, r = rand(7);
    const x = Float32Array.from({ length: rows * 7 * 6 * 3 }, () => 2 * r() - 1);
    const labels = Int32Array.of(0, 3, 2);
    model.plan(4); // a partial batch on a larger plan
    const tx = core.fromArray(x), ty = core.allocI32(rows).set(labels), dz = core.alloc(rows * 4);
    const dropIndex = g.nodes.findIndex((n) => n.spec.type === 'dropout');
    const flat = g.nodes[dropIndex]!.outShape[0]!;
    const mask = dropoutMaskOf(core, 99, rows * flat, 0.25);
    const fcTap = g.taps.get('fc')!, lnTap = g.taps.get('ln')!;
    const wFc = Float32Array.from({ length: rows * 6 }, () => r() - 0.5), wLn = Float32Array.from({ length: rows * model.tapShape('ln').reduce((a, b) => a * b, 1) }, () => 0.1 * (r() - 0.5));
    const opts = { train: true, masks: new Map([[dropIndex, mask]]), tapWeights: new Map<number, ArrayLike<number>>([[fcTap, wFc], [lnTap, wLn]]) };

    const rng = core.createRng(99);
    model.zeroGrad();
    const z = model.forward(tx, rows, 'train', rng);
    const ref = refForward(g, model.readParams(), x, rows, opts);
    const zf = z.toArray().subarray(0, rows * 4);
    const scale = Math.max(...Array.from(ref.logits, Math.abs));
    for (let i = 0; i < zf.length; i++) expect(Math.abs(zf[i]! - ref.logits[i]!), `logit ${i}`).toBeLessThan(2e-5 * scale);
    // the named taps hold the reference activations
    const tapFc = model.tapValues('fc', rows);
    for (let i = 0; i < tapFc.length; i++) expect(Math.abs(tapFc[i]! - ref.acts[fcTap]![i]!)).toBeLessThan(2e-5 * scale);
    core.crossEntropy(dz, z, ty, rows, 4);
    core.axpy(model.tapGrad('fc'), core.fromArray(wFc), wFc.length, 1);
    core.axpy(model.tapGrad('ln'), core.fromArray(wLn), wLn.length, 1);
    model.backward(dz, rows);
    const got = model.grads.toArray();
    const p0 = model.readParams();
    const fd = finiteDifference((q) => refGraphLoss(g, q, x, labels, rows, opts), p0, 1e-4);
    expectGradClose(got, fd, `${backend} grads`);

    // eval mode: running statistics, no dropout
    const state = model.readState();
    const ze = model.forward(tx, rows, 'eval').toArray().subarray(0, rows * 4);
    const refE = refForward(g, p0, x, rows, { train: false, state });
    for (let i = 0; i < ze.length; i++) expect(Math.abs(ze[i]! - refE.logits[i]!), `eval logit ${i}`).toBeLessThan(2e-5 * scale + 1e-5);
    model.free();
  });

  it('batch norm updates its running statistics as PyTorch does (momentum, unbiased variance)', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, { type: 'graph', input: [2, 2, 3], layers: [
      { type: 'batchNorm', momentum: 0.25, eps: 1e-5, name: 'bn' }, { type: 'flatten' }, { type: 'dense', units: 2 },
    ] });
    model.init(1);
    model.plan(5);
    const r = rand(3), rows = 5;
    const x = Float32Array.from({ length: rows * 12 }, () => 3 + 2 * r());
    model.forward(core.fromArray(x), rows, 'train');
    const st = model.readState();
    const R = rows * 4;
    for (let c = 0; c < 3; c++) {
      let m = 0; for (let i = 0; i < R; i++) m += x[i * 3 + c]!; m /= R;
      let v = 0; for (let i = 0; i < R; i++) v += (x[i * 3 + c]! - m) ** 2; v /= R - 1;
      expect(st[c]!).toBeCloseTo(0.25 * m, 5);
      expect(st[3 + c]!).toBeCloseTo(0.75 + 0.25 * v, 5);
    }
    model.free();
  });

  it('backward accumulates (twice doubles); a tap gradient is zeroed by every forward', async () => {
    const core = await loadCore({ backend });
    const model = createModel(core, { type: 'graph', input: [5, 5, 2], layers: [
      { type: 'conv2d', filters: 3, kernel: 3, name: 'c' }, { type: 'relu' }, { type: 'globalAvgPool' }, { type: 'dense', units: 3 },
    ] });
    model.init(2);
    model.plan(2);
    const x = core.fromArray(Float32Array.from({ length: 100 }, (_, i) => Math.sin(i))), dz = core.fromArray([0.1, -0.2, 0.1, 0.3, 0, -0.3]);
    model.forward(x, 2, 'train');
    core.fill(model.tapGrad('c'), 2 * 75, 0.01);
    model.zeroGrad(); model.backward(dz, 2);
    const once = model.grads.toArray();
    model.zeroGrad(); model.backward(dz, 2); model.backward(dz, 2);
    const twice = model.grads.toArray();
    for (let i = 0; i < once.length; i++) expect(twice[i]).toBeCloseTo(2 * once[i]!, 5);
    model.forward(x, 2, 'train');
    expect(Array.from(model.tapGrad('c').toArray()).every((v) => v === 0)).toBe(true);
    expect(() => model.tap('nope')).toThrow("model.tap: no tap 'nope'; this model's taps are c and 'logits'");
    model.free();
  });
});

describe('layer graph memory', () => {
  it('a model used only for prediction never allocates gradients; ReLU after a convolution runs in place', async () => {
    const core = await loadCore({ backend: 'simd' });
    const spec = { type: 'graph', input: [16, 16, 4], layers: [
      { type: 'conv2d', filters: 8, kernel: 3 }, { type: 'relu' }, { type: 'globalAvgPool' }, { type: 'dense', units: 3 },
    ] };
    const a = createModel(core, spec);
    const x = core.alloc(8 * 16 * 16 * 4);
    const before = core.bytesInUse;
    a.plan(8);
    const planned = core.bytesInUse - before;
    // conv output (8*16*16*8) + pooled (8*8) + logits (8*3) + geometry + workspace; no second 8*16*16*8 buffer for the ReLU
    expect(planned).toBeLessThan(4 * 8 * 16 * 16 * 8 * 2);
    a.forward(x, 8, 'eval');
    expect(core.bytesInUse - before).toBe(planned);
    a.forward(x, 8, 'train');
    expect(core.bytesInUse - before).toBeGreaterThan(planned + 4 * a.paramCount);
    expect(a).toBeInstanceOf(Model);
    a.free();
  });
});
