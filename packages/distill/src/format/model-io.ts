// Model files on disk (Node only): save atomically, load with every size checked.
// A model's flat parameters are stored as one tensor per layer and kind, named by the
// dense layer's index: layer0.w (IN, H1), layer0.b (H1), layer1.w (H1, H2), ...
// Checkpoints add their own tensors (optimizer state) and meta; loadModel ignores extras.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { Mlp } from '../model/mlp.js';
import { paramCount, paramLayout, parseModelSpec, type ModelSpec } from '../model/spec.js';
import { writeFileAtomic } from '../io/atomic.js';
import { decodeModelFile, encodeModelFileParts, ModelFormatError, type DecodedModelFile, type NamedTensor } from './model-file.js';

/** Files larger than this are refused before reading (a 2^27-parameter checkpoint is ~1.5 GiB). */
export const MAX_MODEL_FILE_BYTES = 2 ** 31 - 1;

/** The per-layer tensors of flat `params` (views into it, no copy). */
export function modelTensors(spec: ModelSpec, params: Float32Array): Record<string, NamedTensor> {
  const n = paramCount(spec);
  if (params.length !== n) throw new RangeError(`modelTensors: got ${params.length} parameters but the spec has ${n}`);
  const out: Record<string, NamedTensor> = {};
  for (const [i, l] of paramLayout(spec).entries()) {
    out[`layer${i}.w`] = { shape: [l.inputs, l.outputs], data: params.subarray(l.weightOffset, l.biasOffset) };
    out[`layer${i}.b`] = { shape: [l.outputs], data: params.subarray(l.biasOffset, l.biasOffset + l.outputs) };
  }
  return out;
}

/**
 * Flat params from a file's layer tensors, checking that each exists with the spec's shape.
 * With `into` (paramCount long, e.g. a view of a model's parameters) they are written there.
 */
export function paramsFromTensors(spec: ModelSpec, tensors: Record<string, NamedTensor>, fileName: string,
                                  into?: Float32Array): Float32Array {
  const params = into ?? new Float32Array(paramCount(spec));
  if (params.length !== paramCount(spec)) throw new RangeError(`paramsFromTensors: target holds ${params.length} values, the spec has ${paramCount(spec)}`);
  for (const [i, l] of paramLayout(spec).entries()) {
    for (const [name, shape, offset] of [[`layer${i}.w`, [l.inputs, l.outputs], l.weightOffset], [`layer${i}.b`, [l.outputs], l.biasOffset]] as const) {
      const t = tensors[name];
      if (!t) throw new ModelFormatError(fileName, `tensor '${name}' is missing (the spec ${spec.sizes.join('-')} needs it)`);
      if (t.shape.length !== shape.length || t.shape.some((d, k) => d !== shape[k])) {
        throw new ModelFormatError(fileName, `tensor '${name}' has shape [${t.shape.join(', ')}] but the spec needs [${shape.join(', ')}]`);
      }
      params.set(t.data, offset);
    }
  }
  return params;
}

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
