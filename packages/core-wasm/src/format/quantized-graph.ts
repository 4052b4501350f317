// The int8 model file, version 2: any layer graph as an ordered list of ops (the layout of the
// container is in ./container.ts). Dependency-free: the inference entry decodes it in a browser.
//
// header: { format: "retort-int8", spec, input: [H, W, C] | [D], ops: [ op ... ], calibration?, meta }
// Each op reads earlier ops' outputs (`inputs`: op indices, -1 the model input); the last op's
// output is the logits (a language model's: [L, V] next-token scores). Op types and their payload tensors (offset/length in bytes relative to
// the payload start, each 16-byte aligned):
//   dense   { units, relu, inputScale }                        weights i8 (IN, units), scales f32 (units), bias f32 (units)
//   conv    { filters, kernel, stride, padding, groups, relu, inputScale }
//                                                              weights i8 (KH, KW, C/groups, filters), scales, bias f32 (filters)
//   maxPool2d / avgPool2d { size, stride, padding }            (none)
//   globalAvgPool, relu, gelu, flatten                         (none)
//   add     (two inputs)                                       (none)
//   affine  (a batch norm that was not folded)                 scale f32 (C), shift f32 (C)
//   layerNorm { eps }                                          gamma f32 (D), beta f32 (D)
// Text models (input [L] token ids as f32, -1 padding after the tokens):
//   embedding { vocab, dim, positions }                        table i8 (vocab, dim), tableScales f32 (vocab), pos f32 (L, dim)
//             y[l] = table[id_l] * tableScales[id_l] (+ pos[l]); a padding id reads a zero row (then + pos)
//   attention { heads, causal }   packed q | k | v [L, 3D] in (a dense op before it), context [L, D] out:
//             per head softmax(q kᵀ / sqrt(D / heads)) v over the sample's n tokens (keys j <= i when
//             causal), rows >= n zero; n is read from the model input (the ids before the first -1)
//   sequencePool { mode }         [L, D] -> [D]: the mean over the n tokens, or the first row (zero when n = 0)
//   conv1d  { filters, kernel, relu, inputScale }                weights i8 (kernel, D, filters), scales, bias f32 (filters)
//             stride 1, 'same' padding over the sequence
//   dense on [L, D]: every position (weights (D, units)), [L, units] out
// A dense or conv op computes y = dequant(quant(x; inputScale) * weights) + bias: with
// xq = clamp(round(x / inputScale), -127, 127) and weights[.., o] ~ W[.., o] / scales[o],
// y[o] = sum xq w[.., o] * (inputScale * scales[o]) + bias[o], then ReLU when `relu`.
// groups == C (input channels) is a depthwise convolution (multiplier filters / C).
//
// Decoding checks every attribute, infers every shape (./graph.ts opOutput, the model spec's
// rules), checks every tensor range against those shapes and the payload before allocating, then
// the values: weights in [-127, 127], scales finite and > 0, biases and f32 parameters finite.

import {
  MAX_NODES, elems, inputShapeField, intField, isObject, opOutput, pairField, paddingField, shapeText,
  type Padding, type Pair, type Shape, type ShapeOp,
} from './graph.js';
import {
  PayloadLayout, checkRanges, rangeField, readF32, readI8, writeContainer, writeF32, writeI8, type Container, type Fail, type Range,
} from './container.js';

/** How the activation scales were chosen (informative; inference does not read it). */
export interface CalibrationInfo {
  method: 'max' | 'percentile';
  /** For 'percentile': the percentile of |x| (e.g. 99.99). */
  percentile?: number;
  /** Calibration rows seen. */
  rows: number;
}

interface OpBase { name?: string; inputs: number[] }

export interface QuantizedDense extends OpBase {
  type: 'dense';
  units: number;
  relu: boolean;
  /** Scale of the op's input activations (an f32 value > 0): x ~ q * inputScale, q in [-127, 127]. */
  inputScale: number;
  /** (IN, units) row-major int8 in [-127, 127]: W[i, j] ~ weights[i * units + j] * weightScales[j]. */
  weights: Int8Array;
  /** (units) per-output-channel scales, finite and > 0. */
  weightScales: Float32Array;
  bias: Float32Array;
}

export interface QuantizedConv extends OpBase {
  type: 'conv';
  filters: number;
  kernel: Pair;
  stride: Pair;
  padding: Padding;
  /** 1: an ordinary convolution; C: depthwise; else grouped. */
  groups: number;
  relu: boolean;
  inputScale: number;
  /** (KH, KW, C/groups, filters) int8 (HWIO): one column of scales per output channel. */
  weights: Int8Array;
  weightScales: Float32Array;
  bias: Float32Array;
}

export interface QuantizedConv1d extends OpBase {
  type: 'conv1d';
  filters: number;
  kernel: number;
  relu: boolean;
  inputScale: number;
  /** (kernel, D, filters) int8. */
  weights: Int8Array;
  weightScales: Float32Array;
  bias: Float32Array;
}

export interface QuantizedEmbedding extends OpBase {
  type: 'embedding';
  vocab: number;
  dim: number;
  positions: boolean;
  /** (vocab, dim) int8, one scale per row: row v ~ table[v, :] * tableScales[v]. */
  table: Int8Array;
  tableScales: Float32Array;
  /** (L, dim) f32 position rows; empty without positions. */
  pos: Float32Array;
}

export type QuantizedOp =
  | QuantizedDense | QuantizedConv | QuantizedConv1d | QuantizedEmbedding
  | (OpBase & { type: 'attention'; heads: number; causal: boolean })
  | (OpBase & { type: 'sequencePool'; mode: 'mean' | 'first' })
  | (OpBase & { type: 'maxPool2d' | 'avgPool2d'; size: Pair; stride: Pair; padding: Padding })
  | (OpBase & { type: 'globalAvgPool' | 'relu' | 'gelu' | 'flatten' | 'add' })
  | (OpBase & { type: 'affine'; scale: Float32Array; shift: Float32Array })
  | (OpBase & { type: 'layerNorm'; eps: number; gamma: Float32Array; beta: Float32Array });

export type QuantizedOpType = QuantizedOp['type'];

/** An int8 layer graph: what version 2 of the file holds. */
export interface QuantizedGraph {
  /** The model's spec, carried along for display ({ type, ... }; checked by @retort/distill). */
  spec: { type: string; [key: string]: unknown };
  /** One sample's input shape: [H, W, C] or [D]. */
  input: number[];
  ops: QuantizedOp[];
  calibration?: CalibrationInfo;
  meta?: Record<string, unknown>;
}

export interface DecodedQuantizedGraph extends QuantizedGraph {
  /** The file's format version (1: an MLP file, read as a graph of dense ops; 2: a graph). */
  version: number;
  meta: Record<string, unknown>;
}

/** Bytes a quantized graph holds, by part, and the same ops' float32 parameters for comparison. */
export interface QuantizedSize {
  /** int8 weights: one byte each. */
  weights: number;
  /** f32 per-output-channel weight scales. */
  scales: number;
  /** f32 biases of the int8 ops. */
  biases: number;
  /** f32 activation scales, one per int8 op. */
  activationScales: number;
  /** f32 parameters of the ops that stay f32 (affine, layer norm). */
  other: number;
  /** weights + scales + biases + activationScales + other. */
  total: number;
  /** The same ops in float32 (weights and biases at 4 bytes each, plus `other`). */
  float32: number;
  /** float32 / total. */
  ratio: number;
}

export function quantizedModelSize(g: QuantizedGraph): QuantizedSize {
  let weights = 0, scales = 0, biases = 0, activationScales = 0, other = 0;
  for (const op of g.ops) {
    if (op.type === 'dense' || op.type === 'conv' || op.type === 'conv1d') {
      weights += op.weights.length; scales += 4 * op.weightScales.length; biases += 4 * op.bias.length; activationScales += 4;
    } else if (op.type === 'embedding') {
      weights += op.table.length; scales += 4 * op.tableScales.length; other += 4 * op.pos.length;
    } else if (op.type === 'affine') other += 4 * (op.scale.length + op.shift.length);
    else if (op.type === 'layerNorm') other += 4 * (op.gamma.length + op.beta.length);
  }
  const total = weights + scales + biases + activationScales + other;
  // the same ops in f32: weights 4 bytes each, no scales (the table's row scales included in `scales` go too)
  const float32 = 4 * weights + biases + other;
  return { weights, scales, biases, activationScales, other, total, float32, ratio: total > 0 ? float32 / total : 0 };
}

/** The ShapeOp of an op (what its output shape depends on). */
export function shapeOpOf(op: QuantizedOp): ShapeOp {
  switch (op.type) {
    case 'dense': return { type: 'dense', units: op.units };
    case 'conv': return { type: 'conv', filters: op.filters, kernel: op.kernel, stride: op.stride, padding: op.padding, groups: op.groups };
    case 'maxPool2d': case 'avgPool2d': return { type: op.type, size: op.size, stride: op.stride, padding: op.padding };
    case 'embedding': return { type: 'embedding', dim: op.dim };
    case 'attention': return { type: 'attention', heads: op.heads };
    case 'conv1d': return { type: 'conv1d', filters: op.filters, kernel: op.kernel };
    default: return { type: op.type };
  }
}

const opLabel = (op: { type: string; name?: string }, i: number): string => `ops[${i}] (${op.type}${op.name ? ` '${op.name}'` : ''})`;

/**
 * The per-sample shape of every op's output, checking inputs and attributes; `fail` gets a message
 * naming the op. shapes[i] is op i's output; the last must be flat (the logits).
 */
export function graphShapes(input: Shape, ops: readonly QuantizedOp[], fail: Fail, where = 'ops'): Shape[] {
  if (ops.length === 0 || ops.length > MAX_NODES) return fail(`${where}: must list 1 to ${MAX_NODES} ops`);
  const shapes: Shape[] = [];
  ops.forEach((op, i) => {
    const label = `${where}[${i}] (${op.type}${op.name ? ` '${op.name}'` : ''})`;
    const want = op.type === 'add' ? 2 : 1;
    if (!Array.isArray(op.inputs) || op.inputs.length !== want) fail(`${label}.inputs: must list ${want} earlier op${want > 1 ? 's' : ''}`);
    for (const j of op.inputs) if (!Number.isInteger(j) || j < -1 || j >= i) fail(`${label}.inputs: ${JSON.stringify(j)} is not an earlier op (or -1, the input)`);
    const at = (j: number): Shape => (j < 0 ? input : shapes[j]!);
    // token ids are the model input: an embedding is the first op and reads it; the ops that read
    // the token counts from the input (attention, sequence pooling) exist only in such a graph
    if (op.type === 'embedding' && (i !== 0 || op.inputs[0] !== -1)) fail(`${label}: an embedding reads the token ids, so it must be the first op and read the input (-1)`);
    if ((op.type === 'attention' || op.type === 'sequencePool') && ops[0]!.type !== 'embedding') {
      fail(`${label}: reads the token counts of the model input, so the graph must start with an embedding of token ids`);
    }
    const inShape = at(op.inputs[0]!);
    if (op.type === 'add' && shapeText(at(op.inputs[1]!)) !== shapeText(inShape)) {
      fail(`${label} adds ${shapeText(inShape)} to ${shapeText(at(op.inputs[1]!))}: they must match`);
    }
    shapes.push(opOutput(shapeOpOf(op), inShape, label, fail));
  });
  const last = shapes[shapes.length - 1]!;
  // flat class scores, or a language model's next-token scores [L, V] (the graph starts with an embedding)
  const tokens = last.length === 2 && ops[0]!.type === 'embedding' && last[0] === input[0];
  if (last.length !== 1 && !tokens) fail(`${where}: the last op gives ${shapeText(last)} per sample, but a model must end in flat class scores`);
  return shapes;
}

/** The payload tensors of an op with their element counts and types, given its input shape. */
function tensorsOf(op: QuantizedOp, inShape: Shape): { key: string; dtype: 'i8' | 'f32'; count: number }[] {
  const channels = inShape[inShape.length - 1]!;
  switch (op.type) {
    case 'dense': // flat features [D] or every position of [L, D]: (D, units) either way
      return [{ key: 'weights', dtype: 'i8', count: channels * op.units }, { key: 'scales', dtype: 'f32', count: op.units }, { key: 'bias', dtype: 'f32', count: op.units }];
    case 'conv1d':
      return [{ key: 'weights', dtype: 'i8', count: op.kernel * channels * op.filters }, { key: 'scales', dtype: 'f32', count: op.filters }, { key: 'bias', dtype: 'f32', count: op.filters }];
    case 'embedding':
      return [{ key: 'table', dtype: 'i8', count: op.vocab * op.dim }, { key: 'tableScales', dtype: 'f32', count: op.vocab },
        ...(op.positions ? [{ key: 'pos', dtype: 'f32' as const, count: inShape[0]! * op.dim }] : [])];
    case 'conv':
      return [{ key: 'weights', dtype: 'i8', count: op.kernel[0] * op.kernel[1] * (channels / op.groups) * op.filters },
        { key: 'scales', dtype: 'f32', count: op.filters }, { key: 'bias', dtype: 'f32', count: op.filters }];
    case 'affine': return [{ key: 'scale', dtype: 'f32', count: channels }, { key: 'shift', dtype: 'f32', count: channels }];
    case 'layerNorm': return [{ key: 'gamma', dtype: 'f32', count: channels }, { key: 'beta', dtype: 'f32', count: channels }];
    default: return [];
  }
}

/** The array an op holds under a payload key. */
function arrayOf(op: QuantizedOp, key: string): Int8Array | Float32Array {
  const a = (op as unknown as Record<string, unknown>)[key === 'scales' ? 'weightScales' : key];
  return a as Int8Array | Float32Array;
}

const finiteF32 = (v: number): boolean => Number.isFinite(v) && Number.isFinite(Math.fround(v));

/** Checks a graph's shapes, tensors and values (the encoder's precondition); throws RangeError naming the op and field. */
export function checkQuantizedGraph(g: QuantizedGraph, op = 'encodeQuantizedGraph'): Shape[] {
  const fail: Fail = (problem) => { throw new RangeError(`${op}: ${problem}`); };
  if (!isObject(g) || !isObject(g.spec) || typeof g.spec.type !== 'string') return fail('spec must be an object with a type');
  const input = inputShapeField(g.input, 'input', fail);
  if (!Array.isArray(g.ops)) return fail('ops must be a list');
  const shapes = graphShapes(input, g.ops, fail);
  g.ops.forEach((o, i) => {
    const label = opLabel(o, i);
    const inShape = o.inputs[0]! < 0 ? input : shapes[o.inputs[0]!]!;
    for (const t of tensorsOf(o, inShape)) {
      const a = arrayOf(o, t.key);
      const ctor = t.dtype === 'i8' ? Int8Array : Float32Array;
      if (!(a instanceof ctor) || a.length !== t.count) fail(`${label}.${t.key === 'scales' ? 'weightScales' : t.key} must be a ${ctor.name} of ${t.count} values`);
    }
    checkValues(o, label, fail);
  });
  return shapes;
}

function checkValues(o: QuantizedOp, label: string, fail: Fail): void {
  if (o.type === 'embedding') {
    for (let k = 0; k < o.table.length; k++) if (o.table[k] === -128) fail(`${label}.table[${k}] = -128 is outside [-127, 127]`);
    for (let k = 0; k < o.tableScales.length; k++) {
      const v = o.tableScales[k]!;
      if (!(v > 0 && Number.isFinite(v))) fail(`${label}.tableScales[${k}] = ${v}; scales must be finite and > 0`);
    }
    for (let k = 0; k < o.pos.length; k++) if (!Number.isFinite(o.pos[k]!)) fail(`${label}.pos[${k}] = ${o.pos[k]} is not finite`);
    if (typeof o.positions !== 'boolean') fail(`${label}.positions must be true or false`);
  } else if (o.type === 'dense' || o.type === 'conv' || o.type === 'conv1d') {
    const s = Math.fround(o.inputScale);
    if (!(s > 0 && Number.isFinite(s))) fail(`${label}.inputScale must be a finite f32 > 0, got ${o.inputScale}`);
    if (typeof o.relu !== 'boolean') fail(`${label}.relu must be true or false`);
    for (let k = 0; k < o.weights.length; k++) if (o.weights[k] === -128) fail(`${label}.weights[${k}] = -128 is outside [-127, 127]`);
    for (let k = 0; k < o.weightScales.length; k++) {
      const v = o.weightScales[k]!;
      if (!(v > 0 && Number.isFinite(v))) fail(`${label}.scales[${k}] = ${v}; scales must be finite and > 0`);
    }
    for (let k = 0; k < o.bias.length; k++) if (!Number.isFinite(o.bias[k]!)) fail(`${label}.bias[${k}] = ${o.bias[k]} is not finite`);
  } else if (o.type === 'affine' || o.type === 'layerNorm') {
    const [a, b] = o.type === 'affine' ? [['scale', o.scale], ['shift', o.shift]] as const : [['gamma', o.gamma], ['beta', o.beta]] as const;
    for (const [key, arr] of [a, b]) for (let k = 0; k < arr.length; k++) if (!Number.isFinite(arr[k]!)) fail(`${label}.${key}[${k}] = ${arr[k]} is not finite`);
    if (o.type === 'layerNorm' && !(Math.fround(o.eps) > 0 && finiteF32(o.eps))) fail(`${label}.eps must be a finite f32 > 0, got ${o.eps}`);
  }
}

/** Encodes an int8 graph into one version-2 file. */
export function encodeQuantizedGraph(g: QuantizedGraph): Uint8Array {
  const shapes = checkQuantizedGraph(g);
  const layout = new PayloadLayout();
  const entries = g.ops.map((o, i) => {
    const inShape = o.inputs[0]! < 0 ? g.input : shapes[o.inputs[0]!]!;
    const tensors: Record<string, Range> = {};
    for (const t of tensorsOf(o, inShape)) tensors[t.key] = layout.take(t.count * (t.dtype === 'i8' ? 1 : 4));
    return { ...attributesOf(o), tensors };
  });
  const header: Record<string, unknown> = { format: 'retort-int8', spec: g.spec, input: g.input, ops: entries, meta: g.meta ?? {} };
  if (g.calibration) header.calibration = g.calibration;
  return writeContainer(2, header, layout.bytes, (view, out, start) => {
    g.ops.forEach((o, i) => {
      for (const [key, r] of Object.entries(entries[i]!.tensors as Record<string, Range>)) {
        const a = arrayOf(o, key);
        if (a instanceof Int8Array) writeI8(out, start + r.offset, a);
        else writeF32(view, start + r.offset, a);
      }
    });
  });
}

/** An op's header entry without its tensors, keys in one order (the same op, the same bytes). */
function attributesOf(o: QuantizedOp): Record<string, unknown> {
  const a: Record<string, unknown> = { type: o.type };
  if (o.name !== undefined) a.name = o.name;
  a.inputs = [...o.inputs];
  switch (o.type) {
    case 'dense': Object.assign(a, { units: o.units, relu: o.relu, inputScale: Math.fround(o.inputScale) }); break;
    case 'conv':
      Object.assign(a, { filters: o.filters, kernel: [...o.kernel], stride: [...o.stride], padding: o.padding, groups: o.groups, relu: o.relu, inputScale: Math.fround(o.inputScale) });
      break;
    case 'maxPool2d': case 'avgPool2d': Object.assign(a, { size: [...o.size], stride: [...o.stride], padding: o.padding }); break;
    case 'layerNorm': a.eps = o.eps; break;
    case 'conv1d': Object.assign(a, { filters: o.filters, kernel: o.kernel, relu: o.relu, inputScale: Math.fround(o.inputScale) }); break;
    case 'embedding': Object.assign(a, { vocab: o.vocab, dim: o.dim, positions: o.positions }); break;
    case 'attention': Object.assign(a, { heads: o.heads, causal: o.causal }); break;
    case 'sequencePool': a.mode = o.mode; break;
    default:
  }
  return a;
}

/** Reads a version-2 header and payload (the container already checked). */
export function decodeGraphContainer(bytes: Uint8Array, c: Container, fail: Fail): DecodedQuantizedGraph {
  const h = c.header;
  if (!isObject(h)) return fail('header: must be a JSON object');
  if (h.format !== 'retort-int8') fail(`header.format: expected "retort-int8", got ${JSON.stringify(h.format)}`);
  if (!isObject(h.spec) || typeof h.spec.type !== 'string') return fail('header.spec: must be an object with a type');
  const input = [...inputShapeField(h.input, 'header.input', fail)];
  if (!Array.isArray(h.ops) || h.ops.length === 0 || h.ops.length > MAX_NODES) return fail(`header.ops: must be a list of 1 to ${MAX_NODES} ops`);
  // attributes first (no payload read), then shapes, then every range, then the values
  const parsed = h.ops.map((e: unknown, i: number) => readOpEntry(e, `header.ops[${i}]`, fail));
  const ops = parsed.map((p) => p.op);
  const shapes = graphShapes(input, ops, fail, 'header.ops');
  const ranges: { at: string; range: Range; length: number; align: number; key: string; op: number; dtype: 'i8' | 'f32'; count: number }[] = [];
  ops.forEach((o, i) => {
    const inShape = o.inputs[0]! < 0 ? input : shapes[o.inputs[0]!]!;
    const given = parsed[i]!.tensors;
    const wanted = tensorsOf(o, inShape);
    for (const key of Object.keys(given)) if (!wanted.some((t) => t.key === key)) fail(`header.ops[${i}].tensors.${key}: ${/^[aeiou]/.test(o.type) ? 'an' : 'a'} ${o.type} op has no such tensor`);
    for (const t of wanted) {
      const at = `header.ops[${i}].tensors.${t.key}`;
      const r = given[t.key];
      if (!r) return fail(`${at}: missing`);
      const bytesPer = t.dtype === 'i8' ? 1 : 4;
      ranges.push({ at, range: r, length: t.count * bytesPer, align: bytesPer, key: t.key, op: i, dtype: t.dtype, count: t.count });
    }
  });
  checkRanges(ranges, c, fail);
  // every size is now known to lie inside the file: allocate and copy, then check the values
  for (const r of ranges) {
    const data = r.dtype === 'i8' ? readI8(bytes, c.start + r.range.offset, r.count) : readF32(bytes, c.start + r.range.offset, r.count);
    (ops[r.op] as unknown as Record<string, unknown>)[r.key === 'scales' ? 'weightScales' : r.key] = data;
  }
  ops.forEach((o, i) => checkValues(o, opLabel(o, i), fail));
  const meta = h.meta === undefined ? {} : h.meta;
  if (!isObject(meta)) return fail('header.meta: must be an object');
  const out: DecodedQuantizedGraph = { version: c.version, spec: h.spec as QuantizedGraph['spec'], input, ops, meta };
  if (h.calibration !== undefined) out.calibration = readCalibration(h.calibration, fail);
  return out;
}

export function readCalibration(c: unknown, fail: Fail): CalibrationInfo {
  if (!isObject(c) || (c.method !== 'max' && c.method !== 'percentile')) return fail('header.calibration: must be { method: "max" | "percentile", ... }');
  return c as unknown as CalibrationInfo;
}

const OP_TYPES: readonly QuantizedOpType[] = ['dense', 'conv', 'maxPool2d', 'avgPool2d', 'globalAvgPool', 'relu', 'gelu', 'flatten', 'add', 'affine', 'layerNorm',
  'embedding', 'attention', 'sequencePool', 'conv1d'];

/** One op entry of the header: its attributes (arrays still empty) and its tensor ranges. */
function readOpEntry(e: unknown, at: string, fail: Fail): { op: QuantizedOp; tensors: Record<string, Range> } {
  if (!isObject(e)) return fail(`${at}: must be an object`);
  const type = e.type as QuantizedOpType;
  if (!OP_TYPES.includes(type)) return fail(`${at}.type: unknown op type ${JSON.stringify(e.type)}`);
  if (!Array.isArray(e.inputs)) return fail(`${at}.inputs: must be a list of op indices`);
  const base: OpBase = { inputs: e.inputs.map((j, k) => intField(j, `${at}.inputs[${k}]`, fail, -1, MAX_NODES)) };
  if (e.name !== undefined) {
    if (typeof e.name !== 'string' || e.name.length > 256) return fail(`${at}.name: must be a string`);
    base.name = e.name;
  }
  const tensors: Record<string, Range> = {};
  if (e.tensors !== undefined) {
    if (!isObject(e.tensors)) return fail(`${at}.tensors: must be an object`);
    for (const [k, v] of Object.entries(e.tensors)) tensors[k] = rangeField(v, `${at}.tensors.${k}`, fail);
  }
  const scale = (): number => {
    const s = e.inputScale;
    if (typeof s !== 'number' || !(Math.fround(s) > 0 && Number.isFinite(Math.fround(s)))) return fail(`${at}.inputScale: must be a finite f32 > 0, got ${JSON.stringify(s)}`);
    return Math.fround(s);
  };
  const relu = (): boolean => (typeof e.relu === 'boolean' ? e.relu : fail(`${at}.relu: must be true or false`));
  const noI8 = new Int8Array(0), noF32 = new Float32Array(0);
  let op: QuantizedOp;
  switch (type) {
    case 'dense':
      op = { ...base, type, units: intField(e.units, `${at}.units`, fail, 1, 1 << 20), relu: relu(), inputScale: scale(), weights: noI8, weightScales: noF32, bias: noF32 };
      break;
    case 'conv':
      op = {
        ...base, type, filters: intField(e.filters, `${at}.filters`, fail, 1, 1 << 20), kernel: pairField(e.kernel, `${at}.kernel`, fail),
        stride: pairField(e.stride, `${at}.stride`, fail), padding: paddingField(e.padding, `${at}.padding`, fail, 'same'),
        groups: intField(e.groups, `${at}.groups`, fail, 1, 1 << 20), relu: relu(), inputScale: scale(), weights: noI8, weightScales: noF32, bias: noF32,
      };
      break;
    case 'maxPool2d': case 'avgPool2d':
      op = { ...base, type, size: pairField(e.size, `${at}.size`, fail), stride: pairField(e.stride, `${at}.stride`, fail), padding: paddingField(e.padding, `${at}.padding`, fail, 'valid') };
      break;
    case 'affine': op = { ...base, type, scale: noF32, shift: noF32 }; break;
    case 'conv1d':
      op = { ...base, type, filters: intField(e.filters, `${at}.filters`, fail, 1, 1 << 20), kernel: intField(e.kernel, `${at}.kernel`, fail, 1, 1 << 20),
        relu: relu(), inputScale: scale(), weights: noI8, weightScales: noF32, bias: noF32 };
      break;
    case 'embedding': {
      if (typeof e.positions !== 'boolean') return fail(`${at}.positions: must be true or false`);
      op = { ...base, type, vocab: intField(e.vocab, `${at}.vocab`, fail, 1, 1 << 24), dim: intField(e.dim, `${at}.dim`, fail, 1, 1 << 20), positions: e.positions,
        table: noI8, tableScales: noF32, pos: noF32 };
      break;
    }
    case 'attention': {
      if (typeof e.causal !== 'boolean') return fail(`${at}.causal: must be true or false`);
      op = { ...base, type, heads: intField(e.heads, `${at}.heads`, fail, 1, 1 << 20), causal: e.causal };
      break;
    }
    case 'sequencePool':
      if (e.mode !== 'mean' && e.mode !== 'first') return fail(`${at}.mode: must be 'mean' or 'first', got ${JSON.stringify(e.mode)}`);
      op = { ...base, type, mode: e.mode };
      break;
    case 'layerNorm': {
      const eps = e.eps;
      if (typeof eps !== 'number' || !(Math.fround(eps) > 0 && finiteF32(eps))) return fail(`${at}.eps: must be a finite f32 > 0, got ${JSON.stringify(eps)}`);
      op = { ...base, type, eps, gamma: noF32, beta: noF32 };
      break;
    }
    default: op = { ...base, type } as QuantizedOp;
  }
  return { op, tensors };
}
