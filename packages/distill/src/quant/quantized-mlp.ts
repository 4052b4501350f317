// Post-training int8 quantization of an Mlp, and the quantized model that runs on the int8
// kernels (core-wasm abi.ts, "int8 inference").
//
// Weights: symmetric, per output channel (one scale per unit j: max_i |W[i, j]| / 127), so a
// unit with small weights keeps its resolution whatever its neighbours do.
// Activations: symmetric, per tensor, one scale per layer input, calibrated offline: the f32
// model runs (eval mode) on the calibration rows and each layer's input |x| is recorded (the
// rows themselves for layer 0, the post-ReLU hidden activations after that).
//
// Calibration choice: by default the scale is the 99.99th percentile of |x| over all values
// seen, divided by 127 ('percentile'). Max-abs ('max') lets one outlier in 10^4 set the step
// for everything else; ReLU activations are long-tailed, so the 99.99th percentile gives the
// bulk a finer step (1.22x finer on the first hidden layer of the test model) and saturates
// only the rarest values (1 in 10^4 on the calibration rows) at 127 steps. On inputs that are
// normalised pixels the two coincide (the maximum is reached by many pixels), and with fewer
// than 10^4 values seen the percentile is the max. Pass { calibration: 'max' } for max-abs.
// The percentile comes from a 2^-7-relative log histogram (calibrate.ts), rounded upward.
//
// Inference (predict): x is quantized with layer 0's scale, each layer runs the int8 GEMM with
// int32 accumulation and the f32 epilogue acc * (s_in * s_w[j]) + b[j], ReLU between layers,
// and each hidden activation is re-quantized with the next layer's calibrated scale. The pass
// is @retort/core-wasm's quantizedForward, the same code as the inference entry
// (@retort/core-wasm/infer), and its kernels agree bit for bit across backends, so a model
// gives the same logits on simd, scalar, js and in the inference entry.

import type { Core, Tensor } from '@retort/core-wasm';
import { packedI8Bytes, quantizedForward, quantizedWorkBytes, type QuantizedLayerRefs } from '@retort/core-wasm';
import {
  checkQuantizedModel, quantizedModelSize, type QuantizedLayer, type QuantizedModel, type QuantizedSize,
} from '@retort/core-wasm/format';
import type { Mlp } from '../model/mlp.js';
import { parseModelSpec, type ModelSpec, asMlpSpec, type MlpSpec } from '../model/spec.js';
import { AbsStats } from './calibrate.js';
import { decodeQuantizedModel, encodeQuantizedModel } from './format.js';

export interface QuantizeOptions {
  /**
   * How each layer's input scale is chosen from the |x| seen on the calibration rows:
   * 'percentile' (default): the `percentile`-th percentile of |x|, / 127; 'max': max |x| / 127.
   */
  calibration?: 'percentile' | 'max';
  /** For 'percentile', in (0, 100]; default 99.99. */
  percentile?: number;
  /** Rows per calibration forward pass (default 256). */
  batchSize?: number;
  /** Stored in the model file's header. */
  meta?: Record<string, unknown>;
}

/**
 * Quantizes `mlp` to int8 for `core` (any backend; the float model may live in another core).
 * `calibration` holds rows of already-normalised inputs, (rows, mlp.inputSize) row-major.
 */
export function quantizeMlp(core: Core, mlp: Mlp, calibration: Float32Array, opts: QuantizeOptions = {}): QuantizedMlp {
  const op = 'quantizeMlp';
  const method = opts.calibration ?? 'percentile';
  if (method !== 'percentile' && method !== 'max') throw new RangeError(`${op}: calibration must be 'percentile' or 'max', got ${String(method)}`);
  const percentile = opts.percentile ?? 99.99;
  if (method === 'percentile' && !(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`${op}: percentile must be in (0, 100], got ${String(percentile)}`);
  }
  if (!(calibration instanceof Float32Array)) throw new RangeError(`${op}: calibration must be a Float32Array of rows`);
  const IN = mlp.inputSize;
  const rows = calibration.length / IN;
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`${op}: calibration has ${calibration.length} values, not a positive whole number of rows of ${IN}`);
  }
  const stats = calibrate(mlp, calibration, rows, opts.batchSize ?? 256);
  const src = mlp.core;
  const layers: QuantizedLayer[] = mlp.layers.map((l, i) => {
    const s = stats[i]!;
    if (s.nan > 0 || !Number.isFinite(s.max)) {
      throw new RangeError(`${op}: the input of layer ${i} holds ${s.nan > 0 ? 'NaN' : 'infinite'} values on the calibration rows`);
    }
    const range = method === 'max' ? s.max : s.percentile(percentile);
    const scale = Math.fround(range / 127);
    // An input that is 0 on every calibration row (a dead layer) gets scale 1: its q is 0 anyway.
    const inputScale = scale > 0 && Number.isFinite(scale) ? scale : 1;
    const q = src.allocI8(l.inputs * l.outputs), ws = src.alloc(l.outputs);
    try {
      src.quantizeWeightsI8(q, ws, mlp.params.ptr + 4 * l.weightOffset, l.inputs, l.outputs);
      const bias = mlp.params.view().slice(l.biasOffset, l.biasOffset + l.outputs);
      return { inputs: l.inputs, outputs: l.outputs, weights: q.toArray(), weightScales: ws.toArray(), bias, inputScale };
    } finally {
      src.free(q); src.free(ws);
    }
  });
  const model: QuantizedModel = {
    spec: mlp.spec, layers,
    calibration: method === 'max' ? { method, rows } : { method, percentile, rows },
  };
  if (opts.meta) model.meta = opts.meta;
  return new QuantizedMlp(core, model);
}

/** |x| statistics of every layer's input over the calibration rows (f32 model, eval mode). */
function calibrate(mlp: Mlp, x: Float32Array, rows: number, batchSize: number): AbsStats[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`quantizeMlp: batchSize must be a positive integer, got ${String(batchSize)}`);
  const core = mlp.core;
  const IN = mlp.inputSize;
  const stats = mlp.layers.map(() => new AbsStats());
  const batch = Math.min(batchSize, rows);
  const previous = mlp.batchSize;
  const tx = core.alloc(batch * IN);
  try {
    if (mlp.batchSize < batch) mlp.plan(batch);
    for (let r0 = 0; r0 < rows; r0 += batch) {
      const r = Math.min(batch, rows - r0);
      const chunk = x.subarray(r0 * IN, (r0 + r) * IN);
      stats[0]!.add(chunk);
      tx.set(chunk);
      mlp.forward(tx, r, 'eval');
      for (let i = 1; i < mlp.layers.length; i++) {
        stats[i]!.add(mlp.hidden(i - 1).view().subarray(0, r * mlp.layers[i]!.inputs));
      }
    }
  } finally {
    core.free(tx);
    if (previous > 0 && previous !== mlp.batchSize) mlp.plan(previous);
  }
  return stats;
}

/** An int8 MLP resident in a core: weights packed for gemmI8, scales and biases in module memory. */
export class QuantizedMlp {
  readonly spec: MlpSpec;
  /** The portable model (row-major int8 weights, scales, biases, activation scales): what encode() writes. */
  readonly model: QuantizedModel;
  readonly inputSize: number;
  readonly classes: number;
  private readonly tensors: Tensor[] = [];
  private readonly refs: QuantizedLayerRefs[];
  private freed = false;

  constructor(readonly core: Core, model: QuantizedModel) {
    checkQuantizedModel(model, 'QuantizedMlp');
    this.spec = asMlpSpec(parseModelSpec(model.spec), 'QuantizedMlp');
    this.model = model;
    this.inputSize = this.spec.sizes[0]!;
    this.classes = this.spec.sizes[this.spec.sizes.length - 1]!;
    try {
      this.refs = model.layers.map((l) => {
        const packed = this.keep(core.allocI8(packedI8Bytes(l.inputs, l.outputs)));
        const rowMajor = core.allocI8(l.weights.length);
        try {
          rowMajor.set(l.weights);
          core.packWeightsI8(packed, rowMajor, l.inputs, l.outputs);
        } finally {
          core.free(rowMajor);
        }
        const scales = this.keep(core.fromArray(l.weightScales));
        const bias = this.keep(core.fromArray(l.bias));
        return { inputs: l.inputs, outputs: l.outputs, packed: packed.ptr, scales: scales.ptr, bias: bias.ptr, inputScale: Math.fround(l.inputScale) };
      });
    } catch (e) {
      this.free();
      throw e;
    }
  }

  /** Loads an int8 model file (encodeQuantizedModel / encode()) into `core`. Throws ModelFormatError. */
  static decode(core: Core, bytes: Uint8Array, fileName = 'model'): QuantizedMlp {
    return new QuantizedMlp(core, decodeQuantizedModel(bytes, fileName));
  }

  /** (rows, classes) f32 logits for x, (rows, inputSize) f32 row-major (normalised like the training inputs). */
  predict(x: Float32Array, rows: number, opts: { batchSize?: number } = {}): Float32Array {
    this.alive();
    const op = 'QuantizedMlp.predict';
    if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${op}: rows must be a non-negative integer, got ${String(rows)}`);
    if (!(x instanceof Float32Array) || x.length !== rows * this.inputSize) {
      throw new RangeError(`${op}: x must be a Float32Array of ${rows} rows x ${this.inputSize} inputs = ${rows * this.inputSize} values, got ${(x as { length?: number })?.length}`);
    }
    const out = new Float32Array(rows * this.classes);
    if (rows === 0) return out;
    const batch = Math.min(rows, opts.batchSize ?? 256);
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`${op}: batchSize must be a positive integer, got ${String(opts.batchSize)}`);
    const core = this.core;
    const work = quantizedWorkBytes(this.refs, batch);
    const tx = core.alloc(batch * this.inputSize);
    const xq = core.allocI8(work.xq);
    const acc = core.allocI32(work.acc / 4);
    try {
      for (let r0 = 0; r0 < rows; r0 += batch) {
        const r = Math.min(batch, rows - r0);
        tx.set(x.subarray(r0 * this.inputSize, (r0 + r) * this.inputSize));
        const y = quantizedForward(core.kernels, this.refs, tx.ptr, r, xq.ptr, acc.ptr);
        out.set(core.views.f32.subarray(y >>> 2, (y >>> 2) + r * this.classes), r0 * this.classes);
      }
    } finally {
      core.free(tx); core.free(xq); core.free(acc);
    }
    return out;
  }

  /** Bytes of the model by part (int8 weights, f32 scales, f32 biases, activation scales) vs float32. */
  get size(): QuantizedSize { return quantizedModelSize(this.model); }

  /** The int8 model file. */
  encode(): Uint8Array { return encodeQuantizedModel(this.model); }

  /** Frees the module memory; the model is unusable afterwards. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of this.tensors) if (this.core.isLive(t)) this.core.free(t);
    this.tensors.length = 0;
  }

  private keep<T extends Tensor>(t: T): T {
    this.tensors.push(t);
    return t;
  }

  private alive(): void {
    if (this.freed) throw new RangeError('QuantizedMlp: the model has been freed');
  }
}
