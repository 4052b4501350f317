// NumPy's .npy format (numpy.lib.format), versions 1.0, 2.0 and 3.0:
//   "\x93NUMPY" major minor, header length (u16 LE in 1.0, u32 LE in 2.0/3.0), then a
//   Python dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (N, C), }
//   padded with spaces and '\n' so the payload starts on a 64-byte boundary, then the
//   row-major payload.
// Supported dtypes: f4, f8, u1, i1, i4, and i8 (int64, e.g. labels from PyTorch), which is
// read into an Int32Array with a range check. Little- and big-endian ('<', '>', and
// '=' for native) are all accepted and converted to host order; '|' for 1-byte types.
// Structured dtypes and fortran_order True are rejected. The header is parsed as a
// Python literal by a small parser (never eval). Pure: no Node APIs.

import { bytesOf, HOST_LITTLE_ENDIAN, product, toHostOrder } from './bytes.js';
import { DataFormatError, formatDims } from './errors.js';

export type NpyDType = 'f4' | 'f8' | 'u1' | 'i1' | 'i4' | 'i8';

/** The typed array each dtype is read into; int64 ('i8') becomes Int32Array (checked). */
export interface NpyDataOf {
  f4: Float32Array; f8: Float64Array; u1: Uint8Array; i1: Int8Array; i4: Int32Array; i8: Int32Array;
}
export type NpyData = NpyDataOf[NpyDType];

export interface NpyArray {
  /** The dtype stored in the file (byte order dropped: data is always in host order). */
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

export interface NpyHeader {
  dtype: NpyDType;
  /** Byte order of the payload in the file. */
  littleEndian: boolean;
  shape: number[];
  /** Preamble + header dict + padding: the payload starts here. */
  headerBytes: number;
  payloadBytes: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
export const NPY_ITEM_SIZE: Record<NpyDType, number> = { f4: 4, f8: 8, u1: 1, i1: 1, i4: 4, i8: 8 };
/** Bytes a reader needs to learn the header length: magic, version, length field. */
export const NPY_PREAMBLE_BYTES = 12;
const MAX_HEADER_BYTES = 1 << 20;

/**
 * From the first bytes of a .npy file (at least min(NPY_PREAMBLE_BYTES, fileBytes)), the
 * total header length (where the payload starts), checked against the file length.
 */
export function npyHeaderLength(prefix: Uint8Array, fileBytes: number, file: string): number {
  if (fileBytes < 10 || prefix.length < 10) throw new DataFormatError(file, `truncated header: the file has ${fileBytes} bytes`);
  if (MAGIC.some((m, i) => prefix[i] !== m)) throw new DataFormatError(file, 'not a .npy file: bad magic (expected \\x93NUMPY)');
  const major = prefix[6]!, minor = prefix[7]!;
  if (!((major === 1 || major === 2 || major === 3) && minor === 0)) {
    throw new DataFormatError(file, `unsupported .npy format version ${major}.${minor} (1.0, 2.0 and 3.0 are supported)`);
  }
  let start = 10;
  let length: number;
  if (major === 1) {
    length = prefix[8]! | (prefix[9]! << 8);
  } else {
    if (fileBytes < 12 || prefix.length < 12) throw new DataFormatError(file, `truncated header: the file has ${fileBytes} bytes`);
    length = new DataView(prefix.buffer, prefix.byteOffset + 8, 4).getUint32(0, true);
    start = 12;
  }
  if (length > MAX_HEADER_BYTES) throw new DataFormatError(file, `bad header: its length ${length} is implausible (over 1 MiB)`);
  if (start + length > fileBytes) {
    throw new DataFormatError(file, `truncated header: it declares ${length} bytes, the file has ${fileBytes - start} after the preamble`);
  }
  return start + length;
}

/** Parses and validates the header (`head` holds at least the first `npyHeaderLength` bytes). */
export function parseNpyHeader(head: Uint8Array, fileBytes: number, file: string): NpyHeader {
  const headerBytes = npyHeaderLength(head, fileBytes, file);
  if (head.length < headerBytes) throw new RangeError(`parseNpyHeader: need ${headerBytes} header bytes, got ${head.length}`);
  const start = head[6] === 1 ? 10 : 12;
  const raw = head.subarray(start, headerBytes);
  const text = new TextDecoder(head[6] === 3 ? 'utf-8' : 'latin1').decode(raw);
  const dict = new PyLiteralParser(text, file).parseAll();
  if (!(dict instanceof Map)) throw new DataFormatError(file, 'bad header: not a dict');
  const descr = dict.get('descr'), fortran = dict.get('fortran_order'), shapeValue = dict.get('shape');
  if (descr === undefined || fortran === undefined || shapeValue === undefined) {
    throw new DataFormatError(file, `bad header: needs the keys 'descr', 'fortran_order' and 'shape', got ${JSON.stringify(text.trim())}`);
  }
  if (typeof descr !== 'string') throw new DataFormatError(file, 'unsupported dtype: structured dtypes are not supported');
  if (fortran !== false) {
    throw new DataFormatError(file, fortran === true
      ? 'fortran_order is True: column-major arrays are not supported (save np.ascontiguousarray(a))'
      : 'bad header: fortran_order must be True or False');
  }
  if (!Array.isArray(shapeValue) || !shapeValue.every((d) => typeof d === 'number' && d >= 0)) {
    throw new DataFormatError(file, 'bad header: shape must be a tuple of non-negative integers');
  }
  const shape = shapeValue as number[];
  const m = /^([<>|=]?)([fiu])([1248])$/.exec(descr);
  const dtype = m ? `${m[2]}${m[3]}` : '';
  if (!m || !(dtype in NPY_ITEM_SIZE)) {
    throw new DataFormatError(file, `unsupported dtype '${descr}' (supported: f4, f8, u1, i1, i4, i8)`);
  }
  const littleEndian = m[1] === '<' || ((m[1] === '=' || m[1] === '|' || m[1] === '') && HOST_LITTLE_ENDIAN);
  const d = dtype as NpyDType;
  const payloadBytes = product(shape) * NPY_ITEM_SIZE[d];
  const remaining = fileBytes - headerBytes;
  if (payloadBytes !== remaining) {
    throw new DataFormatError(file, `${payloadBytes > remaining ? 'truncated' : 'trailing bytes'}: header says ${
      formatDims(shape)} ${descr} = ${payloadBytes} bytes, file has ${remaining} after the header`);
  }
  return { dtype: d, littleEndian, shape, headerBytes, payloadBytes };
}

/**
 * Converts a payload (exactly `h.payloadBytes` bytes) to its typed array. With `owned`,
 * the payload buffer may be reused and modified (no copy when aligned); otherwise u1/i1
 * data are views of it and wider types are copies.
 */
export function decodeNpyPayload(h: NpyHeader, payload: Uint8Array, file: string, owned = false): NpyData {
  const n = product(h.shape);
  const size = NPY_ITEM_SIZE[h.dtype];
  switch (h.dtype) {
    case 'u1': return payload;
    case 'i1': return new Int8Array(payload.buffer, payload.byteOffset, n);
    case 'i8': return int64ToInt32(payload, n, h.littleEndian, file);
  }
  let bytes: Uint8Array;
  if (owned && payload.byteOffset % size === 0) {
    bytes = payload;
  } else {
    bytes = new Uint8Array(payload.length);
    bytes.set(payload);
  }
  toHostOrder(bytes, size, h.littleEndian);
  const Ctor = h.dtype === 'f4' ? Float32Array : h.dtype === 'f8' ? Float64Array : Int32Array;
  return new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, n);
}

function int64ToInt32(payload: Uint8Array, n: number, littleEndian: boolean, file: string): Int32Array {
  const out = new Int32Array(n);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const [loAt, hiAt] = littleEndian ? [0, 4] : [4, 0];
  for (let i = 0; i < n; i++) {
    const lo = view.getUint32(8 * i + loAt, littleEndian);
    const hi = view.getInt32(8 * i + hiAt, littleEndian);
    if (hi !== (lo >= 0x80000000 ? -1 : 0)) {
      const value = BigInt(hi) * 4294967296n + BigInt(lo);
      throw new DataFormatError(file, `int64 value ${value} at index ${i} does not fit in int32`);
    }
    out[i] = lo | 0;
  }
  return out;
}

/**
 * Reads a .npy file held in memory; `file` names the source in errors. u1/i1 data are views
 * into `bytes` (no copy); wider types are copies in host byte order.
 */
export function readNpy(bytes: Uint8Array, file = '<npy bytes>'): NpyArray {
  const h = parseNpyHeader(bytes, bytes.length, file);
  const data = decodeNpyPayload(h, bytes.subarray(h.headerBytes), file, false);
  return { dtype: h.dtype, shape: h.shape, data };
}

/** Float32 copy of any numeric array (the same array if it already is one). */
export function toFloat32(data: ArrayLike<number>): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

export interface NpyInput {
  dtype: NpyDType;
  shape: readonly number[];
  /** Values, converted to dtype like a typed-array store; 'i8' requires safe integers. */
  data: ArrayLike<number>;
}

/** Serialises an array as a version 1.0 .npy (2.0 if the header is too long), little-endian. */
export function writeNpy(arr: NpyInput): Uint8Array {
  const { dtype, shape, data } = arr;
  const size = NPY_ITEM_SIZE[dtype];
  if (size === undefined) throw new RangeError(`writeNpy: unsupported dtype ${String(dtype)}`);
  for (const d of shape) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`writeNpy: bad dimension ${d}`);
  const n = product(shape);
  if (data.length !== n) throw new RangeError(`writeNpy: ${data.length} values for shape ${formatDims(shape)} (${n})`);
  const descr = size === 1 ? `|${dtype}` : `<${dtype}`;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const v1 = dict.length + 1 + 10 <= 0xffff;
  const preamble = v1 ? 10 : 12;
  dict += ' '.repeat((64 - ((preamble + dict.length + 1) % 64)) % 64) + '\n';
  const out = new Uint8Array(preamble + dict.length + n * size);
  out.set(MAGIC);
  out[6] = v1 ? 1 : 2;
  const dv = new DataView(out.buffer);
  if (v1) dv.setUint16(8, dict.length, true); else dv.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[preamble + i] = dict.charCodeAt(i);
  const body = out.subarray(preamble + dict.length);
  if (dtype === 'i8') {
    for (let i = 0; i < n; i++) {
      const v = data[i]!;
      if (!Number.isSafeInteger(v)) throw new RangeError(`writeNpy: value ${v} at index ${i} is not an integer`);
      dv.setBigInt64(body.byteOffset + 8 * i, BigInt(v), true);
    }
    return out;
  }
  const Ctor = { f4: Float32Array, f8: Float64Array, u1: Uint8Array, i1: Int8Array, i4: Int32Array }[dtype];
  const typed = new Ctor(n);
  typed.set(data);
  body.set(bytesOf(typed));
  toHostOrder(body, size, true); // the swap is its own inverse: host order -> little-endian
  return out;
}

// ---- a Python literal parser for the header dict (strings, ints, bools, None, tuples, lists, dicts) ----

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

class PyLiteralParser {
  private pos = 0;
  private depth = 0;

  constructor(private readonly s: string, private readonly file: string) {}

  parseAll(): PyValue {
    const v = this.value();
    this.ws();
    if (this.pos < this.s.length) this.fail('unexpected text after the dict');
    return v;
  }

  private fail(what: string): never {
    throw new DataFormatError(this.file, `bad header: ${what} at character ${this.pos} of ${JSON.stringify(this.s.trim().slice(0, 160))}`);
  }

  private ws(): void {
    while (this.pos < this.s.length && ' \t\r\n'.includes(this.s[this.pos]!)) this.pos++;
  }

  private value(): PyValue {
    this.ws();
    const c = this.s[this.pos];
    if (c === undefined) this.fail('unexpected end');
    if (c === '{' || c === '(' || c === '[') {
      if (++this.depth > 16) this.fail('nested too deeply');
      const v = c === '{' ? this.dict() : this.sequence(c === '(' ? ')' : ']');
      this.depth--;
      return v;
    }
    if (c === "'" || c === '"') return this.string();
    const m = /^(-?\d+)L?|^(True|False|None)\b/.exec(this.s.slice(this.pos, this.pos + 32));
    if (!m) this.fail(`unexpected ${JSON.stringify(c)}`);
    this.pos += m[0].length;
    if (m[2] !== undefined) return m[2] === 'None' ? null : m[2] === 'True';
    const n = Number(m[1]);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${m[1]} is too large`);
    return n;
  }

  private string(): string {
    const quote = this.s[this.pos++]!;
    let out = '';
    for (;;) {
      const c = this.s[this.pos++];
      if (c === undefined) this.fail('unterminated string');
      if (c === quote) return out;
      out += c === '\\' ? (this.s[this.pos++] ?? '') : c;
    }
  }

  /** Items separated by commas, an optional trailing comma, then `close`. */
  private items(close: string, item: () => void): void {
    this.pos++;
    for (;;) {
      this.ws();
      if (this.s[this.pos] === close) { this.pos++; return; }
      item();
      this.ws();
      if (this.s[this.pos] === ',') this.pos++;
      else if (this.s[this.pos] !== close) this.fail(`expected ',' or '${close}'`);
    }
  }

  private sequence(close: string): PyValue[] {
    const out: PyValue[] = [];
    this.items(close, () => out.push(this.value()));
    return out;
  }

  private dict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.items('}', () => {
      const key = this.value();
      if (typeof key !== 'string') this.fail('dict keys must be strings');
      this.ws();
      if (this.s[this.pos] !== ':') this.fail("expected ':'");
      this.pos++;
      out.set(key, this.value());
    });
    return out;
  }
}
