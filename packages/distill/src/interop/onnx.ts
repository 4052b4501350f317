// ONNX interop (platform-neutral: bytes in, bytes out). A Retort Mlp becomes an ONNX model
// any ONNX runtime can execute, and a plain ONNX MLP becomes a Retort model.
//
// Export layout (opset 13, IR version 7), for sizes [IN, H1, ..., C]:
//
//   input   float32 [batch, IN]                         graph input "input"
//   layer0.gemm   Gemm(input, layer0.w, layer0.b)       -> layer0.y   (transB = 0, alpha = beta = 1)
//   layer0.relu   Relu(layer0.y)                        -> layer0.h
//   ...
//   layerL.gemm   Gemm(layer{L-1}.h, layerL.w, layerL.b) -> logits    graph output "logits" [batch, C]
//
// layerI.w is an initializer [inputs, outputs] (Retort's row-major W, unchanged), layerI.b
// [outputs]; both FLOAT with little-endian raw_data. The graph outputs logits (no softmax) and
// applies no input normalisation: metadata_props record the spec and, when given, the mean/std
// the caller must apply. The same model always gives the same bytes.
//
// Import accepts a single chain: [Identity | Flatten | Reshape to (N, -1)]* then dense layers
// (Gemm, or MatMul [+ Add]) separated by Relu, optionally ending in Softmax/LogSoftmax (dropped,
// since Retort models output logits), with Identity allowed anywhere. Gemm's transB, alpha and
// beta are folded into Retort's [inputs, outputs] weight and bias; FLOAT16, BFLOAT16 and DOUBLE
// models are converted to f32. Before protobufjs decodes anything, the wire format is checked
// against ONNX's schema (wire types, lengths, no repeated singular field), so this reader and
// onnxruntime's C++ protobuf see the same model. Everything is validated against the declared
// dims and the input size before any parameter buffer is allocated; every problem is one
// DataFormatError naming the node or tensor.

import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import type { Core } from '@retort/core-wasm';
import { DataFormatError } from '../data/errors.js';
import { bf16BitsToNumber, f16BitsToNumber } from './fp16.js';
import { Mlp } from '../model/mlp.js';
import { MAX_PARAMS, formatModelSpec, paramCount, paramLayout, parseModelSpec, SpecError, type ModelSpec, asMlpSpec, type MlpSpec } from '../model/spec.js';

const proto = onnxProto.onnx;

/** The ONNX opset the exporter targets. */
export const ONNX_OPSET = 13;
/** The IR version written (IR 7 is the first that supports opset 13). */
export const ONNX_IR_VERSION = 7;
/** Inputs larger than this are refused before decoding: 4 bytes per parameter of the largest spec, plus slack. */
export const MAX_ONNX_BYTES = 4 * MAX_PARAMS + (64 << 20);

/** metadata_props keys the exporter writes (and the importer reads). */
export const ONNX_METADATA_KEYS = {
  spec: 'retort.spec',
  output: 'retort.output',
  mean: 'retort.input.mean',
  std: 'retort.input.std',
  normalization: 'retort.input.normalization',
} as const;

export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'logits';

export interface OnnxExportOptions {
  /**
   * The input normalisation the caller must apply before feeding the graph: u8 pixels x become
   * (x/255 - mean)/std, as in training (PredictOptions). Recorded in metadata_props and the doc
   * strings; the graph itself does not apply it.
   */
  normalization?: { mean: number; std: number };
  /** Extra metadata_props; keys starting with "retort." are reserved. Written sorted by key. */
  metadata?: Record<string, string>;
  /** ModelProto.model_version (a non-negative safe integer); omitted when not given. */
  modelVersion?: number;
  /** GraphProto.name; default "retort_mlp". */
  graphName?: string;
}

/** A model to export: an Mlp, or a spec with flat params in paramLayout order. */
export type OnnxExportSource = Mlp | { spec: ModelSpec | string | object; params: Float32Array };

/** What importOnnx recovered from a file. */
export interface OnnxImport {
  spec: MlpSpec;
  /** Flat parameters in paramLayout(spec) order. */
  params: Float32Array;
  /** metadata_props as key -> value. */
  metadata: Record<string, string>;
  /** The input normalisation recorded by Retort's exporter (retort.input.mean/std), if any. */
  normalization: { mean: number; std: number } | null;
  /** producer_name and producer_version, e.g. "retort", "pytorch 2.3". */
  producer: string;
  /** What the import changed, dropped or ignored, one line each (empty for a Retort export). */
  notes: string[];
}

// ---- export ---------------------------------------------------------------------------------------

/** The ONNX ModelProto bytes of `model` (see the layout at the top of this file). */
export function exportOnnx(model: OnnxExportSource, opts: OnnxExportOptions = {}): Uint8Array {
  const spec = asMlpSpec(model instanceof Mlp ? model.spec : parseModelSpec(model.spec), 'exportOnnx');
  // a view into module memory for an Mlp: encoding below is synchronous and calls no kernel
  const params = model instanceof Mlp ? model.params.view() : model.params;
  const n = paramCount(spec);
  if (!(params instanceof Float32Array) || params.length !== n) {
    throw new RangeError(`exportOnnx: got ${params instanceof Float32Array ? params.length : typeof params} parameters but ${formatModelSpec(spec)} has ${n}`);
  }
  const { normalization, modelVersion } = opts;
  if (normalization !== undefined) {
    const { mean, std } = normalization;
    if (!Number.isFinite(mean) || !(Number.isFinite(std) && std > 0)) {
      throw new RangeError(`exportOnnx: normalization needs a finite mean and a finite std > 0, got mean ${mean}, std ${std}`);
    }
  }
  if (modelVersion !== undefined && !(Number.isSafeInteger(modelVersion) && modelVersion >= 0)) {
    throw new RangeError(`exportOnnx: modelVersion must be a non-negative safe integer, got ${modelVersion}`);
  }

  const layers = paramLayout(spec);
  const sizes = spec.sizes;
  const inputSize = sizes[0]!, classes = sizes[sizes.length - 1]!;
  const specJson = canonicalSpecJson(spec);
  const inputNote = normalization
    ? `u8 pixels x become (x/255 - ${normalization.mean})/${normalization.std} before they are fed; the graph does not normalise`
    : 'fed as the model was trained; the graph does not normalise';

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let current = ONNX_INPUT_NAME;
  for (const [i, l] of layers.entries()) {
    const last = i === layers.length - 1;
    const w = `layer${i}.w`, b = `layer${i}.b`;
    initializers.push(
      { name: w, dataType: proto.TensorProto.DataType.FLOAT, dims: [l.inputs, l.outputs], rawData: f32LittleEndian(params.subarray(l.weightOffset, l.biasOffset)) },
      { name: b, dataType: proto.TensorProto.DataType.FLOAT, dims: [l.outputs], rawData: f32LittleEndian(params.subarray(l.biasOffset, l.biasOffset + l.outputs)) },
    );
    const y = last ? ONNX_OUTPUT_NAME : `layer${i}.y`;
    nodes.push({ name: `layer${i}.gemm`, opType: 'Gemm', input: [current, w, b], output: [y], attribute: [
      { name: 'transB', type: proto.AttributeProto.AttributeType.INT, i: 0 },
    ] });
    current = y;
    if (!last) {
      const h = `layer${i}.h`;
      nodes.push({ name: `layer${i}.relu`, opType: 'Relu', input: [current], output: [h] });
      current = h;
    }
  }

  const reserved = Object.values(ONNX_METADATA_KEYS) as string[];
  const meta = new Map<string, string>();
  meta.set(ONNX_METADATA_KEYS.spec, specJson);
  meta.set(ONNX_METADATA_KEYS.output, 'logits (no softmax)');
  if (normalization) {
    meta.set(ONNX_METADATA_KEYS.mean, String(normalization.mean));
    meta.set(ONNX_METADATA_KEYS.std, String(normalization.std));
    meta.set(ONNX_METADATA_KEYS.normalization, '(x/255 - mean)/std for u8 pixels x, applied by the caller before the graph');
  }
  for (const [key, value] of Object.entries(opts.metadata ?? {})) {
    if (key.startsWith('retort.') || reserved.includes(key)) throw new RangeError(`exportOnnx: metadata key '${key}' is reserved (keys starting with "retort.")`);
    if (typeof value !== 'string') throw new RangeError(`exportOnnx: metadata '${key}' must be a string, got ${typeof value}`);
    meta.set(key, value);
  }
  const metadataProps = [...meta.keys()].sort().map((key) => ({ key, value: meta.get(key)! }));

  const message: onnx.IModelProto = {
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'retort',
    docString: `Retort MLP ${formatModelSpec(spec)}: input [batch, ${inputSize}] float32 (${inputNote}); `
      + `output logits [batch, ${classes}] float32, no softmax. Dropout is the identity at inference. Spec: ${specJson}`,
    graph: {
      name: opts.graphName ?? 'retort_mlp',
      node: nodes,
      initializer: initializers,
      input: [valueInfo(ONNX_INPUT_NAME, inputSize, `float32 [batch, ${inputSize}]: ${inputNote}`)],
      output: [valueInfo(ONNX_OUTPUT_NAME, classes, `float32 [batch, ${classes}]: logits, no softmax (apply softmax for probabilities)`)],
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

function valueInfo(name: string, width: number, doc: string): onnx.IValueInfoProto {
  return {
    name,
    docString: doc,
    type: { tensorType: { elemType: proto.TensorProto.DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: width }] } } },
  };
}

/** The spec as JSON with a fixed key order (the same spec always gives the same text). */
function canonicalSpecJson(spec: MlpSpec): string {
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

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The little-endian bytes of `values`: a view on little-endian hosts, a converted copy otherwise. */
function f32LittleEndian(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint32(4 * i, bits[i]!, true);
  return out;
}

// ---- import ---------------------------------------------------------------------------------------

const DT = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;
const DT_NAMES = new Map<number, string>(Object.entries(DT).map(([k, v]) => [v, k]));
/** Floating-point element types Retort reads (converted to f32), with their raw_data widths. */
const FLOAT_BYTES = new Map<number, number>([[DT.FLOAT, 4], [DT.FLOAT16, 2], [DT.BFLOAT16, 2], [DT.DOUBLE, 8]]);

const AT = { FLOAT: 1, INT: 2 } as const;
/** Gemm without `broadcast`, Relu without `consumed_inputs`, Reshape with a shape input: opset 7 on. */
const MIN_OPSET = 7;
/** IR 3 introduced opset_import; the bound is a sanity check (IR 11 is current in 2025). */
const MAX_IR_VERSION = 100;
/** A sanity bound (ONNX releases add about one opset a year; runtimes read opsets as 32-bit ints). */
const MAX_OPSET = 1000;
/** AttributeProto's value fields: the scalar ones (present or not) and the repeated ones. */
const ATTRIBUTE_SCALARS = ['f', 'i', 's', 't', 'g', 'sparseTensor', 'tp'] as const;
const ATTRIBUTE_LISTS = ['floats', 'ints', 'strings', 'tensors', 'graphs', 'sparseTensors', 'typeProtos'] as const;

function dtypeName(t: number): string { return DT_NAMES.get(t) ?? `type ${t}`; }

/** A name from the file, quoted, escaped and shortened for a one-line message. */
function q(name: string): string {
  const s = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return `'${JSON.stringify(s).slice(1, -1)}'`;
}

/** An int64 field (a number, or a Long when protobufjs found the long package) as a safe integer, or null. */
function int64(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (v !== null && typeof v === 'object') {
    const { low, high, unsigned } = v as { low?: unknown; high?: unknown; unsigned?: unknown };
    if (typeof low !== 'number' || typeof high !== 'number') return null;
    const n = (unsigned === true ? high >>> 0 : high | 0) * 2 ** 32 + (low >>> 0);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

/** A validated floating-point initializer: its dims and element count agree with its data. */
interface FloatTensor {
  name: string;
  dims: number[];
  count: number;
  dataType: number;
  source: 'raw' | 'float_data' | 'double_data' | 'int32_data' | 'empty';
  t: onnx.ITensorProto;
}

/** One dense layer as found in the graph, before any parameter is read. */
interface LayerPlan {
  node: string;
  inputs: number;
  outputs: number;
  w: FloatTensor;
  /** W is stored [outputs, inputs] (Gemm transB = 1). */
  transposed: boolean;
  alpha: number;
  bias: FloatTensor | null;
  beta: number;
}

/**
 * A Retort spec and flat params from ONNX ModelProto bytes. `fileName` names the input in
 * errors. Throws DataFormatError for anything that is not a valid ONNX MLP Retort can represent.
 */
export function importOnnx(bytes: Uint8Array, fileName = '<onnx bytes>'): OnnxImport {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('importOnnx: bytes must be a Uint8Array');
  const fail = (problem: string): never => { throw new DataFormatError(fileName, problem); };
  if (bytes.length > MAX_ONNX_BYTES) fail(`${bytes.length} bytes is larger than the ${MAX_ONNX_BYTES}-byte limit for an ONNX model`);
  if (bytes.length === 0) fail('empty file (not an ONNX model)');

  // the wire format first: protobufjs's generated decoder trusts wire types (reading a known field
  // with the wrong one misparses what follows), so every field must have its schema's wire type
  // and every nested message must end exactly where its length says
  checkWire(bytes, fail);
  let model: onnx.ModelProto;
  try {
    model = proto.ModelProto.decode(bytes);
  } catch (e) {
    // protobufjs throws RangeError (truncated), Error (bad wire type), or overflows the stack on deep nesting
    return fail(`not a valid ONNX protobuf (${e instanceof Error ? e.message : String(e)})`);
  }
  const notes: string[] = [];

  // ---- model-level fields
  const graph = model.graph;
  if (!graph) return fail('no graph (not an ONNX model, or a truncated one)');
  const ir = int64(model.irVersion);
  if (ir === null || ir < 3 || ir > MAX_IR_VERSION) return fail(`ir_version ${ir ?? 'out of range'} is not one Retort reads (3 to ${MAX_IR_VERSION})`);
  let opset: number | null = null;
  for (const o of model.opsetImport ?? []) {
    const domain = o.domain ?? '';
    if (domain !== '' && domain !== 'ai.onnx') continue;
    const version = int64(o.version);
    if (version === null || version < MIN_OPSET || version > MAX_OPSET) {
      fail(`opset_import: opset ${version ?? 'out of range'} of the ${domain === '' ? 'default' : "'ai.onnx'"} domain is not one Retort reads (${MIN_OPSET} to ${MAX_OPSET}; Gemm, Relu and Reshape had other forms before ${MIN_OPSET})`);
    }
    if (domain !== '') continue; // onnxruntime does not treat 'ai.onnx' as the default domain here
    if (opset !== null) fail('opset_import lists the default ONNX domain twice');
    opset = version;
  }
  if (opset === null) return fail('opset_import has no entry for the default ONNX domain');
  const metadata = new Map<string, string>();
  for (const p of model.metadataProps ?? []) {
    const key = p.key ?? '';
    if (metadata.has(key)) fail(`metadata_props key ${q(key)} appears twice`);
    metadata.set(key, p.value ?? '');
  }
  if ((graph.sparseInitializer?.length ?? 0) > 0) fail('the graph has sparse initializers, which Retort does not read');

  // ---- values: initializers, the graph input, node outputs (each defined once)
  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    if (name === '') fail('an initializer has no name');
    if (initializers.has(name)) fail(`initializer ${q(name)} is defined twice`);
    initializers.set(name, t);
  }
  // before IR 4 initializers were also listed as graph inputs; those are not data inputs
  const inputs = (graph.input ?? []).filter((v) => !initializers.has(v.name ?? ''));
  const overridable: string[] = [];
  for (const v of graph.input ?? []) {
    const t = initializers.get(v.name ?? '');
    if (!t) continue;
    checkInitializerInput(v, t, fail);
    overridable.push(v.name ?? '');
  }
  if (overridable.length > 0 && ir >= 4) {
    notes.push(`${overridable.length} initializer${overridable.length > 1 ? 's are' : ' is'} also listed as graph input${overridable.length > 1 ? 's' : ''} (${overridable.slice(0, 3).map(q).join(', ')}${overridable.length > 3 ? ', ...' : ''}); the stored values were used`);
  }
  if (inputs.length !== 1) {
    fail(inputs.length === 0 ? 'the graph has no input' : `the graph has ${inputs.length} inputs (${inputs.slice(0, 4).map((v) => q(v.name ?? '')).join(', ')}); a Retort MLP takes one`);
  }
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) {
    fail(outputs.length === 0 ? 'the graph has no output' : `the graph has ${outputs.length} outputs (${outputs.slice(0, 4).map((v) => q(v.name ?? '')).join(', ')}); a Retort MLP has one (the logits)`);
  }
  const input = inputs[0]!, output = outputs[0]!;
  const inputName = input.name ?? '';
  if (inputName === '') fail('the graph input has no name');
  const inputType = tensorType(input, `input ${q(inputName)}`, fail);
  if (!FLOAT_BYTES.has(inputType.elemType)) fail(`input ${q(inputName)} has element type ${dtypeName(inputType.elemType)}; Retort models take floating-point input`);
  if (inputType.elemType !== DT.FLOAT) notes.push(`the model's ${dtypeName(inputType.elemType)} weights were converted to float32`);

  // input shape: [batch, features...]; unknown dims are null
  let rank: number | null = inputType.dims ? inputType.dims.length : null;
  let width: number | null = null;
  if (inputType.dims) {
    const dims = inputType.dims;
    if (dims.length < 2) fail(`input ${q(inputName)} has rank ${dims.length}; a Retort MLP takes [batch, features]`);
    for (const [k, d] of dims.entries()) {
      if (k > 0 && d !== null && d < 1) fail(`input ${q(inputName)} dimension ${k} is ${d}; feature dimensions must be positive`);
    }
    const rest = dims.slice(1);
    width = rest.every((d) => d !== null) ? rest.reduce((a: number, d) => a * d!, 1) : null;
    if (width !== null && !Number.isSafeInteger(width)) fail(`input ${q(inputName)} has too many features`);
  }

  const defined = new Set<string>([inputName, ...initializers.keys()]);
  const used = new Set<string>();
  // each chain value's shape as far as it is known (null: unknown rank; null dims: unknown)
  let shape: (number | null)[] | null = inputType.dims;
  const shapes = new Map<string, (number | null)[] | null>([[inputName, shape]]);
  type State = 'input' | 'linear' | 'dense' | 'relu' | 'softmax';
  let state: State = 'input';
  let current = inputName;
  let lastNode = '';
  let lastRelu = '';
  const layers: LayerPlan[] = [];

  for (const [index, node] of (graph.node ?? []).entries()) {
    const op = node.opType ?? '';
    const domain = node.domain ?? '';
    const label = `node ${node.name ? q(node.name) : `#${index}`} (${op === '' ? 'no op_type' : q(op).slice(1, -1)})`;
    const nodeFail = (problem: string): never => fail(`${label}: ${problem}`);
    if ((domain !== '' && domain !== 'ai.onnx') || !SUPPORTED_OPS.has(op)) {
      nodeFail(`operator ${domain !== '' && domain !== 'ai.onnx' ? `${q(domain).slice(1, -1)}.` : ''}${q(op).slice(1, -1)} cannot be represented by a Retort MLP`);
    }
    const nodeInputs = node.input ?? [];
    const nodeOutputs = node.output ?? [];
    for (const name of nodeInputs) {
      if (name !== '' && !defined.has(name)) nodeFail(`input ${q(name)} is not a graph input, an initializer, or the output of an earlier node`);
    }
    if (nodeOutputs.length !== 1 || nodeOutputs[0] === '') nodeFail(`has ${nodeOutputs.length} outputs; Retort reads nodes with one output`);
    const out = nodeOutputs[0]!;
    if (defined.has(out)) nodeFail(`output ${q(out)} is already defined (each value must be produced once)`);
    defined.add(out);

    // the chain: the node reads `current` (the previous step's output) once, everything else from initializers
    const dataAt = nodeInputs.indexOf(current);
    if (dataAt < 0 || nodeInputs.lastIndexOf(current) !== dataAt) {
      nodeFail(dataAt < 0
        ? `does not read ${q(current)}, the output of the previous step: Retort reads a single chain of layers, and this graph branches`
        : `reads ${q(current)} twice: Retort reads a single chain of layers`);
    }
    const weight = (k: number, role: string, required = true): string | null => {
      const name = nodeInputs[k];
      if (name === undefined || name === '') return required ? nodeFail(`has no ${role} input`) : null;
      if (!initializers.has(name)) nodeFail(`${role} ${q(name)} is not an initializer (Retort reads constant weights only)`);
      used.add(name);
      return name;
    };
    const attrs = readAttributes(node, ATTRIBUTES[op] ?? {}, nodeFail);
    const expectInputs = (min: number, max: number): void => {
      if (nodeInputs.length < min || nodeInputs.length > max) nodeFail(`has ${nodeInputs.length} inputs, expected ${min === max ? min : `${min} to ${max}`}`);
    };

    switch (op) {
      case 'Identity':
        expectInputs(1, 1);
        break;
      case 'Flatten': {
        expectInputs(1, 1);
        if (state !== 'input') nodeFail('Flatten is only supported before the first dense layer');
        const axis = attrs.int('axis', 1);
        if (!(axis === 1 || (rank !== null && axis === 1 - rank))) nodeFail(`axis ${axis} does not flatten to [batch, features]; only axis 1 is supported`);
        rank = 2;
        shape = [shape?.[0] ?? null, width];
        break;
      }
      case 'Reshape': {
        expectInputs(2, 2);
        if (state !== 'input') nodeFail('Reshape is only supported before the first dense layer');
        if (dataAt !== 0) nodeFail(`reads ${q(current)} as its shape; the data must be the first input`);
        const shapeName = weight(1, 'shape')!;
        const target = int64Vector(initializers.get(shapeName)!, shapeName, nodeFail);
        const allowZero = attrs.int('allowzero', 0);
        const [s0, s1] = target;
        const unsupported = `reshapes to [${target.join(', ')}]; only a reshape to [batch, features] ([0, -1] or [-1, F]) is supported`;
        if (target.length !== 2 || s0 === undefined || s1 === undefined) return nodeFail(unsupported);
        const keepsBatch = (s0 === 0 && allowZero === 0) || (s0 === -1 && s1 > 0);
        if (!keepsBatch || !(s1 === -1 || s1 > 0)) nodeFail(unsupported);
        // [0, ...] keeps the batch; so does -1 when the feature count was known (it is checked equal to F)
        const batchKept = s0 === 0 || width !== null;
        if (s1 > 0) {
          if (width !== null && width !== s1) nodeFail(`reshapes ${width} features per row to ${s1}`);
          width = s1;
        }
        shape = [batchKept ? shape?.[0] ?? null : null, width];
        rank = 2;
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const gemm = op === 'Gemm';
        expectInputs(2, gemm ? 3 : 2);
        if (state !== 'input' && state !== 'relu') {
          nodeFail(state === 'softmax' ? 'follows a Softmax; the Softmax must be the last node' : 'follows a dense layer without a Relu between them; a Retort MLP applies ReLU between dense layers');
        }
        if (rank !== null && rank !== 2) nodeFail(`its input has rank ${rank}; a dense layer needs [batch, features] (add a Flatten)`);
        if (dataAt !== 0) nodeFail(`reads ${q(current)} as its ${gemm ? 'B' : 'second'} input; Retort computes x·W, with x the first input`);
        if (gemm) {
          if (attrs.int('transA', 0) !== 0) nodeFail('transA = 1 is not supported (the data must be [batch, features])');
        }
        const transB = gemm ? attrs.int('transB', 0) : 0;
        if (transB !== 0 && transB !== 1) nodeFail(`transB must be 0 or 1, got ${transB}`);
        const alpha = gemm ? attrs.float('alpha', 1) : 1;
        const beta = gemm ? attrs.float('beta', 1) : 1;
        if (!Number.isFinite(alpha) || !Number.isFinite(beta)) nodeFail(`alpha and beta must be finite, got ${alpha} and ${beta}`);
        const wName = weight(1, 'weight')!;
        const w = floatTensor(initializers.get(wName)!, wName, inputType.elemType, nodeFail);
        if (w.dims.length !== 2) nodeFail(`weight ${q(wName)} has shape [${w.dims.join(', ')}]; a dense layer needs a 2-D weight`);
        const [rows, cols] = transB === 1 ? [w.dims[1]!, w.dims[0]!] : [w.dims[0]!, w.dims[1]!];
        if (rows < 1 || cols < 1) nodeFail(`weight ${q(wName)} has an empty shape [${w.dims.join(', ')}]`);
        if (width !== null && rows !== width) {
          nodeFail(`shape mismatch: weight ${q(wName)} [${w.dims.join(', ')}]${transB === 1 ? ' (transB = 1)' : ''} takes ${rows} inputs but the previous ${layers.length === 0 ? 'input' : 'layer'} gives ${width}`);
        }
        let bias: FloatTensor | null = null;
        const name = node.name || `#${index}`;
        if (gemm) {
          const cName = weight(2, 'bias', false);
          if (cName !== null) bias = biasTensor(initializers.get(cName)!, cName, cols, inputType.elemType, nodeFail);
          if (bias && beta === 0) {
            notes.push(`node ${q(name)}: beta = 0, so its bias ${q(cName!)} is not used`);
            bias = null;
          }
        }
        if (transB === 1) notes.push(`node ${q(name)}: the transposed weight (transB = 1) was transposed into Retort's [inputs, outputs] layout`);
        if (alpha !== 1 || (bias !== null && beta !== 1)) notes.push(`node ${q(name)}: alpha = ${alpha}, beta = ${beta} were folded into the weight and bias`);
        layers.push({ node: name, inputs: rows, outputs: cols, w, transposed: transB === 1, alpha, bias, beta });
        width = cols;
        rank = 2;
        shape = [shape?.[0] ?? null, cols];
        state = bias !== null ? 'dense' : 'linear';
        break;
      }
      case 'Add': {
        expectInputs(2, 2);
        if (state !== 'linear') {
          nodeFail(state === 'dense' ? 'adds a second bias to a dense layer; Retort supports one bias per layer'
            : 'is only supported as the bias of a preceding MatMul or Gemm');
        }
        const bName = weight(1 - dataAt, 'bias')!;
        const layer = layers[layers.length - 1]!;
        layer.bias = biasTensor(initializers.get(bName)!, bName, layer.outputs, inputType.elemType, nodeFail);
        layer.beta = 1;
        state = 'dense';
        break;
      }
      case 'Relu':
        expectInputs(1, 1);
        if (state !== 'linear' && state !== 'dense') {
          nodeFail(state === 'relu' ? 'follows another Relu' : state === 'softmax' ? 'follows a Softmax' : 'comes before the first dense layer; Retort applies ReLU only between dense layers');
        }
        state = 'relu';
        lastRelu = node.name || `#${index}`;
        break;
      case 'Softmax':
      case 'LogSoftmax': {
        expectInputs(1, 1);
        if (state !== 'linear' && state !== 'dense') nodeFail('is only supported after the last dense layer');
        const axis = attrs.int('axis', opset >= 13 ? -1 : 1);
        if (axis !== 1 && axis !== -1) nodeFail(`axis ${axis} is not the class axis (1 or -1)`);
        notes.push(`dropped the trailing ${op} node ${q(node.name || `#${index}`)}: Retort models output logits; apply ${op === 'Softmax' ? 'softmax' : 'log-softmax'} to them to get the original outputs`);
        state = 'softmax';
        break;
      }
    }
    current = out;
    shapes.set(out, shape);
    lastNode = label;
  }

  // ---- the end of the chain
  const outputName = output.name ?? '';
  if (state === 'input') fail('the graph has no dense layer (Gemm or MatMul)');
  if (state === 'relu') fail(`the graph ends with Relu node ${q(lastRelu)}; a Retort MLP ends with a dense layer that outputs logits`);
  if (outputName !== current) {
    fail(defined.has(outputName) ? `output ${q(outputName)} is not the value computed by the last node (${lastNode} computes ${q(current)})`
      : `output ${q(outputName)} is not computed by any node`);
  }
  // declared types (the output's, and value_info annotations) must agree with what the chain computes
  const checkDeclared = (v: onnx.IValueInfoProto, label: string, typeRequired: boolean): void => {
    const name = v.name ?? '';
    if (!typeRequired && !v.type) return; // value_info may leave the type out
    const t = initializers.get(name);
    if (t) {
      checkInitializerInput(v, t, fail);
      return;
    }
    if (!shapes.has(name)) return; // an annotation of nothing Retort reads
    const declared = tensorType(v, label, fail);
    if (declared.elemType !== inputType.elemType) fail(`${label} has element type ${dtypeName(declared.elemType)} but the graph computes ${dtypeName(inputType.elemType)}`);
    const known = shapes.get(name)!;
    if (!declared.dims || !known) return;
    if (declared.dims.length !== known.length || declared.dims.some((d, k) => d !== null && known[k] !== null && d !== known[k])) {
      fail(`${label} is declared [${declared.dims.map((d) => d ?? '?').join(', ')}] but the graph computes [${known.map((d, k) => d ?? (k === 0 ? 'batch' : '?')).join(', ')}]`);
    }
  };
  checkDeclared(output, `output ${q(outputName)}`, true);
  for (const v of graph.valueInfo ?? []) checkDeclared(v, `value_info ${q(v.name ?? '')}`, false);
  const unused = [...initializers.keys()].filter((k) => !used.has(k));
  if (unused.length > 0) notes.push(`ignored ${unused.length} unused initializer${unused.length > 1 ? 's' : ''} (${unused.slice(0, 3).map(q).join(', ')}${unused.length > 3 ? ', ...' : ''})`);
  if (inputType.dims && inputType.dims.length > 2) notes.push(`the ${inputType.dims.length}-D input is flattened: feed [batch, ${layers[0]!.inputs}] rows`);

  // ---- the spec (sizes bounded by MAX_LAYER_SIZE / MAX_PARAMS before anything is allocated)
  const sizes = [layers[0]!.inputs, ...layers.map((l) => l.outputs)];
  let spec: MlpSpec;
  try {
    spec = asMlpSpec(parseModelSpec({ type: 'mlp', sizes }), 'importOnnx');
  } catch (e) {
    if (e instanceof SpecError) return fail(`the graph's layer sizes ${sizes.join('-')} are not a valid Retort model (${e.problem})`);
    throw e;
  }
  const savedSpec = metadata.get(ONNX_METADATA_KEYS.spec);
  if (savedSpec !== undefined) {
    let parsed: MlpSpec;
    try {
      const any = parseModelSpec(savedSpec);
      if (any.type !== 'mlp') return fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} describes a ${any.type} model but the graph is a Gemm/Relu chain`);
      parsed = any;
    } catch (e) {
      if (e instanceof SpecError) return fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} is not a valid spec (${e.message})`);
      throw e;
    }
    if (parsed.sizes.length !== sizes.length || parsed.sizes.some((s, k) => s !== sizes[k])) {
      fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} says ${parsed.sizes.join('-')} but the graph computes ${sizes.join('-')}`);
    }
    spec = parsed; // keeps dropout and maxNorm, which the graph cannot show
  }
  let normalization: OnnxImport['normalization'] = null;
  const meanText = metadata.get(ONNX_METADATA_KEYS.mean), stdText = metadata.get(ONNX_METADATA_KEYS.std);
  if (meanText !== undefined || stdText !== undefined) {
    const mean = Number(meanText), std = Number(stdText);
    if (meanText === undefined || stdText === undefined || meanText.trim() === '' || stdText.trim() === '' || !Number.isFinite(mean) || !(Number.isFinite(std) && std > 0)) {
      fail(`metadata ${q(ONNX_METADATA_KEYS.mean)} / ${q(ONNX_METADATA_KEYS.std)} must both be numbers (std > 0), got ${q(meanText ?? '(missing)')} / ${q(stdText ?? '(missing)')}`);
    }
    normalization = { mean, std };
  }

  // ---- the parameters (every tensor's size was checked against its data above)
  const params = new Float32Array(paramCount(spec));
  for (const [i, l] of paramLayout(spec).entries()) {
    const plan = layers[i]!;
    const w = floatValues(plan.w);
    if (plan.transposed) {
      // stored [outputs, inputs]
      for (let r = 0; r < l.inputs; r++) {
        for (let c = 0; c < l.outputs; c++) params[l.weightOffset + r * l.outputs + c] = w[c * l.inputs + r]!;
      }
    } else {
      params.set(w, l.weightOffset);
    }
    if (plan.alpha !== 1) scale(params.subarray(l.weightOffset, l.biasOffset), plan.alpha);
    if (plan.bias) {
      const b = floatValues(plan.bias);
      const target = params.subarray(l.biasOffset, l.biasOffset + l.outputs);
      if (b.length === l.outputs) target.set(b); else target.fill(b[0]!); // a broadcast scalar
      if (plan.beta !== 1) scale(target, plan.beta);
    }
  }
  const producer = [model.producerName ?? '', model.producerVersion ?? ''].filter((s) => s !== '').join(' ');
  return { spec, params, metadata: Object.fromEntries(metadata), normalization, producer, notes };
}

/** An Mlp built from ONNX bytes (see importOnnx). The caller owns it (free()). */
export function onnxToMlp(core: Core, bytes: Uint8Array, fileName = '<onnx bytes>'): Mlp {
  const { spec, params } = importOnnx(bytes, fileName);
  const model = new Mlp(core, spec);
  try {
    model.writeParams(params);
  } catch (e) {
    model.free();
    throw e;
  }
  return model;
}

// ---- import helpers -------------------------------------------------------------------------------

const SUPPORTED_OPS = new Set(['Identity', 'Flatten', 'Reshape', 'Gemm', 'MatMul', 'Add', 'Relu', 'Softmax', 'LogSoftmax']);
const ATTRIBUTES: Record<string, Record<string, number>> = {
  Flatten: { axis: AT.INT },
  Reshape: { allowzero: AT.INT },
  Gemm: { alpha: AT.FLOAT, beta: AT.FLOAT, transA: AT.INT, transB: AT.INT },
  Softmax: { axis: AT.INT },
  LogSoftmax: { axis: AT.INT },
};

interface Attributes {
  int(name: string, fallback: number): number;
  float(name: string, fallback: number): number;
}

/** A node's attributes, each known to the operator, of the right type, given once. */
function readAttributes(node: onnx.INodeProto, allowed: Record<string, number>, nodeFail: (p: string) => never): Attributes {
  const found = new Map<string, onnx.IAttributeProto>();
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    const type = allowed[name];
    if (type === undefined || !Object.hasOwn(allowed, name)) nodeFail(`attribute ${q(name)} is not supported`);
    if (found.has(name)) nodeFail(`attribute ${q(name)} is given twice`);
    if (a.refAttrName) nodeFail(`attribute ${q(name)} refers to a function attribute`);
    if (a.type !== type) nodeFail(`attribute ${q(name)} must be ${type === AT.INT ? 'an INT' : 'a FLOAT'}`);
    // exactly the one value field of its type (as ONNX's checker and onnxruntime require)
    const fields = [...ATTRIBUTE_SCALARS.filter((k) => Object.hasOwn(a, k) && a[k] != null),
      ...ATTRIBUTE_LISTS.filter((k) => (a[k]?.length ?? 0) > 0)];
    if (fields.length !== 1 || fields[0] !== (type === AT.INT ? 'i' : 'f')) {
      nodeFail(`attribute ${q(name)} of type ${type === AT.INT ? 'INT' : 'FLOAT'} must hold exactly its ${type === AT.INT ? "'i'" : "'f'"} value`);
    }
    found.set(name, a);
  }
  return {
    int(name, fallback) {
      const a = found.get(name);
      if (!a) return fallback;
      const v = int64(a.i ?? 0);
      if (v === null) return nodeFail(`attribute ${q(name)} is out of range`);
      return v;
    },
    float(name, fallback) {
      const a = found.get(name);
      return a ? (a.f ?? 0) : fallback;
    },
  };
}

/** A graph input/output's tensor element type and dims (null dims: no shape; null dim: unknown). */
function tensorType(v: onnx.IValueInfoProto, label: string, fail: (p: string) => never): { elemType: number; dims: (number | null)[] | null } {
  const t = v.type?.tensorType;
  if (!t) return fail(`${label} is not a tensor`);
  const elemType = t.elemType ?? 0;
  if (!t.shape) return { elemType, dims: null };
  const dims = (t.shape.dim ?? []).map((d, k) => {
    if (d.dimValue === null || d.dimValue === undefined) return null;
    const n = int64(d.dimValue);
    if (n === null || n < 0) return fail(`${label} dimension ${k} is not a valid size`);
    return n;
  });
  return { elemType, dims };
}

/** An initializer also listed as a graph input (a default value): its declared type must match it. */
function checkInitializerInput(v: onnx.IValueInfoProto, t: onnx.ITensorProto, fail: (p: string) => never): void {
  const name = v.name ?? '';
  const declared = tensorType(v, `input ${q(name)}`, fail);
  const dataType = t.dataType ?? 0;
  if (declared.elemType !== dataType) fail(`input ${q(name)} is declared ${dtypeName(declared.elemType)} but initializer ${q(name)} is ${dtypeName(dataType)}`);
  if (!declared.dims) return;
  const dims = tensorDims(t, name, fail).dims;
  if (declared.dims.length !== dims.length || declared.dims.some((d, k) => d !== null && d !== dims[k])) {
    fail(`input ${q(name)} is declared [${declared.dims.map((d) => d ?? '?').join(', ')}] but initializer ${q(name)} has dims [${dims.join(', ')}]`);
  }
}

/** The tensor's dims as safe integers and their product, validated (no allocation). */
function tensorDims(t: onnx.ITensorProto, name: string, fail: (p: string) => never): { dims: number[]; count: number } {
  const raw = t.dims ?? [];
  if (raw.length > 8) fail(`tensor ${q(name)} has rank ${raw.length}`);
  const dims = raw.map((d) => {
    const n = int64(d);
    if (n === null || n < 0) return fail(`tensor ${q(name)} has an invalid dimension (dims must be non-negative integers)`);
    return n;
  });
  let count = 1;
  for (const d of dims) {
    count *= d;
    if (count > Number.MAX_SAFE_INTEGER) fail(`tensor ${q(name)} dims [${dims.join(', ')}] describe more elements than any file can hold`);
  }
  if (t.dataLocation === proto.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0) {
    fail(`tensor ${q(name)} keeps its data in an external file, which Retort does not read (save the model with its data inline)`);
  }
  if (t.segment) fail(`tensor ${q(name)} is segmented, which Retort does not read`);
  return { dims, count };
}

/** A floating-point initializer whose data agrees with its dims (of the graph's element type). */
function floatTensor(t: onnx.ITensorProto, name: string, elemType: number, fail: (p: string) => never): FloatTensor {
  const { dims, count } = tensorDims(t, name, fail);
  const dataType = t.dataType ?? 0;
  const width = FLOAT_BYTES.get(dataType);
  if (width === undefined) fail(`tensor ${q(name)} has data type ${dtypeName(dataType)}; Retort reads FLOAT weights (FLOAT16, BFLOAT16 and DOUBLE are converted)`);
  if (dataType !== elemType) fail(`tensor ${q(name)} has data type ${dtypeName(dataType)} but the graph input is ${dtypeName(elemType)}`);
  // raw_data counts as given when the field is present, even empty (as in ONNX's checker)
  const hasRaw = Object.hasOwn(t, 'rawData') && t.rawData != null;
  const rawLength = hasRaw ? t.rawData!.length : 0;
  const typed: [FloatTensor['source'], number] = dataType === DT.FLOAT ? ['float_data', t.floatData?.length ?? 0]
    : dataType === DT.DOUBLE ? ['double_data', t.doubleData?.length ?? 0]
    : ['int32_data', t.int32Data?.length ?? 0];
  let source: FloatTensor['source'];
  if (hasRaw && typed[1] > 0) return fail(`tensor ${q(name)} has both raw_data and ${typed[0]}`);
  if (hasRaw) {
    if (rawLength !== count * width!) {
      fail(`tensor ${q(name)}: raw_data holds ${rawLength} bytes but dims [${dims.join(', ')}] of ${dtypeName(dataType)} need ${count * width!}`);
    }
    source = 'raw';
  } else if (typed[1] > 0 || count === 0) {
    if (typed[1] !== count) fail(`tensor ${q(name)}: ${typed[0]} holds ${typed[1]} values but dims [${dims.join(', ')}] need ${count}`);
    source = count === 0 ? 'empty' : typed[0];
  } else {
    return fail(`tensor ${q(name)} has no data (dims [${dims.join(', ')}] need ${count} values)`);
  }
  if (source === 'int32_data') {
    for (const v of t.int32Data!) if (!(v >= 0 && v <= 0xffff)) fail(`tensor ${q(name)}: int32_data holds ${v}, not a 16-bit ${dtypeName(dataType)} value`);
  }
  return { name, dims, count, dataType, source, t };
}

/** A bias for `outputs` units: [outputs], [1, outputs], or a scalar ([], [1], [1, 1]) broadcast. */
function biasTensor(t: onnx.ITensorProto, name: string, outputs: number, elemType: number, nodeFail: (p: string) => never): FloatTensor {
  const b = floatTensor(t, name, elemType, nodeFail);
  const d = b.dims;
  const ok = (d.length === 1 && (d[0] === outputs || d[0] === 1))
    || (d.length === 2 && d[0] === 1 && (d[1] === outputs || d[1] === 1))
    || d.length === 0;
  if (!ok) nodeFail(`shape mismatch: bias ${q(name)} has shape [${d.join(', ')}], which does not broadcast to [batch, ${outputs}]`);
  return b;
}

/** A small INT64 initializer (Reshape's shape) as numbers. */
function int64Vector(t: onnx.ITensorProto, name: string, fail: (p: string) => never): number[] {
  const { dims, count } = tensorDims(t, name, fail);
  if (t.dataType !== DT.INT64) fail(`tensor ${q(name)} has data type ${dtypeName(t.dataType ?? 0)}; a shape must be INT64`);
  if (dims.length !== 1 || count > 8) fail(`tensor ${q(name)} has dims [${dims.join(', ')}]; a shape must be a short 1-D tensor`);
  const raw = t.rawData ?? new Uint8Array(0);
  const out: number[] = [];
  const hasRaw = Object.hasOwn(t, 'rawData') && t.rawData != null;
  if (hasRaw && (t.int64Data?.length ?? 0) > 0) fail(`tensor ${q(name)} has both raw_data and int64_data`);
  if (hasRaw) {
    if (raw.length !== 8 * count) fail(`tensor ${q(name)}: raw_data holds ${raw.length} bytes but dims [${dims.join(', ')}] of INT64 need ${8 * count}`);
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) {
      const v = Number(view.getBigInt64(8 * i, true));
      out.push(Number.isSafeInteger(v) ? v : Number.NaN);
    }
  } else {
    const data = t.int64Data ?? [];
    if (data.length !== count) fail(`tensor ${q(name)}: int64_data holds ${data.length} values but dims [${dims.join(', ')}] need ${count}`);
    for (const v of data) out.push(int64(v) ?? Number.NaN);
  }
  return out;
}

/** A validated tensor's values as f32 (bit for bit from FLOAT raw_data). */
function floatValues(f: FloatTensor): Float32Array {
  const out = new Float32Array(f.count);
  const t = f.t;
  switch (f.source) {
    case 'empty':
      break;
    case 'float_data':
      out.set(t.floatData!);
      break;
    case 'double_data':
      out.set(t.doubleData!);
      break;
    case 'int32_data': {
      const bits = t.int32Data!;
      for (let i = 0; i < f.count; i++) out[i] = f.dataType === DT.BFLOAT16 ? bf16BitsToNumber(bits[i]!) : f16BitsToNumber(bits[i]!);
      break;
    }
    case 'raw': {
      const raw = t.rawData!;
      if (f.dataType === DT.FLOAT && LITTLE_ENDIAN) {
        new Uint8Array(out.buffer).set(raw);
        break;
      }
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      if (f.dataType === DT.FLOAT) {
        const bits = new Uint32Array(out.buffer);
        for (let i = 0; i < f.count; i++) bits[i] = view.getUint32(4 * i, true);
      } else if (f.dataType === DT.DOUBLE) {
        for (let i = 0; i < f.count; i++) out[i] = view.getFloat64(8 * i, true);
      } else {
        for (let i = 0; i < f.count; i++) {
          const h = view.getUint16(2 * i, true);
          out[i] = f.dataType === DT.BFLOAT16 ? bf16BitsToNumber(h) : f16BitsToNumber(h);
        }
      }
      break;
    }
  }
  return out;
}

function scale(values: Float32Array, factor: number): void {
  for (let i = 0; i < values.length; i++) values[i] = values[i]! * factor;
}

// ---- the wire format ------------------------------------------------------------------------------

/**
 * Wire kinds of every ONNX message's fields (onnx.proto as compiled into onnx-proto, plus the
 * fields later ONNX releases added: overload, metadata_props, device configurations): varint,
 * fixed 32/64-bit, length-delimited bytes/string, packable repeated scalars (packed or not), or
 * a nested message.
 */
type WireKind = 'varint' | 'i32' | 'i64' | 'len' | 'pvarint' | 'pi32' | 'pi64' | `msg:${string}`;
/**
 * Per message: its fields' kinds, which of them are repeated, and its oneof members. A singular
 * field given twice is refused (C++ protobuf merges repeated occurrences of a message field while
 * protobufjs keeps the last, so the two would read different models), and so are two members of
 * one oneof.
 */
interface WireMessage { fields: Record<number, WireKind>; repeated: readonly number[]; oneof?: readonly number[] }
const WIRE_SCHEMA: Record<string, WireMessage> = {
  ModelProto: {
    fields: { 1: 'varint', 8: 'msg:OperatorSetIdProto', 2: 'len', 3: 'len', 4: 'len', 5: 'varint', 6: 'len', 7: 'msg:GraphProto', 14: 'msg:StringStringEntryProto', 20: 'msg:TrainingInfoProto', 25: 'msg:FunctionProto', 26: 'len' },
    repeated: [8, 14, 20, 25, 26],
  },
  OperatorSetIdProto: { fields: { 1: 'len', 2: 'varint' }, repeated: [] },
  StringStringEntryProto: { fields: { 1: 'len', 2: 'len' }, repeated: [] },
  TrainingInfoProto: { fields: { 1: 'msg:GraphProto', 2: 'msg:GraphProto', 3: 'msg:StringStringEntryProto', 4: 'msg:StringStringEntryProto' }, repeated: [3, 4] },
  FunctionProto: {
    fields: { 1: 'len', 4: 'len', 5: 'len', 6: 'len', 7: 'msg:NodeProto', 8: 'len', 9: 'msg:OperatorSetIdProto', 10: 'len', 11: 'msg:AttributeProto', 12: 'msg:ValueInfoProto', 13: 'len', 14: 'msg:StringStringEntryProto' },
    repeated: [4, 5, 6, 7, 9, 11, 12, 14],
  },
  GraphProto: {
    fields: { 1: 'msg:NodeProto', 2: 'len', 5: 'msg:TensorProto', 15: 'msg:SparseTensorProto', 10: 'len', 11: 'msg:ValueInfoProto', 12: 'msg:ValueInfoProto', 13: 'msg:ValueInfoProto', 14: 'msg:TensorAnnotation', 16: 'msg:StringStringEntryProto' },
    repeated: [1, 5, 15, 11, 12, 13, 14, 16],
  },
  TensorAnnotation: { fields: { 1: 'len', 2: 'msg:StringStringEntryProto' }, repeated: [2] },
  NodeProto: { fields: { 1: 'len', 2: 'len', 3: 'len', 4: 'len', 7: 'len', 8: 'len', 5: 'msg:AttributeProto', 6: 'len', 9: 'msg:StringStringEntryProto', 10: 'len' }, repeated: [1, 2, 5, 9, 10] },
  AttributeProto: {
    fields: {
      1: 'len', 21: 'len', 13: 'len', 20: 'varint', 2: 'i32', 3: 'varint', 4: 'len', 5: 'msg:TensorProto', 6: 'msg:GraphProto',
      22: 'msg:SparseTensorProto', 14: 'msg:TypeProto', 7: 'pi32', 8: 'pvarint', 9: 'len', 10: 'msg:TensorProto', 11: 'msg:GraphProto',
      23: 'msg:SparseTensorProto', 15: 'msg:TypeProto',
    },
    repeated: [7, 8, 9, 10, 11, 23, 15],
  },
  ValueInfoProto: { fields: { 1: 'len', 2: 'msg:TypeProto', 3: 'len', 4: 'msg:StringStringEntryProto' }, repeated: [4] },
  TypeProto: { fields: { 1: 'msg:TypeTensor', 4: 'msg:TypeSequence', 5: 'msg:TypeMap', 9: 'msg:TypeSequence', 8: 'msg:TypeTensor', 6: 'len' }, repeated: [], oneof: [1, 4, 5, 9, 8] },
  TypeTensor: { fields: { 1: 'varint', 2: 'msg:TensorShapeProto' }, repeated: [] },
  TypeSequence: { fields: { 1: 'msg:TypeProto' }, repeated: [] },
  TypeMap: { fields: { 1: 'varint', 2: 'msg:TypeProto' }, repeated: [] },
  TensorShapeProto: { fields: { 1: 'msg:Dimension' }, repeated: [1] },
  Dimension: { fields: { 1: 'varint', 2: 'len', 3: 'len' }, repeated: [], oneof: [1, 2] },
  TensorProto: {
    fields: {
      1: 'pvarint', 2: 'varint', 3: 'msg:Segment', 4: 'pi32', 5: 'pvarint', 6: 'len', 7: 'pvarint', 8: 'len', 12: 'len', 9: 'len',
      13: 'msg:StringStringEntryProto', 14: 'varint', 10: 'pi64', 11: 'pvarint', 16: 'msg:StringStringEntryProto',
    },
    repeated: [1, 4, 5, 6, 7, 13, 10, 11, 16],
  },
  Segment: { fields: { 1: 'varint', 2: 'varint' }, repeated: [] },
  SparseTensorProto: { fields: { 1: 'msg:TensorProto', 2: 'msg:TensorProto', 3: 'pvarint' }, repeated: [3] },
};
const WIRE_NAMES: Record<string, string> = { varint: '0 (varint)', i32: '5 (32-bit)', i64: '1 (64-bit)', len: '2 (length-delimited)', pvarint: '0 or 2 (varints)', pi32: '5 or 2 (32-bit values)', pi64: '1 or 2 (64-bit values)' };
/** Subgraphs (attributes, training, functions) nest messages; real models stay far below this. */
const MAX_WIRE_DEPTH = 32;

function checkWire(bytes: Uint8Array, fail: (p: string) => never): void {
  const bad = (problem: string, at: number): never => fail(`not a valid ONNX protobuf (${problem} at byte ${at})`);
  /** A varint of at most `maxBytes` bytes ending before `end`: [value (exact below 2^53), next position]. */
  const varint = (pos: number, end: number, maxBytes: number, what: string): [number, number] => {
    let value = 0, scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      if (pos + i >= end) return bad(`truncated ${what}`, pos);
      const b = bytes[pos + i]!;
      value += (b & 0x7f) * scale;
      scale *= 128;
      if (b < 0x80) return [value, pos + i + 1];
    }
    return bad(`${what} longer than ${maxBytes} bytes`, pos);
  };
  const walk = (pos: number, end: number, type: string, depth: number): void => {
    if (depth > MAX_WIRE_DEPTH) bad(`messages nested more than ${MAX_WIRE_DEPTH} deep`, pos);
    const schema = WIRE_SCHEMA[type]!;
    const seen = new Set<number>();
    let oneofSeen = -1;
    while (pos < end) {
      const start = pos;
      const [tag, afterTag] = varint(pos, end, 5, 'field tag');
      pos = afterTag;
      const field = Math.floor(tag / 8), wire = tag % 8;
      if (field === 0 || tag > 0xffffffff) bad(`${type}: invalid field number`, start);
      const kind = Object.hasOwn(schema.fields, field) ? schema.fields[field]! : null;
      if (kind !== null && !schema.repeated.includes(field)) {
        if (seen.has(field)) bad(`${type} field ${field} appears twice`, start);
        seen.add(field);
        if (schema.oneof?.includes(field)) {
          if (oneofSeen >= 0 && oneofSeen !== field) bad(`${type} fields ${oneofSeen} and ${field} are both set (one of them may be)`, start);
          oneofSeen = field;
        }
      }
      const expect = (ok: boolean): void => {
        if (!ok) bad(`${type} field ${field} has wire type ${wire}, expected ${WIRE_NAMES[kind!] ?? '2 (a message)'}`, start);
      };
      switch (wire) {
        case 0:
          expect(kind === null || kind === 'varint' || kind === 'pvarint');
          pos = varint(pos, end, 10, 'varint')[1];
          break;
        case 1:
          expect(kind === null || kind === 'i64' || kind === 'pi64');
          if (pos + 8 > end) bad(`truncated ${type} field ${field}`, start);
          pos += 8;
          break;
        case 5:
          expect(kind === null || kind === 'i32' || kind === 'pi32');
          if (pos + 4 > end) bad(`truncated ${type} field ${field}`, start);
          pos += 4;
          break;
        case 2: {
          expect(kind === null || kind === 'len' || kind.startsWith('p') || kind.startsWith('msg:'));
          const [length, contentStart] = varint(pos, end, 5, 'length');
          const contentEnd = contentStart + length;
          if (contentEnd > end) bad(`${type} field ${field} says ${length} bytes but ${end - contentStart} remain`, start);
          if (kind === 'pi32' && length % 4 !== 0) bad(`${type} field ${field}: packed 32-bit values in ${length} bytes`, start);
          if (kind === 'pi64' && length % 8 !== 0) bad(`${type} field ${field}: packed 64-bit values in ${length} bytes`, start);
          if (kind === 'pvarint') for (let p = contentStart; p < contentEnd;) p = varint(p, contentEnd, 10, 'packed varint')[1];
          if (kind?.startsWith('msg:')) walk(contentStart, contentEnd, kind.slice(4), depth + 1);
          pos = contentEnd;
          break;
        }
        default:
          bad(`${type} field ${field} has wire type ${wire}${wire === 3 || wire === 4 ? ' (a group, which ONNX does not use)' : ''}`, start);
      }
    }
  };
  walk(0, bytes.length, 'ModelProto', 0);
}
