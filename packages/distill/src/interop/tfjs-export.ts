// Any Retort model as a TensorFlow.js LayersModel (model.json topology + one weight shard),
// platform-neutral. An MLP keeps its Sequential of Dense layers (./tfjs-layers.ts mlpToTfjs);
// any other graph becomes a Sequential when it is a chain and a functional Model (class_name
// "Model", inbound_nodes) when it has residual adds. Keras is channels last like Retort, so every
// kernel goes as it is (HWIO conv kernels, [in, out] dense kernels) and Flatten orders features
// (h, w, c) as Retort does. One Keras layer per Retort layer, named as the layer:
//
//   dense            Dense (activation linear)
//   conv2d           Conv2D (padding valid / same; a number of pixels: ZeroPadding2D + Conv2D valid)
//   depthwiseConv2d  DepthwiseConv2D (depth_multiplier), as is a conv2d with one group per channel
//   maxPool2d        MaxPooling2D;  avgPool2d  AveragePooling2D  (valid / same: TensorFlow's rules,
//                    padding neither wins nor counts, as in Retort)
//   globalAvgPool    GlobalAveragePooling2D
//   batchNorm        BatchNormalization (gamma, beta, moving_mean, moving_variance; Keras momentum
//                    = 1 - Retort's, which mixes in the batch's share as PyTorch does)
//   layerNorm        LayerNormalization (axis -1)
//   relu, gelu       Activation('relu'), Activation('gelu') (tfjs's gelu is the exact erf form)
//   flatten          Flatten;  residual  its branches, then Add;  dropout  nothing (inference)
// Refused, with a RangeError naming the layer: a grouped convolution that is not depthwise
// (tfjs-layers has no `groups`), and pooling over a number of padding pixels (ZeroPadding2D
// would let zeros win a max and count in an average, which Retort's padding never does).
// The spec and the input normalisation travel in userDefinedMetadata.retort.

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { Model } from '../model/model.js';
import { pairOf } from '../model/layer-spec.js';
import type { GraphNode } from '../model/graph.js';
import { compileSpec, formatModelSpec, parseModelSpec, type ModelSpec } from '../model/spec.js';
import { disposeTfjsModel, mlpToTfjs, savedModel, type TfjsExport, type TfjsExportOptions } from './tfjs-layers.js';
import { checkInputNorm } from '../data/dataset.js';

/** A model to export: a Model, or a spec with its flat params (and state when it has batch norm). */
export type TfjsExportSource = Model | { spec: ModelSpec | string | object; params: Float32Array; state?: Float32Array };

/** How a node's output is made in tfjs-layers: one or two layers, and the weights to set on each. */
interface PlannedLayer { layer: tfl.layers.Layer; weights: { shape: number[]; values: Float32Array }[] }

/**
 * The LayersModel of any Retort model (see the top of this file), built by tfjs-layers itself and
 * saved through a save handler, so the Keras JSON, the weight manifest and the weight buffer are
 * tfjs's own; the same model always gives the same files. Needs a tfjs backend (awaits tf.ready()).
 */
export async function modelToTfjs(model: TfjsExportSource, opts: TfjsExportOptions = {}): Promise<TfjsExport> {
  if (opts.normalization !== undefined) {
    checkInputNorm(opts.normalization, undefined, 'modelToTfjs: normalization');
  }
  const spec = model instanceof Model ? model.spec : parseModelSpec(model.spec);
  const params = model instanceof Model ? model.readParams() : model.params;
  const state = model instanceof Model ? model.readState() : model.state;
  if (spec.type === 'mlp') return mlpToTfjs({ spec, params }, opts);
  const g = compileSpec(spec);
  if (!(params instanceof Float32Array) || params.length !== g.paramCount) {
    throw new RangeError(`modelToTfjs: got ${params instanceof Float32Array ? params.length : typeof params} parameters but ${formatModelSpec(spec).slice(0, 80)} has ${g.paramCount}`);
  }
  if (g.stateCount > 0 && (!(state instanceof Float32Array) || state.length !== g.stateCount)) {
    throw new RangeError(`modelToTfjs: ${formatModelSpec(spec).slice(0, 80)} has ${g.stateCount} state values (batch-norm running statistics) but got ${state instanceof Float32Array ? state.length : 'none'}`);
  }
  // every check before tfjs builds anything
  const refuse = (n: GraphNode, why: string): never => { throw new RangeError(`modelToTfjs: ${n.spec.type} '${n.name}' ${why}`); };
  if (g.nodes[0]?.spec.type === 'embedding') {
    // Keras reads padding from a mask (Embedding mask_zero: id 0 pads), Retort from the ids (-1 after
    // the tokens, id 0 a real token); a saved LayersModel keeps no mask that would keep padding out of
    // attention keys, mean pooling and a language model's rows, and tfjs-layers' MultiHeadAttention
    // (einsum) computes no gradient, so the file would not be the model Retort trained.
    refuse(g.nodes[0]!, 'reads token ids with -1 padding, which a TensorFlow.js LayersModel cannot mask the way Retort does (Keras masks id 0, a real token here); text models export to ONNX (retort export --format onnx)');
  }
  for (const n of g.nodes) {
    const s = n.spec;
    if ((s.type === 'conv2d' || s.type === 'depthwiseConv2d') && s.type === 'conv2d' && !(s.groups === n.inShape[2]! && n.inShape[2]! > 1) && s.groups !== 1) {
      refuse(n, `has ${s.groups} groups of ${n.params[0]!.shape[2]} channels: tfjs-layers has no grouped convolution (only depthwise, one group per channel)`);
    }
    if ((s.type === 'maxPool2d' || s.type === 'avgPool2d') && typeof s.padding === 'number' && s.padding > 0) {
      refuse(n, `pads ${s.padding} pixels: Keras pools over 'valid' or 'same' windows only, and ZeroPadding2D would let the padding ${s.type === 'maxPool2d' ? 'win the max' : 'count in the average'}`);
    }
  }
  const taken = new Set(g.nodes.map((n) => n.name));
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const inputName = fresh('input');
  const tensor = (n: GraphNode, kind: string, from: 'params' | 'state' = 'params'): Float32Array => {
    const d = (from === 'params' ? n.params : n.state).find((t) => t.name === `${n.name}.${kind}`)!;
    return (from === 'params' ? params : state!).subarray(d.offset, d.offset + d.length);
  };
  const channelsLast = { dataFormat: 'channelsLast' as const };
  // a chain of single-input layers is a Sequential (its first layer takes the batch input shape); residual adds make a functional Model
  const chain = g.nodes.every((n, i) => n.inputs.length === 1 && n.inputs[0] === i - 1);
  let first = chain;
  const arg = <T extends object>(cfg: T): T => {
    if (!first) return cfg;
    first = false;
    return { ...cfg, batchInputShape: [null, ...g.inputShape] };
  };
  /** The layers of one node, in order (none for dropout). */
  const layersOf = (n: GraphNode): PlannedLayer[] => {
    const s = n.spec;
    const w = (shape: readonly number[], values: Float32Array) => ({ shape: [...shape], values });
    switch (s.type) {
      case 'dropout': return [];
      case 'dense':
        return [{ layer: tfl.layers.dense(arg({ name: n.name, units: s.units, activation: 'linear', useBias: s.bias })),
          weights: [w(n.params[0]!.shape, tensor(n, 'w')), ...(s.bias ? [w([s.units], tensor(n, 'b'))] : [])] }];
      case 'conv2d': case 'depthwiseConv2d': {
        const [KH, KW, Cg, O] = n.params[0]!.shape as [number, number, number, number];
        const C = n.inShape[2]!;
        const depthwise = s.type === 'depthwiseConv2d' || (s.groups === C && C > 1);
        const out: PlannedLayer[] = [];
        let padding = s.padding;
        if (typeof padding === 'number') {
          if (padding > 0) out.push({ layer: tfl.layers.zeroPadding2d(arg({ name: fresh(`${n.name}_pad`), padding: [[padding, padding], [padding, padding]] as [[number, number], [number, number]], ...channelsLast })), weights: [] });
          padding = 'valid';
        }
        const common = { name: n.name, kernelSize: [KH, KW] as [number, number], strides: pairOf(s.stride), padding, ...channelsLast, dilationRate: [1, 1] as [number, number], activation: 'linear' as const, useBias: s.bias };
        const bias = s.bias ? [w([O], tensor(n, 'b'))] : [];
        out.push(depthwise
          ? { layer: tfl.layers.depthwiseConv2d(arg({ ...common, depthMultiplier: O / C })), weights: [w([KH, KW, C, O / C], tensor(n, 'w')), ...bias] }
          : { layer: tfl.layers.conv2d(arg({ ...common, filters: O })), weights: [w([KH, KW, Cg, O], tensor(n, 'w')), ...bias] });
        return out;
      }
      case 'maxPool2d': case 'avgPool2d': {
        const cfg = { name: n.name, poolSize: pairOf(s.size), strides: pairOf(s.stride ?? s.size), padding: s.padding === 'same' ? 'same' as const : 'valid' as const, ...channelsLast };
        return [{ layer: s.type === 'maxPool2d' ? tfl.layers.maxPooling2d(arg(cfg)) : tfl.layers.averagePooling2d(arg(cfg)), weights: [] }];
      }
      case 'globalAvgPool':
        return [{ layer: tfl.layers.globalAveragePooling2d(arg({ name: n.name, ...channelsLast })), weights: [] }];
      case 'batchNorm': {
        const c = n.outShape[n.outShape.length - 1]!;
        return [{ layer: tfl.layers.batchNormalization(arg({ name: n.name, axis: -1, momentum: Number((1 - s.momentum).toPrecision(12)), epsilon: s.eps, center: true, scale: true })),
          weights: [w([c], tensor(n, 'gamma')), w([c], tensor(n, 'beta')), w([c], tensor(n, 'running_mean', 'state')), w([c], tensor(n, 'running_var', 'state'))] }];
      }
      case 'layerNorm': {
        const c = n.outShape[n.outShape.length - 1]!;
        return [{ layer: tfl.layers.layerNormalization(arg({ name: n.name, axis: -1, epsilon: s.eps, center: true, scale: true })), weights: [w([c], tensor(n, 'gamma')), w([c], tensor(n, 'beta'))] }];
      }
      case 'relu': case 'gelu':
        return [{ layer: tfl.layers.activation(arg({ name: n.name, activation: s.type as 'relu' })), weights: [] }];
      case 'flatten':
        return [{ layer: tfl.layers.flatten(arg({ name: n.name })), weights: [] }];
      case 'add':
        return [{ layer: tfl.layers.add(arg({ name: n.name })), weights: [] }];
    }
    return refuse(n, 'has no TensorFlow.js layer');
  };

  await tf.ready();
  const planned = g.nodes.map(layersOf);
  if (planned.every((p) => p.length === 0)) throw new RangeError('modelToTfjs: the graph has no layer to export');
  const name = opts.name ?? 'retort';
  let built: tfl.LayersModel;
  if (chain) {
    const layers = planned.flat().map((p) => p.layer);
    built = tfl.sequential({ name, layers });
  } else {
    const input = tfl.input({ name: inputName, shape: [...g.inputShape] });
    const outOf: tfl.SymbolicTensor[] = [];
    g.nodes.forEach((n, i) => {
      let x: tfl.SymbolicTensor | tfl.SymbolicTensor[] = n.inputs.map((j) => (j < 0 ? input : outOf[j]!));
      if (x.length === 1) x = x[0]!;
      for (const p of planned[i]!) x = p.layer.apply(x) as tfl.SymbolicTensor;
      outOf.push(x as tfl.SymbolicTensor);
    });
    built = tfl.model({ name, inputs: input, outputs: outOf[outOf.length - 1]! });
  }
  try {
    for (const p of planned.flat()) {
      if (p.weights.length === 0) continue;
      const ts = p.weights.map((x) => tf.tensor(x.values, x.shape, 'float32'));
      p.layer.setWeights(ts);
      tf.dispose(ts);
    }
    built.setUserDefinedMetadata({ retort: { spec, ...(opts.normalization ? { normalization: opts.normalization } : {}), inputLayout: 'NHWC' } } as {});
    return await savedModel(built);
  } finally {
    disposeTfjsModel(built);
  }
}

/** The export as ModelArtifacts, e.g. for tf.loadLayersModel(tf.io.fromMemory(...)) in a browser. */
export async function modelToModelArtifacts(model: TfjsExportSource, opts: TfjsExportOptions = {}): Promise<tf.io.ModelArtifacts> {
  const { modelJson, weightData } = await modelToTfjs(model, opts);
  const manifest = modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
  return {
    modelTopology: modelJson.modelTopology as {},
    weightSpecs: manifest[0]!.weights,
    weightData: weightData.buffer as ArrayBuffer,
    format: 'layers-model',
    generatedBy: modelJson.generatedBy as string,
    convertedBy: null,
    userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, {}>,
  };
}
