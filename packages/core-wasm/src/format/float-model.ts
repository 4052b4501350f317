// A dependency-free reader of the float32 Retort model file (the layout is documented in
// @retort/distill's format/model-file.ts, which writes it), for the inference-only entry: the
// MLP's layer sizes and flat parameters (per layer W (IN, OUT) row-major, then b (OUT)).
// Every size is checked against the file length and the checksum before anything is
// allocated; errors are ModelFormatErrors naming the file.
import { crc32 } from './crc32.js';
import { ModelFormatError } from './errors.js';

export const FLOAT_MODEL_MAGIC = Uint8Array.of(0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x00, 0x1a); // "RETORT\0\x1a"
const PREAMBLE = 32;
const MAX_HEADER = 16 << 20;

export interface FloatMlp { sizes: number[]; params: Float32Array; meta: Record<string, unknown> }

export function isFloatModelFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && FLOAT_MODEL_MAGIC.every((b, i) => bytes[i] === b);
}

export function decodeFloatModelFile(bytes: Uint8Array, fileName = 'model'): FloatMlp {
  const fail = (problem: string): never => { throw new ModelFormatError(fileName, problem); };
  if (!isFloatModelFile(bytes)) fail('not a Retort model file (bad magic)');
  if (bytes.length < PREAMBLE) fail(`truncated: ${bytes.length} bytes, shorter than the ${PREAMBLE}-byte preamble`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== 1) fail(`format version ${version} is not one this reader knows (1)`);
  const headerLength = view.getUint32(12, true);
  if (headerLength === 0 || headerLength > MAX_HEADER || (PREAMBLE + headerLength) % 16 !== 0) fail(`corrupt preamble: header length ${headerLength}`);
  if (view.getUint32(20, true) !== 0) fail('payload larger than 4 GiB');
  const start = PREAMBLE + headerLength, end = start + view.getUint32(16, true);
  if (end !== bytes.length) fail(end > bytes.length ? `truncated: the payload needs bytes ${start}..${end} but the file has ${bytes.length}` : 'unexpected bytes after the payload (file corrupt)');
  const c = crc32(bytes.subarray(8, 24), 0);
  if (view.getUint32(24, true) !== crc32(bytes.subarray(PREAMBLE, end), c)) fail('checksum mismatch (file corrupt)');
  let header: { spec?: { sizes?: unknown }; meta?: unknown; tensors?: unknown };
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, start))) as typeof header;
  } catch {
    return fail('header is not valid JSON');
  }
  const sizes = header.spec?.sizes;
  if (!Array.isArray(sizes) || sizes.length < 2 || !sizes.every((s) => Number.isInteger(s) && s >= 1 && s <= 2 ** 24)) fail('header.spec.sizes: not a list of layer sizes');
  const sz = sizes as number[];
  const table = new Map<string, { shape: number[]; offset: number; length: number }>();
  if (!Array.isArray(header.tensors)) fail('header.tensors: not a list');
  for (const t of header.tensors as { name?: unknown; shape?: unknown; offset?: unknown; length?: unknown }[]) {
    if (typeof t.name !== 'string' || !Array.isArray(t.shape) || !Number.isSafeInteger(t.offset) || !Number.isSafeInteger(t.length)) fail('header.tensors: a malformed entry');
    table.set(t.name as string, { shape: t.shape as number[], offset: t.offset as number, length: t.length as number });
  }
  let count = 0;
  for (let i = 0; i + 1 < sz.length; i++) count += sz[i]! * sz[i + 1]! + sz[i + 1]!;
  if (4 * count > end - start) fail(`the spec ${sz.join('-')} needs ${4 * count} bytes of parameters but the payload has ${end - start}`);
  const params = new Float32Array(count);
  let at = 0;
  for (let i = 0; i + 1 < sz.length; i++) {
    for (const [suffix, shape] of [['w', [sz[i]!, sz[i + 1]!]], ['b', [sz[i + 1]!]]] as const) {
      const name = `layer${i}.${suffix}`;
      const t = table.get(name);
      if (!t) return fail(`tensor '${name}' is missing (the spec ${sz.join('-')} needs it)`);
      const n = shape.reduce((a, b) => a * b, 1);
      if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k]) || t.length !== 4 * n) fail(`tensor '${name}' has shape [${t.shape.join(', ')}] but the spec needs [${shape.join(', ')}]`);
      if (t.offset % 4 !== 0 || t.offset < 0 || start + t.offset + t.length > end) fail(`tensor '${name}' lies outside the payload`);
      for (let k = 0; k < n; k++) params[at + k] = view.getFloat32(start + t.offset + 4 * k, true);
      at += n;
    }
  }
  const meta = header.meta && typeof header.meta === 'object' ? header.meta as Record<string, unknown> : {};
  return { sizes: sz, params, meta };
}
