// IDX, the MNIST family's own format (http://yann.lecun.com/exdb/mnist/):
//   bytes 0-1  0x00 0x00 (magic)
//   byte  2    element type: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
//   byte  3    ndims
//   then ndims big-endian u32 dims, then the big-endian payload, row-major.
// Pure: no Node APIs (files.ts reads from disk with the same checks). Every size is
// checked against the file length before anything is allocated.

import { bytesOf, product, toHostOrder } from './bytes.js';
import { DataFormatError, formatDims } from './errors.js';

export type IdxType = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';

export interface IdxDataOf {
  u8: Uint8Array; i8: Int8Array; i16: Int16Array; i32: Int32Array; f32: Float32Array; f64: Float64Array;
}
export type IdxData = IdxDataOf[IdxType];

export interface IdxArray {
  type: IdxType;
  /** e.g. [60000, 28, 28] */
  dims: number[];
  /** Row-major elements in host order; length = product(dims). */
  data: IdxData;
}

export interface IdxHeader {
  type: IdxType;
  dims: number[];
  /** 4 + 4 * ndims */
  headerBytes: number;
  /** product(dims) * element size, equal to the file length minus headerBytes */
  payloadBytes: number;
}

const TYPE_CODES: Record<number, IdxType> = { 0x08: 'u8', 0x09: 'i8', 0x0b: 'i16', 0x0c: 'i32', 0x0d: 'f32', 0x0e: 'f64' };
const CODE_OF: Record<IdxType, number> = { u8: 0x08, i8: 0x09, i16: 0x0b, i32: 0x0c, f32: 0x0d, f64: 0x0e };
export const IDX_ITEM_SIZE: Record<IdxType, number> = { u8: 1, i8: 1, i16: 2, i32: 4, f32: 4, f64: 8 };

/** The longest IDX header (4 dims): a reader that has this many bytes (or the whole file) can parse it. */
export const IDX_MAX_HEADER_BYTES = 20;

const hex = (v: number, digits: number): string => `0x${v.toString(16).padStart(digits, '0')}`;

/**
 * Parses and validates an IDX header from the first bytes of a file (`prefix`, at least
 * min(IDX_MAX_HEADER_BYTES, fileBytes) of them) against the file's total length.
 */
export function parseIdxHeader(prefix: Uint8Array, fileBytes: number, file: string): IdxHeader {
  if (fileBytes < 4 || prefix.length < 4) {
    throw new DataFormatError(file, `truncated header: the file has ${fileBytes} bytes, an IDX header needs at least 4`);
  }
  const b0 = prefix[0]!, b1 = prefix[1]!, code = prefix[2]!, ndims = prefix[3]!;
  if (b0 !== 0 || b1 !== 0) {
    throw new DataFormatError(file, `not an IDX file: magic ${hex((b0 << 8) | b1, 4)}, expected 0x0000`);
  }
  const type = TYPE_CODES[code];
  if (type === undefined) {
    throw new DataFormatError(file, `unknown IDX element type ${hex(code, 2)} (known: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)`);
  }
  if (ndims < 1 || ndims > 4) throw new DataFormatError(file, `unsupported number of dimensions ${ndims} (1 to 4)`);
  const headerBytes = 4 + 4 * ndims;
  if (fileBytes < headerBytes || prefix.length < headerBytes) {
    throw new DataFormatError(file, `truncated header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${fileBytes}`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, headerBytes);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw new DataFormatError(file, `dimension ${i} is 0 (dims ${formatDims([...dims, d])})`);
    dims.push(d);
  }
  const payloadBytes = product(dims) * IDX_ITEM_SIZE[type];
  const remaining = fileBytes - headerBytes;
  if (payloadBytes !== remaining) {
    const what = payloadBytes > remaining ? 'truncated' : 'trailing bytes';
    throw new DataFormatError(file,
      `${what}: header says ${formatDims(dims)} ${type} = ${payloadBytes} bytes, file has ${remaining} after the header`);
  }
  return { type, dims, headerBytes, payloadBytes };
}

/** A zero-filled typed array for `n` elements of `type`. */
export function allocIdxData<T extends IdxType>(type: T, n: number): IdxDataOf[T] {
  switch (type) {
    case 'u8': return new Uint8Array(n) as IdxDataOf[T];
    case 'i8': return new Int8Array(n) as IdxDataOf[T];
    case 'i16': return new Int16Array(n) as IdxDataOf[T];
    case 'i32': return new Int32Array(n) as IdxDataOf[T];
    case 'f32': return new Float32Array(n) as IdxDataOf[T];
    default: return new Float64Array(n) as IdxDataOf[T];
  }
}

/**
 * Reads an IDX file held in memory. u8 and i8 data are views into `bytes` (no copy);
 * wider types are copied into host byte order. `file` names the source in errors.
 */
export function readIdx(bytes: Uint8Array, file = '<idx bytes>'): IdxArray {
  const h = parseIdxHeader(bytes, bytes.length, file);
  const payload = bytes.subarray(h.headerBytes);
  const n = product(h.dims);
  if (h.type === 'u8') return { type: h.type, dims: h.dims, data: payload };
  if (h.type === 'i8') return { type: h.type, dims: h.dims, data: new Int8Array(payload.buffer, payload.byteOffset, n) };
  const data = allocIdxData(h.type, n);
  const out = bytesOf(data);
  out.set(payload);
  toHostOrder(out, IDX_ITEM_SIZE[h.type], false);
  return { type: h.type, dims: h.dims, data };
}

/** What writeIdx accepts: any array-like of numbers, converted to `type` (integers truncate, as in typed arrays). */
export interface IdxInput {
  type: IdxType;
  dims: readonly number[];
  data: ArrayLike<number>;
}

/** Serialises an array as an IDX file (for tests, slices and exports). */
export function writeIdx(arr: IdxInput): Uint8Array {
  const { type, dims, data } = arr;
  const code = CODE_OF[type];
  if (code === undefined) throw new RangeError(`writeIdx: unknown type ${String(type)}`);
  if (dims.length < 1 || dims.length > 4) throw new RangeError(`writeIdx: ${dims.length} dimensions (1 to 4 allowed)`);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 1 || d > 0xffffffff) throw new RangeError(`writeIdx: bad dimension ${d} in ${formatDims(dims)}`);
  }
  const n = product(dims);
  if (data.length !== n) throw new RangeError(`writeIdx: ${data.length} values for dims ${formatDims(dims)} (${n})`);
  const headerBytes = 4 + 4 * dims.length;
  const out = new Uint8Array(headerBytes + n * IDX_ITEM_SIZE[type]);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const body = out.subarray(headerBytes);
  const typed = allocIdxData(type, n);
  typed.set(data);
  body.set(bytesOf(typed));
  toHostOrder(body, IDX_ITEM_SIZE[type], false); // the swap is its own inverse: host order -> big-endian
  return out;
}
