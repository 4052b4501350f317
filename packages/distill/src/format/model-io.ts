// Model files on disk (Node only): save atomically, load with every size checked.
// A model's flat parameters are stored as one tensor per layer and kind, named by the
// dense layer's index: layer0.w (IN, H1), layer0.b (H1), layer1.w (H1, H2), ...
// Checkpoints add their own tensors (optimizer state) and meta; loadModel ignores extras.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { Mlp } from '../model/mlp.js';
import { parseModelSpec, type ModelSpec } from '../model/spec.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeModelFile, encodeModelFileParts, ModelFormatError, modelTensors, paramsFromTensors, type DecodedModelFile } from './model-file.js';

/** Files larger than this are refused before reading (a 2^27-parameter checkpoint is ~1.5 GiB). */
export const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

// the layer tensors <-> flat parameters mapping lives in model-file.ts (platform-neutral)
export { modelTensors, paramsFromTensors } from './model-file.js';

/** Writes `model` (or a spec and flat params) to `path` atomically; `meta` is free-form JSON. */
export function saveModel(path: string, model: Mlp | { spec: ModelSpec | string | object; params: Float32Array },
                          meta: Record<string, unknown> = {}): void {
  const spec = model instanceof Mlp ? model.spec : parseModelSpec(model.spec);
  // a view into module memory, not a copy: the encoder runs synchronously before anything allocates
  const params = model instanceof Mlp ? model.params.view() : model.params;
  writeFileAtomic(path, encodeModelFileParts({ spec, tensors: modelTensors(spec, params), meta }));
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

/** An Mlp built from the file's spec with its parameters loaded. */
export function loadModel(core: Core, path: string): Mlp {
  const file = readModelFile(path);
  const model = new Mlp(core, file.spec);
  try {
    // straight into module memory: no second host-side copy of a large model
    paramsFromTensors(file.spec, file.tensors, basename(path), model.params.view());
  } catch (e) {
    model.free();
    throw e;
  }
  return model;
}
