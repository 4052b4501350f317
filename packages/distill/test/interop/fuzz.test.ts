// Fuzzing the interop readers: safetensors, and tfjs model.json + weight shards. Every input
// is a seeded mutation of a valid file (bit flips, truncations, header/JSON edits with huge,
// negative, fractional and ill-typed numbers in shapes and offsets, shard damage). Each must
// parse or throw DataFormatError — never another error, never hang — and while the pure
// readers run, no Float32Array, Uint8Array or ArrayBuffer larger than 4x the input's bytes
// may be allocated (sizes are validated before allocation). tfjs topologies that survive
// the reader are also built by buildTfjsModel (guarded), which must succeed or throw
// DataFormatError too, and every model it builds is imported as a Retort model
// (modelFromTfjsModel), which must succeed with matching outputs' count or throw DataFormatError
// (the refusal that leaves the model to run as a tfjs teacher). (ONNX fuzzing lives in its own file.)
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DataFormatError } from '../../src/data/errors.js';
import { f16Table32, numberToF16Bits } from '../../src/interop/fp16.js';
import { useTfjsBackend } from '../../src/interop/node.js';
import { readSafetensors, writeSafetensors } from '../../src/interop/safetensors.js';
import { buildTfjsModel, disposeTfjsModel, memoryShards, parseTfjsModelJson, tfjsArtifacts } from '../../src/interop/tfjs-layers.js';
import { modelFromTfjsModel } from '../../src/interop/tfjs-import.js';
import { loadCore } from '@retort/core-wasm';

// FUZZ_CASES and FUZZ_SEED (environment) run more cases or other seeds; the defaults are what CI runs.
// FUZZ_TRACE=/tmp/x writes the model.json being built there (the last one shows a hang) and keeps
// the inputs of failing builds beside it.
const CASES = Number(process.env.FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0);

/** A seeded PRNG (splitmix32-style) with helpers. */
class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), this.s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  pick<T>(a: readonly T[]): T { return a[this.int(a.length)]!; }
  chance(p: number): boolean { return this.next() < p; }
}

const HUGE = [2 ** 53, 2 ** 53 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 4, 2 ** 63, 2 ** 64, 1e300, 1e21, 4294967295, 1e9, 2 ** 30];
const WEIRD: unknown[] = [null, true, false, '', 'x', 'F32', 'float16', [], {}, [1, 2, 3], [[1]], { a: 1 }, -1, -0, 0, 1, 2, 1.5, -(2 ** 31), 7, 1000, ...HUGE];

function weirdValue(r: Rng, old: unknown): unknown {
  if (typeof old === 'number' && r.chance(0.6)) {
    return r.pick([
      () => r.pick(HUGE), () => -old, () => old + r.int(9) - 4, () => old * 2 ** (1 + r.int(40)), () => old + 0.5,
      () => (old === 0 ? 1 : 0), () => -1, () => Number.MAX_SAFE_INTEGER + 2,
    ])();
  }
  if (r.chance(0.05)) { const d = 50 + r.int(200); return JSON.parse('['.repeat(d) + ']'.repeat(d)) as unknown; }
  return structuredClone(r.pick(WEIRD));
}

type Slot = { parent: Record<string, unknown> | unknown[]; key: string | number; value: unknown };

function slots(root: unknown): Slot[] {
  const out: Slot[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach((x, i) => { out.push({ parent: v, key: i, value: x }); visit(x); });
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push({ parent: v as Record<string, unknown>, key: k, value: x }); visit(x); }
  };
  visit(root);
  return out;
}

/** One to three random edits of a JSON value (in place; returns the root). */
function editJson(r: Rng, root: unknown): unknown {
  const edits = 1 + r.int(3);
  for (let e = 0; e < edits; e++) {
    const all = slots(root);
    if (all.length === 0) return root;
    const numeric = all.filter((s) => typeof s.value === 'number');
    const s = numeric.length > 0 && r.chance(0.5) ? r.pick(numeric) : r.pick(all);
    const op = r.int(10);
    if (op < 6) {
      (s.parent as Record<string | number, unknown>)[s.key] = weirdValue(r, s.value);
    } else if (op < 8) {
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 1);
      else delete s.parent[s.key as string];
    } else if (op < 9) {
      if (Array.isArray(s.parent)) s.parent.splice(s.key as number, 0, structuredClone(s.value));
      else s.parent[`${String(s.key)}_${r.int(3)}`] = structuredClone(s.value);
    } else {
      const other = r.pick(all);
      (s.parent as Record<string | number, unknown>)[s.key] = structuredClone(other.value);
    }
  }
  return root;
}

function flipBits(r: Rng, bytes: Uint8Array, from = 0, to = bytes.length): Uint8Array {
  const out = bytes.slice();
  if (to <= from) return out;
  const n = 1 + r.int(8);
  for (let i = 0; i < n; i++) out[from + r.int(to - from)]! ^= 1 << r.int(8);
  return out;
}

function truncate(r: Rng, bytes: Uint8Array): Uint8Array {
  return bytes.slice(0, r.int(bytes.length));
}

function insertBytes(r: Rng, bytes: Uint8Array): Uint8Array {
  const at = r.int(bytes.length + 1);
  const extra = Uint8Array.from({ length: 1 + r.int(16) }, () => r.int(256));
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes.subarray(0, at));
  out.set(extra, at);
  out.set(bytes.subarray(at), at + extra.length);
  return out;
}

// ---- allocation tracking ---------------------------------------------------------------------------

let largest = 0;
const Originals = { Float32Array, Uint8Array, ArrayBuffer };
function tracked<T extends new (...args: any[]) => any>(Base: T): T {
  return class extends Base {
    constructor(...args: any[]) {
      super(...args);
      if (typeof args[0] === 'number') largest = Math.max(largest, (this as unknown as { byteLength: number }).byteLength);
    }
  };
}
const Tracked = { Float32Array: tracked(Float32Array), Uint8Array: tracked(Uint8Array), ArrayBuffer: tracked(ArrayBuffer) };

/** Runs `fn` with allocation tracking; returns its result (or error) and the largest allocation. */
function measured<T>(fn: () => T): { result?: T; error?: unknown; largest: number } {
  largest = 0;
  Object.assign(globalThis, Tracked);
  try {
    return { result: fn(), largest };
  } catch (error) {
    return { error, largest };
  } finally {
    Object.assign(globalThis, Originals);
  }
}

interface Tally { parsed: number; rejected: number; failures: string[]; slowest: number }

function check(t: Tally, label: string, inputBytes: number, run: { error?: unknown; largest: number }, ms: number): void {
  t.slowest = Math.max(t.slowest, ms);
  if (run.error === undefined) t.parsed++;
  else if (run.error instanceof DataFormatError) t.rejected++;
  else t.failures.push(`${label}: ${(run.error as Error)?.constructor?.name}: ${(run.error as Error)?.message?.slice(0, 200)}`);
  if (run.largest > 4 * inputBytes + 64) t.failures.push(`${label}: allocated ${run.largest} bytes for a ${inputBytes}-byte input`);
  if (ms > 2000) t.failures.push(`${label}: took ${ms} ms`);
}

beforeAll(() => { f16Table32(); }); // the 256 KiB half-float table is built once, not per input
afterAll(() => { Object.assign(globalThis, Originals); });

describe('fuzz: safetensors reader', () => {
  it(`${CASES} mutated files each parse or throw DataFormatError, allocating at most 4x their size`, () => {
    const r = new Rng(0x5afe ^ SEED);
    const seeds = [
      writeSafetensors({ logits: { shape: [6, 5], data: Float32Array.from({ length: 30 }, (_, i) => i - 7.25) } }),
      writeSafetensors({
        h: { dtype: 'F16', shape: [2, 3], data: [1, -2, 0.5, 65504, 2 ** -24, -0] },
        b: { dtype: 'BF16', shape: [4], data: [1, 3.5, -1e30, 2 ** -100] },
        d: { dtype: 'F64', shape: [1, 2], data: [Math.PI, -1e-300] },
        e: { shape: [0, 3], data: [] },
        f: { shape: [2, 1, 2], data: [1, 2, 3, 4] },
      }, { format: 'pt', source: 'fuzz' }),
    ];
    // hand-made entries of integer dtypes too
    const header = JSON.stringify({ u: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, i: { dtype: 'I64', shape: [1], data_offsets: [4, 12] }, k: { dtype: 'BOOL', shape: [2], data_offsets: [12, 14] } });
    const hb = new TextEncoder().encode(header);
    const intFile = new Uint8Array(8 + hb.length + 14);
    new DataView(intFile.buffer).setUint32(0, hb.length, true);
    intFile.set(hb, 8);
    seeds.push(intFile);

    const t: Tally = { parsed: 0, rejected: 0, failures: [], slowest: 0 };
    const kinds: Record<string, number> = {};
    const started = performance.now();
    for (let c = 0; c < CASES; c++) {
      const seed = r.pick(seeds);
      const n = new DataView(seed.buffer, seed.byteOffset).getUint32(0, true);
      const kind = r.pick(['flip-header', 'flip-any', 'truncate', 'json', 'json', 'json', 'length', 'insert'] as const);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      let input: Uint8Array;
      switch (kind) {
        case 'flip-header': input = flipBits(r, seed, 0, 8 + n); break;
        case 'flip-any': input = flipBits(r, seed); break;
        case 'truncate': input = truncate(r, seed); break;
        case 'insert': input = insertBytes(r, seed); break;
        case 'length': {
          input = seed.slice();
          const dv = new DataView(input.buffer);
          if (r.chance(0.5)) dv.setUint32(0, n + r.int(64) - 32, true);
          else { dv.setUint32(0, r.int(2 ** 32), true); dv.setUint32(4, r.chance(0.5) ? 0 : r.int(2 ** 32), true); }
          break;
        }
        case 'json': {
          const json = editJson(r, JSON.parse(new TextDecoder().decode(seed.subarray(8, 8 + n))));
          let text = JSON.stringify(json) ?? 'null';
          if (r.chance(0.1)) text += ' '.repeat(r.int(9));
          const bytes = new TextEncoder().encode(text);
          const body = seed.subarray(8 + n);
          input = new Uint8Array(8 + bytes.length + body.length);
          new DataView(input.buffer).setUint32(0, bytes.length, true);
          input.set(bytes, 8);
          input.set(body, 8 + bytes.length);
          break;
        }
      }
      const t0 = performance.now();
      const run = measured(() => {
        const file = readSafetensors(input, 'fuzz.safetensors');
        for (const [name, tensor] of Object.entries(file.tensors)) {
          if (tensor.data.length !== tensor.shape.reduce((p, d) => p * d, 1)) throw new Error(`tensor ${name}: ${tensor.data.length} values for [${tensor.shape.join(', ')}]`);
        }
        return file;
      });
      check(t, `case ${c} (${kind})`, input.length, run, performance.now() - t0);
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`safetensors fuzz: ${CASES} inputs in ${seconds.toFixed(1)} s: ${t.parsed} parsed, ${t.rejected} DataFormatError; slowest ${t.slowest.toFixed(1)} ms; ${JSON.stringify(kinds)}`);
    expect(t.failures.slice(0, 10)).toEqual([]);
    expect(t.parsed + t.rejected).toBe(CASES);
    expect(t.parsed).toBeGreaterThan(CASES / 20); // the mutations are not all fatal: valid paths are exercised
    expect(t.rejected).toBeGreaterThan(CASES / 2);
  });
});

describe('fuzz: tfjs model.json + shard loader', () => {
  beforeAll(async () => { await useTfjsBackend('wasm'); });

  type Folder = { json: string; shards: Map<string, Uint8Array> };

  /** Saves a tfjs model as a folder in memory, the weights split over `k` shards, optionally re-encoded. */
  async function folderOf(m: tfl.LayersModel, k: number, encode: (i: number) => 'float32' | 'float16' | 'uint8'): Promise<Folder> {
    let result!: Folder;
    await m.save(tf.io.withSaveHandler(async (a) => {
      const f32 = new Float32Array(a.weightData as ArrayBuffer);
      const bytes: number[] = [];
      let at = 0;
      const specs = a.weightSpecs!.map((s, i) => {
        const n = s.shape.reduce((p, d) => p * d, 1);
        const values = f32.subarray(at, at + n);
        at += n;
        const how = encode(i);
        if (how === 'float16') {
          for (const v of values) { const h = numberToF16Bits(v); bytes.push(h & 0xff, h >> 8); }
          return { ...s, quantization: { dtype: 'float16' as const } };
        }
        if (how === 'uint8') {
          const min = Math.min(...values), max = Math.max(...values);
          const scale = max > min ? (max - min) / 255 : 1;
          for (const v of values) bytes.push(Math.round((v - min) / scale));
          return { ...s, quantization: { dtype: 'uint8' as const, scale, min } };
        }
        bytes.push(...new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
        return s;
      });
      const all = Uint8Array.from(bytes);
      const size = Math.ceil(all.length / k);
      const names = Array.from({ length: k }, (_, i) => `group1-shard${i + 1}of${k}.bin`);
      result = {
        json: JSON.stringify({ format: 'layers-model', generatedBy: a.generatedBy, convertedBy: null, modelTopology: a.modelTopology, weightsManifest: [{ paths: names.map((n, i) => (i === 0 ? `./${n}` : n)), weights: specs }] }),
        shards: new Map(names.map((n, i) => [n, all.slice(i * size, (i + 1) * size)])),
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    m.dispose();
    return result;
  }

  /** A Keras-3-style functional model.json (batch_shape, DTypePolicy, args/kwargs nodes, prefixed weight names). */
  function keras3Folder(): Folder {
    const dtype = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
    const kt = (layer: string, shape: (number | null)[]) => ({ class_name: '__keras_tensor__', config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] } });
    const dense = (name: string, units: number, activation: string, from: string, inShape: (number | null)[]) => ({
      module: 'keras.layers', class_name: 'Dense', registered_name: null, name,
      config: { name, trainable: true, dtype, units, activation, use_bias: true },
      build_config: { input_shape: inShape }, inbound_nodes: [{ args: [kt(from, inShape)], kwargs: {} }],
    });
    const json = {
      format: 'layers-model',
      modelTopology: { keras_version: '3.3.3', model_config: { class_name: 'Functional', config: {
        name: 'functional', trainable: true,
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', registered_name: null, name: 'input_layer', config: { batch_shape: [null, 3], dtype: 'float32', sparse: false, name: 'input_layer' }, inbound_nodes: [] },
          dense('dense', 4, 'relu', 'input_layer', [null, 3]),
          dense('dense_1', 2, 'softmax', 'dense', [null, 4]),
        ],
        input_layers: ['input_layer', 0, 0], output_layers: ['dense_1', 0, 0],
      } } },
      weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [
        { name: 'functional/dense/kernel', shape: [3, 4], dtype: 'float32' }, { name: 'functional/dense/bias', shape: [4], dtype: 'float32' },
        { name: 'functional/dense_1/kernel', shape: [4, 2], dtype: 'float32' }, { name: 'functional/dense_1/bias', shape: [2], dtype: 'float32' },
      ] }],
    };
    const weights = Float32Array.from({ length: 12 + 4 + 8 + 2 }, (_, i) => Math.sin(i));
    return { json: JSON.stringify(json), shards: new Map([['group1-shard1of1.bin', new Uint8Array(weights.buffer)]]) };
  }

  it(`${CASES} mutated model folders each load or throw DataFormatError, allocating at most 4x their size`, async () => {
    const bases: Folder[] = [
      // dense + dropout + softmax; one float16 weight; the first kernel straddles two shards
      await folderOf(tfl.sequential({ layers: [
        tfl.layers.dense({ inputShape: [6], units: 5, activation: 'relu', name: 'hidden' }),
        tfl.layers.dropout({ rate: 0.2, name: 'drop' }),
        tfl.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
      ] }), 2, (i) => (i === 2 ? 'float16' : 'float32')),
      // a small conv net, uint8-quantized kernels, three shards
      await folderOf(tfl.sequential({ layers: [
        tfl.layers.conv2d({ inputShape: [5, 5, 1], filters: 2, kernelSize: 3, activation: 'relu', name: 'conv' }),
        tfl.layers.flatten({ name: 'flat' }),
        tfl.layers.dense({ units: 3, name: 'logits' }),
      ] }), 3, (i) => (i % 2 === 0 ? 'uint8' : 'float32')),
      keras3Folder(),
    ];
    // each unmutated folder loads
    for (const base of bases) {
      const ok = tfjsArtifacts(parseTfjsModelJson(new TextEncoder().encode(base.json), 'model.json'), memoryShards(base.shards), 'model.json');
      (await buildTfjsModel(ok.artifacts, 'model.json')).dispose();
    }
    // the allocation tracker sees the reader's allocations: the weights as stored (tfjs dequantises the float16 one when it builds the model)
    const probe = measured(() => tfjsArtifacts(parseTfjsModelJson(new TextEncoder().encode(bases[0]!.json), 'model.json'), memoryShards(bases[0]!.shards), 'model.json'));
    expect(probe.largest).toBeGreaterThanOrEqual(4 * (30 + 5 + 3) + 2 * 15);

    const r = new Rng(0x7f15 ^ SEED);
    const t: Tally = { parsed: 0, rejected: 0, failures: [], slowest: 0 };
    const kinds: Record<string, number> = {};
    let built = 0, buildRejected = 0, imported = 0, importRefused = 0;
    const core = await loadCore({ backend: 'js' });
    const started = performance.now();
    for (let c = 0; c < CASES; c++) {
      const kind = r.pick(['json', 'json', 'json', 'json', 'flip-json', 'truncate-json', 'shard-truncate', 'shard-flip', 'shard-extend', 'shard-missing'] as const);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      const base = r.pick(bases);
      const baseBytes = new TextEncoder().encode(base.json);
      let jsonBytes: Uint8Array = baseBytes;
      const shards = new Map(base.shards);
      const shardName = r.pick([...shards.keys()]);
      switch (kind) {
        case 'json': jsonBytes = new TextEncoder().encode(JSON.stringify(editJson(r, JSON.parse(base.json))) ?? 'null'); break;
        case 'flip-json': jsonBytes = flipBits(r, baseBytes); break;
        case 'truncate-json': jsonBytes = truncate(r, baseBytes); break;
        case 'shard-truncate': shards.set(shardName, truncate(r, shards.get(shardName)!)); break;
        case 'shard-flip': shards.set(shardName, flipBits(r, shards.get(shardName)!)); break;
        case 'shard-extend': shards.set(shardName, insertBytes(r, shards.get(shardName)!)); break;
        case 'shard-missing': shards.delete(shardName); break;
      }
      const inputBytes = jsonBytes.length + [...shards.values()].reduce((s, b) => s + b.length, 0);
      const t0 = performance.now();
      const run = measured(() => tfjsArtifacts(parseTfjsModelJson(jsonBytes, 'model.json'), memoryShards(shards), 'model.json'));
      check(t, `case ${c} (${kind})`, inputBytes, run, performance.now() - t0);
      // topologies that survive the reader go through tfjs too (guarded); shard-only damage keeps the base topology
      if (run.result && (kind === 'json' || kind === 'flip-json')) {
        const t1 = performance.now();
        if (process.env.FUZZ_TRACE) writeFileSync(process.env.FUZZ_TRACE, `${c} ${kind} build\n${new TextDecoder().decode(jsonBytes)}\n`);
        const before = tf.memory().numTensors;
        let outcome = 'built';
        try {
          const model = await buildTfjsModel(run.result.artifacts, 'model.json');
          built++;
          try {
            const retort = modelFromTfjsModel(core, model, 'model.json');
            imported++;
            if (retort.model.classes !== model.outputs[0]!.shape[1]) t.failures.push(`case ${c} (${kind}, import): ${retort.model.classes} classes for a model of ${String(model.outputs[0]!.shape[1])} outputs`);
            retort.model.free();
          } catch (e) {
            if (e instanceof DataFormatError) importRefused++;
            else t.failures.push(`case ${c} (${kind}, import): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message?.slice(0, 200)}`);
          } finally {
            disposeTfjsModel(model);
          }
        } catch (e) {
          outcome = (e as Error).message;
          if (e instanceof DataFormatError) buildRejected++;
          else if (process.env.FUZZ_TRACE) writeFileSync(`${process.env.FUZZ_TRACE}.error${c}.json`, jsonBytes);
          if (!(e instanceof DataFormatError)) t.failures.push(`case ${c} (${kind}, tfjs build): ${(e as Error)?.constructor?.name}: ${(e as Error)?.message?.slice(0, 200)}`);
        }
        const leaked = tf.memory().numTensors - before;
        if (leaked !== 0 && process.env.FUZZ_TRACE) writeFileSync(`${process.env.FUZZ_TRACE}.leak${c}.json`, jsonBytes);
        if (leaked !== 0) t.failures.push(`case ${c} (${kind}, tfjs build): ${leaked} tensors left behind (${outcome.slice(0, 200)})`);
        const ms = performance.now() - t1;
        if (ms > 2000) t.failures.push(`case ${c} (${kind}, tfjs build): took ${ms} ms`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`tfjs fuzz: ${CASES} inputs in ${seconds.toFixed(1)} s: ${t.parsed} read, ${t.rejected} DataFormatError; tfjs built ${built}, refused ${buildRejected}; imported as Retort models ${imported}, refused ${importRefused}; slowest read ${t.slowest.toFixed(1)} ms; ${JSON.stringify(kinds)}; tensors alive ${tf.memory().numTensors}`);
    expect(t.failures.slice(0, 10)).toEqual([]);
    expect(t.parsed + t.rejected).toBe(CASES);
    expect(t.parsed).toBeGreaterThan(CASES / 20);
    expect(built).toBeGreaterThan(0);
    expect(buildRejected).toBeGreaterThan(0);
    expect(imported).toBeGreaterThan(0);
  });
});
