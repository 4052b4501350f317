// Fuzzing importOnnx: tens of thousands of inputs derived from valid models (Retort exports of
// MLPs and of a small CNN, hand-built third-party MLPs and an NCHW CNN) by a seeded PRNG. Structural mutations work on the parsed
// protobuf wire tree and re-serialise it with correct lengths (field swaps, moves, duplicates,
// deletions, varint values, field numbers, wire types, contents), so they reach the validator;
// byte mutations (bit flips, inserts, deletes, truncations, varint and length corruption)
// break the framing. Each input must import or throw DataFormatError: no other error type, no
// hang, and no allocation beyond what the input's size can justify.

import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-web';
import { loadCore } from '@retort/core-wasm';
import { DataFormatError } from '../../src/data/errors.js';
import { Mlp } from '../../src/model/mlp.js';
import { createModel } from '../../src/model/index.js';
import { compileSpec, paramCount } from '../../src/model/spec.js';
import { exportOnnx, importOnnx } from '../../src/interop/onnx.js';
import { refForward } from '../model/graph-reference.js';
import { toNchw } from './graph-models.js';

import { add, decodeModel, encodeModel, onnx, type DecodedModel } from './onnx-helpers.js';
const ITERATIONS = 40_000;
const FLOAT = 1, INT64 = 7;

/** mulberry32 */
function prng(seed: number): { next: () => number; int: (n: number) => number; pick: <T>(a: readonly T[]) => T } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (a) => a[int(a.length)]! };
}

// ---- seeds ----------------------------------------------------------------------------------------

async function seeds(): Promise<Uint8Array[]> {
  const core = await loadCore();
  const out: Uint8Array[] = [];
  for (const [spec, norm] of [['mlp:5-3', false], ['mlp:4-6-3', true], ['mlp:3-4-5-2,dropout=0.2/0.5,maxnorm=3', false], ['mlp:20-7-9-4', false]] as const) {
    const m = new Mlp(core, spec);
    m.init(spec.length);
    out.push(exportOnnx(m, norm ? { normalization: { mean: 0.5, std: 0.25 }, metadata: { note: 'seed' } } : {}));
    m.free();
  }
  const r = prng(99);
  const values = (n: number) => Float32Array.from({ length: n }, () => 2 * r.next() - 1);
  const tensor = (name: string, dims: number[], raw: boolean) => {
    const v = values(dims.reduce((a, b) => a * b, 1));
    return raw ? { name, dataType: FLOAT, dims, rawData: new Uint8Array(v.buffer) } : { name, dataType: FLOAT, dims, floatData: [...v] };
  };
  const info = (name: string, dims: (number | string)[]) => ({
    name, type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
  const INT = onnx.AttributeProto.AttributeType.INT, F = onnx.AttributeProto.AttributeType.FLOAT, INTS = onnx.AttributeProto.AttributeType.INTS;
  out.push(onnx.ModelProto.encode({
    irVersion: 8, producerName: 'hand', opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'third',
      node: [
        { name: 'flat', opType: 'Flatten', input: ['x'], output: ['x2'], attribute: [{ name: 'axis', type: INT, i: 1 }] },
        { name: 'mm0', opType: 'MatMul', input: ['x2', 'W0'], output: ['m0'] },
        { name: 'add0', opType: 'Add', input: ['m0', 'b0'], output: ['a0'] },
        { name: 'relu0', opType: 'Relu', input: ['a0'], output: ['h0'] },
        { name: 'gemm1', opType: 'Gemm', input: ['h0', 'W1', 'b1'], output: ['z'], attribute: [{ name: 'transB', type: INT, i: 1 }, { name: 'alpha', type: F, f: 0.5 }] },
        { name: 'sm', opType: 'Softmax', input: ['z'], output: ['y'], attribute: [{ name: 'axis', type: INT, i: -1 }] },
      ],
      initializer: [tensor('W0', [6, 5], true), tensor('b0', [5], false), tensor('W1', [3, 5], false), tensor('b1', [1, 3], true)],
      input: [info('x', ['N', 2, 3])],
      output: [info('y', ['N', 3])],
    },
  }).finish());
  out.push(onnx.ModelProto.encode({
    irVersion: 6, opsetImport: [{ domain: '', version: 11 }],
    graph: {
      name: 'reshape',
      node: [
        { name: 'rs', opType: 'Reshape', input: ['x', 'shape'], output: ['x2'] },
        { name: 'mm', opType: 'MatMul', input: ['x2', 'W'], output: ['y'] },
      ],
      initializer: [{ name: 'shape', dataType: INT64, dims: [2], int64Data: [0, -1] }, tensor('W', [4, 2], true)],
      input: [info('x', ['N', 4]), info('W', [4, 2])],
      output: [info('y', ['N', 2])],
    },
  }).finish());
  // a Retort CNN (conv, batch norm, residual, pooling, layer norm on a map, GELU, flatten into dense)
  const cnn = createModel(core, { type: 'graph', input: [6, 5, 2], layers: [
    { type: 'conv2d', filters: 3, kernel: 3, stride: 2 }, { type: 'batchNorm' }, { type: 'relu' },
    { type: 'residual', body: [{ type: 'depthwiseConv2d', kernel: 2 }, { type: 'layerNorm' }, { type: 'gelu' }] },
    { type: 'maxPool2d', size: 2, stride: 1, padding: 'same' }, { type: 'flatten' }, { type: 'dense', units: 4 },
  ] });
  cnn.init(7);
  cnn.writeState(Float32Array.from({ length: cnn.stateCount }, (_, i) => (i < 3 ? 0.1 * i : 0.5 + 0.2 * i)));
  out.push(exportOnnx(cnn, { normalization: { mean: 0.1, std: 0.2 } }));
  cnn.free();
  out.push(onnx.ModelProto.encode({
    irVersion: 8, producerName: 'hand', opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'conv',
      node: [
        { name: 'c', opType: 'Conv', input: ['x', 'W', 'B'], output: ['c'], attribute: [{ name: 'kernel_shape', type: INTS, ints: [2, 2] }, { name: 'pads', type: INTS, ints: [1, 1, 1, 1] }, { name: 'group', type: INT, i: 1 }] },
        { name: 'bn', opType: 'BatchNormalization', input: ['c', 'g', 'b', 'm', 'v'], output: ['n'], attribute: [{ name: 'epsilon', type: F, f: 0.001 }] },
        { name: 'r', opType: 'Relu', input: ['n'], output: ['h'] },
        { name: 'p', opType: 'AveragePool', input: ['h'], output: ['p'], attribute: [{ name: 'kernel_shape', type: INTS, ints: [2, 2] }, { name: 'strides', type: INTS, ints: [2, 2] }] },
        { name: 'gap', opType: 'GlobalAveragePool', input: ['p'], output: ['q'] },
        { name: 'f', opType: 'Flatten', input: ['q'], output: ['f'] },
        { name: 'fc', opType: 'Gemm', input: ['f', 'Wf', 'Bf'], output: ['y'], attribute: [{ name: 'transB', type: INT, i: 1 }] },
      ],
      initializer: [tensor('W', [3, 2, 2, 2], true), tensor('B', [3], false), tensor('g', [3], true), tensor('b', [3], true), tensor('m', [3], true),
        { name: 'v', dataType: FLOAT, dims: [3], floatData: [0.5, 1, 2] }, tensor('Wf', [2, 3], true), tensor('Bf', [2], false)],
      input: [info('x', ['N', 2, 5, 4])],
      output: [info('y', ['N', 2])],
    },
  }).finish());
  for (const s of out) importOnnx(s, 'seed.onnx'); // every seed is valid
  // plain copies: Node's encoder returns Buffers, whose slice() is a view, not a copy
  return out.map((b) => new Uint8Array(b));
}

// ---- the wire tree --------------------------------------------------------------------------------

interface WireField {
  field: number;
  wire: number;
  /** varint / fixed value bytes, or a length-delimited field's content when it is not a message */
  raw: Uint8Array;
  children: WireField[] | null;
}

function readVarint(b: Uint8Array, pos: number): [number, number] | null {
  let v = 0, mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= b.length) return null;
    const byte = b[pos + i]!;
    v += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return [v, pos + i + 1];
  }
  return null;
}

function writeVarint(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return out;
}

/** The fields of a message, or null if `b` does not parse as one. */
function parseWire(b: Uint8Array, depth: number): WireField[] | null {
  const fields: WireField[] = [];
  let pos = 0;
  while (pos < b.length) {
    const tag = readVarint(b, pos);
    if (!tag || tag[0] < 8) return null;
    const field = Math.floor(tag[0] / 8), wire = tag[0] % 8;
    pos = tag[1];
    if (wire === 0) {
      const v = readVarint(b, pos);
      if (!v) return null;
      fields.push({ field, wire, raw: b.slice(pos, v[1]), children: null });
      pos = v[1];
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > b.length) return null;
      fields.push({ field, wire, raw: b.slice(pos, pos + n), children: null });
      pos += n;
    } else if (wire === 2) {
      const len = readVarint(b, pos);
      if (!len || len[1] + len[0] > b.length) return null;
      const content = b.slice(len[1], len[1] + len[0]);
      const children = depth < 12 && content.length > 0 ? parseWire(content, depth + 1) : null;
      fields.push({ field, wire, raw: content, children });
      pos = len[1] + len[0];
    } else {
      return null;
    }
  }
  return fields;
}

function serialize(fields: WireField[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields) {
    parts.push(Uint8Array.from(writeVarint(f.field * 8 + f.wire)));
    if (f.wire === 2) {
      const content = f.children ? serialize(f.children) : f.raw;
      parts.push(Uint8Array.from(writeVarint(content.length)), content);
    } else {
      parts.push(f.raw);
    }
  }
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

function clone(fields: WireField[]): WireField[] {
  return fields.map((f) => ({ ...f, raw: f.raw, children: f.children ? clone(f.children) : null }));
}

/** Every message (field list) in the tree. */
function messages(fields: WireField[], out: WireField[][] = []): WireField[][] {
  out.push(fields);
  for (const f of fields) if (f.children) messages(f.children, out);
  return out;
}

const INTERESTING = [0, 1, 2, 3, 4, 6, 7, 10, 11, 16, 127, 128, 255, 65535, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40, 2 ** 53 - 1, 2 ** 53];

function mutateTree(root: WireField[], r: ReturnType<typeof prng>): void {
  const all = messages(root).filter((m) => m.length > 0);
  const msg = r.pick(all);
  const i = r.int(msg.length);
  const f = msg[i]!;
  switch (r.int(11)) {
    case 0: msg.splice(i, 1); break; // delete
    case 1: msg.splice(i, 0, clone([f])[0]!); break; // duplicate
    case 2: { const j = r.int(msg.length); msg[i] = msg[j]!; msg[j] = f; break; } // swap siblings
    case 3: { msg.splice(i, 1); r.pick(messages(root)).splice(0, 0, f); break; } // move elsewhere
    case 4: f.field = r.next() < 0.5 ? 1 + r.int(16) : 1 + r.int(2 ** 20); break; // renumber
    case 5: if (r.next() < 0.3) f.wire = r.pick([0, 1, 2, 3, 4, 5, 6, 7]); if (f.wire !== 2) f.children = null; break; // wire type
    case 6: // a varint value
      if (f.wire === 0) {
        const v = r.next() < 0.15 ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01] : writeVarint(r.pick(INTERESTING));
        f.raw = Uint8Array.from(v);
      } else if (f.wire === 1 || f.wire === 5) {
        f.raw = Uint8Array.from(f.raw, () => r.int(256));
      }
      break;
    case 7: // content: truncate or extend a leaf
      if (f.wire === 2 && !f.children) {
        const n = r.next() < 0.5 ? r.int(f.raw.length + 1) : f.raw.length + 1 + r.int(16);
        const raw = new Uint8Array(n);
        raw.set(f.raw.subarray(0, n));
        f.raw = raw;
      }
      break;
    case 8: // a leaf's content to random bytes
      if (f.wire === 2 && !f.children) f.raw = Uint8Array.from(f.raw, () => r.int(256));
      break;
    case 9: { // an interesting string (op types, names in the graph)
      if (f.wire === 2 && !f.children) {
        const s = r.pick(['Conv', 'Gemm', 'MatMul', 'Add', 'Relu', 'Softmax', 'Identity', 'Flatten', 'Reshape', 'x', 'input', 'logits', 'MaxPool', 'Transpose',
          'layer0.w', 'layer0.b', 'layer1.w', 'layer0.h', 'W0', 'b0', 'h0', 'z', 'y', '', 'ai.onnx', 'com.microsoft', 'retort.spec', '__proto__']);
        f.raw = new TextEncoder().encode(s);
      }
      break;
    }
    default: { // copy a field from elsewhere in the tree into this message
      const other = r.pick(messages(root).filter((m) => m.length > 0));
      msg.splice(i, 0, clone([r.pick(other)])[0]!);
    }
  }
}

const OPS = ['Gemm', 'MatMul', 'Add', 'Relu', 'Softmax', 'LogSoftmax', 'Identity', 'Flatten', 'Reshape', 'Conv', 'Sigmoid', 'Dropout', '',
  'BatchNormalization', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'Transpose', 'LayerNormalization', 'Erf', 'Div', 'Mul', 'Gelu'];
const ATTRS = ['axis', 'transA', 'transB', 'alpha', 'beta', 'allowzero', 'bogus', '', 'kernel_shape', 'pads', 'strides', 'group', 'perm', 'epsilon', 'auto_pad', 'ceil_mode'];
const SPECS = ['{"type":"mlp","sizes":[5,3]}', 'mlp:4-6-3', '{"type":"mlp","sizes":[3,4,5,2],"dropout":{"input":0.2}}', '{', 'mlp:0-1', '{"type":"cnn"}', ''];

/** Edits of the decoded model: the fields the validator reads, set to odd but encodable values. */
function mutateSemantic(base: Uint8Array, r: ReturnType<typeof prng>): Uint8Array {
  const m = decodeModel(base);
  const g = m.graph!;
  for (let n = 1 + r.int(2); n > 0; n--) {
    const t = g.initializer.length > 0 ? r.pick(g.initializer) : null;
    const node = g.node.length > 0 ? r.pick(g.node) : null;
    const names = [...g.initializer.map((x) => x.name), ...g.node.flatMap((x) => x.output), ...g.input.map((x) => x.name), '', 'nowhere'];
    const value = g.input.length > 0 && r.next() < 0.5 ? r.pick(g.input) : r.pick(g.output);
    switch (r.int(14)) {
      case 0: if (t) t.dims = Array.from({ length: r.int(4) }, () => r.pick([...INTERESTING, -1, -(2 ** 40), 5, 6, 4, 3])); break;
      case 1: if (t) t.dataType = r.int(18); break;
      case 2: if (t) {
        if (t.rawData.length > 0) { t.floatData = [...new Float32Array(t.rawData.slice().buffer, 0, t.rawData.length >> 2)]; t.rawData = new Uint8Array(0); }
        else { t.rawData = new Uint8Array(Float32Array.from(t.floatData).buffer); t.floatData = []; }
      } break;
      case 3: if (node) node.opType = r.pick(OPS); break;
      case 4: if (node) {
        const k = r.int(node.input.length + 1);
        if (r.next() < 0.3) node.input.splice(k, 1); else node.input[k] = r.pick(names);
      } break;
      case 5: if (node) node.output = r.pick([[], [r.pick(names)], [r.pick(names), 'extra']]); break;
      case 6: {
        const i = r.int(g.node.length), j = r.int(g.node.length);
        const op = r.int(3);
        if (op === 0) g.node.splice(i, 1);
        else if (op === 1 && g.node[i]) g.node.splice(j, 0, g.node[i]!);
        else if (g.node[i] && g.node[j]) [g.node[i], g.node[j]] = [g.node[j]!, g.node[i]!];
        break;
      }
      case 7: if (node) add(node.attribute, {
        name: r.pick(ATTRS), type: r.pick([0, 1, 2, 3, 7]), i: r.pick([...INTERESTING, -1, -2]), f: r.pick([0, 0.5, 1, 2, Number.NaN, Infinity, -3]),
      }); break;
      case 8: {
        const tt = value.type?.tensorType;
        if (tt?.shape && r.next() < 0.7) {
          tt.shape.dim = [];
          for (let d = r.int(5); d > 0; d--) add(tt.shape.dim, r.next() < 0.3 ? { dimParam: 'N' } : r.next() < 0.1 ? {} : { dimValue: r.pick([...INTERESTING, -1, 3, 4, 5, 6]) });
        } else if (tt && r.next() < 0.5) tt.shape = null;
        else value.type = null;
        break;
      }
      case 9: { const tt = value.type?.tensorType; if (tt) tt.elemType = r.int(18); break; }
      case 10: if (t) {
        const op = r.int(3);
        if (op === 0) g.initializer.splice(g.initializer.indexOf(t), 1);
        else if (op === 1) t.name = r.pick(names);
        else g.initializer.push(t);
      } break;
      case 11: {
        const key = r.pick(['retort.spec', 'retort.input.mean', 'retort.input.std', 'other']);
        m.metadataProps.push({ key, value: key === 'retort.spec' ? r.pick(SPECS) : r.pick(['0.5', '-1', '0', 'NaN', '', '1e400', 'x', '[0.1,0.2]', '[1,0]', '[]', '[x]', '[1e400]']) });
        break;
      }
      case 12: m.opsetImport = r.pick([[], [{ domain: '', version: r.pick([0, 1, 7, 13, 2 ** 40]) }], [{ domain: 'com.x', version: 1 }], [{ domain: 'ai.onnx', version: 13 }]]); break;
      default: add(r.next() < 0.5 ? g.input : g.output, { name: r.pick(names), type: value.type ?? null });
    }
  }
  return new Uint8Array(encodeModel(m));
}

function mutateBytes(b: Uint8Array, r: ReturnType<typeof prng>): Uint8Array {
  if (b.length === 0) return Uint8Array.of(r.int(256));
  const pos = r.int(b.length);
  switch (r.int(6)) {
    case 0: { // bit flips
      const out = b.slice();
      for (let k = 1 + r.int(8); k > 0; k--) { const p = r.int(out.length); out[p]! ^= 1 << r.int(8); }
      return out;
    }
    case 1: { // insert
      const ins = Uint8Array.from({ length: 1 + r.int(4) }, () => r.int(256));
      const out = new Uint8Array(b.length + ins.length);
      out.set(b.subarray(0, pos)); out.set(ins, pos); out.set(b.subarray(pos), pos + ins.length);
      return out;
    }
    case 2: { // delete
      const tail = b.subarray(Math.min(b.length, pos + 1 + r.int(16)));
      const out = new Uint8Array(pos + tail.length);
      out.set(b.subarray(0, pos)); out.set(tail, pos);
      return out;
    }
    case 3: return b.slice(0, pos); // truncate
    case 4: { // varint corruption: a long or unterminated varint at a byte position
      const v = r.next() < 0.5 ? [0xff, 0xff, 0xff, 0xff, 0x0f] : Array.from({ length: 1 + r.int(11) }, () => 0x80 | r.int(128));
      const out = b.slice();
      out.set(v.slice(0, out.length - pos), pos);
      return out;
    }
    default: { // swap two byte ranges
      const n = 1 + r.int(8), p2 = r.int(b.length);
      const out = b.slice();
      const a = b.slice(pos, pos + n), c = b.slice(p2, p2 + n);
      if (a.length === c.length) { out.set(c, pos); out.set(a, p2); }
      return out;
    }
  }
}

describe('importOnnx under fuzzing', () => {
  it(`imports or throws DataFormatError for ${ITERATIONS} mutated models`, async () => {
    const bases = await seeds();
    const trees = bases.map((b) => parseWire(b, 0)!);
    expect(trees.every((t) => t !== null)).toBe(true);
    const r = prng(20240611);
    const counts = { imported: 0, rejected: 0 };
    const reasons = new Map<string, number>();
    const baseline = process.memoryUsage().arrayBuffers;
    let slowest = 0;
    const start = performance.now();
    for (let it = 0; it < ITERATIONS; it++) {
      const k = r.int(bases.length);
      let bytes: Uint8Array;
      const mode = r.next();
      if (mode < 0.3) {
        bytes = mutateSemantic(bases[k]!, r);
        if (r.next() < 0.1) bytes = mutateBytes(bytes, r);
      } else if (mode < 0.7) {
        const tree = clone(trees[k]!);
        for (let m = 1 + r.int(3); m > 0; m--) mutateTree(tree, r);
        bytes = serialize(tree);
        if (r.next() < 0.2) bytes = mutateBytes(bytes, r);
      } else {
        bytes = bases[k]!;
        for (let m = 1 + r.int(3); m > 0; m--) bytes = mutateBytes(bytes, r);
      }
      const t0 = performance.now();
      try {
        const got = importOnnx(bytes, 'fuzz.onnx');
        counts.imported++;
        expect(got.params.length).toBe(paramCount(got.spec));
        // every parameter is backed by input bytes (a scalar bias broadcasts over a layer's units)
        expect(got.params.length).toBeLessThanOrEqual(2 * bytes.length);
      } catch (e) {
        if (!(e instanceof DataFormatError)) {
          throw new Error(`iteration ${it}: ${(e as Error)?.name}: ${(e as Error)?.message} for input ${Buffer.from(bytes).toString('base64')}`);
        }
        expect(e.file).toBe('fuzz.onnx');
        counts.rejected++;
        const reason = e.problem.replace(/'[^']*'/g, "'…'").replace(/\d+/g, 'N').slice(0, 60);
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
      slowest = Math.max(slowest, performance.now() - t0);
      if (it % 1000 === 0) expect(process.memoryUsage().arrayBuffers - baseline).toBeLessThan(64 << 20);
    }
    const seconds = (performance.now() - start) / 1000;
    const top = [...reasons.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([s, n]) => `  ${n} ${s}`).join('\n');
    console.log(`${ITERATIONS} inputs in ${seconds.toFixed(1)} s (slowest ${slowest.toFixed(1)} ms): ${counts.imported} imported, ${counts.rejected} rejected (${reasons.size} distinct reasons); most common:\n${top}`);
    expect(counts.imported + counts.rejected).toBe(ITERATIONS);
    // the mutations reach past the protobuf framing into the validator, and some inputs still import
    expect(counts.imported).toBeGreaterThan(ITERATIONS / 50);
    expect(reasons.size).toBeGreaterThan(40);
    expect(slowest).toBeLessThan(1000);
  });
});

/** x (N, C, H, W) -> (N, H, W, C): toNchw's inverse. */
function fromNchw(x: Float32Array, shape: readonly number[]): Float32Array {
  if (shape.length !== 3) return x;
  const [H, W, C] = shape as [number, number, number];
  const probe = toNchw(Float32Array.from({ length: H * W * C }, (_, i) => i), shape);
  const out = new Float32Array(x.length);
  for (let b = 0; b < x.length / probe.length; b++) for (let i = 0; i < probe.length; i++) out[b * probe.length + probe[i]!] = x[b * probe.length + i]!;
  return out;
}

describe('imported mutants agree with onnxruntime', () => {
  // Mutants that still import must be models onnxruntime also accepts, computing the function
  // Retort imported (a check on the validator's leniency and on how the import reads weights).
  // Deliberate differences are skipped: Retort does not refuse opsets or IR versions newer than
  // the runtime, and a norm over weights beyond 1e15 overflows onnxruntime's f32 variance
  // (squares past 3.4e38) where Retort and the f64 reference keep it finite.
  it('every mutant Retort imports, onnxruntime runs with the same outputs', async () => {
    ort.env.wasm.numThreads = 1;
    const bases = await seeds();
    const trees = bases.map((b) => parseWire(b, 0)!);
    const r = prng(778);
    let compared = 0, tried = 0, graphs = 0;
    const disagreements: string[] = [];
    while (compared < 400 && tried < 50_000) {
      tried++;
      const k = r.int(bases.length);
      let bytes: Uint8Array;
      if (r.next() < 0.5) {
        bytes = mutateSemantic(bases[k]!, r);
      } else {
        const tree = clone(trees[k]!);
        for (let m = 1 + r.int(3); m > 0; m--) mutateTree(tree, r);
        bytes = serialize(tree);
      }
      let got: ReturnType<typeof importOnnx>;
      try { got = importOnnx(bytes, 'm.onnx'); } catch { continue; }
      const m = decodeModel(bytes);
      if (m.opsetImport.some((o) => o.domain === '' && Number(o.version) > 21) || Number(m.irVersion) > 10) continue;
      const norms = compileSpec(got.spec).nodes.some((n) => n.spec.type === 'batchNorm' || n.spec.type === 'layerNorm');
      if (norms && [...got.params, ...got.state].some((v) => Math.abs(v) > 1e15)) continue;
      // a concrete input shape: the declared one (batch 3 when symbolic), else [3, features]
      const input = m.graph!.input.find((v) => !m.graph!.initializer.some((t) => t.name === v.name))!;
      const graph = compileSpec(got.spec);
      const features = graph.inputShape.reduce((a, b) => a * b, 1);
      const declared = input.type?.tensorType?.shape?.dim?.map((d) => (d.dimValue == null ? null : Number(d.dimValue)));
      const rows = declared?.[0] ?? 3;
      if (!(rows >= 1 && rows <= 64) || features > 1 << 16) continue;
      if (declared && declared.slice(1).some((d) => d === null) && declared.length !== 2) continue;
      const dims = declared && declared.slice(1).every((d) => d !== null) ? [rows, ...(declared.slice(1) as number[])] : [rows, features];
      // x as ONNX takes it, and as the Retort model takes it (channels last)
      const x = Float32Array.from({ length: rows * features }, () => 2 * r.next() - 1);
      const xRetort = got.inputLayout === 'NCHW' ? fromNchw(x, graph.inputShape) : x;
      let out: Float32Array;
      try {
        const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], logSeverityLevel: 3 });
        try {
          const res = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) });
          out = res[session.outputNames[0]!]!.data as Float32Array;
        } finally {
          await session.release();
        }
      } catch (e) {
        disagreements.push(`onnxruntime refuses a model Retort imports: ${(e as Error).message.replace(/^.*ERROR_MESSAGE: /, '').slice(0, 300)}`);
        continue;
      }
      compared++;
      if (got.spec.type !== 'mlp') graphs++;
      let ref = refForward(graph, got.params, xRetort, rows, { train: false, state: got.state }).logits;
      const classes = graph.classes;
      const notes = got.notes.join('\n');
      const dropped = /trailing (Log)?Softmax/.exec(notes);
      if (dropped) {
        const probs = new Float64Array(ref.length);
        for (let i = 0; i < rows; i++) {
          const row = ref.subarray(i * classes, (i + 1) * classes);
          const mx = Math.max(...row);
          const z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
          for (let c = 0; c < classes; c++) probs[i * classes + c] = dropped[1] ? row[c]! - mx - Math.log(z) : Math.exp(row[c]! - mx) / z;
        }
        ref = probs;
      }
      let err = 0, scale = 1;
      for (let i = 0; i < ref.length; i++) {
        if (Number.isNaN(ref[i]!) && Number.isNaN(out[i]!)) continue; // NaN weights give NaN in both
        if (ref[i] === out[i]) continue; // equal infinities
        err = Math.max(err, Math.abs(ref[i]! - out[i]!));
        scale = Math.max(scale, Math.abs(ref[i]!));
      }
      // f64 reference vs onnxruntime's f32: the 1e-5 bound of onnx.test.ts, loosened for huge mutated weights
      // (and for the norms, whose division by a standard deviation magnifies rounding)
      if (out.length !== ref.length || !(err <= 1e-4 * scale)) disagreements.push(`different outputs (max error ${err}, scale ${scale}); notes: ${notes}`);
    }
    console.log(`compared ${compared} imported mutants with onnxruntime (${tried} tried; ${graphs} of them layer graphs other than MLPs)`);
    expect(disagreements).toEqual([]);
    expect(compared).toBe(400);
    expect(graphs).toBeGreaterThan(40); // the conv seeds' mutants are compared too
  });
});
