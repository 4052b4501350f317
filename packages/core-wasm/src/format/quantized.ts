// The int8 model file. Version 2 (./quantized-graph.ts) holds any layer graph as an ordered op
// list and is what Retort writes; version 1, the first layout, holds an MLP (per layer int8
// weights, per-output-channel f32 scales, f32 bias and the f32 scale of the layer's input
// activations, ReLU between layers). Files of both versions load: decodeQuantizedGraph reads a
// version-1 file as the graph of dense ops it describes. The container (preamble, checksum) is
// ./container.ts. Pure TypeScript over Uint8Array with no dependencies (no zod): the inference
// entry (@retort/core-wasm/infer) decodes it in a browser; @retort/distill adds a full spec check.
//
// Version 1 header: { format: "retort-int8", spec: { type: "mlp", sizes, ... }, calibration, meta,
//   layers: [ { inputs, outputs, inputScale, weights: { offset, length }, scales: { offset, length },
//   bias: { offset, length } } ] }; payload per layer: int8 weights (inputs x outputs, row-major),
//   f32 scales (outputs), f32 bias (outputs), each 16-byte aligned.
//
// Decoding checks every length and offset against the spec and the file length before it
// allocates anything, then the checksum, then the values. Every failure is a ModelFormatError
// naming the file.

import { ModelFormatError } from './errors.js';
import {
  PayloadLayout, checkRanges, rangeField, readContainer, readF32, readI8, writeContainer, writeF32, writeI8, type Container, type Fail, type Range,
} from './container.js';
import { MAX_DIM, intField, isObject } from './graph.js';
import {
  decodeGraphContainer, readCalibration, type CalibrationInfo, type DecodedQuantizedGraph, type QuantizedGraph, type QuantizedOp,
} from './quantized-graph.js';

export { QUANTIZED_FORMAT_VERSION, QUANTIZED_MAGIC, MAX_QUANTIZED_HEADER_BYTES, isQuantizedModelFile } from './container.js';

/** Version 1: the model description, at least { type: 'mlp', sizes }; other fields (dropout, ...) are carried along. */
export interface QuantizedModelSpec { type: 'mlp'; sizes: number[]; [key: string]: unknown }

export interface QuantizedLayer {
  inputs: number;
  outputs: number;
  /** (inputs, outputs) row-major int8 in [-127, 127]: W[i, j] ~ weights[i * outputs + j] * weightScales[j]. */
  weights: Int8Array;
  /** (outputs) per-output-channel scales, finite and > 0. */
  weightScales: Float32Array;
  /** (outputs) f32 bias. */
  bias: Float32Array;
  /** Scale of this layer's input activations (an f32 value > 0): x ~ q * inputScale, q in [-127, 127]. */
  inputScale: number;
}

/** Version 1: a quantized MLP, layer by layer (ReLU after every layer but the last). */
export interface QuantizedModel {
  spec: QuantizedModelSpec;
  layers: QuantizedLayer[];
  calibration?: CalibrationInfo;
  meta?: Record<string, unknown>;
}

/** Checks a model's shape and values (the encoder's precondition); throws RangeError naming the field. */
export function checkQuantizedModel(model: QuantizedModel, op = 'encodeQuantizedModel'): void {
  const sizes = model?.spec?.sizes;
  if (model?.spec?.type !== 'mlp' || !Array.isArray(sizes) || sizes.length < 2) {
    throw new RangeError(`${op}: spec must be { type: 'mlp', sizes: [...] } with at least 2 sizes`);
  }
  if (!Array.isArray(model.layers) || model.layers.length !== sizes.length - 1) {
    throw new RangeError(`${op}: ${sizes.length} sizes need ${sizes.length - 1} layers, got ${model.layers?.length}`);
  }
  model.layers.forEach((l, i) => {
    const at = `${op}: layers[${i}]`;
    if (l.inputs !== sizes[i] || l.outputs !== sizes[i + 1]) {
      throw new RangeError(`${at} is ${l.inputs}x${l.outputs} but spec.sizes say ${sizes[i]}x${sizes[i + 1]}`);
    }
    if (!(l.weights instanceof Int8Array) || l.weights.length !== l.inputs * l.outputs) {
      throw new RangeError(`${at}.weights must be an Int8Array of ${l.inputs * l.outputs} values`);
    }
    if (!(l.weightScales instanceof Float32Array) || l.weightScales.length !== l.outputs) {
      throw new RangeError(`${at}.weightScales must be a Float32Array of ${l.outputs} values`);
    }
    if (!(l.bias instanceof Float32Array) || l.bias.length !== l.outputs) {
      throw new RangeError(`${at}.bias must be a Float32Array of ${l.outputs} values`);
    }
    const s = Math.fround(l.inputScale);
    if (!(s > 0 && Number.isFinite(s))) throw new RangeError(`${at}.inputScale must be a finite f32 > 0, got ${l.inputScale}`);
    for (const v of l.weightScales) if (!(v > 0 && Number.isFinite(v))) throw new RangeError(`${at}.weightScales holds ${v}; scales must be finite and > 0`);
    for (const v of l.bias) if (!Number.isFinite(v)) throw new RangeError(`${at}.bias holds ${v}; biases must be finite`);
    for (const v of l.weights) if (v === -128) throw new RangeError(`${at}.weights holds -128; weights must lie in [-127, 127]`);
  });
}


interface LayerEntry { inputs: number; outputs: number; inputScale: number; weights: Range; scales: Range; bias: Range }

/** Encodes a quantized MLP in the version-1 layout (Retort writes version 2, encodeQuantizedGraph; this stays for tools and tests of old files). */
export function encodeQuantizedModel(model: QuantizedModel): Uint8Array {
  checkQuantizedModel(model);
  const layout = new PayloadLayout();
  const entries: LayerEntry[] = model.layers.map((l) => ({
    inputs: l.inputs, outputs: l.outputs, inputScale: Math.fround(l.inputScale),
    weights: layout.take(l.weights.length), scales: layout.take(4 * l.outputs), bias: layout.take(4 * l.outputs),
  }));
  const header: Record<string, unknown> = { format: 'retort-int8', spec: model.spec, layers: entries, meta: model.meta ?? {} };
  if (model.calibration) header.calibration = model.calibration;
  return writeContainer(1, header, layout.bytes, (view, out, start) => {
    model.layers.forEach((l, i) => {
      const e = entries[i]!;
      writeI8(out, start + e.weights.offset, l.weights);
      writeF32(view, start + e.scales.offset, l.weightScales);
      writeF32(view, start + e.bias.offset, l.bias);
    });
  });
}

/** The graph a version-1 model describes: dense ops, ReLU fused into every one but the last. */
export function graphOfQuantizedModel(m: QuantizedModel): QuantizedGraph {
  const ops: QuantizedOp[] = m.layers.map((l, i) => ({
    type: 'dense', name: `layer${i}`, inputs: [i - 1], units: l.outputs, relu: i < m.layers.length - 1, inputScale: Math.fround(l.inputScale),
    weights: l.weights, weightScales: l.weightScales, bias: l.bias,
  }));
  const g: QuantizedGraph = { spec: m.spec, input: [m.spec.sizes[0]!], ops };
  if (m.calibration) g.calibration = m.calibration;
  if (m.meta) g.meta = m.meta;
  return g;
}

/**
 * Decodes and validates an int8 model file of either version; `fileName` only labels errors
 * (ModelFormatError). A version-1 (MLP) file comes back as its graph of dense ops, version 1.
 */
export function decodeQuantizedGraph(bytes: Uint8Array, fileName = 'model'): DecodedQuantizedGraph {
  const fail: Fail = (problem) => { throw new ModelFormatError(fileName, problem); };
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeQuantizedGraph: bytes must be a Uint8Array');
  const c = readContainer(bytes, fail);
  if (c.version === 1) {
    const m = decodeVersion1(bytes, c, fail);
    return { ...graphOfQuantizedModel(m), version: 1, meta: m.meta ?? {} };
  }
  return decodeGraphContainer(bytes, c, fail);
}

function decodeVersion1(bytes: Uint8Array, c: Container, fail: Fail): QuantizedModel {
  const header = parseVersion1Header(c.header, fail);
  const spec = header.spec;
  // every range against the spec's sizes and the payload, before allocating anything
  const ranges: { at: string; range: Range; length: number; align: number }[] = [];
  header.layers.forEach((e, i) => {
    const at = `header.layers[${i}]`;
    if (e.inputs !== spec.sizes[i] || e.outputs !== spec.sizes[i + 1]) {
      fail(`${at} is ${e.inputs}x${e.outputs} but spec.sizes say ${spec.sizes[i]}x${spec.sizes[i + 1]}`);
    }
    ranges.push({ at: `${at}.weights`, range: e.weights, length: e.inputs * e.outputs, align: 1 },
      { at: `${at}.scales`, range: e.scales, length: 4 * e.outputs, align: 4 }, { at: `${at}.bias`, range: e.bias, length: 4 * e.outputs, align: 4 });
  });
  checkRanges(ranges, c, fail);
  const layers: QuantizedLayer[] = header.layers.map((e, i) => {
    const at = `layers[${i}]`;
    const weights = readI8(bytes, c.start + e.weights.offset, e.inputs * e.outputs);
    for (let k = 0; k < weights.length; k++) if (weights[k] === -128) fail(`${at}.weights[${k}] = -128 is outside [-127, 127]`);
    const weightScales = readF32(bytes, c.start + e.scales.offset, e.outputs);
    for (let k = 0; k < e.outputs; k++) {
      const v = weightScales[k]!;
      if (!(v > 0 && Number.isFinite(v))) fail(`${at}.scales[${k}] = ${v}; scales must be finite and > 0`);
    }
    const bias = readF32(bytes, c.start + e.bias.offset, e.outputs);
    for (let k = 0; k < e.outputs; k++) if (!Number.isFinite(bias[k]!)) fail(`${at}.bias[${k}] = ${bias[k]} is not finite`);
    return { inputs: e.inputs, outputs: e.outputs, weights, weightScales, bias, inputScale: e.inputScale };
  });
  const model: QuantizedModel = { spec, layers, meta: header.meta };
  if (header.calibration) model.calibration = header.calibration;
  return model;
}

interface Version1Header { spec: QuantizedModelSpec; layers: LayerEntry[]; meta: Record<string, unknown>; calibration?: CalibrationInfo }

/** The version-1 JSON header, checked field by field (by hand: this module has no schema library). */
function parseVersion1Header(json: unknown, fail: Fail): Version1Header {
  if (!isObject(json)) return fail('header: must be a JSON object');
  if (json.format !== 'retort-int8') fail(`header.format: expected "retort-int8", got ${JSON.stringify(json.format)}`);
  const spec = json.spec;
  if (!isObject(spec) || spec.type !== 'mlp') return fail('header.spec: must be an object with type "mlp"');
  if (!Array.isArray(spec.sizes) || spec.sizes.length < 2) return fail('header.spec.sizes: must be an array of at least 2 layer sizes');
  spec.sizes.forEach((s, i) => intField(s, `header.spec.sizes[${i}]`, fail, 1, MAX_DIM));
  if (!Array.isArray(json.layers)) return fail('header.layers: must be an array');
  if (json.layers.length !== spec.sizes.length - 1) fail(`header.layers: ${spec.sizes.length} sizes need ${spec.sizes.length - 1} layers, got ${json.layers.length}`);
  const layers = json.layers.map((l: unknown, i: number): LayerEntry => {
    const at = `header.layers[${i}]`;
    if (!isObject(l)) return fail(`${at}: must be an object`);
    const s = l.inputScale;
    if (typeof s !== 'number' || !(Math.fround(s) > 0 && Number.isFinite(Math.fround(s)))) fail(`${at}.inputScale: must be a finite f32 > 0, got ${JSON.stringify(s)}`);
    return {
      inputs: intField(l.inputs, `${at}.inputs`, fail, 1, MAX_DIM), outputs: intField(l.outputs, `${at}.outputs`, fail, 1, MAX_DIM),
      inputScale: Math.fround(s as number),
      weights: rangeField(l.weights, `${at}.weights`, fail), scales: rangeField(l.scales, `${at}.scales`, fail), bias: rangeField(l.bias, `${at}.bias`, fail),
    };
  });
  const meta = json.meta === undefined ? {} : json.meta;
  if (!isObject(meta)) return fail('header.meta: must be an object');
  const header: Version1Header = { spec: spec as QuantizedModelSpec, layers, meta };
  if (json.calibration !== undefined) header.calibration = readCalibration(json.calibration, fail);
  return header;
}
