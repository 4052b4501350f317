// Teacher soft labels on disk (Node): read any [N, classes] .npy of logits (for example
// saved from PyTorch with numpy.save), validated for shape and finite values; or compute
// them once from a teacher model and cache them as sharded teacher outputs under a
// fingerprint of model and data, so that a stale cache is detected and recomputed.
import { basename } from 'node:path';
import type { Core } from '@retort/core-wasm';
import { DataFormatError } from '../data/errors.js';
import { fingerprint, slice, type DatasetView, type InputNorm } from '../data/dataset.js';
import { readNpyFile } from '../data/files.js';
import { Fnv1a64 } from '../data/hash.js';
import { toFloat32 } from '../data/npy.js';
import { cachedTeacherOutputs, type CachedOutputs } from './teacher-outputs.js';
import type { Model } from '../model/model.js';
import { predictLogits } from '../train/predict.js';

/** Reads teacher logits and checks they are [count, classes] and finite. */
export function readTeacherLogits(path: string, count: number, classes: number): Float32Array {
  const name = basename(path);
  const arr = readNpyFile(path);
  if (arr.dtype !== 'f4' && arr.dtype !== 'f8') {
    throw new DataFormatError(name, `teacher logits must be float32 or float64, got ${arr.dtype}`);
  }
  if (arr.shape.length !== 2) throw new DataFormatError(name, `teacher logits must be 2-D [samples, classes], got shape [${arr.shape.join(', ')}]`);
  const [n, c] = arr.shape as [number, number];
  if (c !== classes) throw new DataFormatError(name, `teacher logits have ${c} classes but the student has ${classes}`);
  if (n !== count) throw new DataFormatError(name, `teacher logits cover ${n} samples but the transfer set has ${count}`);
  const data = toFloat32(arr.data);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new DataFormatError(name, `teacher logit [${Math.floor(i / c)}, ${i % c}] is ${data[i]} (NaN or Inf)`);
    }
  }
  return data;
}

/** A fingerprint of a model's spec, parameters and state (batch-norm running statistics). */
export function modelFingerprint(model: Model): string {
  const params = model.params.view().subarray(0, model.paramCount); // hashed synchronously: a view, not a copy
  const h = new Fnv1a64()
    .updateString(`retort-model-v1 ${JSON.stringify(model.spec)}\n`)
    .update(new Uint8Array(params.buffer, params.byteOffset, params.byteLength));
  if (model.state) {
    const st = model.state.view();
    h.update(new Uint8Array(st.buffer, st.byteOffset, st.byteLength));
  }
  return h.digest();
}

export type { CachedOutputs } from './teacher-outputs.js';

/**
 * Teacher logits over `view`, cached in the directory `cacheDir` as sharded teacher outputs
 * (node/teacher-outputs.ts) under the fingerprints of model, data and input preparation: read
 * when they still match (finished if a run was killed while writing them), else computed.
 * `topK` stores the k largest logits per row instead of all.
 */
export function cachedTeacherLogits(core: Core, teacher: Model, view: DatasetView, cacheDir: string,
                                    opts: InputNorm, store: { topK?: number } = {}): CachedOutputs {
  const key = {
    model: modelFingerprint(teacher),
    data: fingerprint(view),
    mean: opts.mean, std: opts.std,
    shape: [view.indices.length, teacher.classes],
  };
  return cachedTeacherOutputs(cacheDir, key, view.indices.length, teacher.classes,
    (start, count) => predictLogits(core, teacher, slice(view, count, start), { mean: opts.mean, std: opts.std }), store);
}
