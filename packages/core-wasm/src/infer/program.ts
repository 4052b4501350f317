// A layer graph made resident for the forward pass of ./forward.ts: an ordered op list whose
// weights, scales and geometry structs sit in module memory, built from a float32 layer graph
// (its parameters and state already in memory) or from an int8 graph (weights packed for gemmI8
// once). Ops read earlier ops' outputs (index -1: the model input).
//   f32 ops:  dense, conv, batchNorm (running statistics), layerNorm, relu, gelu, add, max/avg
//             pooling, global average pooling; flatten and dropout are aliases of their input
//   int8 ops: denseI8, convI8 (im2col + gemmI8; grouped convolutions on block-diagonal weights),
//             depthwiseI8 (G == C), and the f32 affine op (an unfolded batch norm)
//   text:     embedding (f32 table) / embeddingI8 (int8 rows, one scale each), attention (the
//             softmax(q kᵀ / sqrt(dh)) v core over packed q | k | v), sequencePool; dense and denseI8
//             run on every position of a sequence (L rows per sample), conv1d is a 1 x k conv / convI8.
//             A float graph's attention layer becomes three ops: dense (q | k | v), attention, dense
//             (the output projection), so calibration sees the context the second dense reads.

import { packedI8Bytes, type Ptr, type RawKernels } from '../abi.js';
import { encodeGeometry, type ConvGeometry } from '../kernels/geometry.js';
import type { MemoryViews } from '../tensor.js';
import { windowOutput, type LayerGraph, type Pair, type Padding, type Shape } from '../format/graph.js';
import { graphShapes, type QuantizedGraph } from '../format/quantized-graph.js';

/** The raw kernels a program calls (the inference module exports exactly these, abi.ts INFER_KERNEL_NAMES). */
export type ProgramKernels = Pick<RawKernels,
  'sgemm' | 'biasAdd' | 'reluForward' | 'quantizeI8' | 'packWeightsI8' | 'gemmI8' | 'dequantizeI8' | 'im2colI8' | 'depthwiseConvI8' |
  'channelAffine' | 'conv2dForward' | 'maxPool2dForward' | 'avgPool2dForward' | 'globalAvgPoolForward' | 'batchNormInferForward' |
  'layerNormForward' | 'geluForward' | 'addForward' | 'softmaxRows' | 'embeddingForward'>;

/** Module memory for a program's resident data and work buffers. */
export interface ProgramMemory {
  readonly views: MemoryViews;
  /** `bytes` (> 0) of module memory, 16-byte aligned. May grow memory. */
  alloc(bytes: number): Ptr;
  free(ptr: Ptr): void;
}

/**
 * Bytes of im2col rows one chunk of a convolution may take (at least one pixel's). The chunking never
 * changes the result (gemmI8's rows are independent); chunks from 4 KiB to 2 MiB measured the same
 * speed on resnet8's shapes, so the smallest that keeps calls few bounds the buffer.
 */
export const COL_BUDGET = 1 << 16;

interface OpCommon {
  inputs: number[];
  /** Elements of one sample's output. */
  outElems: number;
  name: string;
  /** The float graph's node this op computes (floatProgram), and which part of an attention layer. */
  node?: number;
  part?: 'qkv' | 'core' | 'out';
}

interface Int8Common { packed: Ptr; scales: Ptr; bias: Ptr; inputScale: number; relu: boolean; inElems: number; OC: number }

export type ExecOp = OpCommon & (
  /** L: positions per sample (a sequence [L, IN]; 1 for flat features). */
  | { kind: 'dense'; IN: number; OUT: number; L: number; w: Ptr; b: Ptr }
  | { kind: 'embedding'; V: number; D: number; L: number; table: Ptr; pos: Ptr }
  | { kind: 'embeddingI8'; V: number; D: number; L: number; table: Ptr; scales: Ptr; pos: Ptr }
  | { kind: 'attention'; L: number; D: number; heads: number; causal: boolean }
  | { kind: 'sequencePool'; L: number; D: number; first: boolean }
  | { kind: 'conv'; geom: Ptr; OC: number; w: Ptr; b: Ptr }
  | ({ kind: 'denseI8'; L: number } & Int8Common)
  | ({ kind: 'convI8'; geom: Ptr; K: number; pointwise: boolean } & Int8Common)
  | ({ kind: 'depthwiseI8' } & Int8Common & { geom: Ptr })
  | { kind: 'maxPool' | 'avgPool'; geom: Ptr }
  | { kind: 'globalAvgPool'; HW: number; C: number }
  | { kind: 'batchNorm'; C: number; mean: Ptr; variance: Ptr; gamma: Ptr; beta: Ptr; eps: number }
  | { kind: 'affine'; C: number; scale: Ptr; shift: Ptr }
  | { kind: 'layerNorm'; D: number; gamma: Ptr; beta: Ptr; eps: number }
  | { kind: 'relu' | 'gelu' | 'add' | 'alias' });

export interface Program {
  readonly inputShape: Shape;
  readonly inputSize: number;
  readonly classes: number;
  readonly ops: readonly ExecOp[];
  /** Everything the program allocated (weights, scales, geometry structs): freeProgram releases it. */
  readonly owned: Ptr[];
}

const elems = (s: Shape): number => s.reduce((a, b) => a * b, 1);

// ---- building ---------------------------------------------------------------------------------

class Builder {
  readonly owned: Ptr[] = [];
  constructor(readonly mem: ProgramMemory) {}
  f32(data: Float32Array): Ptr {
    const p = this.keep(4 * data.length);
    this.mem.views.f32.set(data, p >>> 2);
    return p;
  }
  i8(data: Int8Array): Ptr {
    const p = this.keep(data.length);
    this.mem.views.i8.set(data, p);
    return p;
  }
  geometry(g: ConvGeometry): Ptr {
    const p = this.keep(4 * 16);
    this.mem.views.i32.set(encodeGeometry(g), p >>> 2);
    return p;
  }
  keep(bytes: number): Ptr {
    const p = this.mem.alloc(Math.max(16, bytes));
    this.owned.push(p);
    return p;
  }
  /** Packs (k, n) int8 weights for gemmI8 (through a temporary row-major copy). */
  packed(k: ProgramKernels, weights: Int8Array, rows: number, cols: number): Ptr {
    const out = this.keep(packedI8Bytes(rows, cols));
    const tmp = this.mem.alloc(Math.max(16, weights.length));
    try {
      this.mem.views.i8.set(weights, tmp);
      k.packWeightsI8(out, tmp, rows, cols);
    } finally {
      this.mem.free(tmp);
    }
    return out;
  }
}

function windowGeometry(inShape: Shape, outShape: Shape, kernel: Pair, stride: Pair, padding: Padding, groups: number): ConvGeometry {
  const w = windowOutput('op', inShape, kernel, stride, padding, (p) => { throw new RangeError(p); });
  return {
    B: 1, H: inShape[0]!, W: inShape[1]!, C: inShape[2]!, OH: outShape[0]!, OW: outShape[1]!, OC: outShape[2]!,
    KH: kernel[0], KW: kernel[1], SH: stride[0], SW: stride[1], PT: w.pt, PL: w.pl, G: groups,
  };
}

/** Frees what a program holds in module memory. */
export function freeProgram(mem: ProgramMemory, p: Program): void {
  for (const ptr of p.owned) mem.free(ptr);
  p.owned.length = 0;
}

function guarded(mem: ProgramMemory, build: (b: Builder) => Omit<Program, 'owned'>): Program {
  const b = new Builder(mem);
  try {
    return { ...build(b), owned: b.owned };
  } catch (e) {
    for (const p of b.owned) mem.free(p);
    throw e;
  }
}

/**
 * A float32 program for a compiled layer graph whose flat parameters and state are at byte
 * offsets P and S of module memory (they stay there: the program points into them). Dropout is
 * the identity and flatten its input's buffer: the model's eval-mode forward, kernel for kernel.
 */
export function floatProgram(mem: ProgramMemory, graph: Pick<LayerGraph, 'inputShape' | 'classes' | 'nodes'>, P: Ptr, S: Ptr): Program {
  return guarded(mem, (b) => {
    const ops: ExecOp[] = [];
    const opOf: number[] = []; // node index -> the op giving its output
    const inputOf = (i: number): number => (i < 0 ? -1 : opOf[i]!);
    for (const n of graph.nodes) {
      const at = (kind: string, list = n.params): Ptr => {
        const t = list.find((d) => d.name.endsWith(`.${kind}`));
        return t ? (list === n.params ? P : S) + 4 * t.offset : 0;
      };
      const common = { inputs: n.inputs.map(inputOf), outElems: elems(n.outShape), name: n.name, node: n.index };
      const l = n.layer;
      const push = (op: ExecOp): void => { ops.push(op); opOf[n.index] = ops.length - 1; };
      switch (l.type) {
        case 'dense': {
          const seq = n.inShape.length === 2;
          push({ ...common, kind: 'dense', IN: seq ? n.inShape[1]! : elems(n.inShape), OUT: l.units, L: seq ? n.inShape[0]! : 1, w: at('w'), b: at('b') });
          break;
        }
        case 'conv2d': case 'depthwiseConv2d': {
          const groups = l.type === 'depthwiseConv2d' ? n.inShape[2]! : l.groups;
          push({ ...common, kind: 'conv', OC: n.outShape[2]!, w: at('w'), b: at('b'), geom: b.geometry(windowGeometry(n.inShape, n.outShape, l.kernel, l.stride, l.padding, groups)) });
          break;
        }
        case 'conv1d':
          push({ ...common, kind: 'conv', OC: l.filters, w: at('w'), b: at('b'), geom: b.geometry(conv1dGeometry(n.inShape, l.filters, l.kernel)) });
          break;
        case 'maxPool2d': case 'avgPool2d':
          push({ ...common, kind: l.type === 'maxPool2d' ? 'maxPool' : 'avgPool', geom: b.geometry(windowGeometry(n.inShape, n.outShape, l.size, l.stride, l.padding, 1)) });
          break;
        case 'globalAvgPool': push({ ...common, kind: 'globalAvgPool', HW: n.inShape[0]! * n.inShape[1]!, C: n.inShape[2]! }); break;
        case 'batchNorm':
          push({ ...common, kind: 'batchNorm', C: n.outShape[n.outShape.length - 1]!, gamma: at('gamma'), beta: at('beta'),
            mean: at('running_mean', n.state), variance: at('running_var', n.state), eps: l.eps });
          break;
        case 'layerNorm': push({ ...common, kind: 'layerNorm', D: n.outShape[n.outShape.length - 1]!, gamma: at('gamma'), beta: at('beta'), eps: l.eps }); break;
        case 'embedding':
          push({ ...common, kind: 'embedding', V: l.vocab, D: l.dim, L: n.inShape[0]!, table: at('table'), pos: l.positions ? at('pos') : 0 });
          break;
        case 'attention': {
          const [L, D] = n.inShape as [number, number];
          ops.push({ ...common, part: 'qkv', outElems: 3 * L * D, kind: 'dense', IN: D, OUT: 3 * D, L, w: at('wqkv'), b: at('bqkv') });
          ops.push({ ...common, part: 'core', inputs: [ops.length - 1], outElems: L * D, kind: 'attention', L, D, heads: l.heads, causal: l.causal });
          push({ ...common, part: 'out', inputs: [ops.length - 1], kind: 'dense', IN: D, OUT: D, L, w: at('wo'), b: at('bo') });
          break;
        }
        case 'sequencePool': push({ ...common, kind: 'sequencePool', L: n.inShape[0]!, D: n.inShape[1]!, first: l.mode === 'first' }); break;
        case 'relu': case 'gelu': case 'add': push({ ...common, kind: l.type }); break;
        case 'flatten': case 'dropout': push({ ...common, kind: 'alias' }); break;
      }
    }
    return { inputShape: graph.inputShape, inputSize: elems(graph.inputShape), classes: graph.classes, ops };
  });
}

/** The geometry of a 1-D convolution over [L, D]: a 1 x k conv2d with 'same' padding, stride 1 (TensorFlow's split). */
function conv1dGeometry(inShape: Shape, filters: number, kernel: number): ConvGeometry {
  const [L, D] = inShape as [number, number];
  const w = windowOutput('conv1d', [1, L], [1, kernel], [1, 1], 'same', (p) => { throw new RangeError(p); });
  return { B: 1, H: 1, W: L, C: D, OH: 1, OW: L, OC: filters, KH: 1, KW: kernel, SH: 1, SW: 1, PT: 0, PL: w.pl, G: 1 };
}

/** An int8 program for a quantized graph (checked by the caller: checkQuantizedGraph or the decoder): weights packed once. */
export function int8Program(mem: ProgramMemory, k: ProgramKernels, g: QuantizedGraph): Program {
  const shapes = graphShapes(g.input, g.ops, (p) => { throw new RangeError(`int8 program: ${p}`); });
  return guarded(mem, (b) => {
    const ops: ExecOp[] = g.ops.map((op, i) => {
      const inShape = op.inputs[0]! < 0 ? g.input : shapes[op.inputs[0]!]!, outShape = shapes[i]!;
      const common = { inputs: [...op.inputs], outElems: elems(outShape), name: op.name ?? `${op.type}${i}` };
      switch (op.type) {
        case 'dense': {
          // every position of a sequence [L, D]: L rows of D per sample
          const L = inShape.length === 2 ? inShape[0]! : 1, K = elems(inShape) / L;
          return { ...common, kind: 'denseI8', L, inElems: elems(inShape), OC: op.units, packed: b.packed(k, op.weights, K, op.units), scales: b.f32(op.weightScales),
            bias: b.f32(op.bias), inputScale: Math.fround(op.inputScale), relu: op.relu };
        }
        case 'conv1d': {
          const K = op.kernel * inShape[1]!;
          return { ...common, kind: 'convI8', inElems: elems(inShape), OC: op.filters, K, pointwise: op.kernel === 1, packed: b.packed(k, op.weights, K, op.filters),
            scales: b.f32(op.weightScales), bias: b.f32(op.bias), inputScale: Math.fround(op.inputScale), relu: op.relu,
            geom: b.geometry(conv1dGeometry(inShape, op.filters, op.kernel)) };
        }
        case 'embedding':
          return { ...common, kind: 'embeddingI8', V: op.vocab, D: op.dim, L: inShape[0]!, table: b.i8(op.table), scales: b.f32(op.tableScales),
            pos: op.positions ? b.f32(op.pos) : 0 };
        case 'attention':
          return { ...common, kind: 'attention', L: inShape[0]!, D: inShape[1]! / 3, heads: op.heads, causal: op.causal };
        case 'sequencePool':
          return { ...common, kind: 'sequencePool', L: inShape[0]!, D: inShape[1]!, first: op.mode === 'first' };
        case 'conv': {
          const [KH, KW] = op.kernel, C = inShape[2]!, OC = op.filters, G = op.groups;
          const int8 = { inElems: elems(inShape), OC, scales: b.f32(op.weightScales), bias: b.f32(op.bias), inputScale: Math.fround(op.inputScale), relu: op.relu };
          if (G > 1 && G === C) {
            return { ...common, ...int8, kind: 'depthwiseI8', packed: b.i8(op.weights), geom: b.geometry(windowGeometry(inShape, outShape, op.kernel, op.stride, op.padding, G)) };
          }
          const K = KH * KW * C;
          if (G > 1 && K * OC > MAX_BLOCK_DIAGONAL_BYTES) {
            throw new RangeError(`int8 program: ${common.name}: a convolution of ${G} groups runs on block-diagonal weights of ${K * OC} bytes, beyond ${MAX_BLOCK_DIAGONAL_BYTES}`);
          }
          const weights = G === 1 ? op.weights : blockDiagonal(op.weights, KH * KW, C, OC, G);
          const geom = windowGeometry(inShape, outShape, op.kernel, op.stride, op.padding, 1);
          const pointwise = KH === 1 && KW === 1 && op.stride[0] === 1 && op.stride[1] === 1 && geom.PT === 0 && geom.PL === 0;
          return { ...common, ...int8, kind: 'convI8', K, pointwise, packed: b.packed(k, weights, K, OC), geom: b.geometry(geom) };
        }
        case 'maxPool2d': case 'avgPool2d':
          return { ...common, kind: op.type === 'maxPool2d' ? 'maxPool' : 'avgPool', geom: b.geometry(windowGeometry(inShape, outShape, op.size, op.stride, op.padding, 1)) };
        case 'globalAvgPool': return { ...common, kind: 'globalAvgPool', HW: inShape[0]! * inShape[1]!, C: inShape[2]! };
        case 'affine': return { ...common, kind: 'affine', C: inShape[inShape.length - 1]!, scale: b.f32(op.scale), shift: b.f32(op.shift) };
        case 'layerNorm': return { ...common, kind: 'layerNorm', D: inShape[inShape.length - 1]!, gamma: b.f32(op.gamma), beta: b.f32(op.beta), eps: op.eps };
        case 'relu': case 'gelu': case 'add': return { ...common, kind: op.type };
        case 'flatten': return { ...common, kind: 'alias' };
      }
    });
    return { inputShape: g.input, inputSize: elems(g.input), classes: elems(shapes[shapes.length - 1]!), ops };
  });
}

/** Largest block-diagonal weight matrix a grouped convolution may expand to (G times its int8 weights). */
export const MAX_BLOCK_DIAGONAL_BYTES = 1 << 28;

/** Grouped weights (taps, C/G, OC) as a (taps * C, OC) matrix, zero where input channel c is outside output channel o's group. */
function blockDiagonal(w: Int8Array, taps: number, C: number, OC: number, G: number): Int8Array {
  const Cg = C / G, OCg = OC / G;
  const out = new Int8Array(taps * C * OC);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < C; c++) {
      const g = Math.floor(c / Cg), src = (t * Cg + c - g * Cg) * OC, dst = (t * C + c) * OC;
      for (let o = g * OCg; o < (g + 1) * OCg; o++) out[dst + o] = w[src + o]!;
    }
  }
  return out;
}

