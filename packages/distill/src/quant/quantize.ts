// Post-training int8 quantization of any model (a layer graph, the MLP included) into an
// int8 graph (@retort/core-wasm/format, quantized-graph.ts) that runs on the int8 kernels.
//
// Weights: symmetric, per output channel (one scale per output unit or filter: max |W[.., o]| /
// 127), for dense layers and convolutions alike (a conv's HWIO weights (KH, KW, C/G, OC) are a
// (KH*KW*C/G, OC) matrix, so quantizeWeightsI8 serves both); a unit with small weights keeps its
// resolution whatever its neighbours do.
//
// Batch-norm folding (./plan.ts decides where): a batch norm y = gamma (z - mean) / sqrt(var + eps)
// + beta right after a layer z = x W + b is, per output channel o with g_o = gamma_o / sqrt(var_o + eps),
//   y = x (W[.., o] g_o) + ((b_o - mean_o) g_o + beta_o)
// so the layer takes W'[.., o] = W[.., o] g_o and b'_o = (b_o - mean_o) g_o + beta_o (b = 0 without a
// bias), computed in f64 from the f32 parameters (eps taken as f32, as the batch-norm kernel takes
// it) and rounded to f32 once; then W' is quantized. A batch norm that cannot fold becomes the f32
// affine op y = x scale + shift with scale = g, shift = beta - mean g.
//
// Activations: symmetric, per tensor, one scale per int8 op input, calibrated offline: the f32
// model runs (eval mode, on the same kernels as Model.forward: @retort/core-wasm's floatProgram)
// on the calibration rows and each int8 op's input |x| is recorded. By default the scale is the
// 99.99th percentile of |x| over all values seen, / 127 ('percentile'); max-abs ('max') lets one
// outlier in 10^4 set the step for everything else, while ReLU activations are long-tailed. On
// inputs that are normalised pixels the two coincide, and with fewer than 10^4 values seen the
// percentile is the max. The percentile comes from a 2^-7-relative log histogram (calibrate.ts),
// rounded upward.
import {
  checkTokenIds, floatProgram, freeProgram, planProgram, allocBuffers, freeBuffers, runProgram, type Core,
} from '@retort/core-wasm';
import { readLayer, type LayerGraph, type QuantizedGraph, type QuantizedOp } from '@retort/core-wasm/format';
import type { Model } from '../model/model.js';
import type { GraphNode } from '../model/graph.js';
import { pairOf, type Conv2dSpec, type DepthwiseConv2dSpec, type PoolSpec } from '../model/layer-spec.js';
import { AbsStats } from './calibrate.js';
import { isInt8Op, planInt8, type PlannedOp } from './plan.js';
import type { AttentionSpec, Conv1dSpec, EmbeddingSpec, SequencePoolSpec } from '../model/layer-spec.js';
import { Int8Model, coreMemory } from './int8-model.js';

export interface QuantizeOptions {
  /**
   * How each int8 op's input scale is chosen from the |x| seen on the calibration rows:
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
 * Quantizes `model` to int8 for `core` (any backend; the float model may live in another core).
 * `calibration` holds rows of already-normalised inputs, (rows, model.inputSize) row-major (NHWC images).
 */
export function quantizeModel(core: Core, model: Model, calibration: Float32Array, opts: QuantizeOptions = {}): Int8Model {
  return new Int8Model(core, quantizeGraph(model, calibration, opts));
}

/** The portable int8 graph of `model` (what Int8Model runs and the int8 file holds). */
export function quantizeGraph(model: Model, calibration: Float32Array, opts: QuantizeOptions = {}): QuantizedGraph {
  const op = 'quantizeModel';
  const method = opts.calibration ?? 'percentile';
  if (method !== 'percentile' && method !== 'max') throw new RangeError(`${op}: calibration must be 'percentile' or 'max', got ${String(method)}`);
  const percentile = opts.percentile ?? 99.99;
  if (method === 'percentile' && !(percentile > 0 && percentile <= 100)) {
    throw new RangeError(`${op}: percentile must be in (0, 100], got ${String(percentile)}`);
  }
  if (!(calibration instanceof Float32Array)) throw new RangeError(`${op}: calibration must be a Float32Array of rows`);
  const IN = model.inputSize;
  const rows = calibration.length / IN;
  if (!Number.isInteger(rows) || rows < 1) {
    throw new RangeError(`${op}: calibration has ${calibration.length} values, not a positive whole number of rows of ${IN}`);
  }
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${op}: batchSize must be a positive integer, got ${String(batchSize)}`);
  const first = model.graph.nodes[0]!;
  if (first.spec.type === 'embedding') {
    try {
      checkTokenIds(calibration, rows, IN, first.spec.vocab);
    } catch (e) {
      throw new RangeError(`${op}: calibration ${(e as Error).message}`);
    }
  }
  const plan = planInt8(model.graph);
  const stats = calibrate(model, plan.ops, calibration, rows, batchSize);
  const params = model.readParams(), state = model.readState();
  const nodes = model.graph.nodes;
  const ops: QuantizedOp[] = plan.ops.map((p, i) => {
    const n = nodes[p.node]!;
    const base = { name: n.name, inputs: p.inputs };
    if (isInt8Op(p)) {
      const s = stats.get(i)!;
      if (s.nan > 0 || !Number.isFinite(s.max)) {
        throw new RangeError(`${op}: the input of ${n.spec.type} '${n.name}' holds ${s.nan > 0 ? 'NaN' : 'infinite'} values on the calibration rows`);
      }
      const range = method === 'max' ? s.max : s.percentile(percentile);
      const scale = Math.fround(range / 127);
      // an input that is 0 on every calibration row (a dead layer) gets scale 1: its q is 0 anyway
      const inputScale = scale > 0 && Number.isFinite(scale) ? scale : 1;
      const wt = n.params.find((d) => d.name.endsWith(`.${p.weight}`))!;
      const OC = wt.shape[wt.shape.length - 1]!;
      const { w, b } = foldedWeights(n, p.foldedBatchNorm === undefined ? undefined : nodes[p.foldedBatchNorm], params, state, p.weight!, p.bias!, OC);
      const { q, scales } = quantizeWeights(model.core, w, w.length / OC, OC);
      const int8 = { ...base, relu: p.fusedRelu !== undefined, inputScale, weights: q, weightScales: scales, bias: b };
      // an attention layer's two projections are named after it: '<attn>.qkv', '<attn>.out'
      if (p.type === 'dense') return { ...int8, ...(p.weight === 'w' ? {} : { name: `${n.name}.${p.weight === 'wqkv' ? 'qkv' : 'out'}` }), type: 'dense', units: OC };
      if (p.type === 'conv1d') return { ...int8, type: 'conv1d', filters: OC, kernel: (n.spec as Conv1dSpec).kernel };
      const sp = n.spec as Conv2dSpec | DepthwiseConv2dSpec;
      const groups = sp.type === 'depthwiseConv2d' ? n.inShape[2]! : sp.groups;
      return { ...int8, type: 'conv', filters: OC, kernel: pairOf(sp.kernel), stride: pairOf(sp.stride), padding: sp.padding, groups };
    }
    switch (p.type) {
      case 'embedding': {
        const sp = n.spec as EmbeddingSpec;
        const { q, scales } = quantizeRows(tensor(n, 'table', params), sp.vocab, sp.dim);
        return { ...base, type: 'embedding', vocab: sp.vocab, dim: sp.dim, positions: sp.positions, table: q, tableScales: scales,
          pos: sp.positions ? tensor(n, 'pos', params) : new Float32Array(0) };
      }
      case 'attention': {
        const sp = n.spec as AttentionSpec;
        return { ...base, name: `${n.name}.core`, type: 'attention', heads: sp.heads, causal: sp.causal };
      }
      case 'sequencePool':
        return { ...base, type: 'sequencePool', mode: (n.spec as SequencePoolSpec).mode };
      case 'affine': {
        const { scale, shift } = batchNormAffine(n, params, state);
        return { ...base, type: 'affine', scale, shift };
      }
      case 'layerNorm':
        return { ...base, type: 'layerNorm', eps: (n.spec as { eps: number }).eps, gamma: tensor(n, 'gamma', params), beta: tensor(n, 'beta', params) };
      case 'maxPool2d': case 'avgPool2d': {
        const sp = n.spec as PoolSpec;
        return { ...base, type: p.type, size: pairOf(sp.size), stride: pairOf(sp.stride ?? sp.size), padding: sp.padding };
      }
      default:
        return { ...base, type: p.type } as QuantizedOp;
    }
  });
  const g: QuantizedGraph = {
    spec: model.spec as QuantizedGraph['spec'], input: [...model.inputShape], ops,
    calibration: method === 'max' ? { method, rows } : { method, percentile, rows },
  };
  if (opts.meta) g.meta = opts.meta;
  return g;
}

/** A node's parameter (or state) tensor `kind`, copied. */
function tensor(n: GraphNode, kind: string, values: Float32Array, list = n.params): Float32Array {
  const t = list.find((d) => d.name.endsWith(`.${kind}`));
  if (!t) throw new Error(`quantizeModel: ${n.name} has no tensor ${kind}`);
  return values.slice(t.offset, t.offset + t.length);
}

/** g_c = gamma_c / sqrt(var_c + eps) in f64, eps as the batch-norm kernel takes it (f32). */
function batchNormFactors(bn: GraphNode, params: Float32Array, state: Float32Array): { g: Float64Array; mean: Float32Array; beta: Float32Array } {
  const gamma = tensor(bn, 'gamma', params), beta = tensor(bn, 'beta', params);
  const mean = tensor(bn, 'running_mean', state, bn.state), variance = tensor(bn, 'running_var', state, bn.state);
  const eps = Math.fround((bn.spec as { eps: number }).eps);
  const g = Float64Array.from(gamma, (v, c) => v / Math.sqrt(variance[c]! + eps));
  return { g, mean, beta };
}

/** A batch norm as y = x scale + shift (f32), scale = g, shift = beta - mean g. */
function batchNormAffine(bn: GraphNode, params: Float32Array, state: Float32Array): { scale: Float32Array; shift: Float32Array } {
  const { g, mean, beta } = batchNormFactors(bn, params, state);
  return { scale: Float32Array.from(g), shift: Float32Array.from(g, (v, c) => beta[c]! - mean[c]! * v) };
}

/** The layer's weights (K, OC) and bias (OC) (tensors `wName`, `bName`), with the batch norm `bn` folded in when given. */
function foldedWeights(n: GraphNode, bn: GraphNode | undefined, params: Float32Array, state: Float32Array, wName: string, bName: string, OC: number): { w: Float32Array; b: Float32Array } {
  const w = tensor(n, wName, params);
  const b = n.params.some((d) => d.name.endsWith(`.${bName}`)) ? tensor(n, bName, params) : new Float32Array(OC);
  if (!bn) return { w, b };
  const { g, mean, beta } = batchNormFactors(bn, params, state);
  const wf = new Float32Array(w.length);
  for (let i = 0; i < w.length; i++) wf[i] = w[i]! * g[i % OC]!;
  return { w: wf, b: Float32Array.from(b, (v, o) => (v - mean[o]!) * g[o]! + beta[o]!) };
}

/** Per-output-channel int8 weights of a (rows, cols) matrix, by the core's quantizeWeightsI8 kernel. */
function quantizeWeights(core: Core, w: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const tw = core.fromArray(w), q = core.allocI8(w.length), s = core.alloc(cols);
  try {
    core.quantizeWeightsI8(q, s, tw, rows, cols);
    return { q: q.toArray(), scales: s.toArray() };
  } finally {
    core.free(tw); core.free(q); core.free(s);
  }
}

/**
 * Symmetric int8 rows of a (rows, cols) table, one scale per row (max |row| / 127; 1 for a zero
 * row): q = round(x / scale) (ties away from zero), |q| <= 127.
 */
export function quantizeRows(t: Float32Array, rows: number, cols: number): { q: Int8Array; scales: Float32Array } {
  const q = new Int8Array(rows * cols), scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(t[r * cols + c]!));
    const s = Math.fround(m / 127);
    const scale = s > 0 && Number.isFinite(s) ? s : 1;
    scales[r] = scale;
    for (let c = 0; c < cols; c++) {
      const v = t[r * cols + c]! / scale;
      q[r * cols + c] = Math.max(-127, Math.min(127, Math.sign(v) * Math.round(Math.abs(v))));
    }
  }
  return { q, scales };
}

/** The model's compiled graph as the layer graph @retort/core-wasm's programs read. */
export function layerGraphOf(model: Model): LayerGraph {
  const fail = (p: string): never => { throw new Error(`layerGraphOf: ${p}`); };
  return {
    inputShape: model.inputShape, classes: model.classes, paramCount: model.paramCount, stateCount: model.stateCount,
    nodes: model.graph.nodes.map((n) => ({
      index: n.index, name: n.name, inputs: [...n.inputs], inShape: n.inShape, outShape: n.outShape,
      params: n.params.map((t) => ({ name: t.name, shape: [...t.shape], offset: t.offset, length: t.length })),
      state: n.state.map((t) => ({ name: t.name, shape: [...t.shape], offset: t.offset, length: t.length })),
      layer: n.spec.type === 'add' ? { type: 'add' } : readLayer(n.spec, n.where, fail),
    })),
  };
}

/** |x| statistics of every int8 op's input over the calibration rows (the f32 model, eval mode), by op index. */
function calibrate(model: Model, ops: readonly PlannedOp[], x: Float32Array, rows: number, batchSize: number): Map<number, AbsStats> {
  const core = model.core, IN = model.inputSize, mem = coreMemory(core);
  const byNode = new Map<string, AbsStats>();
  const stats = new Map<number, AbsStats>();
  ops.forEach((o, i) => {
    if (!isInt8Op(o)) return;
    // two ops reading one tensor (a block's body and its projection shortcut) share its statistics
    if (!byNode.has(o.calibrateAt)) byNode.set(o.calibrateAt, new AbsStats());
    stats.set(i, byNode.get(o.calibrateAt)!);
  });
  const batch = Math.min(batchSize, rows);
  const program = floatProgram(mem, layerGraphOf(model), model.params.ptr, model.state?.ptr ?? 0);
  const plan = planProgram(program, batch);
  let buffers: ReturnType<typeof allocBuffers> | null = null;
  const tx = core.alloc(batch * IN);
  try {
    buffers = allocBuffers(mem, plan);
    for (let r0 = 0; r0 < rows; r0 += batch) {
      const r = Math.min(batch, rows - r0);
      const chunk = x.subarray(r0 * IN, (r0 + r) * IN);
      byNode.get('input')?.add(chunk);
      tx.set(chunk);
      runProgram(core.kernels, core.views, program, plan, buffers, tx.ptr, r, (i, ptr) => {
        // the output of graph node op.node (an attention layer's: its last op), or the context its core op writes
        const op = program.ops[i]!;
        if (op.part === 'qkv') return;
        const s = byNode.get(op.part === 'core' ? `n${op.node}.ctx` : `n${op.node}`);
        if (s) s.add(core.views.f32.subarray(ptr >>> 2, (ptr >>> 2) + r * program.ops[i]!.outElems));
      });
    }
  } finally {
    if (buffers) freeBuffers(mem, buffers);
    freeProgram(mem, program);
    core.free(tx);
  }
  return stats;
}
