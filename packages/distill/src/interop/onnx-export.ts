// ONNX export of any Retort model (bytes out; platform-neutral). The graph outputs logits (no
// softmax) and applies no input normalisation: metadata_props record the spec, the layout of
// the input and, when given, the mean/std the caller must apply. The same model always gives
// the same bytes.
//
// An MLP keeps the layout it always had (opset 13, IR 7), for sizes [IN, H1, ..., C]:
//
//   input   float32 [batch, IN]                         graph input "input"
//   layer0.gemm   Gemm(input, layer0.w, layer0.b)       -> layer0.y   (transB = 0, alpha = beta = 1)
//   layer0.relu   Relu(layer0.y)                        -> layer0.h
//   ...
//   layerL.gemm   Gemm(layer{L-1}.h, layerL.w, layerL.b) -> logits    graph output "logits" [batch, C]
//
// Any other graph (opset 13, or 17 with IR 8 when it has a layer norm): the input is NCHW
// float32 [batch, C, H, W] for an image model (ONNX's convolution layout; for one channel the
// same bytes as Retort's NHWC) or [batch, D] for flat features; one ONNX node per layer, named
// as the layer (`conv2d1`, `res1.batchNorm1`), its output `<layer>.y`, the last one `logits`;
// initializers named as Retort's tensors (`conv2d1.w`), FLOAT little-endian raw_data:
//
//   dense            Gemm(x, w [in, out], b)                              (transB = 0)
//   conv2d           Conv(x, w [O, I/G, KH, KW], b) group, kernel_shape, strides, pads [t, l, b, r]
//   depthwiseConv2d  Conv with group = C
//   maxPool2d        MaxPool;  avgPool2d  AveragePool (count_include_pad = 0: padding not counted)
//   globalAvgPool    GlobalAveragePool -> Flatten
//   batchNorm        BatchNormalization(x, gamma, beta, running_mean, running_var) epsilon (inference form)
//   layerNorm        LayerNormalization(x, gamma, beta) axis = -1 (opset 17); on a map between
//                    Transpose to NHWC and back, since Retort normalises over channels
//   relu             Relu
//   gelu             x * 0.5 * (1 + Erf(x / sqrt 2)): Div, Erf, Add, Mul, Mul (Erf exists since
//                    opset 9; the Gelu operator only since opset 20)
//   residual         its body and shortcut, then Add(body, shortcut)
//   flatten          Flatten. Retort flattens (h, w, c), ONNX (c, h, w): the rows of the dense
//                    layers it feeds (and the vectors of norms between) are reordered so that the
//                    exported model computes the same function; where a flattened map reaches an
//                    add or the output instead, a Transpose to NHWC comes before the Flatten
//   dropout          nothing (the identity at inference)
// Kernels: Retort's HWIO becomes OIHW; 'same' padding becomes explicit pads, TensorFlow's split
// (the odd pixel at the end).
//
// A text model (its first layer an embedding) takes "input" float32 [batch, L]: token ids, -1
// padding after the tokens, as Retort's models take them. The graph builds the padding mask once
// (ids.mask = ids >= 0 as float, [batch, L]; ids.mask3 [batch, L, 1]; ids.index = int64(max(ids, 0)))
// and applies it where Retort's layers read the token count (../layers/sequence.ts, attention.ts):
//
//   embedding     Gather(table, ids.index) * ids.mask3 (a padding id reads a zero row) + pos
//   dense on [L, D]  MatMul + Add (every position)
//   attention     MatMul(x, wqkv) + bqkv -> Reshape [B, L, 3, H, dh] -> Transpose [3, B, H, L, dh]
//                 -> q, k, v by Gather; Softmax(q kᵀ / sqrt(dh) + key bias (+ causal bias)) v, where
//                 the key bias is -1e9 at padding keys and the causal one -1e9 above the diagonal
//                 (exp of it is 0 beside any real score); heads merged back, times ids.mask3 (a
//                 padding position's context is zero), MatMul(ctx, wo) + bo
//   sequencePool  mean: ReduceSum(x * mask3) / max(ReduceSum(mask), 1); first: row 0 * mask[:, 0]
//   conv1d        Transpose to [B, D, L], Conv (kernel [O, I, K], pads of 'same'), Transpose back
//   batchNorm on [L, D]  BatchNormalization between the same Transposes (ONNX normalises axis 1)
//   flatten of [L, D]  Flatten (row-major in both)
// A language model's output is "logits" [batch, L, V]. The model file's tokenizer (or character
// vocabulary) is written to metadata_props as retort.tokenizer when the caller passes it. Such a
// graph does not import back (onnx-import.ts says so): its masks are not Retort layers.

import { Model } from '../model/model.js';
import { compileSpec, formatModelSpec, paramCount, paramLayout, parseModelSpec, type MlpSpec, type ModelSpec } from '../model/spec.js';
import { pairOf } from '../model/layer-spec.js';
import { windowGeometry, type CompiledGraph, type GraphNode } from '../model/graph.js';
import {
  AT, chwIndexOfHwc, convKernelLayout, f32LittleEndian, ONNX_INPUT_NAME, ONNX_IR_VERSION, ONNX_IR_VERSION_LAYER_NORM, ONNX_METADATA_KEYS,
  ONNX_OPSET, ONNX_OPSET_LAYER_NORM, ONNX_OUTPUT_NAME, permuteRows, proto, type onnx,
} from './onnx-format.js';
import { checkInputNorm, describeNorm, normValueText, type InputNorm } from '../data/dataset.js';

export interface OnnxExportOptions {
  /**
   * The input normalisation the caller must apply before feeding the graph: u8 pixels x become
   * (x/255 - mean)/std, as in training (PredictOptions). Recorded in metadata_props and the doc
   * strings; the graph itself does not apply it.
   */
  normalization?: InputNorm;
  /** Extra metadata_props; keys starting with "retort." are reserved. Written sorted by key. */
  metadata?: Record<string, string>;
  /** ModelProto.model_version (a non-negative safe integer); omitted when not given. */
  modelVersion?: number;
  /**
   * A text model's tokenizer as its model file keeps it (`{ text: { tokenizer, maxLength } }` or a
   * language model's `{ lm: { kind, chars, length } }`): written as JSON under retort.tokenizer, so
   * that whoever runs the graph turns text into the same ids.
   */
  tokenizer?: Record<string, unknown>;
  /** GraphProto.name; default "retort_mlp" for an MLP, "retort" for other graphs. */
  graphName?: string;
}

/**
 * A model to export: a Model, or a spec with flat params in its layout (and state, the
 * batch-norm running statistics, when the spec has batch norm).
 */
export type OnnxExportSource = Model | { spec: ModelSpec | string | object; params: Float32Array; state?: Float32Array };

/** How the exported graph takes its input: NCHW images, flat features, or token ids (float32, -1 pads). */
export type OnnxInputLayout = 'NCHW' | 'features' | 'tokens';

const FLOAT = proto.TensorProto.DataType.FLOAT;
const INT64 = proto.TensorProto.DataType.INT64;

/** Values of a text model's padding mask, shared by its embedding, attention and pooling nodes. */
const TEXT = { mask: 'ids.mask', mask3: 'ids.mask3', index: 'ids.index', keyBias: 'mask.keys' } as const;

/** The ONNX ModelProto bytes of `model` (see the layout at the top of this file). */
export function exportOnnx(model: OnnxExportSource, opts: OnnxExportOptions = {}): Uint8Array {
  const spec = model instanceof Model ? model.spec : parseModelSpec(model.spec);
  // views into module memory for a Model: encoding below is synchronous and calls no kernel
  const params = model instanceof Model ? model.params.view() : model.params;
  const state = model instanceof Model ? model.state?.view() : model.state;
  const n = paramCount(spec);
  if (!(params instanceof Float32Array) || params.length !== n) {
    throw new RangeError(`exportOnnx: got ${params instanceof Float32Array ? params.length : typeof params} parameters but ${formatModelSpec(spec).slice(0, 80)} has ${n}`);
  }
  const { normalization, modelVersion } = opts;
  if (normalization !== undefined) checkInputNorm(normalization, undefined, 'exportOnnx: normalization');
  if (modelVersion !== undefined && !(Number.isSafeInteger(modelVersion) && modelVersion >= 0)) {
    throw new RangeError(`exportOnnx: modelVersion must be a non-negative safe integer, got ${modelVersion}`);
  }
  const inputNote = normalization
    ? `inputs become ${describeNorm(normalization)}, per channel where lists, before they are fed; the graph does not normalise`
    : 'fed as the model was trained; the graph does not normalise';
  const meta = new Map<string, string>();
  meta.set(ONNX_METADATA_KEYS.output, 'logits (no softmax)');
  if (normalization) {
    meta.set(ONNX_METADATA_KEYS.mean, normValueText(normalization.mean));
    meta.set(ONNX_METADATA_KEYS.std, normValueText(normalization.std));
    meta.set(ONNX_METADATA_KEYS.normalization, '(x/255 - mean)/std for u8 pixels x, applied by the caller before the graph');
  }
  const reserved = Object.values(ONNX_METADATA_KEYS) as string[];
  for (const [key, value] of Object.entries(opts.metadata ?? {})) {
    if (key.startsWith('retort.') || reserved.includes(key)) throw new RangeError(`exportOnnx: metadata key '${key}' is reserved (keys starting with "retort.")`);
    if (typeof value !== 'string') throw new RangeError(`exportOnnx: metadata '${key}' must be a string, got ${typeof value}`);
    meta.set(key, value);
  }

  let body: GraphBody;
  if (spec.type === 'mlp') {
    body = mlpBody(spec, params, inputNote);
  } else {
    const graph = compileSpec(spec);
    if (graph.stateCount > 0 && (!(state instanceof Float32Array) || state.length !== graph.stateCount)) {
      throw new RangeError(`exportOnnx: ${formatModelSpec(spec).slice(0, 80)} has ${graph.stateCount} state values (batch-norm running statistics) but got ${state instanceof Float32Array ? state.length : 'none'}`);
    }
    body = graphBody(graph, params, state ?? new Float32Array(0), inputNote);
    meta.set(ONNX_METADATA_KEYS.layout, body.layout === 'NCHW' ? 'NCHW [batch, channels, height, width]'
      : body.layout === 'tokens' ? 'tokens [batch, length]: token ids as float32, -1 pads after the tokens' : 'features [batch, features]');
    if (opts.tokenizer !== undefined) meta.set(ONNX_METADATA_KEYS.tokenizer, JSON.stringify(opts.tokenizer));
  }
  const specJson = spec.type === 'mlp' ? canonicalMlpJson(spec) : JSON.stringify(spec);
  meta.set(ONNX_METADATA_KEYS.spec, specJson);
  const metadataProps = [...meta.keys()].sort().map((key) => ({ key, value: meta.get(key)! }));

  const message: onnx.IModelProto = {
    irVersion: body.opset === ONNX_OPSET ? ONNX_IR_VERSION : ONNX_IR_VERSION_LAYER_NORM,
    opsetImport: [{ domain: '', version: body.opset }],
    producerName: 'retort',
    docString: `${body.doc}. Dropout is the identity at inference. Spec: ${specJson}`,
    graph: {
      name: opts.graphName ?? (spec.type === 'mlp' ? 'retort_mlp' : 'retort'),
      node: body.nodes,
      initializer: body.initializers,
      input: [valueInfo(ONNX_INPUT_NAME, body.inputDims, `float32 [batch, ${body.inputDims.join(', ')}]${body.layout === 'NCHW' ? ' (NCHW)' : ''}: ${inputNote}`)],
      output: [valueInfo(ONNX_OUTPUT_NAME, body.outputDims, `float32 [batch, ${body.outputDims.join(', ')}]: logits, no softmax (apply softmax${body.outputDims.length > 1 ? ' over the last axis' : ''} for probabilities)`)],
    },
    metadataProps,
  };
  if (modelVersion !== undefined) message.modelVersion = modelVersion;
  const encoded = proto.ModelProto.encode(message).finish();
  // a plain Uint8Array of its own (Node's writer may hand out a slice of a shared pool)
  const out = new Uint8Array(encoded.length);
  out.set(encoded);
  return out;
}

interface GraphBody {
  nodes: onnx.INodeProto[];
  initializers: onnx.ITensorProto[];
  opset: number;
  layout: OnnxInputLayout;
  /** The input's dims after the batch. */
  inputDims: number[];
  /** The output's dims after the batch: [classes], or [L, V] for a language model. */
  outputDims: number[];
  doc: string;
}

function valueInfo(name: string, dims: number[], doc: string): onnx.IValueInfoProto {
  return {
    name,
    docString: doc,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, ...dims.map((d) => ({ dimValue: d }))] } } },
  };
}

function floatInit(name: string, dims: number[], values: Float32Array): onnx.ITensorProto {
  return { name, dataType: FLOAT, dims, rawData: f32LittleEndian(values) };
}

function int64Init(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  const raw = new Uint8Array(8 * values.length);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  return { name, dataType: INT64, dims, rawData: raw };
}

const ints = (name: string, v: number[]): onnx.IAttributeProto => ({ name, type: AT.INTS, ints: v });
const int = (name: string, i: number): onnx.IAttributeProto => ({ name, type: AT.INT, i });
const float = (name: string, f: number): onnx.IAttributeProto => ({ name, type: AT.FLOAT, f });

// ---- the MLP ----------------------------------------------------------------------------------------

function mlpBody(spec: MlpSpec, params: Float32Array, inputNote: string): GraphBody {
  const layers = paramLayout(spec);
  const sizes = spec.sizes;
  const inputSize = sizes[0]!, classes = sizes[sizes.length - 1]!;
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let current = ONNX_INPUT_NAME;
  for (const [i, l] of layers.entries()) {
    const last = i === layers.length - 1;
    const w = `layer${i}.w`, b = `layer${i}.b`;
    initializers.push(
      floatInit(w, [l.inputs, l.outputs], params.subarray(l.weightOffset, l.biasOffset)),
      floatInit(b, [l.outputs], params.subarray(l.biasOffset, l.biasOffset + l.outputs)),
    );
    const y = last ? ONNX_OUTPUT_NAME : `layer${i}.y`;
    nodes.push({ name: `layer${i}.gemm`, opType: 'Gemm', input: [current, w, b], output: [y], attribute: [int('transB', 0)] });
    current = y;
    if (!last) {
      const h = `layer${i}.h`;
      nodes.push({ name: `layer${i}.relu`, opType: 'Relu', input: [current], output: [h] });
      current = h;
    }
  }
  return {
    nodes, initializers, opset: ONNX_OPSET, layout: 'features', inputDims: [inputSize], outputDims: [classes],
    doc: `Retort MLP ${formatModelSpec(spec)}: input [batch, ${inputSize}] float32 (${inputNote}); output logits [batch, ${classes}] float32, no softmax`,
  };
}

/** The spec as JSON with a fixed key order (the same spec always gives the same text). */
function canonicalMlpJson(spec: MlpSpec): string {
  const out: Record<string, unknown> = { type: 'mlp', sizes: [...spec.sizes] };
  if (spec.dropout) {
    const d: Record<string, number> = {};
    if (spec.dropout.input !== undefined) d.input = spec.dropout.input;
    if (spec.dropout.hidden !== undefined) d.hidden = spec.dropout.hidden;
    out.dropout = d;
  }
  if (spec.maxNorm !== undefined) out.maxNorm = spec.maxNorm;
  return JSON.stringify(out);
}

// ---- any graph --------------------------------------------------------------------------------------

/** Flat features still in ONNX's (c, h, w) flatten order, with the map they came from. */
interface Reordered { H: number; W: number; C: number; index: Int32Array }

/** Names of the gelu constants (shared by every gelu node). */
const GELU_CONSTANTS = { sqrt2: 'const.sqrt2', one: 'const.one', half: 'const.half' } as const;

function graphBody(g: CompiledGraph, params: Float32Array, state: Float32Array, inputNote: string): GraphBody {
  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const image = g.inputShape.length === 3;
  const last = g.nodes.length - 1;
  const readers = g.nodes.map(() => [] as number[]);
  for (const n of g.nodes) for (const i of n.inputs) if (i >= 0) readers[i]!.push(n.index);
  /** True when a flattened map's features reach only dense layers (through elementwise layers and norms). */
  const absorbed = (i: number): boolean => i !== last && readers[i]!.every((r) => {
    const t = g.nodes[r]!.spec.type;
    return t === 'dense' || (['relu', 'gelu', 'dropout', 'batchNorm', 'layerNorm', 'flatten'].includes(t) && absorbed(r));
  });
  // ONNX value of each node's output, and whether it is still in (c, h, w) order
  const value: string[] = [];
  const order: (Reordered | null)[] = [];
  const valueOf = (i: number): string => (i < 0 ? ONNX_INPUT_NAME : value[i]!);
  const orderOf = (i: number): Reordered | null => (i < 0 ? null : order[i]!);
  // the node whose output is the logits (a trailing dropout is the identity)
  let producer = last;
  while (producer >= 0 && g.nodes[producer]!.spec.type === 'dropout') producer = g.nodes[producer]!.inputs[0]!;
  if (producer < 0) throw new RangeError('exportOnnx: the graph has no layer to export');
  const tensor = (n: GraphNode, kind: string, from: 'params' | 'state' = 'params'): Float32Array => {
    const d = (from === 'params' ? n.params : n.state).find((t) => t.name === `${n.name}.${kind}`)!;
    return (from === 'params' ? params : state).subarray(d.offset, d.offset + d.length);
  };
  const vector = (n: GraphNode, kind: string, from: 'params' | 'state', reorder: Reordered | null): string => {
    const name = `${n.name}.${kind}`;
    const v = tensor(n, kind, from);
    initializers.push(floatInit(name, [v.length], reorder ? permuteRows(v, reorder.index, 1, false) : v));
    return name;
  };

  const ids = g.nodes[0]?.spec.type === 'embedding';
  // a text model: the padding mask of the ids, as floats [batch, L] and [batch, L, 1], built once
  const i64 = (name: string, dims: number[], v: number[]): string => {
    if (!initializers.some((t) => t.name === name)) initializers.push(int64Init(name, dims, v));
    return name;
  };
  const f32c = (name: string, dims: number[], v: Float32Array): string => {
    if (!initializers.some((t) => t.name === name)) initializers.push(floatInit(name, dims, v));
    return name;
  };
  if (ids) {
    const put = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []): void => {
      nodes.push({ name: output, opType, input, output: [output], attribute });
    };
    put('GreaterOrEqual', [ONNX_INPUT_NAME, f32c('const.zero', [], Float32Array.of(0))], 'ids.valid');
    put('Cast', ['ids.valid'], TEXT.mask, [int('to', FLOAT)]);
    put('Unsqueeze', [TEXT.mask, i64('const.axes_last', [1], [-1])], TEXT.mask3);
    put('Max', [ONNX_INPUT_NAME, 'const.zero'], 'ids.clamped');
    put('Cast', ['ids.clamped'], TEXT.index, [int('to', INT64)]);
  }
  for (const n of g.nodes) {
    const x = valueOf(n.inputs[0]!), xOrder = orderOf(n.inputs[0]!);
    const y = n.index === producer ? ONNX_OUTPUT_NAME : `${n.name}.y`;
    const s = n.spec;
    let yOrder: Reordered | null = null;
    const node = (opType: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = [], name = n.name): void => {
      nodes.push({ name, opType, input, output: [output], attribute });
    };
    switch (s.type) {
      case 'dense': {
        const [IN, OUT] = n.params[0]!.shape as [number, number];
        const w = tensor(n, 'w');
        initializers.push(floatInit(`${n.name}.w`, [IN, OUT], xOrder ? permuteRows(w, xOrder.index, OUT, false) : w));
        if (s.bias) initializers.push(floatInit(`${n.name}.b`, [OUT], tensor(n, 'b')));
        if (n.inShape.length === 2) { // every position of a sequence: MatMul broadcasts over [batch, L]
          if (!s.bias) { node('MatMul', [x, `${n.name}.w`], y); break; }
          node('MatMul', [x, `${n.name}.w`], `${n.name}.xw`, [], `${n.name}.matmul`);
          node('Add', [`${n.name}.xw`, `${n.name}.b`], y);
          break;
        }
        node('Gemm', s.bias ? [x, `${n.name}.w`, `${n.name}.b`] : [x, `${n.name}.w`], y, [int('transB', 0)]);
        break;
      }
      case 'embedding': {
        const [V, D] = n.params[0]!.shape as [number, number];
        initializers.push(floatInit(`${n.name}.table`, [V, D], tensor(n, 'table')));
        node('Gather', [`${n.name}.table`, TEXT.index], `${n.name}.rows`, [int('axis', 0)], `${n.name}.gather`);
        // a padding id reads a zero row, as Retort's embeddingForward gives it
        node('Mul', [`${n.name}.rows`, TEXT.mask3], s.positions ? `${n.name}.tokens` : y, [], s.positions ? `${n.name}.mask` : n.name);
        if (s.positions) {
          initializers.push(floatInit(`${n.name}.pos`, [n.outShape[0]!, D], tensor(n, 'pos')));
          node('Add', [`${n.name}.tokens`, `${n.name}.pos`], y);
        }
        break;
      }
      case 'attention': {
        const [L, D] = n.inShape as [number, number], H = s.heads, dh = D / H, p = n.name;
        initializers.push(floatInit(`${p}.wqkv`, [D, 3 * D], tensor(n, 'wqkv')), floatInit(`${p}.bqkv`, [3 * D], tensor(n, 'bqkv')),
          floatInit(`${p}.wo`, [D, D], tensor(n, 'wo')), floatInit(`${p}.bo`, [D], tensor(n, 'bo')));
        node('MatMul', [x, `${p}.wqkv`], `${p}.xw`, [], `${p}.qkv_matmul`);
        node('Add', [`${p}.xw`, `${p}.bqkv`], `${p}.qkv`, [], `${p}.qkv_bias`);
        // columns q | k | v, head h at h*dh of each: [B, L, 3, H, dh] -> [3, B, H, L, dh]
        node('Reshape', [`${p}.qkv`, i64(`const.shape_qkv_${L}_${H}_${dh}`, [5], [0, L, 3, H, dh])], `${p}.qkv5`, [], `${p}.split_heads`);
        node('Transpose', [`${p}.qkv5`], `${p}.heads`, [ints('perm', [2, 0, 3, 1, 4])], `${p}.to_heads`);
        const part = (i: number, what: string): string => {
          node('Gather', [`${p}.heads`, i64(`const.index${i}`, [], [i])], `${p}.${what}`, [int('axis', 0)], `${p}.${what}`);
          return `${p}.${what}`;
        };
        const q = part(0, 'q'), k = part(1, 'k'), v = part(2, 'v');
        node('Transpose', [k], `${p}.kt`, [ints('perm', [0, 1, 3, 2])], `${p}.kt`);
        node('MatMul', [q, `${p}.kt`], `${p}.qk`, [], `${p}.qk`);
        node('Div', [`${p}.qk`, f32c(`const.sqrt${dh}`, [], Float32Array.of(Math.sqrt(dh)))], `${p}.scaled`, [], `${p}.scale`);
        // padding keys (and, causal, later positions) get -1e9: exp of it is 0 beside any real score
        if (!nodes.some((m) => m.name === TEXT.keyBias)) {
          nodes.push({ name: 'mask.minus1', opType: 'Sub', input: [TEXT.mask, f32c('const.one', [], Float32Array.of(1))], output: ['mask.minus1'] });
          nodes.push({ name: 'mask.bias2', opType: 'Mul', input: ['mask.minus1', f32c('const.big', [], Float32Array.of(1e9))], output: ['mask.bias2'] });
          nodes.push({ name: TEXT.keyBias, opType: 'Unsqueeze', input: ['mask.bias2', i64('const.axes_1_2', [2], [1, 2])], output: [TEXT.keyBias] });
        }
        node('Add', [`${p}.scaled`, TEXT.keyBias], s.causal ? `${p}.keyed` : `${p}.masked`, [], `${p}.key_mask`);
        if (s.causal) {
          const tri = new Float32Array(L * L);
          for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) tri[i * L + j] = -1e9;
          node('Add', [`${p}.keyed`, f32c(`const.causal${L}`, [L, L], tri)], `${p}.masked`, [], `${p}.causal_mask`);
        }
        node('Softmax', [`${p}.masked`], `${p}.probs`, [int('axis', -1)], `${p}.softmax`);
        node('MatMul', [`${p}.probs`, v], `${p}.ctx_heads`, [], `${p}.pv`);
        node('Transpose', [`${p}.ctx_heads`], `${p}.ctx4`, [ints('perm', [0, 2, 1, 3])], `${p}.merge_heads`);
        node('Reshape', [`${p}.ctx4`, i64(`const.shape_seq_${L}_${D}`, [3], [0, L, D])], `${p}.ctx_all`, [], `${p}.ctx_reshape`);
        // a padding position's context is zero (it attends to nothing), as in Retort
        node('Mul', [`${p}.ctx_all`, TEXT.mask3], `${p}.ctx`, [], `${p}.query_mask`);
        node('MatMul', [`${p}.ctx`, `${p}.wo`], `${p}.out`, [], `${p}.out_matmul`);
        node('Add', [`${p}.out`, `${p}.bo`], y, [], n.name);
        break;
      }
      case 'sequencePool': {
        if (s.mode === 'first') {
          // the first row, zero for a sample without tokens
          node('Gather', [x, i64('const.index0', [], [0])], `${n.name}.first`, [int('axis', 1)], `${n.name}.first`);
          node('Gather', [TEXT.mask, 'const.index0'], `${n.name}.has`, [int('axis', 1)], `${n.name}.has`);
          node('Unsqueeze', [`${n.name}.has`, i64('const.axes_1', [1], [1])], `${n.name}.has2`, [], `${n.name}.has2`);
          node('Mul', [`${n.name}.first`, `${n.name}.has2`], y);
          break;
        }
        // the mean over the sample's tokens (padding excluded; zero when there is none)
        const axes = i64('const.axes_1', [1], [1]);
        node('Mul', [x, TEXT.mask3], `${n.name}.masked`, [], `${n.name}.mask`);
        node('ReduceSum', [`${n.name}.masked`, axes], `${n.name}.sum`, [int('keepdims', 0)], `${n.name}.sum`);
        node('ReduceSum', [TEXT.mask, axes], `${n.name}.count`, [int('keepdims', 1)], `${n.name}.count`);
        node('Max', [`${n.name}.count`, f32c('const.one', [], Float32Array.of(1))], `${n.name}.divisor`, [], `${n.name}.divisor`);
        node('Div', [`${n.name}.sum`, `${n.name}.divisor`], y);
        break;
      }
      case 'conv1d': {
        const [, K, I, O] = n.params[0]!.shape as [number, number, number, number];
        const L = n.inShape[0]!;
        initializers.push(floatInit(`${n.name}.w`, [O, I, K], convKernelLayout(tensor(n, 'w'), 1, K, I, O, false)));
        const inputs = [`${n.name}.ncl`, `${n.name}.w`];
        if (s.bias) { initializers.push(floatInit(`${n.name}.b`, [O], tensor(n, 'b'))); inputs.push(`${n.name}.b`); }
        const before = windowGeometry([1, L], [1, K], [1, 1], 'same').pl;
        node('Transpose', [x], `${n.name}.ncl`, [ints('perm', [0, 2, 1])], `${n.name}.to_ncl`);
        node('Conv', inputs, `${n.name}.conv`, [ints('kernel_shape', [K]), ints('strides', [1]), ints('pads', [before, K - 1 - before])], `${n.name}.conv`);
        node('Transpose', [`${n.name}.conv`], y, [ints('perm', [0, 2, 1])], `${n.name}.to_nlc`);
        break;
      }
      case 'conv2d': case 'depthwiseConv2d': {
        const [KH, KW, I, O] = n.params[0]!.shape as [number, number, number, number];
        const groups = s.type === 'depthwiseConv2d' ? n.inShape[2]! : s.groups;
        initializers.push(floatInit(`${n.name}.w`, [O, I, KH, KW], convKernelLayout(tensor(n, 'w'), KH, KW, I, O, false)));
        const inputs = [x, `${n.name}.w`];
        if (s.bias) { initializers.push(floatInit(`${n.name}.b`, [O], tensor(n, 'b'))); inputs.push(`${n.name}.b`); }
        node('Conv', inputs, y, [...(groups !== 1 ? [int('group', groups)] : []), ...windowAttributes(n, [KH, KW], pairOf(s.stride), s.padding)]);
        break;
      }
      case 'maxPool2d': case 'avgPool2d': {
        const k = pairOf(s.size);
        const attrs = windowAttributes(n, k, pairOf(s.stride ?? s.size), s.padding);
        if (s.type === 'avgPool2d') attrs.push(int('count_include_pad', 0));
        node(s.type === 'maxPool2d' ? 'MaxPool' : 'AveragePool', [x], y, attrs);
        break;
      }
      case 'globalAvgPool':
        node('GlobalAveragePool', [x], `${n.name}.pool`);
        node('Flatten', [`${n.name}.pool`], y, [int('axis', 1)], `${n.name}.flatten`);
        break;
      case 'batchNorm': {
        const inputs = [vector(n, 'gamma', 'params', xOrder), vector(n, 'beta', 'params', xOrder),
          vector(n, 'running_mean', 'state', xOrder), vector(n, 'running_var', 'state', xOrder)];
        if (n.inShape.length === 2) {
          // a sequence [B, L, D]: Retort normalises D, ONNX axis 1, so between Transposes to [B, D, L] and back
          node('Transpose', [x], `${n.name}.ndl`, [ints('perm', [0, 2, 1])], `${n.name}.to_ndl`);
          node('BatchNormalization', [`${n.name}.ndl`, ...inputs], `${n.name}.bn`, [float('epsilon', s.eps)]);
          node('Transpose', [`${n.name}.bn`], y, [ints('perm', [0, 2, 1])], `${n.name}.to_nld`);
          break;
        }
        node('BatchNormalization', [x, ...inputs], y, [float('epsilon', s.eps)]);
        yOrder = xOrder;
        break;
      }
      case 'layerNorm': {
        const inputs = [vector(n, 'gamma', 'params', xOrder), vector(n, 'beta', 'params', xOrder)];
        const attrs = [int('axis', -1), float('epsilon', s.eps)];
        if (n.inShape.length === 3) {
          node('Transpose', [x], `${n.name}.nhwc`, [ints('perm', [0, 2, 3, 1])], `${n.name}.to_nhwc`);
          node('LayerNormalization', [`${n.name}.nhwc`, ...inputs], `${n.name}.ln`, attrs);
          node('Transpose', [`${n.name}.ln`], y, [ints('perm', [0, 3, 1, 2])], `${n.name}.to_nchw`);
        } else {
          node('LayerNormalization', [x, ...inputs], y, attrs);
          yOrder = xOrder;
        }
        break;
      }
      case 'relu':
        node('Relu', [x], y);
        yOrder = xOrder;
        break;
      case 'gelu': {
        f32c(GELU_CONSTANTS.sqrt2, [], Float32Array.of(Math.SQRT2));
        f32c(GELU_CONSTANTS.one, [], Float32Array.of(1));
        f32c(GELU_CONSTANTS.half, [], Float32Array.of(0.5));
        node('Div', [x, GELU_CONSTANTS.sqrt2], `${n.name}.scaled`, [], `${n.name}.div`);
        node('Erf', [`${n.name}.scaled`], `${n.name}.erf`, [], `${n.name}.erf`);
        node('Add', [`${n.name}.erf`, GELU_CONSTANTS.one], `${n.name}.plus1`, [], `${n.name}.add`);
        node('Mul', [x, `${n.name}.plus1`], `${n.name}.xphi2`, [], `${n.name}.mul`);
        node('Mul', [`${n.name}.xphi2`, GELU_CONSTANTS.half], y, [], n.name);
        yOrder = xOrder;
        break;
      }
      case 'dropout':
        value.push(x);
        order.push(xOrder);
        continue;
      case 'flatten': {
        if (n.inShape.length <= 2) { // features, or a sequence [L, D]: row-major in both
          node('Flatten', [x], y, [int('axis', 1)]);
          yOrder = xOrder;
          break;
        }
        const [H, W, C] = n.inShape as [number, number, number];
        if (H * W === 1 || C === 1 || absorbed(n.index)) {
          node('Flatten', [x], y, [int('axis', 1)]);
          if (H * W > 1 && C > 1) yOrder = { H, W, C, index: chwIndexOfHwc(H, W, C) };
        } else {
          node('Transpose', [x], `${n.name}.nhwc`, [ints('perm', [0, 2, 3, 1])], `${n.name}.to_nhwc`);
          node('Flatten', [`${n.name}.nhwc`], y, [int('axis', 1)]);
        }
        break;
      }
      case 'add': {
        const b = valueOf(n.inputs[1]!);
        // a reordered flatten only reaches dense layers (absorbed), so both operands are in Retort's order
        node('Add', [x, b], y);
        break;
      }
    }
    value.push(y);
    order.push(yOrder);
  }
  const [H, W, C] = g.inputShape as number[];
  const inputDims = image ? [C!, H!, W!] : [g.inputShape[0]!];
  const opset = g.nodes.some((n) => n.spec.type === 'layerNorm') ? ONNX_OPSET_LAYER_NORM : ONNX_OPSET;
  const outputDims = [...g.outputShape];
  const inputText = image ? ' NCHW (Retort trains on the NHWC image of the same pixels)' : ids ? ': token ids, -1 pads after the tokens' : '';
  return {
    nodes, initializers, opset, layout: image ? 'NCHW' : ids ? 'tokens' : 'features', inputDims, outputDims,
    doc: `Retort graph model: input [batch, ${inputDims.join(', ')}] float32${inputText} (${inputNote}); `
      + `output logits [batch, ${outputDims.join(', ')}] float32${g.tokens ? ' (next-token scores at every position)' : ''}, no softmax`,
  };
}

/** kernel_shape, strides and explicit pads [top, left, bottom, right] of a window layer. */
function windowAttributes(n: GraphNode, k: [number, number], stride: [number, number], padding: 'same' | 'valid' | number): onnx.IAttributeProto[] {
  const [H, W] = n.inShape as [number, number, number];
  const g = windowGeometry(n.inShape, k, stride, padding);
  // 'same': the rest of the total padding after the front (TensorFlow's split); a number: the same on every side
  const after = (size: number, out: number, kk: number, s: number, before: number): number =>
    typeof padding === 'number' ? padding : Math.max(0, (out - 1) * s + kk - size - before);
  const pads = [g.pt, g.pl, after(H, g.oh, k[0], stride[0], g.pt), after(W, g.ow, k[1], stride[1], g.pl)];
  return [ints('kernel_shape', k), ints('strides', stride), ints('pads', pads)];
}
