// Interop on disk (Node only): TensorFlow.js LayersModel folders (model.json + weight shards) read, built, used as
// teachers, exported from and imported into Retort models. The parsers are pure
// (safetensors.ts, tfjs-layers.ts); this file reads exactly the bytes they ask for, after
// they have checked every size, and writes atomically.
//
// tfjs in Node: tfjs-node (native TensorFlow) is not a dependency; the WebAssembly backend
// (@tensorflow/tfjs-backend-wasm) runs here. useTfjsBackend('wasm') points it at the .wasm
// files in the package's dist/ folder (resolved from this module) and makes it tfjs's backend.

import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve, sep } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import type { Core } from '@retort/core-wasm';
import { fingerprint as dataFingerprint, slice, type DatasetView } from '../data/dataset.js';
import { DataFormatError } from '../data/errors.js';
import { writeNpyFile } from '../data/files.js';
import { Fnv1a64 } from '../data/hash.js';
import { syncDirectory, writeFileAtomic } from '../io/atomic.js';
import { cachedTeacherOutputs, type CachedOutputs } from '../node/teacher-outputs.js';
import { readExact, readWholeFile, withFile } from '../data/files.js';

// the safetensors and teacher-logit file functions live in files-node.ts (no tfjs); re-exported here
export { readSafetensorsFile, writeSafetensorsFile, readTeacherLogitsFile } from './files-node.js';
import {
  buildTfjsModel, disposeTfjsModel, mlpFromTfjsModel, parseTfjsModelJson, tfjsArtifacts, TfjsTeacher, TFJS_EXPORT_WEIGHTS_FILE, TFJS_MAX_MODEL_JSON_BYTES,
  type TeacherInput, type TfjsExportOptions, type TfjsMlpImport, type TfjsModelJson,
} from './tfjs-layers.js';
import { modelToTfjs, type TfjsExportSource } from './tfjs-export.js';
import { modelFromTfjsModel, type TfjsModelImport } from './tfjs-import.js';

// ---- tfjs backend --------------------------------------------------------------------------------

let wasmPathsSet = false;

/** The folder holding tfjs-backend-wasm's .wasm binaries (its dist/), with a trailing separator. */
export function tfjsWasmDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + sep;
}

/**
 * Makes `backend` (default 'wasm') tfjs's active backend, initialising it if needed; for
 * 'wasm', first points the backend at its .wasm files (tfjsWasmDir()). It picks the SIMD
 * binary when the runtime has SIMD, and runs single-threaded in Node. Returns the backend's
 * name. Note: tfjs has one global backend; this switches it for every tfjs user of the process.
 */
export async function useTfjsBackend(backend = 'wasm'): Promise<string> {
  if (backend === 'wasm' && !wasmPathsSet) {
    try { setWasmPaths(tfjsWasmDir()); } catch { /* already initialised: its paths are set */ }
    wasmPathsSet = true;
  }
  let ok = false;
  let failure = '';
  try { ok = await tf.setBackend(backend); } catch (e) { failure = ` (${(e as Error).message})`; }
  if (!ok) {
    throw new Error(`tfjs backend '${backend}' failed to initialise${failure}${backend === 'wasm' ? `; its .wasm files are looked up in ${tfjsWasmDir()}` : ' (is it registered? import its package first)'}`);
  }
  return tf.getBackend();
}

// ---- tfjs model folders --------------------------------------------------------------------------

export interface TfjsModelFiles {
  /** Artifacts ready for tfjs: normalised topology, weights decoded to float32/int32. */
  artifacts: tf.io.ModelArtifacts;
  /** The parsed, validated model.json. */
  modelJson: TfjsModelJson;
  /** The model.json file read. */
  path: string;
  /** FNV-1a 64 of model.json and every shard's bytes: keys teacher-logit caches. */
  fingerprint: string;
}

/** model.json's path from a folder or the file itself. */
export function modelJsonPath(path: string): string {
  try {
    if (statSync(path).isDirectory()) return join(path, 'model.json');
  } catch { /* reported when opened */ }
  return path;
}

/**
 * Reads and validates a tfjs LayersModel: `path` is model.json or its folder. model.json is
 * parsed and checked first (topology, manifest, shapes, dtypes, shard paths inside the
 * folder); then every shard must exist and each group's shards must add up to exactly its
 * weights' bytes, all before a shard is read. Errors are DataFormatError naming the file at
 * fault (model.json or a shard) and the weight.
 */
export function readTfjsModel(path: string): TfjsModelFiles {
  const file = modelJsonPath(path);
  const bytes = readWholeFile(file, file, (size) => {
    if (size > TFJS_MAX_MODEL_JSON_BYTES) throw new DataFormatError(file, `${size} bytes is larger than the ${TFJS_MAX_MODEL_JSON_BYTES}-byte limit for model.json`);
  });
  const modelJson = parseTfjsModelJson(bytes, file);
  const dir = dirname(file);
  const shardPath = (p: string): string => join(dir, ...p.split('/'));
  const { artifacts, raw } = tfjsArtifacts(modelJson, {
    size: (p) => {
      try {
        const s = statSync(shardPath(p));
        return s.isFile() ? s.size : undefined;
      } catch {
        return undefined;
      }
    },
    readInto: (p, target) => {
      const label = shardPath(p);
      withFile(label, label, (fd, size) => {
        if (size !== target.length) throw new DataFormatError(label, `changed size while being read (${target.length} -> ${size} bytes)`);
        readExact(label, fd, target, 0);
      });
    },
    label: shardPath,
  }, file);
  const h = new Fnv1a64().updateString('retort-tfjs-v1\n').update(bytes);
  for (const group of raw) h.update(group);
  return { artifacts, modelJson, path: file, fingerprint: h.digest() };
}

/** A tfjs IOHandler (load only) over a model folder: tf.loadLayersModel(tfjsFileHandler(dir)). */
export function tfjsFileHandler(path: string): tf.io.IOHandler {
  return { load: async () => readTfjsModel(path).artifacts };
}

export interface TfjsLoadOptions {
  /** tfjs backend to run on (default 'wasm'); see useTfjsBackend. */
  backend?: string;
}

/** Reads a LayersModel folder and builds it with tfjs-layers (guarded: see buildTfjsModel). */
export async function loadTfjsModel(path: string, opts: TfjsLoadOptions = {}): Promise<tfl.LayersModel> {
  await useTfjsBackend(opts.backend);
  const files = readTfjsModel(path);
  return buildTfjsModel(files.artifacts, files.path);
}

export interface TfjsTeacherOptions extends TfjsLoadOptions {
  /** The teacher's own input preparation (scale, mean, std, shape). */
  input?: TeacherInput;
}

/**
 * Any LayersModel tfjs can build (dense, conv, ...) as a teacher, on the wasm backend by
 * default: `(await loadTfjsTeacher(dir, { input: { scale: 1 / 255, mean: 0.1307, std: 0.3081,
 * shape: [28, 28, 1] } })).logits(view)`. A softmax output becomes log-probabilities (see
 * TfjsTeacher): temperature then acts on log-probabilities. dispose() frees it.
 */
export async function loadTfjsTeacher(path: string, opts: TfjsTeacherOptions = {}): Promise<TfjsTeacher> {
  await useTfjsBackend(opts.backend);
  const files = readTfjsModel(path);
  const model = await buildTfjsModel(files.artifacts, files.path);
  try {
    return new TfjsTeacher(model, opts.input ?? {}, files.fingerprint);
  } catch (e) {
    disposeTfjsModel(model);
    throw e;
  }
}

/**
 * The teacher's logits over `view`, cached in the directory `cacheDir` as sharded teacher outputs
 * (node/teacher-outputs.ts) under the fingerprints of model files, input preparation and data:
 * read when they still match, else computed. The teacher must come from loadTfjsTeacher (it has
 * a fingerprint).
 */
export function cachedTfjsTeacherLogits(teacher: TfjsTeacher, view: DatasetView, cacheDir: string, opts: { batchSize?: number; topK?: number } = {}): CachedOutputs {
  if (!teacher.fingerprint) throw new RangeError('cachedTfjsTeacherLogits: the teacher has no fingerprint (load it with loadTfjsTeacher)');
  const input = teacher.input;
  const key = {
    tfjsModel: teacher.fingerprint,
    data: dataFingerprint(view),
    input: {
      scale: input.scale ?? null,
      mean: input.mean === undefined ? null : typeof input.mean === 'number' ? input.mean : [...input.mean],
      std: input.std === undefined ? null : typeof input.std === 'number' ? input.std : [...input.std],
      shape: teacher.inputShape,
    },
    output: teacher.outputKind,
    shape: [view.indices.length, teacher.classes],
  };
  return cachedTeacherOutputs(cacheDir, key, view.indices.length, teacher.classes,
    (start, count) => teacher.logits(slice(view, count, start), opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
    opts.topK !== undefined ? { topK: opts.topK } : {});
}

function readFileUtf8(path: string): string {
  return new TextDecoder().decode(readWholeFile(path));
}

// ---- export / import -----------------------------------------------------------------------------


/**
 * Writes `model` as a tfjs LayersModel folder: `dir`/model.json and `dir`/weights.bin
 * (see modelToTfjs: any Retort model), loadable by tf.loadLayersModel (in Node through tfjsFileHandler, in a
 * browser over HTTP). Atomic: the files are written and synced in a temporary sibling folder
 * that is then renamed to `dir`; an existing export there is swapped out and removed, so a
 * reader sees the old export or the new one, never a mix. An existing `dir` holding anything
 * but model.json and .bin files is refused rather than replaced.
 */
export async function exportTfjsModel(dir: string, model: TfjsExportSource, opts: TfjsExportOptions = {}): Promise<{ modelJson: string; weights: string }> {
  const target = resolve(dir);
  const parent = dirname(target);
  // tfjs-layers builds and saves the model: a backend first (the wasm one, unless one is already in use)
  if ((tf.engine() as unknown as { backendName: string | null }).backendName == null) await useTfjsBackend();
  const { modelJson, weightData } = await modelToTfjs(model, opts);
  mkdirSync(parent, { recursive: true });
  let replacing = false;
  if (existsSync(target)) {
    if (!lstatSync(target).isDirectory()) throw new Error(`exportTfjsModel: ${target} exists and is not a folder`);
    const strays = readdirSync(target).filter((f) => f !== 'model.json' && !f.endsWith('.bin'));
    if (strays.length > 0) throw new Error(`exportTfjsModel: ${target} holds other files (${strays.slice(0, 3).join(', ')}); refusing to replace it`);
    replacing = true;
  }
  const tag = `${process.pid}.${Math.random().toString(36).slice(2, 10)}`;
  const tmp = join(parent, `.${basename(target)}.${tag}.tmp`);
  const old = join(parent, `.${basename(target)}.${tag}.old`);
  mkdirSync(tmp);
  let moved = false;
  try {
    writeFileAtomic(join(tmp, TFJS_EXPORT_WEIGHTS_FILE), weightData);
    writeFileAtomic(join(tmp, 'model.json'), new TextEncoder().encode(JSON.stringify(modelJson) + '\n'));
    if (replacing) { renameSync(target, old); moved = true; }
    renameSync(tmp, target);
    syncDirectory(parent);
  } catch (err) {
    if (moved && !existsSync(target)) { try { renameSync(old, target); } catch { /* leave the old export beside it */ } }
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  if (moved) rmSync(old, { recursive: true, force: true });
  return { modelJson: join(target, 'model.json'), weights: join(target, TFJS_EXPORT_WEIGHTS_FILE) };
}

/**
 * A Retort Mlp from a tfjs LayersModel folder made of Dense layers (see mlpFromTfjsModel:
 * a final softmax is dropped; conv nets and other layers are refused, naming the layer —
 * use them as teachers with loadTfjsTeacher).
 */
export async function importTfjsMlp(core: Core, path: string, opts: TfjsLoadOptions = {}): Promise<TfjsMlpImport> {
  const model = await loadTfjsModel(path, opts);
  try {
    return mlpFromTfjsModel(core, model, modelJsonPath(path));
  } finally {
    disposeTfjsModel(model);
  }
}

/**
 * A Retort model from a tfjs LayersModel folder whose layers Retort can represent (see
 * modelFromTfjsModel: an MLP for a chain of Dense layers, a graph otherwise; a final softmax is
 * dropped). Any other model is a DataFormatError naming the layer — use it as a teacher with
 * loadTfjsTeacher. The caller owns the returned model (free()).
 */
export async function importTfjsModel(core: Core, path: string, opts: TfjsLoadOptions = {}): Promise<TfjsModelImport> {
  const model = await loadTfjsModel(path, opts);
  try {
    return modelFromTfjsModel(core, model, modelJsonPath(path));
  } finally {
    disposeTfjsModel(model);
  }
}
