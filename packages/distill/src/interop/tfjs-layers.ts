// TensorFlow.js LayersModels in and out, platform-neutral (the disk side is in node.ts).
//
//   model.json  { "format": "layers-model", "modelTopology": {...Keras JSON...},
//                 "weightsManifest": [ { "paths": ["group1-shard1of2.bin", ...],
//                                        "weights": [ { "name": "dense/kernel", "shape": [784, 128],
//                                                       "dtype": "float32", "quantization"?: {...} } ] } ] }
//   A group's weights are stored back to back, in manifest order, across its shards taken in
//   order (tfjs splits a group into shards of 4 MB; a weight may straddle two shards).
//
// In: parseTfjsModelJson validates model.json (JSON, depth, modelTopology, every manifest
// entry: names, shapes of non-negative safe integers, dtypes, quantization parameters, shard
// paths) and normalises Keras-3 spellings, so that the byte size of every group is known before
// a shard is read; tfjsArtifacts then checks each group's shards against those sizes and
// decodes the weights into tfjs ModelArtifacts (all float32/int32, ready for
// tf.loadLayersModel). Stored dtypes: float32, int32, float16 (tfjs's own `quantization:
// {dtype: 'float16'}` and a manifest `dtype: 'float16'`), and uint8/uint16 affine quantisation
// (value = q * scale + min, as tfjs decodes it). bool/string/complex64 weights are refused.
// buildTfjsModel hands the artifacts to tfjs-layers with a guard: while tfjs builds the
// layers, no weight variable may be larger than the largest weight in the manifest (nor all of
// them together larger than the manifest), so a corrupt topology cannot make tfjs allocate
// gigabytes before the (strict) weight check; tfjs's own errors become DataFormatError.
//
// Teachers: TfjsTeacher runs any LayersModel tfjs can build (conv nets included) over a
// DatasetView with the teacher's OWN input preparation and returns [N, classes] logits.
//
// Out: mlpToTfjs turns a Retort Mlp into a Sequential of Dense layers (ReLU between, linear
// last) whose kernels are Retort's W (inputs x outputs, row-major: the same layout as tfjs's
// Dense kernel), so the flat params are the weight file as is.
// Back: mlpFromTfjsModel turns a chain of Dense layers (ReLU between, linear or softmax last;
// InputLayer, Flatten, Dropout-like, Activation/ReLU/Softmax layers allowed) into an Mlp.

import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Core } from '@retort/core-wasm';
import type { DatasetView, InputNorm } from '../data/dataset.js';
import { DataFormatError } from '../data/errors.js';
import { Mlp } from '../model/mlp.js';
import { paramCount, paramLayout, parseModelSpec, type ModelSpec, asMlpSpec, type MlpSpec } from '../model/spec.js';
import { quoteName } from './safetensors.js';

/** model.json files larger than this are refused before reading. */
export const TFJS_MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;
/** Most weight bytes (all groups together) a model may declare: 2 GiB - 1. */
export const TFJS_MAX_WEIGHT_BYTES = 2 ** 31 - 1;
/** Deepest nesting of arrays/objects accepted in model.json. */
export const TFJS_MAX_JSON_DEPTH = 64;
const MAX_RANK = 16;

// ---- model.json -------------------------------------------------------------------------------

/** How a weight is stored in its shard. */
export type TfjsStorage = 'float32' | 'int32' | 'float16' | 'uint8' | 'uint16';
const STORAGE_BYTES: Record<TfjsStorage, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, uint16: 2 };

export interface TfjsWeight {
  name: string;
  shape: number[];
  elements: number;
  /** The tensor's dtype once decoded. */
  dtype: 'float32' | 'int32';
  storage: TfjsStorage;
  /** uint8/uint16 quantisation: value = q * scale + min. */
  scale: number;
  min: number;
  /** tfjs's weight group ('model' or 'optimizer'), when given. */
  group?: string;
  /** Byte range in the group's concatenated shards. */
  offset: number;
  byteLength: number;
}

export interface TfjsWeightGroup {
  /** Shard paths relative to model.json's folder, normalised ('./a.bin' -> 'a.bin'). */
  paths: string[];
  weights: TfjsWeight[];
  byteLength: number;
}

export interface TfjsModelJson {
  /** The Keras/tfjs topology, with Keras-3 spellings normalised (and model_config unwrapped). */
  modelTopology: Record<string, unknown>;
  groups: TfjsWeightGroup[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
  userDefinedMetadata?: Record<string, unknown>;
  /** What normalisation changed, one line each (for logs). */
  notes: string[];
}

function brief(value: unknown): string {
  let s: string;
  try { s = JSON.stringify(value) ?? typeof value; } catch { s = Array.isArray(value) ? '[…]' : typeof value; }
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** True when `value` nests arrays/objects deeper than `limit` (iterative: safe on any input). */
function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

function checkShardPath(p: unknown, where: string, file: string): string {
  if (typeof p !== 'string' || p.length === 0 || p.length > 1024 || p.includes('\0')) {
    throw new DataFormatError(file, `${where}: a shard path must be a non-empty string, got ${brief(p)}`);
  }
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(p) || p.startsWith('/') || p.startsWith('\\')) {
    throw new DataFormatError(file, `${where}: shard path ${quoteName(p)} must be relative to model.json's folder (no URL, no absolute path)`);
  }
  const parts = p.split(/[\\/]/).filter((s) => s !== '' && s !== '.');
  if (parts.length === 0 || parts.includes('..')) {
    throw new DataFormatError(file, `${where}: shard path ${quoteName(p)} must name a file inside model.json's folder`);
  }
  return parts.join('/');
}

function parseWeight(w: unknown, where: string, file: string, offset: number): TfjsWeight {
  if (!isObject(w)) throw new DataFormatError(file, `${where}: a weight must be an object {name, shape, dtype}, got ${brief(w)}`);
  const { name, shape, dtype, quantization, group } = w;
  if (typeof name !== 'string' || name.length === 0) throw new DataFormatError(file, `${where}: weight name must be a non-empty string, got ${brief(name)}`);
  const what = `weight ${quoteName(name)}`;
  if (!Array.isArray(shape) || shape.length > MAX_RANK || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw new DataFormatError(file, `${what}: shape must be an array of at most ${MAX_RANK} non-negative integers, got ${brief(shape)}`);
  }
  const dims = shape as number[];
  if (group !== undefined && typeof group !== 'string') throw new DataFormatError(file, `${what}: group must be a string, got ${brief(group)}`);
  let storage: TfjsStorage;
  let decoded: 'float32' | 'int32';
  let scale = 1, min = 0;
  if (dtype === 'float32' || dtype === 'int32') {
    decoded = dtype;
    storage = dtype;
  } else if (dtype === 'float16') {
    decoded = 'float32';
    storage = 'float16';
  } else {
    throw new DataFormatError(file, `${what}: dtype ${brief(dtype)} is not supported (float32, int32 and float16 are)`);
  }
  if (quantization !== undefined && quantization !== null) {
    if (!isObject(quantization)) throw new DataFormatError(file, `${what}: quantization must be an object, got ${brief(quantization)}`);
    const q = quantization;
    if (storage === 'float16') throw new DataFormatError(file, `${what}: a float16 weight cannot be quantized again`);
    if (q.dtype === 'float16') {
      if (decoded !== 'float32') throw new DataFormatError(file, `${what}: float16 quantization needs a float32 weight, got ${decoded}`);
      storage = 'float16';
    } else if (q.dtype === 'uint8' || q.dtype === 'uint16') {
      storage = q.dtype;
      if (typeof q.scale !== 'number' || !Number.isFinite(q.scale) || typeof q.min !== 'number' || !Number.isFinite(q.min)) {
        throw new DataFormatError(file, `${what}: ${q.dtype} quantization needs finite 'scale' and 'min', got ${brief(q)}`);
      }
      scale = q.scale;
      min = q.min;
    } else {
      throw new DataFormatError(file, `${what}: quantization dtype ${brief(q.dtype)} is not supported (uint8, uint16 and float16 are)`);
    }
  }
  const size = STORAGE_BYTES[storage];
  let elements = dims.includes(0) ? 0 : 1;
  if (elements !== 0) {
    for (const d of dims) {
      elements *= d;
      if (elements * size > TFJS_MAX_WEIGHT_BYTES) {
        throw new DataFormatError(file, `${what}: shape [${dims.join(', ')}] needs more than the ${TFJS_MAX_WEIGHT_BYTES} bytes a model may hold`);
      }
    }
  }
  return { name, shape: dims.slice(), elements, dtype: decoded, storage, scale, min, ...(group === undefined ? {} : { group }), offset, byteLength: elements * size };
}

/**
 * Parses and validates model.json (the file's bytes); `file` names it in errors. Nothing is
 * allocated in proportion to the weights.
 */
export function parseTfjsModelJson(bytes: Uint8Array, file: string): TfjsModelJson {
  if (bytes.length > TFJS_MAX_MODEL_JSON_BYTES) throw new DataFormatError(file, `${bytes.length} bytes is larger than the ${TFJS_MAX_MODEL_JSON_BYTES}-byte limit for model.json`);
  let text: string;
  try { text = new TextDecoder('utf-8', { fatal: true }).decode(bytes); } catch { throw new DataFormatError(file, 'not valid UTF-8'); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) {
    throw new DataFormatError(file, `not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObject(json)) throw new DataFormatError(file, 'model.json must hold a JSON object');
  if (nestedDeeperThan(json, TFJS_MAX_JSON_DEPTH)) throw new DataFormatError(file, `nested deeper than ${TFJS_MAX_JSON_DEPTH} levels`);
  const { format, generatedBy, convertedBy, userDefinedMetadata } = json;
  if (format !== undefined && format !== null && format !== 'layers-model') {
    throw new DataFormatError(file, `format is ${brief(format)}: only layers models (format 'layers-model', tf.LayersModel) load here${format === 'graph-model' ? '; a graph model has no Keras topology' : ''}`);
  }
  const rawTopology = json.modelTopology;
  if (!isObject(rawTopology)) throw new DataFormatError(file, `modelTopology is ${rawTopology === undefined ? 'missing' : `not an object (${brief(rawTopology)})`}`);
  const topology: Record<string, unknown> = isObject(rawTopology.model_config) ? rawTopology.model_config : rawTopology;
  if (typeof topology.class_name !== 'string' || !isObject(topology.config)) {
    throw new DataFormatError(file, `modelTopology must be a Keras model config {class_name, config}, got keys ${brief(Object.keys(topology))}`);
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) throw new DataFormatError(file, `weightsManifest is ${manifest === undefined ? 'missing' : `not an array (${brief(manifest)})`}`);

  const notes: string[] = [];
  const modelTopology = normalizeKerasTopology(topology, notes);
  checkFunctionalGraphs(modelTopology, file);

  const groups: TfjsWeightGroup[] = [];
  const names = new Set<string>();
  const allPaths = new Set<string>();
  let total = 0;
  manifest.forEach((g, gi) => {
    const where = `weightsManifest[${gi}]`;
    if (!isObject(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights)) {
      throw new DataFormatError(file, `${where} must be an object {paths: [...], weights: [...]}, got ${brief(g)}`);
    }
    const paths = g.paths.map((p) => checkShardPath(p, where, file));
    for (const p of paths) {
      if (allPaths.has(p)) throw new DataFormatError(file, `${where}: shard ${quoteName(p)} is listed twice`);
      allPaths.add(p);
    }
    let offset = 0;
    const weights = g.weights.map((w) => {
      const weight = parseWeight(w, where, file, offset);
      if (names.has(weight.name)) throw new DataFormatError(file, `weight ${quoteName(weight.name)} is listed twice in the weightsManifest`);
      names.add(weight.name);
      offset += weight.byteLength;
      total += weight.byteLength;
      if (total > TFJS_MAX_WEIGHT_BYTES) throw new DataFormatError(file, `the weights need more than the ${TFJS_MAX_WEIGHT_BYTES} bytes a model may hold`);
      return weight;
    });
    if (paths.length === 0 && offset > 0) throw new DataFormatError(file, `${where} lists ${weights.length} weights (${offset} bytes) but no shard paths`);
    groups.push({ paths, weights, byteLength: offset });
  });
  fixPrefixedWeightNames(modelTopology, groups, notes);

  return {
    modelTopology, groups, notes,
    ...(typeof format === 'string' ? { format } : {}),
    ...(typeof generatedBy === 'string' ? { generatedBy } : {}),
    ...(typeof convertedBy === 'string' || convertedBy === null ? { convertedBy } : {}),
    ...(isObject(userDefinedMetadata) ? { userDefinedMetadata } : {}),
  };
}

// ---- Keras 3 -> tfjs spellings --------------------------------------------------------------------

const KERAS3_OBJECT_KEYS = ['module', 'registered_name', 'build_config', 'compile_config'];
const DTYPE_POLICY = /^(DTypePolicy|FloatDTypePolicy|QuantizedDTypePolicy|Policy)$/;

/** tfjs's dtype for a Keras dtype policy name ('mixed_float16' computes in float32 here). */
function dtypeOfPolicy(name: unknown): string {
  if (typeof name !== 'string') return 'float32';
  if (/int32|int64/.test(name)) return 'int32';
  return 'float32';
}

function isKerasTensor(v: unknown): v is { config: { keras_history: [string, number, number] } } {
  if (!isObject(v) || v.class_name !== '__keras_tensor__' || !isObject(v.config)) return false;
  const h = v.config.keras_history;
  return Array.isArray(h) && h.length === 3 && typeof h[0] === 'string' && typeof h[1] === 'number' && typeof h[2] === 'number';
}

/** Keras 3 node {args: [...], kwargs} -> Keras 2 node [[layer, node, tensor, {}], ...]. */
function convertKeras3Node(node: Record<string, unknown>): unknown[] {
  const refs: unknown[] = [];
  const collect = (v: unknown, depth: number): void => {
    if (depth > 8) return;
    if (isKerasTensor(v)) { const [l, n, t] = v.config.keras_history; refs.push([l, n, t, {}]); return; }
    if (Array.isArray(v)) for (const x of v) collect(x, depth + 1);
  };
  collect(node.args, 0);
  return refs;
}

/**
 * Rewrites (in place) the spellings Keras 3 uses where tfjs-layers expects Keras 2's:
 * InputLayer `batch_shape` -> `batch_input_shape`; DTypePolicy objects -> dtype strings;
 * `module` / `registered_name` / `build_config` / `compile_config` keys dropped; activations
 * serialised as objects -> their names; functional `inbound_nodes` in the {args, kwargs} form ->
 * [[layer, node, tensor, {}]]; a single `input_layers`/`output_layers` triple -> a list of one.
 * Returns the topology; `notes` gets one line per kind of change. The input must be free of
 * deep nesting (parseTfjsModelJson checks).
 */
export function normalizeKerasTopology(topology: Record<string, unknown>, notes: string[] = []): Record<string, unknown> {
  const noted = new Set(notes);
  const note = (s: string): void => { if (!noted.has(s)) { noted.add(s); notes.push(s); } };
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) { for (const x of v) visit(x); return; }
    if (!isObject(v)) return;
    if (typeof v.class_name === 'string') {
      for (const k of KERAS3_OBJECT_KEYS) {
        if (k in v) { delete v[k]; note(`Keras 3: dropped '${k}' keys`); }
      }
      const cfg = v.config;
      if (isObject(cfg)) {
        if ('batch_shape' in cfg) {
          if (!('batch_input_shape' in cfg)) cfg.batch_input_shape = cfg.batch_shape;
          delete cfg.batch_shape;
          note("Keras 3: 'batch_shape' -> 'batch_input_shape'");
        }
        if (Array.isArray(cfg.input_layers) && typeof cfg.input_layers[0] === 'string') { cfg.input_layers = [cfg.input_layers]; note("Keras 3: single 'input_layers' triple -> list"); }
        if (Array.isArray(cfg.output_layers) && typeof cfg.output_layers[0] === 'string') { cfg.output_layers = [cfg.output_layers]; note("Keras 3: single 'output_layers' triple -> list"); }
      }
      if (Array.isArray(v.inbound_nodes)) {
        v.inbound_nodes = v.inbound_nodes.map((n) => {
          if (!isObject(n) || !('args' in n)) return n;
          note("Keras 3: inbound_nodes {args, kwargs} -> [[layer, node, tensor, {}]]");
          return convertKeras3Node(n);
        });
      }
    }
    for (const [k, x] of Object.entries(v)) {
      if (k === 'dtype' && isObject(x) && typeof x.class_name === 'string' && DTYPE_POLICY.test(x.class_name)) {
        v[k] = dtypeOfPolicy(isObject(x.config) ? x.config.name : undefined);
        note('Keras 3: DTypePolicy objects -> dtype strings');
        continue;
      }
      if (k === 'activation' && isObject(x) && typeof x.config === 'string') {
        v[k] = x.config;
        note('Keras 3: serialised activation objects -> names');
        continue;
      }
      visit(x);
    }
  };
  visit(topology);
  return topology;
}

const MODEL_CLASSES = new Set(['Functional', 'Model', 'Sequential']);

/**
 * Checks every functional graph (Functional/Model configs, nested ones too) the way tfjs-layers
 * will wire it: tfjs's Container.fromConfig retries unresolved inbound nodes until none is
 * left, so a reference to a node that never exists (a missing layer, an out-of-range node index,
 * a cycle) makes it loop forever. Here the same resolution is simulated with a progress check:
 * each layer has one node per inbound node processed (InputLayers and nested models start with
 * one); a pass that resolves nothing with nodes left is an error naming the layer.
 */
export function checkFunctionalGraphs(topology: Record<string, unknown>, file: string): void {
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) { for (const x of v) visit(x); return; }
    if (!isObject(v)) return;
    if ((v.class_name === 'Functional' || v.class_name === 'Model') && isObject(v.config)) checkGraph(v.config, file);
    for (const x of Object.values(v)) visit(x);
  };
  visit(topology);
}

function checkGraph(config: Record<string, unknown>, file: string): void {
  const layers = config.layers;
  if (!Array.isArray(layers)) throw new DataFormatError(file, `a functional model's config needs a 'layers' array, got ${brief(layers)}`);
  const nodesOf = new Map<string, number>();
  const pending: { name: string; nodes: unknown[][][] }[] = [];
  for (const l of layers) {
    if (!isObject(l) || typeof l.name !== 'string') throw new DataFormatError(file, `a functional model's layer needs a string 'name', got ${brief(l)}`);
    const name = l.name;
    if (nodesOf.has(name)) throw new DataFormatError(file, `layer ${quoteName(name)} is listed twice`);
    if (isObject(l.config) && l.config.name !== undefined && l.config.name !== name) {
      throw new DataFormatError(file, `layer ${quoteName(name)} has config.name ${brief(l.config.name)}; they must agree`);
    }
    nodesOf.set(name, l.class_name === 'InputLayer' || MODEL_CLASSES.has(l.class_name as string) ? 1 : 0);
    const inbound = l.inbound_nodes ?? [];
    if (!Array.isArray(inbound)) throw new DataFormatError(file, `layer ${quoteName(name)}: inbound_nodes must be an array, got ${brief(inbound)}`);
    const nodes = inbound.map((node) => {
      if (!Array.isArray(node) || node.length === 0) throw new DataFormatError(file, `layer ${quoteName(name)}: an inbound node must be a non-empty list of [layer, node, tensor] references, got ${brief(node)}`);
      return node.map((ref) => {
        if (!Array.isArray(ref) || ref.length < 3 || ref.length > 4 || typeof ref[0] !== 'string'
          || !Number.isSafeInteger(ref[1]) || (ref[1] as number) < 0 || !Number.isInteger(ref[2]) || (ref[2] as number) < 0 || (ref[2] as number) > 1024
          || (ref[3] !== undefined && ref[3] !== null && !isObject(ref[3]))) {
          throw new DataFormatError(file, `layer ${quoteName(name)}: bad inbound reference ${brief(ref)} (expected [layer name, node index, tensor index, kwargs?])`);
        }
        return ref as unknown[];
      });
    });
    pending.push({ name, nodes });
  }
  for (const { name, nodes } of pending) {
    for (const node of nodes) {
      for (const ref of node) {
        if (!nodesOf.has(ref[0] as string)) throw new DataFormatError(file, `layer ${quoteName(name)} takes its input from ${quoteName(ref[0] as string)}, which is not a layer of the model`);
      }
    }
  }
  let left = pending.reduce((s, p) => s + p.nodes.length, 0);
  while (left > 0) {
    let progress = false;
    for (const p of pending) {
      p.nodes = p.nodes.filter((node) => {
        if (!node.every((ref) => nodesOf.get(ref[0] as string)! > (ref[1] as number))) return true;
        nodesOf.set(p.name, nodesOf.get(p.name)! + 1);
        left--;
        progress = true;
        return false;
      });
    }
    if (!progress) {
      const stuck = pending.find((p) => p.nodes.length > 0)!;
      const ref = stuck.nodes[0]!.find((r) => !(nodesOf.get(r[0] as string)! > (r[1] as number)))!;
      throw new DataFormatError(file, `layer ${quoteName(stuck.name)} takes node ${ref[1]} of ${quoteName(ref[0] as string)}, which never exists (a cycle, or a node index out of range)`);
    }
  }
  for (const key of ['input_layers', 'output_layers']) {
    const refs = config[key];
    if (!Array.isArray(refs) || refs.length === 0) throw new DataFormatError(file, `a functional model's config needs '${key}', got ${brief(refs)}`);
    for (const ref of refs) {
      if (!Array.isArray(ref) || typeof ref[0] !== 'string' || !nodesOf.has(ref[0]) || !Number.isSafeInteger(ref[1]) || (ref[1] as number) < 0
        || (ref[1] as number) >= nodesOf.get(ref[0])! || !Number.isInteger(ref[2]) || (ref[2] as number) < 0 || (ref[2] as number) > 1024) {
        throw new DataFormatError(file, `${key}: bad reference ${brief(ref)} (expected [layer name, node index, tensor index] of an existing node)`);
      }
    }
  }
}

/** Layer names of a topology (top level, and nested models' layers). */
function layerNames(topology: Record<string, unknown>): Set<string> {
  const names = new Set<string>();
  const visit = (cfg: unknown, depth: number): void => {
    if (!isObject(cfg) || depth > 16) return;
    const layers = isObject(cfg.config) ? cfg.config.layers : undefined;
    if (!Array.isArray(layers)) return;
    for (const l of layers) {
      if (!isObject(l)) continue;
      if (typeof l.name === 'string') names.add(l.name);
      if (isObject(l.config) && typeof l.config.name === 'string') names.add(l.config.name);
      visit(l, depth + 1);
    }
  };
  visit(topology, 0);
  return names;
}

/**
 * Keras 3 converters name weights by their path, 'sequential/dense/kernel', where tfjs
 * expects 'dense/kernel': strip a leading model name when what follows starts with a layer's name.
 */
function fixPrefixedWeightNames(topology: Record<string, unknown>, groups: TfjsWeightGroup[], notes: string[]): void {
  const cfg = topology.config;
  const modelName = isObject(cfg) && typeof cfg.name === 'string' ? cfg.name : undefined;
  if (modelName === undefined) return;
  const layers = layerNames(topology);
  if (layers.has(modelName)) return;
  const all = groups.flatMap((g) => g.weights);
  const renamed = new Set(all.map((w) => w.name));
  let changed = 0;
  for (const w of all) {
    const parts = w.name.split('/');
    if (parts.length >= 3 && parts[0] === modelName && layers.has(parts[1]!)) {
      const name = parts.slice(1).join('/');
      if (renamed.has(name)) continue; // would collide: leave it as it is
      renamed.delete(w.name);
      renamed.add(name);
      w.name = name;
      changed++;
    }
  }
  if (changed > 0) notes.push(`Keras 3: ${changed} weight names lost their '${modelName}/' prefix`);
}

// ---- shards -> ModelArtifacts ------------------------------------------------------------------

/** Where the shards come from: sizes first (validation), then reads into place. */
export interface TfjsShardSource {
  /** The shard's size in bytes, or undefined when it does not exist (or is not a file). */
  size(path: string): number | undefined;
  /** Fills `target` (exactly the shard's size) with the shard's bytes. */
  readInto(path: string, target: Uint8Array): void;
  /** How the shard is named in errors (default: the path). */
  label?(path: string): string;
}

/** A shard source over in-memory files (tests, browsers). */
export function memoryShards(files: Record<string, Uint8Array> | Map<string, Uint8Array>): TfjsShardSource {
  const map = files instanceof Map ? files : new Map(Object.entries(files));
  const get = (p: string): Uint8Array | undefined => map.get(p) ?? map.get(`./${p}`);
  return {
    size: (p) => get(p)?.length,
    readInto: (p, target) => { target.set(get(p)!.subarray(0, target.length)); },
  };
}

function describeWeight(w: TfjsWeight): string {
  return `${quoteName(w.name)} [${w.shape.join(', ')}] ${w.storage === w.dtype ? w.dtype : `${w.storage} (as ${w.dtype})`}`;
}

export interface TfjsArtifactsResult {
  artifacts: tf.io.ModelArtifacts;
  /** Each group's raw bytes, as read (for fingerprints). */
  raw: Uint8Array[];
}

/**
 * Checks every group's shards against the manifest (each must exist, and together hold
 * exactly the group's weights), reads them, and decodes the weights into ModelArtifacts whose
 * weights are all plain float32/int32 (optimizer weights are dropped; trainingConfig is left
 * out, so no Keras loss or optimizer needs to deserialise). `file` names model.json in errors.
 */
export function tfjsArtifacts(json: TfjsModelJson, shards: TfjsShardSource, file: string): TfjsArtifactsResult {
  const label = (p: string): string => shards.label?.(p) ?? p;
  // sizes first: nothing is read until every group adds up
  const sizes = json.groups.map((g, gi) => g.paths.map((p) => {
    const size = shards.size(p);
    if (size === undefined) throw new DataFormatError(label(p), `weight shard not found (weightsManifest[${gi}] of ${file} lists it)`);
    return size;
  }));
  json.groups.forEach((g, gi) => {
    const have = sizes[gi]!.reduce((a, b) => a + b, 0);
    if (have === g.byteLength) return;
    const culprit = g.paths.length === 1 ? label(g.paths[0]!) : file;
    const shardText = g.paths.length === 1 ? 'the shard' : `the ${g.paths.length} shards of weightsManifest[${gi}]`;
    if (have < g.byteLength) {
      const w = g.weights.find((x) => x.offset + x.byteLength > have)!;
      throw new DataFormatError(culprit, `weight ${describeWeight(w)} needs bytes [${w.offset}, ${w.offset + w.byteLength}) but ${shardText} hold${g.paths.length === 1 ? 's' : ''} ${have} (the group's weights need ${g.byteLength})`);
    }
    const last = g.weights[g.weights.length - 1];
    throw new DataFormatError(culprit, `${have - g.byteLength} bytes after the last weight${last ? ` ${describeWeight(last)}` : ''}: ${shardText} hold${g.paths.length === 1 ? 's' : ''} ${have} bytes, the group's weights need ${g.byteLength}`);
  });

  const raw = json.groups.map((g, gi) => {
    const bytes = new Uint8Array(g.byteLength);
    let at = 0;
    g.paths.forEach((p, si) => {
      const n = sizes[gi]![si]!;
      shards.readInto(p, bytes.subarray(at, at + n));
      at += n;
    });
    return bytes;
  });

  // the model's weights as stored (optimizer weights dropped), each with its spec: tfjs's
  // decodeWeights dequantises uint8 / uint16 / float16 storage when the model is built
  const weights = json.groups.flatMap((g, gi) => g.weights.map((w) => ({ w, bytes: raw[gi]! }))).filter(({ w }) => w.group !== 'optimizer');
  const specs: tf.io.WeightsManifestEntry[] = weights.map(({ w }) => ({
    name: w.name, shape: w.shape.slice(), dtype: w.dtype,
    ...(w.storage === 'float16' ? { quantization: { dtype: 'float16' as const } }
      : w.storage === 'uint8' || w.storage === 'uint16' ? { quantization: { dtype: w.storage, scale: w.scale, min: w.min } } : {}),
  }));
  const out = tf.io.concatenateArrayBuffers(weights.map(({ w, bytes }) => bytes.slice(w.offset, w.offset + w.byteLength).buffer));
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology,
    weightSpecs: specs,
    weightData: out,
    format: json.format ?? 'layers-model',
    ...(json.generatedBy !== undefined ? { generatedBy: json.generatedBy } : {}),
    ...(json.convertedBy !== undefined ? { convertedBy: json.convertedBy } : {}),
    ...(json.userDefinedMetadata !== undefined ? { userDefinedMetadata: json.userDefinedMetadata as Record<string, {}> } : {}),
  };
  return { artifacts, raw };
}

/** An IOHandler whose load() returns `artifacts` (tf.loadLayersModel(handler)). */
export function artifactsHandler(artifacts: tf.io.ModelArtifacts | (() => tf.io.ModelArtifacts | Promise<tf.io.ModelArtifacts>)): tf.io.IOHandler {
  return { load: async () => (typeof artifacts === 'function' ? artifacts() : artifacts) };
}

// ---- building the model --------------------------------------------------------------------------

type AddWeight = (this: tfl.layers.Layer, name: string, shape: (number | null)[], ...rest: unknown[]) => unknown;

function firstLine(e: unknown): string {
  const s = e instanceof Error ? e.message : String(e);
  const line = s.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/**
 * Builds the LayersModel of `artifacts` with tfjs-layers and loads its weights strictly (every
 * variable must find a weight of its name and shape, and every model weight must be used).
 * While tfjs builds the layers, a guard refuses any weight variable larger than the largest
 * weight of the manifest (and more variable elements in all than the manifest holds) before it
 * is allocated. Every failure is a DataFormatError naming `file`.
 */
export async function buildTfjsModel(artifacts: tf.io.ModelArtifacts, file: string): Promise<tfl.LayersModel> {
  if (!isObject(artifacts.modelTopology)) throw new DataFormatError(file, 'modelTopology must be a JSON object');
  const topology = withoutConstraints(artifacts.modelTopology, file);
  const specs = (artifacts.weightSpecs ?? []).filter((s) => s.group !== 'optimizer');
  const data = artifacts.weightData;
  const buffer = data === undefined ? new ArrayBuffer(0) : data instanceof ArrayBuffer ? data : tf.io.concatenateArrayBuffers(data);
  let maxElements = 0, totalElements = 0, needBytes = 0;
  for (const s of artifacts.weightSpecs ?? []) {
    const q = s.quantization?.dtype;
    if ((s.dtype !== 'float32' && s.dtype !== 'int32') || (q !== undefined && q !== 'uint8' && q !== 'uint16' && q !== 'float16')) {
      throw new DataFormatError(file, `weight ${quoteName(s.name)}: ${q ? `${q} quantization` : s.dtype} is not supported (float32 and int32, stored as they are or quantized to uint8, uint16 or float16)`);
    }
    const n = s.shape.reduce((p, d) => p * d, 1);
    needBytes += (q === 'uint8' ? 1 : q === 'uint16' || q === 'float16' ? 2 : 4) * n;
    if (s.group === 'optimizer') continue;
    maxElements = Math.max(maxElements, n);
    totalElements += n;
  }
  if (needBytes !== buffer.byteLength) throw new DataFormatError(file, `the weights need ${needBytes} bytes but the weight data holds ${buffer.byteLength}`);

  const proto = tfl.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const original = proto.addWeight;
  let used = 0;
  proto.addWeight = function guarded(this: tfl.layers.Layer, name, shape, ...rest) {
    const n = shape.reduce<number>((p, d) => p * (d ?? NaN), 1);
    if (!(n <= maxElements) || used + n > totalElements) {
      throw new DataFormatError(file, `layer ${quoteName(this.name)} (${this.getClassName()}) would create a weight ${quoteName(name)} of shape [${shape.join(', ')}] that no weight in the weightsManifest matches (the largest holds ${maxElements} values)`);
    }
    used += n;
    (this as unknown as { fastWeightInitDuringBuild: boolean }).fastWeightInitDuringBuild = true; // zeros: the weights are loaded next
    // in a scope, so that the initial value is freed even when tfjs throws after making it
    let v: tfl.LayerVariable | undefined;
    tf.tidy(() => { v = original.call(this, name, shape, ...rest) as tfl.LayerVariable; });
    created.push(v!);
    return v;
  };
  // variables of a build that fails half-way belong to no model: free them here
  const created: tfl.LayerVariable[] = [];
  const freeCreated = (): void => {
    for (const v of created) { try { v.dispose(); } catch { /* already freed with its model */ } }
  };
  let pending: Promise<tfl.LayersModel>;
  try {
    // modelFromJSON deserialises synchronously when given no weightsManifest: the guard covers it
    pending = tfl.models.modelFromJSON({ modelTopology: topology as Parameters<typeof tfl.models.modelFromJSON>[0]['modelTopology'] });
  } catch (e) {
    pending = Promise.reject(e);
  } finally {
    proto.addWeight = original;
  }
  let model: tfl.LayersModel;
  try {
    model = await pending;
  } catch (e) {
    freeCreated();
    if (e instanceof DataFormatError) throw e;
    throw new DataFormatError(file, `tfjs cannot build the model: ${firstLine(e)}`);
  }
  try {
    if (artifacts.userDefinedMetadata) {
      try { model.setUserDefinedMetadata(artifacts.userDefinedMetadata); } catch { /* metadata is informative only */ }
    }
    const byName = new Map(specs.map((s) => [s.name, s]));
    const matched = new Set<string>();
    for (const v of model.weights) {
      const s = byName.get(v.originalName);
      if (!s) {
        throw new DataFormatError(file, `the model needs weight ${quoteName(v.originalName)} [${v.shape.join(', ')}], which the weightsManifest lacks${specs.length > 0 ? ` (it holds ${specs.slice(0, 4).map((x) => quoteName(x.name)).join(', ')}${specs.length > 4 ? ', …' : ''})` : ''}`);
      }
      if (s.shape.length !== v.shape.length || s.shape.some((d, i) => d !== v.shape[i])) {
        throw new DataFormatError(file, `weight ${quoteName(s.name)} has shape [${s.shape.join(', ')}] in the weightsManifest but the model needs [${v.shape.join(', ')}]`);
      }
      matched.add(s.name);
    }
    const unused = specs.filter((s) => !matched.has(s.name));
    if (unused.length > 0) throw new DataFormatError(file, `weight ${quoteName(unused[0]!.name)}${unused.length > 1 ? ` (and ${unused.length - 1} more)` : ''} belongs to no layer of the model`);
    const tensors = tf.io.decodeWeights(buffer, artifacts.weightSpecs ?? []);
    try {
      const named: tf.NamedTensorMap = {};
      for (const s of specs) named[s.name] = tensors[s.name]!;
      model.loadWeights(named, true);
    } finally {
      tf.dispose(tensors);
    }
    // variables built for objects outside the model (e.g. a layer given where a constraint goes)
    const owned = new Set(model.weights.map((v) => v.id));
    for (const v of created) if (!owned.has(v.id)) { try { v.dispose(); } catch { /* freed */ } }
    return model;
  } catch (e) {
    disposeTfjsModel(model);
    freeCreated();
    if (e instanceof DataFormatError) throw e;
    throw new DataFormatError(file, `tfjs cannot load the weights: ${firstLine(e)}`);
  }
}

/**
 * model.dispose(), then every weight variable it still holds: tfjs counts a layer used twice in
 * a graph (a shared layer) twice and leaves its weights behind on dispose.
 */
export function disposeTfjsModel(model: tfl.LayersModel): void {
  let weights: tfl.LayerVariable[] = [];
  try { weights = [...model.weights]; } catch { /* a half-built model */ }
  try { model.dispose(); } catch { /* already disposed */ }
  for (const v of weights) { try { v.dispose(); } catch { /* freed with its layer */ } }
}

/**
 * A copy of the topology with every '*_constraint' set to null. Constraints act in training
 * only (Keras does not apply them on load), but tfjs re-applies them to each weight it loads
 * — which would alter the loaded weights, and runs arbitrary deserialised objects there.
 */
function withoutConstraints(topology: Record<string, unknown>, file: string): Record<string, unknown> {
  const copy = (v: unknown, depth: number): unknown => {
    if (depth > TFJS_MAX_JSON_DEPTH) throw new DataFormatError(file, `modelTopology is nested deeper than ${TFJS_MAX_JSON_DEPTH} levels`);
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    if (!isObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = /_constraint$|Constraint$/.test(k) ? null : copy(x, depth + 1);
    return out;
  };
  return copy(topology, 0) as Record<string, unknown>;
}


// ---- teachers ------------------------------------------------------------------------------------

/**
 * How the teacher's inputs are prepared from a dataset's samples (the teacher's own
 * convention, which may differ from the student's): x' = (x * scale - mean) / std, then
 * reshaped to `shape`.
 */
export interface TeacherInput {
  /** Multiplies each raw sample value first. Default 1/255 for u8 samples, 1 for f32 samples. */
  scale?: number;
  /** Subtracted after scaling: one value, or one per channel (the last axis of `shape`). Default 0. */
  mean?: number | readonly number[];
  /** Divides after the mean: one value or one per channel. Default 1. */
  std?: number | readonly number[];
  /** One sample's shape as the model takes it (without the batch axis), e.g. [28, 28, 1]. Default: the model's input shape. */
  shape?: readonly number[];
}

/**
 * What the teacher's raw output is and how logits are made from it:
 * - 'logits': the output as is (no softmax last);
 * - 'log-softmax': the model ends in a softmax (a Dense with activation 'softmax', or an
 *   Activation/Softmax layer over the last axis); the softmax is replaced by log-softmax of
 *   its input, i.e. exact log-probabilities without underflow;
 * - 'log-probabilities': another layer applies softmax; logits = log(max(p, 1e-38)).
 */
export type TeacherOutputKind = 'logits' | 'log-softmax' | 'log-probabilities';

const LOG_FLOOR = 1e-38;

function perChannel(v: number | readonly number[] | undefined, fallback: number, channels: number, what: string): Float32Array {
  if (v === undefined) return Float32Array.of(fallback);
  const arr = typeof v === 'number' ? [v] : [...v];
  if (arr.length !== 1 && arr.length !== channels) throw new RangeError(`teacher input: ${what} needs 1 or ${channels} values (one per channel), got ${arr.length}`);
  if (!arr.every((x) => Number.isFinite(x))) throw new RangeError(`teacher input: ${what} must be finite numbers`);
  if (what === 'std' && arr.some((x) => x === 0)) throw new RangeError('teacher input: std must not be 0');
  return Float32Array.from(arr);
}

/**
 * A LayersModel used as a teacher: logits over dataset views, with the teacher's own input
 * preparation. Softmax outputs become log-probabilities (see TeacherOutputKind): softmax of
 * them equals the model's probabilities, and a distillation temperature T then acts on
 * log-probabilities, softmax(log p / T) — the same as on the pre-softmax logits z, since log p
 * and z differ by a per-row constant. Runs on whatever tfjs backend is active.
 */
export class TfjsTeacher {
  /** Sample shape the model takes, without the batch axis. */
  readonly inputShape: number[];
  readonly classes: number;
  readonly outputKind: TeacherOutputKind;
  private readonly forward: (x: tf.Tensor) => tf.Tensor2D;
  private readonly extra: tfl.LayersModel | null;
  private disposed = false;

  /**
   * `input` is the teacher's input preparation (fixed for its lifetime); `fingerprint`, when
   * known (node's loadTfjsTeacher hashes model.json and the shards), keys logit caches.
   */
  constructor(readonly model: tfl.LayersModel, readonly input: TeacherInput = {}, readonly fingerprint?: string) {
    if (model.inputs.length !== 1) throw new RangeError(`TfjsTeacher: the model takes ${model.inputs.length} inputs; a teacher takes one`);
    if (model.outputs.length !== 1) throw new RangeError(`TfjsTeacher: the model has ${model.outputs.length} outputs; a teacher has one`);
    const inShape = model.inputs[0]!.shape.slice(1);
    const outShape = model.outputs[0]!.shape;
    if (outShape.length !== 2 || typeof outShape[1] !== 'number') throw new RangeError(`TfjsTeacher: the model's output has shape [${outShape.map(String).join(', ')}]; a teacher outputs [batch, classes]`);
    this.classes = outShape[1];
    const shape = input.shape ? [...input.shape] : inShape;
    if (!shape.every((d): d is number => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
      throw new RangeError(`TfjsTeacher: the model's input shape [${inShape.map(String).join(', ')}] is not fully known: give input.shape`);
    }
    if (input.shape && (inShape.length !== shape.length || inShape.some((d, i) => d !== null && d !== shape[i]))) {
      throw new RangeError(`TfjsTeacher: input.shape [${shape.join(', ')}] does not fit the model's input shape [${inShape.map(String).join(', ')}]`);
    }
    this.inputShape = shape;
    // the preparation is checked now, not at the first logits() call
    if (input.scale !== undefined && !Number.isFinite(input.scale)) throw new RangeError('teacher input: scale must be finite');
    const channels = shape[shape.length - 1] ?? 1;
    perChannel(input.mean, 0, channels, 'mean');
    perChannel(input.std, 1, channels, 'std');
    const { kind, forward, extra } = teacherForward(model);
    this.outputKind = kind;
    this.forward = forward;
    this.extra = extra;
  }

  /**
   * [view count, classes] logits, row i for the view's i-th sample; batches of `batchSize`
   * rows (default 256), each predicted inside tf.tidy.
   */
  logits(view: DatasetView, opts: { batchSize?: number } = {}): Float32Array {
    if (this.disposed) throw new RangeError('TfjsTeacher: disposed');
    const ds = view.dataset;
    const F = this.inputShape.reduce((p, d) => p * d, 1);
    if (ds.features !== F) {
      throw new RangeError(`TfjsTeacher: the model takes [${this.inputShape.join(', ')}] = ${F} values per sample but ${ds.name} samples have ${ds.features}`);
    }
    const batch = opts.batchSize ?? 256;
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`TfjsTeacher: batchSize must be a positive integer, got ${batch}`);
    const channels = this.inputShape[this.inputShape.length - 1] ?? 1;
    const scale = this.input.scale ?? (ds.x instanceof Uint8Array ? 1 / 255 : 1);
    if (!Number.isFinite(scale)) throw new RangeError('teacher input: scale must be finite');
    const mean = perChannel(this.input.mean, 0, channels, 'mean');
    const std = perChannel(this.input.std, 1, channels, 'std');
    const n = view.indices.length, C = this.classes;
    const out = new Float32Array(n * C);
    const B = Math.min(batch, Math.max(1, n));
    const x = new Float32Array(B * F);
    const src = ds.x;
    for (let start = 0; start < n; start += B) {
      const rows = Math.min(B, n - start);
      for (let r = 0; r < rows; r++) {
        const base = view.indices[start + r]! * F;
        const o = r * F;
        if (mean.length === 1 && std.length === 1) {
          const m = mean[0]!, s = std[0]!;
          for (let j = 0; j < F; j++) x[o + j] = (src[base + j]! * scale - m) / s;
        } else {
          for (let j = 0; j < F; j++) {
            const c = j % channels;
            x[o + j] = (src[base + j]! * scale - mean[mean.length === 1 ? 0 : c]!) / std[std.length === 1 ? 0 : c]!;
          }
        }
      }
      const y = tf.tidy(() => this.forward(tf.tensor(x.subarray(0, rows * F), [rows, ...this.inputShape], 'float32')));
      try {
        const values = y.dataSync();
        if (values.length !== rows * C) throw new RangeError(`TfjsTeacher: the model returned ${values.length} values for ${rows} rows of ${C} classes`);
        out.set(values, start * C);
      } finally {
        y.dispose();
      }
    }
    return out;
  }

  /** Frees the model's weights (and any helper model). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    disposeTfjsModel(this.model); // the helper model shares these layers and weights
  }

  /** A helper model (the teacher up to its softmax) when one was built; for tests. */
  get helper(): tfl.LayersModel | null { return this.extra; }
}

function activationOf(layer: tfl.layers.Layer): unknown {
  try { return (layer.getConfig() as Record<string, unknown>).activation; } catch { return undefined; }
}

function teacherForward(model: tfl.LayersModel): { kind: TeacherOutputKind; forward: (x: tf.Tensor) => tf.Tensor2D; extra: tfl.LayersModel | null } {
  const predict = (m: tfl.LayersModel) => (x: tf.Tensor): tf.Tensor => m.predict(x) as tf.Tensor;
  const plain = { kind: 'logits' as const, forward: (x: tf.Tensor) => predict(model)(x) as tf.Tensor2D, extra: null };
  const last = model.outputs[0]!.sourceLayer;
  const cls = last.getClassName();
  const act = activationOf(last);
  const softmaxLayer = (cls === 'Activation' && act === 'softmax')
    || (cls === 'Softmax' && [-1, undefined, null].includes((last.getConfig() as Record<string, unknown>).axis as number | undefined));
  const denseSoftmax = cls === 'Dense' && act === 'softmax';
  if (!softmaxLayer && !denseSoftmax && act !== 'softmax') return plain;
  const fallback = {
    kind: 'log-probabilities' as const,
    forward: (x: tf.Tensor) => tf.log(tf.maximum(predict(model)(x), LOG_FLOOR)) as tf.Tensor2D,
    extra: null,
  };
  let inner: tfl.LayersModel;
  try {
    if (last.inboundNodes.length !== 1) return fallback;
    inner = tfl.model({ inputs: model.inputs, outputs: last.input as tfl.SymbolicTensor });
  } catch {
    return fallback;
  }
  if (softmaxLayer) {
    return { kind: 'log-softmax', forward: (x) => tf.logSoftmax(predict(inner)(x)) as tf.Tensor2D, extra: inner };
  }
  if (denseSoftmax && inner.outputs[0]!.shape.length === 2) {
    const [kernel, bias] = last.getWeights();
    if (kernel && kernel.shape.length === 2) {
      return {
        kind: 'log-softmax',
        forward: (x) => {
          let z = tf.matMul(predict(inner)(x) as tf.Tensor2D, kernel as tf.Tensor2D);
          if (bias) z = tf.add(z, bias);
          return tf.logSoftmax(z) as tf.Tensor2D;
        },
        extra: inner,
      };
    }
  }
  return fallback;
}

// ---- export: Mlp -> LayersModel -------------------------------------------------------------------

/** The single weight shard's file name in an export. */
export const TFJS_EXPORT_WEIGHTS_FILE = 'weights.bin';

export interface TfjsExport {
  /** model.json's content (JSON.stringify it). */
  modelJson: Record<string, unknown>;
  /** The shard: every layer's kernel then bias, float32 little-endian. */
  weightData: Uint8Array;
}

export interface TfjsExportOptions {
  /** The model's name (default 'retort_mlp' for an MLP, 'retort' for other graphs). */
  name?: string;
  /**
   * The input normalisation the caller must apply: u8 pixels x become (x/255 - mean)/std, as in
   * training. Recorded in userDefinedMetadata.retort.normalization; the model does not apply it.
   */
  normalization?: InputNorm;
}

function mlpParts(model: Mlp | { spec: ModelSpec | string | object; params: Float32Array }): { spec: MlpSpec; params: Float32Array } {
  if (model instanceof Mlp) return { spec: model.spec, params: model.readParams() };
  const spec = asMlpSpec(parseModelSpec(model.spec), 'mlpToTfjs');
  if (model.params.length !== paramCount(spec)) throw new RangeError(`mlpToTfjs: got ${model.params.length} parameters but ${spec.sizes.join('-')} has ${paramCount(spec)}`);
  return { spec, params: model.params };
}

/**
 * A Retort MLP as a tfjs LayersModel: a Sequential of Dense layers named dense_0, dense_1,
 * ... (ReLU on every hidden layer, linear logits last), one weight shard, built and saved by
 * tfjs-layers itself. Dropout and maxNorm are training-time only and are not layers; the spec
 * travels in userDefinedMetadata.retort. Needs a tfjs backend (awaits tf.ready()).
 */
export async function mlpToTfjs(model: Mlp | { spec: ModelSpec | string | object; params: Float32Array }, opts: TfjsExportOptions = {}): Promise<TfjsExport> {
  const { spec, params } = mlpParts(model);
  const layout = paramLayout(spec);
  await tf.ready();
  const layers = layout.map((l, i) => tfl.layers.dense({
    name: `dense_${i}`, units: l.outputs, activation: i < layout.length - 1 ? 'relu' : 'linear', useBias: true, ...(i === 0 ? { batchInputShape: [null, l.inputs] } : {}),
  }));
  const built = tfl.sequential({ name: opts.name ?? 'retort_mlp', layers });
  try {
    // the flat params are layer by layer W (inputs x outputs, row-major) then b: tfjs's Dense order
    let at = 0;
    layout.forEach((l, i) => {
      const w = tf.tensor(params.subarray(at, at + l.inputs * l.outputs), [l.inputs, l.outputs], 'float32');
      at += l.inputs * l.outputs;
      const b = tf.tensor(params.subarray(at, at + l.outputs), [l.outputs], 'float32');
      at += l.outputs;
      layers[i]!.setWeights([w, b]);
      tf.dispose([w, b]);
    });
    built.setUserDefinedMetadata({ retort: { spec, ...(opts.normalization ? { normalization: opts.normalization } : {}) } } as {});
    return await savedModel(built);
  } finally {
    disposeTfjsModel(built);
  }
}

/** What model.save gives a save handler, as model.json (one weight shard, TFJS_EXPORT_WEIGHTS_FILE) and the shard's bytes. */
export async function savedModel(model: tfl.LayersModel): Promise<TfjsExport> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } };
  }));
  const a = saved as unknown as tf.io.ModelArtifacts;
  const data = a.weightData === undefined ? new ArrayBuffer(0) : Array.isArray(a.weightData) ? tf.io.concatenateArrayBuffers(a.weightData) : a.weightData;
  const modelJson = {
    format: a.format ?? 'layers-model',
    generatedBy: `Retort (@retort/distill) with ${a.generatedBy ?? `tfjs-layers ${tfl.version_layers}`}`,
    convertedBy: null,
    modelTopology: a.modelTopology as Record<string, unknown>,
    weightsManifest: [{ paths: [TFJS_EXPORT_WEIGHTS_FILE], weights: a.weightSpecs ?? [] }],
    userDefinedMetadata: a.userDefinedMetadata,
  };
  return { modelJson, weightData: new Uint8Array(data) };
}

/** The export as ModelArtifacts, e.g. for tf.loadLayersModel(tf.io.fromMemory(...)) in a browser. */
export async function mlpToModelArtifacts(model: Mlp | { spec: ModelSpec | string | object; params: Float32Array }, opts: TfjsExportOptions = {}): Promise<tf.io.ModelArtifacts> {
  const { modelJson, weightData } = await mlpToTfjs(model, opts);
  const manifest = modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
  return {
    modelTopology: modelJson.modelTopology as {},
    weightSpecs: manifest[0]!.weights,
    weightData: weightData.buffer as ArrayBuffer,
    format: 'layers-model',
    generatedBy: modelJson.generatedBy as string,
    convertedBy: null,
    userDefinedMetadata: modelJson.userDefinedMetadata as Record<string, {}>,
  };
}

// ---- import: LayersModel -> Mlp -------------------------------------------------------------------

export interface TfjsMlpImport {
  model: Mlp;
  spec: MlpSpec;
  /** True when the model ended in a softmax, which was dropped: Retort models output logits. */
  softmaxDropped: boolean;
  /** Layers skipped as no-ops at inference (InputLayer, Flatten, Dropout, linear Activation). */
  skipped: string[];
}

const INFERENCE_NOOPS = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout']);

interface DenseParts { layer: string; rows: number; cols: number; kernel: Float32Array; bias: Float32Array | null; act: string }

/**
 * A Retort Mlp from a LayersModel made of Dense layers in a chain: ReLU between them (as the
 * Dense activation or an Activation('relu')/ReLU layer), linear or softmax last; InputLayer,
 * Flatten, Dropout-like and linear Activation layers are skipped. A final softmax is DROPPED
 * (Retort models output logits; softmax of the logits gives the model's probabilities back).
 * Anything else is a DataFormatError naming the layer and its class; `file` names the model.
 * Sizes come from the kernels; dropout/maxNorm from userDefinedMetadata.retort.spec when the
 * model was exported by Retort with the same sizes.
 */
export function mlpFromTfjsModel(core: Core, model: tfl.LayersModel, file = 'model.json'): TfjsMlpImport {
  const refuse = (layer: tfl.layers.Layer, why = ''): never => {
    throw new DataFormatError(file, `layer ${quoteName(layer.name)} (${layer.getClassName()}) cannot be represented by a Retort MLP${why}; use it as a teacher with loadTfjsTeacher instead`);
  };
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new DataFormatError(file, `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs; a Retort MLP has one of each; use it as a teacher with loadTfjsTeacher instead`);
  }
  const layers = model.layers;
  const sequential = model instanceof tfl.Sequential;
  let rank = model.inputs[0]!.shape.length - 1;
  const dense: DenseParts[] = [];
  const skipped: string[] = [];
  let prev: tfl.layers.Layer | null = null;
  for (const layer of layers) {
    const cls = layer.getClassName();
    if (!sequential && cls !== 'InputLayer') {
      const nodes = layer.inboundNodes;
      if (nodes.length !== 1 || nodes[0]!.inboundLayers.length !== 1 || (prev !== null && nodes[0]!.inboundLayers[0] !== prev)) {
        refuse(layer, ' (the layers do not form a single chain)');
      }
    }
    prev = layer;
    const cfg = layer.getConfig() as Record<string, unknown>;
    const top = dense[dense.length - 1];
    const applyActivation = (act: unknown): void => {
      if (act === 'linear' || act === undefined || act === null) { skipped.push(layer.name); return; }
      if ((act !== 'relu' && act !== 'softmax') || !top || top.act !== 'linear') refuse(layer, ` (activation ${brief(act)} ${top ? `after '${top.layer}'` : 'before any Dense layer'})`);
      top!.act = act as string;
    };
    switch (cls) {
      case 'InputLayer':
        skipped.push(layer.name);
        continue;
      case 'Flatten':
        rank = 1;
        skipped.push(layer.name);
        continue;
      case 'Activation':
        applyActivation(cfg.activation);
        continue;
      case 'ReLU':
        if (cfg.maxValue !== null && cfg.maxValue !== undefined) refuse(layer, ` (maxValue ${brief(cfg.maxValue)})`);
        applyActivation('relu');
        continue;
      case 'Softmax':
        if (cfg.axis !== undefined && cfg.axis !== -1) refuse(layer, ` (softmax over axis ${brief(cfg.axis)})`);
        applyActivation('softmax');
        continue;
      case 'Dense': {
        if (rank !== 1) refuse(layer, ` (it is applied to rank-${rank} samples; a Retort MLP takes flat vectors: put a Flatten before it)`);
        const act = cfg.activation ?? 'linear';
        if (act !== 'linear' && act !== 'relu' && act !== 'softmax') refuse(layer, ` (activation ${brief(act)}; only relu between layers and linear or softmax last are)`);
        if (top && top.act !== 'relu') {
          refuse(layer, ` (it follows '${top.layer}' without a ReLU between them; a Retort MLP has ReLU between every two dense layers)`);
        }
        const [k, b] = layer.getWeights();
        if (!k || k.shape.length !== 2) refuse(layer, ' (no 2-D kernel)');
        const [rows, cols] = k!.shape as [number, number];
        if (top && top.cols !== rows) refuse(layer, ` (its kernel takes ${rows} inputs but '${top.layer}' gives ${top.cols})`);
        dense.push({ layer: layer.name, rows, cols, kernel: k!.dataSync() as Float32Array, bias: cfg.useBias === false || !b ? null : b.dataSync() as Float32Array, act: act as string });
        continue;
      }
      default:
        if (INFERENCE_NOOPS.has(cls)) { skipped.push(layer.name); continue; }
        refuse(layer);
    }
  }
  if (dense.length === 0) throw new DataFormatError(file, 'the model has no Dense layer');
  dense.slice(0, -1).forEach((d) => {
    if (d.act !== 'relu') throw new DataFormatError(file, `layer '${d.layer}' ends in ${d.act} in the middle of the model; a Retort MLP has ReLU between dense layers`);
  });
  const last = dense[dense.length - 1]!;
  if (last.act === 'relu') throw new DataFormatError(file, `the model ends in a ReLU (layer '${last.layer}'); a Retort MLP ends in linear logits`);
  const sizes = [dense[0]!.rows, ...dense.map((d) => d.cols)];
  let spec: MlpSpec = asMlpSpec(parseModelSpec({ type: 'mlp', sizes }, 'model'), 'importTfjs');
  const meta = model.getUserDefinedMetadata() as { retort?: { spec?: unknown } } | undefined;
  if (meta?.retort?.spec) {
    try {
      const saved = parseModelSpec(meta.retort.spec as object, 'model');
      if (saved.type === 'mlp' && saved.sizes.join('-') === sizes.join('-')) spec = saved;
    } catch { /* not ours, or not valid: sizes alone */ }
  }
  const params = new Float32Array(paramCount(spec));
  paramLayout(spec).forEach((l, i) => {
    const d = dense[i]!;
    params.set(d.kernel, l.weightOffset);
    if (d.bias) params.set(d.bias, l.biasOffset);
  });
  const mlp = new Mlp(core, spec);
  try {
    mlp.writeParams(params);
  } catch (e) {
    mlp.free();
    throw e;
  }
  return { model: mlp, spec, softmaxDropped: last.act === 'softmax', skipped };
}
