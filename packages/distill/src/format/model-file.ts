// The Retort model file: one self-describing format for models and (with more tensors and
// meta) training checkpoints. Pure TypeScript over Uint8Array: it runs in browsers too.
//
//   offset  size  field (little-endian)
//   0       8     magic "RETORT\0\x1a"
//   8       4     u32 format version (FORMAT_VERSION)
//   12      4     u32 header length H; 32 + H is a multiple of 16 (the JSON is space-padded)
//   16      8     u64 payload length P (low u32, high u32)
//   24      4     u32 CRC-32 of bytes [8, 24) and [32, 32 + H + P): lengths, header, payload
//   28      4     u32 reserved, 0
//   32      H     header: UTF-8 JSON { format: "retort-model", spec, meta, tensors: [
//                   { name, dtype: "f32", shape, offset, length } ], graph? }, offset/length in bytes
//                   relative to the payload start; `graph` (a preset's expanded layer graph, for
//                   readers without the presets) is written for preset specs and ignored here
//   32 + H  P     payload: f32 little-endian tensors, each 16-byte aligned (zero padding between)
//
// Decoding checks every size against the file length before allocating anything, and
// every error is a ModelFormatError naming the file: "student.retort: checksum mismatch
// (file corrupt)".

import { z } from 'zod';
import { DataFormatError } from '../data/errors.js';
import type { Model } from '../model/model.js';
import { compileSpec, formatModelSpec, graphOf, modelSpecSchema, specErrorFrom, type ModelSpec } from '../model/spec.js';
import type { GraphSpec } from '../model/layer-spec.js';
import type { TensorDecl } from '../model/graph.js';
import { FLOAT_MODEL_MAGIC, ModelFormatError } from '@retort/core-wasm/format';
import { crc32 } from './crc32.js';

// The error class lives in @retort/core-wasm/format (no dependencies) so that the int8 model
// decoder and the inference entry throw the same class; this module re-exports it.
export { ModelFormatError };

export const FORMAT_VERSION = 1;
/** "RETORT\0\x1a" (shared with the inference entry's reader of this format). */
export const MAGIC = FLOAT_MODEL_MAGIC;
const PREAMBLE = 32;
/** Headers beyond this are refused before reading them (meta is meant to be small). */
export const MAX_HEADER_BYTES = 16 << 20;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface NamedTensor { shape: number[]; data: Float32Array }

export interface ModelFileContents {
  spec: ModelSpec;
  tensors: Record<string, NamedTensor>;
  meta?: Record<string, unknown>;
}

export interface DecodedModelFile extends ModelFileContents {
  version: number;
  meta: Record<string, unknown>;
}

const dim = z.number().int().min(0).max(2 ** 31);
const byteCount = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const headerSchema = z.object({
  format: z.literal('retort-model'),
  spec: z.unknown(),
  meta: z.record(z.string(), z.unknown()),
  tensors: z.array(z.strictObject({
    name: z.string().min(1).max(256),
    dtype: z.literal('f32'),
    shape: z.array(dim).max(8),
    offset: byteCount,
    length: byteCount,
  })),
});
type TensorEntry = z.infer<typeof headerSchema>['tensors'][number];

const align16 = (n: number): number => Math.ceil(n / 16) * 16;
const product = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** Encodes a model file into one buffer. Each tensor's bytes are copied exactly once. */
export function encodeModelFile(contents: ModelFileContents): Uint8Array {
  const parts = encodeModelFileParts(contents);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

/**
 * Encodes a model file as a list of byte ranges to be written in order: the preamble and
 * header, then each tensor's bytes as a view of its own data (on little-endian hosts) with
 * zero padding between. Nothing the size of the payload is allocated, so a checkpoint of a
 * model that lives in module memory is written without a second copy of it.
 */
export function encodeModelFileParts(contents: ModelFileContents): Uint8Array[] {
  const spec = modelSpecSchema.parse(contents.spec);
  const entries: TensorEntry[] = [];
  let payload = 0;
  for (const [name, t] of Object.entries(contents.tensors)) {
    if (!(t.data instanceof Float32Array)) throw new RangeError(`encodeModelFile: tensor '${name}' data must be a Float32Array`);
    if (product(t.shape) !== t.data.length) {
      throw new RangeError(`encodeModelFile: tensor '${name}' has shape ${fmtShape(t.shape)} but ${t.data.length} values`);
    }
    const offset = align16(payload);
    entries.push({ name, dtype: 'f32', shape: [...t.shape], offset, length: t.data.byteLength });
    payload = offset + t.data.byteLength;
  }
  headerSchema.parse({ format: 'retort-model', spec, meta: contents.meta ?? {}, tensors: entries });
  const json = JSON.stringify({ format: 'retort-model', spec, meta: contents.meta ?? {}, tensors: entries, ...expandedGraph(spec) });
  const text = new TextEncoder().encode(json);
  const headerLength = align16(PREAMBLE + text.length) - PREAMBLE;
  const head = new Uint8Array(PREAMBLE + headerLength);
  head.set(MAGIC, 0);
  const view = new DataView(head.buffer);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, headerLength, true);
  view.setUint32(16, payload % 2 ** 32, true);
  view.setUint32(20, Math.floor(payload / 2 ** 32), true);
  head.set(text, PREAMBLE);
  head.fill(0x20, PREAMBLE + text.length);
  const parts: Uint8Array[] = [head];
  let written = 0;
  for (const [i, t] of Object.values(contents.tensors).entries()) {
    const gap = entries[i]!.offset - written;
    if (gap > 0) parts.push(new Uint8Array(gap));
    parts.push(littleEndianBytes(t.data));
    written = entries[i]!.offset + t.data.byteLength;
  }
  // the checksum covers bytes 8..24 of the preamble and everything after it
  let crc = crc32(head.subarray(8, 24));
  crc = crc32(head.subarray(PREAMBLE), crc);
  for (const p of parts.slice(1)) crc = crc32(p, crc);
  view.setUint32(24, crc, true);
  return parts;
}

/**
 * A preset's spec names its architecture ({ type: "resnet8", width: 0.5, ... }); readers without
 * the presets (the inference entry's dependency-free reader, @retort/core-wasm/format) need its
 * layers, so the file carries the expanded graph beside the spec (`graph`, ignored by this reader).
 */
function expandedGraph(spec: ModelSpec): { graph?: GraphSpec } {
  if (spec.type === 'mlp' || spec.type === 'graph' || spec.input === undefined || spec.classes === undefined) return {};
  return { graph: graphOf(spec) };
}

function littleEndianBytes(data: Float32Array): Uint8Array {
  if (HOST_LITTLE_ENDIAN) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(data.byteLength);
  const dv = new DataView(out.buffer);
  for (let k = 0; k < data.length; k++) dv.setFloat32(4 * k, data[k]!, true);
  return out;
}

function checksum(file: Uint8Array): number {
  return crc32(file.subarray(PREAMBLE), crc32(file.subarray(8, 24)));
}

/** Decodes and validates a model file; `fileName` only labels errors. */
export function decodeModelFile(bytes: Uint8Array, fileName: string): DecodedModelFile {
  const fail = (problem: string): never => { throw new ModelFormatError(fileName, problem); };
  const n = bytes.length;
  for (let i = 0; i < Math.min(n, MAGIC.length); i++) {
    if (bytes[i] !== MAGIC[i]) fail('not a Retort model file (bad magic)');
  }
  if (n < PREAMBLE) fail(`truncated: ${n} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version === 0) fail('corrupt preamble: format version 0');
  if (version > FORMAT_VERSION) {
    fail(`format version ${version} is newer than this Retort reads (${FORMAT_VERSION}); upgrade @retort/distill to load it`);
  }
  if (view.getUint32(28, true) !== 0) fail('corrupt preamble: reserved field is not 0');
  const headerLength = view.getUint32(12, true);
  if (headerLength === 0 || (PREAMBLE + headerLength) % 16 !== 0) fail(`corrupt preamble: header length ${headerLength}`);
  if (headerLength > MAX_HEADER_BYTES) fail(`header of ${headerLength} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const start = PREAMBLE + headerLength;
  if (start > n) fail(`truncated: the header needs bytes ${PREAMBLE}..${start} but the file has ${n}`);
  const payloadHigh = view.getUint32(20, true);
  if (payloadHigh >= 2 ** 20) fail(`corrupt preamble: payload length beyond 2^52 bytes`);
  const payload = view.getUint32(16, true) + payloadHigh * 2 ** 32;
  const end = start + payload;
  if (end > n) {
    // Name the first tensor that does not fit, if the (unverified) header can say.
    const entries = tryReadTable(bytes.subarray(PREAMBLE, start)) ?? [];
    for (const t of entries) {
      const a = start + t.offset, b = a + t.length;
      if (b > n) fail(`truncated: tensor '${t.name}' needs bytes ${a}..${b} but the file has ${n}`);
    }
    fail(`truncated: the payload needs bytes ${start}..${end} but the file has ${n}`);
  }
  if (end < n) fail(`${n - end} unexpected bytes after the payload (file corrupt)`);
  if (view.getUint32(24, true) !== checksum(bytes)) fail('checksum mismatch (file corrupt)');

  const header = parseHeader(bytes.subarray(PREAMBLE, start), fail);
  const specResult = modelSpecSchema.safeParse(header.spec);
  if (!specResult.success) fail(specErrorFrom(specResult.error, 'header.spec').message);
  const table = [...header.tensors];
  const names = new Set<string>();
  for (const t of table) {
    if (names.has(t.name)) fail(`header: tensor '${t.name}' appears twice`);
    names.add(t.name);
    if (t.offset % 4 !== 0) fail(`header: tensor '${t.name}' offset ${t.offset} is not 4-byte aligned`);
    const values = product(t.shape);
    if (values * 4 !== t.length) {
      fail(`header: tensor '${t.name}' has shape ${fmtShape(t.shape)} (${values} values, ${values * 4} bytes) but length ${t.length}`);
    }
    if (t.offset + t.length > payload) {
      fail(`header: tensor '${t.name}' needs bytes ${start + t.offset}..${start + t.offset + t.length} but the payload ends at ${end}`);
    }
  }
  const byOffset = [...table].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < byOffset.length; i++) {
    const prev = byOffset[i - 1]!, cur = byOffset[i]!;
    if (prev.offset + prev.length > cur.offset && cur.length > 0 && prev.length > 0) fail(`header: tensors '${prev.name}' and '${cur.name}' overlap`);
  }

  // Every size is now known to lie inside the file: allocate and copy.
  const tensors: Record<string, NamedTensor> = {};
  for (const t of table) {
    const data = new Float32Array(t.length / 4);
    const at = start + t.offset;
    if (HOST_LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(at, at + t.length));
    else for (let k = 0; k < data.length; k++) data[k] = view.getFloat32(at + 4 * k, true);
    tensors[t.name] = { shape: t.shape, data };
  }
  return { version, spec: specResult.data!, meta: header.meta, tensors };
}

function parseHeader(bytes: Uint8Array, fail: (problem: string) => never): z.infer<typeof headerSchema> {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  const result = headerSchema.safeParse(json);
  if (!result.success) return fail(specErrorFrom(result.error, 'header').message);
  return result.data;
}

/** The tensor table of a header that has not been checksummed yet, or null if it does not parse. */
function tryReadTable(bytes: Uint8Array): TensorEntry[] | null {
  try {
    return parseHeader(bytes, (p) => { throw new Error(p); }).tensors;
  } catch {
    return null;
  }
}

/**
 * The named tensors of flat `params` (and `state`, batch-norm running statistics) — views into
 * them, no copy. Names and shapes come from the spec's layer graph: `layer0.w` (IN, OUT) and
 * `layer0.b` for an MLP's first dense layer, `conv1.w` (KH, KW, C, OC), `res1.batchNorm1.running_var`...
 */
export function modelTensors(spec: ModelSpec, params: Float32Array, state?: Float32Array): Record<string, NamedTensor> {
  const g = compileSpec(spec);
  if (params.length !== g.paramCount) throw new RangeError(`modelTensors: got ${params.length} parameters but the spec has ${g.paramCount}`);
  if (g.stateCount > 0 && state && state.length !== g.stateCount) throw new RangeError(`modelTensors: got ${state.length} state values but the spec has ${g.stateCount}`);
  const out: Record<string, NamedTensor> = {};
  for (const t of g.params) out[t.name] = { shape: [...t.shape], data: params.subarray(t.offset, t.offset + t.length) };
  if (state) for (const t of g.state) out[t.name] = { shape: [...t.shape], data: state.subarray(t.offset, t.offset + t.length) };
  return out;
}

function fillFromTensors(decls: readonly TensorDecl[], total: number, spec: ModelSpec, tensors: Record<string, NamedTensor>,
                         fileName: string, into: Float32Array | undefined, what: string): Float32Array {
  const out = into ?? new Float32Array(total);
  if (out.length !== total) throw new RangeError(`${what}: target holds ${out.length} values, the spec has ${total}`);
  for (const d of decls) {
    const t = tensors[d.name];
    if (!t) throw new ModelFormatError(fileName, `tensor '${d.name}' is missing (the spec ${specLabel(spec)} needs it)`);
    if (t.shape.length !== d.shape.length || t.shape.some((x, k) => x !== d.shape[k])) {
      throw new ModelFormatError(fileName, `tensor '${d.name}' has shape [${t.shape.join(', ')}] but the spec needs [${d.shape.join(', ')}]`);
    }
    out.set(t.data, d.offset);
  }
  return out;
}

const specLabel = (spec: ModelSpec): string => (spec.type === 'mlp' ? spec.sizes.join('-') : formatModelSpec(spec).slice(0, 80));

/**
 * Flat params from a file's tensors, checking that each exists with the spec's shape.
 * With `into` (paramCount long, e.g. a view of a model's parameters) they are written there.
 */
export function paramsFromTensors(spec: ModelSpec, tensors: Record<string, NamedTensor>, fileName: string,
                                  into?: Float32Array): Float32Array {
  const g = compileSpec(spec);
  return fillFromTensors(g.params, g.paramCount, spec, tensors, fileName, into, 'paramsFromTensors');
}

/** Flat state (batch-norm running statistics) from a file's tensors; empty for a model without state. */
export function stateFromTensors(spec: ModelSpec, tensors: Record<string, NamedTensor>, fileName: string,
                                 into?: Float32Array): Float32Array {
  const g = compileSpec(spec);
  return fillFromTensors(g.state, g.stateCount, spec, tensors, fileName, into, 'stateFromTensors');
}

/**
 * Every parameter and state value of `model` finite: a NaN or Inf (a diverged run, a corrupt
 * export) is named by tensor and index — for an MLP "layer 1 weights[5, 7] is NaN (NaN or Inf)",
 * otherwise "tensor 'conv1.w'[0, 2, 0, 5] is NaN (NaN or Inf)".
 */
/** A model file whose parameters or state hold NaN or Inf: the file is bad, whatever reads it. */
export class NonFiniteWeightError extends DataFormatError {}

export function checkFiniteParams(model: Pick<Model, 'params' | 'state' | 'paramLayout' | 'stateLayout'>, fileName: string): void {
  const check = (values: Float32Array, decls: readonly TensorDecl[]): void => {
    for (const d of decls) {
      for (let k = 0; k < d.length; k++) {
        const v = values[d.offset + k]!;
        if (Number.isFinite(v)) continue;
        const mlp = /^layer(\d+)\.([wb])$/.exec(d.name);
        if (mlp) {
          const at = mlp[2] === 'w' ? `[${Math.floor(k / d.shape[1]!)}, ${k % d.shape[1]!}]` : `[${k}]`;
          throw new NonFiniteWeightError(fileName, `layer ${Number(mlp[1]) + 1} ${mlp[2] === 'w' ? 'weights' : 'bias'}${at} is ${v} (NaN or Inf)`);
        }
        throw new NonFiniteWeightError(fileName, `tensor '${d.name}'[${unravel(k, d.shape).join(', ')}] is ${v} (NaN or Inf)`);
      }
    }
  };
  check(model.params.view(), model.paramLayout);
  if (model.state) check(model.state.view(), model.stateLayout);
}

function unravel(k: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let i = shape.length - 1; i >= 0; i--) { idx.unshift(k % shape[i]!); k = Math.floor(k / shape[i]!); }
  return idx;
}
