// ONNX import (bytes in; platform-neutral): the graphs Retort can represent become a Retort
// spec with its parameters and batch-norm running statistics. The operators read are those of
// ./onnx-nodes.ts (NCHW Conv, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization,
// LayerNormalization, Relu, Gelu or its erf form, Gemm, MatMul + Add, Flatten, Reshape,
// Transpose between NCHW and NHWC, Add of two branches, Identity, Dropout, Constant; FLOAT16,
// BFLOAT16 and DOUBLE models are converted to f32); a trailing Softmax or LogSoftmax is dropped
// (Retort models output logits). Add nodes of two values become residual blocks
// (./graph-import.ts). A chain of dense layers with ReLU between them imports as an MLP spec, as
// it always did; a Retort export comes back with the spec in its metadata, parameters and state
// bit for bit. Anything else is one DataFormatError naming the node and the operator.
//
// The graph input: [batch, features]; an image [batch, C, H, W] (NCHW), or [batch, H, W, C] when
// the graph Transposes it to NCHW first (as converters from TensorFlow write it); any other
// rank only when the graph Flattens it right away. Retort's model takes the same image
// channels last, [H, W, C].
//
// Before protobufjs decodes anything, the wire format is checked against ONNX's schema
// (./onnx-wire.ts); every size is validated against the declared dims before any parameter
// buffer is allocated.

import type { Shape } from '../model/graph.js';
import { compileSpec, parseModelSpec, SpecError, type ModelSpec } from '../model/spec.js';
import { DataFormatError } from '../data/errors.js';
import { asMlpImport, buildGraph, graphDifference, type ImportOp } from './graph-import.js';
import {
  checkInitializerInput, DT, dtypeName, FLOAT_BYTES, int64, MAX_ONNX_BYTES, ONNX_METADATA_KEYS, q, tensorType, type onnx,
} from './onnx-format.js';
import { onnxDims, readNode, type DataValue, type ImportContext } from './onnx-nodes.js';
import { decodeModelProto } from './onnx-wire.js';
import { parseNormValue, type InputNorm } from '../data/dataset.js';

/** Gemm without `broadcast`, Relu without `consumed_inputs`, Reshape with a shape input: opset 7 on. */
const MIN_OPSET = 7;
/** IR 3 introduced opset_import; the bound is a sanity check (IR 11 is current in 2025). */
const MAX_IR_VERSION = 100;
/** A sanity bound (ONNX releases add about one opset a year; runtimes read opsets as 32-bit ints). */
const MAX_OPSET = 1000;
/** Most nodes read: far beyond the networks Retort trains, it bounds the work of recovering residual blocks. */
const MAX_NODES = 100_000;
/** The last TensorProto.DataType ONNX defines (FLOAT8E8M0, ONNX 1.18). */
const MAX_DATA_TYPE = 24;

/** How the ONNX graph takes its input. */
export type OnnxImportLayout = 'NCHW' | 'NHWC' | 'features';

/** What importOnnx recovered from a file. */
export interface OnnxImport {
  /** An `mlp` spec for a chain of dense layers with ReLU between them, else a graph (or the spec a Retort export recorded). */
  spec: ModelSpec;
  /** Flat parameters in the spec's layout. */
  params: Float32Array;
  /** Flat state (batch-norm running statistics) in the spec's layout; empty when it has none. */
  state: Float32Array;
  /** metadata_props as key -> value. */
  metadata: Record<string, string>;
  /** The input normalisation recorded by Retort's exporter (retort.input.mean/std), if any. */
  normalization: InputNorm | null;
  /** How the ONNX graph takes its input (the Retort model takes images channels last). */
  inputLayout: OnnxImportLayout;
  /** producer_name and producer_version, e.g. "retort", "pytorch 2.3". */
  producer: string;
  /** What the import changed, dropped or ignored, one line each (empty for a Retort export). */
  notes: string[];
}

/**
 * A Retort spec, flat params and state from ONNX ModelProto bytes. `fileName` names the input
 * in errors. Throws DataFormatError for anything that is not a valid ONNX model Retort can represent.
 */
export function importOnnx(bytes: Uint8Array, fileName = '<onnx bytes>'): OnnxImport {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('importOnnx: bytes must be a Uint8Array');
  const fail = (problem: string): never => { throw new DataFormatError(fileName, problem); };
  if (bytes.length > MAX_ONNX_BYTES) fail(`${bytes.length} bytes is larger than the ${MAX_ONNX_BYTES}-byte limit for an ONNX model`);
  if (bytes.length === 0) fail('empty file (not an ONNX model)');

  // the wire format first: protobufjs's generated decoder trusts wire types (onnx-wire.ts)
  const model = decodeModelProto(bytes, fail);
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
  if ((metadata.get(ONNX_METADATA_KEYS.layout) ?? '').startsWith('tokens')) {
    fail("a Retort text model's export (token ids in, the masks built in the graph) does not import back; keep the .retort file it came from");
  }

  // ---- values: initializers, the graph input, node outputs (each defined once)
  const initializers = new Map<string, onnx.ITensorProto>();
  for (const t of graph.initializer ?? []) {
    const name = t.name ?? '';
    if (name === '') fail('an initializer has no name');
    if (initializers.has(name)) fail(`initializer ${q(name)} is defined twice`);
    // onnxruntime refuses a tensor without a type even when nothing reads it
    if (!(t.dataType !== undefined && t.dataType !== null && t.dataType >= 1 && t.dataType <= MAX_DATA_TYPE)) fail(`initializer ${q(name)} has no valid data type (${t.dataType ?? 'none'})`);
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
    fail(inputs.length === 0 ? 'the graph has no input' : `the graph has ${inputs.length} inputs (${inputs.slice(0, 4).map((v) => q(v.name ?? '')).join(', ')}); a Retort model takes one`);
  }
  const outputs = graph.output ?? [];
  if (outputs.length !== 1) {
    fail(outputs.length === 0 ? 'the graph has no output' : `the graph has ${outputs.length} outputs (${outputs.slice(0, 4).map((v) => q(v.name ?? '')).join(', ')}); a Retort model has one (the logits)`);
  }
  const input = inputs[0]!, output = outputs[0]!;
  const inputName = input.name ?? '';
  if (inputName === '') fail('the graph input has no name');
  const inputType = tensorType(input, `input ${q(inputName)}`, fail);
  if (!FLOAT_BYTES.has(inputType.elemType)) fail(`input ${q(inputName)} has element type ${dtypeName(inputType.elemType)}; Retort models take floating-point input`);
  if (inputType.elemType !== DT.FLOAT) notes.push(`the model's ${dtypeName(inputType.elemType)} weights were converted to float32`);

  const rank = inputType.dims ? inputType.dims.length : null;
  if (rank !== null && rank < 2) fail(`input ${q(inputName)} has rank ${rank}; a Retort model takes [batch, features] or [batch, channels, height, width]`);
  const inputDims = inputType.dims;
  if (inputDims) {
    for (const [k, d] of inputDims.entries()) {
      if (k > 0 && d !== null && d < 1) fail(`input ${q(inputName)} dimension ${k} is ${d}; feature dimensions must be positive`);
    }
  }

  // ---- how the input is taken: flat features, NCHW or NHWC images
  const nodes = graph.node ?? [];
  if (nodes.length > MAX_NODES) fail(`the graph has ${nodes.length} nodes, more than the ${MAX_NODES} Retort reads`);
  const readers = new Map<string, number>();
  for (const node of nodes) for (const name of node.input ?? []) readers.set(name, (readers.get(name) ?? 0) + 1);
  const inputReaders = nodes.filter((n) => (n.input ?? []).includes(inputName));
  const flattens = inputReaders.length > 0 && inputReaders.every((n) => n.opType === 'Flatten' || n.opType === 'Reshape');
  const toNchw = inputReaders.some((n) => n.opType === 'Transpose');
  let layout: OnnxImportLayout = 'features';
  if (rank === 4 && !flattens) layout = toNchw ? 'NHWC' : 'NCHW';
  else if (rank !== null && rank !== 2 && !flattens) {
    fail(`input ${q(inputName)} has rank ${rank}; a Retort model takes [batch, features] or [batch, channels, height, width] (or a rank flattened by the first node)`);
  }
  const rest = inputDims ? inputDims.slice(1) : null;
  let start: DataValue;
  const base = { kind: 'data', op: -1, squeezed: false, order: null, fromInput: true, denseOut: null, softmax: null } as const;
  if (layout === 'features') {
    const width = rest && rest.every((d) => d !== null) ? rest.reduce((a: number, d) => a * d!, 1) : null;
    if (width !== null && !Number.isSafeInteger(width)) fail(`input ${q(inputName)} has too many features`);
    start = { ...base, layout: 'flat', shape: [width], flattenedInput: rank !== null && rank !== 2 };
  } else {
    if (rest!.some((d) => d === null)) fail(`input ${q(inputName)} has an unknown size [${inputDims!.map((d) => d ?? '?').join(', ')}]; an image input needs its channels, height and width`);
    const [a, b, c] = rest as [number, number, number];
    start = { ...base, layout: layout === 'NCHW' ? 'nchw' : 'nhwc', shape: layout === 'NCHW' ? [b, c, a] : [a, b, c], flattenedInput: false };
  }

  // ---- the nodes, in order (ONNX requires a topological order), each with a name of its own when named
  const nodeNames = new Set<string>();
  nodes.forEach((n, i) => {
    if (!n.name) return;
    if (nodeNames.has(n.name)) fail(`node ${q(n.name)} (#${i}): another node has the same name`);
    nodeNames.add(n.name);
  });
  const ctx: ImportContext = {
    fileFail: fail, notes, constants: new Map(initializers), used: new Set(), elemType: inputType.elemType, opset,
    values: new Map([[inputName, start]]), ops: [], readers, inputWidth: null, inputRank: rank,
  };
  nodes.forEach((node, index) => readNode(ctx, node, index));

  // ---- the output
  const outputName = output.name ?? '';
  const result = ctx.values.get(outputName);
  if (!result) {
    fail(ctx.constants.has(outputName) ? `output ${q(outputName)} is a constant, not computed from the input` : `output ${q(outputName)} is not computed by any node`);
  }
  const producerOf = new Map<string, number>();
  nodes.forEach((n, i) => { for (const o of n.output ?? []) producerOf.set(o, i); });
  // every node must lead to the output (Constant nodes nobody reads are ignored like unused initializers)
  const live = new Set<number>();
  const stack = [outputName];
  while (stack.length > 0) {
    const i = producerOf.get(stack.pop()!);
    if (i === undefined || live.has(i)) continue;
    live.add(i);
    for (const name of nodes[i]!.input ?? []) stack.push(name);
  }
  nodes.forEach((n, i) => {
    if (live.has(i) || n.opType === 'Constant') return;
    fail(`node ${n.name ? q(n.name) : `#${i}`} (${q(n.opType ?? '').slice(1, -1)}): its output ${q((n.output ?? [])[0] ?? '')} is not used on the way to the graph output ${q(outputName)}`);
  });
  if (result!.kind !== 'data') return fail(`output ${q(outputName)} is a step of a GELU pattern that is not finished`);
  const out = result!;
  if (out.op < 0) fail('the graph has no layer Retort reads (its output is its input)');
  if (out.layout !== 'flat' || out.squeezed) fail(`output ${q(outputName)} is ${out.squeezed ? 'a [batch, C, 1, 1] map' : `an ${out.layout.toUpperCase()} image`}; a Retort model outputs class scores [batch, classes] (add a Flatten)`);
  if (out.order) fail(`output ${q(outputName)} is a feature map flattened channels first; Retort flattens channels last, so it cannot output these features in this order (end with a dense layer)`);
  if (out.softmax) {
    const { op, node } = out.softmax;
    notes.push(`dropped the trailing ${op} node ${q(node)}: Retort models output logits; apply ${op === 'Softmax' ? 'softmax' : 'log-softmax'} to them to get the original outputs`);
  }
  // declared types (the output's, and value_info annotations) must agree with what the graph computes
  const batch = inputDims?.[0] ?? null;
  const checkDeclared = (v: onnx.IValueInfoProto, label: string, typeRequired: boolean): void => {
    const name = v.name ?? '';
    if (!typeRequired && !v.type) return; // value_info may leave the type out
    const t = initializers.get(name);
    if (t) {
      checkInitializerInput(v, t, fail);
      return;
    }
    const value = ctx.values.get(name);
    if (!value || value.kind !== 'data') return; // an annotation of nothing Retort reads as data
    const declared = tensorType(v, label, fail);
    if (declared.elemType !== inputType.elemType) fail(`${label} has element type ${dtypeName(declared.elemType)} but the graph computes ${dtypeName(inputType.elemType)}`);
    if (!declared.dims || (value.flattenedInput && value.op < 0)) return;
    const known = onnxDims(value, batch, ctx.inputWidth);
    if (declared.dims.length !== known.length || declared.dims.some((d, k) => d !== null && known[k] !== null && d !== known[k])) {
      fail(`${label} is declared [${declared.dims.map((d) => d ?? '?').join(', ')}] but the graph computes [${known.map((d, k) => d ?? (k === 0 ? 'batch' : '?')).join(', ')}]`);
    }
  };
  checkDeclared(output, `output ${q(outputName)}`, true);
  for (const v of graph.valueInfo ?? []) checkDeclared(v, `value_info ${q(v.name ?? '')}`, false);
  const unused = [...initializers.keys()].filter((k) => !ctx.used.has(k));
  if (unused.length > 0) notes.push(`ignored ${unused.length} unused initializer${unused.length > 1 ? 's' : ''} (${unused.slice(0, 3).map(q).join(', ')}${unused.length > 3 ? ', ...' : ''})`);
  const width = start.layout === 'flat' ? start.shape[0] ?? ctx.inputWidth : null;
  if (start.layout === 'flat' && width === null) fail(`input ${q(inputName)}: its feature count is not known (declare the input's shape)`);
  if (start.flattenedInput) notes.push(`the ${rank}-D input is flattened: feed [batch, ${width}] rows`);

  // ---- the tensors (each checked against its data above), then the spec
  const inputShape: Shape = start.layout === 'flat' ? [width!] : start.shape as number[];
  const ops: ImportOp[] = ctx.ops.map((o) => ({ layer: o.layer, inputs: o.inputs, label: o.label, tensors: new Map([...o.tensors].map(([k, f]) => [k, f()])) }));
  const built = buildGraph(ops, out.op, inputShape, fail);
  const mlp = asMlpImport(built);
  let spec: ModelSpec = mlp ? mlp.spec : built.spec;
  let params = mlp ? mlp.params : built.params;
  let state = built.state;
  const savedSpec = metadata.get(ONNX_METADATA_KEYS.spec);
  if (savedSpec !== undefined) {
    let saved: ModelSpec;
    try {
      saved = parseModelSpec(savedSpec);
      compileSpec(saved);
    } catch (e) {
      if (e instanceof SpecError) return fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} is not a valid spec (${e.message})`);
      throw e;
    }
    if (saved.type === 'mlp' && mlp) {
      const a = saved.sizes.join('-'), b = mlp.spec.sizes.join('-');
      if (a !== b) fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} says ${a} but the graph computes ${b}`);
    } else {
      const diff = graphDifference(compileSpec(saved), built.graph);
      if (diff !== null) fail(`metadata ${q(ONNX_METADATA_KEYS.spec)} describes another model than the graph: ${diff}`);
      params = built.params;
      state = built.state;
    }
    spec = saved; // keeps names, dropout, presets and training settings, which the graph cannot show
  }
  let normalization: OnnxImport['normalization'] = null;
  const meanText = metadata.get(ONNX_METADATA_KEYS.mean), stdText = metadata.get(ONNX_METADATA_KEYS.std);
  if (meanText !== undefined || stdText !== undefined) {
    const mean = parseNormValue(meanText ?? ''), std = parseNormValue(stdText ?? '');
    const positive = (v: number | number[] | null): boolean => v !== null && (typeof v === 'number' ? v > 0 : v.every((x) => x > 0));
    if (mean === null || std === null || !positive(std)) {
      fail(`metadata ${q(ONNX_METADATA_KEYS.mean)} / ${q(ONNX_METADATA_KEYS.std)} must both be numbers or lists of numbers (std > 0), got ${q(meanText ?? '(missing)')} / ${q(stdText ?? '(missing)')}`);
    }
    normalization = { mean: mean!, std: std! };
  }
  if (spec.type === 'mlp') state = new Float32Array(0);
  const producer = [model.producerName ?? '', model.producerVersion ?? ''].filter((s) => s !== '').join(' ');
  return { spec, params, state, metadata: Object.fromEntries(metadata), normalization, inputLayout: layout, producer, notes };
}
