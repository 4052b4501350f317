// The int8 model file: a quantized MLP (per layer int8 weights, per-output-channel f32 scales,
// f32 bias and the f32 scale of the layer's input activations), self-describing and checksummed.
// Pure TypeScript over Uint8Array with no dependencies (no zod): the inference entry
// (@retort/core-wasm/infer) decodes it in a browser; @retort/distill adds a full spec check.
//
//   offset  size  field (little-endian)
//   0       8     magic "RETORTQ\x1a" (the float model file's is "RETORT\0\x1a")
//   8       4     u32 format version (QUANTIZED_FORMAT_VERSION)
//   12      4     u32 header length H; 32 + H is a multiple of 16 (the JSON is space-padded)
//   16      8     u64 payload length P (low u32, high u32)
//   24      4     u32 CRC-32 of bytes [8, 24) and [32, 32 + H + P): lengths, header, payload
//   28      4     u32 reserved, 0
//   32      H     header: UTF-8 JSON { format: "retort-int8", spec: { type: "mlp", sizes, ... },
//                   calibration, meta, layers: [ { inputs, outputs, inputScale,
//                   weights: { offset, length }, scales: { offset, length }, bias: { offset, length } } ] }
//                   offsets and lengths in bytes relative to the payload start
//   32 + H  P     payload: per layer the int8 weights (inputs x outputs, row-major, values in
//                 [-127, 127]), then f32 scales (outputs), then f32 bias (outputs); each 16-byte aligned
//
// A layer computes y = dequant(quant(x; inputScale) . weights) + bias: with
// xq = clamp(round(x / inputScale)), y[j] = sum_i xq[i] w[i, j] * (inputScale * scales[j]) + bias[j];
// ReLU follows every layer but the last, whose outputs are the logits.
//
// Decoding checks every length and offset against the spec and the file length before it
// allocates anything, then the checksum, then the values (scales finite and > 0, weights in
// [-127, 127], bias finite). Every failure is a ModelFormatError naming the file.

import { crc32 } from './crc32.js';
import { isFloatModelFile } from './float-model.js';
import { ModelFormatError } from './errors.js';

export const QUANTIZED_FORMAT_VERSION = 1;
export const QUANTIZED_MAGIC = Uint8Array.of(0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x51, 0x1a); // "RETORTQ\x1a"
const PREAMBLE = 32;
/** The header holds the spec, per-layer entries and meta; beyond this it is refused unread. */
export const MAX_QUANTIZED_HEADER_BYTES = 1 << 20;
/** Widest layer a file may describe (the same bound as the float model spec). */
const MAX_WIDTH = 1 << 20;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The model description: at least { type: 'mlp', sizes }; other fields (dropout, ...) are carried along. */
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

/** How the activation scales were chosen (informative; inference does not read it). */
export interface CalibrationInfo {
  method: 'max' | 'percentile';
  /** For 'percentile': the percentile of |x| (e.g. 99.99). */
  percentile?: number;
  /** Calibration rows seen. */
  rows: number;
}

export interface QuantizedModel {
  spec: QuantizedModelSpec;
  layers: QuantizedLayer[];
  calibration?: CalibrationInfo;
  meta?: Record<string, unknown>;
}

export interface DecodedQuantizedModel extends QuantizedModel {
  version: number;
  meta: Record<string, unknown>;
}

/** Bytes a quantized model holds, by part, and the same model's float32 parameters for comparison. */
export interface QuantizedSize {
  /** int8 weights: one byte each. */
  weights: number;
  /** f32 per-output-channel weight scales. */
  scales: number;
  /** f32 biases. */
  biases: number;
  /** f32 activation scales, one per layer. */
  activationScales: number;
  /** weights + scales + biases + activationScales. */
  total: number;
  /** The float32 model's parameters (W and b): 4 bytes each. */
  float32: number;
  /** float32 / total. */
  ratio: number;
}

export function quantizedModelSize(model: QuantizedModel): QuantizedSize {
  let weights = 0, scales = 0, biases = 0, params = 0;
  for (const l of model.layers) {
    weights += l.inputs * l.outputs;
    scales += 4 * l.outputs;
    biases += 4 * l.outputs;
    params += l.inputs * l.outputs + l.outputs;
  }
  const activationScales = 4 * model.layers.length;
  const total = weights + scales + biases + activationScales;
  return { weights, scales, biases, activationScales, total, float32: 4 * params, ratio: total > 0 ? (4 * params) / total : 0 };
}

interface Range { offset: number; length: number }
interface LayerEntry { inputs: number; outputs: number; inputScale: number; weights: Range; scales: Range; bias: Range }

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

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

/** Encodes a quantized model into one buffer. */
export function encodeQuantizedModel(model: QuantizedModel): Uint8Array {
  checkQuantizedModel(model);
  const entries: LayerEntry[] = [];
  let payload = 0;
  const take = (bytes: number): Range => {
    const offset = align16(payload);
    payload = offset + bytes;
    return { offset, length: bytes };
  };
  for (const l of model.layers) {
    const weights = take(l.weights.length), scales = take(4 * l.outputs), bias = take(4 * l.outputs);
    entries.push({ inputs: l.inputs, outputs: l.outputs, inputScale: Math.fround(l.inputScale), weights, scales, bias });
  }
  const header: Record<string, unknown> = { format: 'retort-int8', spec: model.spec, layers: entries, meta: model.meta ?? {} };
  if (model.calibration) header.calibration = model.calibration;
  const text = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = align16(PREAMBLE + text.length) - PREAMBLE;
  const out = new Uint8Array(PREAMBLE + headerLength + payload);
  out.set(QUANTIZED_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, QUANTIZED_FORMAT_VERSION, true);
  view.setUint32(12, headerLength, true);
  view.setUint32(16, payload % 2 ** 32, true);
  view.setUint32(20, Math.floor(payload / 2 ** 32), true);
  out.set(text, PREAMBLE);
  out.fill(0x20, PREAMBLE + text.length, PREAMBLE + headerLength);
  const start = PREAMBLE + headerLength;
  model.layers.forEach((l, i) => {
    const e = entries[i]!;
    out.set(new Uint8Array(l.weights.buffer, l.weights.byteOffset, l.weights.byteLength), start + e.weights.offset);
    writeF32(view, start + e.scales.offset, l.weightScales);
    writeF32(view, start + e.bias.offset, l.bias);
  });
  view.setUint32(24, checksum(out), true);
  return out;
}

function writeF32(view: DataView, at: number, data: Float32Array): void {
  if (HOST_LITTLE_ENDIAN) new Uint8Array(view.buffer, view.byteOffset + at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  else for (let k = 0; k < data.length; k++) view.setFloat32(at + 4 * k, data[k]!, true);
}

function readF32(bytes: Uint8Array, at: number, n: number): Float32Array {
  const data = new Float32Array(n);
  if (HOST_LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(at, at + 4 * n));
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let k = 0; k < n; k++) data[k] = view.getFloat32(at + 4 * k, true);
  }
  return data;
}

function checksum(file: Uint8Array): number {
  return crc32(file.subarray(PREAMBLE), crc32(file.subarray(8, 24)));
}

/** True when `bytes` start like an int8 model file (magic only; nothing else is checked). */
export function isQuantizedModelFile(bytes: Uint8Array): boolean {
  return bytes.length >= QUANTIZED_MAGIC.length && QUANTIZED_MAGIC.every((b, i) => bytes[i] === b);
}

/** Decodes and validates an int8 model file; `fileName` only labels errors (ModelFormatError). */
export function decodeQuantizedModel(bytes: Uint8Array, fileName = 'model'): DecodedQuantizedModel {
  const fail = (problem: string): never => { throw new ModelFormatError(fileName, problem); };
  if (!(bytes instanceof Uint8Array)) throw new TypeError('decodeQuantizedModel: bytes must be a Uint8Array');
  const n = bytes.length;
  if (isFloatModelFile(bytes)) {
    fail('a float32 Retort model file, not an int8 one (quantize it first)');
  }
  for (let i = 0; i < Math.min(n, QUANTIZED_MAGIC.length); i++) {
    if (bytes[i] !== QUANTIZED_MAGIC[i]) fail('not a Retort int8 model file (bad magic)');
  }
  if (n < PREAMBLE) fail(`truncated: ${n} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version === 0) fail('corrupt preamble: format version 0');
  if (version > QUANTIZED_FORMAT_VERSION) {
    fail(`int8 format version ${version} is newer than this Retort reads (${QUANTIZED_FORMAT_VERSION}); upgrade to load it`);
  }
  if (view.getUint32(28, true) !== 0) fail('corrupt preamble: reserved field is not 0');
  const headerLength = view.getUint32(12, true);
  if (headerLength === 0 || (PREAMBLE + headerLength) % 16 !== 0) fail(`corrupt preamble: header length ${headerLength}`);
  if (headerLength > MAX_QUANTIZED_HEADER_BYTES) fail(`header of ${headerLength} bytes exceeds the ${MAX_QUANTIZED_HEADER_BYTES}-byte limit`);
  const start = PREAMBLE + headerLength;
  if (start > n) fail(`truncated: the header needs bytes ${PREAMBLE}..${start} but the file has ${n}`);
  const payloadHigh = view.getUint32(20, true);
  if (payloadHigh >= 2 ** 20) fail('corrupt preamble: payload length beyond 2^52 bytes');
  const payload = view.getUint32(16, true) + payloadHigh * 2 ** 32;
  const end = start + payload;
  if (end > n) fail(`truncated: the payload needs bytes ${start}..${end} but the file has ${n}`);
  if (end < n) fail(`${n - end} unexpected bytes after the payload (file corrupt)`);
  if (view.getUint32(24, true) !== checksum(bytes)) fail('checksum mismatch (file corrupt)');

  const header = parseHeader(bytes.subarray(PREAMBLE, start), fail);
  const spec = header.spec;
  const layers = header.layers;
  // Every range against the spec's sizes and the payload, before allocating anything.
  const ranges: [string, Range][] = [];
  layers.forEach((e, i) => {
    const at = `header.layers[${i}]`;
    if (e.inputs !== spec.sizes[i] || e.outputs !== spec.sizes[i + 1]) {
      fail(`${at} is ${e.inputs}x${e.outputs} but spec.sizes say ${spec.sizes[i]}x${spec.sizes[i + 1]}`);
    }
    const want: [keyof LayerEntry & ('weights' | 'scales' | 'bias'), number, number][] = [
      ['weights', e.inputs * e.outputs, 1], ['scales', 4 * e.outputs, 4], ['bias', 4 * e.outputs, 4],
    ];
    for (const [name, length, align] of want) {
      const r = e[name];
      if (r.length !== length) fail(`${at}.${name}: length ${r.length} but ${e.inputs}x${e.outputs} needs ${length} bytes`);
      if (r.offset % align !== 0) fail(`${at}.${name}: offset ${r.offset} is not ${align}-byte aligned`);
      if (r.offset + r.length > payload) {
        fail(`${at}.${name} needs bytes ${start + r.offset}..${start + r.offset + r.length} but the payload ends at ${end}`);
      }
      ranges.push([`${at}.${name}`, r]);
    }
  });
  ranges.sort((a, b) => a[1].offset - b[1].offset);
  for (let i = 1; i < ranges.length; i++) {
    const [pn, p] = ranges[i - 1]!, [cn, c] = ranges[i]!;
    if (p.length > 0 && c.length > 0 && p.offset + p.length > c.offset) fail(`${pn} and ${cn} overlap`);
  }

  // Every size is now known to lie inside the file: allocate and copy, then check the values.
  const out: QuantizedLayer[] = layers.map((e, i) => {
    const at = `layers[${i}]`;
    const weights = new Int8Array(e.inputs * e.outputs);
    new Uint8Array(weights.buffer).set(bytes.subarray(start + e.weights.offset, start + e.weights.offset + e.weights.length));
    for (let k = 0; k < weights.length; k++) if (weights[k] === -128) fail(`${at}.weights[${k}] = -128 is outside [-127, 127]`);
    const weightScales = readF32(bytes, start + e.scales.offset, e.outputs);
    for (let k = 0; k < e.outputs; k++) {
      const v = weightScales[k]!;
      if (!(v > 0 && Number.isFinite(v))) fail(`${at}.scales[${k}] = ${v}; scales must be finite and > 0`);
    }
    const bias = readF32(bytes, start + e.bias.offset, e.outputs);
    for (let k = 0; k < e.outputs; k++) if (!Number.isFinite(bias[k]!)) fail(`${at}.bias[${k}] = ${bias[k]} is not finite`);
    return { inputs: e.inputs, outputs: e.outputs, weights, weightScales, bias, inputScale: e.inputScale };
  });
  const model: DecodedQuantizedModel = { version, spec, layers: out, meta: header.meta };
  if (header.calibration) model.calibration = header.calibration;
  return model;
}

interface Header { spec: QuantizedModelSpec; layers: LayerEntry[]; meta: Record<string, unknown>; calibration?: CalibrationInfo }

/** The JSON header, checked field by field (by hand: this module has no schema library). */
function parseHeader(bytes: Uint8Array, fail: (problem: string) => never): Header {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const int = (v: unknown, at: string, lo: number, hi: number): number => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) fail(`${at}: must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
    return v as number;
  };
  if (!isObject(json)) return fail('header: must be a JSON object');
  if (json.format !== 'retort-int8') fail(`header.format: expected "retort-int8", got ${JSON.stringify(json.format)}`);
  const spec = json.spec;
  if (!isObject(spec) || spec.type !== 'mlp') return fail('header.spec: must be an object with type "mlp"');
  if (!Array.isArray(spec.sizes) || spec.sizes.length < 2) return fail('header.spec.sizes: must be an array of at least 2 layer sizes');
  spec.sizes.forEach((s, i) => int(s, `header.spec.sizes[${i}]`, 1, MAX_WIDTH));
  if (!Array.isArray(json.layers)) return fail('header.layers: must be an array');
  if (json.layers.length !== spec.sizes.length - 1) fail(`header.layers: ${spec.sizes.length} sizes need ${spec.sizes.length - 1} layers, got ${json.layers.length}`);
  const range = (v: unknown, at: string): Range => {
    if (!isObject(v)) return fail(`${at}: must be { offset, length }`);
    return { offset: int(v.offset, `${at}.offset`, 0, Number.MAX_SAFE_INTEGER), length: int(v.length, `${at}.length`, 0, Number.MAX_SAFE_INTEGER) };
  };
  const layers = json.layers.map((l: unknown, i: number): LayerEntry => {
    const at = `header.layers[${i}]`;
    if (!isObject(l)) return fail(`${at}: must be an object`);
    const s = l.inputScale;
    if (typeof s !== 'number' || !(Math.fround(s) > 0 && Number.isFinite(Math.fround(s)))) fail(`${at}.inputScale: must be a finite f32 > 0, got ${JSON.stringify(s)}`);
    return {
      inputs: int(l.inputs, `${at}.inputs`, 1, MAX_WIDTH), outputs: int(l.outputs, `${at}.outputs`, 1, MAX_WIDTH),
      inputScale: Math.fround(s as number),
      weights: range(l.weights, `${at}.weights`), scales: range(l.scales, `${at}.scales`), bias: range(l.bias, `${at}.bias`),
    };
  });
  const meta = json.meta === undefined ? {} : json.meta;
  if (!isObject(meta)) return fail('header.meta: must be an object');
  const header: Header = { spec: spec as QuantizedModelSpec, layers, meta };
  if (json.calibration !== undefined) {
    const c = json.calibration;
    if (!isObject(c) || (c.method !== 'max' && c.method !== 'percentile')) return fail('header.calibration: must be { method: "max" | "percentile", ... }');
    header.calibration = c as unknown as CalibrationInfo;
  }
  return header;
}
