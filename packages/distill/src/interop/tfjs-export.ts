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
import { mlpToTfjs, TFJS_EXPORT_WEIGHTS_FILE, type TfjsExport, type TfjsExportOptions } from './tfjs-layers.js';
import { checkInputNorm } from '../data/dataset.js';

/** A model to export: a Model, or a spec with its flat params (and state when it has batch norm). */
export type TfjsExportSource = Model | { spec: ModelSpec | string | object; params: Float32Array; state?: Float32Array };

interface KerasLayer { name: string; class_name: string; config: Record<string, unknown>; inbound: string[] }

/** The LayersModel of any Retort model (see the top of this file); the same model always gives the same files. */
export function modelToTfjs(model: TfjsExportSource, opts: TfjsExportOptions = {}): TfjsExport {
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
  const taken = new Set(g.nodes.map((n) => n.name));
  const fresh = (base: string): string => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const inputName = fresh('input');
  const layers: KerasLayer[] = [];
  const weights: { name: string; shape: number[]; values: Float32Array }[] = [];
  const outOf: string[] = [];
  const nameOf = (i: number): string => (i < 0 ? inputName : outOf[i]!);
  const tensor = (n: GraphNode, kind: string, from: 'params' | 'state' = 'params'): Float32Array => {
    const d = (from === 'params' ? n.params : n.state).find((t) => t.name === `${n.name}.${kind}`)!;
    return (from === 'params' ? params : state!).subarray(d.offset, d.offset + d.length);
  };
  const refuse = (n: GraphNode, why: string): never => { throw new RangeError(`modelToTfjs: ${n.spec.type} '${n.name}' ${why}`); };
  const channelsLast = { data_format: 'channels_last' };

  for (const n of g.nodes) {
    const s = n.spec;
    if (s.type === 'dropout') { outOf.push(nameOf(n.inputs[0]!)); continue; }
    let inbound = n.inputs.map(nameOf);
    const add = (class_name: string, config: Record<string, unknown>, name = n.name): void => {
      layers.push({ name, class_name, config: { name, trainable: true, ...config }, inbound });
      inbound = [name];
    };
    const weight = (layer: string, kind: string, shape: readonly number[], values: Float32Array): void => {
      weights.push({ name: `${layer}/${kind}`, shape: [...shape], values });
    };
    switch (s.type) {
      case 'dense':
        add('Dense', { units: s.units, activation: 'linear', use_bias: s.bias });
        weight(n.name, 'kernel', n.params[0]!.shape, tensor(n, 'w'));
        if (s.bias) weight(n.name, 'bias', [s.units], tensor(n, 'b'));
        break;
      case 'conv2d': case 'depthwiseConv2d': {
        const [KH, KW, Cg, O] = n.params[0]!.shape as [number, number, number, number];
        const C = n.inShape[2]!;
        const depthwise = s.type === 'depthwiseConv2d' || (s.groups === C && C > 1);
        if (!depthwise && s.groups !== 1) {
          refuse(n, `has ${s.groups} groups of ${Cg} channels: tfjs-layers has no grouped convolution (only depthwise, one group per channel)`);
        }
        let padding = s.padding;
        if (typeof padding === 'number') {
          if (padding > 0) add('ZeroPadding2D', { padding: [[padding, padding], [padding, padding]], ...channelsLast }, fresh(`${n.name}_pad`));
          padding = 'valid';
        }
        const common = { kernel_size: [KH, KW], strides: pairOf(s.stride), padding, ...channelsLast, dilation_rate: [1, 1], activation: 'linear', use_bias: s.bias };
        if (depthwise) {
          add('DepthwiseConv2D', { ...common, depth_multiplier: O / C });
          weight(n.name, 'depthwise_kernel', [KH, KW, C, O / C], tensor(n, 'w'));
        } else {
          add('Conv2D', { ...common, filters: O });
          weight(n.name, 'kernel', [KH, KW, Cg, O], tensor(n, 'w'));
        }
        if (s.bias) weight(n.name, 'bias', [O], tensor(n, 'b'));
        break;
      }
      case 'maxPool2d': case 'avgPool2d': {
        if (typeof s.padding === 'number' && s.padding > 0) {
          refuse(n, `pads ${s.padding} pixels: Keras pools over 'valid' or 'same' windows only, and ZeroPadding2D would let the padding ${s.type === 'maxPool2d' ? 'win the max' : 'count in the average'}`);
        }
        add(s.type === 'maxPool2d' ? 'MaxPooling2D' : 'AveragePooling2D', {
          pool_size: pairOf(s.size), strides: pairOf(s.stride ?? s.size), padding: s.padding === 'same' ? 'same' : 'valid', ...channelsLast,
        });
        break;
      }
      case 'globalAvgPool':
        add('GlobalAveragePooling2D', { ...channelsLast });
        break;
      case 'batchNorm': {
        add('BatchNormalization', { axis: -1, momentum: Number((1 - s.momentum).toPrecision(12)), epsilon: s.eps, center: true, scale: true });
        const c = n.outShape[n.outShape.length - 1]!;
        weight(n.name, 'gamma', [c], tensor(n, 'gamma'));
        weight(n.name, 'beta', [c], tensor(n, 'beta'));
        weight(n.name, 'moving_mean', [c], tensor(n, 'running_mean', 'state'));
        weight(n.name, 'moving_variance', [c], tensor(n, 'running_var', 'state'));
        break;
      }
      case 'layerNorm': {
        add('LayerNormalization', { axis: -1, epsilon: s.eps, center: true, scale: true });
        const c = n.outShape[n.outShape.length - 1]!;
        weight(n.name, 'gamma', [c], tensor(n, 'gamma'));
        weight(n.name, 'beta', [c], tensor(n, 'beta'));
        break;
      }
      case 'relu': case 'gelu':
        add('Activation', { activation: s.type });
        break;
      case 'flatten':
        add('Flatten', {});
        break;
      case 'add':
        add('Add', {});
        break;
    }
    outOf.push(inbound[0]!);
  }

  const output = nameOf(g.nodes.length - 1);
  if (output === inputName) throw new RangeError('modelToTfjs: the graph has no layer to export');
  const chain = layers.every((l) => l.inbound.length === 1) && layers.every((l, i) => l.inbound[0] === (i === 0 ? inputName : layers[i - 1]!.name))
    && output === layers[layers.length - 1]!.name;
  const batchShape = [null, ...g.inputShape];
  const name = opts.name ?? 'retort';
  const modelTopology = chain
    ? {
      class_name: 'Sequential',
      config: { name, layers: layers.map((l, i) => ({ class_name: l.class_name, config: { ...l.config, ...(i === 0 ? { batch_input_shape: batchShape } : {}) } })) },
    }
    : {
      class_name: 'Model',
      config: {
        name,
        layers: [
          { name: inputName, class_name: 'InputLayer', config: { batch_input_shape: batchShape, dtype: 'float32', sparse: false, name: inputName }, inbound_nodes: [] },
          ...layers.map((l) => ({ name: l.name, class_name: l.class_name, config: l.config, inbound_nodes: [l.inbound.map((x) => [x, 0, 0, {}])] })),
        ],
        input_layers: [[inputName, 0, 0]],
        output_layers: [[output, 0, 0]],
      },
    };
  const total = weights.reduce((a, w) => a + w.values.length, 0);
  const weightData = new Uint8Array(4 * total);
  const dv = new DataView(weightData.buffer);
  let at = 0;
  for (const w of weights) for (const v of w.values) { dv.setFloat32(at, v, true); at += 4; }
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'Retort (@retort/distill)',
    convertedBy: null,
    modelTopology: { ...modelTopology, keras_version: `tfjs-layers ${tfl.version_layers}`, backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: [TFJS_EXPORT_WEIGHTS_FILE], weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) }],
    userDefinedMetadata: { retort: { spec, ...(opts.normalization ? { normalization: opts.normalization } : {}), inputLayout: 'NHWC' } },
  };
  return { modelJson, weightData };
}

/** The export as ModelArtifacts, e.g. for tf.loadLayersModel(tf.io.fromMemory(...)) in a browser. */
export function modelToModelArtifacts(model: TfjsExportSource, opts: TfjsExportOptions = {}): tf.io.ModelArtifacts {
  const { modelJson, weightData } = modelToTfjs(model, opts);
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
