// A TensorFlow.js LayersModel as a Retort model (platform-neutral), when every layer is one
// Retort can represent: a Sequential, or a functional model whose merges are Add layers
// (recovered as residual blocks, ./graph-import.ts). Layers read, channels last as in Retort:
//
//   InputLayer; Dense; Conv2D (valid / same; after a ZeroPadding2D of p pixels on every side,
//   valid -> padding p); DepthwiseConv2D; MaxPooling2D; AveragePooling2D; GlobalAveragePooling2D;
//   BatchNormalization and LayerNormalization over the last axis; Activation / layer activations
//   relu, gelu (the erf form; tfjs's gelu_new is the tanh approximation) and linear; ReLU
//   (without max value or threshold); Flatten; Add of two tensors; Dropout-like layers (skipped);
//   a softmax last (dropped: Retort models output logits).
//
// Anything else — another layer, activation or merge, a shared layer, a nested model, dilation,
// channels-first data — is a DataFormatError naming the layer and its class, so that callers
// (node/run.ts) keep running such a model as a teacher through TensorFlow.js itself. A chain of
// Dense layers with ReLU between them is an MLP spec, as mlpFromTfjsModel made it; a Retort
// export comes back with the spec and normalisation of userDefinedMetadata.retort.

import type * as tfl from '@tensorflow/tfjs-layers';
import type { Core } from '@retort/core-wasm';
import { DataFormatError } from '../data/errors.js';
import { createModel, type Model } from '../model/index.js';
import type { NodeSpec } from '../model/graph.js';
import { compileSpec, parseModelSpec, SpecError, type ModelSpec } from '../model/spec.js';
import { asMlpImport, buildGraph, graphDifference, type ImportOp } from './graph-import.js';
import { quoteName } from './safetensors.js';
import type { InputNorm } from '../data/dataset.js';

export interface TfjsModelImport {
  model: Model;
  spec: ModelSpec;
  /** True when the model ended in a softmax, which was dropped: Retort models output logits. */
  softmaxDropped: boolean;
  /** Layers skipped as no-ops at inference (InputLayer, Dropout, linear Activation, ...). */
  skipped: string[];
  /** The input normalisation a Retort export recorded (userDefinedMetadata.retort.normalization), else null. */
  normalization: InputNorm | null;
}

const INFERENCE_NOOPS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);
const READ = new Set([
  'InputLayer', 'Flatten', 'Dense', 'Conv2D', 'DepthwiseConv2D', 'ZeroPadding2D', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D',
  'BatchNormalization', 'LayerNormalization', 'Activation', 'ReLU', 'Softmax', 'Add', ...INFERENCE_NOOPS,
]);

/** What flows out of a layer. */
interface Flow {
  /** The op computing it (-1: the model input). */
  op: number;
  /** Per-sample shape. */
  shape: number[];
  /** The model input taken as flat features; its Flatten changes nothing. */
  flattenedInput: boolean;
  /** A ZeroPadding2D of this many pixels on every side, waiting for the valid convolution it belongs to. */
  pad: number;
  softmax: boolean;
}

/**
 * A Retort model from a built LayersModel (see the top of this file); `file` names the model in
 * errors. The caller owns the returned model (free()); the tfjs model is left as it is.
 */
export function modelFromTfjsModel(core: Core, model: tfl.LayersModel, file = 'model.json'): TfjsModelImport {
  const refuse = (layer: tfl.layers.Layer, why = ''): never => {
    throw new DataFormatError(file, `layer ${quoteName(layer.name)} (${layer.getClassName()}) cannot be represented by a Retort model${why}; use it as a teacher with loadTfjsTeacher instead`);
  };
  const fail = (problem: string): never => { throw new DataFormatError(file, problem); };
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    fail(`the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; a Retort model has one of each; use it as a teacher with loadTfjsTeacher instead`);
  }
  const inputShape = model.inputs[0]!.shape.slice(1);
  if (!inputShape.every((d): d is number => typeof d === 'number' && d > 0)) fail(`the model's input shape [${inputShape.map(String).join(', ')}] is not fully known`);
  const known = inputShape as number[];
  const flows = new Map<tfl.layers.Layer, Flow>();
  const ops: ImportOp[] = [];
  const skipped: string[] = [];
  const inputFlow: Flow = { op: -1, shape: known, flattenedInput: known.length !== 1 && known.length !== 3, pad: 0, softmax: false };
  const sequentialChain = (model as { getClassName(): string }).getClassName() === 'Sequential';
  let previous: Flow = inputFlow;

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const label = `layer ${quoteName(layer.name)} (${cls})`;
    const cfg = layer.getConfig() as Record<string, unknown>;
    if (cls === 'InputLayer') { flows.set(layer, inputFlow); skipped.push(layer.name); continue; }
    if (cls === 'Sequential' || cls === 'Model' || cls === 'Functional') refuse(layer, ' (a nested model)');
    if (!READ.has(cls)) refuse(layer);
    // what it reads: one inbound node (a layer used once), from layers already read
    let inputs: Flow[];
    if (layer.inboundNodes.length !== 1) refuse(layer, ` (it is used ${layer.inboundNodes.length} times; Retort's layers are used once)`);
    const inbound = layer.inboundNodes[0]!.inboundLayers;
    if (inbound.length === 0 && sequentialChain) inputs = [previous];
    else {
      inputs = inbound.map((l) => flows.get(l) ?? (l.getClassName() === 'InputLayer' ? inputFlow : refuse(layer, ` (it reads ${quoteName(l.name)}, which is not read yet)`)));
    }
    for (const f of inputs) if (f.softmax) refuse(layer, ' (it follows a softmax; a softmax must be last)');
    const x = inputs[0]!;
    const outShape = (layer.outputShape as (number | null)[]).slice(1) as number[];
    const tensors = new Map<string, Float32Array>();
    const values = layer.weights.length > 0 ? layer.getWeights() : [];
    layer.weights.forEach((w, i) => {
      tensors.set(w.originalName.slice(w.originalName.lastIndexOf('/') + 1), values[i]!.dataSync() as Float32Array);
    });
    const push = (spec: NodeSpec, from: Flow[], t: Map<string, Float32Array> = new Map(), shape = outShape): Flow => {
      ops.push({ layer: spec, inputs: from.map((f) => f.op), tensors: t, label });
      return { op: ops.length - 1, shape, flattenedInput: false, pad: 0, softmax: false };
    };
    if (cls !== 'Conv2D' && cls !== 'DepthwiseConv2D' && x.pad > 0) refuse(layer, ' (it reads a ZeroPadding2D, which Retort reads only before a valid convolution)');
    if (x.flattenedInput && cls !== 'Flatten' && !INFERENCE_NOOPS.has(cls)) refuse(layer, ` (it reads the rank-${known.length + 1} input, which Retort takes flattened only)`);
    if (typeof cfg.dataFormat === 'string' && cfg.dataFormat !== 'channelsLast') refuse(layer, ` (data format ${cfg.dataFormat}; Retort is channels last)`);
    const activation = (act: unknown, f: Flow): Flow => {
      if (act === undefined || act === null || act === 'linear') return f;
      if (act === 'relu' || act === 'gelu') return push({ type: act }, [f], new Map(), f.shape);
      if (act === 'softmax') return { ...f, softmax: true };
      return refuse(layer, ` (activation ${JSON.stringify(act)})`);
    };
    const pair = (v: unknown): number | [number, number] => {
      const p = Array.isArray(v) ? v as number[] : [v as number, v as number];
      return p[0] === p[1] ? p[0]! : [p[0]!, p[1]!];
    };
    const noDilation = (): void => {
      const d = cfg.dilationRate;
      if (!(d === undefined || d === 1 || (Array.isArray(d) && d.every((v) => v === 1)))) refuse(layer, ` (dilation ${JSON.stringify(d)})`);
    };
    const lastAxis = (): void => {
      const a = Array.isArray(cfg.axis) && cfg.axis.length === 1 ? cfg.axis[0] : cfg.axis;
      if (a !== -1 && a !== x.shape.length) refuse(layer, ` (axis ${JSON.stringify(cfg.axis)}; Retort normalises the last axis)`);
    };
    let out: Flow;
    switch (cls) {
      case 'Flatten':
        if (x.flattenedInput) skipped.push(layer.name);
        out = x.flattenedInput ? { ...x, shape: outShape, flattenedInput: false } : push({ type: 'flatten' }, [x]);
        break;
      case 'Dense':
        if (x.shape.length !== 1) refuse(layer, ` (it is applied to rank-${x.shape.length} samples; put a Flatten before it)`);
        out = activation(cfg.activation, push({ type: 'dense', units: cfg.units as number, bias: cfg.useBias !== false }, [x], renamed(tensors, { kernel: 'w', bias: 'b' })));
        break;
      case 'Conv2D': case 'DepthwiseConv2D': {
        noDilation();
        if (cfg.padding !== 'valid' && cfg.padding !== 'same') refuse(layer, ` (padding ${JSON.stringify(cfg.padding)})`);
        if (x.pad > 0 && cfg.padding !== 'valid') refuse(layer, ' (it pads twice: a ZeroPadding2D, then its own same padding)');
        const kernel = pair(cfg.kernelSize), stride = pair(cfg.strides ?? 1);
        const padding = x.pad > 0 ? x.pad : cfg.padding as 'valid' | 'same';
        const bias = cfg.useBias !== false;
        const spec: NodeSpec = cls === 'Conv2D'
          ? { type: 'conv2d', filters: cfg.filters as number, kernel, stride, padding, groups: 1, bias }
          : { type: 'depthwiseConv2d', kernel, stride, padding, multiplier: (cfg.depthMultiplier as number | undefined) ?? 1, bias };
        out = activation(cfg.activation, push(spec, [x], renamed(tensors, { kernel: 'w', depthwise_kernel: 'w', bias: 'b' })));
        break;
      }
      case 'ZeroPadding2D': {
        const p = cfg.padding as number[][] | undefined;
        const v = p?.[0]?.[0];
        if (!Array.isArray(p) || typeof v !== 'number' || !p.flat().every((d) => d === v)) refuse(layer, ` (padding ${JSON.stringify(p)}: Retort pads the same number of pixels on every side)`);
        out = { ...x, shape: outShape, pad: v! };
        break;
      }
      case 'MaxPooling2D': case 'AveragePooling2D':
        if (cfg.padding !== 'valid' && cfg.padding !== 'same') refuse(layer, ` (padding ${JSON.stringify(cfg.padding)})`);
        out = push({ type: cls === 'MaxPooling2D' ? 'maxPool2d' : 'avgPool2d', size: pair(cfg.poolSize), stride: pair(cfg.strides ?? cfg.poolSize), padding: cfg.padding as 'valid' | 'same' }, [x]);
        break;
      case 'GlobalAveragePooling2D':
        if (cfg.keepDims === true || cfg.keepdims === true) refuse(layer, ' (keepdims)');
        out = push({ type: 'globalAvgPool' }, [x]);
        break;
      case 'BatchNormalization': {
        lastAxis();
        const c = x.shape[x.shape.length - 1]!;
        const m = cfg.momentum as number;
        const t = new Map([
          ['gamma', tensors.get('gamma') ?? new Float32Array(c).fill(1)], ['beta', tensors.get('beta') ?? new Float32Array(c)],
          ['running_mean', tensors.get('moving_mean')!], ['running_var', tensors.get('moving_variance')!],
        ]);
        // Keras keeps `momentum` of the running statistics, Retort (as PyTorch) mixes in `momentum` of the batch's
        out = push({ type: 'batchNorm', momentum: m > 0 && m < 1 ? Number((1 - m).toPrecision(12)) : 0.1, eps: cfg.epsilon as number }, [x], t);
        break;
      }
      case 'LayerNormalization': {
        lastAxis();
        const c = x.shape[x.shape.length - 1]!;
        out = push({ type: 'layerNorm', eps: cfg.epsilon as number }, [x],
          new Map([['gamma', tensors.get('gamma') ?? new Float32Array(c).fill(1)], ['beta', tensors.get('beta') ?? new Float32Array(c)]]));
        break;
      }
      case 'Activation':
        if (cfg.activation === 'linear') skipped.push(layer.name);
        out = activation(cfg.activation, x);
        break;
      case 'ReLU':
        if ((cfg.maxValue ?? null) !== null || (cfg.threshold ?? 0) !== 0 || (cfg.negativeSlope ?? 0) !== 0) refuse(layer, ` (maxValue ${JSON.stringify(cfg.maxValue)})`);
        out = push({ type: 'relu' }, [x]);
        break;
      case 'Softmax':
        if (cfg.axis !== undefined && cfg.axis !== -1) refuse(layer, ` (softmax over axis ${JSON.stringify(cfg.axis)})`);
        out = { ...x, softmax: true };
        break;
      case 'Add':
        if (inputs.length !== 2) refuse(layer, ` (it adds ${inputs.length} tensors; Retort adds two)`);
        out = push({ type: 'add' }, inputs);
        break;
      default: // the inference no-ops
        skipped.push(layer.name);
        out = x;
    }
    flows.set(layer, out);
    previous = out;
  }

  const last = model.outputs[0]!.sourceLayer;
  const result = flows.get(last) ?? fail(`the model's output layer ${quoteName(last.name)} was not read`);
  if (result.op < 0) fail('the model has no layer Retort reads (its output is its input)');
  if (result.pad > 0 || result.shape.length !== 1) fail(`the model outputs [${result.shape.join(', ')}] per sample; a Retort model outputs class scores (add a Flatten and a Dense layer)`);
  const retortInput = inputFlow.flattenedInput ? [known.reduce((a, b) => a * b, 1)] : known;
  const built = buildGraph(ops, result.op, retortInput, fail);
  const mlp = asMlpImport(built);
  let spec: ModelSpec = mlp ? mlp.spec : built.spec;
  let params = mlp ? mlp.params : built.params;
  let state = built.state;
  const meta = model.getUserDefinedMetadata() as { retort?: { spec?: unknown; normalization?: unknown } } | undefined;
  if (meta?.retort?.spec) {
    try {
      const saved = parseModelSpec(meta.retort.spec as object, 'model');
      if (saved.type === 'mlp' && mlp) {
        if (saved.sizes.join('-') === mlp.spec.sizes.join('-')) spec = saved;
      } else if (graphDifference(compileSpec(saved), built.graph) === null) {
        spec = saved;
        params = built.params;
        state = built.state;
      }
    } catch (e) {
      if (!(e instanceof SpecError)) throw e; // not ours, or not valid: the graph as read
    }
  }
  const norm = meta?.retort?.normalization as { mean?: unknown; std?: unknown } | undefined;
  const value = (v: unknown, positive: boolean): v is number | number[] => {
    const ok = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0);
    return ok(v) || (Array.isArray(v) && v.length > 0 && v.every(ok));
  };
  const normalization: InputNorm | null = norm && value(norm.mean, false) && value(norm.std, true) ? { mean: norm.mean, std: norm.std } : null;
  const retort = createModel(core, spec);
  try {
    retort.writeParams(params);
    if (retort.stateCount > 0) retort.writeState(state);
  } catch (e) {
    retort.free();
    throw e;
  }
  return { model: retort, spec, softmaxDropped: result.softmax, skipped, normalization };
}

/** The tensors under Retort's kinds (kernel -> w, bias -> b). */
function renamed(tensors: Map<string, Float32Array>, names: Record<string, string>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of tensors) out.set(names[k] ?? k, v);
  return out;
}
