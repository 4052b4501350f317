// int8 quantization of a layer graph (./cnn.ts: convolutions plain, depthwise and grouped, batch
// norms that fold and one that cannot, fused and separate ReLUs, a residual add, max, average and
// global average pooling, dense layers): the plan (what folds, what fuses, what stays f32); int8
// logits against the exact (f64) model within a rigorous error bound propagated op by op; the
// same bits on simd, scalar and js, from the file, and in the inference-only entry; a float32
// model file of any graph in the inference entry giving the f32 model's bits; graphs with layer
// norm and GELU (simd = scalar = the inference entry).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import type { QuantizedGraph } from '@retort/core-wasm/format';
import { loadInference } from '@retort/core-wasm/infer';
import { Model } from '../../src/model/model.js';
import type { CompiledGraph, GraphNode } from '../../src/model/graph.js';
import type { GraphSpec } from '../../src/model/layer-spec.js';
import { encodeModelFile } from '../../src/format/model-file.js';
import { modelTensors } from '../../src/format/model-io.js';
import { planInt8, int8Bytes, type PlannedOp } from '../../src/quant/plan.js';
import { quantizeModel } from '../../src/quant/quantize.js';
import { Int8Model } from '../../src/quant/int8-model.js';
import { refForward } from '../model/graph-reference.js';
import { CLASSES, CNN, IMAGE, argmax, bits, floatLogits, images, trainCnn } from './cnn.js';

const U = 2 ** -24;
const N_TEST = 96;
const test = images(N_TEST, 4242), calib = images(128, 999);

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const pairOf = (v: number | [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : v);

/** g_c = gamma_c / sqrt(var_c + eps) (the reference's eps), beta, mean. */
function bnOf(n: GraphNode, params: Float32Array, state: Float32Array): { g: Float64Array; beta: Float32Array; mean: Float32Array } {
  const t = (list: GraphNode['params'], kind: string, v: Float32Array): Float32Array => {
    const d = list.find((p) => p.name.endsWith(`.${kind}`))!;
    return v.subarray(d.offset, d.offset + d.length);
  };
  const gamma = t(n.params, 'gamma', params), beta = t(n.params, 'beta', params);
  const mean = t(n.state, 'running_mean', state), variance = t(n.state, 'running_var', state);
  const eps = (n.spec as { eps: number }).eps;
  return { g: Float64Array.from(gamma, (v, c) => v / Math.sqrt(variance[c]! + eps)), beta, mean };
}

/**
 * A rigorous bound on |int8 logits - exact (f64) logits| per element, propagated op by op along the
 * int8 plan. h is the exact model's activation at an op's input, E >= |int8 activation - h|.
 * int8 dense/conv (batch norm folded: W' = W g, b' = (b - mean) g + beta; W' and b' carry the f32
 * rounding of the fold, <= 2u relative with the f32 eps): as for the MLP (quant.test.ts), per
 * output o over its receptive inputs i,
 *   D_i = E_i + max(s (1/2 + 128u), |h_i| + E_i - 127 s),  XQ_i = min(127 s, |h_i| + D_i)
 *   E_o = sum_i D_i |W'_io| + XQ_i (s_o (1/2 + 128u) + 2u |W'_io|) + 5u (sum_i XQ_i (|W'_io| + s_o) + |b'_o|) + 2u |b'|-terms
 * ReLU (fused or not) is 1-Lipschitz; max pooling takes the window's largest E; average pooling
 * (n inside positions, f32 sum and one division) mean(E) + (n + 2) u mean(|h| + E); the residual
 * add E_a + E_b + u (|h_a| + E_a + |h_b| + E_b); the affine op (unfolded batch norm, f32 scale and
 * shift within 2u of g and beta - mean g) |g| E + 4u ((|h| + E) |g| + |shift|).
 */
function propagatedBound(graph: CompiledGraph, plan: PlannedOp[], q: QuantizedGraph, params: Float32Array, state: Float32Array,
                         acts: Float64Array[], input: Float32Array, rows: number): Float64Array {
  const nodes = graph.nodes;
  const outNode = (p: PlannedOp): number => p.fusedRelu ?? p.foldedBatchNorm ?? p.node;
  const H: Float64Array[] = [], E: Float64Array[] = [];
  const hIn = (j: number): ArrayLike<number> => (j < 0 ? input : H[j]!);
  const eIn = (j: number): Float64Array => (j < 0 ? new Float64Array(rows * IMAGE) : E[j]!);
  plan.forEach((p, i) => {
    const n = nodes[p.node]!, op = q.ops[i]!;
    const h = hIn(p.inputs[0]!), e = eIn(p.inputs[0]!);
    const out = new Float64Array(rows * sizeOf(n.outShape));
    const inShape = n.inShape, outShape = n.outShape;
    if (op.type === 'dense' || op.type === 'conv') {
      const wd = n.params.find((d) => d.name.endsWith('.w'))!, bd = n.params.find((d) => d.name.endsWith('.b'));
      const OC = outShape[outShape.length - 1]!;
      const bn = p.foldedBatchNorm !== undefined ? bnOf(nodes[p.foldedBatchNorm]!, params, state) : null;
      const Wf = Float64Array.from(params.subarray(wd.offset, wd.offset + wd.length), (v, k) => v * (bn ? bn.g[k % OC]! : 1));
      const bias = (o: number): number => (bd ? params[bd.offset + o]! : 0);
      const bf = (o: number): number => (bn ? (bias(o) - bn.mean[o]!) * bn.g[o]! + bn.beta[o]! : bias(o));
      const bfErr = (o: number): number => (bn ? 2 * U * ((Math.abs(bias(o)) + Math.abs(bn.mean[o]!)) * Math.abs(bn.g[o]!) + Math.abs(bn.beta[o]!)) : 0);
      const s = op.inputScale, sw = op.weightScales;
      const D = new Float64Array(e.length), XQ = new Float64Array(e.length);
      for (let k = 0; k < e.length; k++) {
        const hv = Math.abs(h[k]!);
        D[k] = e[k]! + Math.max(s * (0.5 + 128 * U), hv + e[k]! - 127 * s);
        XQ[k] = Math.min(127 * s, hv + D[k]!);
      }
      // visit(o, inputIndex, weightIndex) over the receptive field of each output element
      const each = (r: number, at: number, o: number, visit: (xi: number, wi: number) => void): void => {
        if (op.type === 'dense') { const IN = sizeOf(inShape); for (let k = 0; k < IN; k++) visit(r * IN + k, k * OC + o); return; }
        const [Hh, Ww, C] = inShape as [number, number, number], [OH, OW] = outShape as [number, number, number];
        const [kh, kw] = op.kernel, [sh, sw2] = op.stride, G = op.groups, cg = C / G, og = OC / G;
        const padT = Math.max(0, Math.floor(((OH - 1) * sh + kh - Hh) / 2)), padL = Math.max(0, Math.floor(((OW - 1) * sw2 + kw - Ww) / 2));
        const pt = op.padding === 'same' ? padT : op.padding === 'valid' ? 0 : op.padding, pl = op.padding === 'same' ? padL : op.padding === 'valid' ? 0 : op.padding;
        const oy = Math.floor(at / OW), ox = at % OW, grp = Math.floor(o / og);
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
          const iy = oy * sh - pt + ky, ix = ox * sw2 - pl + kx;
          if (iy < 0 || iy >= Hh || ix < 0 || ix >= Ww) continue;
          for (let c = 0; c < cg; c++) visit(((r * Hh + iy) * Ww + ix) * C + grp * cg + c, ((ky * kw + kx) * cg + c) * OC + o);
        }
      };
      const pixels = sizeOf(outShape) / OC;
      for (let r = 0; r < rows; r++) for (let at = 0; at < pixels; at++) for (let o = 0; o < OC; o++) {
        let quant = 0, epi = 0;
        each(r, at, o, (xi, wi) => {
          const w = Math.abs(Wf[wi]!);
          quant += D[xi]! * w + XQ[xi]! * (sw[o]! * (0.5 + 128 * U) + 2 * U * w);
          epi += XQ[xi]! * (w + sw[o]!);
        });
        out[(r * pixels + at) * OC + o] = quant + 5 * U * (epi + Math.abs(bf(o))) + bfErr(o);
      }
    } else if (op.type === 'affine') {
      const { g, beta, mean } = bnOf(n, params, state);
      const C = g.length;
      for (let k = 0; k < out.length; k++) {
        const c = k % C, shift = beta[c]! - mean[c]! * g[c]!;
        out[k] = Math.abs(g[c]!) * e[k]! + 4 * U * ((Math.abs(h[k]!) + e[k]!) * Math.abs(g[c]!) + Math.abs(shift));
      }
    } else if (op.type === 'maxPool2d' || op.type === 'avgPool2d' || op.type === 'globalAvgPool') {
      const [Hh, Ww, C] = inShape as [number, number, number];
      const [OH, OW] = op.type === 'globalAvgPool' ? [1, 1] : outShape as [number, number, number];
      const [kh, kw] = op.type === 'globalAvgPool' ? [Hh, Ww] : op.size, [sh, sw2] = op.type === 'globalAvgPool' ? [1, 1] : op.stride;
      const padding = op.type === 'globalAvgPool' ? 'valid' : op.padding;
      const pt = padding === 'same' ? Math.max(0, Math.floor(((OH - 1) * sh + kh - Hh) / 2)) : 0;
      const pl = padding === 'same' ? Math.max(0, Math.floor(((OW - 1) * sw2 + kw - Ww) / 2)) : 0;
      for (let r = 0; r < rows; r++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) for (let c = 0; c < C; c++) {
        let mx = 0, se = 0, sh2 = 0, cnt = 0;
        for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
          const iy = oy * sh - pt + ky, ix = ox * sw2 - pl + kx;
          if (iy < 0 || iy >= Hh || ix < 0 || ix >= Ww) continue;
          const k = ((r * Hh + iy) * Ww + ix) * C + c;
          mx = Math.max(mx, e[k]!); se += e[k]!; sh2 += Math.abs(h[k]!) + e[k]!; cnt++;
        }
        out[((r * OH + oy) * OW + ox) * C + c] = op.type === 'maxPool2d' ? mx : se / cnt + (cnt + 2) * U * (sh2 / cnt);
      }
    } else if (op.type === 'add') {
      const h2 = hIn(p.inputs[1]!), e2 = eIn(p.inputs[1]!);
      for (let k = 0; k < out.length; k++) out[k] = e[k]! + e2[k]! + U * (Math.abs(h[k]!) + e[k]! + Math.abs(h2[k]!) + e2[k]!);
    } else {
      out.set(e); // relu, flatten
    }
    const ref = acts[outNode(p)]!;
    for (let k = 0; k < out.length; k++) out[k] = out[k]! + 1e-12 * (1 + Math.abs(ref[k]!)); // the f64 reference's own rounding
    H.push(ref);
    E.push(out);
  });
  return E[E.length - 1]!;
}

describe('int8 quantization of a convolutional graph', () => {
  let core: Core;
  let model: Model;
  let q: Int8Model;

  beforeAll(async () => {
    core = await loadCore({ backend: 'simd' });
    model = trainCnn(core);
    q = quantizeModel(core, model, calib.x);
  });

  it('plans the int8 ops: batch norms fold into the layer before them where they are its only reader, ReLUs fuse, the rest stays f32', () => {
    const plan = planInt8(model.graph);
    const described = plan.ops.map((p) => `${p.type}${p.foldedBatchNorm !== undefined ? '+bn' : ''}${p.fusedRelu !== undefined ? '+relu' : ''}`);
    expect(described).toEqual([
      'conv+bn+relu',            // stem: conv, batch norm, ReLU
      'conv+bn+relu',            // depthwise, batch norm, ReLU
      'conv+bn',                 // grouped 1x1, batch norm
      'add', 'relu',             // the residual add (the block input has two readers) and the ReLU after it
      'maxPool2d', 'affine',     // a batch norm after pooling cannot fold
      'conv+relu', 'avgPool2d', 'globalAvgPool',
      'dense+bn+relu',           // a batch norm on flat features folds too
      'dense',
    ]);
    expect(q.model.ops.map((o) => o.type)).toEqual(plan.ops.map((p) => p.type));
    expect(q.model.ops[1]).toMatchObject({ type: 'conv', groups: 4, filters: 4 });   // depthwise: groups = channels
    expect(q.model.ops[7]).toMatchObject({ type: 'conv', groups: 2, stride: [2, 2], relu: true });
    expect(q.size.total, 'int8Bytes states the size without quantizing').toBe(int8Bytes(model.graph));
    expect(q.size.other, 'the affine op: scale and shift of 4 channels').toBe(32);
  });

  it('int8 logits stay within the propagated bound of the exact model, and close to the f32 model', () => {
    const params = model.readParams(), state = model.readState();
    const ref = refForward(model.graph, params, test.x, N_TEST, { train: false, state });
    const f = floatLogits(model, test.x, N_TEST);
    const iq = q.predict(test.x, N_TEST);
    const bound = propagatedBound(model.graph, planInt8(model.graph).ops, q.model, params, state, ref.acts, test.x, N_TEST);
    let worst = 0, maxErr = 0, maxLogit = 0;
    for (let k = 0; k < iq.length; k++) {
      const err = Math.abs(iq[k]! - ref.logits[k]!);
      if (!(err <= bound[k]!)) expect.fail(`logit [${k}]: int8 ${iq[k]} vs exact ${ref.logits[k]}, |err| ${err} > bound ${bound[k]}`);
      worst = Math.max(worst, err / bound[k]!);
      maxErr = Math.max(maxErr, Math.abs(iq[k]! - f[k]!));
      maxLogit = Math.max(maxLogit, Math.abs(f[k]!));
      expect(Math.abs(f[k]! - ref.logits[k]!), 'the f32 model itself is close to exact').toBeLessThan(1e-4 * (1 + Math.abs(ref.logits[k]!)));
    }
    const pf = argmax(f, N_TEST, CLASSES), pq = argmax(iq, N_TEST, CLASSES);
    let agree = 0, correct = 0;
    for (let r = 0; r < N_TEST; r++) { if (pf[r] === pq[r]) agree++; if (pf[r] === test.y[r]) correct++; }
    // Measured: the largest error is 5.5% of the largest |logit| (the grouped 1x1 convolution sums two
    // inputs per output, so nothing averages its input's rounding out, and the batch norm folded into
    // it scales it up), 1/275 of its bound (which aligns every rounding error); top-1 agreement 100%,
    // accuracy 100% on these easy images.
    expect(maxErr / maxLogit, 'largest |int8 - f32| relative to the largest |logit|').toBeLessThan(0.1);
    expect(agree / N_TEST, 'top-1 agreement with f32').toBeGreaterThanOrEqual(0.95);
    expect(correct / N_TEST, 'the f32 model learned something').toBeGreaterThan(0.6);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('folding is exact arithmetic: the folded layer in f64 equals conv + batch norm of the exact model', () => {
    // the stem's int8 weights times their scales approximate W g within the rounding step, channel by channel
    const stem = q.model.ops[0]!;
    if (stem.type !== 'conv') return expect.fail('op 0 is not a conv');
    const params = model.readParams(), state = model.readState();
    const n = model.graph.nodes[0]!, bn = bnOf(model.graph.nodes[1]!, params, state);
    const w = n.params[0]!;
    for (let k = 0; k < w.length; k++) {
      const o = k % 4, exact = params[w.offset + k]! * bn.g[o]!;
      expect(Math.abs(stem.weights[k]! * stem.weightScales[o]! - exact)).toBeLessThanOrEqual(stem.weightScales[o]! * (0.5 + 128 * U) + 2 * U * Math.abs(exact));
    }
    const b = n.params[1]!;
    for (let o = 0; o < 4; o++) {
      const exact = (params[b.offset + o]! - bn.mean[o]!) * bn.g[o]! + bn.beta[o]!;
      expect(Math.abs(stem.bias[o]! - exact)).toBeLessThanOrEqual(4 * U * (Math.abs(exact) + 1));
    }
  });

  it('simd, scalar and js give the same int8 file and the same logits bit for bit, and so does the inference entry', async () => {
    const file = q.encode();
    const expected = q.predict(test.x, N_TEST);
    for (const backend of ['scalar', 'js'] as const) {
      const c = await loadCore({ backend });
      const other = quantizeModel(c, model, calib.x); // the f32 model lives in the simd core
      expect(Buffer.from(other.encode()).equals(Buffer.from(file)), `${backend}: same int8 file`).toBe(true);
      expect(bits(other.predict(test.x, N_TEST)), `${backend}: logits`).toEqual(bits(expected));
      expect(bits(Int8Model.decode(c, file).predict(test.x, N_TEST, { batchSize: 7 })), `${backend}: from the file, batches of 7`).toEqual(bits(expected));
      other.free();
    }
    for (const backend of ['simd', 'scalar'] as const) {
      const inf = await loadInference({ backend, batchSize: 40 });
      expect(bits(inf.predict(file, test.x, N_TEST)), `infer ${backend}: the int8 file`).toEqual(bits(expected));
      const m = inf.load(q.model);
      expect(m.kind).toBe('int8');
      expect(m.inputShape).toEqual([8, 8, 2]);
      expect(bits(m.predict(test.x.subarray(0, IMAGE), 1)), `infer ${backend}: one row`).toEqual(bits(expected.subarray(0, CLASSES)));
      m.free();
      expect(() => m.predict(test.x, N_TEST)).toThrow(/freed/);
    }
  });

  it('a float32 model file of the graph runs in the inference entry with the f32 model\'s bits (simd), its running statistics included', async () => {
    const f32 = floatLogits(model, test.x, N_TEST);
    const file = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, model.readParams(), model.readState()), meta: {} });
    for (const backend of ['simd', 'scalar'] as const) {
      const inf = await loadInference({ backend, batchSize: 50 });
      const m = inf.load(file, 'cnn.retort');
      expect(m.kind).toBe('float32');
      const out = m.predict(test.x, N_TEST);
      if (backend === 'simd') expect(bits(out), 'infer simd = Model.forward on simd').toEqual(bits(f32));
      else for (let k = 0; k < out.length; k++) expect(Math.abs(out[k]! - f32[k]!)).toBeLessThan(1e-4 * (1 + Math.abs(f32[k]!)));
      m.free();
    }
    // without its running statistics the file is refused, naming the tensor
    const inf = await loadInference();
    const noState = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, model.readParams()), meta: {} });
    expect(() => inf.load(noState, 'cnn.retort')).toThrow(/cnn\.retort: the model needs 1724 bytes of parameters and state but the payload has 1540/);
    // a state tensor missing from a file that is otherwise long enough is named
    const tensors = modelTensors(model.spec, model.readParams(), model.readState());
    const renamed = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k === 'batchNorm1.running_mean' ? 'other.running_mean' : k, v]));
    expect(() => inf.load(encodeModelFile({ spec: model.spec, tensors: renamed, meta: {} }), 'cnn.retort'))
      .toThrow(/cnn\.retort: tensor 'batchNorm1\.running_mean' is missing/);
  });
});

describe('graphs with layer norm and GELU', () => {
  const SPEC: GraphSpec = {
    type: 'graph', input: [8, 8, 2], layers: [
      { type: 'conv2d', filters: 6, kernel: [3, 2], stride: [1, 2], padding: 1, groups: 1, bias: true },
      { type: 'gelu' },
      { type: 'layerNorm', eps: 1e-5 },
      { type: 'avgPool2d', size: 2, padding: 'valid' },
      { type: 'flatten' },
      { type: 'dropout', rate: 0.2 },
      { type: 'dense', units: 12, bias: true },
      { type: 'gelu' },
      { type: 'dense', units: 5, bias: false },
    ],
  };

  it('stay f32 between int8 ops; simd = scalar = the inference entry bit for bit, js within a few ulp of the f32 ops', async () => {
    const core = await loadCore({ backend: 'simd' });
    const model = trainCnn(core, SPEC, 60);
    const q = quantizeModel(core, model, calib.x);
    expect(q.model.ops.map((o) => o.type)).toEqual(['conv', 'gelu', 'layerNorm', 'avgPool2d', 'flatten', 'dense', 'gelu', 'dense']);
    const expected = q.predict(test.x, N_TEST);
    const scalar = await loadCore({ backend: 'scalar' });
    expect(bits(Int8Model.decode(scalar, q.encode()).predict(test.x, N_TEST)), 'scalar').toEqual(bits(expected));
    const inf = await loadInference({ backend: 'scalar' });
    expect(bits(inf.predict(q.encode(), test.x, N_TEST)), 'infer scalar').toEqual(bits(expected));
    const js = Int8Model.decode(await loadCore({ backend: 'js' }), q.encode()).predict(test.x, N_TEST);
    let maxLogit = 0;
    for (const v of expected) maxLogit = Math.max(maxLogit, Math.abs(v));
    // GELU and layer norm round differently on js (in f64), which can move a value across a
    // quantization step of the next int8 op: one step of its input, times the weights, at most
    for (let k = 0; k < js.length; k++) expect(Math.abs(js[k]! - expected[k]!)).toBeLessThan(0.05 * maxLogit);
    const f = floatLogits(model, test.x, N_TEST);
    expect(argmax(f, N_TEST, CLASSES).filter((c, r) => c === argmax(expected, N_TEST, CLASSES)[r]).length / N_TEST).toBeGreaterThanOrEqual(0.9);
  });
});
