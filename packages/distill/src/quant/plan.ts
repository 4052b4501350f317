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
import type { CompiledGraph, GraphNode } from '../model/graph.js';

export type PlannedOpType = 'dense' | 'conv' | 'maxPool2d' | 'avgPool2d' | 'globalAvgPool' | 'relu' | 'gelu' | 'flatten' | 'add' | 'affine' | 'layerNorm';

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
  /** For dense/conv ops: the graph node whose f32 output is this op's input (-1: the model input), where calibration measures |x|. */
  calibrateAt: number;
}

export interface Int8Plan {
  ops: PlannedOp[];
  /** How many dense/conv ops (each one activation scale). */
  int8Ops: number;
}

const QUANTIZED = new Set(['dense', 'conv2d', 'depthwiseConv2d']);

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
      push({ type: t === 'dense' ? 'dense' : 'conv', node: n.index, inputs: [opInput(from)], calibrateAt: from }, n);
      continue;
    }
    // the producer is a dense/conv op and this node is the only reader of its output
    const soleReaderOfInt8 = prev !== undefined && (prev.type === 'dense' || prev.type === 'conv') && readers[from] === 1;
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
    push({ type, node: n.index, inputs: n.inputs.map(opInput), calibrateAt: -1 }, n);
  }
  return { ops, int8Ops: ops.filter((o) => o.type === 'dense' || o.type === 'conv').length };
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
    if (op.type === 'dense' || op.type === 'conv') {
      const w = n.params.find((p) => p.name.endsWith('.w'))!;
      const oc = n.outShape[n.outShape.length - 1]!;
      bytes += w.length + 8 * oc + 4;
    } else if (op.type === 'affine' || op.type === 'layerNorm') {
      bytes += 8 * n.outShape[n.outShape.length - 1]!;
    }
  }
  return bytes;
}
