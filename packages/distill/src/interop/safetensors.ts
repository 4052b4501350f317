// The safetensors format (Hugging Face), read and written in memory; pure, no Node APIs.
//   [8 bytes]  N, the header length, u64 little-endian
//   [N bytes]  UTF-8 JSON: { "<name>": { "dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end] },
//                             ..., "__metadata__"?: { "<key>": "<string>" } }  (may end in spaces)
//   [rest]     the byte buffer; a tensor's bytes are buffer[begin, end), row-major, little-endian.
// Every tensor is read into a Float32Array: F32 as is, F64 rounded, F16 and BF16 widened
// exactly (subnormals, ±0, ±Inf, NaN), integer types and BOOL converted (exact up to 2^24).
//
// Everything is checked BEFORE anything is allocated by size: the header length against the
// file size (and a 100 MiB cap), the JSON, each entry (a known dtype, a shape of non-negative
// safe integers, offsets with begin <= end inside the buffer, end - begin = elements x dtype
// size) and that no two tensors overlap. Gaps between tensors and trailing bytes are
// tolerated (the reference writer leaves none). Errors are DataFormatError naming the file
// and the tensor: "logits.safetensors: tensor 'logits': data_offsets [0, 4000] run past the
// 3000-byte buffer".

import { HOST_LITTLE_ENDIAN, swapBytesInPlace } from '../data/bytes.js';
import { DataFormatError } from '../data/errors.js';
import { decodeBf16, decodeF16, numberToBf16Bits, numberToF16Bits } from './fp16.js';

/** Dtypes this reader converts to float32. */
export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';
/** Dtypes the writer stores. */
export type SafetensorsWriteDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'U16' | 'U8';
const WRITABLE = new Set<string>(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'U16', 'U8']);

/** Bytes per element of every dtype the format defines (the F8 ones validate but do not decode). */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<string, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U64: 8, U32: 4, U16: 2, U8: 1, BOOL: 1,
  F8_E4M3: 1, F8_E5M2: 1,
});
const DECODABLE = new Set<string>(['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL']);

/** A header longer than this is refused (the reference implementation's limit is 100 MB too). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;
/** Most dimensions a tensor may have. */
export const SAFETENSORS_MAX_RANK = 64;

/** One tensor's header entry; begin and end are offsets into the byte buffer (after the header). */
export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Number of elements: the product of shape. */
  elements: number;
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  /** 8 + N: the byte buffer starts here. */
  headerBytes: number;
  /** Size of the byte buffer (file size - headerBytes). */
  bufferBytes: number;
  /** In the header's order. */
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
}

export interface SafetensorsTensor {
  dtype: SafetensorsDType;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** Null-prototype record: a tensor may be named "constructor" or "__proto__". */
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface SafetensorsReadOptions {
  /** Decode only these tensors (every entry is still validated); a missing name is an error. */
  tensors?: readonly string[];
}

/** A tensor name as it appears in messages: quoted, one line, at most ~100 characters. */
export function quoteName(name: string): string {
  const s = JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name).slice(1, -1).replace(/'/g, "\\'");
  return `'${s}'`;
}

function brief(value: unknown): string {
  let s: string;
  try { s = JSON.stringify(value) ?? String(value); } catch { s = String(value); }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/**
 * N, the header length, from the first 8 bytes (at least min(8, fileBytes) of them),
 * checked against the file size and the cap.
 */
export function safetensorsHeaderLength(prefix: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 8 || prefix.length < 8) throw new DataFormatError(file, `truncated: ${fileBytes} bytes, fewer than the 8-byte header length`);
  const dv = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true);
  const n = hi * 4294967296 + lo;
  if (n > SAFETENSORS_MAX_HEADER_BYTES) {
    throw new DataFormatError(file, `header length ${hi > 0x1fffff ? `${BigInt(hi) * 4294967296n + BigInt(lo)}` : n} is over the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  if (n < 2) throw new DataFormatError(file, `header length ${n} is too short for a JSON object`);
  if (8 + n > fileBytes) throw new DataFormatError(file, `truncated header: it declares ${n} bytes, the file has ${fileBytes - 8} after the length`);
  return n;
}

function isNonNegativeSafeInteger(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Parses and validates the header JSON (`json`: the N header bytes) against a byte buffer of
 * `bufferBytes`. Allocates nothing proportional to the tensors.
 */
export function parseSafetensorsHeader(json: Uint8Array, bufferBytes: number, file: string): SafetensorsHeader {
  if (json[0] !== 0x7b) throw new DataFormatError(file, `header does not start with '{' (not a safetensors file?)`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch {
    throw new DataFormatError(file, 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new DataFormatError(file, `header is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new DataFormatError(file, 'header must be a JSON object');

  const metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new DataFormatError(file, `__metadata__ must be an object of strings, got ${brief(value)}`);
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new DataFormatError(file, `__metadata__ ${quoteName(k)} must be a string, got ${brief(v)}`);
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, bufferBytes, file));
  }

  // no two tensors may share a byte (empty tensors hold none)
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let last: SafetensorsEntry | null = null;
  for (const e of sorted) {
    if (last && e.begin < last.end) {
      throw new DataFormatError(file, `tensor ${quoteName(e.name)}: data_offsets [${e.begin}, ${e.end}] overlap tensor ${quoteName(last.name)} [${last.begin}, ${last.end}]`);
    }
    if (!last || e.end > last.end) last = e;
  }
  return { headerBytes: 8 + json.length, bufferBytes, entries, metadata };
}

function parseEntry(name: string, value: unknown, bufferBytes: number, file: string): SafetensorsEntry {
  const what = `tensor ${quoteName(name)}`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DataFormatError(file, `${what}: entry must be an object {dtype, shape, data_offsets}, got ${brief(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') throw new DataFormatError(file, `${what}: dtype must be a string, got ${brief(dtype)}`);
  const size = Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, dtype) ? SAFETENSORS_DTYPE_SIZE[dtype] : undefined;
  if (size === undefined) throw new DataFormatError(file, `${what}: unknown dtype ${brief(dtype)}`);
  if (!Array.isArray(shape) || shape.length > SAFETENSORS_MAX_RANK || !shape.every(isNonNegativeSafeInteger)) {
    throw new DataFormatError(file, `${what}: shape must be an array of at most ${SAFETENSORS_MAX_RANK} non-negative integers, got ${brief(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    throw new DataFormatError(file, `${what}: data_offsets must be [begin, end] with non-negative integers, got ${brief(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw new DataFormatError(file, `${what}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > bufferBytes) throw new DataFormatError(file, `${what}: data_offsets [${begin}, ${end}] run past the ${bufferBytes}-byte buffer`);
  // elements x size must equal end - begin (<= bufferBytes): stop multiplying once past it
  let elements = 1;
  if (shape.includes(0)) {
    elements = 0;
  } else {
    for (const d of shape as number[]) {
      elements *= d;
      if (elements * size > bufferBytes) {
        throw new DataFormatError(file, `${what}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs more bytes than the ${bufferBytes}-byte buffer holds`);
      }
    }
  }
  if (elements * size !== end - begin) {
    throw new DataFormatError(file, `${what}: shape [${(shape as number[]).join(', ')}] of ${dtype} needs ${elements * size} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, shape: (shape as number[]).slice(), elements, begin, end };
}

/** Converts one tensor's bytes (exactly end - begin of them) to float32. */
export function decodeSafetensor(entry: SafetensorsEntry, bytes: Uint8Array, file: string): Float32Array {
  const { dtype, elements: n } = entry;
  if (!DECODABLE.has(dtype)) {
    throw new DataFormatError(file, `tensor ${quoteName(entry.name)}: dtype ${dtype} is not supported (F32, F16, BF16, F64 and integer types are)`);
  }
  const size = SAFETENSORS_DTYPE_SIZE[dtype]!;
  if (bytes.length !== n * size) throw new RangeError(`decodeSafetensor: ${entry.name} needs ${n * size} bytes, got ${bytes.length}`);
  const out = new Float32Array(n);
  if (n === 0) return out;
  switch (dtype) {
    case 'F32': {
      const raw = new Uint8Array(out.buffer);
      raw.set(bytes);
      if (!HOST_LITTLE_ENDIAN) swapBytesInPlace(raw, 4);
      return out;
    }
    case 'F16': decodeF16(bytes, 0, n, out); return out;
    case 'BF16': decodeBf16(bytes, 0, n, out); return out;
    case 'U8': out.set(bytes); return out;
    case 'BOOL': for (let i = 0; i < n; i++) out[i] = bytes[i] === 0 ? 0 : 1; return out;
    default: break;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const read: (i: number) => number = {
    F64: (i: number) => dv.getFloat64(8 * i, true),
    I64: (i: number) => Number(dv.getBigInt64(8 * i, true)),
    U64: (i: number) => Number(dv.getBigUint64(8 * i, true)),
    I32: (i: number) => dv.getInt32(4 * i, true),
    U32: (i: number) => dv.getUint32(4 * i, true),
    I16: (i: number) => dv.getInt16(2 * i, true),
    U16: (i: number) => dv.getUint16(2 * i, true),
    I8: (i: number) => dv.getInt8(i),
  }[dtype]!;
  for (let i = 0; i < n; i++) out[i] = read(i);
  return out;
}

function missingTensor(header: SafetensorsHeader, name: string, file: string): never {
  const names = header.entries.map((e) => quoteName(e.name));
  const list = names.length === 0 ? 'it holds no tensors' : `it holds ${names.slice(0, 10).join(', ')}${names.length > 10 ? `, … (${names.length})` : ''}`;
  throw new DataFormatError(file, `no tensor ${quoteName(name)} (${list})`);
}

/** The entries to decode: all of them, or the named ones (each must exist). */
export function selectEntries(header: SafetensorsHeader, names: readonly string[] | undefined, file: string): SafetensorsEntry[] {
  if (!names) return header.entries;
  return names.map((name) => header.entries.find((e) => e.name === name) ?? missingTensor(header, name, file));
}

/** Reads a safetensors file held in memory; `fileName` names it in errors. */
export function readSafetensors(bytes: Uint8Array, fileName = '<safetensors bytes>', opts: SafetensorsReadOptions = {}): SafetensorsFile {
  const n = safetensorsHeaderLength(bytes, bytes.length, fileName);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, fileName);
  const buffer = bytes.subarray(8 + n);
  const tensors = Object.create(null) as Record<string, SafetensorsTensor>;
  for (const e of selectEntries(header, opts.tensors, fileName)) {
    const data = decodeSafetensor(e, buffer.subarray(e.begin, e.end), fileName);
    tensors[e.name] = { dtype: e.dtype as SafetensorsDType, shape: e.shape, data };
  }
  return { tensors, metadata: header.metadata };
}

// ---- writer -------------------------------------------------------------------------------------

export interface SafetensorsInput {
  /** Default 'F32'. F16 and BF16 round to nearest, ties to even. */
  dtype?: SafetensorsWriteDType;
  shape: readonly number[];
  /** Row-major values, product(shape) of them. */
  data: ArrayLike<number>;
}

/**
 * Serialises tensors (in the record's order, packed with no gaps) and optional string
 * metadata. The header is padded with spaces so the buffer starts on an 8-byte boundary.
 */
export function writeSafetensors(tensors: Record<string, SafetensorsInput>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== 'string') throw new RangeError(`writeSafetensors: metadata '${k}' must be a string`);
    header.__metadata__ = metadata;
  }
  const parts: { bytes: number; write: (out: Uint8Array, at: number) => void }[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new RangeError('writeSafetensors: "__metadata__" cannot name a tensor');
    const dtype = t.dtype ?? 'F32';
    const size = SAFETENSORS_DTYPE_SIZE[dtype];
    if (size === undefined || !WRITABLE.has(dtype)) throw new RangeError(`writeSafetensors: ${name}: dtype must be one of ${[...WRITABLE].join(', ')}, got ${String(dtype)}`);
    for (const d of t.shape) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`writeSafetensors: ${name}: bad dimension ${d}`);
    const n = t.shape.reduce((p, d) => p * d, 1);
    if (t.data.length !== n) throw new RangeError(`writeSafetensors: ${name}: ${t.data.length} values for shape [${t.shape.join(', ')}] (${n})`);
    const bytes = n * size;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    parts.push({ bytes, write: (out, at) => encodeInto(out, at, dtype, t.data, n, name) });
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, json.length, true);
  dv.setUint32(4, 0, true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const p of parts) { p.write(out, at); at += p.bytes; }
  return out;
}

/** Same-typed arrays on a little-endian host are copied as bytes; anything else is converted value by value. */
function encodeInto(out: Uint8Array, at: number, dtype: SafetensorsWriteDType, data: ArrayLike<number>, n: number, name: string): void {
  const same = (dtype === 'F32' && data instanceof Float32Array) || (dtype === 'F64' && data instanceof Float64Array) ||
    (dtype === 'I32' && data instanceof Int32Array) || (dtype === 'I16' && data instanceof Int16Array) ||
    (dtype === 'U16' && data instanceof Uint16Array) || (dtype === 'U8' && data instanceof Uint8Array);
  if (same && HOST_LITTLE_ENDIAN) {
    const v = data as unknown as ArrayBufferView;
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const intRange: Record<string, [number, number]> = { I32: [-(2 ** 31), 2 ** 31 - 1], I16: [-32768, 32767], U16: [0, 65535], U8: [0, 255], I64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] };
  const range = intRange[dtype];
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (range && !(Number.isInteger(v) && v >= range[0] && v <= range[1])) throw new RangeError(`writeSafetensors: ${name}[${i}] = ${v} is not a ${dtype} value`);
    switch (dtype) {
      case 'F32': dv.setFloat32(at + 4 * i, v, true); break;
      case 'F64': dv.setFloat64(at + 8 * i, v, true); break;
      case 'F16': dv.setUint16(at + 2 * i, numberToF16Bits(v), true); break;
      case 'BF16': dv.setUint16(at + 2 * i, numberToBf16Bits(v), true); break;
      case 'I64': dv.setBigInt64(at + 8 * i, BigInt(v), true); break;
      case 'I32': dv.setInt32(at + 4 * i, v, true); break;
      case 'I16': dv.setInt16(at + 2 * i, v, true); break;
      case 'U16': dv.setUint16(at + 2 * i, v, true); break;
      case 'U8': out[at + i] = v; break;
    }
  }
}
