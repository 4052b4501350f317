// Model files on disk (Node only): save atomically, load with every size checked.
// A model's flat parameters are stored as one tensor per layer and kind, named by the
// dense layer's index: layer0.w (IN, H1), layer0.b (H1), layer1.w (H1, H2), ...
// Checkpoints add their own tensors (optimizer state) and meta; loadModel ignores extras.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { createModel, Model } from '../model/index.js';
import { parseModelSpec, type ModelSpec } from '../model/spec.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeModelFile, encodeModelFileParts, ModelFormatError, modelTensors, paramsFromTensors, stateFromTensors, type DecodedModelFile } from './model-file.js';

/** Files larger than this are refused before reading (a 2^27-parameter checkpoint is ~1.5 GiB). */
export const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

// the layer tensors <-> flat parameters mapping lives in model-file.ts (platform-neutral)
export { modelTensors, paramsFromTensors, stateFromTensors } from './model-file.js';

/** Writes `model` (or a spec, flat params and state) to `path` atomically; `meta` is free-form JSON. */
export function saveModel(path: string, model: Model | { spec: ModelSpec | string | object; params: Float32Array; state?: Float32Array },
                          meta: Record<string, unknown> = {}): void {
  const spec = model instanceof Model ? model.spec : parseModelSpec(model.spec);
  // views into module memory, not copies: the encoder runs synchronously before anything allocates
  const params = model instanceof Model ? model.params.view() : model.params;
  const state = model instanceof Model ? model.state?.view() : model.state;
  writeFileAtomic(path, encodeModelFileParts({ spec, tensors: modelTensors(spec, params, state), meta }));
}

/** Reads and validates a model (or checkpoint) file; errors name the file by its base name. */
export function readModelFile(path: string): DecodedModelFile {
  const name = basename(path);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFormatError(name, code === 'ENOENT' ? 'no such file' : `cannot open (${code ?? (e as Error).message})`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_MODEL_FILE_BYTES) throw new ModelFormatError(name, `${size} bytes is larger than the ${MAX_MODEL_FILE_BYTES}-byte limit`);
    const bytes = new Uint8Array(size);
    for (let off = 0; off < size;) {
      const got = readSync(fd, bytes, off, size - off, off);
      if (got === 0) throw new ModelFormatError(name, `the file shrank while being read (${off} of ${size} bytes)`);
      off += got;
    }
    return decodeModelFile(bytes, name);
  } finally {
    closeSync(fd);
  }
}

/** A model built from the file's spec with its parameters (and state) loaded. */
export function loadModel(core: Core, path: string): Model {
  return modelFromFile(core, readModelFile(path), basename(path));
}

/** A model from a decoded model file (its spec, parameters and state). */
export function modelFromFile(core: Core, file: Pick<DecodedModelFile, 'spec' | 'tensors'>, name: string): Model {
  const model = createModel(core, file.spec);
  try {
    // straight into module memory: no second host-side copy of a large model
    paramsFromTensors(file.spec, file.tensors, name, model.params.view());
    if (model.state) stateFromTensors(file.spec, file.tensors, name, model.state.view());
  } catch (e) {
    model.free();
    throw e;
  }
  return model;
}
