// Post-training int8 quantization of a small MLP trained for a few steps on synthetic data:
// int8 logits against the f32 model's within a rigorous, layer-by-layer propagated error bound,
// top-1 agreement, calibration choices, byte accounting, the int8 model file (round trip, and
// every kind of corrupt or truncated file as a ModelFormatError; a version-1 file, the MLP layout
// Retort wrote first, still loads), and bit-identical logits on every backend and in the
// inference-only entry (@retort/core-wasm/infer).
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCore, type Core } from '@retort/core-wasm';
import { crc32, decodeQuantizedGraph as decodeWithoutSpecSchema, encodeQuantizedModel, type QuantizedGraph, type QuantizedModel } from '@retort/core-wasm/format';
import { loadInference } from '@retort/core-wasm/infer';
import { Mlp } from '../../src/model/mlp.js';
import { createOptimizer } from '../../src/optim/optimizer.js';
import { encodeModelFile, ModelFormatError } from '../../src/format/model-file.js';
import { modelTensors } from '../../src/format/model-io.js';
import { AbsStats } from '../../src/quant/calibrate.js';
import { decodeQuantizedGraph, encodeQuantizedGraph } from '../../src/quant/format.js';
import { quantizeModel } from '../../src/quant/quantize.js';
import { Int8Model } from '../../src/quant/int8-model.js';
import { QuantizedMlp, quantizeMlp } from '../../src/quant/index.js';

const SPEC = 'mlp:24-64-48-5';
const IN = 24, CLASSES = 5, N_TRAIN = 768, N_TEST = 512, BATCH = 64, STEPS = 40;
const U = 2 ** -24;

/** Five overlapping Gaussian blobs in 24 dimensions (the f32 model ends near 90%, so some rows sit near a boundary). */
function dataset(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  let s = seed >>> 0;
  const uniform = (): number => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return (s + 0.5) / 4294967296; };
  const normal = (): number => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  const x = new Float32Array(n * IN), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % CLASSES;
    y[i] = c;
    for (let j = 0; j < IN; j++) x[i * IN + j] = (j % CLASSES === c ? 1.2 : 0) + (j % 7 === 0 ? 3 : 1) * 0.9 * normal();
  }
  return { x, y };
}

const train = dataset(N_TRAIN, 1234), test = dataset(N_TEST, 98765);

function trainMlp(core: Core): Mlp {
  const model = new Mlp(core, SPEC);
  model.init(5);
  model.plan(BATCH);
  const opt = createOptimizer(core, model.paramCount, { type: 'adamw', lr: 0.01 });
  const tx = core.alloc(BATCH * IN), ty = core.allocI32(BATCH), dz = core.alloc(BATCH * CLASSES);
  for (let step = 0; step < STEPS; step++) {
    const b = (step * BATCH) % N_TRAIN;
    tx.set(train.x.subarray(b * IN, (b + BATCH) * IN));
    ty.set(train.y.subarray(b, b + BATCH));
    model.zeroGrad();
    core.fill(dz, BATCH * CLASSES, 0);
    core.crossEntropy(dz, model.forward(tx, BATCH, 'train'), ty, BATCH, CLASSES);
    model.backward(dz, BATCH);
    opt.step(model.params, model.grads, 0.01);
  }
  for (const t of [tx, ty, dz]) core.free(t);
  opt.free();
  return model;
}

/** f32 logits of the float model, plus every layer's input (f32, as the model computed them). */
function floatForward(model: Mlp, x: Float32Array, rows: number): { logits: Float32Array; inputs: Float32Array[] } {
  const core = model.core;
  model.plan(rows);
  const tx = core.fromArray(x);
  const logits = model.forward(tx, rows, 'eval').toArray();
  const inputs: Float32Array[] = [Float32Array.from(x)];
  for (let i = 0; i < model.hiddenCount; i++) inputs.push(model.hidden(i).toArray());
  core.free(tx);
  return { logits, inputs };
}

/**
 * A rigorous bound on |int8 logits - f32 logits| per element, propagated layer by layer.
 * h = the f32 model's input of layer l, E >= |hq - h| for the int8 path's input hq (E = 0 at layer 0).
 * Quantizing hq with scale s: |xq - hq| <= max(s (1/2 + 128u), |hq| - 127 s), so with |hq| <= |h| + E,
 *   D = E + max(s (1/2 + 128u), |h| + E - 127 s) >= |xq - h|,   |xq| <= min(127 s, |h| + D).
 * Output j: yq - y = sum_i (xq_i - h_i) W_ij + xq_i (Wq_ij - W_ij) + roundings, so
 *   |yq_j - y_j| <= sum_i D_i |W_ij| + |xq_i| s_j (1/2 + 128u)          (quantization)
 *                 + 5u (sum_i |xq_i| (|W_ij| + s_j) + |b_j|)            (int8 epilogue, 4 f32 roundings)
 *                 + (IN + 5) u (sum_i |h_i| |W_ij| + |b_j|)              (the f32 layer's own rounding)
 * and ReLU is 1-Lipschitz, so this is E for the next layer.
 */
function propagatedBound(model: Mlp, q: QuantizedGraph, inputs: Float32Array[], rows: number): Float64Array {
  const params = model.readParams();
  let E = new Float64Array(rows * model.inputSize);
  model.layers.forEach((l, li) => {
    const { inputs: K, outputs: N } = l;
    const op = q.ops[li]!;
    if (op.type !== 'dense') return expect.fail(`op ${li} is not dense`);
    const s = op.inputScale, sw = op.weightScales;
    const h = inputs[li]!;
    const next = new Float64Array(rows * N);
    for (let r = 0; r < rows; r++) {
      const D = new Float64Array(K), XQ = new Float64Array(K);
      for (let i = 0; i < K; i++) {
        const hv = Math.abs(h[r * K + i]!), e = E[r * K + i]!;
        D[i] = e + Math.max(s * (0.5 + 128 * U), hv + e - 127 * s);
        XQ[i] = Math.min(127 * s, hv + D[i]!);
      }
      for (let j = 0; j < N; j++) {
        let quant = 0, epi = 0, f32 = 0;
        for (let i = 0; i < K; i++) {
          const w = Math.abs(params[l.weightOffset + i * N + j]!);
          quant += D[i]! * w + XQ[i]! * sw[j]! * (0.5 + 128 * U);
          epi += XQ[i]! * (w + sw[j]!);
          f32 += Math.abs(h[r * K + i]!) * w;
        }
        const b = Math.abs(params[l.biasOffset + j]!);
        next[r * N + j] = quant + 5 * U * (epi + b) + (K + 5) * U * (f32 + b);
      }
    }
    E = next;
  });
  return E;
}

function argmax(logits: Float32Array, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > logits[r * cols + best]!) best = c;
    out[r] = best;
  }
  return out;
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));

describe('int8 post-training quantization of a trained MLP', () => {
  let core: Core;
  let model: Mlp;
  let qm: Int8Model;
  let calibration: Float32Array;

  beforeAll(async () => {
    core = await loadCore({ backend: 'simd' });
    model = trainMlp(core);
    calibration = train.x.subarray(0, 256 * IN);
    qm = quantizeModel(core, model, calibration);
  });

  it('int8 logits stay within the propagated quantization bound of the f32 logits, and top-1 agrees on >= 97% of rows', () => {
    const f = floatForward(model, test.x, N_TEST);
    const q = qm.predict(test.x, N_TEST);
    const bound = propagatedBound(model, qm.model, f.inputs, N_TEST);
    let worst = 0, maxErr = 0, maxLogit = 0, sq = 0, sqLogit = 0;
    for (let i = 0; i < q.length; i++) {
      const err = Math.abs(q[i]! - f.logits[i]!);
      sq += err * err; sqLogit += f.logits[i]! * f.logits[i]!;
      if (!(err <= bound[i]!)) expect.fail(`logit [${i}]: int8 ${q[i]} vs f32 ${f.logits[i]}, |err| ${err} > bound ${bound[i]}`);
      worst = Math.max(worst, err / bound[i]!);
      maxErr = Math.max(maxErr, err);
      maxLogit = Math.max(maxLogit, Math.abs(f.logits[i]!));
    }
    const pf = argmax(f.logits, N_TEST, CLASSES), pq = argmax(q, N_TEST, CLASSES);
    let agree = 0, correctF = 0, correctQ = 0;
    for (let r = 0; r < N_TEST; r++) {
      if (pf[r] === pq[r]) agree++;
      if (pf[r] === test.y[r]) correctF++;
      if (pq[r] === test.y[r]) correctQ++;
    }
    // Measured: the largest error is 4.7% of the largest |logit| (0.62 of 13.4; the inputs are
    // heavy-tailed, so the per-tensor input step is coarse) and 1/50 of its own bound (the bound
    // aligns every rounding error); RMS error 2.1% of the RMS logit; 99.8% top-1 agreement; accuracy 88.5% -> 88.7%.
    expect(maxErr / maxLogit, 'largest |int8 - f32| relative to the largest |logit|').toBeLessThan(0.08);
    expect(Math.sqrt(sq / sqLogit), 'RMS |int8 - f32| relative to the RMS logit').toBeLessThan(0.04);
    expect(agree / N_TEST, 'top-1 agreement').toBeGreaterThanOrEqual(0.97);
    expect(Math.abs(correctQ - correctF) / N_TEST, 'accuracy change').toBeLessThanOrEqual(0.02);
    expect(correctF / N_TEST, 'the f32 model learned something').toBeGreaterThan(0.6);
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('calibration: max-abs scales are max|x| / 127; the 99.99th percentile is at most that; both stay close to f32', () => {
    const qmax = quantizeModel(core, model, calibration, { calibration: 'max' });
    const f = floatForward(model, calibration, 256);
    const scale = (g: QuantizedGraph, i: number): number => { const o = g.ops[i]!; return o.type === 'dense' ? o.inputScale : NaN; };
    qmax.model.ops.forEach((_, i) => {
      let m = 0;
      for (const v of f.inputs[i]!) m = Math.max(m, Math.abs(v));
      expect(scale(qmax.model, i), `layer ${i} max-abs scale`).toBe(Math.fround(m / 127));
      expect(scale(qm.model, i), `layer ${i} percentile scale <= max scale`).toBeLessThanOrEqual(scale(qmax.model, i));
    });
    expect(qm.model.calibration).toEqual({ method: 'percentile', percentile: 99.99, rows: 256 });
    expect(qmax.model.calibration).toEqual({ method: 'max', rows: 256 });
    // with 256 * 24 = 6144 input values, the 99.99th percentile is the max (the top 1 value)
    expect(scale(qm.model, 0)).toBe(scale(qmax.model, 0));
    const a = qmax.predict(test.x, N_TEST), b = qm.predict(test.x, N_TEST);
    expect(a.length).toBe(b.length);
    qmax.free();
    expect(() => quantizeModel(core, model, calibration, { percentile: 0 })).toThrow(/percentile/);
    expect(() => quantizeModel(core, model, calibration.subarray(0, 25))).toThrow(/rows of 24/);
    // the first names of quantizeModel and Int8Model still work
    const old = quantizeMlp(core, model, calibration);
    expect(old).toBeInstanceOf(QuantizedMlp);
    expect(bits(old.predict(test.x.subarray(0, 8 * IN), 8))).toEqual(bits(qm.predict(test.x.subarray(0, 8 * IN), 8)));
    old.free();
  });

  it('AbsStats percentiles: exact max, upward-rounded percentile within 2^-7, NaN counted apart', () => {
    const s = new AbsStats();
    const v = Float32Array.from({ length: 100000 }, (_, i) => (i % 2 ? -1 : 1) * (i + 1) / 1000);
    v[5] = NaN;
    s.add(v);
    expect(s.nan).toBe(1);
    expect(s.count).toBe(99999);
    expect(s.max).toBe(Math.fround(100));
    expect(s.percentile(100)).toBe(s.max);
    const p = s.percentile(99);
    expect(p).toBeGreaterThanOrEqual(99);
    expect(p).toBeLessThanOrEqual(99 * (1 + 2 ** -7));
    expect(new AbsStats().percentile(99)).toBe(0);
  });

  it('byte accounting: int8 weights + f32 scales + f32 biases + activation scales, about 1/4 of float32', () => {
    const size = qm.size;
    const weights = 24 * 64 + 64 * 48 + 48 * 5, outs = 64 + 48 + 5;
    expect(size).toEqual({
      weights, scales: 4 * outs, biases: 4 * outs, activationScales: 12, other: 0, total: weights + 8 * outs + 12,
      float32: 4 * (weights + outs), ratio: (4 * (weights + outs)) / (weights + 8 * outs + 12),
    });
    expect(size.ratio).toBeGreaterThan(3.3);
    const file = qm.encode();
    expect(file.length).toBeGreaterThan(size.total);
    expect(file.length - size.total, 'header, preamble and alignment').toBeLessThan(1024);
  });

  it('the int8 model file round-trips: same model, same bytes when re-encoded, same logits bit for bit', () => {
    const file = qm.encode();
    const decoded = decodeQuantizedGraph(file, 'student.q8');
    expect(decoded.version).toBe(2);
    expect(decoded.spec).toEqual(qm.spec);
    expect(decoded.input).toEqual([24]);
    expect(decoded.calibration).toEqual(qm.model.calibration);
    decoded.ops.forEach((l, i) => {
      const o = qm.model.ops[i]!;
      if (l.type !== 'dense' || o.type !== 'dense') return expect.fail(`op ${i} is not dense`);
      expect({ name: l.name, inputs: l.inputs, units: l.units, relu: l.relu }).toEqual({ name: `layer${i}`, inputs: [i - 1], units: o.units, relu: i < 2 });
      expect(l.inputScale).toBe(o.inputScale);
      expect(Buffer.from(l.weights.buffer).equals(Buffer.from(o.weights.buffer))).toBe(true);
      expect(bits(l.weightScales)).toEqual(bits(o.weightScales));
      expect(bits(l.bias)).toEqual(bits(o.bias));
    });
    expect(Buffer.from(encodeQuantizedGraph(decoded)).equals(Buffer.from(file))).toBe(true);
    const reloaded = Int8Model.decode(core, file, 'student.q8');
    expect(bits(reloaded.predict(test.x, N_TEST))).toEqual(bits(qm.predict(test.x, N_TEST)));
    reloaded.free();
    expect(() => reloaded.predict(test.x, N_TEST)).toThrow(/freed/);
  });

  describe('corrupt and truncated files are ModelFormatErrors naming the file', () => {
    let file: Uint8Array;
    beforeAll(() => { file = qm.encode(); });

    const problem = (bytes: Uint8Array, decode = decodeQuantizedGraph): string => {
      try { decode(bytes, 'student.q8'); } catch (e) {
        expect(e).toBeInstanceOf(ModelFormatError);
        expect((e as Error).message.startsWith('student.q8: ')).toBe(true);
        return (e as ModelFormatError).problem;
      }
      return expect.fail('decoded without error');
    };
    /** The file with its JSON header rewritten by `edit` and a VALID checksum, to reach the checks behind it. */
    const craft = (edit: (h: Record<string, any>) => void, payloadEdit?: (p: Uint8Array) => void): Uint8Array => {
      const view = new DataView(file.buffer, file.byteOffset);
      const H = view.getUint32(12, true);
      const header = JSON.parse(new TextDecoder().decode(file.subarray(32, 32 + H)));
      edit(header);
      let json = JSON.stringify(header);
      while ((32 + json.length) % 16) json += ' ';
      const text = new TextEncoder().encode(json);
      const payload = file.slice(32 + H);
      payloadEdit?.(payload);
      const out = new Uint8Array(32 + text.length + payload.length);
      out.set(file.subarray(0, 32));
      const v = new DataView(out.buffer);
      v.setUint32(12, text.length, true);
      v.setUint32(16, payload.length, true);
      out.set(text, 32);
      out.set(payload, 32 + text.length);
      v.setUint32(24, crc32(out.subarray(32), crc32(out.subarray(8, 24))), true);
      return out;
    };

    it('truncation anywhere, trailing bytes, flipped bits, bad magic, newer versions', () => {
      for (const n of [0, 5, 31, 32, 40, file.length - 1, Math.floor(file.length / 2)]) {
        expect(problem(file.subarray(0, n)), `truncated to ${n}`).toMatch(/truncated/);
      }
      expect(problem(Uint8Array.from([...file, 0]))).toMatch(/1 unexpected bytes after the payload/);
      for (const at of [9, 12, 40, file.length - 3, file.length - 300]) {
        const bad = file.slice();
        bad[at]! ^= 0x10;
        expect(problem(bad), `bit flip at ${at}`).toMatch(/checksum mismatch|corrupt preamble|truncated|unexpected bytes|newer/);
      }
      const payloadFlip = file.slice();
      payloadFlip[file.length - 100]! ^= 1;
      expect(problem(payloadFlip)).toBe('checksum mismatch (file corrupt)');
      expect(problem(new TextEncoder().encode('{"not": "a model"} and more bytes ..........'))).toMatch(/bad magic/);
      const newer = file.slice();
      new DataView(newer.buffer).setUint32(8, 3, true);
      expect(problem(newer)).toMatch(/version 3 is newer than this Retort reads \(2\)/);
    });

    it('a version-1 file (the MLP layout Retort wrote first) still loads, with the same logits', () => {
      const v1: QuantizedModel = {
        spec: { type: 'mlp', sizes: [24, 64, 48, 5] }, calibration: qm.model.calibration,
        layers: qm.model.ops.map((o) => {
          if (o.type !== 'dense') return expect.fail('not dense');
          return { inputs: o.weights.length / o.units, outputs: o.units, weights: o.weights, weightScales: o.weightScales, bias: o.bias, inputScale: o.inputScale };
        }),
      };
      const old = encodeQuantizedModel(v1);
      expect(new DataView(old.buffer).getUint32(8, true)).toBe(1);
      const decoded = decodeQuantizedGraph(old, 'old.q8');
      expect(decoded.version).toBe(1);
      expect(decoded.ops.map((o) => o.type === 'dense' && o.relu)).toEqual([true, true, false]);
      const m = Int8Model.decode(core, old, 'old.q8');
      expect(bits(m.predict(test.x, N_TEST))).toEqual(bits(qm.predict(test.x, N_TEST)));
      m.free();
      // and its corruption is named as before
      const cut = old.slice(0, old.length - 1);
      expect(problem(cut)).toMatch(/truncated/);
    });

    it('a float32 model file is recognised as such', () => {
      const params = model.readParams();
      const f32file = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, params) });
      expect(problem(f32file)).toMatch(/float32 Retort model file, not an int8 one/);
    });

    it('headers that disagree with the spec, the shapes or the payload, and out-of-range values, are refused before use', () => {
      expect(problem(craft((h) => { h.ops[1].units = 47; }))).toMatch(/header\.ops\[1\]\.tensors\.weights: length 3072 but the op needs 3008 bytes/);
      expect(problem(craft((h) => { h.ops[0].tensors.weights.length -= 1; }))).toMatch(/ops\[0\]\.tensors\.weights: length/);
      expect(problem(craft((h) => { h.ops[2].tensors.bias.offset = 1 << 30; }))).toMatch(/ops\[2\]\.tensors\.bias needs bytes .* but the payload ends/);
      expect(problem(craft((h) => { h.ops[1].tensors.scales.offset = h.ops[1].tensors.weights.offset; }))).toMatch(/overlap/);
      expect(problem(craft((h) => { h.ops[0].tensors.scales.offset += 2; }))).toMatch(/not 4-byte aligned/);
      expect(problem(craft((h) => { delete h.ops[0].tensors.bias; }))).toMatch(/ops\[0\]\.tensors\.bias: missing/);
      expect(problem(craft((h) => { h.ops[0].tensors.gamma = { offset: 0, length: 4 }; }))).toMatch(/a dense op has no such tensor/);
      expect(problem(craft((h) => { h.ops.pop(); }))).toMatch(/header\.ops: the ops give 48 classes but the spec 5/);
      expect(problem(craft((h) => { h.spec.sizes[0] = 25; }))).toMatch(/header\.input: \[24\] but the spec takes \[25\]/);
      expect(decodeWithoutSpecSchema(craft((h) => { h.ops.pop(); }), 'student.q8').ops.length, 'the dependency-free decoder runs what the ops say').toBe(2);
      expect(problem(craft((h) => { h.ops[1].inputs = [2]; }))).toMatch(/ops\[1\] \(dense 'layer1'\)\.inputs: 2 is not an earlier op/);
      expect(problem(craft((h) => { h.ops[1].type = 'softmax'; }))).toMatch(/ops\[1\]\.type: unknown op type "softmax"/);
      expect(problem(craft((h) => { h.ops[1].relu = 1; }))).toMatch(/ops\[1\]\.relu: must be true or false/);
      expect(problem(craft((h) => { h.ops[0].inputScale = 0; }))).toMatch(/inputScale/);
      expect(problem(craft((h) => { h.spec.sizes[1] = -64; }))).toMatch(/sizes\[1\]/);
      expect(problem(craft((h) => { h.format = 'retort-model'; }))).toMatch(/header\.format/);
      expect(problem(craft(() => {}, (p) => { p[0] = 0x80; }))).toMatch(/ops\[0\] \(dense 'layer0'\)\.weights\[0\] = -128/);
      expect(problem(craft((h) => { h.spec.dropout = { hidden: 2 }; }))).toMatch(/header\.spec\.dropout\.hidden/);
      // the dependency-free decoder (the inference entry's) carries unknown spec fields along; the
      // distill decoder holds the spec to the full schema
      const extra = craft((h) => { h.spec.foo = 1; });
      expect(decodeWithoutSpecSchema(extra, 'student.q8').spec.foo).toBe(1);
      expect(problem(extra)).toMatch(/header\.spec: unknown field 'foo'/);
      expect(problem(craft((h) => { h.ops[0].tensors.weights.offset = h.ops[0].tensors.scales.offset; h.ops[0].tensors.weights.length = 4 * 64; }))).toMatch(/weights: length/);
    });

    it('bad scales or biases in the payload', () => {
      const scalesAt = (h: Record<string, any>): number => h.ops[0].tensors.scales.offset;
      let at = 0;
      craft((h) => { at = scalesAt(h); });
      expect(problem(craft(() => {}, (p) => { new DataView(p.buffer).setFloat32(at + 4, -1, true); }))).toMatch(/scales\[1\] = -1/);
      expect(problem(craft(() => {}, (p) => { new DataView(p.buffer).setFloat32(at, NaN, true); }))).toMatch(/scales\[0\] = NaN/);
    });
  });
});

describe('the same int8 logits on every backend and in the inference-only entry', () => {
  it('simd, scalar and js cores and @retort/core-wasm/infer (simd and scalar) agree bit for bit', async () => {
    const src = await loadCore({ backend: 'simd' });
    const model = trainMlp(src);
    const calibration = train.x.subarray(0, 256 * IN);
    const reference = quantizeModel(src, model, calibration);
    const file = reference.encode();
    const expected = reference.predict(test.x, N_TEST);
    for (const backend of ['scalar', 'js'] as const) {
      const core = await loadCore({ backend });
      const q = quantizeModel(core, model, calibration); // quantized on the simd core, run on this one
      expect(Buffer.from(q.encode()).equals(Buffer.from(file)), `${backend}: same model file`).toBe(true);
      expect(bits(q.predict(test.x, N_TEST)), `${backend}: logits`).toEqual(bits(expected));
      expect(bits(Int8Model.decode(core, file).predict(test.x, N_TEST, { batchSize: 7 })), `${backend}: batches of 7`).toEqual(bits(expected));
    }
    for (const backend of ['simd', 'scalar'] as const) {
      const inf = await loadInference({ backend, batchSize: 100 });
      expect(inf.backend).toBe(backend);
      expect(bits(inf.predict(file, test.x, N_TEST)), `infer ${backend}: from file bytes`).toEqual(bits(expected));
      const loaded = inf.load(reference.model);
      expect(bits(loaded.predict(test.x, N_TEST)), `infer ${backend}: from the model object`).toEqual(bits(expected));
      expect(loaded.predict(new Float32Array(0), 0)).toEqual(new Float32Array(0));
      expect(() => loaded.predict(test.x, N_TEST + 1)).toThrow(RangeError);
      loaded.free();
      expect(() => inf.predict(file.subarray(0, 100), test.x, N_TEST)).toThrow(ModelFormatError);
      // the f32 kernels of the inference module: the float model gives the core's own logits
      model.plan(N_TEST);
      const tx = src.fromArray(test.x);
      const f32 = model.forward(tx, N_TEST, 'eval').toArray();
      src.free(tx);
      const viaInfer = inf.predictFloat(model.spec.sizes, model.readParams(), test.x, N_TEST);
      if (backend === 'simd') expect(bits(viaInfer), 'infer simd float = core simd float').toEqual(bits(f32));
      else for (let i = 0; i < f32.length; i++) expect(Math.abs(viaInfer[i]! - f32[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(f32[i]!)));
      // a float32 Retort model file (what retort train/distill writes) loads as it is
      const f32file = encodeModelFile({ spec: model.spec, tensors: modelTensors(model.spec, model.readParams()), meta: { kind: 'distill' } });
      expect(bits(inf.predict(f32file, test.x, N_TEST)), `infer ${backend}: a float32 model file`).toEqual(bits(viaInfer));
      const cut = f32file.slice(0, f32file.length - 4);
      expect(() => inf.predict(cut, test.x, N_TEST)).toThrow(/truncated/);
      const flipped = f32file.slice(); flipped[flipped.length - 9]! ^= 1;
      expect(() => inf.predict(flipped, test.x, N_TEST)).toThrow(/checksum mismatch/);
    }
  });
});
