// Logits of a model over a dataset view, in eval mode, batch by batch. Used for
// validation and test metrics and to turn a teacher into soft labels.
import type { Core } from '@retort/core-wasm';
import { BatchLoader } from '../data/batches.js';
import type { DatasetView } from '../data/dataset.js';
import type { Model } from '../model/model.js';

export interface PredictOptions {
  /** Rows per forward; default: up to 256, fewer for a model whose activations of 256 rows would pass PREDICT_BUDGET_BYTES. */
  batchSize?: number;
  /** Input normalisation (InputNorm in data/dataset.ts): one value or one per channel. */
  mean?: number | number[];
  std?: number | number[];
}

/** Activation memory a prediction plans by default (the batch shrinks to stay under it). */
export const PREDICT_BUDGET_BYTES = 24 << 20;

/** [view count, classes] logits; row i belongs to the view's i-th sample. */
export function predictLogits(core: Core, model: Model, view: DatasetView, opts: PredictOptions = {}): Float32Array {
  const ds = view.dataset;
  if (ds.features !== model.inputSize) {
    throw new RangeError(`predict: the model takes ${model.inputSize} inputs but ${ds.name} samples have ${ds.features} features`);
  }
  // a wide CNN's activations at 256 rows take over 100 MB; logits do not depend on the batch size
  // (every row is computed on its own), so a smaller batch costs only per-call overhead
  const fitting = Math.max(1, Math.floor(PREDICT_BUDGET_BYTES / (4 * model.activationsPerSample)));
  const batchSize = Math.min(opts.batchSize ?? Math.min(256, fitting), Math.max(1, view.indices.length));
  const classes = model.classes;
  const out = new Float32Array(view.indices.length * classes);
  if (view.indices.length === 0) return out;
  const loader = new BatchLoader(core, view, batchSize, { shuffle: false, mean: opts.mean ?? 0, std: opts.std ?? 1 });
  const previous = model.batchSize;
  try {
    if (model.batchSize < batchSize) model.plan(batchSize);
    for (const batch of loader.epoch(0)) {
      const logits = model.forward(batch.x, batch.size, 'eval');
      out.set(logits.view().subarray(0, batch.size * classes), batch.index * batchSize * classes);
    }
  } finally {
    loader.free();
    if (previous > 0 && previous !== model.batchSize) model.plan(previous);
  }
  return out;
}
