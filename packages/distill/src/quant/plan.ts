// Which ops the int8 form of a layer graph is made of: a pure function of the compiled graph
// (no memory, no data), so that the deployment report can state a model's int8 size without
// quantizing it, and quantizeModel (./quantize.ts) follows the same plan.
//
// - dense, conv2d and depthwiseConv2d become int8 ops (per-output-channel weights, one
//   per-tensor input scale).
// - A batch norm folds into the dense or convolution layer before it when it is that layer's
//   only reader (its output feeds nothing else): gamma / sqrt(var + eps) scales the layer's
//   output channels, so it moves into the weights and the bias (./quantize.ts, foldBatchNorm).
//   A batch norm that cannot fold (after a pooling, an add, the model input, or after a layer
//   whose output another layer also reads) stays an f32 per-channel affine op.
// - A ReLU directly after an int8 op (after folding) is fused into that op's f32 epilogue when it
//   is the op's only reader; any other ReLU, and pooling, global average pooling, residual adds,
//   flatten, layer norm and GELU, run in f32 between the int8 ops.
// - Dropout is the identity at inference and disappears.
// - Text models: an embedding becomes an int8 table with one scale per row; an attention layer
//   becomes dense (q | k | v, int8) -> attention (the f32 softmax core) -> dense (the output
//   projection, int8, calibrated on the context the core writes); a 1-D convolution is an int8
//   op like a convolution; dense layers on a sequence are int8 on every position; sequence
//   pooling stays f32. A language model's last dense layer gives [L, V] next-token scores.
import type { CompiledGraph, GraphNode } from '../model/graph.js';

export type PlannedOpType = 'dense' | 'conv' | 'conv1d' | 'maxPool2d' | 'avgPool2d' | 'globalAvgPool' | 'relu' | 'gelu' | 'flatten' | 'add' | 'affine' | 'layerNorm'
  | 'embedding' | 'attention' | 'sequencePool';

export interface PlannedOp {
  type: PlannedOpType;
  /** The graph node this op computes (for 'affine': the batch norm). */
  node: number;
  /** A batch norm folded into this dense/conv op. */
  foldedBatchNorm?: number;
  /** A ReLU fused into this dense/conv op's epilogue. */
  fusedRelu?: number;
  /** Op indices read (-1: the model input). */
  inputs: number[];
  /**
   * For int8 ops: where calibration measures |x| of this op's input: 'input' (the model input),
   * 'n<i>' (graph node i's f32 output) or 'n<i>.ctx' (the context attention node i computes).
   */
  calibrateAt: string;
  /** For int8 ops: the node's weight and bias tensors ('w'/'b', or an attention layer's 'wqkv'/'bqkv', 'wo'/'bo'). */
  weight?: string;
  bias?: string;
}

export interface Int8Plan {
  ops: PlannedOp[];
  /** How many dense/conv/conv1d ops (each one activation scale). */
  int8Ops: number;
}

const QUANTIZED = new Set(['dense', 'conv2d', 'depthwiseConv2d', 'conv1d']);
const INT8: ReadonlySet<PlannedOpType> = new Set(['dense', 'conv', 'conv1d']);
const at = (i: number): string => (i < 0 ? 'input' : `n${i}`);

/** Whether a planned op runs on int8 weights with one activation scale. */
export const isInt8Op = (op: PlannedOp): boolean => INT8.has(op.type);

export function planInt8(graph: Pick<CompiledGraph, 'nodes'>): Int8Plan {
  const nodes = graph.nodes;
  const readers = new Array<number>(nodes.length).fill(0);
  for (const n of nodes) for (const i of n.inputs) if (i >= 0) readers[i]!++;
  const opOf = new Array<number>(nodes.length).fill(-2); // op index whose output is node i's output
  const ops: PlannedOp[] = [];
  const opInput = (i: number): number => (i < 0 ? -1 : opOf[i]!);
  const push = (op: PlannedOp, n: GraphNode): void => { ops.push(op); opOf[n.index] = ops.length - 1; };
  for (const n of nodes) {
    const t = n.spec.type;
    const from = n.inputs[0]!;
    const prev = from >= 0 ? ops[opOf[from]!] : undefined;
    if (t === 'dropout') { opOf[n.index] = opInput(from); continue; }
    if (QUANTIZED.has(t)) {
      push({ type: t === 'dense' ? 'dense' : t === 'conv1d' ? 'conv1d' : 'conv', node: n.index, inputs: [opInput(from)], calibrateAt: at(from), weight: 'w', bias: 'b' }, n);
      continue;
    }
    if (t === 'attention') {
      ops.push({ type: 'dense', node: n.index, inputs: [opInput(from)], calibrateAt: at(from), weight: 'wqkv', bias: 'bqkv' });
      ops.push({ type: 'attention', node: n.index, inputs: [ops.length - 1], calibrateAt: '' });
      push({ type: 'dense', node: n.index, inputs: [ops.length - 1], calibrateAt: `${at(n.index)}.ctx`, weight: 'wo', bias: 'bo' }, n);
      continue;
    }
    // the producer is an int8 op and this node is the only reader of its output
    const soleReaderOfInt8 = prev !== undefined && INT8.has(prev.type) && readers[from] === 1;
    if (t === 'batchNorm' && soleReaderOfInt8 && from === prev.node) { // directly after the layer, nothing folded or fused yet
      prev.foldedBatchNorm = n.index;
      opOf[n.index] = opOf[from]!;
      continue;
    }
    if (t === 'relu' && soleReaderOfInt8 && prev.fusedRelu === undefined) {
      prev.fusedRelu = n.index;
      opOf[n.index] = opOf[from]!;
      continue;
    }
    const type: PlannedOpType = t === 'batchNorm' ? 'affine' : (t as PlannedOpType);
    push({ type, node: n.index, inputs: n.inputs.map(opInput), calibrateAt: '' }, n);
  }
  return { ops, int8Ops: ops.filter(isInt8Op).length };
}

/**
 * Bytes of the int8 form (./plan.ts): per dense/conv op its int8 weights, f32 per-channel
 * scales and biases and one f32 activation scale; per affine op (an unfolded batch norm) and
 * layer norm, two f32 vectors. The same count as quantizedModelSize of the quantized graph.
 */
export function int8Bytes(graph: Pick<CompiledGraph, 'nodes'>): number {
  const plan = planInt8(graph);
  let bytes = 0;
  for (const op of plan.ops) {
    const n = graph.nodes[op.node]!;
    if (isInt8Op(op)) {
      const w = n.params.find((p) => p.name.endsWith(`.${op.weight}`))!;
      const oc = w.shape[w.shape.length - 1]!;
      bytes += w.length + 8 * oc + 4;
    } else if (op.type === 'embedding') {
      // int8 rows, one f32 scale per row, f32 positions
      const [V, D] = n.params[0]!.shape as [number, number];
      bytes += V * D + 4 * V + 4 * (n.params[1]?.length ?? 0);
    } else if (op.type === 'affine' || op.type === 'layerNorm') {
      bytes += 8 * n.outShape[n.outShape.length - 1]!;
    }
  }
  return bytes;
}
