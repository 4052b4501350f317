// The ONNX vocabulary shared by the exporter and the importer: the constants Retort writes,
// element and attribute types, and the readers that validate a tensor's dims against its data
// before anything is allocated (every problem is a `fail` naming the tensor).

import onnxProto from 'onnx-proto';
import type { onnx } from 'onnx-proto';
import { bf16BitsToNumber, f16BitsToNumber } from './fp16.js';
import { MAX_PARAMS } from '../model/spec.js';

export const proto = onnxProto.onnx;
export type { onnx };

/** The ONNX opset of MLP exports and of graphs without layer normalisation. */
export const ONNX_OPSET = 13;
/** The IR version written with ONNX_OPSET (IR 7 is the first that supports opset 13). */
export const ONNX_IR_VERSION = 7;
/** The opset of graphs with layer normalisation (LayerNormalization is an opset-17 operator), and its IR version. */
export const ONNX_OPSET_LAYER_NORM = 17;
export const ONNX_IR_VERSION_LAYER_NORM = 8;
/** Inputs larger than this are refused before decoding: 4 bytes per parameter of the largest spec, plus slack. */
export const MAX_ONNX_BYTES = 4 * MAX_PARAMS + (64 << 20);

/** metadata_props keys the exporter writes (and the importer reads). */
export const ONNX_METADATA_KEYS = {
  spec: 'retort.spec',
  output: 'retort.output',
  mean: 'retort.input.mean',
  std: 'retort.input.std',
  normalization: 'retort.input.normalization',
  layout: 'retort.input.layout',
  tokenizer: 'retort.tokenizer',
} as const;

export const ONNX_INPUT_NAME = 'input';
export const ONNX_OUTPUT_NAME = 'logits';

export const DT = {
  FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7, STRING: 8, BOOL: 9,
  FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13, COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;
const DT_NAMES = new Map<number, string>(Object.entries(DT).map(([k, v]) => [v, k]));
/** Floating-point element types Retort reads (converted to f32), with their raw_data widths. */
export const FLOAT_BYTES = new Map<number, number>([[DT.FLOAT, 4], [DT.FLOAT16, 2], [DT.BFLOAT16, 2], [DT.DOUBLE, 8]]);

/** AttributeProto.AttributeType values Retort reads. */
export const AT = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;
/** AttributeProto's value fields: the scalar ones (present or not) and the repeated ones. */
const ATTRIBUTE_SCALARS = ['f', 'i', 's', 't', 'g', 'sparseTensor', 'tp'] as const;
const ATTRIBUTE_LISTS = ['floats', 'ints', 'strings', 'tensors', 'graphs', 'sparseTensors', 'typeProtos'] as const;
/** Per attribute type: the value field it must hold, and its name in messages. */
const ATTRIBUTE_FIELDS: Record<number, { field: (typeof ATTRIBUTE_SCALARS)[number] | (typeof ATTRIBUTE_LISTS)[number]; name: string; article: string }> = {
  [AT.FLOAT]: { field: 'f', name: 'FLOAT', article: 'a FLOAT' },
  [AT.INT]: { field: 'i', name: 'INT', article: 'an INT' },
  [AT.STRING]: { field: 's', name: 'STRING', article: 'a STRING' },
  [AT.TENSOR]: { field: 't', name: 'TENSOR', article: 'a TENSOR' },
  [AT.FLOATS]: { field: 'floats', name: 'FLOATS', article: 'a list of FLOATS' },
  [AT.INTS]: { field: 'ints', name: 'INTS', article: 'a list of INTS' },
};
/** Longest INTS attribute read (kernel shapes, pads, perms of rank-4 tensors need at most 4). */
const MAX_INTS = 16;

export function dtypeName(t: number): string { return DT_NAMES.get(t) ?? `type ${t}`; }

/** A name from the file, quoted, escaped and shortened for a one-line message. */
export function q(name: string): string {
  const s = name.length > 80 ? `${name.slice(0, 77)}...` : name;
  return `'${JSON.stringify(s).slice(1, -1)}'`;
}

/** An int64 field (a number, or a Long when protobufjs found the long package) as a safe integer, or null. */
export function int64(v: unknown): number | null {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : null;
  if (v !== null && typeof v === 'object') {
    const { low, high, unsigned } = v as { low?: unknown; high?: unknown; unsigned?: unknown };
    if (typeof low !== 'number' || typeof high !== 'number') return null;
    const n = (unsigned === true ? high >>> 0 : high | 0) * 2 ** 32 + (low >>> 0);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The little-endian bytes of `values`: a view on little-endian hosts, a converted copy otherwise. */
export function f32LittleEndian(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < bits.length; i++) view.setUint32(4 * i, bits[i]!, true);
  return out;
}

/** A validated floating-point initializer: its dims and element count agree with its data. */
export interface FloatTensor {
  name: string;
  dims: number[];
  count: number;
  dataType: number;
  source: 'raw' | 'float_data' | 'double_data' | 'int32_data' | 'empty';
  t: onnx.ITensorProto;
}

// ---- attributes ------------------------------------------------------------------------------------

export interface Attributes {
  int(name: string, fallback: number): number;
  float(name: string, fallback: number): number;
  string(name: string, fallback: string): string;
  /** An INTS attribute, or `fallback` when absent. */
  ints(name: string, fallback: number[] | null): number[] | null;
  tensor(name: string): onnx.ITensorProto | null;
  has(name: string): boolean;
}

/** A node's attributes, each known to the operator, of the right type, given once. */
export function readAttributes(node: onnx.INodeProto, allowed: Record<string, number>, nodeFail: (p: string) => never): Attributes {
  const found = new Map<string, onnx.IAttributeProto>();
  for (const a of node.attribute ?? []) {
    const name = a.name ?? '';
    const type = allowed[name];
    if (type === undefined || !Object.hasOwn(allowed, name)) nodeFail(`attribute ${q(name)} is not supported`);
    if (found.has(name)) nodeFail(`attribute ${q(name)} is given twice`);
    if (a.refAttrName) nodeFail(`attribute ${q(name)} refers to a function attribute`);
    const want = ATTRIBUTE_FIELDS[type!]!;
    if (a.type !== type) nodeFail(`attribute ${q(name)} must be ${want.article}`);
    // exactly the one value field of its type (as ONNX's checker and onnxruntime require); an
    // empty list holds none
    const fields = [...ATTRIBUTE_SCALARS.filter((k) => Object.hasOwn(a, k) && a[k] != null),
      ...ATTRIBUTE_LISTS.filter((k) => (a[k]?.length ?? 0) > 0)];
    const isList = type === AT.INTS || type === AT.FLOATS;
    if (!(fields.length === 1 && fields[0] === want.field) && !(isList && fields.length === 0)) {
      nodeFail(`attribute ${q(name)} of type ${want.name} must hold exactly its '${want.field}' value`);
    }
    if (isList && (a[want.field as 'ints' | 'floats']?.length ?? 0) > MAX_INTS) nodeFail(`attribute ${q(name)} lists more than ${MAX_INTS} values`);
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
    string(name, fallback) {
      const a = found.get(name);
      if (!a) return fallback;
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(a.s ?? new Uint8Array(0));
      } catch {
        return nodeFail(`attribute ${q(name)} is not valid UTF-8`);
      }
    },
    ints(name, fallback) {
      const a = found.get(name);
      if (!a) return fallback;
      return (a.ints ?? []).map((x) => {
        const v = int64(x);
        if (v === null) return nodeFail(`attribute ${q(name)} holds a value out of range`);
        return v;
      });
    },
    tensor(name) {
      return found.get(name)?.t ?? null;
    },
    has(name) { return found.has(name); },
  };
}

// ---- tensors ----------------------------------------------------------------------------------------

export function tensorType(v: onnx.IValueInfoProto, label: string, fail: (p: string) => never): { elemType: number; dims: (number | null)[] | null } {
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
export function checkInitializerInput(v: onnx.IValueInfoProto, t: onnx.ITensorProto, fail: (p: string) => never): void {
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
export function tensorDims(t: onnx.ITensorProto, name: string, fail: (p: string) => never): { dims: number[]; count: number } {
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
export function floatTensor(t: onnx.ITensorProto, name: string, elemType: number, fail: (p: string) => never): FloatTensor {
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
export function biasTensor(t: onnx.ITensorProto, name: string, outputs: number, elemType: number, nodeFail: (p: string) => never): FloatTensor {
  const b = floatTensor(t, name, elemType, nodeFail);
  const d = b.dims;
  const ok = (d.length === 1 && (d[0] === outputs || d[0] === 1))
    || (d.length === 2 && d[0] === 1 && (d[1] === outputs || d[1] === 1))
    || d.length === 0;
  if (!ok) nodeFail(`shape mismatch: bias ${q(name)} has shape [${d.join(', ')}], which does not broadcast to [batch, ${outputs}]`);
  return b;
}

/** A small INT64 initializer (Reshape's shape) as numbers. */
export function int64Vector(t: onnx.ITensorProto, name: string, fail: (p: string) => never): number[] {
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
export function floatValues(f: FloatTensor): Float32Array {
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

export function scale(values: Float32Array, factor: number): void {
  for (let i = 0; i < values.length; i++) values[i] = values[i]! * factor;
}

// ---- layouts ----------------------------------------------------------------------------------------

/**
 * Where each feature of a flattened channels-last map (h, w, c) sits when the same map is
 * flattened channels-first (c, h, w): out[(h*W + w)*C + c] = (c*H + h)*W + w. Retort flattens
 * NHWC maps, ONNX NCHW ones; a dense layer after a flatten has its weight rows reordered by it.
 */
export function chwIndexOfHwc(H: number, W: number, C: number): Int32Array {
  const out = new Int32Array(H * W * C);
  for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[(h * W + w) * C + c] = (c * H + h) * W + w;
  return out;
}

/** Rows of a row-major [rows, cols] matrix (or a vector, cols = 1) moved: out[from[r]] = m[r] (`inverse`: out[r] = m[from[r]]). */
export function permuteRows(m: Float32Array, from: Int32Array, cols: number, inverse: boolean): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < from.length; r++) {
    const src = inverse ? from[r]! : r, dst = inverse ? r : from[r]!;
    out.set(m.subarray(src * cols, (src + 1) * cols), dst * cols);
  }
  return out;
}

/** A convolution kernel HWIO (KH, KW, I, O) -> OIHW (O, I, KH, KW), or back (`toHwio`). */
export function convKernelLayout(w: Float32Array, KH: number, KW: number, I: number, O: number, toHwio: boolean): Float32Array {
  const out = new Float32Array(w.length);
  for (let kh = 0; kh < KH; kh++) {
    for (let kw = 0; kw < KW; kw++) {
      for (let i = 0; i < I; i++) {
        for (let o = 0; o < O; o++) {
          const hwio = ((kh * KW + kw) * I + i) * O + o, oihw = ((o * I + i) * KH + kh) * KW + kw;
          if (toHwio) out[hwio] = w[oihw]!; else out[oihw] = w[hwio]!;
        }
      }
    }
  }
  return out;
}
