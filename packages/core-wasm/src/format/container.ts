// The container of the int8 model file, shared by its versions (./quantized.ts reads version 1,
// the MLP layout; ./quantized-graph.ts writes and reads version 2, any layer graph):
//
//   offset  size  field (little-endian)
//   0       8     magic "RETORTQ\x1a" (the float model file's is "RETORT\0\x1a")
//   8       4     u32 format version
//   12      4     u32 header length H; 32 + H is a multiple of 16 (the JSON is space-padded)
//   16      8     u64 payload length P (low u32, high u32)
//   24      4     u32 CRC-32 of bytes [8, 24) and [32, 32 + H + P): lengths, header, payload
//   28      4     u32 reserved, 0
//   32      H     header: UTF-8 JSON, { format: "retort-int8", ... } (per version)
//   32 + H  P     payload: the tensors the header points into, each 16-byte aligned
//
// readContainer checks the preamble, every length against the file and the checksum before
// anything is allocated; failures go to `fail` (a ModelFormatError naming the file).

import { crc32 } from './crc32.js';
import { isFloatModelFile } from './float-model.js';

export const QUANTIZED_MAGIC = Uint8Array.of(0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x51, 0x1a); // "RETORTQ\x1a"
/** The newest int8 format version this code reads and the one it writes (2: layer graphs). */
export const QUANTIZED_FORMAT_VERSION = 2;
const PREAMBLE = 32;
/** The header holds the spec, per-op entries and meta; beyond this it is refused unread. */
export const MAX_QUANTIZED_HEADER_BYTES = 1 << 20;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type Fail = (problem: string) => never;

/** A byte range of the payload, as the header states it. */
export interface Range { offset: number; length: number }

export const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** True when `bytes` start like an int8 model file (magic only; nothing else is checked). */
export function isQuantizedModelFile(bytes: Uint8Array): boolean {
  return bytes.length >= QUANTIZED_MAGIC.length && QUANTIZED_MAGIC.every((b, i) => bytes[i] === b);
}

/** Lays out tensors of the given byte lengths in a payload, each 16-byte aligned. */
export class PayloadLayout {
  bytes = 0;
  take(length: number): Range {
    const offset = align16(this.bytes);
    this.bytes = offset + length;
    return { offset, length };
  }
}

/** One file: preamble, the JSON header (space-padded), then the payload that `fill` writes at `start`. */
export function writeContainer(version: number, header: unknown, payloadBytes: number, fill: (view: DataView, out: Uint8Array, start: number) => void): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = align16(PREAMBLE + text.length) - PREAMBLE;
  const out = new Uint8Array(PREAMBLE + headerLength + payloadBytes);
  out.set(QUANTIZED_MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, version, true);
  view.setUint32(12, headerLength, true);
  view.setUint32(16, payloadBytes % 2 ** 32, true);
  view.setUint32(20, Math.floor(payloadBytes / 2 ** 32), true);
  out.set(text, PREAMBLE);
  out.fill(0x20, PREAMBLE + text.length, PREAMBLE + headerLength);
  fill(view, out, PREAMBLE + headerLength);
  view.setUint32(24, checksum(out), true);
  return out;
}

export interface Container { version: number; header: unknown; start: number; payload: number; end: number }

/** Checks the preamble, the lengths and the checksum, and parses the header JSON. */
export function readContainer(bytes: Uint8Array, fail: Fail): Container {
  const n = bytes.length;
  if (isFloatModelFile(bytes)) fail('a float32 Retort model file, not an int8 one (quantize it first)');
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
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, start)));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  return { version, header, start, payload, end };
}

/** A header's { offset, length } entry, checked to be a range of non-negative safe integers. */
export function rangeField(v: unknown, at: string, fail: Fail): Range {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(`${at}: must be { offset, length }`);
  const r = v as Record<string, unknown>;
  const int = (x: unknown, f: string): number => {
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return fail(`${at}.${f}: must be a non-negative integer, got ${JSON.stringify(x)}`);
    return x;
  };
  return { offset: int(r.offset, 'offset'), length: int(r.length, 'length') };
}

/**
 * Checks named payload ranges before anything is read: each the expected length, aligned, inside
 * the payload, and no two overlapping.
 */
export function checkRanges(ranges: readonly { at: string; range: Range; length: number; align: number }[], c: Container, fail: Fail): void {
  for (const { at, range: r, length, align } of ranges) {
    if (r.length !== length) fail(`${at}: length ${r.length} but the op needs ${length} bytes`);
    if (r.offset % align !== 0) fail(`${at}: offset ${r.offset} is not ${align}-byte aligned`);
    if (r.offset + r.length > c.payload) fail(`${at} needs bytes ${c.start + r.offset}..${c.start + r.offset + r.length} but the payload ends at ${c.end}`);
  }
  const sorted = [...ranges].sort((a, b) => a.range.offset - b.range.offset);
  for (let i = 1; i < sorted.length; i++) {
    const p = sorted[i - 1]!, q = sorted[i]!;
    if (p.range.length > 0 && q.range.length > 0 && p.range.offset + p.range.length > q.range.offset) fail(`${p.at} and ${q.at} overlap`);
  }
}

export function writeF32(view: DataView, at: number, data: Float32Array): void {
  if (HOST_LITTLE_ENDIAN) new Uint8Array(view.buffer, view.byteOffset + at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  else for (let k = 0; k < data.length; k++) view.setFloat32(at + 4 * k, data[k]!, true);
}

export function readF32(bytes: Uint8Array, at: number, n: number): Float32Array {
  const data = new Float32Array(n);
  if (HOST_LITTLE_ENDIAN) new Uint8Array(data.buffer).set(bytes.subarray(at, at + 4 * n));
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let k = 0; k < n; k++) data[k] = view.getFloat32(at + 4 * k, true);
  }
  return data;
}

export function readI8(bytes: Uint8Array, at: number, n: number): Int8Array {
  const data = new Int8Array(n);
  new Uint8Array(data.buffer).set(bytes.subarray(at, at + n));
  return data;
}

export function writeI8(out: Uint8Array, at: number, data: Int8Array): void {
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
}

function checksum(file: Uint8Array): number {
  return crc32(file.subarray(PREAMBLE), crc32(file.subarray(8, 24)));
}
