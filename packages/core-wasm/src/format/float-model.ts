// A dependency-free reader of the float32 Retort model file (the layout is documented in
// @retort/distill's format/model-file.ts, which writes it), for the inference-only entry: the
// model's layer graph (./graph.ts) and its flat parameters and state (batch-norm running
// statistics) in the graph's layout. The graph comes from the header's spec: an MLP's sizes, a
// graph spec's layers, or, for a preset (lenet5, resnet8, mobilenet-tiny), the expanded graph
// that @retort/distill writes beside the spec (`graph` in the header); a preset file written
// before that has no graph and is refused with a message saying so.
// Every size is checked against the file length and the checksum before anything is
// allocated; errors are ModelFormatErrors naming the file.
import { crc32 } from './crc32.js';
import { ModelFormatError } from './errors.js';
import {
  compileLayers, inputShapeField, isObject, mlpLayers, readLayers, intField, MAX_DIM, type LayerGraph, type Shape,
} from './graph.js';

export const FLOAT_MODEL_MAGIC = Uint8Array.of(0x52, 0x45, 0x54, 0x4f, 0x52, 0x54, 0x00, 0x1a); // "RETORT\0\x1a"
const PREAMBLE = 32;
const MAX_HEADER = 16 << 20;

export interface FloatModel {
  /** The header's spec as written ({ type, ... }). */
  spec: { type: string; [key: string]: unknown };
  graph: LayerGraph;
  /** Flat parameters in the graph's layout (graph.nodes[i].params). */
  params: Float32Array;
  /** Flat state (batch-norm running statistics), empty without batch norm. */
  state: Float32Array;
  meta: Record<string, unknown>;
}

export function isFloatModelFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && FLOAT_MODEL_MAGIC.every((b, i) => bytes[i] === b);
}

interface TensorEntry { shape: number[]; offset: number; length: number }

export function decodeFloatModelFile(bytes: Uint8Array, fileName = 'model'): FloatModel {
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
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(PREAMBLE, start))) as Record<string, unknown>;
  } catch {
    return fail('header is not valid JSON');
  }
  if (!isObject(header) || !isObject(header.spec) || typeof header.spec.type !== 'string') return fail('header.spec: must be a model spec object');
  const spec = header.spec as FloatModel['spec'];
  const graph = graphOfHeader(spec, header.graph, fail);

  const table = new Map<string, TensorEntry>();
  if (!Array.isArray(header.tensors)) fail('header.tensors: not a list');
  for (const t of header.tensors as { name?: unknown; shape?: unknown; offset?: unknown; length?: unknown }[]) {
    if (!isObject(t) || typeof t.name !== 'string' || !Array.isArray(t.shape) || !Number.isSafeInteger(t.offset) || !Number.isSafeInteger(t.length)) fail('header.tensors: a malformed entry');
    table.set(t.name as string, { shape: t.shape as number[], offset: t.offset as number, length: t.length as number });
  }
  const payload = end - start;
  if (4 * (graph.paramCount + graph.stateCount) > payload) {
    fail(`the model needs ${4 * (graph.paramCount + graph.stateCount)} bytes of parameters and state but the payload has ${payload}`);
  }
  // every tensor the graph needs: present, the graph's shape, inside the payload (then read)
  const need: [TensorEntry & { name: string }, Float32Array | null, number][] = [];
  const params = new Float32Array(graph.paramCount), state = new Float32Array(graph.stateCount);
  for (const n of graph.nodes) {
    for (const [list, into] of [[n.params, params], [n.state, state]] as const) {
      for (const d of list) {
        const t = table.get(d.name);
        if (!t) return fail(`tensor '${d.name}' is missing (the model's graph needs it)`);
        if (t.shape.length !== d.shape.length || t.shape.some((x, k) => x !== d.shape[k]) || t.length !== 4 * d.length) {
          fail(`tensor '${d.name}' has shape [${t.shape.join(', ')}] but the graph needs [${d.shape.join(', ')}]`);
        }
        if (t.offset % 4 !== 0 || t.offset < 0 || t.offset + t.length > payload) fail(`tensor '${d.name}' lies outside the payload`);
        need.push([{ ...t, name: d.name }, into, d.offset]);
      }
    }
  }
  for (const [t, into, at] of need) {
    for (let k = 0; k < t.length / 4; k++) into![at + k] = view.getFloat32(start + t.offset + 4 * k, true);
  }
  const meta = isObject(header.meta) ? header.meta : {};
  return { spec, graph, params, state, meta };
}

/** The layer graph a header describes: an MLP's sizes, a graph spec's layers, or the expanded graph of a preset. */
function graphOfHeader(spec: FloatModel['spec'], expanded: unknown, fail: (problem: string) => never): LayerGraph {
  if (spec.type === 'mlp') {
    const sizes = spec.sizes;
    if (!Array.isArray(sizes) || sizes.length < 2) return fail('header.spec.sizes: not a list of layer sizes');
    sizes.forEach((s, i) => intField(s, `header.spec.sizes[${i}]`, fail, 1, MAX_DIM));
    return compileLayers([sizes[0] as number], mlpLayers(sizes as number[]), (p) => fail(`header.spec: ${p}`));
  }
  const source = spec.type === 'graph' ? spec : expanded;
  const at = spec.type === 'graph' ? 'header.spec' : 'header.graph';
  if (!isObject(source)) {
    return fail(`header.spec is a ${spec.type} preset saved without its expanded layer graph (an older Retort wrote it); ` +
      'load it with @retort/distill and save it again to run it here');
  }
  const input: Shape = inputShapeField(source.input, `${at}.input`, fail);
  const layers = readLayers(source.layers, `${at}.layers`, fail);
  return compileLayers(input, layers, (p) => fail(`${at}: ${p}`));
}
